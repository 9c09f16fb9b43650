package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"vec/agent/auth"
	"vec/agent/metrics"
	"vec/agent/sockdiag"
	"vec/internal/privdrop"
)

// HTTP server timeouts: a gateway's request is small and its reply is read
// at once; slow clients are cut off.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 90 * time.Second
	maxHeaderBytes    = 16 << 10
	shutdownTimeout   = 5 * time.Second
)

// Run starts the agent with cfg (validated here) and serves until ctx ends,
// then shuts down: the listener closes, requests in flight finish (for up to
// shutdownTimeout), metric scripts are killed. Everything that needs a
// privilege (the listener, the key files, the netlink socket) is opened
// before the capabilities are dropped (and, started as root, the agent
// switches to cfg.User).
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	vips, _ := cfg.ParsedVIPs()
	var runAs *privdrop.User
	if cfg.DropCapabilities && cfg.User != "" && os.Geteuid() == 0 {
		u, err := lookupUser(cfg.User)
		if err != nil {
			return err
		}
		runAs = &u
	}
	keys := make([]auth.Key, 0, len(cfg.Auth.KeyFiles))
	for _, path := range cfg.Auth.KeyFiles {
		k, err := auth.LoadKeyFile(path)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Agent: cfg.Name, Keys: keys, MaxSkew: cfg.Auth.MaxClockSkew})
	if err != nil {
		return err
	}
	diag, err := sockdiag.Open()
	if err != nil {
		return err
	}
	defer diag.Close()
	collector, err := metrics.NewCollector(metrics.Config{
		ProcRoot:    "/proc",
		CPUInterval: cfg.Metrics.CPUInterval,
		Scripts:     cfg.MetricScripts(),
	}, log.Named("metrics"))
	if err != nil {
		return err
	}
	// The quiet period starts here, after the previous run (if any) ended:
	// the leases it granted end at most max_lease after that.
	witness, err := NewWitness(cfg.Witness.MaxLease, log.Named("witness"), nil)
	if err != nil {
		return err
	}
	handler, err := NewHandler(HandlerConfig{
		Name:       cfg.Name,
		Verifier:   verifier,
		Table:      NewTable(diag, vips),
		Metrics:    collector,
		Witness:    witness,
		MaxEntries: cfg.Limits.MaxEntriesPerPage,
		MaxBytes:   cfg.Limits.MaxReplyBytes,
		Logger:     log.Named("http"),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()

	if cfg.DropCapabilities {
		before, err := privdrop.ThreadSets("self")
		if err != nil {
			return err
		}
		if err := privdrop.Drop(runAs); err != nil {
			return err
		}
		log.Info("capabilities dropped on every thread", zap.String("before", before.String()),
			zap.Int("uid", os.Getuid()), zap.Int("gid", os.Getgid()))
	} else {
		log.Warn("drop_capabilities is off: the agent keeps the capabilities it was started with")
	}

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	bgCtx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	var background sync.WaitGroup
	background.Go(func() { collector.Run(bgCtx) })
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("vec-agent serving", zap.String("name", cfg.Name), zap.Stringer("listen", ln.Addr()),
		zap.Stringers("vips", vips), zap.Int("keys", len(keys)), zap.Int("metric_scripts", len(cfg.Metrics.Scripts)),
		zap.Duration("max_lease", cfg.Witness.MaxLease))

	select {
	case err := <-serveErr:
		stopBackground()
		background.Wait()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if serr := <-serveErr; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	stopBackground()
	background.Wait()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("vec-agent stopped")
	return nil
}

// lookupUser finds the account name (or a numeric uid) in the user
// database (/etc/passwd and /etc/group: the agent is built without cgo),
// with its supplementary groups as initgroups(3) would set them.
func lookupUser(name string) (privdrop.User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var uerr error
		if u, uerr = user.LookupId(name); uerr != nil {
			return privdrop.User{}, fmt.Errorf("user %q: %w", name, err)
		}
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return privdrop.User{}, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return privdrop.User{}, fmt.Errorf("user %q: gid %q: %w", name, u.Gid, err)
	}
	out := privdrop.User{Name: u.Username, UID: uid, GID: gid, Groups: []int{gid}}
	ids, err := u.GroupIds()
	if err != nil {
		return privdrop.User{}, fmt.Errorf("groups of user %q: %w", name, err)
	}
	for _, id := range ids {
		g, err := strconv.Atoi(id)
		if err != nil {
			return privdrop.User{}, fmt.Errorf("user %q: group id %q: %w", name, id, err)
		}
		if g != gid {
			out.Groups = append(out.Groups, g)
		}
	}
	return out, nil
}

package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"vec/agent/auth"
	"vec/agent/metrics"
	"vec/agent/privdrop"
	"vec/agent/sockdiag"
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
// before the capabilities are dropped.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	vips, _ := cfg.ParsedVIPs()
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
		if err := privdrop.DropAll(); err != nil {
			return err
		}
		log.Info("capabilities dropped on every thread", zap.String("before", before.String()))
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

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"vec/control/api"
	"vec/control/config"
	"vec/control/manager"
	"vec/control/metrics"
	"vec/control/weights"
	"vec/fastpath"
	"vec/gateway"
	"vec/recovery"
)

func main() {
	configPath := flag.String("config", "/etc/vec/vecd.yaml", "configuration file")
	statsJSON := flag.String("stats-json", "", "write the counters as JSON to this file on exit (and every -stats-interval)")
	statsInterval := flag.Duration("stats-interval", 0, "also rewrite -stats-json this often while running (0 = only on exit)")
	node := flag.String("node", "", "this gateway's name in ha.gateways, when several gateways share the configuration file")
	keepCaps := flag.Bool("keep-capabilities", false, "do not drop the capabilities once started (for debugging)")
	checkPath := flag.String("check-config", "", "validate this configuration file without starting, then exit: 0 valid, 1 invalid, 2 unreadable (docs/configuration.md)")
	skipFiles := flag.Bool("skip-files", false, "with -check-config: do not open the tokens, TLS and key files the configuration names")
	flag.Parse()
	if *checkPath != "" {
		if flag.NArg() > 0 {
			fmt.Fprintf(os.Stderr, "vecd: unexpected arguments %q\n", flag.Args())
			os.Exit(checkUnusable)
		}
		os.Exit(checkConfig(*checkPath, *node, !*skipFiles, os.Stdout, os.Stderr))
	}
	if *statsInterval > 0 && *statsJSON == "" {
		fmt.Fprintln(os.Stderr, "vecd: -stats-interval needs -stats-json")
		os.Exit(2)
	}
	os.Exit(run(*configPath, *node, *statsJSON, *statsInterval, *keepCaps))
}

// shutdownGrace bounds how long API and metrics requests in flight may take
// to finish at shutdown.
const shutdownGrace = 2 * time.Second

// run is main without os.Exit, so deferred clean-up always runs.
func run(configPath, node, statsJSON string, statsInterval time.Duration, keepCaps bool) int {
	if abs, err := filepath.Abs(configPath); err == nil {
		configPath = abs
	}
	cfg, err := config.Load(configPath)
	if err == nil {
		err = cfg.ForNode(node)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vecd: refusing to start: %v\n", err)
		return 2
	}
	rt, err := cfg.Runtime()
	if err == nil && rt.HA != nil && rt.HA.Node == "" {
		err = errors.New("ha: which of ha.gateways is this gateway? set ha.node or run vecd -node NAME")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vecd: refusing to start: %v\n", err)
		return 2
	}
	tokens := &api.Tokens{}
	if rt.Control.Enabled {
		if err := tokens.Load(rt.Control.TokensFile); err != nil {
			fmt.Fprintf(os.Stderr, "vecd: refusing to start: %v\n", err)
			return 2
		}
	}
	level := zap.NewAtomicLevelAt(rt.LogLevel)
	log, err := newLogger(level)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vecd: %v\n", err)
		return 1
	}
	defer log.Sync()
	for _, w := range cfg.Warnings() {
		log.Warn("configuration", zap.String("field", w.Field), zap.String("warning", w.Message))
	}
	if gateway.TuneGC() {
		log.Info("garbage collection only near the memory limit", zap.Int("limit_mib", gateway.GCMemoryLimit>>20))
	} else {
		log.Info("garbage collection as GOGC/GOMEMLIMIT say", zap.String("GOGC", os.Getenv("GOGC")), zap.String("GOMEMLIMIT", os.Getenv("GOMEMLIMIT")))
	}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)

	g := gateway.New(log, gatewayOptions(rt))
	m := manager.New(manager.Options{Log: log, Level: level, Path: configPath, Config: cfg,
		Neighbors: g.Neighbors(), Clock: g.Clock(), Node: rt.HA.NodeName()})
	rec, err := newRecoverer(log.Named("recovery"), rt.Recovery, g, m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vecd: refusing to start: %v\n", err)
		return 2
	}
	switch {
	case rt.HA != nil:
		g.StartIn(fastpath.ModeStandby) // the HA role decides when to forward
	case len(rt.Recovery.Agents) > 0:
		g.StartIn(fastpath.ModeRecovering) // rebuild first (startAlone)
	}
	if err := g.Start(m.Initial); err != nil {
		log.Error("start-up failed", zap.Error(err))
		g.Stop()
		g.Close()
		return 1
	}
	m.Attach(g)
	ctx, cancel := context.WithCancel(context.Background())
	managerDone := make(chan struct{})
	go func() { m.Run(ctx); close(managerDone) }()
	recoveryDone := make(chan struct{})
	var haMachine *recovery.HA
	switch {
	case rt.HA != nil:
		ctl := newHAController(log.Named("ha"), rec)
		go func() { ctl.run(ctx, m); close(recoveryDone) }()
		if haMachine, err = startHA(log.Named("ha"), rt.HA, rec, ctl, g.LinkHealth); err != nil {
			log.Error("start-up failed", zap.Error(err))
			cancel()
			<-managerDone
			<-recoveryDone
			g.Stop()
			g.Close()
			return 1
		}
	case len(rt.Recovery.Agents) > 0:
		go func() { rec.startAlone(ctx); close(recoveryDone) }()
	default:
		close(recoveryDone)
	}
	// The weight loop (the patent's manager) runs whether or not the
	// configuration enables it: manager.enabled can change at run time.
	loop := weights.New(weights.Options{Source: m, Client: rec.client, Agents: rec.hostAgents(), Log: log.Named("manager")})
	loopDone := make(chan struct{})
	go func() { loop.Run(ctx); close(loopDone) }()
	var ha api.HA
	if rt.HA != nil || len(rt.Recovery.Agents) > 0 {
		ha = &haBackend{ha: haMachine, rec: rec, preempt: rt.HA != nil && rt.HA.Preempt}
	}

	var routes *bgpRunner // the BGP speaker; nil without a bgp section

	// stopAround stops, in reverse order of their start, what runs around
	// the workers: BGP first (every VIP withdrawn, so the routers move the
	// traffic to the other gateways while this one still forwards), HA
	// (an active gateway stops forwarding, releases its leases and tells
	// the backup, which takes over at once), then the control plane cp
	// (nil: not started), the manager, recovery and the loop.
	stopAround := func(cp *controlPlane) {
		routes.stop()
		stopHA(log, haMachine)
		if cp != nil {
			cp.close()
		}
		cancel()
		<-managerDone
		<-recoveryDone
		<-loopDone
		routes.wait()
		rec.announcer.Stop()
	}
	// startFailed undoes what has been started so far, in reverse order.
	startFailed := func(err error, cp *controlPlane) int {
		log.Error("start-up failed", zap.Error(err))
		stopAround(cp)
		g.Stop()
		g.Close()
		return 1
	}
	// The data plane runs: the speaker announces a VIP once the workers
	// forward and a server of the VIP takes connections.
	if routes, err = startBGP(ctx, log.Named("bgp"), rt.BGP, m, g); err != nil {
		return startFailed(err, nil)
	}
	cp, err := startControlPlane(ctx, log, rt, m, ha, routes.backend(), loop, livenessSource{g}, tokens, configPath)
	if err != nil {
		return startFailed(err, nil)
	}
	// Everything that needs a privilege is open: EAL, ports, listeners.
	if err := dropCapabilities(log, keepCaps); err != nil {
		return startFailed(err, cp)
	}

	finished := make(chan struct{})
	go func() { g.Wait(); close(finished) }()
	var tick <-chan time.Time
	if statsInterval > 0 {
		ticker := time.NewTicker(statsInterval)
		defer ticker.Stop()
		tick = ticker.C
	}
wait:
	for {
		select {
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				reload(ctx, log, m, tokens, rt, "SIGHUP", false)
				continue
			}
			log.Info("stopping", zap.Stringer("signal", sig))
			break wait
		case <-finished:
			log.Info("input exhausted, stopping")
			break wait
		case <-tick:
			writeLiveCounters(m, statsJSON, statsInterval, log)
		}
	}
	stopAround(cp)
	if err := g.Stop(); err != nil {
		// A worker stuck in its loop still uses the ports, its table
		// and its counters: exit without reading or releasing them.
		log.Error("stopping the workers", zap.Error(err))
		return 1
	}
	counters := m.Assemble(g.ReadStopped(m.MaxServerID()))
	g.Close()
	counters.Print(os.Stdout)
	if statsJSON != "" {
		if err := writeJSON(&counters, statsJSON); err != nil {
			log.Error("writing final counters", zap.Error(err))
			return 1
		}
	}
	return 0
}

// controlPlane is what serves the operator while vecd runs.
type controlPlane struct {
	api     *api.Listener
	metrics *metrics.Server
}

// startControlPlane starts the control API, the metrics endpoint and the
// watch of the configuration file, as configured.
func startControlPlane(ctx context.Context, log *zap.Logger, rt config.Runtime, m *manager.Manager, ha api.HA, bgp api.BGP,
	loop *weights.Loop, live metrics.LivenessSource, tokens *api.Tokens, configPath string) (*controlPlane, error) {
	cp := &controlPlane{}
	if rt.Control.Enabled {
		h := api.NewHandler(api.Options{Backend: m, Tokens: tokens, Log: log.Named("api"), HA: ha, BGP: bgp, Manager: loop,
			ReloadTokens: func() error { return tokens.Load(rt.Control.TokensFile) }})
		l, err := api.Listen(rt.Control, h, log)
		if err != nil {
			return nil, err
		}
		cp.api = l
		l.Serve()
		log.Info("control API listening", zap.Strings("addresses", l.Addrs()))
	} else {
		log.Info("control API off: no control.tokens_file in the configuration")
	}
	if rt.MetricsListen != "" {
		extra := []prometheus.Collector{metrics.NewManagerCollector(loop), metrics.NewLivenessCollector(live)}
		if ha != nil {
			extra = append(extra, metrics.NewHACollector(ha))
		}
		if bgp != nil {
			extra = append(extra, metrics.NewBGPCollector(bgp))
		}
		s, err := metrics.Listen(rt.MetricsListen, metrics.NewCollector(m, rt.TableCapacity, log), log, extra...)
		if err != nil {
			cp.close()
			return nil, fmt.Errorf("metrics endpoint on %s: %w", rt.MetricsListen, err)
		}
		cp.metrics = s
		s.Serve()
		log.Info("metrics endpoint listening", zap.String("address", "http://"+s.Addr()+"/metrics"))
	}
	if rt.Control.WatchFile {
		err := watchFile(ctx, log, configPath, func() { reload(ctx, log, m, tokens, rt, "file watch", true) })
		if err != nil {
			cp.close()
			return nil, fmt.Errorf("watching %s: %w", configPath, err)
		}
	}
	return cp, nil
}

func (cp *controlPlane) close() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if cp.api != nil {
		cp.api.Close(ctx)
	}
	if cp.metrics != nil {
		cp.metrics.Close(ctx)
	}
}

// reload replaces the running configuration with the file (and re-reads
// the tokens), logging the outcome; a rejected file changes nothing.
func reload(ctx context.Context, log *zap.Logger, m *manager.Manager, tokens *api.Tokens, rt config.Runtime, source string, onlyIfChanged bool) {
	if rt.Control.Enabled {
		if err := tokens.Load(rt.Control.TokensFile); err != nil {
			log.Error("reloading the tokens file; the old tokens stay", zap.String("source", source), zap.Error(err))
		}
	}
	ch, err := m.Reload(ctx, source, onlyIfChanged)
	switch {
	case err != nil:
		log.Error("configuration reload rejected; the running configuration stays", zap.String("source", source), zap.Error(err))
	case ch.Generation == 0:
		log.Debug("configuration file unchanged", zap.String("source", source))
	}
}

// writeLiveCounters asks the workers for their counters and rewrites path.
func writeLiveCounters(m *manager.Manager, path string, interval time.Duration, log *zap.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), max(interval, time.Second))
	defer cancel()
	counters, err := m.Counters(ctx)
	if err == nil {
		err = writeJSON(&counters, path)
	}
	if err != nil {
		log.Warn("live counters", zap.Error(err))
	}
}

func newLogger(level zap.AtomicLevel) (*zap.Logger, error) {
	zc := zap.NewProductionConfig()
	zc.Level = level
	zc.Encoding = "console"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	log, err := zc.Build()
	if err != nil {
		return nil, errors.Join(errors.New("building the logger"), err)
	}
	return log, nil
}

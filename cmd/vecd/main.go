package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"vec/control/config"
	"vec/gateway"
)

func main() {
	configPath := flag.String("config", "/etc/vec/vecd.yaml", "configuration file")
	statsJSON := flag.String("stats-json", "", "write the counters as JSON to this file on exit (and every -stats-interval)")
	statsInterval := flag.Duration("stats-interval", 0, "also rewrite -stats-json this often while running (0 = only on exit)")
	flag.Parse()
	if *statsInterval > 0 && *statsJSON == "" {
		fmt.Fprintln(os.Stderr, "vecd: -stats-interval needs -stats-json")
		os.Exit(2)
	}
	os.Exit(run(*configPath, *statsJSON, *statsInterval))
}

// run is main without os.Exit, so deferred clean-up always runs.
func run(configPath, statsJSON string, statsInterval time.Duration) int {
	cfg, err := config.Load(configPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vecd: refusing to start: %v\n", err)
		return 2
	}
	rt, err := cfg.Runtime()
	if err != nil {
		fmt.Fprintf(os.Stderr, "vecd: refusing to start: %v\n", err)
		return 2
	}
	log, err := newLogger(rt.LogLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vecd: %v\n", err)
		return 1
	}
	defer log.Sync()

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)

	g := gateway.New(log, cfg, rt)
	if err := g.Start(); err != nil {
		log.Error("start-up failed", zap.Error(err))
		g.Stop()
		g.Close()
		return 1
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
			log.Info("stopping", zap.Stringer("signal", sig))
			break wait
		case <-finished:
			log.Info("input exhausted, stopping")
			break wait
		case <-tick:
			writeLiveCounters(g, statsJSON, statsInterval, log)
		}
	}
	g.Stop()
	counters := g.Counters()
	g.Close()
	counters.Print(os.Stdout)
	if statsJSON != "" {
		if err := counters.WriteJSON(statsJSON); err != nil {
			log.Error("writing final counters", zap.Error(err))
			return 1
		}
	}
	return 0
}

// writeLiveCounters asks the workers for their counters and rewrites path.
func writeLiveCounters(g *gateway.Gateway, path string, interval time.Duration, log *zap.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), max(interval, time.Second))
	defer cancel()
	counters, err := g.LiveCounters(ctx)
	if err == nil {
		err = counters.WriteJSON(path)
	}
	if err != nil {
		log.Warn("live counters", zap.Error(err))
	}
}

func newLogger(level zapcore.Level) (*zap.Logger, error) {
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.Encoding = "console"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	log, err := zc.Build()
	if err != nil {
		return nil, errors.Join(errors.New("building the logger"), err)
	}
	return log, nil
}

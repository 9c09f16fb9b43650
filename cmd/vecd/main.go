package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"vec/control/config"
	"vec/gateway"
)

func main() {
	configPath := flag.String("config", "/etc/vec/vecd.yaml", "configuration file")
	statsJSON := flag.String("stats-json", "", "write the final counters as JSON to this file on exit")
	flag.Parse()
	os.Exit(run(*configPath, *statsJSON))
}

// run is main without os.Exit, so deferred clean-up always runs.
func run(configPath, statsJSON string) int {
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
	select {
	case sig := <-signals:
		log.Info("stopping", zap.Stringer("signal", sig))
	case <-finished:
		log.Info("input exhausted, stopping")
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

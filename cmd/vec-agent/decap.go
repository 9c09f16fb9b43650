package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"vec/agent/decap"
)

// runDecap is "vec-agent decap": the userspace decapsulator, until SIGINT
// or SIGTERM.
func runDecap(args []string, stderr io.Writer) int {
	fs := pflag.NewFlagSet("vec-agent decap", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	modeList := fs.String("mode", "ipip,gue", "encapsulations to receive: ipip, gue or ipip,gue")
	tun := fs.String("tun", decap.DefaultTUN, "TUN device to create and deliver the inner packets into")
	guePort := fs.Int("gue-port", decap.DefaultGUEPort, "UDP port GUE arrives on (mode gue)")
	every := fs.Duration("stats-interval", 0, "log the counters at debug level this often (0: only at exit)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "vec-agent decap: %v\n", err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vec-agent decap: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	modes, err := decap.ParseModes(*modeList)
	if err != nil {
		fmt.Fprintf(stderr, "vec-agent decap: --mode: %v\n", err)
		return exitUsage
	}
	if *guePort < 1 || *guePort > 65535 {
		fmt.Fprintf(stderr, "vec-agent decap: --gue-port %d out of range 1-65535\n", *guePort)
		return exitUsage
	}
	if *every < 0 {
		fmt.Fprintf(stderr, "vec-agent decap: --stats-interval must not be negative\n")
		return exitUsage
	}
	log, err := newLogger(*logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "vec-agent decap: --log-level: %v\n", err)
		return exitUsage
	}
	defer log.Sync()

	d, err := decap.Open(decap.Config{TUN: *tun, Modes: modes, GUEPort: *guePort, StatsInterval: *every}, log)
	if err != nil {
		log.Error("vec-agent decap failed", zap.Error(err))
		return exitFailed
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := d.Serve(ctx); err != nil {
		log.Error("vec-agent decap failed", zap.Error(err))
		return exitFailed
	}
	return exitOK
}

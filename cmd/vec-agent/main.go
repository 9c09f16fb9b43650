package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"vec/agent"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the agent stopped on an error
	exitUsage  = 2 // bad flags or configuration
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "decap" {
		return runDecap(args[1:], stderr)
	}
	fs := pflag.NewFlagSet("vec-agent", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.StringP("config", "c", "", "YAML configuration file (see configs/vec-agent.yaml)")
	name := fs.String("name", "", "agent name the gateways know this server by (overrides name)")
	listen := fs.String("listen", "", "listen address host:port (overrides listen)")
	vips := fs.StringSlice("vip", nil, "VIP this server carries, repeatable (replaces vips)")
	keyFiles := fs.StringSlice("key-file", nil, "shared key file (hex), repeatable (replaces auth.key_files)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (overrides log_level)")
	keepCaps := fs.Bool("keep-capabilities", false, "do not drop capabilities (sets drop_capabilities: false)")
	check := fs.Bool("check", false, "validate the configuration and exit")
	checkPath := fs.String("check-config", "", "validate this configuration file alone (no flag overrides), then exit: 0 valid, 1 invalid, 2 unreadable (docs/configuration.md)")
	skipFiles := fs.Bool("skip-files", false, "with --check-config: do not read the key files nor look up the user")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vec-agent: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	if fs.Changed("check-config") {
		return checkConfig(*checkPath, !*skipFiles, stderr)
	}

	cfg, err := agent.LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "vec-agent: %v\n", err)
		return exitUsage
	}
	if fs.Changed("name") {
		cfg.Name = *name
	}
	if fs.Changed("listen") {
		cfg.Listen = *listen
	}
	if fs.Changed("vip") {
		cfg.VIPs = *vips
	}
	if fs.Changed("key-file") {
		cfg.Auth.KeyFiles = *keyFiles
	}
	if fs.Changed("log-level") {
		cfg.LogLevel = *logLevel
	}
	if *keepCaps {
		cfg.DropCapabilities = false
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "vec-agent: invalid configuration:\n%v\n", err)
		return exitUsage
	}
	if *check {
		fmt.Fprintln(stderr, "vec-agent: configuration is valid")
		return exitOK
	}

	log, err := newLogger(cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(stderr, "vec-agent: logger: %v\n", err)
		return exitFailed
	}
	defer log.Sync()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := agent.Run(ctx, cfg, log); err != nil {
		log.Error("vec-agent failed", zap.Error(err))
		return exitFailed
	}
	return exitOK
}

// newLogger builds the process's logger: JSON lines on stderr (journald
// keeps them), at the configured level.
func newLogger(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.OutputPaths = []string{"stderr"}
	zc.ErrorOutputPaths = []string{"stderr"}
	return zc.Build()
}

package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// Defaults, overridden by flags or the environment.
const (
	defaultSocket    = "/run/vec/vecd.sock"
	defaultTokenFile = "/etc/vec/vecctl.token"
)

// globalOptions are the flags every command takes.
type globalOptions struct {
	socket    string
	url       string
	caFile    string
	tokenFile string
	output    string
	timeout   time.Duration
}

func main() {
	os.Exit(execute(os.Args[1:]))
}

// execute runs one command line and returns the exit status.
func execute(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "vecctl:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// cobra's own errors: unknown command or flag, wrong arguments.
	return exitUsage
}

func newRoot() *cobra.Command {
	o := &globalOptions{}
	root := &cobra.Command{
		Use:   "vecctl",
		Short: "Control a running vecd gateway through its control API",
		Long: `vecctl controls a running vecd through its control API: clusters (VIPs),
services and servers, their weights, quiescing, live connections, counters,
the log level and the configuration file.

Servers are named VIP:SERVICE:SERVER (e.g. 10.0.0.100:http:s1), services
VIP:SERVICE; SERVER may be the server's name or address.

Changes are live on every worker when vecctl returns, but vecd's
configuration file is not changed until "vecctl config save"; a reload
(SIGHUP, an edit of the file, "vecctl config reload") replaces them with the
file.

Exit status: 0 done, 1 vecd refused or failed the request, 2 bad usage,
3 vecd cannot be reached or the token is refused.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if o.output != "table" && o.output != "json" {
				return usageError("--output %q: want table or json", o.output)
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&o.socket, "socket", envOr("VECCTL_SOCKET", defaultSocket), "vecd's control socket ($VECCTL_SOCKET)")
	pf.StringVar(&o.url, "url", os.Getenv("VECCTL_URL"), "reach vecd over TCP with TLS instead, e.g. https://10.0.0.2:9443 ($VECCTL_URL)")
	pf.StringVar(&o.caFile, "ca-file", "", "CA certificate (PEM) to check vecd's TLS certificate with")
	pf.StringVar(&o.tokenFile, "token-file", os.Getenv("VECCTL_TOKEN_FILE"), "file holding the bearer token ($VECCTL_TOKEN_FILE, default "+defaultTokenFile+"; or the token itself in $VECCTL_TOKEN)")
	pf.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	pf.DurationVar(&o.timeout, "timeout", 30*time.Second, "how long to wait for vecd")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%v", err) })

	root.AddCommand(statusCmd(o), countersCmd(o), haCmd(o), bgpCmd(o), gatewayCmd(o), managerCmd(o), clusterCmd(o), serviceCmd(o), serverCmd(o),
		connectionsCmd(o), logCmd(o), configCmd(o))
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// exactArgs is cobra.ExactArgs with vecctl's usage exit status.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError("%s takes %d argument(s), got %d (see %s --help)", cmd.CommandPath(), n, len(args), cmd.CommandPath())
		}
		return nil
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usageError("%s takes %d to %d arguments, got %d (see %s --help)", cmd.CommandPath(), lo, hi, len(args), cmd.CommandPath())
		}
		return nil
	}
}

package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"vec/control/apiwire"
)

func bgpCmd(o *globalOptions) *cobra.Command {
	return nounCmd("bgp", "Show the BGP sessions and the VIPs this gateway announces",
		replyCmd(o, "status", "Show the BGP peers, their session state, and the announced routes",
			http.MethodGet, "/v1/bgp", printBGPStatus))
}

func gatewayCmd(o *globalOptions) *cobra.Command {
	return nounCmd("gateway", "Take this gateway out of, or back into, the routers' multipath (BGP)",
		drainCmd(o), replyCmd(o, "undrain", "Announce the VIPs again (those with a live server)",
			http.MethodPost, "/v1/gateway/undrain", printBGPStatus))
}

// drainCmd withdraws every VIP; with --wait it then watches the gateway's
// counters until it has forwarded no packet for --quiet: the routers have
// moved every flow to the other gateways, and it can stop without losing
// one. (Forwarded, not received: broadcasts on the segment keep arriving.)
func drainCmd(o *globalOptions) *cobra.Command {
	var wait bool
	var quiet, timeout time.Duration
	c := &cobra.Command{
		Use:   "drain",
		Short: "Withdraw every VIP from the routers; established flows keep being forwarded while packets still arrive",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st apiwire.BGPStatus
			if err := call(cmd, o, http.MethodPost, "/v1/gateway/drain", nil, nil, &st, printBGPStatus(&st)); err != nil || !wait {
				return err
			}
			return waitQuiet(cmd.OutOrStdout(), o, quiet, timeout)
		},
	}
	c.Flags().BoolVar(&wait, "wait", false, "wait until the gateway has forwarded no packet for --quiet")
	c.Flags().DurationVar(&quiet, "quiet", 2*time.Second, "with --wait: how long the gateway must forward nothing")
	c.Flags().DurationVar(&timeout, "wait-timeout", 2*time.Minute, "with --wait: give up (exit 1) after this long")
	return c
}

// waitQuiet polls the counters until the packets forwarded (every core)
// have not moved for quiet.
func waitQuiet(w io.Writer, o *globalOptions, quiet, timeout time.Duration) error {
	if quiet <= 0 || timeout <= 0 {
		return usageError("--quiet and --wait-timeout must be positive")
	}
	c, err := newClient(o)
	if err != nil {
		return err
	}
	poll := min(quiet/4, 250*time.Millisecond)
	start := time.Now()
	var last uint64
	lastMoved := start
	for first := true; ; first = false {
		ctx, cancel := contextFor(o)
		var st apiwire.Counters
		_, err := c.do(ctx, http.MethodGet, "/v1/counters", nil, nil, &st)
		cancel()
		if err != nil {
			return err
		}
		var tx uint64
		for _, core := range st.Cores {
			tx += core.TX
		}
		now := time.Now()
		if first || tx != last {
			last, lastMoved = tx, now
		}
		if now.Sub(lastMoved) >= quiet {
			if o.output == "table" {
				fmt.Fprintf(w, "drained: nothing forwarded for %s (after %.1f s)\n", quiet, now.Sub(start).Seconds())
			}
			return nil
		}
		if now.Sub(start) >= timeout {
			return &exitError{code: exitServer, err: fmt.Errorf("still forwarding after %s (last packet %.1f s ago): a router still sends here",
				timeout, now.Sub(lastMoved).Seconds())}
		}
		time.Sleep(poll)
	}
}

func printBGPStatus(st *apiwire.BGPStatus) func(io.Writer) {
	return func(w io.Writer) {
		state := "announcing"
		switch {
		case st.Drained:
			state = "drained (every VIP withdrawn)"
		case !st.Forwarding:
			state = "not forwarding (standby or links down): nothing announced"
		}
		fmt.Fprintf(w, "gateway\t%s\n", state)
		fmt.Fprintf(w, "local AS\t%d (router id %s)\n", st.LocalAS, st.RouterID)
		fmt.Fprintf(w, "next hop\t%s\n", st.NextHop)
		if len(st.Communities) > 0 {
			fmt.Fprintf(w, "communities\t%s\n", strings.Join(st.Communities, " "))
		}
		fmt.Fprintf(w, "announced\t%s\n", listOrNone(st.Announced))
		fmt.Fprintf(w, "VIPs with a live server\t%s\n", listOrNone(st.Eligible))
		fmt.Fprintln(w, "\npeer\tAS\tstate\tsince\tupdates in/out")
		for _, p := range st.Peers {
			since := "never up"
			if p.Since != nil {
				since = p.Since.Local().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(w, "%s:%d\t%d\t%s\t%s\t%d/%d\n", p.Address, p.Port, p.AS, p.State, since, p.UpdatesReceived, p.UpdatesSent)
		}
	}
}

func listOrNone(s []string) string { return orNone(strings.Join(s, " ")) }

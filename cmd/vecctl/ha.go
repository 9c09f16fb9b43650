package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"vec/control/apiwire"
)

func haCmd(o *globalOptions) *cobra.Command {
	return nounCmd("ha", "Show and steer this gateway's high-availability role (like keepalived's VRRP state)",
		replyCmd(o, "status", "Show the role, term, peers, witness lease and the last rebuild from the agents",
			http.MethodGet, "/v1/ha", printHAStatus),
		replyCmd(o, "takeover", "Make this backup gateway the active one (the active yields to it)",
			http.MethodPost, "/v1/ha/takeover", func(st *apiwire.GatewayStatus) func(io.Writer) {
				return func(w io.Writer) {
					fmt.Fprintf(w, "takeover requested: %s is %s (term %d)\n", st.Node, st.Role, st.Term)
				}
			}))
}

func printHAStatus(st *apiwire.GatewayStatus) func(io.Writer) {
	return func(w io.Writer) {
		if st.Node != "" {
			fmt.Fprintf(w, "node\t%s (priority %d, preempt %t)\n", st.Node, st.Priority, st.Preempt)
		}
		fmt.Fprintf(w, "role\t%s\n", st.Role)
		if st.Unhealthy != "" {
			fmt.Fprintf(w, "unhealthy\t%s (does not claim or keep the active role)\n", st.Unhealthy)
		}
		if st.Node != "" {
			fmt.Fprintf(w, "term\t%d\n", st.Term)
			fmt.Fprintf(w, "active\t%s\n", orNone(st.Active))
			fmt.Fprintf(w, "lease\t%d of %d witnesses, %.0f ms left\n", st.LeaseGranted, st.LeaseAsked, st.LeaseRemainingMs)
			fmt.Fprintf(w, "takeovers\t%d (last took %.1f ms)\n", st.Takeovers, st.LastTakeoverMs)
			fmt.Fprintf(w, "heartbeats\t%d sent, %d received, %d rejected\n", st.HeartbeatsSent, st.HeartbeatsReceived, sum(st.Rejected))
		}
		if len(st.Peers) > 0 {
			fmt.Fprintln(w, "\npeer\taddress\tpriority\trole\tterm\tlast heard")
			for _, p := range st.Peers {
				heard := "never"
				if p.LastHeartbeatAgeMs >= 0 {
					heard = fmt.Sprintf("%.0f ms ago", p.LastHeartbeatAgeMs)
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\t%s\n", p.Name, p.Address, p.Priority, p.Role, p.Term, heard)
			}
		}
		if r := st.LastRebuild; r != nil {
			fmt.Fprintf(w, "\nlast rebuild\t%s at %s: %.1f ms (fetch %.1f, install %.1f)\n", r.Trigger,
				r.At.Format("2006-01-02 15:04:05"), r.TotalMs, r.FetchMs, r.InstallMs)
			fmt.Fprintf(w, "agents\t%d of %d answered\n", r.AgentsAnswered, r.AgentsAsked)
			for _, d := range r.AgentsDown {
				fmt.Fprintf(w, "  down\t%s\n", d)
			}
			fmt.Fprintf(w, "entries\t%d received, %d installed, %d already there, %d foreign, conflicts %d resolved %d dropped\n",
				r.Received, r.Installed, r.Existing, r.Foreign, r.ConflictsResolved, r.ConflictsDropped)
			if r.Error != "" {
				fmt.Fprintf(w, "error\t%s\n", strings.ReplaceAll(r.Error, "\n", " "))
			}
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

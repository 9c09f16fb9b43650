package main

import (
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"vec/control/apiwire"
)

func statusCmd(o *globalOptions) *cobra.Command {
	return replyCmd(o, "status", "Show the configuration generation, the workers and their rings, draining servers",
		http.MethodGet, "/v1/status", printStatus)
}

// printStatus is the table form of GET /v1/status.
func printStatus(st *apiwire.Status) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintf(w, "generation\t%d (%d snapshots applied)\n", st.Generation, st.Snapshots)
		fmt.Fprintf(w, "config file\t%s\n", st.ConfigFile)
		fmt.Fprintf(w, "last change\t%s, %s, live on every worker after %.2f ms\n",
			st.LastChange.At.Format("2006-01-02 15:04:05"), st.LastChange.Source, st.LastChange.AckLatencyMs)
		fmt.Fprintf(w, "clusters\t%d, services %d, servers %d\n", st.Clusters, st.Services, st.Servers)
		fmt.Fprintf(w, "log level\t%s\n", st.LogLevel)
		fmt.Fprintln(w, "\ncore\tqueue\tring depth\tring capacity")
		for _, wk := range st.Workers {
			fmt.Fprintf(w, "%d\t%d\t%d\t%d\n", wk.Core, wk.Queue, wk.MailboxDepth, wk.MailboxCapacity)
		}
		if len(st.Draining) > 0 {
			fmt.Fprintln(w, "\ndraining\tserver\tip\tuntil")
			for _, d := range st.Draining {
				fmt.Fprintf(w, "%s:%s\t%s\t%s\t%s\n", d.VIP, d.Service, d.Server, d.IP, d.Until.Format("15:04:05"))
			}
		}
	}
}

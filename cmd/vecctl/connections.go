package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"vec/control/apiwire"
)

func connectionsCmd(o *globalOptions) *cobra.Command {
	var f struct {
		vip, service, server, state, cursor string
		limit                               int
		all                                 bool
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List a page of the workers' connection entries (or all of them with --all)",
		Long: `List a page of the workers' connection entries. A page may hold fewer
than --limit entries while more follow: each worker examines a bounded part
of its table per request. The next page starts at the cursor the page
names (--cursor); --all follows the cursors to the end.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"vip": f.vip, "service": f.service, "server": f.server, "state": f.state} {
				if v != "" {
					q.Set(k, v)
				}
			}
			q.Set("limit", strconv.Itoa(f.limit))
			if f.cursor != "" {
				q.Set("cursor", f.cursor)
			}
			if f.all {
				return listAllConnections(cmd, o, q)
			}
			var page apiwire.Connections
			return call(cmd, o, http.MethodGet, "/v1/connections", q, nil, &page, func(w io.Writer) {
				printConnections(w, page.Connections)
				next := "end of the listing"
				if page.More {
					next = "next page: --cursor " + page.NextCursor
				}
				fmt.Fprintf(w, "%d connections; %s\n", len(page.Connections), next)
			})
		},
	}
	fl := list.Flags()
	fl.StringVar(&f.vip, "vip", "", "only connections to this VIP")
	fl.StringVar(&f.service, "service", "", "only connections of services with this name")
	fl.StringVar(&f.server, "server", "", "only connections to servers with this name or address")
	fl.StringVar(&f.state, "state", "", "only connections in this state: active, fin, syn or rst")
	fl.IntVar(&f.limit, "limit", apiwire.DefaultConnLimit, fmt.Sprintf("connections per page (at most %d)", apiwire.MaxConnLimit))
	fl.StringVar(&f.cursor, "cursor", "", "start at this cursor (the one the previous page named)")
	fl.BoolVar(&f.all, "all", false, "follow the cursors to the end and list every connection")
	return nounCmd("connections", "List live connections", list)
}

func printConnections(w io.Writer, conns []apiwire.Connection) {
	fmt.Fprintln(w, "core\tclient\tvip\tservice\tserver\tstate\tidle")
	for _, cn := range conns {
		fmt.Fprintf(w, "%d\t%s\t%s/%s\t%s\t%s (%s)\t%s\t%.1fs\n", cn.Core, cn.Client, net.JoinHostPort(cn.VIP, strconv.Itoa(int(cn.Port))), cn.Proto,
			cn.Service, cn.Server, cn.ServerIP, cn.State, cn.IdleSec)
	}
}

// listAllConnections follows the pages' cursors to the end and prints
// every connection: one listing in JSON (more false, no next cursor), or
// one table.
func listAllConnections(cmd *cobra.Command, o *globalOptions, q url.Values) error {
	c, err := newClient(o)
	if err != nil {
		return err
	}
	ctx, cancel := contextFor(o)
	defer cancel()
	var all apiwire.Connections
	for {
		var page apiwire.Connections
		if _, err := c.do(ctx, http.MethodGet, "/v1/connections", q, nil, &page); err != nil {
			return err
		}
		all.Limit = page.Limit
		all.Connections = append(all.Connections, page.Connections...)
		if !page.More {
			break
		}
		q.Set("cursor", page.NextCursor)
	}
	if all.Connections == nil {
		all.Connections = []apiwire.Connection{}
	}
	if o.output == "json" {
		return json.NewEncoder(os.Stdout).Encode(all)
	}
	w := newTable(cmd.OutOrStdout())
	printConnections(w, all.Connections)
	fmt.Fprintf(w, "%d connections\n", len(all.Connections))
	return w.Flush()
}

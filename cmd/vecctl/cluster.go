package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"vec/control/apiwire"
)

func clusterCmd(o *globalOptions) *cobra.Command {
	var sf serviceFlags
	var file string
	add := &cobra.Command{
		Use:   "add VIP",
		Short: "Add a cluster with its first service and servers (or all of it from --file)",
		Example: `  vecctl cluster add 10.0.0.101 --service web --protocol tcp --port 80 \
      --server name=s1,ip=10.0.0.11,weight=1 --server name=s2,ip=10.0.0.12,weight=1
  vecctl cluster add 10.0.0.101 --file cluster.json`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl := apiwire.Cluster{VIP: args[0]}
			if file != "" {
				b, err := os.ReadFile(file)
				if err != nil {
					return usageError("--file: %v", err)
				}
				if err := json.Unmarshal(b, &cl); err != nil {
					return usageError("--file %s: %v", file, err)
				}
				if cl.VIP == "" {
					cl.VIP = args[0]
				} else if cl.VIP != args[0] {
					return usageError("--file %s is for VIP %s, not %s", file, cl.VIP, args[0])
				}
			} else {
				if sf.name == "" || sf.port == 0 {
					return usageError("a cluster needs a service: give --service, --port and --server (or --file)")
				}
				s, err := sf.build()
				if err != nil {
					return err
				}
				cl.Services = []apiwire.Service{s}
			}
			return change(cmd, o, http.MethodPost, "/v1/clusters", cl)
		},
	}
	sf.register(add, true)
	add.Flags().StringVarP(&file, "file", "f", "", "JSON file with the whole cluster (as GET /v1/clusters shows one)")
	remove := namedChangeCmd(o, "remove VIP", "Remove a cluster: its VIP is no longer answered, its connections drain",
		http.MethodDelete, under("/v1/clusters/"))
	list := replyCmd(o, "list", "List the clusters and their services", http.MethodGet, "/v1/clusters",
		func(cls *[]apiwire.Cluster) func(io.Writer) {
			return func(w io.Writer) {
				fmt.Fprintln(w, "vip\tservices")
				for _, cl := range *cls {
					var names []string
					for _, s := range cl.Services {
						names = append(names, fmt.Sprintf("%s (%s/%d, %d servers)", s.Name, s.Protocol, s.Port, len(s.Servers)))
					}
					fmt.Fprintf(w, "%s\t%s\n", cl.VIP, strings.Join(names, ", "))
				}
			}
		})
	return nounCmd("cluster", "Add, remove and list clusters (VIPs)", add, remove, list)
}

package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"vec/control/apiwire"
)

func serverPath(name string) (string, error) { return namePath(name, 3) }

// parseServerSpec reads --server name=s1,ip=10.0.0.11,weight=3[,mac=…].
func parseServerSpec(spec string) (apiwire.Server, error) {
	var s apiwire.Server
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return s, usageError("--server %q: %q is not key=value", spec, kv)
		}
		switch k {
		case "name":
			s.Name = v
		case "ip":
			s.IP = v
		case "mac":
			s.MAC = v
		case "weight":
			w, err := strconv.Atoi(v)
			if err != nil {
				return s, usageError("--server %q: weight %q is not a number", spec, v)
			}
			s.Weight = &w
		case "quiesced":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return s, usageError("--server %q: quiesced %q is not true or false", spec, v)
			}
			s.Quiesced = b
		default:
			return s, usageError("--server %q: unknown key %q (name, ip, weight, mac, quiesced)", spec, k)
		}
	}
	if s.Name == "" || s.IP == "" || s.Weight == nil {
		return s, usageError("--server %q: name, ip and weight are required", spec)
	}
	return s, nil
}

func serverCmd(o *globalOptions) *cobra.Command {
	var addFlags struct {
		ip, mac  string
		weight   int
		quiesced bool
	}
	add := &cobra.Command{
		Use:     "add VIP:SERVICE:SERVER",
		Short:   "Add a server to a service",
		Example: `  vecctl server add 10.0.0.100:http:s4 --ip 10.0.0.14 --weight 1`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := splitName(args[0], 3)
			if err != nil {
				return err
			}
			if addFlags.ip == "" || !cmd.Flags().Changed("weight") {
				return usageError("server add needs --ip and --weight")
			}
			w := addFlags.weight
			body := apiwire.Server{Name: p[2], IP: addFlags.ip, MAC: addFlags.mac, Weight: &w, Quiesced: addFlags.quiesced}
			return change(cmd, o, http.MethodPost, "/v1/clusters/"+esc(p[0])+"/services/"+esc(p[1])+"/servers", body)
		},
	}
	add.Flags().StringVar(&addFlags.ip, "ip", "", "the server's address")
	add.Flags().StringVar(&addFlags.mac, "mac", "", "the server's MAC (default: resolved by ARP)")
	add.Flags().IntVar(&addFlags.weight, "weight", 0, "share of new connections (0: none)")
	add.Flags().BoolVar(&addFlags.quiesced, "quiesced", false, "add it quiesced")
	remove := namedChangeCmd(o, "remove VIP:SERVICE:SERVER", "Remove a server: no new connections, open ones drain",
		http.MethodDelete, serverPath)
	var setFlags struct {
		weight int
		mac    string
	}
	set := &cobra.Command{
		Use:     "set VIP:SERVICE:SERVER",
		Short:   "Change a server's weight or MAC",
		Example: `  vecctl server set 10.0.0.100:http:s1 --weight 4`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := serverPath(args[0])
			if err != nil {
				return err
			}
			var p apiwire.ServerPatch
			fromFlag(cmd, "weight", &setFlags.weight, &p.Weight)
			fromFlag(cmd, "mac", &setFlags.mac, &p.MAC)
			if p == (apiwire.ServerPatch{}) {
				return usageError("nothing to change: give --weight or --mac")
			}
			return change(cmd, o, http.MethodPatch, path, p)
		},
	}
	set.Flags().IntVar(&setFlags.weight, "weight", 0, "new weight (0..the service's weight bound)")
	set.Flags().StringVar(&setFlags.mac, "mac", "", "new MAC (empty: resolve by ARP)")
	quiesce := func(verb, short string) *cobra.Command {
		return namedChangeCmd(o, verb+" VIP:SERVICE:SERVER", short, http.MethodPost, func(name string) (string, error) {
			path, err := serverPath(name)
			return path + "/" + verb, err
		})
	}
	list := &cobra.Command{
		Use:   "list [VIP[:SERVICE]]",
		Short: "List servers with their weights and counters",
		Args:  rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if len(args) == 1 {
				if vip, ok := parseVIP(args[0]); ok {
					q.Set("vip", vip)
				} else {
					p, err := splitName(args[0], 2)
					if err != nil {
						return err
					}
					q.Set("vip", p[0])
					q.Set("service", p[1])
				}
			}
			var rows []apiwire.ServerCounters
			return call(cmd, o, http.MethodGet, "/v1/servers", q, nil, &rows, func(w io.Writer) {
				fmt.Fprintln(w, "vip\tservice\tserver\tip\tid\tweight\tstate\tnew\tactive\tfin\tcompleted\tpackets\tbytes")
				for _, s := range rows {
					state := "serving"
					switch {
					case s.Draining:
						state = "draining"
					case s.Quiesced:
						state = "quiesced"
					}
					fmt.Fprintf(w, "%s\t%s/%s/%d\t%s\t%s\t%d\t%d/%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", s.VIP, s.Service, s.Proto, s.Port,
						s.Server, s.IP, s.ID, s.EffectiveWeight, s.Weight, state, s.New, s.Active, s.FIN, s.Completed, s.Packets, s.Bytes)
				}
			})
		},
	}
	return nounCmd("server", "Add, remove, re-weight, quiesce and list servers", add, remove, set,
		quiesce("quiesce", "Give a server no new connections (weight 0, the weight is kept); open ones go on"),
		quiesce("unquiesce", "Give a quiesced server new connections again, at its kept weight"), list)
}

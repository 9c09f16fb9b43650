package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"vec/control/apiwire"
)

func servicePath(name string) (string, error) { return namePath(name, 2) }

// serviceFlags are the flags that describe a new service.
type serviceFlags struct {
	name, protocol              string
	port                        int
	stale, fin, drain           string
	weightBound                 int
	forwarding                  string
	guePort                     int
	disabled                    bool
	servers                     []string
	nameRequired, serversNeeded bool
}

func (f *serviceFlags) register(cmd *cobra.Command, withName bool) {
	fl := cmd.Flags()
	if withName {
		fl.StringVar(&f.name, "service", "", "name of the cluster's first service")
	}
	fl.StringVar(&f.protocol, "protocol", "tcp", "tcp or udp")
	fl.IntVar(&f.port, "port", 0, "the service's port")
	fl.StringVar(&f.stale, "stale-timeout", "", "idle ACTIVE connections are forgotten after this (default 900s)")
	fl.StringVar(&f.fin, "fin-timeout", "", "closing connections are forgotten this long after their last packet (default 90s)")
	fl.StringVar(&f.drain, "drain-timeout", "", "how long removed servers keep their connections (default: stale timeout, at most 5m)")
	fl.IntVar(&f.weightBound, "weight-bound", 0, "largest weight of a server (default 20)")
	fl.StringVar(&f.forwarding, "forwarding", "", "how packets reach the servers: dsr (default), ipip or gue (needs encapsulation in the configuration)")
	fl.IntVar(&f.guePort, "gue-port", 0, "UDP port of a gue service's packets (default 6080)")
	fl.BoolVar(&f.disabled, "disabled", false, "keep the service configured but not served")
	fl.StringArrayVar(&f.servers, "server", nil, "a server: name=NAME,ip=IP,weight=N[,mac=MAC] (repeat for more)")
}

func (f *serviceFlags) build() (apiwire.Service, error) {
	s := apiwire.Service{Name: f.name, Protocol: f.protocol, Port: f.port, Disabled: f.disabled,
		StaleTimeout: f.stale, FinTimeout: f.fin, DrainTimeout: f.drain, Forwarding: f.forwarding, GUEPort: f.guePort,
		Servers: []apiwire.Server{}}
	if f.weightBound != 0 {
		b := f.weightBound
		s.WeightBound = &b
	}
	for _, spec := range f.servers {
		sv, err := parseServerSpec(spec)
		if err != nil {
			return s, err
		}
		s.Servers = append(s.Servers, sv)
	}
	return s, nil
}

func serviceCmd(o *globalOptions) *cobra.Command {
	var sf serviceFlags
	add := &cobra.Command{
		Use:     "add VIP:SERVICE",
		Short:   "Add a service with its servers to a cluster",
		Example: `  vecctl service add 10.0.0.100:dns --protocol udp --port 53 --server name=n1,ip=10.0.0.31,weight=1`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := splitName(args[0], 2)
			if err != nil {
				return err
			}
			sf.name = p[1]
			s, err := sf.build()
			if err != nil {
				return err
			}
			return change(cmd, o, http.MethodPost, "/v1/clusters/"+esc(p[0])+"/services", s)
		},
	}
	sf.register(add, false)
	remove := namedChangeCmd(o, "remove VIP:SERVICE", "Remove a service: no new connections, open ones drain",
		http.MethodDelete, servicePath)
	var patch struct {
		stale, fin, drain string
		bound             int
		disabled          string
	}
	set := &cobra.Command{
		Use:   "set VIP:SERVICE",
		Short: "Change a service's timers, weight bound or disabled flag",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := servicePath(args[0])
			if err != nil {
				return err
			}
			var p apiwire.ServicePatch
			fromFlag(cmd, "stale-timeout", &patch.stale, &p.StaleTimeout)
			fromFlag(cmd, "fin-timeout", &patch.fin, &p.FinTimeout)
			fromFlag(cmd, "drain-timeout", &patch.drain, &p.DrainTimeout)
			fromFlag(cmd, "weight-bound", &patch.bound, &p.WeightBound)
			if cmd.Flags().Changed("disabled") {
				b, err := strconv.ParseBool(patch.disabled)
				if err != nil {
					return usageError("--disabled %q: want true or false", patch.disabled)
				}
				p.Disabled = &b
			}
			if p == (apiwire.ServicePatch{}) {
				return usageError("nothing to change: give --stale-timeout, --fin-timeout, --drain-timeout, --weight-bound or --disabled")
			}
			return change(cmd, o, http.MethodPatch, path, p)
		},
	}
	set.Flags().StringVar(&patch.stale, "stale-timeout", "", "new stale timeout, e.g. 300s")
	set.Flags().StringVar(&patch.fin, "fin-timeout", "", "new FIN timeout")
	set.Flags().StringVar(&patch.drain, "drain-timeout", "", "new drain timeout")
	set.Flags().IntVar(&patch.bound, "weight-bound", 0, "new weight bound (1..100)")
	set.Flags().StringVar(&patch.disabled, "disabled", "", "true or false")
	list := &cobra.Command{
		Use:   "list [VIP]",
		Short: "List services, of one cluster or of all",
		Args:  rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if len(args) == 1 {
				q.Set("vip", args[0])
			}
			var rows []apiwire.ServiceRow
			return call(cmd, o, http.MethodGet, "/v1/services", q, nil, &rows, func(w io.Writer) {
				fmt.Fprintln(w, "vip\tservice\tprotocol\tport\tservers\tforwarding\tstale\tfin\tdrain\tbound\tdisabled")
				for _, r := range rows {
					bound := "default"
					if r.WeightBound != nil {
						bound = strconv.Itoa(*r.WeightBound)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%v\n", r.VIP, r.Name, r.Protocol, r.Port, len(r.Servers),
						forwarding(r.Service), orDefault(r.StaleTimeout), orDefault(r.FinTimeout), orDefault(r.DrainTimeout), bound, r.Disabled)
				}
			})
		},
	}
	return nounCmd("service", "Add, remove, change and list services", add, remove, set, list)
}

// forwarding is a service's forwarding mode, defaults applied: dsr, ipip,
// or gue with its UDP port (gue:6080).
func forwarding(s apiwire.Service) string {
	switch s.Forwarding {
	case "":
		return "dsr"
	case "gue":
		port := s.GUEPort
		if port == 0 {
			port = defaultGUEPort
		}
		return fmt.Sprintf("gue:%d", port)
	}
	return s.Forwarding
}

// defaultGUEPort is the gue_port of a gue service that sets none
// (limits.DefaultGUEPort; vecctl imports control/apiwire alone).
const defaultGUEPort = 6080

func orDefault(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

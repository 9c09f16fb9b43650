package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"vec/control/api"
	"vec/control/manager"
)

// call runs one request and prints its reply: the raw JSON with --output
// json, else what table writes.
func call(cmd *cobra.Command, o *globalOptions, method, path string, query url.Values, body, out any, table func(io.Writer)) error {
	c, err := newClient(o)
	if err != nil {
		return err
	}
	ctx, cancel := contextFor(o)
	defer cancel()
	raw, err := c.do(ctx, method, path, query, body, out)
	if o.output == "json" && raw != nil {
		os.Stdout.Write(raw)
	}
	if err != nil {
		return err
	}
	if o.output == "table" && table != nil {
		w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		table(w)
		w.Flush()
	}
	return nil
}

// printChange is the table form of a change's reply.
func printChange(ch *manager.Change) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintf(w, "applied: generation %d, live on every worker after %.2f ms\n", ch.Generation, ch.AckLatencyMs)
		for _, s := range ch.Summary {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
}

func change(cmd *cobra.Command, o *globalOptions, method, path string, body any) error {
	var ch manager.Change
	return call(cmd, o, method, path, nil, body, &ch, printChange(&ch))
}

func esc(s string) string { return url.PathEscape(s) }

// splitName splits VIP:SERVICE[:SERVER] into n parts.
func splitName(s string, n int) ([]string, error) {
	parts := strings.Split(s, ":")
	if len(parts) != n || parts[0] == "" || parts[1] == "" || (n == 3 && parts[2] == "") {
		want := "VIP:SERVICE"
		if n == 3 {
			want = "VIP:SERVICE:SERVER"
		}
		return nil, usageError("%q: want %s (e.g. 10.0.0.100:http%s)", s, want, map[bool]string{true: ":s1"}[n == 3])
	}
	return parts, nil
}

func serverPath(name string) (string, error) {
	p, err := splitName(name, 3)
	if err != nil {
		return "", err
	}
	return "/v1/clusters/" + esc(p[0]) + "/services/" + esc(p[1]) + "/servers/" + esc(p[2]), nil
}

func servicePath(name string) (string, error) {
	p, err := splitName(name, 2)
	if err != nil {
		return "", err
	}
	return "/v1/clusters/" + esc(p[0]) + "/services/" + esc(p[1]), nil
}

// parseServerSpec reads --server name=s1,ip=10.0.0.11,weight=3[,mac=…].
func parseServerSpec(spec string) (api.Server, error) {
	var s api.Server
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

// serviceFlags are the flags that describe a new service.
type serviceFlags struct {
	name, protocol              string
	port                        int
	stale, fin, drain           string
	weightBound                 int
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
	fl.BoolVar(&f.disabled, "disabled", false, "keep the service configured but not served")
	fl.StringArrayVar(&f.servers, "server", nil, "a server: name=NAME,ip=IP,weight=N[,mac=MAC] (repeat for more)")
}

func (f *serviceFlags) build() (api.Service, error) {
	s := api.Service{Name: f.name, Protocol: f.protocol, Port: f.port, Disabled: f.disabled,
		StaleTimeout: f.stale, FinTimeout: f.fin, DrainTimeout: f.drain, Servers: []api.Server{}}
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

func statusCmd(o *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the configuration generation, the workers and their rings, draining servers",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st manager.Status
			return call(cmd, o, http.MethodGet, "/v1/status", nil, nil, &st, func(w io.Writer) {
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
			})
		},
	}
}

func countersCmd(o *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "counters",
		Short: "Show the counters of every worker core and server",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st manager.Counters
			err := call(cmd, o, http.MethodGet, "/v1/counters", nil, nil, &st, nil)
			if err == nil && o.output == "table" {
				st.Print(cmd.OutOrStdout())
			}
			return err
		},
	}
}

func clusterCmd(o *globalOptions) *cobra.Command {
	c := &cobra.Command{Use: "cluster", Short: "Add, remove and list clusters (VIPs)"}
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
			cl := api.Cluster{VIP: args[0]}
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
				cl.Services = []api.Service{s}
			}
			return change(cmd, o, http.MethodPost, "/v1/clusters", cl)
		},
	}
	sf.register(add, true)
	add.Flags().StringVarP(&file, "file", "f", "", "JSON file with the whole cluster (as GET /v1/clusters shows one)")
	remove := &cobra.Command{
		Use:   "remove VIP",
		Short: "Remove a cluster: its VIP is no longer answered, its connections drain",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return change(cmd, o, http.MethodDelete, "/v1/clusters/"+esc(args[0]), nil)
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the clusters and their services",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cls []api.Cluster
			return call(cmd, o, http.MethodGet, "/v1/clusters", nil, nil, &cls, func(w io.Writer) {
				fmt.Fprintln(w, "vip\tservices")
				for _, cl := range cls {
					var names []string
					for _, s := range cl.Services {
						names = append(names, fmt.Sprintf("%s (%s/%d, %d servers)", s.Name, s.Protocol, s.Port, len(s.Servers)))
					}
					fmt.Fprintf(w, "%s\t%s\n", cl.VIP, strings.Join(names, ", "))
				}
			})
		},
	}
	c.AddCommand(add, remove, list)
	return c
}

func serviceCmd(o *globalOptions) *cobra.Command {
	c := &cobra.Command{Use: "service", Short: "Add, remove, change and list services"}
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
	remove := &cobra.Command{
		Use:   "remove VIP:SERVICE",
		Short: "Remove a service: no new connections, open ones drain",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := servicePath(args[0])
			if err != nil {
				return err
			}
			return change(cmd, o, http.MethodDelete, path, nil)
		},
	}
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
			var p api.ServicePatch
			fl := cmd.Flags()
			if fl.Changed("stale-timeout") {
				p.StaleTimeout = &patch.stale
			}
			if fl.Changed("fin-timeout") {
				p.FinTimeout = &patch.fin
			}
			if fl.Changed("drain-timeout") {
				p.DrainTimeout = &patch.drain
			}
			if fl.Changed("weight-bound") {
				p.WeightBound = &patch.bound
			}
			if fl.Changed("disabled") {
				b, err := strconv.ParseBool(patch.disabled)
				if err != nil {
					return usageError("--disabled %q: want true or false", patch.disabled)
				}
				p.Disabled = &b
			}
			if p == (api.ServicePatch{}) {
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
			var rows []api.ServiceRow
			return call(cmd, o, http.MethodGet, "/v1/services", q, nil, &rows, func(w io.Writer) {
				fmt.Fprintln(w, "vip\tservice\tprotocol\tport\tservers\tstale\tfin\tdrain\tbound\tdisabled")
				for _, r := range rows {
					bound := "default"
					if r.WeightBound != nil {
						bound = strconv.Itoa(*r.WeightBound)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%v\n", r.VIP, r.Name, r.Protocol, r.Port, len(r.Servers),
						orDefault(r.StaleTimeout), orDefault(r.FinTimeout), orDefault(r.DrainTimeout), bound, r.Disabled)
				}
			})
		},
	}
	c.AddCommand(add, remove, set, list)
	return c
}

func orDefault(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

func serverCmd(o *globalOptions) *cobra.Command {
	c := &cobra.Command{Use: "server", Short: "Add, remove, re-weight, quiesce and list servers"}
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
			body := api.Server{Name: p[2], IP: addFlags.ip, MAC: addFlags.mac, Weight: &w, Quiesced: addFlags.quiesced}
			return change(cmd, o, http.MethodPost, "/v1/clusters/"+esc(p[0])+"/services/"+esc(p[1])+"/servers", body)
		},
	}
	add.Flags().StringVar(&addFlags.ip, "ip", "", "the server's address")
	add.Flags().StringVar(&addFlags.mac, "mac", "", "the server's MAC (default: resolved by ARP)")
	add.Flags().IntVar(&addFlags.weight, "weight", 0, "share of new connections (0: none)")
	add.Flags().BoolVar(&addFlags.quiesced, "quiesced", false, "add it quiesced")
	remove := &cobra.Command{
		Use:   "remove VIP:SERVICE:SERVER",
		Short: "Remove a server: no new connections, open ones drain",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := serverPath(args[0])
			if err != nil {
				return err
			}
			return change(cmd, o, http.MethodDelete, path, nil)
		},
	}
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
			var p api.ServerPatch
			if cmd.Flags().Changed("weight") {
				p.Weight = &setFlags.weight
			}
			if cmd.Flags().Changed("mac") {
				p.MAC = &setFlags.mac
			}
			if p == (api.ServerPatch{}) {
				return usageError("nothing to change: give --weight or --mac")
			}
			return change(cmd, o, http.MethodPatch, path, p)
		},
	}
	set.Flags().IntVar(&setFlags.weight, "weight", 0, "new weight (0..the service's weight bound)")
	set.Flags().StringVar(&setFlags.mac, "mac", "", "new MAC (empty: resolve by ARP)")
	quiesce := func(verb, short string) *cobra.Command {
		return &cobra.Command{
			Use:   verb + " VIP:SERVICE:SERVER",
			Short: short,
			Args:  exactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				path, err := serverPath(args[0])
				if err != nil {
					return err
				}
				return change(cmd, o, http.MethodPost, path+"/"+verb, nil)
			},
		}
	}
	list := &cobra.Command{
		Use:   "list [VIP[:SERVICE]]",
		Short: "List servers with their weights and counters",
		Args:  rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if len(args) == 1 {
				vip, service, _ := strings.Cut(args[0], ":")
				q.Set("vip", vip)
				if service != "" {
					q.Set("service", service)
				}
			}
			var rows []manager.ServerCounters
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
	c.AddCommand(add, remove, set,
		quiesce("quiesce", "Give a server no new connections (weight 0, the weight is kept); open ones go on"),
		quiesce("unquiesce", "Give a quiesced server new connections again, at its kept weight"), list)
	return c
}

func connectionsCmd(o *globalOptions) *cobra.Command {
	c := &cobra.Command{Use: "connections", Short: "List live connections"}
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
			var page manager.Connections
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
	fl.IntVar(&f.limit, "limit", api.DefaultConnLimit, fmt.Sprintf("connections per page (at most %d)", manager.MaxConnLimit))
	fl.StringVar(&f.cursor, "cursor", "", "start at this cursor (the one the previous page named)")
	fl.BoolVar(&f.all, "all", false, "follow the cursors to the end and list every connection")
	c.AddCommand(list)
	return c
}

func printConnections(w io.Writer, conns []manager.Connection) {
	fmt.Fprintln(w, "core\tclient\tvip\tservice\tserver\tstate\tidle")
	for _, cn := range conns {
		fmt.Fprintf(w, "%d\t%s\t%s:%d/%s\t%s\t%s (%s)\t%s\t%.1fs\n", cn.Core, cn.Client, cn.VIP, cn.Port, cn.Proto,
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
	var all manager.Connections
	for {
		var page manager.Connections
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
		all.Connections = []manager.Connection{}
	}
	if o.output == "json" {
		return json.NewEncoder(os.Stdout).Encode(all)
	}
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	printConnections(w, all.Connections)
	fmt.Fprintf(w, "%d connections\n", len(all.Connections))
	return w.Flush()
}

func logCmd(o *globalOptions) *cobra.Command {
	c := &cobra.Command{Use: "log", Short: "Show or change vecd's log level"}
	c.AddCommand(&cobra.Command{
		Use:       "level [debug|info|warn|error]",
		Short:     "Show the log level, or change it at once",
		Args:      rangeArgs(0, 1),
		ValidArgs: []string{"debug", "info", "warn", "error"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				var l api.LogLevel
				return call(cmd, o, http.MethodGet, "/v1/log/level", nil, nil, &l, func(w io.Writer) { fmt.Fprintln(w, l.Level) })
			}
			return change(cmd, o, http.MethodPut, "/v1/log/level", api.LogLevel{Level: args[0]})
		},
	})
	return c
}

func configCmd(o *globalOptions) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Show, save or reload vecd's configuration"}
	c.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Show the configuration in force (with changes not yet saved) as YAML",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r api.ConfigReply
			return call(cmd, o, http.MethodGet, "/v1/config", nil, nil, &r, func(w io.Writer) {
				fmt.Fprintf(w, "# generation %d\n%s", r.Generation, r.YAML)
			})
		},
	}, &cobra.Command{
		Use:   "save",
		Short: "Write the configuration in force to vecd's configuration file (its comments are lost)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r api.SaveReply
			return call(cmd, o, http.MethodPost, "/v1/config/save", nil, nil, &r, func(w io.Writer) {
				fmt.Fprintf(w, "generation %d saved to %s\n", r.Generation, r.File)
			})
		},
	}, &cobra.Command{
		Use:   "reload",
		Short: "Replace the configuration in force with vecd's configuration file (unsaved changes are lost)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return change(cmd, o, http.MethodPost, "/v1/config/reload", nil)
		},
	})
	return c
}

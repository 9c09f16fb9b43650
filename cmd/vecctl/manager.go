package main

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"vec/control/apiwire"
)

func managerCmd(o *globalOptions) *cobra.Command {
	return nounCmd("manager", "Show and steer the manager, the loop that re-weights servers from their metrics (like dscontrol manager)",
		replyCmd(o, "report", "Show the last interval: per server every metric, its proportion, the weight computed and why; advisors and rules",
			http.MethodGet, "/v1/manager", printManagerReport),
		changeCmd(o, "start", "Start the manager (manager.enabled: true)", http.MethodPost, "/v1/manager/start"),
		changeCmd(o, "stop", "Stop the manager: every server goes back to its configured weight", http.MethodPost, "/v1/manager/stop"),
		managerSetCmd(o), advisorCmd(o), ruleCmd(o))
}

func managerSetCmd(o *globalOptions) *cobra.Command {
	var f struct {
		interval, proportions, systemMetric, hostInterval, hostTimeout string
		smoothing, sensitivity                                         float64
	}
	set := &cobra.Command{
		Use:     "set",
		Short:   "Change the manager's interval, proportions, smoothing, sensitivity or host metrics",
		Example: `  vecctl manager set --interval 2s --proportions 50,50,0,0 --smoothing 1.5 --sensitivity 5`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var p apiwire.ManagerPatch
			fromFlag(cmd, "interval", &f.interval, &p.Interval)
			fromFlag(cmd, "system-metric", &f.systemMetric, &p.SystemMetric)
			fromFlag(cmd, "host-interval", &f.hostInterval, &p.HostInterval)
			fromFlag(cmd, "host-timeout", &f.hostTimeout, &p.HostTimeout)
			fromFlag(cmd, "smoothing", &f.smoothing, &p.Smoothing)
			fromFlag(cmd, "sensitivity", &f.sensitivity, &p.Sensitivity)
			if cmd.Flags().Changed("proportions") {
				props, err := parseProportions(f.proportions)
				if err != nil {
					return err
				}
				p.Proportions = &props
			}
			if p == (apiwire.ManagerPatch{}) {
				return usageError("nothing to change: give --interval, --proportions, --smoothing, --sensitivity, --system-metric, --host-interval or --host-timeout")
			}
			return change(cmd, o, http.MethodPatch, "/v1/manager", p)
		},
	}
	fl := set.Flags()
	fl.StringVar(&f.interval, "interval", "", "how often weights are computed (100ms..1h, default 2s)")
	fl.StringVar(&f.proportions, "proportions", "", "importance of the active, new, advisor and system metrics in percent, summing to 100 (e.g. 50,50,0,0)")
	fl.Float64Var(&f.smoothing, "smoothing", 0, "smoothing factor: the larger, the smaller each change (0.1..100, default 1.5)")
	fl.Float64Var(&f.sensitivity, "sensitivity", 0, "smallest weight change sent to the workers, in percent of the weight bound (0..100, default 5)")
	fl.StringVar(&f.systemMetric, "system-metric", "", "host metric of the system class: cpu, load1, memory or script:NAME")
	fl.StringVar(&f.hostInterval, "host-interval", "", "how often the agents' host metrics are read (default 2s)")
	fl.StringVar(&f.hostTimeout, "host-timeout", "", "a server whose agent is silent this long gets no new connections (0: off)")
	return set
}

// parseProportions reads active,new,advisor,system.
func parseProportions(s string) (apiwire.Proportions, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return apiwire.Proportions{}, usageError("--proportions %q: want four numbers, active,new,advisor,system (e.g. 50,50,0,0)", s)
	}
	var v [4]float64
	for i, part := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
		if err != nil {
			return apiwire.Proportions{}, usageError("--proportions %q: %q is not a number", s, part)
		}
		v[i] = f
	}
	return apiwire.Proportions{Active: v[0], New: v[1], Advisor: v[2], System: v[3]}, nil
}

func advisorCmd(o *globalOptions) *cobra.Command {
	var f struct {
		service, typ, interval, timeout, method, path, host, send, expect, command string
		fall, rise, port, expectStatus                                             int
	}
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Add an advisor; it starts probing at once",
		Example: `  vecctl manager advisor add web --service 10.0.0.100:http --type http --path /health --expect-status 200
  vecctl manager advisor add dns --service 10.0.0.100:dns --type udp --send ping --expect pong
  vecctl manager advisor add load --service 10.0.0.100:http --type custom --command "/usr/local/bin/probe --quick"`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.service == "" || f.typ == "" {
				return usageError("advisor add needs --service and --type")
			}
			a := apiwire.Advisor{Name: args[0], Service: f.service, Type: f.typ, Interval: f.interval, Timeout: f.timeout,
				Fall: f.fall, Rise: f.rise, Port: f.port, Command: strings.Fields(f.command)}
			fl := cmd.Flags()
			if fl.Changed("method") || fl.Changed("path") || fl.Changed("host") || fl.Changed("expect-status") {
				a.HTTP = &apiwire.AdvisorHTTP{Method: f.method, Path: f.path, Host: f.host, ExpectStatus: f.expectStatus}
			}
			if fl.Changed("send") || fl.Changed("expect") {
				a.UDP = &apiwire.AdvisorUDP{Send: f.send, Expect: f.expect}
			}
			return change(cmd, o, http.MethodPost, "/v1/manager/advisors", a)
		},
	}
	fl := add.Flags()
	fl.StringVar(&f.service, "service", "", "the service whose servers it probes, VIP:SERVICE")
	fl.StringVar(&f.typ, "type", "", "http, https, tcp, udp or custom")
	fl.StringVar(&f.interval, "interval", "", "time between probes (default 1s)")
	fl.StringVar(&f.timeout, "timeout", "", "a probe slower than this failed (default 1s, at most the interval)")
	fl.IntVar(&f.fall, "fall", 0, "failures in a row that take a server down (default 3)")
	fl.IntVar(&f.rise, "rise", 0, "successes in a row that bring it back (default 2)")
	fl.IntVar(&f.port, "port", 0, "port probed on each server (default: the service's)")
	fl.StringVar(&f.method, "method", "", "http/https: request method (default GET)")
	fl.StringVar(&f.path, "path", "", "http/https: request path (default /)")
	fl.StringVar(&f.host, "host", "", "http/https: Host header (default: the server's address)")
	fl.IntVar(&f.expectStatus, "expect-status", 0, "http/https: the status a healthy server answers (default 200)")
	fl.StringVar(&f.send, "send", "", "udp: the request datagram")
	fl.StringVar(&f.expect, "expect", "", "udp: text the reply must contain (default: any reply)")
	fl.StringVar(&f.command, "command", "", `custom: the program and its arguments, split at spaces ("/usr/local/bin/probe -q"); exit 0 = up, a number on the first line of its output = the metric`)
	return nounCmd("advisor", "Add and remove advisors: probes of every server of a service",
		add, namedChangeCmd(o, "remove NAME", "Remove an advisor: its probes stop, servers it had marked down come back",
			http.MethodDelete, under("/v1/manager/advisors/")))
}

func ruleCmd(o *globalOptions) *cobra.Command {
	var f struct {
		service, typ, from, to, command, interval string
		servers                                   []string
		weight                                    int
	}
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a rule",
		Example: `  vecctl manager rule add nightly --service 10.0.0.100:http --type window --servers s2 --from 02:00 --to 04:00 --weight 0
  vecctl manager rule add xmas --service 10.0.0.100:http --type block --servers s1,s2 --from 2026-12-24T18:00:00Z --to 2026-12-26T08:00:00Z
  vecctl manager rule add busy --service 10.0.0.100:http --type script --servers s3 --weight 2 --command "/usr/local/bin/busy s3" --interval 30s`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.service == "" || f.typ == "" || len(f.servers) == 0 {
				return usageError("rule add needs --service, --type and --servers")
			}
			r := apiwire.Rule{Name: args[0], Service: f.service, Type: f.typ, Servers: f.servers, From: f.from, To: f.to,
				Command: strings.Fields(f.command), Interval: f.interval}
			fromFlag(cmd, "weight", &f.weight, &r.Weight)
			return change(cmd, o, http.MethodPost, "/v1/manager/rules", r)
		},
	}
	fl := add.Flags()
	fl.StringVar(&f.service, "service", "", "the service of the servers, VIP:SERVICE")
	fl.StringVar(&f.typ, "type", "", "window (daily, local time), block (between two dates), always or script")
	fl.StringSliceVar(&f.servers, "servers", nil, "the servers it holds, by name: s1,s2")
	fl.StringVar(&f.from, "from", "", "window: HH:MM; block: RFC 3339 (2026-12-24T18:00:00Z)")
	fl.StringVar(&f.to, "to", "", "window: HH:MM (before --from: across midnight); block: RFC 3339")
	fl.IntVar(&f.weight, "weight", 0, "the weight its servers get while it holds (default 0: no new connections)")
	fl.StringVar(&f.command, "command", "", `script: the program and its arguments, split at spaces; exit 0 = the rule holds`)
	fl.StringVar(&f.interval, "interval", "", "script: how often it runs (default 10s)")
	return nounCmd("rule", "Add and remove rules: user metrics that give servers a weight while they hold",
		add, namedChangeCmd(o, "remove NAME", "Remove a rule: its servers go back to the computed weights",
			http.MethodDelete, under("/v1/manager/rules/")))
}

// printManagerReport is the table form of GET /v1/manager.
func printManagerReport(rep *apiwire.ManagerReport) func(io.Writer) {
	return func(w io.Writer) {
		if !rep.Enabled {
			fmt.Fprintln(w, "manager\tstopped: servers have their configured weights (vecctl manager start)")
			return
		}
		fmt.Fprintf(w, "manager\trunning, every %v; proportions %v/%v/%v/%v (active/new/advisor/system), smoothing %g, sensitivity %g%%\n",
			time.Duration(rep.IntervalS*float64(time.Second)), rep.Proportions.Active, rep.Proportions.New,
			rep.Proportions.Advisor, rep.Proportions.System, rep.Smoothing, rep.Sensitivity)
		if !rep.At.IsZero() {
			fmt.Fprintf(w, "last interval\t%s (configuration generation %d)\n", rep.At.Format("2006-01-02 15:04:05"), rep.Generation)
		}
		if rep.Error != "" {
			fmt.Fprintf(w, "error\t%s\n", rep.Error)
		}
		for _, svc := range rep.Services {
			pushed := "sent to the workers"
			if !svc.Pushed {
				pushed = "not sent: no change above the sensitivity"
			}
			fmt.Fprintf(w, "\nservice %s: weight bound %d, %s\n", svc.Service, svc.Bound, pushed)
			classes := apiwire.MetricClasses
			fmt.Fprintf(w, "server\tweight\treason\t%s\n", strings.Join(classes[:], "\t"))
			importance := [4]float64{rep.Proportions.Active, rep.Proportions.New, rep.Proportions.Advisor, rep.Proportions.System}
			for _, s := range svc.Servers {
				cols := make([]string, len(classes))
				for i, name := range classes {
					cols[i] = "-"
					for _, m := range s.Metrics {
						if m.Class == name && m.Known {
							// Only a live server's metrics of the classes
							// that count have a proportion.
							cols[i] = metricCell(m, importance[i] > 0 && s.Reason == "computed")
						}
					}
				}
				fmt.Fprintf(w, "%s\t%d → %d\t%s\t%s\n", s.Server, s.Weight, s.Computed, s.Reason, strings.Join(cols, "\t"))
			}
		}
		if len(rep.Advisors) > 0 {
			fmt.Fprintln(w, "\nadvisor\ttype\tservice\tserver\tstate\tlatency\tprobes\tfailed\tlast error")
			for _, a := range rep.Advisors {
				for _, r := range a.Servers {
					state := "up"
					if !r.Up {
						state = "down"
					}
					latency := "-"
					if r.Latency > 0 {
						latency = fmt.Sprintf("%.1f ms", float64(r.Latency)/float64(time.Millisecond))
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", a.Name, a.Type, a.Service, r.Server, state, latency,
						r.Checks, r.Failures, orNone(r.LastError))
				}
			}
		}
		if len(rep.Rules) > 0 {
			fmt.Fprintln(w, "\nrule\ttype\tservice\tholds\terror")
			for _, r := range rep.Rules {
				fmt.Fprintf(w, "%s\t%s\t%s\t%t\t%s\n", r.Name, r.Type, r.Service, r.Holds, orNone(r.LastError))
			}
		}
	}
}

// metricCell is a known metric: its value, and with share its proportion
// of the service's total.
func metricCell(m apiwire.MetricReport, share bool) string {
	v := strconv.FormatFloat(m.Value, 'f', 1, 64)
	if m.Value == math.Trunc(m.Value) {
		v = strconv.FormatFloat(m.Value, 'f', 0, 64)
	}
	if !share || math.IsNaN(m.Proportion) {
		return v
	}
	return fmt.Sprintf("%s (%.1f%%)", v, 100*m.Proportion)
}

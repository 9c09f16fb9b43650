package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Manager configures the patent's manager: the loop that re-weights the
// servers of every service from the input, host, advisor and user metrics
// (docs/manager.md). Unlike the recovery and ha sections it can change
// while vecd runs.
type Manager struct {
	// Enabled starts the loop; without it the weights are the
	// configured ones.
	Enabled bool `mapstructure:"enabled"`
	// Interval is how often weights are computed.
	Interval time.Duration `mapstructure:"interval"`
	// Proportions are the importance of each metric class, in percent,
	// summing to 100 (IBM's defaults: 50/50/0/0).
	Proportions *Proportions `mapstructure:"proportions"`
	// Smoothing is the smoothing factor SF of the formula (> 0); the
	// larger, the smaller each interval's change.
	Smoothing float64 `mapstructure:"smoothing"`
	// Sensitivity is the smallest weight change, in percent of a
	// service's weight bound, that is sent to the workers.
	Sensitivity *float64 `mapstructure:"sensitivity"`
	// SystemMetric is the host metric of the system class: cpu, load1,
	// memory or script:<name> (one of the agent's scripts).
	SystemMetric string `mapstructure:"system_metric"`
	// HostInterval is how often the agents' host metrics are read;
	// HostTimeout, when set, takes a server whose agent has not answered
	// for that long out of new connections.
	HostInterval time.Duration `mapstructure:"host_interval"`
	HostTimeout  time.Duration `mapstructure:"host_timeout"`
	Advisors     []Advisor     `mapstructure:"advisors"`
	Rules        []Rule        `mapstructure:"rules"`
}

// Proportions weigh the metric classes, in percent.
type Proportions struct {
	Active  float64 `mapstructure:"active" json:"active"`
	New     float64 `mapstructure:"new" json:"new"`
	Advisor float64 `mapstructure:"advisor" json:"advisor"`
	System  float64 `mapstructure:"system" json:"system"`
}

// Advisor is a probe of every server of one service (a forward metric).
type Advisor struct {
	Name string `mapstructure:"name"`
	// Service is VIP:SERVICE.
	Service  string        `mapstructure:"service"`
	Type     string        `mapstructure:"type"` // http, https, tcp, udp or custom
	Interval time.Duration `mapstructure:"interval"`
	Timeout  time.Duration `mapstructure:"timeout"`
	// Fall failures in a row take a server down, Rise successes bring it
	// back.
	Fall int `mapstructure:"fall"`
	Rise int `mapstructure:"rise"`
	// Port is the port probed on each server's own address; 0 means the
	// service's port.
	Port    int         `mapstructure:"port"`
	HTTP    AdvisorHTTP `mapstructure:"http"`
	UDP     AdvisorUDP  `mapstructure:"udp"`
	Command []string    `mapstructure:"command"`
}

// AdvisorHTTP is an http or https advisor's request.
type AdvisorHTTP struct {
	Method       string `mapstructure:"method"`
	Path         string `mapstructure:"path"`
	Host         string `mapstructure:"host"`
	ExpectStatus int    `mapstructure:"expect_status"`
}

// AdvisorUDP is a udp advisor's request and expected reply.
type AdvisorUDP struct {
	Send   string `mapstructure:"send"`
	Expect string `mapstructure:"expect"`
}

// Rule is a user metric: while it holds, its servers get its weight.
type Rule struct {
	Name    string   `mapstructure:"name"`
	Service string   `mapstructure:"service"` // VIP:SERVICE
	Type    string   `mapstructure:"type"`    // window, block, always or script
	Servers []string `mapstructure:"servers"`
	// From and To are HH:MM (window, local time) or RFC 3339 (block).
	From   string `mapstructure:"from"`
	To     string `mapstructure:"to"`
	Weight *int   `mapstructure:"weight"`
	// Command is a script rule's program (argv): exit 0 = the rule holds,
	// run every Interval.
	Command  []string      `mapstructure:"command"`
	Interval time.Duration `mapstructure:"interval"`
}

// Defaults of the manager section.
const (
	DefaultManagerInterval = 2 * time.Second
	DefaultSmoothing       = 1.5
	DefaultSensitivity     = 5.0
	DefaultHostInterval    = 2 * time.Second
	DefaultAdvisorInterval = time.Second
	DefaultAdvisorTimeout  = time.Second
	DefaultAdvisorFall     = 3
	DefaultAdvisorRise     = 2
	DefaultRuleInterval    = 10 * time.Second
)

// DefaultProportions are IBM's: active and new connections half each.
var DefaultProportions = Proportions{Active: 50, New: 50}

// ManagerSpec is the manager section, checked, with defaults applied and
// services resolved to their index in Live.Services.
type ManagerSpec struct {
	Enabled      bool
	Interval     time.Duration
	Proportions  Proportions
	Smoothing    float64
	Sensitivity  float64
	SystemMetric string
	HostInterval time.Duration
	HostTimeout  time.Duration
	Advisors     []AdvisorSpec
	Rules        []RuleSpec
}

// AdvisorSpec is an advisor, checked; Service indexes Live.Services.
type AdvisorSpec struct {
	Advisor
	Service int
}

// RuleSpec is a rule, checked; Service indexes Live.Services.
type RuleSpec struct {
	Rule
	Service int
	Weight  int
}

var (
	hhmm         = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	scriptMetric = regexp.MustCompile(`^script:[A-Za-z0-9_.-]{1,64}$`)
	httpMethod   = regexp.MustCompile(`^[A-Z]{1,16}$`)
)

// compileManager checks the manager section against the services (in file
// order, as compileClusters returned them).
func (c *Config) compileManager(ps *problems, services []ServiceSpec) ManagerSpec {
	m := c.Manager
	out := ManagerSpec{Enabled: m.Enabled, Interval: m.Interval, Smoothing: m.Smoothing, SystemMetric: m.SystemMetric,
		HostInterval: m.HostInterval, HostTimeout: m.HostTimeout, Proportions: DefaultProportions, Sensitivity: DefaultSensitivity}
	switch {
	case out.Interval == 0:
		out.Interval = DefaultManagerInterval
	case out.Interval < 100*time.Millisecond || out.Interval > time.Hour:
		ps.Add("manager.interval", "%v is outside 100ms..1h", m.Interval)
	}
	if m.Proportions != nil {
		p := *m.Proportions
		out.Proportions = p
		if p.Active < 0 || p.New < 0 || p.Advisor < 0 || p.System < 0 {
			ps.Add("manager.proportions", "a proportion is negative")
		} else if sum := p.Active + p.New + p.Advisor + p.System; sum < 99.999 || sum > 100.001 {
			ps.Add("manager.proportions", "active %g + new %g + advisor %g + system %g = %g, want 100", p.Active, p.New, p.Advisor, p.System, sum)
		}
	}
	switch {
	case out.Smoothing == 0:
		out.Smoothing = DefaultSmoothing
	case out.Smoothing < 0.1 || out.Smoothing > 100:
		ps.Add("manager.smoothing", "%g is outside 0.1..100", m.Smoothing)
	}
	if m.Sensitivity != nil {
		out.Sensitivity = *m.Sensitivity
		if out.Sensitivity < 0 || out.Sensitivity > 100 {
			ps.Add("manager.sensitivity", "%g is outside 0..100 (percent of the weight bound)", out.Sensitivity)
		}
	}
	switch s := out.SystemMetric; {
	case s == "":
		out.SystemMetric = "cpu"
	case s == "cpu" || s == "load1" || s == "memory" || scriptMetric.MatchString(s):
	default:
		ps.Add("manager.system_metric", "%q is not cpu, load1, memory or script:<name>", s)
	}
	switch {
	case out.HostInterval == 0:
		out.HostInterval = DefaultHostInterval
	case out.HostInterval < 100*time.Millisecond || out.HostInterval > time.Hour:
		ps.Add("manager.host_interval", "%v is outside 100ms..1h", m.HostInterval)
	}
	if out.HostTimeout < 0 || (out.HostTimeout > 0 && out.HostTimeout < out.HostInterval) {
		ps.Add("manager.host_timeout", "%v must be 0 (off) or at least host_interval %v", m.HostTimeout, out.HostInterval)
	}
	if out.HostTimeout > 0 && len(c.Recovery.Agents) == 0 {
		ps.Add("manager.host_timeout", "needs the servers' agents (recovery.agents) to read host metrics from")
	}
	if out.Proportions.System > 0 && len(c.Recovery.Agents) == 0 {
		ps.Add("manager.proportions.system", "the system class needs the servers' agents (recovery.agents)")
	}
	if out.Proportions.Advisor > 0 && len(m.Advisors) == 0 {
		ps.Add("manager.proportions.advisor", "the advisor class needs at least one advisor")
	}
	names := map[string]int{}
	for i, a := range m.Advisors {
		path := index("manager.advisors", i)
		checkName(ps, field(path, "name"), a.Name, i, names, "manager.advisors")
		as := AdvisorSpec{Advisor: a, Service: findService(ps, field(path, "service"), a.Service, services)}
		as.Command = cloneSlice(a.Command)
		switch a.Type {
		case "http", "https":
			if as.HTTP.Method == "" {
				as.HTTP.Method = "GET"
			} else if !httpMethod.MatchString(as.HTTP.Method) {
				ps.Add(field(path, "http.method"), "%q is not an HTTP method", a.HTTP.Method)
			}
			if as.HTTP.Path == "" {
				as.HTTP.Path = "/"
			} else if !strings.HasPrefix(as.HTTP.Path, "/") {
				ps.Add(field(path, "http.path"), "%q does not start with /", a.HTTP.Path)
			}
			if as.HTTP.ExpectStatus == 0 {
				as.HTTP.ExpectStatus = 200
			} else if as.HTTP.ExpectStatus < 100 || as.HTTP.ExpectStatus > 599 {
				ps.Add(field(path, "http.expect_status"), "%d is not an HTTP status", a.HTTP.ExpectStatus)
			}
		case "tcp":
		case "udp":
			if a.UDP.Send == "" {
				ps.Add(field(path, "udp.send"), "a udp advisor needs a request to send")
			}
		case "custom":
			if len(a.Command) == 0 || a.Command[0] == "" {
				ps.Add(field(path, "command"), "a custom advisor needs a program to run")
			}
		default:
			ps.Add(field(path, "type"), "%q is not http, https, tcp, udp or custom", a.Type)
		}
		if a.Type != "custom" && len(a.Command) > 0 {
			ps.Add(field(path, "command"), "only a custom advisor runs a program")
		}
		if a.Type != "http" && a.Type != "https" && a.HTTP != (AdvisorHTTP{}) {
			ps.Add(field(path, "http"), "only an http or https advisor sends an HTTP request")
		}
		if strings.ContainsAny(a.HTTP.Host, " /") {
			ps.Add(field(path, "http.host"), "%q is not a host name (with an optional port)", a.HTTP.Host)
		}
		if a.Type != "udp" && a.UDP != (AdvisorUDP{}) {
			ps.Add(field(path, "udp"), "only a udp advisor sends a datagram")
		}
		if as.Interval == 0 {
			as.Interval = DefaultAdvisorInterval
		}
		if as.Timeout == 0 {
			as.Timeout = min(DefaultAdvisorTimeout, as.Interval)
		}
		if as.Interval < 10*time.Millisecond || as.Interval > time.Hour {
			ps.Add(field(path, "interval"), "%v is outside 10ms..1h", a.Interval)
		}
		if as.Timeout < time.Millisecond || as.Timeout > as.Interval {
			ps.Add(field(path, "timeout"), "%v is outside 1ms..interval (%v)", as.Timeout, as.Interval)
		}
		if as.Fall == 0 {
			as.Fall = DefaultAdvisorFall
		}
		if as.Rise == 0 {
			as.Rise = DefaultAdvisorRise
		}
		if as.Fall < 1 || as.Fall > 100 || as.Rise < 1 || as.Rise > 100 {
			ps.Add(path, "fall %d and rise %d must be in 1..100", as.Fall, as.Rise)
		}
		if as.Port < 0 || as.Port > 65535 {
			ps.Add(field(path, "port"), "%d is not a port", a.Port)
		}
		out.Advisors = append(out.Advisors, as)
	}
	names = map[string]int{}
	for i, r := range m.Rules {
		path := index("manager.rules", i)
		checkName(ps, field(path, "name"), r.Name, i, names, "manager.rules")
		rs := RuleSpec{Rule: r, Service: findService(ps, field(path, "service"), r.Service, services)}
		rs.Servers, rs.Command = cloneSlice(r.Servers), cloneSlice(r.Command)
		if r.Weight != nil {
			rs.Weight = *r.Weight
		}
		if rs.Weight < 0 || rs.Weight > 100 {
			ps.Add(field(path, "weight"), "%d is outside 0..100", rs.Weight)
		}
		if len(r.Servers) == 0 {
			ps.Add(field(path, "servers"), "a rule needs the servers it holds")
		} else if rs.Service >= 0 {
			seen := map[string]bool{}
			for j, name := range r.Servers {
				switch {
				case !hasServer(services[rs.Service], name):
					ps.Add(index(field(path, "servers"), j), "%q is not a server of %s", name, r.Service)
				case seen[name]:
					ps.Add(index(field(path, "servers"), j), "%q is listed twice", name)
				}
				seen[name] = true
			}
		}
		if (r.Type == "always" || r.Type == "script") && (r.From != "" || r.To != "") {
			ps.Add(path, "from and to are for window and block rules")
		}
		if r.Type != "script" && (len(r.Command) > 0 || r.Interval != 0) {
			ps.Add(path, "command and interval are for script rules")
		}
		switch r.Type {
		case "window":
			if !hhmm.MatchString(r.From) || !hhmm.MatchString(r.To) || r.From == r.To {
				ps.Add(path, "a window rule needs from and to as two different HH:MM (local time), got %q and %q", r.From, r.To)
			}
		case "block":
			from, ferr := time.Parse(time.RFC3339, r.From)
			to, terr := time.Parse(time.RFC3339, r.To)
			if ferr != nil || terr != nil || !from.Before(to) {
				ps.Add(path, "a block rule needs from before to, both RFC 3339 (2026-12-24T18:00:00Z), got %q and %q", r.From, r.To)
			}
		case "always":
		case "script":
			if len(r.Command) == 0 || r.Command[0] == "" {
				ps.Add(field(path, "command"), "a script rule needs a program to run")
			}
			if rs.Interval == 0 {
				rs.Interval = DefaultRuleInterval
			} else if rs.Interval < 100*time.Millisecond || rs.Interval > time.Hour {
				ps.Add(field(path, "interval"), "%v is outside 100ms..1h", r.Interval)
			}
		default:
			ps.Add(field(path, "type"), "%q is not window, block, always or script", r.Type)
		}
		out.Rules = append(out.Rules, rs)
	}
	return out
}

// findService returns the index in services of "VIP:SERVICE", or -1 (and a
// problem).
func findService(ps *problems, path, ref string, services []ServiceSpec) int {
	addr, name, ok := SplitServiceRef(ref)
	if !ok {
		ps.Add(path, "%q is not VIP:SERVICE (e.g. 10.0.0.100:http or 2001:db8::100:http)", ref)
		return -1
	}
	for i, s := range services {
		if s.VIP == addr && s.Name == name {
			return i
		}
	}
	ps.Add(path, "no service %s in clusters", ref)
	return -1
}

func hasServer(s ServiceSpec, name string) bool {
	for _, srv := range s.Servers {
		if srv.Name == name {
			return true
		}
	}
	return false
}

// ServiceRef names a service as the manager's sections do: VIP:SERVICE.
func ServiceRef(s ServiceSpec) string { return s.VIP.String() + ":" + s.Name }

// SplitServiceRef splits VIP:SERVICE at its last colon: a service name has
// none, an IPv6 VIP several (2001:db8::100:http). The VIP may also be
// bracketed ([2001:db8::100]:http). ok is false when ref is not of that
// form.
func SplitServiceRef(ref string) (vip netip.Addr, service string, ok bool) {
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || i == len(ref)-1 {
		return netip.Addr{}, "", false
	}
	host := ref[:i]
	if h, bracketed := strings.CutPrefix(host, "["); bracketed {
		if host, bracketed = strings.CutSuffix(h, "]"); !bracketed {
			return netip.Addr{}, "", false
		}
	}
	vip, err := netip.ParseAddr(host)
	if err != nil || vip.Zone() != "" {
		return netip.Addr{}, "", false
	}
	return vip, ref[i+1:], true
}

// String is a proportion set as active/new/advisor/system.
func (p Proportions) String() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return fmt.Sprintf("%s/%s/%s/%s", f(p.Active), f(p.New), f(p.Advisor), f(p.System))
}

package config

import (
	"net"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"time"
)

// Live is the part of a configuration that can change while vecd runs —
// the gateway's addresses, every cluster, service and server, and the
// encapsulation section — checked,
// typed and with every default applied. It carries no IDs: a running vecd
// numbers services and servers with control/ids, so that an unchanged
// service or server keeps its ID from one configuration to the next.
type Live struct {
	GatewayMAC [6]byte
	GatewayIP  netip.Addr // zero when gateway.ip is not set
	GatewayIP6 netip.Addr // zero when gateway.ip6 is not set
	// Services lists every service in file order, disabled ones included.
	Services []ServiceSpec
	// Manager is the weight loop's configuration.
	Manager ManagerSpec
	// Encap is the encapsulation section, defaults applied.
	Encap EncapSpec
}

// EncapSpec is what the services with forwarding ipip or gue share.
type EncapSpec struct {
	// Source is the outer packets' source: encapsulation.source, else the
	// gateway's address (zero when neither is set; then no service
	// encapsulates).
	Source netip.Addr
	// NextHop is the router the encapsulated packets are sent to; zero
	// when the servers are on the gateway's link.
	NextHop netip.Addr
	MTU     int // path MTU to the servers, default applied
}

// ServiceSpec is one service of a cluster.
type ServiceSpec struct {
	VIP      netip.Addr
	Name     string
	Proto    uint8 // ProtoTCP or ProtoUDP
	Port     uint16
	Disabled bool
	// AnswerPing is the cluster's answer_ping.
	AnswerPing bool
	// Timers and the weight bound, defaults applied.
	StaleTimeout time.Duration
	FinTimeout   time.Duration
	SynTimeout   time.Duration
	ResetTimeout time.Duration
	DrainTimeout time.Duration
	WeightBound  int
	// Scheduler is SchedulerWRR or SchedulerMaglev, the default applied.
	Scheduler string
	// Forwarding is ForwardDSR, ForwardIPIP or ForwardGUE, the default
	// applied; GUEPort is a ForwardGUE service's UDP port, the default
	// applied (zero for the others).
	Forwarding string
	GUEPort    uint16
	Servers    []ServerSpec
}

// ServerSpec is one server of a service.
type ServerSpec struct {
	Name string
	IP   netip.Addr
	MAC  [6]byte // zero: resolved by ARP (IPv6: Neighbor Discovery)
	// Weight is the configured weight; EffectiveWeight is what the
	// fastpath uses (0 while quiesced).
	Weight   int
	Quiesced bool
	// Fixed servers keep Weight whatever the manager computes.
	Fixed bool
}

// EffectiveWeight is the weight the fastpath gets: 0 while quiesced.
func (s ServerSpec) EffectiveWeight() int {
	if s.Quiesced {
		return 0
	}
	return s.Weight
}

// EchoVIPs returns the VIPs that answer ping: those of the clusters with
// answer_ping that have at least one of the services given.
func EchoVIPs(services []ServiceSpec) []netip.Addr {
	var vips []netip.Addr
	for _, s := range services {
		if s.AnswerPing && !slices.Contains(vips, s.VIP) {
			vips = append(vips, s.VIP)
		}
	}
	return vips
}

// ProtoName is "tcp" or "udp".
func ProtoName(proto uint8) string {
	if proto == ProtoUDP {
		return "udp"
	}
	return "tcp"
}

func (c *Config) compileControl(ps *problems, rt *Runtime) {
	ct := c.Control
	cr := ControlRuntime{Enabled: ct.TokensFile != "", TokensFile: ct.TokensFile, Socket: ct.Socket,
		Listen: ct.Listen, TLSCert: ct.TLSCert, TLSKey: ct.TLSKey, WatchFile: ct.WatchFile == nil || *ct.WatchFile}
	if cr.Socket == "" {
		cr.Socket = DefaultControlSocket
	} else if !filepath.IsAbs(cr.Socket) {
		ps.Add("control.socket", "%q is not an absolute path", cr.Socket)
	}
	if ct.Listen != "" {
		checkListen(ps, "control.listen", ct.Listen)
		if ct.TLSCert == "" || ct.TLSKey == "" {
			ps.Add("control.listen", "the API is served on TCP only with TLS: set control.tls_cert and control.tls_key")
		}
	} else if ct.TLSCert != "" || ct.TLSKey != "" {
		ps.Add("control.tls_cert", "TLS is for the TCP listener: set control.listen too")
	}
	if !cr.Enabled && (ct.Socket != "" || ct.Listen != "") {
		ps.Add("control.tokens_file", "the control API needs a tokens file (every request carries a bearer token)")
	}
	rt.Control = cr

	switch {
	case c.Metrics.Disabled:
	case c.Metrics.Listen == "":
		rt.MetricsListen = DefaultMetricsListen
	default:
		if checkListen(ps, "metrics.listen", c.Metrics.Listen) {
			rt.MetricsListen = c.Metrics.Listen
		}
	}
}

// checkListen checks a TCP listen address host:port (an empty host means
// every address).
func checkListen(ps *problems, path, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		ps.Add(path, "%q is not host:port (e.g. 127.0.0.1:9100)", addr)
		return false
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			ps.Add(path, "%q: the host must be an IP address", addr)
			return false
		}
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		ps.Add(path, "%q: %q is not a port", addr, port)
		return false
	}
	return true
}

// RestartOnly lists, as problems, the settings that differ between c and
// running but take effect only at start-up (dpdk, ports, workers,
// control, metrics): a reload or API change with such a difference is
// rejected as a whole.
func (c *Config) RestartOnly(running *Config) error {
	var ps problems
	sections := []struct {
		name     string
		new, old any
	}{
		{"dpdk", c.DPDK, running.DPDK},
		{"ports", c.Ports, running.Ports},
		{"workers", c.Workers, running.Workers},
		{"control", c.Control, running.Control},
		{"metrics", c.Metrics, running.Metrics},
		{"recovery", c.Recovery, running.Recovery},
		{"ha", c.HA, running.HA},
		{"bgp", c.BGP.normalised(), running.BGP.normalised()},
	}
	for _, s := range sections {
		if !reflect.DeepEqual(normalise(s.new), normalise(s.old)) {
			ps.Add(s.name, "cannot change while vecd runs (restart vecd for that); the running value is kept")
		}
	}
	// The port's promiscuous mode and the MAC the VIPs are announced with
	// are set at start-up: a new gateway.mac would cut every flow.
	if c.Gateway.MAC != running.Gateway.MAC {
		ps.Add("gateway.mac", "cannot change while vecd runs (the port receives for the start-up MAC); restart vecd for that; the running value is kept")
	}
	if err := ps.Err(); err != nil {
		return err
	}
	return nil
}

// normalise makes empty and nil slices compare equal.
func normalise(v any) any {
	switch x := v.(type) {
	case []Port:
		if len(x) == 0 {
			return []Port(nil)
		}
	case DPDK:
		if len(x.EALArgs) == 0 {
			x.EALArgs = nil
		}
		if len(x.VDevs) == 0 {
			x.VDevs = nil
		}
		return x
	case Workers:
		if len(x.Cores) == 0 {
			x.Cores = nil
		}
		return x
	case Recovery:
		if len(x.Agents) == 0 {
			x.Agents = nil
		}
		return x
	case HA:
		if len(x.Gateways) == 0 {
			x.Gateways = nil
		}
		return x
	}
	return v
}

// Clone returns a deep copy of c, for changing a configuration without
// touching the one in use.
func (c *Config) Clone() *Config {
	out := *c
	out.DPDK.EALArgs = cloneSlice(c.DPDK.EALArgs)
	out.DPDK.VDevs = cloneSlice(c.DPDK.VDevs)
	out.Ports = cloneSlice(c.Ports)
	out.Workers.Cores = cloneSlice(c.Workers.Cores)
	out.Control.WatchFile = clonePtr(c.Control.WatchFile)
	out.Recovery.Agents = cloneSlice(c.Recovery.Agents)
	out.HA.Preempt = clonePtr(c.HA.Preempt)
	out.HA.Gateways = cloneSlice(c.HA.Gateways)
	out.BGP = c.BGP.clone()
	out.Manager = c.Manager.Clone()
	out.Clusters = make([]Cluster, len(c.Clusters))
	for i, cl := range c.Clusters {
		out.Clusters[i] = cl.Clone()
	}
	if c.Clusters == nil {
		out.Clusters = nil
	}
	return &out
}

// Clone returns a deep copy of the manager section.
func (m Manager) Clone() Manager {
	out := m
	out.Proportions = clonePtr(m.Proportions)
	out.Sensitivity = clonePtr(m.Sensitivity)
	out.Advisors = nil
	for _, a := range m.Advisors {
		a.Command = cloneSlice(a.Command)
		out.Advisors = append(out.Advisors, a)
	}
	out.Rules = nil
	for _, r := range m.Rules {
		r.Servers, r.Command, r.Weight = cloneSlice(r.Servers), cloneSlice(r.Command), clonePtr(r.Weight)
		out.Rules = append(out.Rules, r)
	}
	return out
}

// Clone returns a deep copy of the cluster.
func (cl Cluster) Clone() Cluster {
	out := cl
	out.Services = cloneEach(cl.Services, Service.Clone)
	return out
}

// Clone returns a deep copy of the service.
func (s Service) Clone() Service {
	out := s
	out.WeightBound = clonePtr(s.WeightBound)
	out.Servers = cloneEach(s.Servers, Server.Clone)
	return out
}

// Clone returns a deep copy of the server.
func (sv Server) Clone() Server {
	out := sv
	out.Weight = clonePtr(sv.Weight)
	return out
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append([]T(nil), s...)
}

// cloneEach returns the deep copies of s's elements, nil for an empty s.
func cloneEach[T any](s []T, clone func(T) T) []T {
	var out []T
	for _, v := range s {
		out = append(out, clone(v))
	}
	return out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

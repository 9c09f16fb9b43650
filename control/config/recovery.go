package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Recovery lists the servers' agents, whose shadow tables a starting or
// taking-over gateway rebuilds its connection table from
// (docs/recovery.md).
type Recovery struct {
	Agents []AgentRef `mapstructure:"agents"`
	// FetchTimeout is the one deadline for every agent's shadow table; an
	// agent that has not answered by then counts as down. Zero selects
	// DefaultFetchTimeout.
	FetchTimeout time.Duration `mapstructure:"fetch_timeout"`
	// InstallChunk is how many rebuilt entries one worker installs
	// between two bursts. Zero selects DefaultInstallChunk.
	InstallChunk int `mapstructure:"install_chunk"`
}

// AgentRef is one server's vec-agent.
type AgentRef struct {
	// Name is the agent's own configured name (requests are addressed to
	// it, replies carry it).
	Name string `mapstructure:"name"`
	// IP is the server address the agent speaks for: its connections are
	// rebuilt onto the servers with this address, and on no other.
	IP string `mapstructure:"ip"`
	// IP6 is the server's IPv6 address when IP is its IPv4 one and the
	// server is in IPv4 and IPv6 clusters (dual-stack): its IPv6
	// connections are rebuilt onto the servers with this address.
	IP6 string `mapstructure:"ip6"`
	// URL is where the agent listens; empty selects http://IP:10004.
	URL string `mapstructure:"url"`
	// KeyFile holds this agent's own key in hex (each agent has its own,
	// so one compromised server cannot forge another's replies).
	KeyFile string `mapstructure:"key_file"`
}

// HA configures the gateways that share this file: heartbeats, roles and
// takeover (docs/recovery.md).
type HA struct {
	// Node is this gateway's name among Gateways; vecd -node overrides it,
	// so that every gateway can run the same file.
	Node string `mapstructure:"node"`
	// KeyFile holds the heartbeat HMAC key shared by the gateways (hex,
	// at least 32 bytes).
	KeyFile string `mapstructure:"key_file"`
	// Interval is the heartbeat interval; Skew is added to three missed
	// intervals to make the master-down interval (VRRP). Zero selects the
	// defaults.
	Interval time.Duration `mapstructure:"interval"`
	Skew     time.Duration `mapstructure:"skew"`
	// Preempt lets a higher-priority backup take the active role back
	// (absent: true); PreemptDelay is how long a (re)started gateway
	// stays a ready backup first.
	Preempt      *bool         `mapstructure:"preempt"`
	PreemptDelay time.Duration `mapstructure:"preempt_delay"`
	// Lease is how long the agents' witness grant lasts; zero selects
	// three intervals.
	Lease    time.Duration `mapstructure:"lease"`
	Gateways []HAGateway   `mapstructure:"gateways"`
}

// HAGateway is one gateway sharing the file.
type HAGateway struct {
	Name string `mapstructure:"name"`
	// Address is host:port of the gateway's heartbeat socket, on its
	// management interface (the data port belongs to DPDK).
	Address  string `mapstructure:"address"`
	Priority int    `mapstructure:"priority"`
	// IP, when set, is this gateway's gateway.ip (its own data-plane
	// address, which it answers ARP for and resolves servers from).
	IP string `mapstructure:"ip"`
	// IP6, when set, is this gateway's gateway.ip6 (its own IPv6
	// data-plane address).
	IP6 string `mapstructure:"ip6"`
}

// Defaults of the recovery and ha sections.
const (
	DefaultAgentPort     = 10004
	DefaultFetchTimeout  = time.Second
	DefaultInstallChunk  = 4096
	DefaultHAInterval    = 100 * time.Millisecond
	DefaultHASkew        = 50 * time.Millisecond
	DefaultPreemptDelay  = 2 * time.Second
	MaxInstallChunk      = 65536
	minHAInterval        = 10 * time.Millisecond
	maxHAInterval        = 10 * time.Second
	maxRecoveryAgents    = 4096
	maxHAGateways        = 16
	maxHAPriority        = 255
	maxRecoveryFetchWait = time.Minute
)

// RecoveryRuntime is the recovery section, checked and with defaults.
type RecoveryRuntime struct {
	Agents       []AgentRuntime
	FetchTimeout time.Duration
	InstallChunk int
}

// AgentRuntime is one agent, checked.
type AgentRuntime struct {
	Name    string
	IP      netip.Addr
	IP6     netip.Addr // the invalid Addr when the agent speaks for one address
	URL     string
	KeyFile string
}

// HARuntime is the ha section, checked and with defaults; nil in Runtime
// when the file has no ha section.
type HARuntime struct {
	Node         string // empty until vecd -node or ha.node names it
	KeyFile      string
	Interval     time.Duration
	Skew         time.Duration
	Preempt      bool
	PreemptDelay time.Duration
	Lease        time.Duration
	Gateways     []HAGatewayRuntime
}

// HAGatewayRuntime is one gateway of the ha section, checked.
type HAGatewayRuntime struct {
	Name     string
	Address  netip.AddrPort
	Priority int
	IP       netip.Addr // zero: gateway.ip
	IP6      netip.Addr // zero: gateway.ip6
}

// Self returns the entry of the node, or false.
func (h *HARuntime) Self() (HAGatewayRuntime, bool) {
	for _, g := range h.Gateways {
		if g.Name == h.Node {
			return g, true
		}
	}
	return HAGatewayRuntime{}, false
}

func (c *Config) compileRecovery(ps *problems, rt *Runtime) {
	r := c.Recovery
	out := RecoveryRuntime{FetchTimeout: r.FetchTimeout, InstallChunk: r.InstallChunk}
	if out.FetchTimeout == 0 {
		out.FetchTimeout = DefaultFetchTimeout
	} else if out.FetchTimeout < 0 || out.FetchTimeout > maxRecoveryFetchWait {
		ps.Add("recovery.fetch_timeout", "%v is outside (0, %v]", r.FetchTimeout, maxRecoveryFetchWait)
	}
	if out.InstallChunk == 0 {
		out.InstallChunk = DefaultInstallChunk
	} else if out.InstallChunk < 1 || out.InstallChunk > MaxInstallChunk {
		ps.Add("recovery.install_chunk", "%d is outside 1..%d", r.InstallChunk, MaxInstallChunk)
	}
	if len(r.Agents) > maxRecoveryAgents {
		ps.Add("recovery.agents", "%d agents, at most %d", len(r.Agents), maxRecoveryAgents)
	}
	names, ips := map[string]int{}, map[netip.Addr]int{}
	for i, a := range r.Agents {
		path := index("recovery.agents", i)
		checkName(ps, field(path, "name"), a.Name, i, names, "recovery.agents")
		ar := AgentRuntime{Name: a.Name, URL: a.URL, KeyFile: a.KeyFile}
		ip, ok := parseIP(ps, field(path, "ip"), a.IP)
		if ok {
			if j, dup := ips[ip]; dup {
				ps.Add(field(path, "ip"), "%s already has an agent: recovery.agents[%d]", ip, j)
			}
			ips[ip] = i
			ar.IP = ip
		}
		if a.IP6 != "" {
			ip6, ok6 := parseIPv6(ps, field(path, "ip6"), a.IP6)
			switch {
			case ok6 && ok && ip.Is6():
				ps.Add(field(path, "ip6"), "ip %s is IPv6 already: ip6 is for the IPv6 address of a server whose ip is IPv4", ip)
			case ok6:
				if j, dup := ips[ip6]; dup {
					ps.Add(field(path, "ip6"), "%s already has an agent: recovery.agents[%d]", ip6, j)
				}
				ips[ip6] = i
				ar.IP6 = ip6
			}
		}
		if ar.URL == "" && ok {
			ar.URL = "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(DefaultAgentPort))
		} else if ar.URL != "" {
			if u, err := url.Parse(ar.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				ps.Add(field(path, "url"), "%q is not http(s)://host:port", a.URL)
			}
		}
		if a.KeyFile == "" {
			ps.Add(field(path, "key_file"), "every agent needs its own key file")
		}
		out.Agents = append(out.Agents, ar)
	}
	rt.Recovery = out
}

func (c *Config) compileHA(ps *problems, rt *Runtime) {
	h := c.HA
	if h.KeyFile == "" && len(h.Gateways) == 0 && h.Node == "" {
		return // no ha section: a single gateway
	}
	out := &HARuntime{Node: h.Node, KeyFile: h.KeyFile, Interval: h.Interval, Skew: h.Skew,
		Preempt: h.Preempt == nil || *h.Preempt, PreemptDelay: h.PreemptDelay, Lease: h.Lease}
	if h.KeyFile == "" {
		ps.Add("ha.key_file", "heartbeats are authenticated: a key file is required")
	}
	if out.Interval == 0 {
		out.Interval = DefaultHAInterval
	} else if out.Interval < minHAInterval || out.Interval > maxHAInterval {
		ps.Add("ha.interval", "%v is outside %v..%v", h.Interval, minHAInterval, maxHAInterval)
	}
	if out.Skew == 0 {
		out.Skew = DefaultHASkew
	} else if out.Skew < 0 {
		ps.Add("ha.skew", "%v is negative", h.Skew)
	}
	if out.PreemptDelay == 0 {
		out.PreemptDelay = DefaultPreemptDelay
	} else if out.PreemptDelay < 0 {
		ps.Add("ha.preempt_delay", "%v is negative", h.PreemptDelay)
	}
	masterDown := 3*out.Interval + out.Skew
	if out.Lease == 0 {
		out.Lease = 3 * out.Interval
	} else if out.Lease <= out.Interval || out.Lease > masterDown {
		// Renewed every interval, a lease no longer than one would lapse
		// before its renewal; longer than master-down, a backup would find
		// a dead active's lease still live and wait for it.
		ps.Add("ha.lease", "%v is outside (ha.interval, master-down = 3 × interval + skew = %v]", h.Lease, masterDown)
	}
	if len(h.Gateways) < 2 || len(h.Gateways) > maxHAGateways {
		ps.Add("ha.gateways", "%d gateways listed, want 2..%d", len(h.Gateways), maxHAGateways)
	}
	names, addrs := map[string]int{}, map[netip.AddrPort]int{}
	for i, g := range h.Gateways {
		path := index("ha.gateways", i)
		checkName(ps, field(path, "name"), g.Name, i, names, "ha.gateways")
		gr := HAGatewayRuntime{Name: g.Name, Priority: g.Priority}
		ap, err := netip.ParseAddrPort(g.Address)
		switch {
		case err != nil || ap.Addr().Is4In6() || ap.Port() == 0:
			ps.Add(field(path, "address"), "%q is not host:port with an IPv4 or IPv6 host (the heartbeat socket on the management interface)", g.Address)
		case len(out.Gateways) > 0 && out.Gateways[0].Address.IsValid() && ap.Addr().Is6() != out.Gateways[0].Address.Addr().Is6():
			// Each gateway's one socket sends to all the others.
			ps.Add(field(path, "address"), "%s is %s, ha.gateways[0]'s address is %s: the gateways' heartbeat sockets must be of one family", ap.Addr(), family(ap.Addr()), family(out.Gateways[0].Address.Addr()))
		default:
			if j, dup := addrs[ap]; dup {
				ps.Add(field(path, "address"), "%s is already ha.gateways[%d]'s", ap, j)
			}
			addrs[ap] = i
			gr.Address = ap
		}
		if g.Priority < 1 || g.Priority > maxHAPriority {
			ps.Add(field(path, "priority"), "%d is outside 1..%d", g.Priority, maxHAPriority)
		}
		if g.IP != "" {
			gr.IP, _ = parseIPv4(ps, field(path, "ip"), g.IP)
		}
		if g.IP6 != "" {
			gr.IP6, _ = parseIPv6(ps, field(path, "ip6"), g.IP6)
		}
		out.Gateways = append(out.Gateways, gr)
	}
	if h.Node != "" && !slices.ContainsFunc(out.Gateways, func(g HAGatewayRuntime) bool { return g.Name == h.Node }) {
		ps.Add("ha.node", "%q is not one of ha.gateways", h.Node)
	}
	rt.HA = out
}

// ForNode makes a configuration shared by several gateways this one's:
// ha.node is set to node (vecd -node), which must be listed in
// ha.gateways. Its gateway.ip and gateway.ip6 then come from that entry
// when it has them.
func (c *Config) ForNode(node string) error {
	if node == "" {
		return nil
	}
	for _, g := range c.HA.Gateways {
		if g.Name == node {
			c.HA.Node = node
			return nil
		}
	}
	return fmt.Errorf("-node %q: not one of ha.gateways in the configuration", node)
}

// nodeGatewayIP returns the gateway.ip that ha.gateways gives this node,
// or "".
func (c *Config) nodeGatewayIP() string {
	return c.nodeGateway().IP
}

// nodeGatewayIP6 returns the gateway.ip6 that ha.gateways gives this
// node, or "".
func (c *Config) nodeGatewayIP6() string {
	return c.nodeGateway().IP6
}

// nodeGateway returns this node's entry of ha.gateways, or the zero
// HAGateway.
func (c *Config) nodeGateway() HAGateway {
	for _, g := range c.HA.Gateways {
		if g.Name == c.HA.Node && c.HA.Node != "" {
			return g
		}
	}
	return HAGateway{}
}

// NodeName returns the node's name, or "" without an ha section.
func (h *HARuntime) NodeName() string {
	if h == nil {
		return ""
	}
	return h.Node
}

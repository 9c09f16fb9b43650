package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Status is the topology as `scripts/netns.sh status` reports it.
type Status struct {
	// State is "up", "partial" or "down"; only "up" fills the rest.
	State    string
	Subnet   netip.Prefix
	BridgeNS string
	Bridge   string
	// MTU is every link's (netns.sh up --mtu), vecd's ports' included.
	MTU int
	// VIPs are held by every server on lo; the first is the default one.
	VIPs []netip.Addr
	// IPv6 is a dual-stack cluster (netns.sh up --ipv6): only then are
	// Subnet6, VIPs6 and the Addr6 fields below set. VIPs6 are held by
	// every server on lo like VIPs, the first the default one.
	IPv6     bool
	Subnet6  netip.Prefix
	VIPs6    []netip.Addr
	Gateways []Gateway
	Client   Client
	Servers  []Server
	// Raw holds every KEY=VALUE line as printed.
	Raw map[string]string
}

// Gateway is one gateway namespace. Iface is the interface vecd drives (no
// kernel address, no kernel ARP), with the DPDK device VDev (the --vdev
// argument for the driver netns.sh --port-driver chose: net_af_xdp by
// default, or net_af_packet); Addr is the address vecd answers ARP for,
// configured in no kernel. The management interface is an ordinary kernel
// interface for the control plane (advisors, agents, HA). Addr6 and
// MgmtAddr6 are their IPv6 counterparts (Addr6 answered by vecd's neighbour
// discovery), set in a dual-stack cluster only. MTU is the port's (the
// cluster's).
type Gateway struct {
	Index     int
	NS        string
	Iface     string
	VDev      string
	MTU       int
	MAC       net.HardwareAddr
	Addr      netip.Addr
	MgmtIface string
	MgmtMAC   net.HardwareAddr
	MgmtAddr  netip.Addr
	Addr6     netip.Addr
	MgmtAddr6 netip.Addr
}

// Client is the client namespace and its source addresses (Addrs6: the
// IPv6 ones, in a dual-stack cluster only).
type Client struct {
	NS     string
	Iface  string
	MAC    net.HardwareAddr
	Addrs  []netip.Addr
	Addrs6 []netip.Addr
}

// Server is one server namespace. Name ("s1", …) is what its vec-backend
// reports when started by StartBackends. Addr6 is its IPv6 address, in a
// dual-stack cluster only.
type Server struct {
	Index int
	Name  string
	NS    string
	Iface string
	MAC   net.HardwareAddr
	Addr  netip.Addr
	Addr6 netip.Addr
}

// ParseStatus reads the KEY=VALUE output of `netns.sh status`.
func ParseStatus(text string) (Status, error) {
	st := Status{Raw: map[string]string{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return st, fmt.Errorf("status line %q is not KEY=VALUE", line)
		}
		st.Raw[k] = v
	}
	p := statusParser{raw: st.Raw}
	st.State = p.str("STATE")
	if st.State != "up" {
		// down or partial: nothing but the state to report.
		return st, p.err
	}
	st.Subnet = p.prefix("SUBNET")
	st.BridgeNS, st.Bridge, st.MTU = p.str("BRIDGE_NS"), p.str("BRIDGE"), p.int("MTU")
	st.VIPs = p.addrs("VIPS")
	// IPV6 is absent from the output of a netns.sh older than --ipv6.
	switch v := st.Raw["IPV6"]; v {
	case "", "0":
	case "1":
		st.IPv6 = true
		st.Subnet6 = p.prefix("SUBNET6")
		st.VIPs6 = p.addrs("VIPS6")
	default:
		p.fail("IPV6", v, "0 or 1")
	}
	for k := 1; k <= p.int("GATEWAYS"); k++ {
		pre := fmt.Sprintf("GW%d_", k)
		st.Gateways = append(st.Gateways, Gateway{
			Index: k, NS: p.str(pre + "NS"), Iface: p.str(pre + "IFACE"), VDev: p.str(pre + "VDEV"), MTU: st.MTU, MAC: p.mac(pre + "MAC"),
			Addr: p.addr(pre + "ADDR"), MgmtIface: p.str(pre + "MGMT_IFACE"),
			MgmtMAC: p.mac(pre + "MGMT_MAC"), MgmtAddr: p.addr(pre + "MGMT_ADDR"),
		})
		if st.IPv6 {
			g := &st.Gateways[k-1]
			g.Addr6, g.MgmtAddr6 = p.addr(pre+"ADDR6"), p.addr(pre+"MGMT_ADDR6")
		}
	}
	st.Client = Client{NS: p.str("CLIENT_NS"), Iface: p.str("CLIENT_IFACE"), MAC: p.mac("CLIENT_MAC"), Addrs: p.addrs("CLIENT_ADDRS")}
	if st.IPv6 {
		st.Client.Addrs6 = p.addrs("CLIENT_ADDRS6")
	}
	for i := 1; i <= p.int("SERVERS"); i++ {
		pre := fmt.Sprintf("S%d_", i)
		st.Servers = append(st.Servers, Server{
			Index: i, Name: fmt.Sprintf("s%d", i), NS: p.str(pre + "NS"), Iface: p.str(pre + "IFACE"),
			MAC: p.mac(pre + "MAC"), Addr: p.addr(pre + "ADDR"),
		})
		if st.IPv6 {
			st.Servers[i-1].Addr6 = p.addr(pre + "ADDR6")
		}
	}
	if p.err != nil {
		return st, p.err
	}
	if len(st.VIPs) == 0 || len(st.Gateways) == 0 || len(st.Servers) == 0 || len(st.Client.Addrs) == 0 {
		return st, fmt.Errorf("status %s lacks VIPs, gateways, servers or client addresses", st.State)
	}
	if st.IPv6 && (len(st.VIPs6) == 0 || len(st.Client.Addrs6) == 0) {
		return st, fmt.Errorf("status %s with IPV6=1 lacks IPv6 VIPs or client addresses", st.State)
	}
	return st, nil
}

// statusParser keeps the first error so ParseStatus reads straight through.
type statusParser struct {
	raw map[string]string
	err error
}

func (p *statusParser) fail(key, v, what string) {
	if p.err == nil {
		p.err = fmt.Errorf("status %s=%q: not %s", key, v, what)
	}
}

func (p *statusParser) str(key string) string {
	v, ok := p.raw[key]
	if !ok && p.err == nil {
		p.err = fmt.Errorf("status lacks %s", key)
	}
	return v
}

// parsed is the value of key as parse reads it; what names the kind of
// value in the error when parse fails.
func parsed[T any](p *statusParser, key, what string, parse func(string) (T, error)) T {
	v := p.str(key)
	x, err := parse(v)
	if err != nil {
		p.fail(key, v, what)
	}
	return x
}

func (p *statusParser) int(key string) int { return parsed(p, key, "a number", strconv.Atoi) }

func (p *statusParser) mac(key string) net.HardwareAddr {
	return parsed(p, key, "a MAC address", net.ParseMAC)
}

func (p *statusParser) addr(key string) netip.Addr {
	return parsed(p, key, "an address", netip.ParseAddr)
}

func (p *statusParser) prefix(key string) netip.Prefix {
	return parsed(p, key, "a prefix", netip.ParsePrefix)
}

func (p *statusParser) addrs(key string) []netip.Addr {
	v := p.str(key)
	var out []netip.Addr
	for _, f := range strings.Split(v, ",") {
		if f == "" {
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			p.fail(key, v, "a list of addresses")
		}
		out = append(out, a)
	}
	return out
}

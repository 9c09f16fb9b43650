package config

import (
	"net/netip"

	"vec/internal/limits"
)

// encapsulates reports whether a service, disabled or not, has forwarding
// ipip or gue (an unknown value is reported on the service).
func (c *Config) encapsulates() bool {
	for _, cl := range c.Clusters {
		for _, s := range cl.Services {
			if s.Forwarding == ForwardIPIP || s.Forwarding == ForwardGUE {
				return true
			}
		}
	}
	return false
}

// compileEncapsulation checks the encapsulation section and returns it
// with its defaults applied: the source is gatewayIP unless set, the MTU
// DefaultEncapMTU unless set. The MTU must let a 576-byte packet through
// (MinEncapMTU) and must not exceed the largest port MTU: the outer
// packets leave through the gateway's ports. The default is held to that
// bound only when a service encapsulates, so that a gateway with small
// ports and no encapsulating service needs no encapsulation section.
func (c *Config) compileEncapsulation(ps *problems, gatewayIP netip.Addr, ports []PortRuntime) EncapSpec {
	e := c.Encapsulation
	out := EncapSpec{Source: gatewayIP, MTU: limits.DefaultEncapMTU}
	if e.Source != "" {
		out.Source, _ = parseIPv4(ps, "encapsulation.source", e.Source)
	}
	if e.NextHop != "" {
		if hop, ok := parseIPv4(ps, "encapsulation.next_hop", e.NextHop); ok {
			switch {
			case c.isVIP(hop):
				ps.Add("encapsulation.next_hop", "%s is a VIP; the next hop is a router on the gateway's link", hop)
			case hop == gatewayIP:
				ps.Add("encapsulation.next_hop", "%s is the gateway's own address; the next hop is a router on the gateway's link", hop)
			case hop == out.Source:
				ps.Add("encapsulation.next_hop", "%s is encapsulation.source; the next hop is a router on the gateway's link", hop)
			default:
				out.NextHop = hop
			}
		}
		// A gateway address that does not parse is reported on its own.
		if !gatewayIP.IsValid() && c.Gateway.IP == "" && c.nodeGatewayIP() == "" {
			ps.Add("encapsulation.next_hop", "the next hop is resolved by ARP, which needs gateway.ip")
		}
	}

	// Port MTUs out of range are reported on their own; with none in
	// range there is no bound to hold the MTU to.
	largest := 0
	for _, p := range ports {
		if p.MTU >= limits.MinMTU && p.MTU <= limits.MaxMTU {
			largest = max(largest, p.MTU)
		}
	}
	switch {
	case e.MTU < 0 || e.MTU > 0 && e.MTU < MinEncapMTU:
		ps.Add("encapsulation.mtu", "%d is below %d: a 576-byte packet must fit once encapsulated (0 or absent selects %d)", e.MTU, MinEncapMTU, limits.DefaultEncapMTU)
	case e.MTU > largest && largest > 0:
		ps.Add("encapsulation.mtu", "%d is above the largest port MTU %d: the outer packets could not leave the gateway", e.MTU, largest)
	case e.MTU > 0:
		out.MTU = e.MTU
	case limits.DefaultEncapMTU > largest && largest > 0 && c.encapsulates():
		ps.Add("encapsulation.mtu", "absent, it is %d, above the largest port MTU %d: set it to the path MTU to the servers, at most %d", limits.DefaultEncapMTU, largest, largest)
	}
	return out
}

// isVIP reports whether ip is the VIP of a cluster.
func (c *Config) isVIP(ip netip.Addr) bool {
	for _, cl := range c.Clusters {
		if vip, err := netip.ParseAddr(cl.VIP); err == nil && vip == ip {
			return true
		}
	}
	return false
}

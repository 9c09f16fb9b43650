package config

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BGP makes vecd announce its VIPs to routers over BGP (the bgp section
// of docs/configuration.md): several active gateways behind routers that
// spread the VIPs' traffic over them by ECMP. vecd only
// connects out to the peers listed; it does not listen on port 179.
type BGP struct {
	// LocalAS is this gateway's autonomous system number.
	LocalAS int `mapstructure:"local_as"`
	// RouterID is the BGP identifier; empty selects gateway.ip.
	RouterID string `mapstructure:"router_id"`
	// NextHop is the next hop announced for every VIP: the data-plane
	// address the gateway answers ARP for. Empty selects gateway.ip.
	NextHop string `mapstructure:"next_hop"`
	// LocalAddress is the source address of the BGP sessions (on the
	// management interface); empty lets the kernel choose.
	LocalAddress string `mapstructure:"local_address"`
	// HoldTime is the hold time vecd proposes (keepalives every third of
	// it); zero selects DefaultBGPHoldTime. Short, so a router drops a dead
	// gateway's routes fast.
	HoldTime time.Duration `mapstructure:"hold_time"`
	// ConnectRetry is the wait between two connection attempts to a peer;
	// zero selects DefaultBGPConnectRetry.
	ConnectRetry time.Duration `mapstructure:"connect_retry"`
	// Communities ("asn:value") are attached to every announcement.
	Communities []string  `mapstructure:"communities"`
	Peers       []BGPPeer `mapstructure:"peers"`
}

// BGPPeer is one router vecd opens a session to.
type BGPPeer struct {
	Address string `mapstructure:"address"`
	AS      int    `mapstructure:"as"`
	// Port is the peer's BGP port; zero selects 179.
	Port int `mapstructure:"port"`
	// Password, when set, signs the session's segments (TCP MD5, RFC 2385).
	Password string `mapstructure:"password"`
}

// Defaults and bounds of the bgp section.
const (
	DefaultBGPHoldTime     = 3 * time.Second
	DefaultBGPConnectRetry = time.Second
	DefaultBGPPort         = 179
	// minBGPHoldTime is RFC 4271's smallest non-zero hold time.
	minBGPHoldTime     = 3 * time.Second
	maxBGPHoldTime     = 65535 * time.Second
	maxBGPConnectRetry = time.Hour
	maxBGPPeers        = 64
	maxBGPCommunities  = 32
	// maxBGPPassword is the longest TCP MD5 key Linux accepts.
	maxBGPPassword = 80
	maxASN         = 1<<32 - 1
)

// BGPRuntime is the bgp section, checked and with defaults; nil in
// Runtime when the file has no bgp section.
type BGPRuntime struct {
	LocalAS  uint32
	RouterID netip.Addr
	NextHop  netip.Addr
	// LocalAddress is zero when the kernel chooses.
	LocalAddress netip.Addr
	HoldTime     time.Duration // whole seconds
	ConnectRetry time.Duration // whole seconds
	// Communities are the communities to attach, each ASN<<16 | value.
	Communities []uint32
	Peers       []BGPPeerRuntime
}

// BGPPeerRuntime is one peer of the bgp section, checked.
type BGPPeerRuntime struct {
	Address  netip.Addr
	AS       uint32
	Port     uint16
	Password string
}

// FormatCommunity writes a community as "asn:value".
func FormatCommunity(c uint32) string {
	return strconv.FormatUint(uint64(c>>16), 10) + ":" + strconv.FormatUint(uint64(c&0xffff), 10)
}

// compileBGP checks the bgp section and converts it; gatewayIP (zero when
// unset) is the default router ID and next hop.
func (c *Config) compileBGP(ps *problems, rt *Runtime, gatewayIP netip.Addr) {
	b := c.BGP
	if reflect.ValueOf(b).IsZero() {
		return // no bgp section
	}
	out := &BGPRuntime{HoldTime: b.HoldTime, ConnectRetry: b.ConnectRetry}
	out.LocalAS, _ = checkASN(ps, "bgp.local_as", b.LocalAS)
	switch {
	case b.RouterID != "":
		out.RouterID, _ = parseBGPAddr(ps, "bgp.router_id", b.RouterID)
	case gatewayIP.IsValid():
		out.RouterID = gatewayIP
	default:
		ps.Add("bgp.router_id", "required when gateway.ip is not set")
	}
	switch {
	case b.NextHop != "":
		out.NextHop, _ = parseIPv4(ps, "bgp.next_hop", b.NextHop)
	case gatewayIP.IsValid():
		out.NextHop = gatewayIP
	default:
		ps.Add("bgp.next_hop", "required when gateway.ip is not set (the data-plane address the VIPs are routed to)")
	}
	if b.LocalAddress != "" {
		out.LocalAddress, _ = parseBGPAddr(ps, "bgp.local_address", b.LocalAddress)
	}
	switch {
	case out.HoldTime == 0:
		out.HoldTime = DefaultBGPHoldTime
	case out.HoldTime < minBGPHoldTime || out.HoldTime > maxBGPHoldTime:
		ps.Add("bgp.hold_time", "%v is outside %v..%v (RFC 4271: 0 or at least 3 s; 0 selects %v)",
			b.HoldTime, minBGPHoldTime, maxBGPHoldTime, DefaultBGPHoldTime)
	case out.HoldTime%time.Second != 0:
		ps.Add("bgp.hold_time", "%v is not a whole number of seconds (BGP counts in seconds)", b.HoldTime)
	}
	switch {
	case out.ConnectRetry == 0:
		out.ConnectRetry = DefaultBGPConnectRetry
	case out.ConnectRetry < time.Second || out.ConnectRetry > maxBGPConnectRetry:
		ps.Add("bgp.connect_retry", "%v is outside 1s..%v", b.ConnectRetry, maxBGPConnectRetry)
	case out.ConnectRetry%time.Second != 0:
		ps.Add("bgp.connect_retry", "%v is not a whole number of seconds", b.ConnectRetry)
	}
	if len(b.Communities) > maxBGPCommunities {
		ps.Add("bgp.communities", "%d communities, at most %d", len(b.Communities), maxBGPCommunities)
	}
	for i, s := range b.Communities {
		path := index("bgp.communities", i)
		comm, err := parseCommunity(s)
		if err != nil {
			ps.Add(path, "%v", err)
			continue
		}
		if slices.Contains(out.Communities, comm) {
			ps.Add(path, "%s is listed twice", s)
			continue
		}
		out.Communities = append(out.Communities, comm)
	}
	if len(b.Peers) == 0 || len(b.Peers) > maxBGPPeers {
		ps.Add("bgp.peers", "%d peers listed, want 1..%d", len(b.Peers), maxBGPPeers)
	}
	seen := map[netip.Addr]int{}
	for i, p := range b.Peers {
		path := index("bgp.peers", i)
		pr := BGPPeerRuntime{Password: p.Password}
		if a, ok := parseBGPAddr(ps, field(path, "address"), p.Address); ok {
			if j, dup := seen[a]; dup {
				ps.Add(field(path, "address"), "%s is already bgp.peers[%d]", a, j)
			} else if a == out.LocalAddress {
				ps.Add(field(path, "address"), "%s is bgp.local_address itself", a)
			}
			seen[a] = i
			pr.Address = a
		}
		pr.AS, _ = checkASN(ps, field(path, "as"), p.AS)
		switch {
		case p.Port == 0:
			pr.Port = DefaultBGPPort
		case p.Port < 1 || p.Port > 65535:
			ps.Add(field(path, "port"), "%d is outside 1..65535", p.Port)
		default:
			pr.Port = uint16(p.Port)
		}
		if len(p.Password) > maxBGPPassword {
			ps.Add(field(path, "password"), "%d characters, at most %d (TCP MD5 key)", len(p.Password), maxBGPPassword)
		}
		out.Peers = append(out.Peers, pr)
	}
	rt.BGP = out
}

func checkASN(ps *problems, path string, n int) (uint32, bool) {
	if n < 1 || n > maxASN {
		ps.Add(path, "%d is not an AS number (1..%d)", n, maxASN)
		return 0, false
	}
	return uint32(n), true
}

// parseBGPAddr parses a session address or router ID: any IPv4 host
// address, loopback included (a routing daemon on the same machine).
func parseBGPAddr(ps *problems, path, s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	switch {
	case s == "":
		ps.Add(path, "address is required")
	case err != nil || !a.Is4():
		ps.Add(path, "%q is not an IPv4 address", s)
	case a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		ps.Add(path, "%s is not a usable host address", s)
	default:
		return a, true
	}
	return netip.Addr{}, false
}

// parseCommunity parses "asn:value", each 0..65535 (RFC 1997).
func parseCommunity(s string) (uint32, error) {
	hi, lo, ok := strings.Cut(s, ":")
	a, errA := strconv.ParseUint(hi, 10, 16)
	v, errV := strconv.ParseUint(lo, 10, 16)
	if !ok || errA != nil || errV != nil {
		return 0, fmt.Errorf("%q is not a community asn:value (each 0..65535)", s)
	}
	return uint32(a)<<16 | uint32(v), nil
}

// clone returns a deep copy of the section.
func (b BGP) clone() BGP {
	out := b
	out.Communities = cloneSlice(b.Communities)
	out.Peers = cloneSlice(b.Peers)
	return out
}

// normalised makes empty and nil lists compare equal (RestartOnly).
func (b BGP) normalised() BGP {
	if len(b.Communities) == 0 {
		b.Communities = nil
	}
	if len(b.Peers) == 0 {
		b.Peers = nil
	}
	return b
}

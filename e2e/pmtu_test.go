package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A client behind a router whose link to it has a smaller MTU than the
// cluster's segment. The test adds both namespaces to a running cluster:
//
//	vecrc (192.168.77.2, vecrc0 MTU 1500)
//	  └ vecr1 (192.168.77.1, MTU pmtuRouterMTU) router vecr, ip_forward=1
//	    vecr0 (10.99.0.50) ── bridge port vecpr on vecbr0, with vecd and the servers
//
// The client's SYN advertises an MSS of 1460 (its own link's MTU), so a
// server sends full 1500-byte segments, with DF, that the router cannot
// forward: it answers each with ICMP "fragmentation needed" to their
// source, the VIP, which vecd answers ARP for.
const (
	pmtuRouterNS = "vecr"
	pmtuRemoteNS = "vecrc"
	// pmtuRouterPort is the router's port on the bridge (in the bridge's
	// namespace), pmtuRouterLAN its end in the router.
	pmtuRouterPort = "vecpr"
	pmtuRouterLAN  = "vecr0"
	// pmtuRouterWAN is the router's end of the link to the remote client,
	// pmtuRemoteIface the client's.
	pmtuRouterWAN   = "vecr1"
	pmtuRemoteIface = "vecrc0"
	// pmtuRouterMTU is the MTU the router can forward to the client with.
	pmtuRouterMTU = 1280
	// pmtuRouterHost is the router's host number on the cluster's subnet:
	// above the client addresses (.21-.40), below the default VIP (.100).
	pmtuRouterHost = 50
)

var (
	pmtuRemoteNet    = netip.MustParsePrefix("192.168.77.0/24")
	pmtuRouterWANIP  = netip.MustParseAddr("192.168.77.1")
	pmtuRemoteClient = netip.MustParseAddr("192.168.77.2")
)

// Download sizes of the test: enough full-sized segments per connection
// that none completes without path-MTU discovery, few enough to finish in a
// second or two when it works.
const (
	pmtuDownloads    = 8
	pmtuDownloadSize = 4_000_000
	// pmtuDownloadTimeout bounds the downloads. Without path-MTU discovery
	// they stall for good (TCP retransmits the same full-sized segment
	// until tcp_retries2, about 15 minutes): the response headers share the
	// first full-sized segment, so each fails after vec-loadgen's
	// -req-timeout (5 s), well within this bound.
	pmtuDownloadTimeout = 20 * time.Second
)

// TestVecdPathMTUDiscoveryThroughRouter downloads large bodies through the
// VIP from a client behind a router with a smaller MTU. Under direct server
// return the router's "fragmentation needed" goes to the VIP, so only vecd
// can hand it to the server that sent the segment; dropped, path-MTU
// discovery black-holes every download. It checks that every download
// completes with the right SHA-256 within the timeout, that the router did
// refuse full-sized segments, that vecd counted ICMP errors forwarded, and
// that every server that served a download has lowered its path MTU to the
// client to the router's MTU.
func TestVecdPathMTUDiscoveryThroughRouter(t *testing.T) {
	c := startLockedCluster(t, Options{Servers: 3, Backends: true})
	routerLANIP := addRemoteClient(t, c)
	// No server knows of a smaller MTU yet: what the test finds later came
	// from this test's downloads.
	for _, s := range c.Servers() {
		if mtu, ok := cachedPathMTU(t, c, s.NS, pmtuRemoteClient); ok {
			t.Fatalf("%s has a path MTU of %d to %s before any traffic", s.NS, mtu, pmtuRemoteClient)
		}
	}
	v := startVecd(t, c, vecdYAML(c, standardServices(c, true)), false)
	vip := c.VIP().String()

	// Control: requests with small replies pass the routed path through
	// vecd and back straight from the servers, so what follows fails on the
	// path MTU alone.
	ctl, err := c.LoadgenIn(pmtuRemoteNS, "-mode", "http", "-target", vip, "-n", "12", "-c", "4", "-timeout", "10s")
	if err != nil {
		t.Fatal(err)
	}
	if !ctl.Passed() || ctl.HTTP.OK != 12 {
		t.Fatalf("small requests from %s through the router to the VIP: %+v %v", pmtuRemoteClient, ctl.HTTP, ctl.Failures)
	}

	unreachBefore := icmpOutDestUnreachs(t, c, pmtuRouterNS)
	rep, err := c.LoadgenIn(pmtuRemoteNS, "-mode", "download", "-target", vip,
		"-parallel", strconv.Itoa(pmtuDownloads), "-size", strconv.Itoa(pmtuDownloadSize), "-seed", "13",
		"-timeout", pmtuDownloadTimeout.String())
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Download
	t.Logf("%d downloads of %d bytes from %s through a router with MTU %d: %d ok, %d failed in %.2f s (%d bytes, per server %v)",
		pmtuDownloads, pmtuDownloadSize, pmtuRemoteClient, pmtuRouterMTU, d.OK, d.Failed, rep.DurationSec, d.Bytes, d.PerServer)
	if !rep.Passed() || d.OK != pmtuDownloads {
		t.Errorf("downloads through the smaller-MTU router did not all complete (bound %v, timed out: %v): %v; errors %v",
			pmtuDownloadTimeout, rep.TimedOut, rep.Failures, d.Errors)
	}
	unreach := icmpOutDestUnreachs(t, c, pmtuRouterNS) - unreachBefore
	t.Logf("the router %s (%s) sent %d ICMP destination-unreachable messages", pmtuRouterNS, routerLANIP, unreach)
	if unreach == 0 {
		t.Errorf("the router sent no ICMP destination unreachable: the downloads never met the smaller MTU, so the test proves nothing")
	}

	lowered := 0
	for _, s := range c.Servers() {
		mtu, ok := cachedPathMTU(t, c, s.NS, pmtuRemoteClient)
		t.Logf("%s (%d downloads): path MTU to %s %s", s.NS, d.PerServer[s.Name], pmtuRemoteClient, pmtuText(mtu, ok))
		if ok && mtu == pmtuRouterMTU {
			lowered++
		} else if d.PerServer[s.Name] > 0 {
			t.Errorf("%s served %d downloads but its path MTU to %s is %s, want %d",
				s.NS, d.PerServer[s.Name], pmtuRemoteClient, pmtuText(mtu, ok), pmtuRouterMTU)
		}
	}
	// Failed downloads name no server, so this holds on its own: some
	// server must have heard the router.
	if lowered == 0 {
		t.Errorf("no server lowered its path MTU to %s to %d: the router's \"fragmentation needed\" reached none", pmtuRemoteClient, pmtuRouterMTU)
	}

	st := v.stop()
	var forwarded uint64
	for _, core := range st.Cores {
		forwarded += core.ICMPErrors
	}
	t.Logf("vecd forwarded %d ICMP errors to servers; drops icmp_no_flow %d, not_for_cluster %d",
		forwarded, st.drops("icmp_no_flow"), st.drops("not_for_cluster"))
	if forwarded == 0 {
		t.Errorf("vecd forwarded no ICMP errors while the router sent %d: %s", unreach, st.brief())
	}
}

// addRemoteClient adds the router and the remote client (see the diagram
// above) to the running cluster c, routes the remote network from every
// server through the router, and returns the router's address on the
// cluster's segment. The namespaces are removed at cleanup (before the
// cluster's own `netns.sh down`, which would remove them too).
func addRemoteClient(t *testing.T, c *Cluster) netip.Addr {
	t.Helper()
	st := c.Status()
	routerLANIP, err := hostAddr(st.Subnet, pmtuRouterHost)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range c.VIPs() {
		if v == routerLANIP {
			t.Fatalf("the router's address %s is a VIP of the cluster", routerLANIP)
		}
	}
	namespaces := []string{pmtuRemoteNS, pmtuRouterNS}
	// Left over from an interrupted run whose netns.sh predates vecr, vecrc.
	for _, ns := range namespaces {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			c.Exec("", "ip", "netns", "del", ns)
		}
	}
	t.Cleanup(func() {
		if os.Getenv("VEC_KEEP_CLUSTER") == "1" {
			return
		}
		for _, ns := range namespaces {
			if _, err := os.Stat("/run/netns/" + ns); err != nil {
				continue // gone already: another `netns.sh down` was here
			}
			if _, err := ExecErr("", "ip", "netns", "del", ns); err != nil {
				t.Errorf("removing namespace %s: %v", ns, err)
			}
		}
	})
	sysctl := func(ns string, kv ...string) {
		t.Helper()
		for _, s := range kv {
			c.Exec(ns, "sysctl", "-qw", s)
		}
	}
	for _, ns := range namespaces {
		c.Exec("", "ip", "netns", "add", ns)
		c.Exec(ns, "ip", "link", "set", "lo", "up")
		// No IPv6, as in netns.sh: set before the veths arrive.
		sysctl(ns, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	c.Exec(st.BridgeNS, "ip", "link", "add", pmtuRouterPort, "type", "veth", "peer", "name", pmtuRouterLAN, "netns", pmtuRouterNS)
	c.Exec(st.BridgeNS, "ip", "link", "set", pmtuRouterPort, "master", st.Bridge)
	c.Exec(pmtuRouterNS, "ip", "link", "add", pmtuRouterWAN, "type", "veth", "peer", "name", pmtuRemoteIface, "netns", pmtuRemoteNS)
	// Only the router's side of the last link is small: the client's SYN
	// still advertises 1460, so the servers' full-sized segments reach the
	// router and stop there.
	c.Exec(pmtuRouterNS, "ip", "link", "set", pmtuRouterWAN, "mtu", strconv.Itoa(pmtuRouterMTU))
	// Checksum offload and GRO off on every end, as netns.sh does: the
	// router forwards the client's packets to vecd's packet socket, which
	// must see filled-in checksums.
	for _, e := range [][2]string{{st.BridgeNS, pmtuRouterPort}, {pmtuRouterNS, pmtuRouterLAN}, {pmtuRouterNS, pmtuRouterWAN}, {pmtuRemoteNS, pmtuRemoteIface}} {
		c.Exec(e[0], "ethtool", "-K", e[1], "tx", "off", "rx", "off", "gro", "off")
		c.Exec(e[0], "ip", "link", "set", e[1], "up")
	}
	c.Exec(pmtuRouterNS, "ip", "addr", "add", fmt.Sprintf("%s/%d", routerLANIP, st.Subnet.Bits()), "dev", pmtuRouterLAN)
	c.Exec(pmtuRouterNS, "ip", "addr", "add", fmt.Sprintf("%s/%d", pmtuRouterWANIP, pmtuRemoteNet.Bits()), "dev", pmtuRouterWAN)
	c.Exec(pmtuRemoteNS, "ip", "addr", "add", fmt.Sprintf("%s/%d", pmtuRemoteClient, pmtuRemoteNet.Bits()), "dev", pmtuRemoteIface)
	c.Exec(pmtuRemoteNS, "ip", "route", "add", "default", "via", pmtuRouterWANIP.String())
	// The router forwards, and without reverse-path filtering, as on the
	// servers: its traffic is asymmetric (to the VIP through vecd, back
	// straight from a server). It reaches the VIP on-link: vecd answers
	// ARP for it. Its ICMP rate limits need no change: Linux never rate-
	// limits "fragmentation needed" (icmpv4_mask_allow), so the servers'
	// retransmissions each get one.
	sysctl(pmtuRouterNS, "net.ipv4.ip_forward=1",
		"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
		"net.ipv4.conf."+pmtuRouterLAN+".rp_filter=0", "net.ipv4.conf."+pmtuRouterWAN+".rp_filter=0")
	for _, s := range c.Servers() {
		c.Exec(s.NS, "ip", "route", "replace", pmtuRemoteNet.String(), "via", routerLANIP.String())
	}
	// Control: the router reaches every server, and the client the router.
	for _, s := range c.Servers() {
		c.Exec(pmtuRouterNS, "ping", "-c", "1", "-W", "2", s.Addr.String())
	}
	c.Exec(pmtuRemoteNS, "ping", "-c", "1", "-W", "2", pmtuRouterWANIP.String())
	return routerLANIP
}

// hostAddr is host number n in the IPv4 prefix p.
func hostAddr(p netip.Prefix, n int) (netip.Addr, error) {
	a := p.Masked().Addr().As4()
	a[3] += byte(n)
	addr := netip.AddrFrom4(a)
	if !p.Contains(addr) || n <= 0 || n > 254 {
		return netip.Addr{}, fmt.Errorf("host %d is not an address in %s", n, p)
	}
	return addr, nil
}

var routeMTU = regexp.MustCompile(`\bmtu (\d+)\b`)

// cachedPathMTU is the path MTU namespace ns has learnt for dst (from
// `ip route get`, which shows the route exception a "fragmentation needed"
// creates); false when it has none.
func cachedPathMTU(t *testing.T, c *Cluster, ns string, dst netip.Addr) (int, bool) {
	t.Helper()
	out := c.Exec(ns, "ip", "-4", "route", "get", dst.String())
	m := routeMTU.FindStringSubmatch(out)
	if m == nil {
		return 0, false
	}
	mtu, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatalf("ip route get %s in %s: %q: %v", dst, ns, out, err)
	}
	return mtu, true
}

func pmtuText(mtu int, ok bool) string {
	if !ok {
		return "not lowered (none cached)"
	}
	return strconv.Itoa(mtu)
}

// icmpOutDestUnreachs is the kernel's count of ICMP destination unreachable
// messages namespace ns has sent (Icmp OutDestUnreachs in /proc/net/snmp).
func icmpOutDestUnreachs(t *testing.T, c *Cluster, ns string) uint64 {
	t.Helper()
	n, err := snmpCounter(c.Exec(ns, "cat", "/proc/net/snmp"), "Icmp", "OutDestUnreachs")
	if err != nil {
		t.Fatalf("%s: %v", ns, err)
	}
	return n
}

// snmpCounter finds one counter in /proc/net/snmp's text: each protocol has
// a line of names followed by a line of values.
func snmpCounter(snmp, proto, name string) (uint64, error) {
	lines := strings.Split(snmp, "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != proto+":" || len(values) != len(names) || values[0] != proto+":" {
			continue
		}
		for j, n := range names {
			if n == name {
				return strconv.ParseUint(values[j], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no %s %s in /proc/net/snmp", proto, name)
}

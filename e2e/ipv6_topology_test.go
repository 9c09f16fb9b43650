package e2e

import (
	"context"
	"io"
	"maps"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// sampleStatusIPv6 is what `netns.sh up --ipv6 --servers 2 --clients 2`
// adds to sampleStatus's keys.
const sampleStatusIPv6 = `IPV6=1
SUBNET6=fd00:99::/64
VIP6=fd00:99::100
VIPS6=fd00:99::100,fd00:99::101
GW1_ADDR6=fd00:99::1
GW1_MGMT_ADDR6=fd00:99::5
CLIENT_ADDRS6=fd00:99::21,fd00:99::22
S1_ADDR6=fd00:99::11
S2_ADDR6=fd00:99::12
`

func TestParseStatusIPv6(t *testing.T) {
	st, err := ParseStatus(sampleStatus + sampleStatusIPv6)
	if err != nil {
		t.Fatal(err)
	}
	if !st.IPv6 || st.Subnet6.String() != "fd00:99::/64" || len(st.VIPs6) != 2 || st.VIPs6[1].String() != "fd00:99::101" {
		t.Fatalf("IPv6/VIPs6: %+v", st)
	}
	if g := st.Gateways[0]; g.Addr6.String() != "fd00:99::1" || g.MgmtAddr6.String() != "fd00:99::5" {
		t.Fatalf("gateway: %+v", g)
	}
	if a := st.Client.Addrs6; len(a) != 2 || a[0].String() != "fd00:99::21" {
		t.Fatalf("client: %+v", st.Client)
	}
	if s := st.Servers[1]; s.Addr6.String() != "fd00:99::12" || s.Addr.String() != "10.99.0.12" {
		t.Fatalf("server 2: %+v", s)
	}

	// IPv4 only: without IPV6, or with IPV6=0, nothing of IPv6 is set.
	for _, text := range []string{sampleStatus, sampleStatus + "IPV6=0\n"} {
		st, err := ParseStatus(text)
		if err != nil {
			t.Fatal(err)
		}
		if st.IPv6 || st.Subnet6.IsValid() || st.VIPs6 != nil || st.Servers[0].Addr6.IsValid() {
			t.Fatalf("IPv4-only status parsed as %+v", st)
		}
	}

	for name, text := range map[string]string{
		"no S2_ADDR6":      strings.Replace(sampleStatus+sampleStatusIPv6, "S2_ADDR6=fd00:99::12\n", "", 1),
		"empty VIPS6":      strings.Replace(sampleStatus+sampleStatusIPv6, "VIPS6=fd00:99::100,fd00:99::101", "VIPS6=", 1),
		"IPV6 not 0 or 1":  strings.Replace(sampleStatus+sampleStatusIPv6, "IPV6=1", "IPV6=yes", 1),
		"bad CLIENT_ADDR6": strings.Replace(sampleStatus+sampleStatusIPv6, "fd00:99::22\n", "fd00:99::zz\n", 1),
	} {
		if _, err := ParseStatus(text); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

// TestTopologyIPv6 brings the cluster up dual-stack (netns.sh --ipv6) and
// checks its IPv6 side without a gateway: the addresses status reports are
// where it says, clients reach servers over IPv6, no server answers
// neighbour discovery for the IPv6 VIP (with a control that does), and a
// server accepts a connection to the VIP sent to its MAC (what vecd will
// do) and answers it directly. Last, an `up` without --ipv6 takes the
// cluster back to IPv4 only.
func TestTopologyIPv6(t *testing.T) {
	c := StartCluster(t, Options{Servers: 2, IPv6: true})
	st := c.Status()
	if len(st.VIPs6) != 1 || st.VIPs6[0] != netip.MustParseAddr("fd00:99::100") {
		t.Fatalf("VIPs6 %v, want the default fd00:99::100", st.VIPs6)
	}
	vip6 := st.VIPs6[0]
	cl := st.Client
	src6 := cl.Addrs6[0]

	t.Run("layout", func(t *testing.T) {
		c := c.For(t)
		seen := map[netip.Addr]bool{}
		addrs := append([]netip.Addr{vip6}, cl.Addrs6...)
		for _, g := range st.Gateways {
			addrs = append(addrs, g.Addr6, g.MgmtAddr6)
			// vecd's port: no kernel IPv6 at all, not even a link-local address.
			if a := c.Exec(g.NS, "ip", "-6", "-o", "addr", "show", "dev", g.Iface); strings.TrimSpace(a) != "" {
				t.Errorf("%s/%s has kernel IPv6 addresses:\n%s", g.NS, g.Iface, a)
			}
			mgmt := c.Exec(g.NS, "ip", "-6", "-o", "addr", "show", "dev", g.MgmtIface)
			if !strings.Contains(mgmt, " "+g.MgmtAddr6.String()+"/64 ") {
				t.Errorf("%s/%s lacks %s:\n%s", g.NS, g.MgmtIface, g.MgmtAddr6, mgmt)
			}
			// Addr6, like Addr, is vecd's alone: in no kernel.
			for _, ns := range append([]string{g.NS, cl.NS}, serverNamespaces(st)...) {
				if a := c.Exec(ns, "ip", "-6", "-o", "addr", "show"); strings.Contains(a, " "+g.Addr6.String()+"/") {
					t.Errorf("%s holds the gateway's %s:\n%s", ns, g.Addr6, a)
				}
			}
		}
		for _, s := range st.Servers {
			addrs = append(addrs, s.Addr6)
			if a := c.Exec(s.NS, "ip", "-6", "-o", "addr", "show", "dev", s.Iface); !strings.Contains(a, " "+s.Addr6.String()+"/64 ") {
				t.Errorf("%s/%s lacks %s:\n%s", s.NS, s.Iface, s.Addr6, a)
			}
			lo := c.Exec(s.NS, "ip", "-6", "-o", "addr", "show", "dev", "lo")
			if !strings.Contains(lo, " "+vip6.String()+"/128 ") || strings.Contains(lo, "tentative") {
				t.Errorf("%s: VIP6 not usable on lo:\n%s", s.NS, lo)
			}
			for key, want := range map[string]string{
				"net.ipv6.conf." + s.Iface + ".accept_ra":  "0",
				"net.ipv6.conf." + s.Iface + ".accept_dad": "0",
				"net.ipv6.conf.all.forwarding":             "0",
				"net.ipv6.conf.all.proxy_ndp":              "0",
			} {
				if got := strings.TrimSpace(c.Exec(s.NS, "sysctl", "-n", key)); got != want {
					t.Errorf("%s %s = %s, want %s", s.NS, key, got, want)
				}
			}
		}
		for _, a := range addrs {
			if seen[a] || !st.Subnet6.Contains(a) {
				t.Errorf("%s is not unique or outside %s", a, st.Subnet6)
			}
			seen[a] = true
		}
		if a := c.Exec(cl.NS, "ip", "-6", "-o", "addr", "show"); strings.Contains(a, " "+vip6.String()+"/") {
			t.Errorf("the client holds the VIP6:\n%s", a)
		}
	})

	t.Run("ping6-servers", func(t *testing.T) {
		c := c.For(t)
		for _, s := range st.Servers {
			if out, err := c.ExecErr(cl.NS, "ping", "-6", "-c", "1", "-W", "2", "-I", src6.String(), s.Addr6.String()); err != nil {
				t.Errorf("ping -6 %s from %s: %v\n%s", s.Addr6, src6, err, out)
			}
			// Neighbour discovery found that server, and only it.
			if n := c.Exec(cl.NS, "ip", "-6", "neigh", "show", "to", s.Addr6.String()); !strings.Contains(n, "lladdr "+s.MAC.String()) {
				t.Errorf("the client resolved %s as %q, want %s", s.Addr6, n, s.MAC)
			}
		}
	})

	t.Run("vip6-nd-unanswered", func(t *testing.T) {
		c := c.For(t)
		assertVIP6Unresolved(t, c, vip6, src6)
		// Control: the VIP6 on s2's interface instead of only on lo is
		// answered, so the silence above is lo's doing, not a blind probe.
		s2 := c.Server(2)
		pfx := vip6.String() + "/128"
		c.Exec(s2.NS, "ip", "addr", "add", pfx, "dev", s2.Iface, "nodad")
		c.ExecErr(cl.NS, "ip", "-6", "neigh", "del", vip6.String(), "dev", cl.Iface)
		c.ExecErr(cl.NS, "ping", "-6", "-c", "1", "-W", "2", "-I", src6.String(), vip6.String())
		n := c.Exec(cl.NS, "ip", "-6", "neigh", "show", "to", vip6.String())
		c.Exec(s2.NS, "ip", "addr", "del", pfx, "dev", s2.Iface)
		if !strings.Contains(n, "lladdr "+s2.MAC.String()) {
			t.Errorf("with the VIP6 on %s/%s the client resolved it as %q, want %s", s2.NS, s2.Iface, n, s2.MAC)
		}
		assertVIP6Unresolved(t, c, vip6, src6)
	})

	t.Run("dsr-connection", func(t *testing.T) {
		c := c.For(t)
		s1 := c.Server(1)
		// The client sends to the VIP6 at s1's MAC, as vecd will forward it.
		c.Exec(cl.NS, "ip", "-6", "neigh", "replace", vip6.String(), "lladdr", s1.MAC.String(), "dev", cl.Iface, "nud", "permanent")
		t.Cleanup(func() { c.ExecErr(cl.NS, "ip", "-6", "neigh", "del", vip6.String(), "dev", cl.Iface) })
		var ln net.Listener
		if err := InNetns(s1.NS, func() (err error) {
			ln, err = net.Listen("tcp", netip.AddrPortFrom(vip6, 8080).String())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan string, 1)
		go func() {
			conn, err := ln.Accept()
			if err != nil {
				accepted <- err.Error()
				return
			}
			defer conn.Close()
			accepted <- conn.LocalAddr().String() + " from " + conn.RemoteAddr().String()
			io.WriteString(conn, "s1\n")
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var conn net.Conn
		if err := InNetns(cl.NS, func() (err error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src6.AsSlice()}}
			conn, err = d.DialContext(ctx, "tcp", netip.AddrPortFrom(vip6, 8080).String())
			return err
		}); err != nil {
			t.Fatalf("connecting to [%s]:8080 at %s's MAC: %v", vip6, s1.NS, err)
		}
		defer conn.Close()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(conn)
		if err != nil || string(got) != "s1\n" {
			t.Errorf("read %q, %v", got, err)
		}
		want := netip.AddrPortFrom(vip6, 8080).String() + " from " + conn.LocalAddr().String()
		if a := <-accepted; a != want {
			t.Errorf("s1 accepted %s, want %s", a, want)
		}
		// To answer from the VIP6, s1 resolved the client by neighbour
		// discovery (solicited from its link-local address: the VIP6 is
		// not on its interface).
		if n := c.Exec(s1.NS, "ip", "-6", "neigh", "show", "to", src6.String()); !strings.Contains(n, "lladdr "+cl.MAC.String()) {
			t.Errorf("s1's neighbour entry for %s: %q", src6, n)
		}
	})

	t.Run("netns-check", func(t *testing.T) {
		c := c.For(t)
		out := c.Exec("", c.Script(), "check")
		for _, want := range []string{"CHECK=ok", "CHECK_GW1_NOADDR6=ok", "CHECK_S1_PING6=ok", "CHECK_S2_ND=ok",
			"VIP6_ND_REPLIES_" + strings.ReplaceAll(vip6.String(), ":", "_") + "=none"} {
			if !strings.Contains(out, want) {
				t.Errorf("netns.sh check lacks %s:\n%s", want, out)
			}
		}
	})

	t.Run("back-to-ipv4", func(t *testing.T) {
		c := c.For(t)
		c.Exec("", c.Script(), "up", "--servers", "2")
		st, err := c.ReadStatus()
		if err != nil {
			t.Fatal(err)
		}
		if st.IPv6 || st.Raw["IPV6"] != "0" || st.Raw["VIPS6"] != "" || len(st.VIPs) != 1 {
			t.Fatalf("after up without --ipv6: %v", st.Raw)
		}
		for _, ns := range append([]string{cl.NS, st.Gateways[0].NS}, serverNamespaces(st)...) {
			if a := c.Exec(ns, "ip", "-6", "-o", "addr", "show"); strings.TrimSpace(a) != "" {
				t.Errorf("%s still has IPv6 addresses:\n%s", ns, a)
			}
		}
	})
}

func serverNamespaces(st Status) []string {
	var out []string
	for _, s := range st.Servers {
		out = append(out, s.NS)
	}
	return out
}

// assertVIP6Unresolved pings vip6 from the client with no neighbour entry
// for it: nothing may answer the solicitations, so the ping fails and the
// entry stays without a link-layer address.
func assertVIP6Unresolved(t *testing.T, c *Cluster, vip6, src6 netip.Addr) {
	t.Helper()
	cl := c.Status().Client
	c.ExecErr(cl.NS, "ip", "-6", "neigh", "del", vip6.String(), "dev", cl.Iface)
	if _, err := c.ExecErr(cl.NS, "ping", "-6", "-c", "1", "-W", "2", "-I", src6.String(), vip6.String()); err == nil {
		t.Errorf("the VIP6 %s answered ping with no gateway running", vip6)
	}
	if n := c.Exec(cl.NS, "ip", "-6", "neigh", "show", "to", vip6.String()); strings.Contains(n, "lladdr") {
		t.Errorf("the client has resolved VIP6 %s: %s", vip6, n)
	}
}

// TestServerSetupIPv6 runs scripts/server-setup.sh with IPv6 VIPs in a
// fresh namespace (named like no cluster namespace, so netns.sh leaves it
// alone) where IPv6 starts disabled on lo and the interface: it turns IPv6
// on there and puts the VIPs on lo as /128 (written any valid way, kept as
// `ip` prints them), a second run changes nothing, IPv6 VIPs alone set no
// ARP sysctl, and --undo gives the namespace back as it was.
func TestServerSetupIPv6(t *testing.T) {
	RequireRoot(t)
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script := root + "/scripts/server-setup.sh"
	const ns, iface = "vecsetuptest6", "eth0"
	removeNS := func() {
		if _, err := ExecErr("", "ip", "netns", "del", ns); err != nil && !strings.Contains(err.Error(), "No such file") {
			t.Errorf("removing %s: %v", ns, err)
		}
	}
	removeNS() // a leftover of an interrupted run
	Exec(t, "", "ip", "netns", "add", ns)
	t.Cleanup(removeNS)
	Exec(t, ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", "net.ipv6.conf.lo.disable_ipv6=1")
	Exec(t, ns, "ip", "link", "set", "lo", "up")
	Exec(t, ns, "ip", "link", "add", iface, "type", "veth", "peer", "name", "eth1")
	Exec(t, ns, "ip", "link", "set", iface, "up")

	keys := []string{"net.ipv6.conf.lo.disable_ipv6", "net.ipv6.conf." + iface + ".disable_ipv6",
		"net.ipv4.conf.all.arp_ignore", "net.ipv4.conf." + iface + ".arp_ignore",
		"net.ipv4.conf.all.arp_announce", "net.ipv4.conf." + iface + ".arp_announce"}
	snapshot := func() map[string]string {
		t.Helper()
		s := map[string]string{"lo": strings.Join(strings.Fields(Exec(t, ns, "sh", "-c", "ip -o addr show dev lo | awk '{print $4}' | sort")), " ")}
		for _, k := range keys {
			s[k] = strings.TrimSpace(Exec(t, ns, "sysctl", "-n", k))
		}
		return s
	}
	before := snapshot()
	if before["lo"] != "127.0.0.1/8" || before["net.ipv6.conf."+iface+".disable_ipv6"] != "1" {
		t.Fatalf("the namespace does not start without IPv6: %v", before)
	}
	setup := func(args ...string) {
		t.Helper()
		Exec(t, ns, append([]string{script, "--quiet", "--iface", iface}, args...)...)
	}
	setup("--vip", "2001:DB8:0:0::0100,2001:db8::101")
	once := snapshot()
	want := map[string]string{
		"lo":                            "127.0.0.1/8 2001:db8::100/128 2001:db8::101/128 ::1/128",
		"net.ipv6.conf.lo.disable_ipv6": "0",
		"net.ipv6.conf." + iface + ".disable_ipv6": "0",
		"net.ipv4.conf.all.arp_ignore":             before["net.ipv4.conf.all.arp_ignore"],
		"net.ipv4.conf." + iface + ".arp_announce": before["net.ipv4.conf."+iface+".arp_announce"],
	}
	for k, v := range want {
		if once[k] != v {
			t.Errorf("after one run %s = %q, want %q", k, once[k], v)
		}
	}
	setup("--vip", "2001:db8::100", "--vip", "2001:db8::101")
	if again := snapshot(); !maps.Equal(once, again) {
		t.Errorf("a second run changed %v to %v", once, again)
	}
	setup("--vip", "2001:db8::101,10.250.0.1")
	if got := snapshot(); got["lo"] != "10.250.0.1/32 127.0.0.1/8 2001:db8::101/128 ::1/128" || got["net.ipv4.conf."+iface+".arp_ignore"] != "1" {
		t.Errorf("with one IPv6 and one IPv4 VIP: %v", got)
	}
	Exec(t, ns, script, "--quiet", "--undo")
	if got := snapshot(); !maps.Equal(before, got) {
		t.Errorf("--undo left %v, want %v", got, before)
	}
	for _, args := range [][]string{
		{"--vip", "::ffff:10.250.0.1"},
		{"--vip", "2001:db8::1::2"},
		{"--vip", "2001:db8::100", "--forwarding", "ipip"},
	} {
		if _, err := ExecErr(ns, append([]string{script, "--iface", iface}, args...)...); err == nil || !strings.Contains(err.Error(), "exit status 2") {
			t.Errorf("%v: %v, want exit status 2", args, err)
		}
	}
	if got := snapshot(); !maps.Equal(before, got) {
		t.Errorf("a refused run changed %v to %v", before, got)
	}
}

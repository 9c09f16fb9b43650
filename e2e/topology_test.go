package e2e

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"vec/e2e/traffic"
)

// vecNamespaces lists the namespaces of the test cluster that exist now.
func vecNamespaces(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(Exec(t, "", "ip", "netns", "list"), "\n") {
		name, _, _ := strings.Cut(line, " ")
		if strings.HasPrefix(name, "vec") {
			out = append(out, name)
		}
	}
	return out
}

func TestNetnsScriptLifecycle(t *testing.T) {
	RequireRoot(t)
	lockCluster(t) // it brings the shared topology down and up
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script := root + "/scripts/netns.sh"
	status := func() Status {
		t.Helper()
		out, _ := ExecErr("", script, "status")
		st, err := ParseStatus(out)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return st
	}
	t.Cleanup(func() { ExecErr("", script, "down") })

	Exec(t, "", script, "down")
	if st := status(); st.State != "down" {
		t.Fatalf("after down: state %q", st.State)
	}
	// status exits 3 when down, for scripts.
	var ee *exec.ExitError
	if _, err := ExecErr("", script, "status"); !(err != nil && errors.As(err, &ee) && ee.ExitCode() == 3) {
		t.Fatalf("status when down: %v, want exit 3", err)
	}

	Exec(t, "", script, "up")
	first := status()
	if first.State != "up" || len(first.Servers) != 3 || len(first.Gateways) != 1 || len(first.Client.Addrs) != 4 {
		t.Fatalf("default up: %+v", first)
	}
	Exec(t, "", script, "up")
	if again := status(); !maps.Equal(first.Raw, again.Raw) {
		t.Fatalf("second up changed the topology:\n%v\n%v", first.Raw, again.Raw)
	}

	// up converges to new parameters, removing what is no longer asked for.
	Exec(t, "", script, "up", "--servers", "2", "--vips", "10.99.0.100,10.99.0.101", "--gateways", "2")
	st := status()
	if len(st.Servers) != 2 || len(st.VIPs) != 2 || len(st.Gateways) != 2 || slices.Contains(vecNamespaces(t), "vecs3") {
		t.Fatalf("converged up: %+v, namespaces %v", st, vecNamespaces(t))
	}
	if st.Gateways[1].NS != "vecgw2" || st.Gateways[1].Iface != "vecgw0" || st.Gateways[1].MAC.String() == st.Gateways[0].MAC.String() {
		t.Fatalf("second gateway: %+v", st.Gateways[1])
	}
	lo := Exec(t, "vecs2", "ip", "-4", "-o", "addr", "show", "dev", "lo")
	if !strings.Contains(lo, "10.99.0.101/32") {
		t.Fatalf("second VIP missing on vecs2 lo:\n%s", lo)
	}
	// Jumbo frames: every link at the MTU, the packet socket's ring frames
	// sized for it, and a 9000-byte packet crosses unfragmented.
	if _, err := ExecErr("", script, "up", "--mtu", "9000"); err == nil || !strings.Contains(err.Error(), "needs --port-driver af_packet") {
		t.Fatalf("up --mtu 9000 with af_xdp: %v", err)
	}
	Exec(t, "", script, "up", "--mtu", "9000", "--port-driver", "af_packet")
	st = status()
	if st.MTU != 9000 || st.Gateways[0].VDev != "net_af_packet0,iface=vecgw0,framecnt=8192,framesz=9216,blocksz=36864" {
		t.Fatalf("up --mtu 9000: MTU %d, gateway port %q", st.MTU, st.Gateways[0].VDev)
	}
	checkLinkMTUs(t, 9000)
	Exec(t, "vecc", "ping", "-c", "1", "-W", "2", "-M", "do", "-s", "8972", st.Servers[0].Addr.String())
	Exec(t, "", script, "up")
	if st := status(); len(st.Servers) != 3 || len(st.VIPs) != 1 || len(st.Gateways) != 1 || st.MTU != 1500 {
		t.Fatalf("back to defaults: %+v", st)
	}
	checkLinkMTUs(t, 1500)

	Exec(t, "", script, "down")
	if ns := vecNamespaces(t); len(ns) != 0 {
		t.Fatalf("after down: namespaces %v remain", ns)
	}
	Exec(t, "", script, "down") // idempotent

	// A partial topology, as a crash would leave it, goes away with down.
	Exec(t, "", "ip", "netns", "add", "vecbr")
	Exec(t, "", "ip", "netns", "add", "vecs7")
	Exec(t, "", "ip", "-n", "vecbr", "link", "add", "vecps7", "type", "veth", "peer", "name", "vecs7eth", "netns", "vecs7")
	if st := status(); st.State != "partial" {
		t.Fatalf("partial topology reported as %q", st.State)
	}
	Exec(t, "", script, "down")
	if ns := vecNamespaces(t); len(ns) != 0 {
		t.Fatalf("down after a partial up: namespaces %v remain", ns)
	}

	// An interrupted up removes what it had built.
	cmd := exec.Command(script, "up")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat("/run/netns/vecbr"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("up never created vecbr")
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	if err == nil {
		t.Fatal("up completed before SIGINT reached it; the trap was not exercised")
	}
	if ns := vecNamespaces(t); len(ns) != 0 {
		t.Fatalf("interrupted up (%v) left namespaces %v", err, ns)
	}
}

// checkLinkMTUs fails t unless every link of every vec namespace but lo
// has MTU mtu.
func checkLinkMTUs(t *testing.T, mtu int) {
	t.Helper()
	links := 0
	for _, ns := range vecNamespaces(t) {
		for _, line := range strings.Split(strings.TrimSpace(Exec(t, ns, "ip", "-o", "link", "show")), "\n") {
			name := strings.TrimSpace(strings.Split(line, ":")[1])
			if name == "lo" {
				continue
			}
			if links++; !strings.Contains(line, fmt.Sprintf(" mtu %d ", mtu)) {
				t.Errorf("%s: want MTU %d: %s", ns, mtu, line)
			}
		}
	}
	if links == 0 {
		t.Error("no links found")
	}
}

func TestTopologyWithoutGateway(t *testing.T) {
	c := StartCluster(t, Options{Servers: 3, Backends: true})
	vip := c.VIP()

	t.Run("layout", func(t *testing.T) {
		c := c.For(t)
		seenMAC, seenAddr := map[string]bool{}, map[netip.Addr]bool{}
		for _, s := range c.Servers() {
			if seenMAC[s.MAC.String()] || seenAddr[s.Addr] || !c.Status().Subnet.Contains(s.Addr) {
				t.Fatalf("server %d: MAC %s address %s not unique or outside the subnet", s.Index, s.MAC, s.Addr)
			}
			seenMAC[s.MAC.String()], seenAddr[s.Addr] = true, true
			if lo := c.Exec(s.NS, "ip", "-4", "-o", "addr", "show", "dev", "lo"); !strings.Contains(lo, vip.String()+"/32") {
				t.Errorf("%s: VIP not on lo:\n%s", s.NS, lo)
			}
		}
		for _, ns := range []string{c.ClientNS(), c.GatewayNS()} {
			if a := c.Exec(ns, "ip", "-4", "-o", "addr", "show"); strings.Contains(a, " "+vip.String()+"/") {
				t.Errorf("%s holds the VIP:\n%s", ns, a)
			}
		}
		gw := c.GatewayN(1)
		if a := c.Exec(gw.NS, "ip", "-4", "-o", "addr", "show", "dev", gw.Iface); strings.TrimSpace(a) != "" {
			t.Errorf("%s has a kernel address: %s", gw.Iface, a)
		}
		link := c.Exec(gw.NS, "ip", "-o", "link", "show", "dev", gw.Iface)
		for _, flag := range []string{"NOARP", "PROMISC", "LOWER_UP"} {
			if !strings.Contains(link, flag) {
				t.Errorf("%s lacks %s: %s", gw.Iface, flag, link)
			}
		}
		if f := strings.TrimSpace(c.Exec(gw.NS, "sysctl", "-n", "net.ipv4.ip_forward")); f != "0" {
			t.Errorf("ip_forward in %s = %s", gw.NS, f)
		}
	})

	t.Run("offloads", func(t *testing.T) {
		c := c.For(t)
		namespaces := []string{c.Status().BridgeNS, c.ClientNS()}
		for _, g := range c.Gateways() {
			namespaces = append(namespaces, g.NS)
		}
		for _, s := range c.Servers() {
			namespaces = append(namespaces, s.NS)
		}
		veths := 0
		for _, ns := range namespaces {
			for _, line := range strings.Split(strings.TrimSpace(c.Exec(ns, "ip", "-o", "link", "show", "type", "veth")), "\n") {
				name := strings.TrimSpace(strings.Split(line, ":")[1])
				name, _, _ = strings.Cut(name, "@")
				feats := c.Exec(ns, "ethtool", "-k", name)
				// The gateway's port and its bridge port: offloads off
				// (a packet socket must see finished, MTU-sized frames);
				// every other end keeps them, as a host's NIC would.
				state := "on"
				if name == c.GatewayIface() || strings.HasPrefix(name, "vecpg") {
					state = "off"
				}
				for _, feat := range []string{"rx-checksumming", "tx-checksumming", "generic-receive-offload"} {
					if want := feat + ": " + state; !strings.Contains(feats, want) {
						t.Errorf("%s/%s: want %q", ns, name, want)
					}
				}
				veths++
			}
		}
		// client, 3 servers, gateway data + management: 6 pairs, 12 ends.
		if veths != 12 {
			t.Errorf("checked %d veth ends, want 12", veths)
		}
	})

	t.Run("sysctls", func(t *testing.T) {
		c := c.For(t)
		get := func(ns, key string) string {
			return strings.Join(strings.Fields(c.Exec(ns, "sysctl", "-n", key)), " ")
		}
		for _, s := range c.Servers() {
			for key, want := range map[string]string{
				"net.ipv4.conf.all.arp_ignore":               "1",
				"net.ipv4.conf." + s.Iface + ".arp_ignore":   "1",
				"net.ipv4.conf.all.arp_announce":             "2",
				"net.ipv4.conf." + s.Iface + ".arp_announce": "2",
				"net.ipv4.conf.all.rp_filter":                "0",
				"net.ipv4.conf.default.rp_filter":            "0",
				"net.ipv4.conf." + s.Iface + ".rp_filter":    "0",
				"net.ipv4.conf.lo.rp_filter":                 "0",
			} {
				if got := get(s.NS, key); got != want {
					t.Errorf("%s %s = %s, want %s", s.NS, key, got, want)
				}
			}
		}
		if got := get(c.ClientNS(), "net.ipv4.tcp_tw_reuse"); got != "1" {
			t.Errorf("client tcp_tw_reuse = %s", got)
		}
		if got := get(c.ClientNS(), "net.ipv4.ip_local_port_range"); got != "1024 65535" {
			t.Errorf("client ip_local_port_range = %s", got)
		}
	})

	t.Run("http-direct", func(t *testing.T) {
		c := c.For(t)
		for _, s := range c.Servers() {
			rep := mustLoadgen(t, c, "-mode", "http", "-target", s.Addr.String(), "-n", "200", "-c", "8")
			if rep.HTTP.OK != 200 || len(rep.HTTP.PerServer) != 1 || rep.HTTP.PerServer[s.Name] != 200 {
				t.Errorf("%s: %+v", s.Name, rep.HTTP)
			}
			for _, a := range c.ClientAddrs() {
				if rep.HTTP.PerSource[a.String()] == 0 {
					t.Errorf("%s: no request from source %s: %v", s.Name, a, rep.HTTP.PerSource)
				}
			}
		}
	})

	t.Run("udp-direct", func(t *testing.T) {
		c := c.For(t)
		for _, s := range c.Servers() {
			rep := mustLoadgen(t, c, "-mode", "udp", "-target", s.Addr.String(), "-n", "60", "-flows", "12")
			u := rep.UDP
			if u.Sent != 60 || u.Received != 60 || u.PerServer[s.Name] != 12 || len(u.FlowList) != 12 {
				t.Errorf("%s: %+v", s.Name, u)
			}
			ports := map[string]bool{}
			for _, f := range u.FlowList {
				ports[f.Source] = true
			}
			if len(ports) != 12 {
				t.Errorf("%s: flows share source address and port: %v", s.Name, ports)
			}
		}
	})

	t.Run("download-direct", func(t *testing.T) {
		c := c.For(t)
		for _, s := range c.Servers() {
			rep := mustLoadgen(t, c, "-mode", "download", "-target", s.Addr.String(), "-parallel", "4", "-size", "20000000", "-seed", fmt.Sprint(s.Index))
			if d := rep.Download; d.OK != 4 || d.Bytes != 4*20_000_000 || d.PerServer[s.Name] != 4 {
				t.Errorf("%s: %+v", s.Name, d)
			}
		}
	})

	t.Run("vip-arp-unanswered", func(t *testing.T) {
		c := c.For(t)
		// Control: the same probe gets each server's own address answered,
		// by that server alone.
		for _, s := range c.Servers() {
			macs, err := c.ARPing(s.Addr, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(macs) != 1 || macs[0].String() != s.MAC.String() {
				t.Errorf("ARP for %s answered by %v, want %s only", s.Addr, macs, s.MAC)
			}
		}
		assertVIPUnanswered(t, c)
		if _, err := c.ExecErr(c.ClientNS(), "ping", "-c", "1", "-W", "2", vip.String()); err == nil {
			t.Error("the VIP answered ping with no gateway running")
		}

		// Control: a server without arp_ignore answers for the VIP on lo,
		// so the silence above is the sysctl's doing, not a blind probe.
		s2 := c.Server(2)
		keys := []string{"net.ipv4.conf.all.arp_ignore", "net.ipv4.conf." + s2.Iface + ".arp_ignore"}
		for _, k := range keys {
			c.Exec(s2.NS, "sysctl", "-qw", k+"=0")
		}
		macs, err := c.ARPing(vip, 2)
		for _, k := range keys {
			c.Exec(s2.NS, "sysctl", "-qw", k+"=1")
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(macs) != 1 || macs[0].String() != s2.MAC.String() {
			t.Errorf("with arp_ignore=0 on %s the VIP was answered by %v, want %s", s2.NS, macs, s2.MAC)
		}
		// The client's kernel saw that answer too and may have learnt the
		// VIP from it (the ping above left an entry to update): forget it.
		c.Exec(c.ClientNS(), "ip", "neigh", "flush", "to", vip.String())
		assertVIPUnanswered(t, c)
	})

	t.Run("netns-check", func(t *testing.T) {
		c := c.For(t)
		out := c.Exec("", c.Script(), "check")
		for _, want := range []string{"CHECK=ok", "VIP_ARP_REPLIES_10_99_0_100=none"} {
			if !strings.Contains(out, want) {
				t.Errorf("netns.sh check lacks %s:\n%s", want, out)
			}
		}
	})

	t.Run("stray", func(t *testing.T) {
		c := c.For(t)
		// Control: a server answers a stray segment with RST, so the tool
		// sees answers when there are any.
		rep, err := c.Loadgen("-mode", "stray", "-target", c.ServerAddr(1).String()+":80", "-reply-wait", "500ms")
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Stray.Answered || !strings.Contains(rep.Stray.Replies[0].Flags, "RST") || rep.Passed() {
			t.Errorf("stray to a server: %+v", rep.Stray)
		}
		// Nothing behind the VIP: nothing answers.
		rep = mustLoadgen(t, c, "-mode", "stray", "-reply-wait", "500ms")
		if rep.Stray.Answered || rep.Stray.Sent != 3 {
			t.Errorf("stray to the VIP: %+v", rep.Stray)
		}
	})
}

func assertVIPUnanswered(t *testing.T, c *Cluster) {
	t.Helper()
	for _, v := range c.VIPs() {
		macs, err := c.ARPing(v, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(macs) != 0 {
			t.Errorf("ARP for VIP %s answered by %v with no gateway running", v, macs)
		}
		if n := c.Exec(c.ClientNS(), "ip", "neigh", "show", "to", v.String()); strings.Contains(n, "lladdr") {
			t.Errorf("the client has resolved VIP %s: %s", v, n)
		}
	}
}

// mustLoadgen runs vec-loadgen and fails the test unless every check held.
func mustLoadgen(t *testing.T, c *Cluster, args ...string) *traffic.Report {
	t.Helper()
	rep, err := c.Loadgen(args...)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed() {
		t.Fatalf("vec-loadgen %s: %v", strings.Join(args, " "), rep.Failures)
	}
	return rep
}

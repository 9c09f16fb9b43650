package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"vec/e2e/traffic"
	"vec/fastpath/header"
	"vec/internal/pcapfile"
)

// TestVecdIPv6VIP runs vecd on the dual-stack cluster with an IPv6 VIP
// beside the IPv4 one: the IPv6 servers are given by address alone, so
// vecd resolves them by Neighbor Discovery, and the clients find the VIP
// by a Neighbor Solicitation vecd answers. HTTP over IPv6 must be split by
// weight (±5 %), long downloads must arrive byte-identical, and the
// gateway's port must carry no frame from a server to a client (direct
// server return).
func TestVecdIPv6VIP(t *testing.T) {
	c := startLockedCluster(t, Options{Servers: 3, Backends: true, IPv6: true})
	st := c.Status()
	if len(st.VIPs6) == 0 || !c.GatewayN(1).Addr6.IsValid() {
		t.Fatalf("the cluster has no IPv6 VIP or gateway address: %+v", st)
	}
	vip6 := st.VIPs6[0]
	capt := startCapture(t, c)
	servers6 := weightedServers(c, false)
	for i := range servers6 {
		servers6[i].IP = c.Server(i + 1).Addr6
	}
	cfg := vecdYAML(c, standardServices(c, true)) + ipv6ClusterYAML(vip6, servers6)
	cfg = strings.Replace(cfg, "gateway:\n", fmt.Sprintf("gateway:\n  ip6: %q\n", c.GatewayN(1).Addr6), 1)
	v := startVecd(t, c, cfg, false)

	target := netip.AddrPortFrom(vip6, traffic.HTTPPort).String()
	const n = 1200
	rep := mustLoadgen(t, c, "-mode", "http", "-target", target, "-n", strconv.Itoa(n), "-c", "16")
	t.Logf("%d IPv6 requests over fresh connections in %.2f s: %.0f conn/s, p99 %.2f ms", rep.HTTP.OK, rep.DurationSec,
		rep.HTTP.ConnsPerSec, rep.HTTP.LatencyP99Ms)
	if rep.HTTP.OK != n {
		t.Fatalf("%d of %d IPv6 requests succeeded: %+v", rep.HTTP.OK, n, rep.HTTP)
	}
	checkSplit(t, "HTTP connections to the IPv6 VIP", rep.HTTP.PerServer, servers6)

	const downloads, size = 6, 20_000_000
	dl := mustLoadgen(t, c, "-mode", "download", "-target", target, "-parallel", strconv.Itoa(downloads),
		"-size", strconv.Itoa(size), "-seed", "6", "-timeout", "60s")
	if d := dl.Download; d.OK != downloads {
		t.Errorf("%d of %d IPv6 downloads of %d bytes arrived intact: %v", d.OK, downloads, size, d.Errors)
	} else {
		t.Logf("%d IPv6 downloads of %d bytes, checksums verified: %.2f s, %.2f Gbit/s, per server %v", downloads, size,
			dl.DurationSec, d.Gbps, d.PerServer)
	}

	counters := v.stop()
	g := classifyIPv6GatewayTraffic(c, vip6, capt.stop())
	t.Logf("gateway port, IPv6: %d client→VIP frames, %d forwarded to servers, %d Neighbor Discovery, %d server→client, %d other; vecd dropped %v",
		g.fromClient, g.toServer, g.ndp, g.serverToClient, g.other, counters.Cores[0].Drops)
	if g.serverToClient != 0 {
		t.Errorf("the gateway's port carried %d IPv6 frames from a server to a client (direct server return broken): %v", g.serverToClient, g.examples)
	}
	if g.fromClient < n || g.toServer < n || g.ndp == 0 {
		t.Errorf("the capture holds %d client→VIP frames, %d forwarded and %d NDP frames, want at least %d, %d and some",
			g.fromClient, g.toServer, g.ndp, n, n)
	}
	for _, reason := range []string{"server_unresolved", "ipv6_extension", "malformed_ndp", "table_full"} {
		if d := counters.drops(reason); d != 0 {
			t.Errorf("vecd dropped %d packets as %s", d, reason)
		}
	}
}

// ipv6ClusterYAML is the configuration of an IPv6 cluster with one HTTP
// service over servers, to append to vecdYAML's clusters.
func ipv6ClusterYAML(vip netip.Addr, servers []vecdServer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - vip: %q\n    services:\n      - name: http\n        protocol: tcp\n        port: %d\n        servers:\n", vip, traffic.HTTPPort)
	for _, s := range servers {
		fmt.Fprintf(&b, "          - {name: %s, ip: %q, weight: %d}\n", s.Name, s.IP, s.Weight)
	}
	return b.String()
}

type ipv6GatewayTraffic struct {
	fromClient, toServer, ndp, serverToClient, other int
	examples                                         []string
}

// classifyIPv6GatewayTraffic sorts the IPv6 frames of a capture on the
// gateway's port: Neighbor Discovery (from anyone), client to VIP, from a
// server (its MAC or the VIP as source) to a client, and the rest (MLD and
// such).
func classifyIPv6GatewayTraffic(c *Cluster, vip netip.Addr, pkts []pcapfile.Packet) ipv6GatewayTraffic {
	var g ipv6GatewayTraffic
	serverMACs := map[string]bool{}
	for _, s := range c.Servers() {
		serverMACs[s.MAC.String()] = true
	}
	gwMAC := c.GatewayMAC().String()
	for _, p := range pkts {
		f := header.Ethernet(p.Data)
		if !f.IsValid() || f.Type() != header.EtherTypeIPv6 {
			continue
		}
		dst := net.HardwareAddr(f.Destination()).String()
		ip := header.IPv6(f.Payload())
		if len(ip) < header.IPv6HeaderLen {
			g.other++
			continue
		}
		src := net.HardwareAddr(f.Source()).String()
		switch {
		case ip.NextHeader() == header.ICMPv6ProtocolNumber && len(ip) > header.IPv6HeaderLen &&
			(ip[header.IPv6HeaderLen] == header.ICMPv6NeighborSolicitation || ip[header.IPv6HeaderLen] == header.ICMPv6NeighborAdvertisement):
			// Solicitations are multicast, flooded to every port; vecd
			// answers for the VIP, the servers answer vecd's.
			g.ndp++
		case serverMACs[src] || ip.SourceAddr() == vip:
			g.serverToClient++
			if len(g.examples) < 5 {
				g.examples = append(g.examples, fmt.Sprintf("% x", p.Data[:min(len(p.Data), 80)]))
			}
		case ip.DestinationAddr() == vip && dst == gwMAC:
			g.fromClient++
		case ip.DestinationAddr() == vip && src == gwMAC && serverMACs[dst]:
			g.toServer++ // vecd forwarding
		default:
			g.other++
		}
	}
	return g
}

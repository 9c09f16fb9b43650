package e2e

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vec/control/apiwire"
	"vec/e2e/traffic"
)

// The encapsulation test's topology: the namespace cluster (clients, the
// gateway) plus scripts/routed.sh's router veco and servers vecos1..4 on
// 10.97.0.0/24, whose links to the router have an MTU of encapRoutedMTU.
// VIP A's services are encapsulated in IPIP, VIP B's in GUE; vecd sends
// every encapsulated packet to the router (encapsulation.next_hop), and the
// servers, which decapsulate (the kernel's devices where it has them,
// vec-agent decap otherwise), answer the clients through the router.
const (
	encapServers   = 4
	encapRoutedMTU = 1400
	// encapNarrowMTU is the path MTU of the test's second part, below the
	// MSS the servers advertise plus the overhead.
	encapNarrowMTU = 1300
	// encapUploadSize is each upload's body; encapRequests the HTTP
	// requests to each VIP.
	encapUploadSize = 8 << 20
	encapRequests   = 400
)

var (
	encapVIPA = netip.MustParseAddr("10.99.0.100")
	encapVIPB = netip.MustParseAddr("10.99.0.101")
	// Weights of the HTTP services: VIP A (IPIP) over o1, o2; VIP B (GUE)
	// over o3, o4.
	encapWeightsA = map[string]int{"o1": 3, "o2": 1}
	encapWeightsB = map[string]int{"o3": 1, "o4": 2}
)

// routed is scripts/routed.sh's topology, brought up for one test.
type routed struct {
	script string
	status map[string]string
}

// startRouted runs `routed.sh up` with args on the running cluster and
// `routed.sh down` at cleanup.
func startRouted(t *testing.T, c *Cluster, args ...string) *routed {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	r := &routed{script: filepath.Join(root, "scripts", "routed.sh")}
	t.Cleanup(func() {
		if _, err := ExecErr("", r.script, "down"); err != nil {
			t.Errorf("routed.sh down: %v", err)
		}
	})
	c.Exec("", append([]string{r.script, "up"}, args...)...)
	r.status = map[string]string{}
	for _, line := range strings.Split(c.Exec("", r.script, "status"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			r.status[k] = v
		}
	}
	return r
}

func (r *routed) serverNS(k int) string { return r.status[fmt.Sprintf("SERVER%d_NS", k)] }
func (r *routed) serverAddr(k int) string {
	return r.status[fmt.Sprintf("SERVER%d_ADDR", k)]
}

// encapYAML is vecd's configuration: HTTP and an upload service on each
// VIP, encapsulated through the router with path MTU mtu; the upload
// services listen on uploadA (VIP A) and uploadB (VIP B) and spread over
// every server with equal weights, one upload per server.
func encapYAML(c *Cluster, r *routed, mtu, uploadA, uploadB int) string {
	var b strings.Builder
	b.WriteString(PortYAML(c.GatewayN(1)))
	fmt.Fprintf(&b, "gateway: {ip: %s}\n", c.GatewayAddr())
	b.WriteString("workers: {cores: [1], control_core: 0, table_capacity: 65536}\nlog: {level: info}\n")
	fmt.Fprintf(&b, "encapsulation: {next_hop: %s, mtu: %d}\nclusters:\n", r.status["ROUTER_ADDR"], mtu)
	service := func(name string, port int, forwarding string, weights map[string]int) {
		fmt.Fprintf(&b, "      - name: %s\n        protocol: tcp\n        port: %d\n        forwarding: %s\n        servers:\n",
			name, port, forwarding)
		for k := 1; k <= encapServers; k++ {
			server := fmt.Sprintf("o%d", k)
			if w, ok := weights[server]; ok || weights == nil {
				fmt.Fprintf(&b, "          - {name: %s, ip: %s, weight: %d}\n", server, r.serverAddr(k), max(w, 1))
			}
		}
	}
	for _, v := range []struct {
		vip        netip.Addr
		forwarding string
		weights    map[string]int
		upload     int
	}{{encapVIPA, "ipip", encapWeightsA, uploadA}, {encapVIPB, "gue", encapWeightsB, uploadB}} {
		fmt.Fprintf(&b, "  - vip: %s\n    services:\n", v.vip)
		service("http", traffic.HTTPPort, v.forwarding, v.weights)
		service("upload", v.upload, v.forwarding, nil)
	}
	return b.String()
}

// TestEncapRoutedServers runs two services per VIP on servers behind a
// router, VIP A's encapsulated in IPIP and VIP B's in GUE, and checks that
// HTTP is split by weight (within ±5 points), that long downloads (served
// straight to the clients through the router) and long uploads (every
// segment encapsulated by vecd) arrive byte-identical, and how the path MTU
// is kept: first the servers advertise an MSS that fits the 1400-byte path
// once encapsulated, so vecd never has a packet too big; then the path
// narrows to 1300 bytes below that MSS, vecd is told so, and the uploads
// still complete because vecd answers the too-big segments with ICMP
// "fragmentation needed" and the clients lower their segments.
func TestEncapRoutedServers(t *testing.T) {
	c := startLockedCluster(t, Options{Servers: 1, ClientAddrs: 4})
	r := startRouted(t, c, "--servers", strconv.Itoa(encapServers), "--mtu", strconv.Itoa(encapRoutedMTU),
		"--vips", encapVIPA.String()+","+encapVIPB.String(), "--forwarding", "ipip,gue",
		"--agent", Binary(t, "vec-agent"), "--mss", "auto")
	t.Logf("routed servers: decapsulation %s, MSS %s", r.status["DECAP"], r.status["MSS"])
	backend := Binary(t, "vec-backend")
	for k := 1; k <= encapServers; k++ {
		p := c.Start(r.serverNS(k), fmt.Sprintf("vec-backend-o%d", k), backend, "-name", fmt.Sprintf("o%d", k))
		if err := WaitTCP(r.serverNS(k), r.serverAddr(k)+":"+strconv.Itoa(traffic.HTTPPort), 10*time.Second); err != nil {
			t.Fatalf("%v\n%s", err, p.Output())
		}
	}

	// Part one: the servers' MSS fits the path.
	sums := encapUploadListeners(t, r, 5001, 5002)
	v := startVecd(t, c, encapYAML(c, r, encapRoutedMTU, 5001, 5002), false)
	for _, vip := range []struct {
		addr    netip.Addr
		weights map[string]int
	}{{encapVIPA, encapWeightsA}, {encapVIPB, encapWeightsB}} {
		checkEncapSplit(t, c, vip.addr, vip.weights)
		rep, err := c.Loadgen("-mode", "download", "-target", vip.addr.String(), "-parallel", "4", "-size", "20000000",
			"-seed", "7", "-timeout", "60s")
		if err != nil {
			t.Fatal(err)
		}
		if d := rep.Download; !rep.Passed() || d.OK != 4 {
			t.Errorf("downloads from %s: %d of 4 ok: %v %v", vip.addr, d.OK, rep.Failures, d.Errors)
		} else {
			t.Logf("4 downloads of 20 MB from %s: %.2f s, %.2f Gbit/s, per server %v", vip.addr, rep.DurationSec, d.Gbps, d.PerServer)
		}
	}
	encapUploads(t, c, sums, 5001, 5002)
	st := v.stop()
	t.Logf("part one: vecd encapsulated %d packets, answered %d as too big; drops %v",
		st.total(encapsulatedOf), st.total(tooBigOf), st.Cores[0].Drops)
	if st.total(encapsulatedOf) == 0 {
		t.Errorf("vecd encapsulated no packets: %s", st.brief())
	}
	if n := st.total(tooBigOf); n != 0 {
		t.Errorf("vecd answered %d packets as too big although the servers' MSS fits the path", n)
	}
	for _, reason := range []string{"encap_no_headroom", "encap_too_big", "server_unresolved"} {
		if n := st.drops(reason); n != 0 {
			t.Errorf("%d packets dropped as %s", n, reason)
		}
	}

	// Part two: the router's links to the servers narrow below the
	// servers' MSS plus the overhead.
	for k := 0; k <= encapServers; k++ {
		dev := "veco1"
		if k > 0 {
			dev = fmt.Sprintf("vecop%d", k)
		}
		c.Exec(r.status["ROUTER_NS"], "ip", "link", "set", dev, "mtu", strconv.Itoa(encapNarrowMTU))
	}
	sums = encapUploadListeners(t, r, 5003, 5004)
	v = startVecd(t, c, encapYAML(c, r, encapNarrowMTU, 5003, 5004), false)
	encapUploads(t, c, sums, 5003, 5004)
	st = v.stop()
	t.Logf("part two (path MTU %d): vecd encapsulated %d packets, answered %d as too big; drops %v",
		encapNarrowMTU, st.total(encapsulatedOf), st.total(tooBigOf), st.Cores[0].Drops)
	if st.total(tooBigOf) == 0 {
		t.Errorf("vecd answered no packet as too big: the uploads never met the narrower path, so part two proves nothing")
	}
}

func encapsulatedOf(c apiwire.CoreCounters) uint64 { return c.Encapsulated }
func tooBigOf(c apiwire.CoreCounters) uint64       { return c.TooBig }

// encapUploadListeners starts an upload listener on portA and portB in
// every routed server (one connection each) and returns them by port.
func encapUploadListeners(t *testing.T, r *routed, portA, portB int) map[int][]<-chan uploadSum {
	t.Helper()
	sums := map[int][]<-chan uploadSum{}
	for _, port := range []int{portA, portB} {
		for k := 1; k <= encapServers; k++ {
			sums[port] = append(sums[port], serveUploadSums(t, r.serverNS(k), port))
		}
	}
	return sums
}

// encapUploads sends one upload per routed server to VIP A's upload port
// and as many to VIP B's, all at once, each of its own random body, and
// checks that every server read exactly one of them, byte-identical.
func encapUploads(t *testing.T, c *Cluster, sums map[int][]<-chan uploadSum, portA, portB int) {
	t.Helper()
	type upload struct {
		to   netip.AddrPort
		want [sha256.Size]byte
		got  [sha256.Size]byte
		err  error
	}
	var uploads []*upload
	var wg sync.WaitGroup
	start := time.Now()
	for i, to := range []netip.AddrPort{netip.AddrPortFrom(encapVIPA, uint16(portA)), netip.AddrPortFrom(encapVIPB, uint16(portB))} {
		for k := range encapServers {
			body := make([]byte, encapUploadSize)
			rng := rand.New(rand.NewPCG(uint64(portA), uint64(i*encapServers+k)))
			for j := range body {
				body[j] = byte(rng.Uint32())
			}
			u := &upload{to: to, want: sha256.Sum256(body)}
			uploads = append(uploads, u)
			wg.Add(1)
			go func() {
				defer wg.Done()
				u.got, u.err = uploadFrom(c.ClientNS(), to, body)
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	want := map[[sha256.Size]byte]bool{}
	for _, u := range uploads {
		if u.err != nil || u.got != u.want {
			t.Errorf("upload to %s: %v (checksum %x, want %x)", u.to, u.err, u.got[:4], u.want[:4])
		}
		want[u.want] = true
	}
	for port, chans := range sums {
		for k, ch := range chans {
			select {
			case s := <-ch:
				if s.err != nil || s.n != encapUploadSize || !want[s.sum] {
					t.Errorf("server o%d port %d read %d bytes (%v), checksum %x: not one of the uploads", k+1, port, s.n, s.err, s.sum[:4])
				}
			case <-time.After(10 * time.Second):
				t.Errorf("server o%d got no upload on port %d", k+1, port)
			}
		}
	}
	t.Logf("%d uploads of %d MB through vecd to the routed servers in %.2f s (%.2f Gbit/s)", len(uploads), encapUploadSize>>20,
		elapsed.Seconds(), float64(len(uploads)*encapUploadSize*8)/elapsed.Seconds()/1e9)
}

// checkEncapSplit sends encapRequests HTTP requests to vip and checks
// every server's share against its weight, within 5 points.
func checkEncapSplit(t *testing.T, c *Cluster, vip netip.Addr, weights map[string]int) {
	t.Helper()
	rep, err := c.Loadgen("-mode", "http", "-target", vip.String(), "-n", strconv.Itoa(encapRequests), "-c", "8", "-timeout", "30s")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed() || rep.HTTP.OK != encapRequests {
		t.Fatalf("HTTP to %s: %d of %d ok: %v", vip, rep.HTTP.OK, encapRequests, rep.Failures)
	}
	total := 0
	for _, w := range weights {
		total += w
	}
	for name, w := range weights {
		share, want := float64(rep.HTTP.PerServer[name])/encapRequests, float64(w)/float64(total)
		if share < want-0.05 || share > want+0.05 {
			t.Errorf("%s: %s answered %.1f %% of the requests, its weight is %.1f %%", vip, name, 100*share, 100*want)
		}
	}
	if len(rep.HTTP.PerServer) != len(weights) {
		t.Errorf("%s: answered by %v, want only %v", vip, rep.HTTP.PerServer, weights)
	}
	t.Logf("%s: %d requests, per server %v (weights %v)", vip, encapRequests, rep.HTTP.PerServer, weights)
}

package e2e

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"vec/e2e/traffic"
	"vec/internal/pcapfile"
)

// The helpers below run vecd, the real gateway, on the cluster's gateway
// port and read what it counts. vecd's configuration is generated from
// `netns.sh status`, so no address or MAC of the topology is hard-coded.

// splitTolerance is how far a server's share of new connections may stray
// from its weight's share, relative to that share (±5 %: a server of weight
// 1 in 3:2:1 must get 16.7 % ± 0.8 % of the connections).
const splitTolerance = 0.05

// Timers of the services in the generated configurations: short, so that a
// test can watch closed connections leave the table.
const (
	testFinTimeout   = 2 * time.Second
	testStaleTimeout = 30 * time.Second
	// statsInterval is how often vecd rewrites its live counters.
	statsInterval = 500 * time.Millisecond
)

// testWeights are the weights of servers s1, s2, s3.
var testWeights = []int{3, 2, 1}

// vecdServer is one server entry of a generated configuration. A nil MAC
// leaves the address to vecd's ARP resolution.
type vecdServer struct {
	Name   string
	IP     netip.Addr
	MAC    net.HardwareAddr
	Weight int
}

// vecdService is one service of the cluster's VIP.
type vecdService struct {
	Name    string
	Proto   string // tcp or udp
	Port    int
	Servers []vecdServer
}

// weightedServers returns the cluster's servers with testWeights; withMAC
// says whether their MACs (from status) go into the configuration.
func weightedServers(c *Cluster, withMAC bool) []vecdServer {
	c.t.Helper()
	if len(c.Servers()) != len(testWeights) {
		c.t.Fatalf("the vecd tests want %d servers, the cluster has %d", len(testWeights), len(c.Servers()))
	}
	var out []vecdServer
	for i, s := range c.Servers() {
		srv := vecdServer{Name: s.Name, IP: s.Addr, Weight: testWeights[i]}
		if withMAC {
			srv.MAC = s.MAC
		}
		out = append(out, srv)
	}
	return out
}

// standardServices are the services of most tests: vec-backend's HTTP port
// and its UDP echo, both over s1, s2, s3 with weights 3:2:1.
func standardServices(c *Cluster, withMAC bool) []vecdService {
	servers := weightedServers(c, withMAC)
	return []vecdService{
		{Name: "http", Proto: "tcp", Port: traffic.HTTPPort, Servers: servers},
		{Name: "echo", Proto: "udp", Port: traffic.UDPPort, Servers: servers},
	}
}

// vecdYAML is a vecd configuration for the cluster's first gateway: DPDK's
// net_af_packet on the gateway interface, one worker on core 1, the
// control plane on core 0, the gateway's own address from status and the
// port's MAC (gateway.mac unset).
func vecdYAML(c *Cluster, services []vecdService) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dpdk:\n  eal_args: [\"--no-pci\"]\n  vdevs: [\"net_af_packet0,iface=%s\"]\n", c.GatewayIface())
	b.WriteString("ports:\n  - device: net_af_packet0\n")
	fmt.Fprintf(&b, "gateway:\n  ip: %s\n", c.GatewayAddr())
	b.WriteString("workers:\n  cores: [1]\n  control_core: 0\n  table_capacity: 65536\n")
	b.WriteString("log:\n  level: info\n")
	fmt.Fprintf(&b, "clusters:\n  - vip: %s\n    services:\n", c.VIP())
	for _, s := range services {
		fmt.Fprintf(&b, "      - name: %s\n        protocol: %s\n        port: %d\n", s.Name, s.Proto, s.Port)
		fmt.Fprintf(&b, "        fin_timeout: %s\n        stale_timeout: %s\n        servers:\n", testFinTimeout, testStaleTimeout)
		for _, sv := range s.Servers {
			fmt.Fprintf(&b, "          - {name: %s, ip: %s, weight: %d", sv.Name, sv.IP, sv.Weight)
			if sv.MAC != nil {
				fmt.Fprintf(&b, ", mac: \"%s\"", sv.MAC)
			}
			b.WriteString("}\n")
		}
	}
	return b.String()
}

// requireHugepages stops a test that cannot start DPDK: vecd needs free 2 MB
// hugepages (scripts/setup.sh reserves them).
func requireHugepages(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		SkipOrFail(t, "reading /proc/meminfo: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "HugePages_Free:"); ok {
			if n, _ := strconv.Atoi(strings.TrimSpace(rest)); n < 64 {
				SkipOrFail(t, "vecd needs free hugepages: %d free, want 64 (run scripts/setup.sh)", n)
			}
			return
		}
	}
	SkipOrFail(t, "no HugePages_Free in /proc/meminfo")
}

// vecdProc is a vecd running in the gateway namespace.
type vecdProc struct {
	t     *testing.T
	c     *Cluster
	proc  *Proc
	stats string // the -stats-json file
	live  bool   // started with -stats-interval
}

// missingFeatures maps what vecd prints when it lacks something a test
// relies on to an explanation, so such a test fails saying what is missing.
var missingFeatures = []struct{ output, meaning string }{
	{"flag provided but not defined: -stats-interval", "vecd has no -stats-interval (live counters) yet"},
	{"mac is required", "vecd cannot resolve server MACs by ARP yet: servers configured by IP only are rejected"},
}

// startVecd writes configYAML and runs vecd with it in the gateway
// namespace, with -stats-json (and -stats-interval when live), then waits
// until vecd answers ARP for the VIP with the port's MAC: its worker is
// polling. The process is stopped at cleanup; when the test failed, its
// output is logged then (Start does that).
func startVecd(t *testing.T, c *Cluster, configYAML string, live bool) *vecdProc {
	t.Helper()
	requireHugepages(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "vecd.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	v := &vecdProc{t: t, c: c, stats: filepath.Join(dir, "stats.json"), live: live}
	args := []string{Binary(t, "vecd"), "-config", cfgPath, "-stats-json", v.stats}
	if live {
		args = append(args, "-stats-interval", statsInterval.String())
	}
	v.proc = c.Start(c.GatewayNS(), "vecd", args...)

	deadline := time.Now().Add(30 * time.Second)
	for {
		if !v.proc.Running() {
			v.failExited("vecd exited during start-up")
		}
		macs, err := c.ARPing(c.VIP(), 1)
		if err != nil {
			t.Fatalf("arping the VIP: %v", err)
		}
		if len(macs) > 0 {
			if len(macs) != 1 || macs[0].String() != c.GatewayMAC().String() {
				t.Fatalf("ARP for the VIP answered by %v, want vecd's port MAC %s only", macs, c.GatewayMAC())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("vecd did not answer ARP for the VIP within 30 s\n%s", tail(v.proc.Output(), 40))
		}
	}
	if live {
		// The first live file shows the counters are being written.
		if _, err := v.waitLive(func(vecdCounters) bool { return true }, 5*time.Second); err != nil {
			t.Fatalf("vecd runs with -stats-interval %s but wrote no live counters: %v", statsInterval, err)
		}
	}
	t.Logf("vecd running (pid %d) on %s in %s", v.proc.PID(), c.GatewayIface(), c.GatewayNS())
	return v
}

// failExited fails the test for a vecd that exited, naming a missing
// feature when the output shows one.
func (v *vecdProc) failExited(what string) {
	v.t.Helper()
	v.proc.Wait(5 * time.Second)
	out := v.proc.Output()
	for _, f := range missingFeatures {
		if strings.Contains(out, f.output) {
			v.t.Fatalf("%s: %s\n%s", what, f.meaning, tail(out, 40))
		}
	}
	v.t.Fatalf("%s: %v\n%s", what, v.proc.Wait(0), tail(out, 40))
}

// stop ends vecd with SIGTERM and returns the counters it wrote on exit.
func (v *vecdProc) stop() vecdCounters {
	v.t.Helper()
	if err := v.proc.Stop(); err != nil {
		v.t.Fatalf("vecd did not stop cleanly: %v\n%s", err, tail(v.proc.Output(), 40))
	}
	st, err := readCounters(v.stats)
	if err != nil {
		v.t.Fatalf("vecd's final counters: %v\n%s", err, tail(v.proc.Output(), 40))
	}
	return st
}

// liveCounters reads the counters vecd last wrote while running, and when
// it wrote them.
func (v *vecdProc) liveCounters() (vecdCounters, time.Time, error) {
	if !v.live {
		return vecdCounters{}, time.Time{}, errors.New("vecd was started without -stats-interval")
	}
	fi, err := os.Stat(v.stats)
	if err != nil {
		return vecdCounters{}, time.Time{}, err
	}
	st, err := readCounters(v.stats)
	return st, fi.ModTime(), err
}

// waitLive polls the live counters until ok accepts them and returns them.
func (v *vecdProc) waitLive(ok func(vecdCounters) bool, timeout time.Duration) (vecdCounters, error) {
	deadline := time.Now().Add(timeout)
	var last vecdCounters
	var err error
	for time.Now().Before(deadline) {
		if !v.proc.Running() {
			return last, errors.New("vecd exited")
		}
		if last, _, err = v.liveCounters(); err == nil && ok(last) {
			return last, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return last, fmt.Errorf("after %v: %w", timeout, err)
	}
	return last, fmt.Errorf("not reached after %v; last counters %s", timeout, last.brief())
}

// vecdCounters is the JSON vecd writes with -stats-json (gateway.Counters),
// decoded here without importing the cgo gateway package.
type vecdCounters struct {
	Cores []struct {
		Core         int               `json:"core"`
		RX           uint64            `json:"rx"`
		TX           uint64            `json:"tx"`
		Replies      uint64            `json:"replies"`
		TxFull       uint64            `json:"tx_full"`
		Drops        map[string]uint64 `json:"drops"`
		ExpiredStale uint64            `json:"expired_stale"`
		ExpiredFIN   uint64            `json:"expired_fin"`
		Entries      uint64            `json:"entries"`
	} `json:"cores"`
	Servers []serverCounters `json:"servers"`
	Ports   []struct {
		Device   string `json:"device"`
		IPackets uint64 `json:"ipackets"`
		OPackets uint64 `json:"opackets"`
		IMissed  uint64 `json:"imissed"`
		RxNoMbuf uint64 `json:"rx_nombuf"`
	} `json:"ports"`
}

type serverCounters struct {
	VIP       string `json:"vip"`
	Service   string `json:"service"`
	Server    string `json:"server"`
	IP        string `json:"ip"`
	New       uint64 `json:"new"`
	Active    int64  `json:"active"`
	FIN       int64  `json:"fin"`
	Completed uint64 `json:"completed"`
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
}

func readCounters(path string) (vecdCounters, error) {
	var st vecdCounters
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	if len(st.Cores) == 0 {
		return st, fmt.Errorf("%s lists no worker cores", path)
	}
	return st, nil
}

// entries is the number of connection-table entries over all cores.
func (st vecdCounters) entries() uint64 {
	var n uint64
	for _, c := range st.Cores {
		n += c.Entries
	}
	return n
}

// drops is how many packets all cores dropped for reason.
func (st vecdCounters) drops(reason string) uint64 {
	var n uint64
	for _, c := range st.Cores {
		n += c.Drops[reason]
	}
	return n
}

func (st vecdCounters) expiredFIN() uint64 {
	var n uint64
	for _, c := range st.Cores {
		n += c.ExpiredFIN
	}
	return n
}

// service returns the counters of the servers of one service.
func (st vecdCounters) service(name string) []serverCounters {
	var out []serverCounters
	for _, s := range st.Servers {
		if s.Service == name {
			out = append(out, s)
		}
	}
	return out
}

// server returns one server's counters in one service.
func (st vecdCounters) server(service, name string) (serverCounters, bool) {
	for _, s := range st.service(service) {
		if s.Server == name {
			return s, true
		}
	}
	return serverCounters{}, false
}

// brief is a one-line summary for failure messages.
func (st vecdCounters) brief() string {
	var b strings.Builder
	for _, c := range st.Cores {
		fmt.Fprintf(&b, "core %d: rx %d tx %d replies %d entries %d drops %v; ", c.Core, c.RX, c.TX, c.Replies, c.Entries, c.Drops)
	}
	for _, s := range st.Servers {
		fmt.Fprintf(&b, "%s/%s new %d active %d fin %d completed %d; ", s.Service, s.Server, s.New, s.Active, s.FIN, s.Completed)
	}
	return b.String()
}

// checkSplit fails the test when a server's count strays from its weight's
// share of total by more than splitTolerance, and logs the table.
func checkSplit(t *testing.T, what string, got map[string]int, servers []vecdServer) {
	t.Helper()
	total, weights := 0, 0
	for _, s := range servers {
		total += got[s.Name]
		weights += s.Weight
	}
	for name := range got {
		if !slices.ContainsFunc(servers, func(s vecdServer) bool { return s.Name == name }) {
			t.Errorf("%s: %d went to %q, which is not a server of the service", what, got[name], name)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %d in all:\n  server weight  count  share  weight share", what, total)
	for _, s := range servers {
		want := float64(total) * float64(s.Weight) / float64(weights)
		fmt.Fprintf(&b, "\n  %-6s %6d %6d %5.1f%% %5.1f%%", s.Name, s.Weight, got[s.Name],
			100*float64(got[s.Name])/float64(max(total, 1)), 100*float64(s.Weight)/float64(weights))
		if math.Abs(float64(got[s.Name])-want) > splitTolerance*want {
			t.Errorf("%s: %s got %d of %d, want %.0f ± %.0f (weight %d of %d)", what, s.Name, got[s.Name], total,
				want, splitTolerance*want, s.Weight, weights)
		}
	}
	t.Log(b.String())
}

// capture is tcpdump recording every frame on the gateway's port.
type capture struct {
	t    *testing.T
	proc *Proc
	path string
}

// startCapture runs tcpdump on the gateway interface, in the gateway
// namespace, and waits until it listens. It sees what arrives at the port
// and what vecd sends out of it.
func startCapture(t *testing.T, c *Cluster) *capture {
	t.Helper()
	if _, err := os.Stat("/usr/bin/tcpdump"); err != nil {
		SkipOrFail(t, "needs tcpdump (apt-get install tcpdump; scripts/setup.sh installs it)")
	}
	cp := &capture{t: t, path: filepath.Join(t.TempDir(), "gateway.pcap")}
	// -Z root: tcpdump would otherwise drop to its own user and could not
	// write into the test's directory. Headers are enough (-s 128); a large
	// buffer (-B, KiB) keeps the kernel from dropping frames.
	cp.proc = c.Start(c.GatewayNS(), "tcpdump", "tcpdump", "-i", c.GatewayIface(), "-n", "-s", "128",
		"-B", "32768", "-U", "-Z", "root", "-w", cp.path)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(cp.proc.Output(), "listening on") {
		if !cp.proc.Running() || time.Now().After(deadline) {
			t.Fatalf("tcpdump on %s did not start:\n%s", c.GatewayIface(), cp.proc.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cp
}

var tcpdumpDropped = regexp.MustCompile(`(\d+) packets dropped by kernel`)

// stop ends tcpdump and returns the frames it recorded. A capture that the
// kernel had to drop frames from cannot prove an absence: that fails the
// test.
func (cp *capture) stop() []pcapfile.Packet {
	cp.t.Helper()
	cp.proc.Stop()
	out := cp.proc.Output()
	m := tcpdumpDropped.FindStringSubmatch(out)
	if m == nil {
		cp.t.Fatalf("tcpdump did not report its statistics:\n%s", out)
	}
	if m[1] != "0" {
		cp.t.Errorf("the capture on the gateway port is incomplete: %s", m[0])
	}
	pkts, err := pcapfile.Read(cp.path)
	if err != nil {
		cp.t.Fatalf("reading the capture: %v", err)
	}
	return pkts
}

// gatewayTraffic classifies the frames seen on the gateway's port.
type gatewayTraffic struct {
	ARP int
	// FromClient are client→VIP frames arriving at the gateway;
	// ToServer the same frames sent on by vecd to a server's MAC.
	FromClient, ToServer int
	// SYNsFromClient and SYNsToServer count the TCP SYNs among them.
	SYNsFromClient, SYNsToServer int
	// ServerToClient are IPv4 frames a server sent (source MAC a server's,
	// or source address the VIP): under DSR none may reach the gateway.
	ServerToClient int
	// Other is everything else.
	Other    int
	Examples []string
}

func classifyGatewayTraffic(c *Cluster, pkts []pcapfile.Packet) gatewayTraffic {
	var g gatewayTraffic
	clientMAC, gwMAC := c.Status().Client.MAC.String(), c.GatewayMAC().String()
	serverMACs := map[string]bool{}
	for _, s := range c.Servers() {
		serverMACs[s.MAC.String()] = true
	}
	clientAddrs := map[netip.Addr]bool{}
	for _, a := range c.ClientAddrs() {
		clientAddrs[a] = true
	}
	vip := c.VIP()
	example := func(kind string, f []byte) {
		if len(g.Examples) < 5 {
			g.Examples = append(g.Examples, fmt.Sprintf("%s: % x", kind, f[:min(len(f), 48)]))
		}
	}
	for _, p := range pkts {
		f := p.Data
		if len(f) < 14 {
			g.Other++
			example("runt", f)
			continue
		}
		dst, src := net.HardwareAddr(f[0:6]).String(), net.HardwareAddr(f[6:12]).String()
		switch binary.BigEndian.Uint16(f[12:14]) {
		case etherTypeARP:
			g.ARP++
			continue
		case etherTypeIPv4:
		default:
			g.Other++
			example("not IPv4 or ARP", f)
			continue
		}
		if len(f) < 34 {
			g.Other++
			example("short IPv4", f)
			continue
		}
		ipSrc, ipDst := netip.AddrFrom4([4]byte(f[26:30])), netip.AddrFrom4([4]byte(f[30:34]))
		syn := false
		if ihl := int(f[14]&0x0f) * 4; f[23] == 6 && len(f) >= 14+ihl+14 {
			syn = f[14+ihl+13]&0x02 != 0
		}
		switch {
		case serverMACs[src] || ipSrc == vip:
			g.ServerToClient++
			example("server to client", f)
		case src == clientMAC && dst == gwMAC && clientAddrs[ipSrc] && ipDst == vip:
			g.FromClient++
			if syn {
				g.SYNsFromClient++
			}
		case src == gwMAC && serverMACs[dst] && clientAddrs[ipSrc] && ipDst == vip:
			g.ToServer++
			if syn {
				g.SYNsToServer++
			}
		default:
			g.Other++
			example("other IPv4", f)
		}
	}
	return g
}

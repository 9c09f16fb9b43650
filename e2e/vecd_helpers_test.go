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
	"syscall"
	"testing"
	"time"

	"vec/control/apiwire"
	"vec/e2e/traffic"
	"vec/fastpath/header"
	"vec/internal/pcapfile"
	"vec/internal/testenv"
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

// startLockedCluster is StartCluster under clusterLock; the lock outlives
// the cluster's removal (cleanups run last-registered first). Users of the
// cluster that do not take the lock can still tear it down under a running
// test: at the end the test checks that its gateway namespace is the one it
// started with, so such a collision fails saying so.
func startLockedCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	RequireRoot(t)
	lockCluster(t)
	c := StartCluster(t, opts)
	ns := c.GatewayNS()
	before, err := namespaceID(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if now, err := namespaceID(ns); err != nil || now != before {
			t.Errorf("namespace %s was removed or replaced while this test ran (%v): another user of the cluster tore it down, so the results above may not be vecd's", ns, err)
		}
	})
	return c
}

// namespaceID identifies the network namespace named ns: the inode that
// `ip netns add` bind-mounts at /run/netns/<ns>.
func namespaceID(ns string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+ns, &st); err != nil {
		return 0, fmt.Errorf("network namespace %s: %w", ns, err)
	}
	return st.Ino, nil
}

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

// vecdYAML is a vecd configuration for the cluster's first gateway: its
// port as netns.sh set it up (PortYAML), one worker on core 1, the
// control plane on core 0, the gateway's own address from status and the
// port's MAC (gateway.mac unset).
func vecdYAML(c *Cluster, services []vecdService) string {
	var b strings.Builder
	b.WriteString(PortYAML(c.GatewayN(1)))
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

// requireHugepages stops a test that cannot start DPDK (vecd needs free
// hugepages; scripts/setup.sh reserves them).
func requireHugepages(t testing.TB) {
	t.Helper()
	testenv.RequireDPDK(t)
}

// vecdProc is a vecd running in the gateway namespace.
type vecdProc struct {
	t     testing.TB
	c     *Cluster
	proc  *Proc
	stats string // the -stats-json file
	live  bool   // started with -stats-interval
	// portRXBefore is the kernel's count of frames the gateway interface
	// had received before vecd started.
	portRXBefore uint64
}

// portRX is the kernel's count of frames the gateway interface received.
func portRX(c *Cluster) (uint64, error) {
	return ifaceStat(c, c.GatewayNS(), c.GatewayIface(), "rx_packets")
}

// ifaceStat reads one of the kernel's counters of interface iface in
// namespace ns (/sys/class/net/<iface>/statistics/<stat>).
func ifaceStat(c *Cluster, ns, iface, stat string) (uint64, error) {
	out, err := c.ExecErr(ns, "cat", "/sys/class/net/"+iface+"/statistics/"+stat)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(out), 10, 64)
}

// startVecd writes configYAML and runs vecd with it in the gateway
// namespace, with -stats-json (and -stats-interval when live), then waits
// until vecd answers ARP for the VIP with the port's MAC: its worker is
// polling. The process is stopped at cleanup; when the test failed, its
// output is logged then (Start does that).
func startVecd(t testing.TB, c *Cluster, configYAML string, live bool) *vecdProc {
	t.Helper()
	requireHugepages(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "vecd.yaml")
	err := os.WriteFile(cfgPath, []byte(configYAML), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	v := &vecdProc{t: t, c: c, stats: filepath.Join(dir, "stats.json"), live: live}
	if v.portRXBefore, err = portRX(c); err != nil {
		t.Fatal(err)
	}
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
		// With -stats-interval, counters must appear while vecd runs.
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, _, err := v.liveCounters()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("vecd runs with -stats-interval %s but wrote no live counters: %v", statsInterval, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("vecd running (pid %d) on %s in %s", v.proc.PID(), c.GatewayIface(), c.GatewayNS())
	return v
}

// failExited fails the test for a vecd that exited, with its output.
func (v *vecdProc) failExited(what string) {
	v.t.Helper()
	err := v.proc.Wait(5 * time.Second)
	v.t.Fatalf("%s: %v\n%s", what, err, tail(v.proc.Output(), 40))
}

// stop ends vecd with SIGTERM and returns the counters it wrote on exit.
// It logs how many of the frames that reached the gateway interface while
// vecd ran never reached vecd: DPDK's af_packet port does not count the
// frames its packet socket's ring had no room for.
func (v *vecdProc) stop() vecdCounters {
	v.t.Helper()
	if err := v.proc.Stop(); err != nil {
		v.t.Fatalf("vecd did not stop cleanly: %v\n%s", err, tail(v.proc.Output(), 40))
	}
	st, err := readCounters(v.stats)
	if err != nil {
		v.t.Fatalf("vecd's final counters: %v\n%s", err, tail(v.proc.Output(), 40))
	}
	if after, err := portRX(v.c); err == nil {
		var rx uint64
		for _, c := range st.Cores {
			rx += c.RX
		}
		arrived := after - v.portRXBefore
		if arrived > rx {
			v.t.Logf("%s received %d frames from just before vecd's start to its end, vecd %d: %d (%.1f %%) never reached vecd",
				v.c.GatewayIface(), arrived, rx, arrived-rx, 100*float64(arrived-rx)/float64(arrived))
		} else {
			v.t.Logf("%s received %d frames from just before vecd's start to its end, vecd %d", v.c.GatewayIface(), arrived, rx)
		}
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

// vecdCounters is what vecd writes with -stats-json and serves as GET
// /v1/counters (apiwire.Counters), with the helpers the tests read it by.
type vecdCounters struct {
	apiwire.Counters
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

// total adds one counter over the cores.
func (st vecdCounters) total(counter func(c apiwire.CoreCounters) uint64) uint64 {
	var n uint64
	for _, c := range st.Cores {
		n += counter(c)
	}
	return n
}

// tx, entries, installed and drops are those counters over all cores
// (drops: for reason).
func (st vecdCounters) tx() uint64 {
	return st.total(func(c apiwire.CoreCounters) uint64 { return c.TX })
}
func (st vecdCounters) entries() uint64 {
	return st.total(func(c apiwire.CoreCounters) uint64 { return c.Entries })
}
func (st vecdCounters) installed() uint64 {
	return st.total(func(c apiwire.CoreCounters) uint64 { return c.Installed })
}
func (st vecdCounters) drops(reason string) uint64 {
	return st.total(func(c apiwire.CoreCounters) uint64 { return c.Drops[reason] })
}

// mode is the workers' common mode, or their modes joined by "/" when they
// differ.
func (st vecdCounters) mode() string {
	var modes []string
	for _, c := range st.Cores {
		if !slices.Contains(modes, c.Mode) {
			modes = append(modes, c.Mode)
		}
	}
	return strings.Join(modes, "/")
}

// activePerServer is each server's live connections (the Active gauge).
func (st vecdCounters) activePerServer() map[string]int64 {
	out := map[string]int64{}
	for _, s := range st.Servers {
		out[s.Server] += s.Active
	}
	return out
}

// closedEntries counts entries that left the table because their FIN timer
// expired or a RST ended them.
func (st vecdCounters) closedEntries() (expiredFIN, reset uint64) {
	for _, c := range st.Cores {
		expiredFIN += c.ExpiredFIN
		reset += c.Resets
	}
	return expiredFIN, reset
}

// service returns the counters of the servers of one service.
func (st vecdCounters) service(name string) []apiwire.ServerCounters {
	var out []apiwire.ServerCounters
	for _, s := range st.Servers {
		if s.Service == name {
			out = append(out, s)
		}
	}
	return out
}

// server returns one server's counters in one service.
func (st vecdCounters) server(service, name string) (apiwire.ServerCounters, bool) {
	for _, s := range st.service(service) {
		if s.Server == name {
			return s, true
		}
	}
	return apiwire.ServerCounters{}, false
}

// brief is a one-line summary for failure messages.
func (st vecdCounters) brief() string {
	var b strings.Builder
	for _, c := range st.Cores {
		fmt.Fprintf(&b, "core %d %s: rx %d tx %d replies %d entries %d installed %d (existing %d, full %d) expired fin %d stale %d evicted %d resets %d drops %v; ",
			c.Core, c.Mode, c.RX, c.TX, c.Replies, c.Entries, c.Installed, c.InstallExisting, c.InstallFull,
			c.ExpiredFIN, c.ExpiredStale, c.EvictedFIN, c.Resets, c.Drops)
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

// startCapture runs tcpdump on the bridge's end of the gateway's veth and
// waits until it listens. It sees what the bridge hands the port and what
// vecd sends out of it. Not on the port itself: with net_af_xdp the frames
// reach vecd before the kernel's capture taps there could see them.
func startCapture(t *testing.T, c *Cluster) *capture {
	t.Helper()
	cp := &capture{t: t, path: filepath.Join(t.TempDir(), "gateway.pcap")}
	// Headers are enough (-s 128); a large buffer (-B, KiB) keeps the
	// kernel from dropping frames.
	port := fmt.Sprintf("vecpg%d", c.GatewayN(1).Index)
	cp.proc = startTcpdump(t, c.Status().BridgeNS, port, cp.path, "-s", "128", "-B", "32768")
	return cp
}

// startTcpdump runs tcpdump in namespace ns, recording the frames on iface
// into the file path with the further options and filter args, and waits
// until it listens. -Z root: tcpdump would otherwise drop to its own user
// and could not write into the test's directory; --immediate-mode hands
// every frame over at once, so none is still in the ring when tcpdump
// stops.
func startTcpdump(t testing.TB, ns, iface, path string, args ...string) *Proc {
	t.Helper()
	if _, err := os.Stat("/usr/bin/tcpdump"); err != nil {
		SkipOrFail(t, "needs tcpdump (apt-get install tcpdump; scripts/setup.sh installs it)")
	}
	proc := Start(t, ns, "tcpdump-"+iface, append([]string{"tcpdump", "-i", iface, "-n", "--immediate-mode", "-U",
		"-Z", "root", "-w", path}, args...)...)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(proc.Output(), "listening on") {
		if !proc.Running() || time.Now().After(deadline) {
			t.Fatalf("tcpdump on %s did not start:\n%s", iface, proc.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return proc
}

var tcpdumpStats = regexp.MustCompile(`(\d+) packets captured\n(\d+) packets received by filter\n(\d+) packets dropped by kernel`)

// stop ends tcpdump and returns the frames it recorded. A capture that
// lost frames (dropped by the kernel, or left unread) cannot prove an
// absence: that fails the test.
func (cp *capture) stop() []pcapfile.Packet {
	cp.t.Helper()
	cp.proc.Stop()
	out := cp.proc.Output()
	m := tcpdumpStats.FindStringSubmatch(out)
	if m == nil {
		cp.t.Fatalf("tcpdump did not report its statistics:\n%s", out)
	}
	if m[1] != m[2] || m[3] != "0" {
		cp.t.Errorf("the capture on the gateway port is incomplete:\n%s", m[0])
	}
	pkts, err := pcapfile.Read(cp.path)
	if err != nil {
		cp.t.Fatalf("reading the capture: %v", err)
	}
	return pkts
}

// gatewayTraffic classifies the frames startCapture saw pass between the
// bridge and the gateway's port.
type gatewayTraffic struct {
	ARP int
	// FromClient are client→VIP frames arriving at the gateway;
	// ToServer the same frames sent on by vecd to a server's MAC.
	FromClient, ToServer int
	// SYNsFromClient and SYNsToServer count the TCP SYNs among them.
	SYNsFromClient, SYNsToServer int
	// Connections counts the distinct connection attempts among the
	// client's SYNs (address, port and initial sequence number); Reused
	// those that reused the addresses and ports of an earlier one (a
	// TIME_WAIT port taken again under tcp_tw_reuse). Retransmitted SYNs
	// count once.
	Connections, Reused int
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
	// client SYNs: 4-tuple bytes (addresses and ports) → initial sequence numbers
	synISNs := map[string][]uint32{}
	example := func(kind string, f []byte) {
		if len(g.Examples) < 5 {
			g.Examples = append(g.Examples, fmt.Sprintf("%s: % x", kind, f[:min(len(f), 48)]))
		}
	}
	for _, p := range pkts {
		f := header.Ethernet(p.Data)
		if !f.IsValid() {
			g.Other++
			example("runt", f)
			continue
		}
		dst, src := net.HardwareAddr(f.Destination()).String(), net.HardwareAddr(f.Source()).String()
		switch f.Type() {
		case header.EtherTypeARP:
			g.ARP++
			continue
		case header.EtherTypeIPv4:
		default:
			g.Other++
			example("not IPv4 or ARP", f)
			continue
		}
		ip := header.IPv4(f.Payload())
		if len(ip) < header.IPv4MinHeaderLen {
			g.Other++
			example("short IPv4", f)
			continue
		}
		ipSrc, ipDst := ip.SourceAddr(), ip.DestinationAddr()
		syn := false
		var tuple string
		var isn uint32
		if tcp := header.TCP(ip[min(ip.HeaderLen(), len(ip)):]); ip.Protocol() == header.TCPProtocolNumber && len(tcp) > header.TCPFlagsOffset {
			syn = tcp.Flags()&(header.TCPFlagSYN|header.TCPFlagACK) == header.TCPFlagSYN
			tuple = string(ip.Addresses()) + string(tcp.Ports())
			isn = tcp.SequenceNumber()
		}
		switch {
		case serverMACs[src] || ipSrc == vip:
			g.ServerToClient++
			example("server to client", f)
		case src == clientMAC && dst == gwMAC && clientAddrs[ipSrc] && ipDst == vip:
			g.FromClient++
			if syn {
				g.SYNsFromClient++
				switch isns := synISNs[tuple]; {
				case slices.Contains(isns, isn):
				case len(isns) > 0:
					g.Connections++
					g.Reused++
					synISNs[tuple] = append(isns, isn)
				default:
					g.Connections++
					synISNs[tuple] = []uint32{isn}
				}
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

// TestClassifyGatewayTraffic checks the capture classification the DSR
// assertion relies on, on hand-made frames (no root needed).
func TestClassifyGatewayTraffic(t *testing.T) {
	st, err := ParseStatus(sampleStatus)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, status: st}
	client, vip := st.Client.Addrs[0], st.VIPs[0]
	tcpFrame := func(dst, src net.HardwareAddr, ipSrc, ipDst netip.Addr, sport, dport uint16, flags byte, seq uint32) []byte {
		f := header.Ethernet(make([]byte, header.EthernetHeaderLen+header.IPv4MinHeaderLen+header.TCPMinHeaderLen))
		f.SetDestination(dst)
		f.SetSource(src)
		f.SetType(header.EtherTypeIPv4)
		ip := header.IPv4(f.Payload())
		ip.SetHeaderLen(header.IPv4MinHeaderLen)
		ip.SetProtocol(header.TCPProtocolNumber)
		ip.SetSource(binary.BigEndian.Uint32(ipSrc.AsSlice()))
		ip.SetDestination(binary.BigEndian.Uint32(ipDst.AsSlice()))
		tcp := header.TCP(ip[header.IPv4MinHeaderLen:])
		tcp.SetSourcePort(sport)
		tcp.SetDestinationPort(dport)
		tcp.SetSequenceNumber(seq)
		tcp.SetFlags(flags)
		return f
	}
	const syn, ack = header.TCPFlagSYN, header.TCPFlagACK
	gw, cl, s1 := st.Gateways[0].MAC, st.Client.MAC, st.Servers[0].MAC
	arp := header.Ethernet(make([]byte, header.EthernetHeaderLen+header.ARPIPv4Len))
	arp.SetType(header.EtherTypeARP)
	frames := [][]byte{
		arp,
		tcpFrame(gw, cl, client, vip, 40000, 80, syn, 1),                // a connection
		tcpFrame(gw, cl, client, vip, 40000, 80, syn, 1),                // its SYN retransmitted
		tcpFrame(gw, cl, client, vip, 40000, 80, ack, 2),                // its ACK
		tcpFrame(gw, cl, client, vip, 40000, 80, syn, 9),                // the ports reused
		tcpFrame(gw, cl, client, vip, 40001, 80, syn, 1),                // another connection
		tcpFrame(s1, gw, client, vip, 40001, 80, syn, 1),                // vecd's copy to s1
		tcpFrame(cl, s1, vip, client, 80, 40001, syn|ack, 5),            // s1's SYN-ACK: must not be here
		tcpFrame(gw, cl, client, st.Servers[0].Addr, 40002, 80, syn, 1), // not for the VIP
	}
	var pkts []pcapfile.Packet
	for _, f := range frames {
		pkts = append(pkts, pcapfile.Packet{Data: f})
	}
	g := classifyGatewayTraffic(c, pkts)
	want := gatewayTraffic{ARP: 1, FromClient: 5, ToServer: 1, SYNsFromClient: 4, SYNsToServer: 1,
		Connections: 3, Reused: 1, ServerToClient: 1, Other: 1}
	g.Examples = nil
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Errorf("classified %+v, want %+v", g, want)
	}
}

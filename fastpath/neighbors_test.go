package fastpath

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

// arpConfig: the TCP service's two servers are given by IP only.
func arpConfig(nb *Neighbors, resolved ...bool) *Config {
	cfg := testConfig()
	cfg.Neighbors = nb
	cfg.Services[0].StaleTimeout = 10 * time.Minute // outlives the neighbor timers below
	for i := range cfg.Services[0].Servers {
		cfg.Services[0].Servers[i].MAC = [6]byte{}
		cfg.Services[0].Servers[i].Resolved = i < len(resolved) && resolved[i]
	}
	return cfg
}

var (
	s1IP  = netip.MustParseAddr("10.0.0.11")
	s1MAC = pktbuild.MAC{0x02, 0xaa, 0, 0, 0, 0x11}
)

func TestServerResolvedByARP(t *testing.T) {
	nb := NewNeighbors(8)
	h := newHarness(t, arpConfig(nb), 16)

	// Nobody has answered: no new connections, counted as unresolved.
	if v := h.send(pktbuild.TCP(tcpFlow(1), pktbuild.SYN, 1, 0, nil)); v != DropVerdict(DropServerUnresolved) {
		t.Fatalf("SYN before resolution: %v", v)
	}
	// The core asks both servers, from the gateway's MAC and address.
	frames := [][]byte{make([]byte, NeighborRequestLen), make([]byte, NeighborRequestLen), make([]byte, NeighborRequestLen)}
	if n := h.core.Snapshot().WriteNeighborRequests(frames, h.clock.Now()); n != 2 {
		t.Fatalf("%d ARP requests, want 2", n)
	}
	want := pktbuild.ARP(1, pktbuild.Broadcast, gwMAC, gwIP, s1IP, pktbuild.MAC{})
	if !bytes.Equal(frames[0][:ARPRequestLen], want) {
		t.Fatalf("ARP request\n got %x\nwant %x", frames[0][:ARPRequestLen], want)
	}
	// Server 1 answers; the reply is consumed.
	reply := pktbuild.ARP(2, gwMAC, s1MAC, s1IP, gwIP, gwMAC)
	if v := h.send(reply); v != VerdictConsumed {
		t.Fatalf("ARP reply: %v", v)
	}
	if got := nb.ResolvedIPs(h.clock.Now()); !got[s1IP] || len(got) != 2 || got[netip.MustParseAddr("10.0.0.12")] {
		t.Fatalf("resolved %v", got)
	}
	// The control plane notices and compiles a snapshot saying so.
	snap, err := NewSnapshot(arpConfig(nb, true, false))
	if err != nil {
		t.Fatal(err)
	}
	h.core.SetSnapshot(snap)
	p := pktbuild.TCP(tcpFlow(2), pktbuild.SYN, 1, 0, nil)
	if v := h.send(p); v != VerdictForward || !bytes.Equal(header.Ethernet(p).Destination(), s1MAC[:]) {
		t.Fatalf("SYN after resolution: %v to %x", v, header.Ethernet(p).Destination())
	}
	if v := h.send(pktbuild.TCP(tcpFlow(2), pktbuild.ACK, 2, 1, nil)); v != VerdictForward {
		t.Fatalf("handshake ACK: %v", v)
	}
	// Only server 2 still needs asking; server 1 again after the refresh interval.
	if n := snap.WriteNeighborRequests(frames, h.clock.Now()); n != 1 {
		t.Fatalf("%d requests with one server resolved, want 1", n)
	}
	h.clock.Advance(NeighborRefreshInterval)
	if n := snap.WriteNeighborRequests(frames, h.clock.Now()); n != 2 {
		t.Fatalf("%d requests at the refresh interval, want 2", n)
	}
	// A server that stops answering is unresolved again, but its open
	// connection keeps the MAC it had.
	h.clock.Advance(NeighborStaleAfter)
	if nb.ResolvedIPs(h.clock.Now())[s1IP] {
		t.Fatal("server still resolved after missing every refresh")
	}
	h.core.SetSnapshot(mustSnapshot(t, arpConfig(nb)))
	data := pktbuild.TCP(tcpFlow(2), pktbuild.ACK, 2, 1, nil)
	if v := h.send(data); v != VerdictForward || !bytes.Equal(header.Ethernet(data).Destination(), s1MAC[:]) {
		t.Fatalf("open connection after the server went stale: %v to %x", v, header.Ethernet(data).Destination())
	}
	if v := h.send(pktbuild.TCP(tcpFlow(3), pktbuild.SYN, 1, 0, nil)); v != DropVerdict(DropServerUnresolved) {
		t.Fatalf("new connection to a stale server: %v", v)
	}
}

// An ARP request from a server both teaches its MAC and is answered.
func TestARPRequestFromServerTeachesAndIsAnswered(t *testing.T) {
	nb := NewNeighbors(8)
	h := newHarness(t, arpConfig(nb), 16)
	req := pktbuild.ARP(1, pktbuild.Broadcast, s1MAC, s1IP, gwIP, pktbuild.MAC{})
	if v := h.send(req); v != VerdictReply {
		t.Fatalf("server's ARP request for the gateway: %v", v)
	}
	if !nb.ResolvedIPs(h.clock.Now())[s1IP] {
		t.Fatal("MAC not learned from the request")
	}
	// ARP from an address that is not a server teaches nothing.
	stranger := pktbuild.ARP(2, gwMAC, clientMA, client, gwIP, gwMAC)
	if v := h.send(stranger); v != DropVerdict(DropARPIgnored) {
		t.Fatalf("stranger's reply: %v", v)
	}
	if _, known := nb.ResolvedIPs(h.clock.Now())[client]; known {
		t.Fatal("a non-server address entered the neighbor table")
	}
}

func TestSnapshotNeedsNeighborsForServersWithoutMAC(t *testing.T) {
	if _, err := NewSnapshot(arpConfig(nil)); err == nil {
		t.Fatal("servers without MAC accepted without a neighbor table")
	}
	cfg := arpConfig(NewNeighbors(8))
	cfg.GatewayIP = netip.Addr{}
	if _, err := NewSnapshot(cfg); err == nil {
		t.Fatal("servers without MAC accepted without a gateway address to ask from")
	}
	if _, err := NewSnapshot(arpConfig(NewNeighbors(1))); err == nil {
		t.Fatal("two servers fit a one-slot neighbor table")
	}
}

func mustSnapshot(t *testing.T, cfg *Config) *Snapshot {
	t.Helper()
	s, err := NewSnapshot(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Learning a server's MAC signals the control plane once; hearing the same
// MAC again does not, a new MAC does.
func TestNeighborsSignalWhatTheyLearn(t *testing.T) {
	nb := NewNeighbors(8)
	h := newHarness(t, arpConfig(nb), 16)
	select {
	case <-nb.Learned():
		t.Fatal("signalled before any ARP reply")
	default:
	}
	reply := pktbuild.ARP(2, gwMAC, s1MAC, s1IP, gwIP, gwMAC)
	h.send(bytes.Clone(reply))
	select {
	case <-nb.Learned():
	default:
		t.Fatal("no signal after the server's first reply")
	}
	h.send(bytes.Clone(reply))
	select {
	case <-nb.Learned():
		t.Fatal("signalled again for the same MAC")
	default:
	}
	moved := pktbuild.ARP(2, gwMAC, pktbuild.MAC{0x02, 0xbb, 0, 0, 0, 0x11}, s1IP, gwIP, gwMAC)
	h.send(moved)
	select {
	case <-nb.Learned():
	default:
		t.Fatal("no signal after the server's MAC changed")
	}
}

// Slots of servers no snapshot uses any more are reused: over a gateway's
// life more distinct servers than the table holds can come and go, and a
// reused slot starts unresolved.
func TestNeighborSlotsAreReused(t *testing.T) {
	nb := NewNeighbors(2)
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}) }
	a, errA := nb.slot(ip(1))
	_, errB := nb.slot(ip(2))
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	nb.learn(a, s1MAC[:], 1)
	if _, err := nb.slot(ip(3)); err == nil {
		t.Fatal("a third address fit a table of two")
	}
	nb.Retain(map[netip.Addr]bool{ip(2): true}) // server 1 was removed
	c, err := nb.slot(ip(3))
	if err != nil || c != a {
		t.Fatalf("slot for a new server after one was removed: %d, %v (want the freed %d)", c, err, a)
	}
	if nb.ResolvedIPs(1)[ip(3)] {
		t.Fatal("a reused slot kept the old server's MAC")
	}
	if _, gone := nb.ResolvedIPs(1)[ip(1)]; gone {
		t.Fatal("the removed server is still tracked")
	}
}

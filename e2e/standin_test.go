package e2e

import (
	"errors"
	"hash/fnv"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"vec/fastpath/header"
)

// standIn plays vecd's part on the gateway interface with a packet socket,
// as net_af_packet does: it answers ARP for the VIP and the gateway address
// with the interface's MAC and sends every IPv4 frame for the VIP on to a
// server chosen by a hash of the flow, rewriting only the two MAC addresses.
// It keeps no connection state. It proves the topology carries DSR before
// vecd exists: frames reach the servers through the bridge, replies bypass
// the gateway, and checksums survive a packet socket.
type standIn struct {
	file    *os.File
	mac     net.HardwareAddr
	answers map[[4]byte]bool // addresses it answers ARP for
	vip     [4]byte
	servers []net.HardwareAddr
	wg      sync.WaitGroup
	closing atomic.Bool

	arpReplies     atomic.Int64
	forwarded      atomic.Int64
	forwardedBytes atomic.Int64
	// fromVIP counts frames with the VIP as IPv4 source that reached the
	// gateway: server replies, which DSR sends straight to the client.
	fromVIP atomic.Int64
}

const packetOutgoing = 4 // PACKET_OUTGOING: a frame this host sent

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func startStandIn(t *testing.T, c *Cluster) *standIn {
	t.Helper()
	gw := c.GatewayN(1)
	s := &standIn{mac: gw.MAC, vip: c.VIP().As4(), answers: map[[4]byte]bool{c.VIP().As4(): true, gw.Addr.As4(): true}}
	for _, srv := range c.Servers() {
		s.servers = append(s.servers, srv.MAC)
	}
	var fd int
	err := InNetns(gw.NS, func() error {
		ifi, err := net.InterfaceByName(gw.Iface)
		if err != nil {
			return err
		}
		fd, err = syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, int(htons(syscall.ETH_P_ALL)))
		if err != nil {
			return err
		}
		if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(syscall.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			syscall.Close(fd)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("packet socket on %s: %v", gw.Iface, err)
	}
	// Non-blocking, so the runtime poller serves it and Close ends the loop.
	s.file = os.NewFile(uintptr(fd), gw.Iface+"-packet")
	s.wg.Add(1)
	go s.loop(t)
	t.Cleanup(func() {
		s.closing.Store(true)
		s.file.Close()
		s.wg.Wait()
	})
	return s
}

func (s *standIn) loop(t *testing.T) {
	defer s.wg.Done()
	rc, err := s.file.SyscallConn()
	if err != nil {
		t.Errorf("stand-in: %v", err)
		return
	}
	buf := make([]byte, 65536)
	for {
		var n int
		var from syscall.Sockaddr
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, from, rerr = syscall.Recvfrom(int(fd), buf, 0)
			return !errors.Is(rerr, syscall.EAGAIN)
		})
		if err != nil || rerr != nil {
			if !s.closing.Load() {
				t.Errorf("stand-in read: %v %v", err, rerr)
			}
			return
		}
		if ll, ok := from.(*syscall.SockaddrLinklayer); ok && ll.Pkttype == packetOutgoing {
			continue
		}
		if out := s.handle(buf[:n]); out != nil {
			if _, err := s.file.Write(out); err != nil {
				t.Errorf("stand-in write: %v", err)
				return
			}
		}
	}
}

// handle returns the frame to send for frame f, or nil.
func (s *standIn) handle(f []byte) []byte {
	eth := header.Ethernet(f)
	if !eth.IsValid() {
		return nil
	}
	switch eth.Type() {
	case header.EtherTypeARP:
		return s.arp(eth)
	case header.EtherTypeIPv4:
		ip := header.IPv4(eth.Payload())
		if len(ip) < header.IPv4MinHeaderLen {
			return nil
		}
		if ip.SourceAddr().As4() == s.vip {
			s.fromVIP.Add(1)
		}
		if ip.DestinationAddr().As4() != s.vip || string(eth.Destination()) != string(s.mac) {
			return nil
		}
		srv := s.servers[s.flowHash(ip)%uint32(len(s.servers))]
		eth.SetDestination(srv)
		eth.SetSource(s.mac)
		s.forwarded.Add(1)
		s.forwardedBytes.Add(int64(len(f)))
		return f
	}
	return nil
}

// flowHash hashes protocol, addresses and ports (when the packet has them):
// every packet of one flow goes to the same server.
func (s *standIn) flowHash(ip header.IPv4) uint32 {
	h := fnv.New32a()
	ihl := ip.HeaderLen()
	proto := ip.Protocol()
	h.Write([]byte{proto})
	h.Write(ip.Addresses())
	if (proto == header.TCPProtocolNumber || proto == header.UDPProtocolNumber) && len(ip) >= ihl+4 {
		h.Write(header.TCP(ip[ihl:]).Ports()) // UDP's ports are where TCP's are
	}
	return h.Sum32()
}

func (s *standIn) arp(eth header.Ethernet) []byte {
	a := header.ARP(eth.Payload())
	// Ethernet/IPv4 request for an address the gateway owns.
	if len(a) < header.ARPIPv4Len || a.Op() != header.ARPRequest || !s.answers[a.TargetAddr().As4()] {
		return nil
	}
	out := header.Ethernet(make([]byte, header.EthernetHeaderLen+header.ARPIPv4Len))
	out.SetDestination(a.SenderMAC()) // to the asker
	out.SetSource(s.mac)
	out.SetType(header.EtherTypeARP)
	r := header.ARP(out.Payload())
	copy(r, a[:header.ARPOpOffset]) // htype, ptype, hlen, plen as asked
	r.SetOp(header.ARPReply)
	r.SetSenderMAC(s.mac)
	r.SetSenderIP(a.TargetIP())
	r.SetTargetMAC(a.SenderMAC())
	r.SetTargetIP(a.SenderIP())
	s.arpReplies.Add(1)
	return out
}

func TestDSRThroughPacketSocketStandIn(t *testing.T) {
	c := StartCluster(t, Options{Servers: 3, Backends: true})
	gw := startStandIn(t, c)

	macs, err := c.ARPing(c.VIP(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(macs) != 1 || macs[0].String() != c.GatewayMAC().String() {
		t.Fatalf("ARP for the VIP answered by %v, want the gateway %s only", macs, c.GatewayMAC())
	}

	http := mustLoadgen(t, c, "-mode", "http", "-n", "600", "-c", "16")
	for _, s := range c.Servers() {
		if http.HTTP.PerServer[s.Name] == 0 {
			t.Errorf("no connection reached %s: %v", s.Name, http.HTTP.PerServer)
		}
	}

	udp := mustLoadgen(t, c, "-mode", "udp", "-n", "300", "-flows", "30")
	// mustLoadgen already checked: every echo came from the VIP, no flow
	// split over servers.
	if udp.UDP.Received != 300 {
		t.Errorf("udp: %+v", udp.UDP)
	}

	before := gw.forwardedBytes.Load()
	dl := mustLoadgen(t, c, "-mode", "download", "-parallel", "6", "-size", "20000000")
	through := gw.forwardedBytes.Load() - before
	// Only the client's side (requests and ACKs) crosses the gateway; the
	// 120 MB of replies go from the servers to the client directly.
	if through <= 0 || through*10 > dl.Download.Bytes {
		t.Errorf("the gateway carried %d bytes of a %d byte download", through, dl.Download.Bytes)
	}
	if n := gw.fromVIP.Load(); n != 0 {
		t.Errorf("%d server replies passed the gateway", n)
	}

	// The stand-in forwards even what vecd must drop: a server answers the
	// stray segment with RST. With vecd the same run must see nothing.
	rep, err := c.Loadgen("-mode", "stray", "-reply-wait", "500ms")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Stray.Answered || !strings.Contains(rep.Stray.Replies[0].Flags, "RST") ||
		rep.Stray.Replies[0].From != netip.AddrFrom4(gw.vip).String() {
		t.Errorf("stray through the stand-in: %+v", rep.Stray)
	}
	t.Logf("stand-in: %d ARP replies, %d frames forwarded (%d bytes)", gw.arpReplies.Load(), gw.forwarded.Load(), gw.forwardedBytes.Load())
}

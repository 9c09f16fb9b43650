package header

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

// The frames below are written out byte by byte, independently of the
// offsets in header.go, so these tests pin the offsets down: a view that
// reads or writes the wrong bytes fails here.

// tcpSYN: 02:00:00:00:00:c1 → 02:00:00:00:00:01, IPv4 10.9.8.7 → 10.1.0.100
// (ID 0x1234, DF, TTL 64, checksum 0xbeef), TCP 40000 → 80, seq 1, ack 2,
// SYN, window 0xffff, checksum 0xcafe.
const tcpSYN = "020000000001 0200000000c1 0800" +
	"45 00 0028 1234 4000 40 06 beef 0a090807 0a010064" +
	"9c40 0050 00000001 00000002 50 02 ffff cafe 0000"

// arpRequest: who has 10.1.0.100, tell 10.9.8.7 (02:00:00:00:00:c1).
const arpRequest = "ffffffffffff 0200000000c1 0806" +
	"0001 0800 06 04 0001 0200000000c1 0a090807 000000000000 0a010064"

// udpQuery: 10.9.8.7:5353 → 10.1.0.100:53, 5 bytes of payload.
const udpQuery = "020000000001 0200000000c1 0800" +
	"45 00 0021 0000 0000 40 11 0000 0a090807 0a010064" +
	"14e9 0035 000d 0000 7175657279"

func frame(t *testing.T, h string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	clientMAC = []byte{2, 0, 0, 0, 0, 0xc1}
	gwMAC     = []byte{2, 0, 0, 0, 0, 1}
	client    = netip.MustParseAddr("10.9.8.7")
	vip       = netip.MustParseAddr("10.1.0.100")
)

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func TestViewsReadTCPFrame(t *testing.T) {
	eth := Ethernet(frame(t, tcpSYN))
	if !eth.IsValid() || eth.Type() != EtherTypeIPv4 || eth.Tagged() ||
		!bytes.Equal(eth.Destination(), gwMAC) || !bytes.Equal(eth.Source(), clientMAC) ||
		eth.DestinationUint64() != 0x020000000001 {
		t.Fatalf("Ethernet view reads %x", []byte(eth))
	}
	ip := IPv4(eth.Payload())
	if ip.Check() != OK || ip.Version() != 4 || ip.HeaderLen() != 20 || ip.TotalLength() != 40 ||
		ip.Fragmented() || ip.Protocol() != TCPProtocolNumber || ip.Checksum() != 0xbeef ||
		ip.Source() != u32(client) || ip.Destination() != u32(vip) ||
		ip.SourceAddr() != client || ip.DestinationAddr() != vip {
		t.Fatalf("IPv4 view reads %x", []byte(ip))
	}
	tcp := TCP(ip.Payload())
	if tcp.Check() != OK || tcp.SourcePort() != 40000 || tcp.DestinationPort() != 80 ||
		tcp.SequenceNumber() != 1 || tcp.DataOffset() != 20 || tcp.Flags() != TCPFlagSYN ||
		tcp.Checksum() != 0xcafe || !bytes.Equal(tcp.Ports(), []byte{0x9c, 0x40, 0, 80}) {
		t.Fatalf("TCP view reads %x", []byte(tcp))
	}
}

func TestViewsReadARPAndUDP(t *testing.T) {
	a := ARP(Ethernet(frame(t, arpRequest)).Payload())
	if !a.IsValid() || a.Op() != ARPRequest || !bytes.Equal(a.SenderMAC(), clientMAC) ||
		a.SenderIP() != u32(client) || a.SenderAddr() != client ||
		!bytes.Equal(a.TargetMAC(), make([]byte, 6)) || a.TargetIP() != u32(vip) || a.TargetAddr() != vip {
		t.Fatalf("ARP view reads %x", []byte(a))
	}
	u := UDP(IPv4(Ethernet(frame(t, udpQuery)).Payload()).Payload())
	if u.Check() != OK || u.SourcePort() != 5353 || u.DestinationPort() != 53 || u.Length() != 13 ||
		string(u.Payload()) != "query" {
		t.Fatalf("UDP view reads %x", []byte(u))
	}
}

// TestSettersWriteTheFrames builds each frame from zeros with the setters
// and compares it with the one written out by hand.
func TestSettersWriteTheFrames(t *testing.T) {
	want := frame(t, tcpSYN)
	eth := Ethernet(make([]byte, len(want)))
	eth.SetDestinationUint64(0x020000000001)
	eth.SetSource(clientMAC)
	eth.SetType(EtherTypeIPv4)
	ip := IPv4(eth.Payload())
	ip.SetHeaderLen(IPv4MinHeaderLen)
	ip.SetTotalLength(40)
	ip.SetID(0x1234)
	ip.SetFlagsFragment(0x4000)
	ip.SetTTL(64)
	ip.SetProtocol(TCPProtocolNumber)
	ip.SetChecksum(0xbeef)
	ip.SetSource(u32(client))
	ip.SetDestination(u32(vip))
	tcp := TCP(ip[IPv4MinHeaderLen:])
	tcp.SetSourcePort(40000)
	tcp.SetDestinationPort(80)
	tcp.SetSequenceNumber(1)
	tcp.SetAckNumber(2)
	tcp.SetDataOffset(TCPMinHeaderLen)
	tcp.SetFlags(TCPFlagSYN)
	tcp.SetWindow(0xffff)
	tcp.SetChecksum(0xcafe)
	if !bytes.Equal(eth, want) {
		t.Errorf("TCP frame\n got %x\nwant %x", []byte(eth), want)
	}

	want = frame(t, arpRequest)
	eth = Ethernet(make([]byte, len(want)))
	eth.SetDestination([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	eth.SetSourceUint64(MACUint64(clientMAC))
	eth.SetType(EtherTypeARP)
	a := ARP(eth.Payload())
	a.SetIPv4OverEthernet()
	a.SetOp(ARPRequest)
	a.SetSenderMAC(clientMAC)
	a.SetSenderIP(u32(client))
	a.SetTargetIP(u32(vip))
	if !bytes.Equal(eth, want) {
		t.Errorf("ARP frame\n got %x\nwant %x", []byte(eth), want)
	}

	want = frame(t, udpQuery)
	got := bytes.Clone(want)
	u := UDP(IPv4(Ethernet(got).Payload()).Payload())
	clear(u[:UDPHeaderLen])
	u.SetSourcePort(5353)
	u.SetDestinationPort(53)
	u.SetLength(13)
	u.SetChecksum(0)
	if !bytes.Equal(got, want) {
		t.Errorf("UDP frame\n got %x\nwant %x", got, want)
	}
}

func TestICMPAndQuote(t *testing.T) {
	// Fragmentation needed (type 3 code 4, MTU 1400) quoting the IPv4
	// header of tcpSYN's reply (10.1.0.100:80 → 10.9.8.7:40000) and its
	// first 8 bytes.
	quote := "45 00 0028 0000 4000 40 06 0000 0a010064 0a090807 0050 9c40 00000009"
	m := ICMP(frame(t, "03 04 1234 0000 0578"+quote))
	if !m.IsValid() || m.Type() != ICMPDestUnreachable || m.Code() != 4 || !m.IsError() ||
		m.Checksum() != 0x1234 || m.TypeCode() != 0x0304 || !bytes.Equal(m.Rest(), []byte{0, 0, 5, 0x78}) {
		t.Fatalf("ICMP view reads %x", []byte(m))
	}
	q := QuotedDatagram(m.Payload())
	src, dst := q.Ports()
	if !q.IsValid() || q.Protocol() != TCPProtocolNumber || q.Source() != u32(vip) || q.Destination() != u32(client) ||
		src != 80 || dst != 40000 {
		t.Fatalf("quote view reads %x", []byte(q))
	}
	built := ICMP(make([]byte, ICMPHeaderLen))
	built.SetType(ICMPDestUnreachable)
	built.SetCode(4)
	built.SetChecksum(0x1234)
	built.SetNextHopMTU(1400)
	if !bytes.Equal(built, m[:ICMPHeaderLen]) {
		t.Errorf("ICMP header\n got %x\nwant %x", []byte(built), []byte(m[:ICMPHeaderLen]))
	}
}

// TestCheckProblems: each problem Check reports, on a frame that has it.
func TestCheckProblems(t *testing.T) {
	base := IPv4(Ethernet(frame(t, tcpSYN)).Payload())
	for _, c := range []struct {
		name  string
		edit  func(IPv4) IPv4
		check func(IPv4) Problem
		want  Problem
	}{
		{"whole", func(ip IPv4) IPv4 { return ip }, IPv4.Check, OK},
		{"19 bytes", func(ip IPv4) IPv4 { return ip[:19] }, IPv4.Check, IPv4Truncated},
		{"version 6", func(ip IPv4) IPv4 { ip[0] = 0x65; return ip }, IPv4.Check, IPv4BadVersion},
		{"IHL 4", func(ip IPv4) IPv4 { ip.SetHeaderLen(16); return ip }, IPv4.Check, IPv4BadIHL},
		{"total length 41", func(ip IPv4) IPv4 { ip.SetTotalLength(41); return ip }, IPv4.Check, IPv4BadTotalLength},
		{"MF", func(ip IPv4) IPv4 { ip.SetFlagsFragment(0x2000); return ip }, IPv4.Check, IPv4Fragment},
		{"IHL 6", func(ip IPv4) IPv4 { ip.SetHeaderLen(24); return ip }, IPv4.Check, IPv4Options},
		{"TCP 19 bytes", func(ip IPv4) IPv4 { return ip[:39] }, func(ip IPv4) Problem { return TCP(ip[20:]).Check() }, TCPTruncated},
		{"TCP offset 4", func(ip IPv4) IPv4 { TCP(ip[20:]).SetDataOffset(16); return ip }, func(ip IPv4) Problem { return TCP(ip[20:]).Check() }, TCPBadDataOffset},
		{"UDP 7 bytes", func(ip IPv4) IPv4 { return ip[:27] }, func(ip IPv4) Problem { return UDP(ip[20:]).Check() }, UDPTruncated},
		{"UDP length 7", func(ip IPv4) IPv4 { UDP(ip[20:]).SetLength(7); return ip }, func(ip IPv4) Problem { return UDP(ip[20:]).Check() }, UDPBadLength},
	} {
		if got := c.check(c.edit(bytes.Clone(base))); got != c.want {
			t.Errorf("%s: Check = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestChecksumAdjust(t *testing.T) {
	// An echo request (type-code 0x0800, identifier 0x1234, sequence 1:
	// checksum ^(0x0800+0x1234+0x0001) = 0xe5ca) adjusted for type 0 has
	// the echo reply's checksum, ^(0x1234+0x0001) = 0xedca.
	if got := ChecksumAdjust(0xe5ca, 0x0800, 0x0000); got != 0xedca {
		t.Errorf("ChecksumAdjust = %#04x, want 0xedca", got)
	}
}

package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"vec/fastpath"
	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
	"vec/internal/corpus"
)

// goldenEncapClusters: VIP A's TCP/8080 is encapsulated in IPIP to r1 and
// r2, its TCP/8081 in GUE (port 7000) to r3 and r4, all on another subnet
// (10.2.0.0/24) with their MACs configured (no next hop: the captures must
// not depend on ARP timing); the path to them has an MTU of 1400.
const goldenEncapClusters = `
gateway: {ip: 10.1.0.1, mac: "02:00:00:00:00:01"}
encapsulation: {mtu: 1400}
clusters:
  - vip: 10.1.0.100
    services:
      - name: ipip
        protocol: tcp
        port: 8080
        forwarding: ipip
        servers:
          - {name: r1, ip: 10.2.0.21, mac: "02:00:00:00:00:21", weight: 1}
          - {name: r2, ip: 10.2.0.22, mac: "02:00:00:00:00:22", weight: 1}
      - name: gue
        protocol: tcp
        port: 8081
        forwarding: gue
        gue_port: 7000
        servers:
          - {name: r3, ip: 10.2.0.23, mac: "02:00:00:00:00:23", weight: 1}
          - {name: r4, ip: 10.2.0.24, mac: "02:00:00:00:00:24", weight: 1}
`

// routedServer is r<n> of goldenEncapClusters.
func routedServer(n int) (pktbuild.MAC, netip.Addr) {
	return pktbuild.MAC{0x02, 0, 0, 0, 0, byte(0x20 + n)}, netip.AddrFrom4([4]byte{10, 2, 0, byte(20 + n)})
}

// encapsulated builds, from the RFCs rather than from the fastpath, the
// frame that carries the client's frame in to server n: IPIP when guePort
// is 0, else GUE to guePort. Only the GUE source port is the fastpath's
// (its flow hash, fastpath.GUESourcePort).
func encapsulated(in []byte, n int, guePort uint16) []byte {
	mac, dst := routedServer(n)
	inner := in[header.EthernetHeaderLen:]
	inner = inner[:binary.BigEndian.Uint16(inner[2:])]
	extra, proto := 20, byte(4)
	if guePort != 0 {
		extra, proto = 32, 17
	}
	out := make([]byte, header.EthernetHeaderLen+extra+len(inner))
	copy(out, mac[:])
	copy(out[6:], corpus.GatewayMAC[:])
	out[12], out[13] = 0x08, 0x00
	ip := out[header.EthernetHeaderLen:]
	ip[0], ip[1] = 0x45, inner[1]
	binary.BigEndian.PutUint16(ip[2:], uint16(extra+len(inner)))
	binary.BigEndian.PutUint16(ip[6:], binary.BigEndian.Uint16(inner[6:])&0x4000)
	ip[8], ip[9] = 64, proto
	copy(ip[12:16], corpus.GatewayIP.AsSlice())
	copy(ip[16:20], dst.AsSlice())
	binary.BigEndian.PutUint16(ip[10:], pktbuild.Checksum(ip[:20]))
	if guePort != 0 {
		udp := ip[20:]
		binary.BigEndian.PutUint16(udp[0:], fastpath.GUESourcePort(inner))
		binary.BigEndian.PutUint16(udp[2:], guePort)
		binary.BigEndian.PutUint16(udp[4:], uint16(12+len(inner)))
		udp[9] = 4 // GUE: version 0, no options, IPv4 inside
	}
	copy(out[header.EthernetHeaderLen+extra:], inner)
	return out
}

// fragNeeded builds the ICMP "fragmentation needed" the gateway answers
// the client's frame in with: from the VIP, next-hop MTU mtu, quoting the
// packet's IPv4 header and 8 bytes; identification 0, no flags.
func fragNeeded(in []byte, mtu uint16) []byte {
	ip := header.IPv4(in[header.EthernetHeaderLen:])
	var rest [4]byte
	binary.BigEndian.PutUint16(rest[2:], mtu)
	f := pktbuild.Flow{SrcMAC: corpus.GatewayMAC, DstMAC: corpus.ClientMAC, SrcIP: ip.DestinationAddr(), DstIP: ip.SourceAddr()}
	out := pktbuild.ICMP(f, 3, 4, rest, ip[:28])
	reply := header.IPv4(out[header.EthernetHeaderLen:])
	reply.SetID(0)
	reply.SetFlagsFragment(0)
	reply.SetChecksum(0)
	reply.SetChecksum(pktbuild.Checksum(reply[:20]))
	return out
}

// goldenEncapScenario: connections to the IPIP and GUE services, their data,
// a short frame with Ethernet padding, packets too big for the path with
// and without Don't Fragment.
func goldenEncapScenario() *scenario {
	s := &scenario{}
	for _, svc := range []struct {
		port    uint16
		guePort uint16
		first   int
		extra   int
	}{{8080, 0, 1, 20}, {8081, 7000, 3, 32}} {
		// Four connections alternate over the two servers (weights 1:1).
		flows := make([]pktbuild.Flow, 4)
		for i := range flows {
			flows[i] = clientFlow(fmt.Sprintf("192.0.2.%d", 10+i), uint16(40000+i), corpus.VIPA, svc.port)
			server := svc.first + i%2
			syn := pktbuild.TCP(flows[i], pktbuild.SYN, 100, 0, nil)
			s.send(syn, encapsulated(syn, server, svc.guePort))
			data := pktbuild.TCP(flows[i], pktbuild.ACK|pktbuild.PSH, 101, 1, []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
			s.send(data, encapsulated(data, server, svc.guePort))
		}
		// An ACK padded to Ethernet's 60 bytes: the padding stays behind.
		ack := append(pktbuild.TCP(flows[0], pktbuild.ACK, 130, 1, nil), 0, 0, 0, 0, 0, 0)
		s.send(ack, encapsulated(ack, svc.first, svc.guePort))
		// The largest segment that fits the 1400-byte path once
		// encapsulated, then one byte more: the client is told the MTU
		// it may use.
		fits := pktbuild.TCP(flows[1], pktbuild.ACK, 130, 1, make([]byte, 1400-svc.extra-40))
		s.send(fits, encapsulated(fits, svc.first+1, svc.guePort))
		big := pktbuild.TCP(flows[1], pktbuild.ACK, 130, 1, make([]byte, 1400-svc.extra-40+1))
		s.reply(big, fragNeeded(big, uint16(1400-svc.extra)))
		// Without Don't Fragment there is no answer: dropped.
		noDF := pktbuild.TCP(flows[2], pktbuild.ACK, 130, 1, make([]byte, 1400))
		ip := header.IPv4(noDF[header.EthernetHeaderLen:])
		ip.SetFlagsFragment(0)
		ip.SetChecksum(0)
		ip.SetChecksum(pktbuild.Checksum(ip[:20]))
		s.drop(noDF, "encap_too_big")
	}
	return s
}

// TestGoldenCaptureEncap replays testdata/golden-encap/input.pcap through
// the real daemon on a net_pcap port (whose mbufs have DPDK's headroom, as
// a NIC's do) and compares what it sent with expected.pcap.
func TestGoldenCaptureEncap(t *testing.T) {
	st := checkGolden(t, goldenEncapScenario(), "golden-encap", goldenEncapClusters,
		map[string]uint64{"r1": 2, "r2": 2, "r3": 2, "r4": 2})
	if c := st.Cores[0]; c.Encapsulated != c.TX || c.TooBig != c.Replies {
		t.Errorf("encapsulated %d of tx %d, too big %d of replies %d: want all of each", c.Encapsulated, c.TX, c.TooBig, c.Replies)
	}
}

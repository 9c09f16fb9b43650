package fastpath

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

func seedFrames() [][]byte {
	f := tcpFlow(1000)
	v := tcpFlow(1001)
	v.VLAN = 5
	return [][]byte{
		pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil),
		pktbuild.TCP(f, pktbuild.ACK|pktbuild.PSH, 2, 1, []byte("GET / HTTP/1.1\r\n\r\n")),
		pktbuild.TCP(f, pktbuild.FIN|pktbuild.ACK, 3, 1, nil),
		pktbuild.TCP(f, pktbuild.RST, 4, 0, nil),
		pktbuild.TCP(v, pktbuild.SYN, 1, 0, nil),
		pktbuild.UDP(udpFlow(53), []byte("query")),
		pktbuild.ARP(1, pktbuild.Broadcast, clientMA, client, vip, [6]byte{}),
		pktbuild.FragNeeded(routerMAC, gwMAC, routerIP, serverSegment(1000, nil), 1280),
		pktbuild.ICMP(pktbuild.Flow{SrcMAC: clientMA, DstMAC: gwMAC, SrcIP: client, DstIP: vip}, pktbuild.ICMPEchoRequest, 0, [4]byte{}, nil),
		// The encapsulating services of encapConfig: IPIP, GUE, and one
		// too big for a 1400-byte path.
		pktbuild.TCP(flowTo(8080, 1000), pktbuild.SYN, 1, 0, nil),
		pktbuild.TCP(flowTo(8081, 1000), pktbuild.SYN, 1, 0, nil),
		pktbuild.TCP(flowTo(8081, 1000), pktbuild.ACK, 2, 1, make([]byte, 1400)),
		// IPv6 (fuzzConfig's services): a connection, UDP, Neighbor
		// Discovery, echo.
		pktbuild.TCP(tcp6Flow(1000), pktbuild.SYN, 1, 0, nil),
		pktbuild.TCP(tcp6Flow(1000), pktbuild.ACK|pktbuild.PSH, 2, 1, []byte("GET /")),
		pktbuild.UDP(pktbuild.Flow{SrcMAC: clientMA, DstMAC: gwMAC, SrcIP: client6, DstIP: vip6, SrcPort: 7, DstPort: 53}, []byte("q")),
		pktbuild.NeighborSolicitation(clientMA, client6, vip6),
		pktbuild.NeighborAdvertisement(serverMAC(51), gwMAC, server6IP[51], gwIP6),
		pktbuild.ICMPv6(pktbuild.Flow{SrcMAC: clientMA, DstMAC: gwMAC, SrcIP: client6, DstIP: vip6}, 64, header.ICMPv6EchoRequest, 0, [4]byte{}, nil),
	}
}

// fuzzConfig is encapConfig (IPv4, DSR and encapsulating services) with
// ipv6Config's IPv6 services and addresses.
func fuzzConfig() *Config {
	cfg := encapConfig()
	cfg.Encap.MTU = 1400
	v6 := ipv6Config()
	cfg.GatewayIP6, cfg.EchoVIPs = v6.GatewayIP6, v6.EchoVIPs
	cfg.Services = append(cfg.Services, v6.Services[2:]...)
	return cfg
}

// FuzzHeaders checks that the views never panic and agree with each other:
// whatever IsValid accepts, the accessors can read.
func FuzzHeaders(f *testing.F) {
	for _, p := range seedFrames() {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		eth := header.Ethernet(p)
		if !eth.IsValid() {
			return
		}
		_ = eth.Tagged()
		payload := eth.Payload()
		switch eth.Type() {
		case header.EtherTypeARP:
			if a := header.ARP(payload); a.IsValid() {
				_, _, _ = a.Op(), a.SenderIP(), a.TargetIP()
			}
		case header.EtherTypeIPv6:
			ip := header.IPv6(payload)
			if ip.Check() != header.OK {
				return
			}
			if header.IPv6HeaderLen+ip.PayloadLength() > len(ip) || header.IsIPv6Extension(ip.NextHeader()) {
				t.Fatalf("valid IPv6 with payload length %d of %d, next header %d", ip.PayloadLength(), len(ip), ip.NextHeader())
			}
			if n := header.NDP(ip.Payload()); ip.NextHeader() == header.ICMPv6ProtocolNumber && n.IsValid() {
				_ = n.Target()
				for _, typ := range []uint8{header.NDPSourceLinkLayer, header.NDPTargetLinkLayer} {
					if mac, ok := n.LinkLayerOption(typ); ok && len(mac) != header.MACLen {
						t.Fatalf("link-layer option of %d bytes", len(mac))
					}
				}
			}
		case header.EtherTypeIPv4:
			ip := header.IPv4(payload)
			if !ip.IsValid() {
				return
			}
			if ip.HeaderLen() != header.IPv4MinHeaderLen || ip.TotalLength() > len(ip) {
				t.Fatalf("valid IPv4 with IHL %d, total %d of %d", ip.HeaderLen(), ip.TotalLength(), len(ip))
			}
			l4 := ip.Payload()
			if tcp := header.TCP(l4); tcp.IsValid() {
				if tcp.DataOffset() > len(l4) {
					t.Fatal("valid TCP header past the segment")
				}
				_, _, _ = tcp.SourcePort(), tcp.DestinationPort(), tcp.Flags()
			}
			if udp := header.UDP(l4); udp.IsValid() {
				if udp.Length() > len(l4) {
					t.Fatal("valid UDP length past the datagram")
				}
			}
		}
	})
}

// FuzzBurst feeds arbitrary bursts (frames separated by length prefixes)
// through a core with a tiny table and a moving clock: it must never panic,
// every packet gets one verdict, rx = tx + replies + Σ drops, and the table's
// count agrees with the servers' ACTIVE + FIN gauges.
func FuzzBurst(f *testing.F) {
	var seed []byte
	for _, p := range seedFrames() {
		seed = binary.BigEndian.AppendUint16(seed, uint16(len(p)))
		seed = append(seed, p...)
	}
	f.Add(seed, uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, tick uint8) {
		h := newHarness(t, fuzzConfig(), 8)
		h.core.SetHeadroom(EncapHeadroom)
		var pkts [][]byte
		for len(data) >= 2 {
			n := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			n = min(n, len(data))
			pkts = append(pkts, data[:n:n])
			data = data[n:]
		}
		verdicts := make([]Verdict, len(pkts))
		for round := range 3 {
			frames := make([][]byte, len(pkts))
			for i, p := range pkts {
				frames[i] = inHeadroom(p)
				if round > 0 && len(frames[i]) >= header.EthernetTypeOffset {
					header.Ethernet(frames[i]).SetDestination(gwMAC[:]) // forwarded frames lose it
				}
			}
			in := slices.Clone(frames)
			h.core.ProcessBurst(frames, verdicts)
			for i, out := range frames {
				if len(out) > 0 && len(in[i]) > 0 && &out[0] != &in[i][0] {
					// Encapsulated: the outer header must be whole and right.
					if verdicts[i] != VerdictForward || len(out) < header.EthernetHeaderLen+IPIPOverhead {
						t.Fatalf("frame %d moved, verdict %v, %d bytes", i, verdicts[i], len(out))
					}
					outer := header.IPv4(out[header.EthernetHeaderLen:])
					if header.IPv4HeaderChecksum(outer) != 0 || outer.TotalLength() != len(outer) {
						t.Fatalf("frame %d: bad outer header % x", i, out[:header.EthernetHeaderLen+IPIPOverhead])
					}
				}
			}
			h.clock.Advance(time.Duration(tick) * time.Second)
			h.core.Reap()
		}
		h.checkBalance()
		var live int64
		for _, s := range h.core.Servers {
			if s.Active < 0 || s.FIN < 0 {
				t.Fatalf("negative gauge %+v", s)
			}
			live += s.Active + s.FIN
		}
		if live != int64(h.core.table.Len()) || h.core.Counters.Entries != uint64(h.core.table.Len()) {
			t.Fatalf("table holds %d entries, servers count %d", h.core.table.Len(), live)
		}
	})
}

// FuzzCommonPathAgrees checks the fixed-offset parsers against the full
// one: whatever commonFlow or commonFlow6 accepts, classifyAny must decide
// the same way, and for a service packet with the same tuple, flags,
// service, home slot and (IPv6) addresses.
func FuzzCommonPathAgrees(f *testing.F) {
	for _, p := range seedFrames() {
		f.Add(p)
	}
	h := newHarness(f, ipv6Config(), 8)
	f.Fuzz(func(t *testing.T, p []byte) {
		var fast, slow packetMeta
		vFast := h.core.commonFlow(p, &fast)
		if vFast == notCommon {
			vFast = h.core.commonFlow6(p, &fast)
		}
		if vFast == notCommon {
			return
		}
		fastAddrs := *h.core.addrs(&fast)
		vSlow := h.core.classifyAny(bytes.Clone(p), &slow, 0)
		// On a drop the second pass never reads the meta.
		if vFast != vSlow || (vFast == isFlow && (fast != slow || fastAddrs != *h.core.addrs(&slow))) {
			t.Fatalf("common path %v %+v, full parse %v %+v", vFast, fast, vSlow, slow)
		}
	})
}

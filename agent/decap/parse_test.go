package decap

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// ipv4 builds an IPv4 packet of protocol proto carrying payload, header
// checksum filled in.
func ipv4(src, dst netip.Addr, proto byte, payload []byte) []byte {
	p := make([]byte, ipv4HeaderLen+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8] = 64
	p[9] = proto
	s, d := src.As4(), dst.As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	var sum uint32
	for i := 0; i < ipv4HeaderLen; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(p[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(p[10:], ^uint16(sum))
	copy(p[ipv4HeaderLen:], payload)
	return p
}

// udp4 builds an IPv4/UDP packet, UDP checksum 0 (none, allowed in IPv4).
func udp4(src, dst netip.AddrPort, payload []byte) []byte {
	u := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:], src.Port())
	binary.BigEndian.PutUint16(u[2:], dst.Port())
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], payload)
	return ipv4(src.Addr(), dst.Addr(), 17, u)
}

// ipv6 builds an IPv6 packet, next header UDP, carrying payload.
func ipv6(payload []byte) []byte {
	p := make([]byte, ipv6HeaderLen+len(payload))
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:], uint16(len(payload)))
	p[6] = 17
	p[7] = 64
	copy(p[ipv6HeaderLen:], payload)
	return p
}

// gue0 is a GUE variant 0 header with hlen words of extension fields.
func gue0(proto byte, hlen int, inner []byte) []byte {
	h := make([]byte, gueHeaderLen+4*hlen, gueHeaderLen+4*hlen+len(inner))
	h[0] = byte(hlen)
	h[1] = proto
	return append(h, inner...)
}

func TestFromIPIP(t *testing.T) {
	inner := udp4(netip.MustParseAddrPort("203.0.113.7:40000"), netip.MustParseAddrPort("10.99.0.100:80"), []byte("hello"))
	outer := ipv4(netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("10.97.0.11"), protoIPv4, inner)
	withOptions := ipv4(netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("10.97.0.11"), protoIPv4, append(make([]byte, 4), inner...))
	withOptions[0] = 0x46 // one word of options (NOPs would be 1s; zeros are fine for the parser)
	badTotal := bytes.Clone(outer)
	binary.BigEndian.PutUint16(badTotal[ipv4HeaderLen+2:], uint16(len(inner)+1))
	for _, tc := range []struct {
		name string
		pkt  []byte
		want Reason
	}{
		{"plain", outer, Delivered},
		{"outer options", withOptions, Delivered},
		{"empty", nil, TooShort},
		{"outer only", outer[:ipv4HeaderLen], TooShort},
		{"truncated inner", outer[:len(outer)-1], BadInnerLength},
		{"inner total length", badTotal, BadInnerLength},
		{"outer not protocol 4", ipv4(netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("10.97.0.11"), 17, inner), BadOuter},
		{"outer IHL < 5", append([]byte{0x44}, outer[1:]...), BadOuter},
		{"inner IPv6", ipv4(netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("10.97.0.11"), protoIPv4, ipv6([]byte("x"))), BadInnerProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := FromIPIP(tc.pkt)
			if reason != tc.want {
				t.Fatalf("reason %v, want %v", reason, tc.want)
			}
			if reason == Delivered && !bytes.Equal(got, inner) {
				t.Fatalf("inner %x, want %x", got, inner)
			}
		})
	}
}

func TestFromGUE(t *testing.T) {
	in4 := udp4(netip.MustParseAddrPort("203.0.113.7:40000"), netip.MustParseAddrPort("10.99.0.100:53"), []byte("query"))
	in6 := ipv6(make([]byte, 12))
	control := gue0(protoIPv4, 0, in4)
	control[0] |= 0x20
	for _, tc := range []struct {
		name    string
		payload []byte
		want    Reason
		inner   []byte
	}{
		{"v0 IPv4", gue0(protoIPv4, 0, in4), Delivered, in4},
		{"v0 IPv6", gue0(protoIPv6, 0, in6), Delivered, in6},
		{"v0 extension fields skipped", gue0(protoIPv4, 2, in4), Delivered, in4},
		{"v1 bare IPv4", in4, Delivered, in4},
		{"v1 bare IPv6", in6, Delivered, in6},
		{"empty", nil, TooShort, nil},
		{"short header", []byte{0, 4}, TooShort, nil},
		{"hlen beyond data", gue0(protoIPv4, 3, nil), TooShort, nil},
		{"control", control, GUEControl, nil},
		{"version 2", append([]byte{0x80, 4, 0, 0}, in4...), BadGUEVersion, nil},
		{"v1 reserved nibble", append([]byte{0x50}, in4[1:]...), BadGUEVersion, nil},
		{"proto UDP", gue0(17, 0, in4), BadInnerProtocol, nil},
		{"proto 4 carrying IPv6", gue0(protoIPv4, 0, append(in6, make([]byte, 0)...)), BadInnerProtocol, nil},
		{"proto 41 carrying IPv4", gue0(protoIPv6, 0, append(in4, make([]byte, 40)...)), BadInnerProtocol, nil},
		{"IPv4 trailing byte", gue0(protoIPv4, 0, append(bytes.Clone(in4), 0)), BadInnerLength, nil},
		{"IPv6 truncated", gue0(protoIPv6, 0, in6[:len(in6)-1]), BadInnerLength, nil},
		{"inner too short", gue0(protoIPv4, 0, in4[:19]), TooShort, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := FromGUE(tc.payload)
			if reason != tc.want {
				t.Fatalf("reason %v, want %v", reason, tc.want)
			}
			if reason == Delivered && !bytes.Equal(got, tc.inner) {
				t.Fatalf("inner %x, want %x", got, tc.inner)
			}
		})
	}
}

func TestParseModes(t *testing.T) {
	for in, want := range map[string][]Mode{"ipip": {IPIP}, "gue": {GUE}, "gue,ipip": {GUE, IPIP}, "ipip, gue": {IPIP, GUE}} {
		got, err := ParseModes(in)
		if err != nil || len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
			t.Errorf("ParseModes(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "gre", "ipip,ipip", "ipip,"} {
		if got, err := ParseModes(in); err == nil {
			t.Errorf("ParseModes(%q) = %v, want an error", in, got)
		}
	}
}

// checkDelivered holds for every packet FromIPIP or FromGUE accepts: a
// suffix of the input, exactly one IP packet of a known version.
func checkDelivered(t *testing.T, in, inner []byte) {
	t.Helper()
	if len(inner) == 0 || !bytes.HasSuffix(in, inner) || &inner[len(inner)-1] != &in[len(in)-1] {
		t.Fatalf("inner %x is not a suffix of %x", inner, in)
	}
	switch inner[0] >> 4 {
	case 4:
		if len(inner) < ipv4HeaderLen || int(binary.BigEndian.Uint16(inner[2:])) != len(inner) || int(inner[0]&0xf)*4 > len(inner) {
			t.Fatalf("accepted an inconsistent IPv4 packet %x", inner)
		}
	case 6:
		if len(inner) < ipv6HeaderLen || ipv6HeaderLen+int(binary.BigEndian.Uint16(inner[4:])) != len(inner) {
			t.Fatalf("accepted an inconsistent IPv6 packet %x", inner)
		}
	default:
		t.Fatalf("accepted a packet of IP version %d", inner[0]>>4)
	}
}

// checkOutcome checks a parser's answer for outer: a reason the parser
// gives, and a delivered packet (checkDelivered) or nothing.
func checkOutcome(t *testing.T, outer, got []byte, reason Reason) {
	t.Helper()
	if reason >= numReasons || reason == WriteFailed {
		t.Fatalf("reason %d", reason)
	}
	if reason == Delivered {
		checkDelivered(t, outer, got)
	} else if got != nil {
		t.Fatalf("dropped (%v) but returned %x", reason, got)
	}
}

func FuzzDecapIPIP(f *testing.F) {
	inner := udp4(netip.MustParseAddrPort("203.0.113.7:40000"), netip.MustParseAddrPort("10.99.0.100:80"), []byte("x"))
	f.Add(ipv4(netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("10.97.0.11"), protoIPv4, inner))
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		got, reason := FromIPIP(pkt)
		checkOutcome(t, pkt, got, reason)
		if reason == Delivered && got[0]>>4 != 4 {
			t.Fatalf("IPIP delivered IP version %d", got[0]>>4)
		}
	})
}

func FuzzDecapGUE(f *testing.F) {
	in4 := udp4(netip.MustParseAddrPort("203.0.113.7:40000"), netip.MustParseAddrPort("10.99.0.100:80"), []byte("x"))
	f.Add(gue0(protoIPv4, 0, in4))
	f.Add(gue0(protoIPv6, 1, ipv6(nil)))
	f.Add(in4)
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, reason := FromGUE(payload)
		checkOutcome(t, payload, got, reason)
	})
}

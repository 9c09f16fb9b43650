package pktbuild

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"vec/fastpath/header"
)

// A segment verifies: its pseudo-header and itself, checksum included,
// sum to 0xffff (RFC 1071), over IPv4 and IPv6, odd payload length too.
func TestTCPSegmentChecksumVerifies(t *testing.T) {
	for _, f := range []Flow{
		{SrcIP: netip.MustParseAddr("10.99.0.21"), DstIP: netip.MustParseAddr("10.99.0.100"), SrcPort: 40000, DstPort: 80},
		{SrcIP: netip.MustParseAddr("2001:db8::21"), DstIP: netip.MustParseAddr("2001:db8::100"), SrcPort: 40000, DstPort: 80},
	} {
		seg := header.TCP(TCPSegment(f, ACK|PSH, 1, 2, []byte("odd")))
		pseudo := append(f.SrcIP.AsSlice(), f.DstIP.AsSlice()...)
		pseudo = append(pseudo, 0, header.TCPProtocolNumber)
		pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(seg)))
		if c := Checksum(append(pseudo, seg...)); c != 0 {
			t.Errorf("%s: segment does not verify: residue %#04x", f.SrcIP, c)
		}
		if seg.SourcePort() != 40000 || seg.DestinationPort() != 80 || seg.Flags() != ACK|PSH ||
			seg.SequenceNumber() != 1 || binary.BigEndian.Uint32(seg[header.TCPAckNumOffset:]) != 2 || seg.DataOffset() != header.TCPMinHeaderLen {
			t.Errorf("%s: header % x", f.SrcIP, seg[:header.TCPMinHeaderLen])
		}
	}
}

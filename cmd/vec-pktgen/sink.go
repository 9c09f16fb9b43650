package main

import (
	"encoding/binary"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

// maxMACs is how many distinct destination MACs the sink tells apart; the
// frames to any further MAC are counted together (otherMACs).
const maxMACs = 16

// macCount is what came back to one destination MAC.
type macCount struct {
	mac                  uint64 // the 6 bytes, big-endian
	packets, bytes, syns uint64
}

// sinkCounts are the sink's counters; the generator snapshots them to
// measure a window.
type sinkCounts struct {
	frames, bytes uint64 // every frame but ARP
	arp           uint64
	flowPackets   uint64 // frames of our flows
	syns          uint64
	strays        uint64
	other         uint64 // neither ARP nor one of our flows or strays
	misrouted     uint64
	unmatched     uint64
	otherMACs     uint64 // flow packets to a MAC beyond the first maxMACs
}

// sink counts the frames that come back, per destination MAC, and checks
// that every packet of a connection went to the MAC its SYN went to.
type sink struct {
	addr *addressing
	// conn holds, per flow, the connection the last SYN that came back
	// opened: source port << 8 | (MAC index + 1). Zero: none yet.
	conn  []uint32
	macs  [maxMACs]macCount
	nmacs int
	sinkCounts
}

func newSink(addr *addressing) *sink {
	return &sink{addr: addr, conn: make([]uint32, addr.flows)}
}

// count looks at every received frame.
func (s *sink) count(pkts [][]byte) {
	for _, p := range pkts {
		s.countOne(p)
	}
}

func (s *sink) countOne(p []byte) {
	eth := header.Ethernet(p)
	if eth.IsValid() && eth.Type() == header.EtherTypeARP {
		s.arp++
		return
	}
	s.frames++
	s.bytes += uint64(len(p))
	// Our frames: untagged IPv4 without options, TCP.
	if len(p) < headersLen || eth.Type() != header.EtherTypeIPv4 ||
		p[offIPVerIHL] != header.IPv4VersionIHLNoOptions || p[offIPProto] != header.TCPProtocolNumber {
		s.other++
		return
	}
	src := binary.BigEndian.Uint32(p[offSrcIP:])
	if s.addr.isStray(src) {
		s.strays++
		return
	}
	i, ok := s.addr.flowOf(src, binary.BigEndian.Uint16(p[offSrcPort:]))
	if !ok {
		s.other++
		return
	}
	s.flowPackets++
	m := s.macIndex(eth.DestinationUint64())
	if m < 0 {
		s.otherMACs++
		return
	}
	mc := &s.macs[m]
	mc.packets++
	mc.bytes += uint64(len(p))
	tag := uint32(binary.BigEndian.Uint16(p[offSrcPort:]))<<8 | uint32(m+1)
	switch {
	case p[offTCPFlags]&pktbuild.SYN != 0:
		s.syns++
		mc.syns++
		s.conn[i] = tag
	case s.conn[i]>>8 != tag>>8:
		// The connection's SYN never came back.
		s.unmatched++
		s.conn[i] = tag
	case s.conn[i] != tag:
		s.misrouted++
	}
}

// macIndex returns the slot of mac, adding it if there is room; -1 when
// the table is full.
func (s *sink) macIndex(mac uint64) int {
	for i := range s.nmacs {
		if s.macs[i].mac == mac {
			return i
		}
	}
	if s.nmacs == maxMACs {
		return -1
	}
	s.macs[s.nmacs].mac = mac
	s.nmacs++
	return s.nmacs - 1
}

// resetCounts forgets everything counted so far (the probe phase).
func (s *sink) resetCounts() {
	s.sinkCounts = sinkCounts{}
	s.macs = [maxMACs]macCount{}
	s.nmacs = 0
}

func macUint64(m pktbuild.MAC) uint64 {
	return header.MACUint64(m[:])
}

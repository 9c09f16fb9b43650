package dpdk

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"vec/internal/pcapfile"
)

// jumboFrameLens are the frames the net_pcap test device replays: one that
// fits a default mbuf, and two that do not.
var jumboFrameLens = []int{64, 4000, 9018}

// jumboPcapVdev writes the capture the jumbo test replays and returns the
// --vdev argument of its net_pcap device. net_pcap receives a frame longer
// than an mbuf as a chain of mbufs, as a NIC with scattered receive would.
func jumboPcapVdev(dir string) (string, error) {
	var pkts []pcapfile.Packet
	for i, n := range jumboFrameLens {
		data := make([]byte, n)
		fillPattern(data, i)
		pkts = append(pkts, pcapfile.Packet{Data: data})
	}
	rx, tx := filepath.Join(dir, "jumbo.pcap"), filepath.Join(dir, "out.pcap")
	if err := pcapfile.Write(rx, pkts); err != nil {
		return "", err
	}
	return fmt.Sprintf("net_pcap0,rx_pcap=%s,tx_pcap=%s", rx, tx), nil
}

// A burst tells, without a cgo call per packet, how many segments each
// packet spans and its whole length, so that a chained frame is never
// taken for the short frame its first segment looks like.
func TestBurstShowsChainedFrames(t *testing.T) {
	pool := newPool(t, "t_jumbo", 255)
	p := openPort(t, "net_pcap0", PortConfig{Mempool: pool})
	b := newBurst(t, 8)
	n := 0
	for range 1000 {
		if n = b.Rx(p.ID, 0); n > 0 {
			break
		}
	}
	if n != len(jumboFrameLens) {
		t.Fatalf("received %d frames, want %d", n, len(jumboFrameLens))
	}
	room := pool.FrameRoom()
	if room != DefaultDataRoomSize-Headroom {
		t.Fatalf("FrameRoom %d, want %d", room, DefaultDataRoomSize-Headroom)
	}
	for i, want := range jumboFrameLens {
		segs, whole, first := b.Segments()[i], int(b.PacketLens()[i]), len(b.Packets()[i])
		wantSegs := uint16((want + room - 1) / room)
		if segs != wantSegs || whole != want || first != min(want, room) {
			t.Errorf("frame %d of %d bytes: %d segments, pkt_len %d, first segment %d bytes; want %d, %d, %d",
				i, want, segs, whole, first, wantSegs, want, min(want, room))
		}
	}
	b.Drop()
}

// The MTU decides what a port must receive whole: frames of MTU plus the
// Ethernet header and a VLAN tag in one mbuf, within what the device takes.
func TestPortMTU(t *testing.T) {
	small := newPool(t, "t_mtu_small", 255)
	id := portID(t, "net_ring1")
	_, err := OpenPort(id, PortConfig{Mempool: small, MTU: 9000})
	if err == nil || !strings.Contains(err.Error(), "MTU 9000 needs 9014-byte frames") ||
		!strings.Contains(err.Error(), fmt.Sprintf("holds %d bytes", small.FrameRoom())) {
		t.Fatalf("MTU 9000 on 2 KB mbufs: %v", err)
	}
	big, err := NewPktMempool("t_mtu_big", 255, 32, 9216+Headroom, SocketAny)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(big.Free)
	p := openPort(t, "net_ring1", PortConfig{Mempool: big, MTU: 9000})
	if p.MTU() != 9000 || p.MaxFrameLen() != 9014 {
		t.Errorf("MTU %d, longest frame %d", p.MTU(), p.MaxFrameLen())
	}
	// A jumbo frame goes round net_ring's loopback in one mbuf.
	b := newBurst(t, 4)
	if err := b.Alloc(big, 1, 9014); err != nil {
		t.Fatal(err)
	}
	fillPattern(b.Packets()[0], 3)
	if sent := b.SendAll(p.ID, 0); sent != 1 {
		t.Fatalf("sent %d", sent)
	}
	if n := b.Rx(p.ID, 0); n != 1 || b.Segments()[0] != 1 || b.PacketLens()[0] != 9014 || len(b.Packets()[0]) != 9014 {
		t.Fatalf("received %d: segments %v lengths %v", n, b.Segments(), b.PacketLens())
	}
	b.Drop()
	if MaxFrameLen(0) != DefaultMTU+FrameOverhead || DefaultMTU != 1500 || FrameOverhead != 14 || VLANTagLen != 4 {
		t.Errorf("default MTU %d, overhead %d", DefaultMTU, FrameOverhead)
	}
}

// What a device reports bounds the MTU; net_af_packet, which reports 1518
// bytes whatever its ring, is bounded by its framesz instead.
func TestCheckMTU(t *testing.T) {
	pool := &Mempool{name: "p", dataRoom: 9216 + Headroom}
	nic := DeviceInfo{Driver: "net_x", MaxRxPktLen: 9728, MinMTU: 68, MaxMTU: 9710}
	for _, tc := range []struct {
		dev  DeviceInfo
		mtu  uint16
		want string // "" for accepted
	}{
		{nic, 9000, ""},
		{nic, 1500, ""},
		{nic, 60, "cannot take MTU 60"},
		{DeviceInfo{Driver: "net_y", MaxRxPktLen: 1518, MinMTU: 68, MaxMTU: 65535}, 9000,
			"net_y): the device cannot take MTU 9000 (9018-byte frames with the CRC): its max_rx_pktlen is 1518 and its MTU range 68..65535"},
		{DeviceInfo{Driver: "net_z", MaxRxPktLen: 9000, MinMTU: 68, MaxMTU: 65535}, 9000, "max_rx_pktlen is 9000"},
		{DeviceInfo{Driver: "net_af_packet", MaxRxPktLen: 1518, MaxMTU: 65535, Args: "iface=eth0"}, 9000,
			"MTU 9000 needs 9014-byte frames, and ring frames of framesz=2048 hold 1982 bytes: give the vdev framesz=9080 or more"},
		{DeviceInfo{Driver: "net_af_packet", MaxRxPktLen: 1518, MaxMTU: 65535, Args: "iface=eth0,framesz=9216,blocksz=36864"}, 9000, ""},
		{DeviceInfo{Driver: "net_af_packet", MaxRxPktLen: 1518, MaxMTU: 65535, Args: "iface=eth0,framesz=16384"}, 9000,
			"framesz=16384 needs mbufs holding 16352 bytes"},
		{DeviceInfo{Driver: "net_af_packet", Args: "iface=eth0,framesz=big"}, 1500, `framesz="big"`},
	} {
		rxMTU, err := checkMTU(7, tc.mtu, pool, tc.dev)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s MTU %d: %v", tc.dev.Driver, tc.mtu, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s MTU %d: %v, want an error saying %q", tc.dev.Driver, tc.mtu, err, tc.want)
		case err == nil && tc.dev.Driver == "net_af_packet" && rxMTU != 0:
			t.Errorf("net_af_packet: rxmode.mtu %d, want 0 (ethdev would refuse it)", rxMTU)
		case err == nil && tc.dev.Driver != "net_af_packet" && rxMTU != tc.mtu:
			t.Errorf("%s: rxmode.mtu %d, want %d", tc.dev.Driver, rxMTU, tc.mtu)
		}
	}
	if !slices.Equal(jumboFrameLens, []int{64, 4000, 9018}) {
		t.Fatal("jumboFrameLens changed without TestBurstShowsChainedFrames")
	}
}

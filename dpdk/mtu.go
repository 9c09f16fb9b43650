package dpdk

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ethdev's frame overhead for an MTU when the device does not say
// (max_mtu left at UINT16_MAX): Ethernet header and CRC.
const ethdevDefaultOverhead = 14 + 4

// net_af_packet (TPACKET_V2) receives a frame into one ring frame of
// framesz bytes, the frame's MAC header starting this far in:
// TPACKET_ALIGN(TPACKET2_HDRLEN + 16) − ETH_HLEN = 80 − 14. Whatever does not
// fit is cut off, and the PMD passes on the cut frame as if whole.
const afPacketFrameOffset = 66

// net_af_packet's default framesz, and what it subtracts from framesz to
// get the mbuf space its RX queue setup demands (TPACKET2_HDRLEN −
// sizeof(struct sockaddr_ll)).
const (
	afPacketDefaultFrameSize = 2048
	afPacketFrameHeader      = 32
)

// checkMTU decides whether a port with device dev can receive frames of
// mtu whole into single mbufs of pool, and returns the rxmode.mtu to
// configure (0: leave the device's default). Scattered receive is never
// enabled: the pool's data room must hold the largest frame.
func checkMTU(port uint16, mtu uint16, pool *Mempool, dev DeviceInfo) (uint16, error) {
	frame := MaxFrameLen(mtu)
	if room := pool.FrameRoom(); frame > room {
		return 0, fmt.Errorf("dpdk.OpenPort(port %d, driver %s): MTU %d needs %d-byte frames, and one mbuf of mempool %q holds %d bytes: the pool's data room must be sized from the largest MTU (vec does not enable scattered receive)",
			port, dev.Driver, mtu, frame, pool.name, room)
	}
	if dev.Driver == "net_af_packet" {
		// net_af_packet reports max_rx_pktlen 1518 whatever its framesz
		// (DPDK 22.11 and later), so ethdev would refuse any larger
		// MTU; what limits it is its ring frame size. Its MTU setting
		// only changes the kernel interface's MTU, which the operator
		// sets (ip link set <iface> mtu N) like the rest of the path.
		framesz, err := afPacketFrameSize(dev.Args)
		if err != nil {
			return 0, fmt.Errorf("dpdk.OpenPort(port %d, driver %s): %w", port, dev.Driver, err)
		}
		if holds := framesz - afPacketFrameOffset; frame > holds {
			return 0, fmt.Errorf("dpdk.OpenPort(port %d, driver %s): MTU %d needs %d-byte frames, and ring frames of framesz=%d hold %d bytes: give the vdev framesz=%d or more (a multiple of 16; blocksz a multiple of it and of the page size)",
				port, dev.Driver, mtu, frame, framesz, holds, frame+afPacketFrameOffset)
		}
		if need := framesz - afPacketFrameHeader; need > pool.FrameRoom() {
			return 0, fmt.Errorf("dpdk.OpenPort(port %d, driver %s): framesz=%d needs mbufs holding %d bytes, and one mbuf of mempool %q holds %d: lower framesz to %d or raise the MTU the pool is sized from",
				port, dev.Driver, framesz, need, pool.name, pool.FrameRoom(), pool.FrameRoom()+afPacketFrameHeader)
		}
		return 0, nil
	}
	overhead := ethdevDefaultOverhead
	if dev.MaxMTU != math.MaxUint16 && dev.MaxRxPktLen > uint32(dev.MaxMTU) {
		overhead = int(dev.MaxRxPktLen) - int(dev.MaxMTU)
	}
	if mtu < dev.MinMTU || mtu > dev.MaxMTU || uint32(int(mtu)+overhead) > dev.MaxRxPktLen {
		return 0, fmt.Errorf("dpdk.OpenPort(port %d, driver %s): the device cannot take MTU %d (%d-byte frames with the CRC): its max_rx_pktlen is %d and its MTU range %d..%d",
			port, dev.Driver, mtu, int(mtu)+overhead, dev.MaxRxPktLen, dev.MinMTU, dev.MaxMTU)
	}
	return mtu, nil
}

// afPacketFrameSize reads framesz from net_af_packet's arguments.
func afPacketFrameSize(args string) (int, error) {
	for kv := range strings.SplitSeq(args, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(kv), "framesz="); ok {
			n, err := strconv.ParseUint(v, 0, 31)
			if err != nil {
				return 0, fmt.Errorf("device argument framesz=%q: %w", v, err)
			}
			return int(n), nil
		}
	}
	return afPacketDefaultFrameSize, nil
}

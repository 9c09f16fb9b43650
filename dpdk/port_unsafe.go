package dpdk

/*
#include <stdlib.h>
#include <string.h>
#include <rte_ethdev.h>
#include "vecdpdk.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// RSS hash field sets (RTE_ETH_RSS_*), for PortConfig.RSSHashFields.
const (
	RSSIP  uint64 = C.RTE_ETH_RSS_IP
	RSSTCP uint64 = C.RTE_ETH_RSS_TCP
	RSSUDP uint64 = C.RTE_ETH_RSS_UDP
	// DefaultRSSHashFields hashes IPv4/IPv6 addresses, and ports for TCP
	// and UDP.
	DefaultRSSHashFields = RSSIP | RSSTCP | RSSUDP
)

// DefaultDescriptors is the RX and TX ring size used when PortConfig
// leaves it at zero (adjusted to the device's limits).
const DefaultDescriptors = 1024

// PortCount returns the number of usable ethdev ports (rte_eth_dev_count_avail).
func PortCount() int { return int(C.rte_eth_dev_count_avail()) }

// PortByName returns the port id of a device by name, e.g. "net_ring0" or a
// PCI address "0000:00:08.0" (rte_eth_dev_get_port_by_name).
func PortByName(name string) (uint16, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var id C.uint16_t
	if ret := C.rte_eth_dev_get_port_by_name(cname, &id); ret < 0 {
		return 0, callError(fmt.Sprintf("rte_eth_dev_get_port_by_name(%q)", name), ret)
	}
	return uint16(id), nil
}

// PortConfig is how OpenPort sets up a port.
type PortConfig struct {
	// RxQueues and TxQueues: 0 means 1.
	RxQueues, TxQueues uint16
	// RxDescriptors and TxDescriptors: 0 means DefaultDescriptors.
	RxDescriptors, TxDescriptors uint16
	// Mempool feeds every RX queue. Required.
	Mempool *Mempool
	// RSSKey: nil means DefaultRSSKey, stretched or cut to the device's key
	// size (bytes past the 40th never affect an IPv4 or IPv6 tuple hash).
	// A key given here must have exactly the device's key size. A device
	// that reports no key size (net_null) keeps its own key and rejects
	// one given here.
	RSSKey []byte
	// RSSHashFields: 0 means DefaultRSSHashFields. Masked to what the
	// device supports; OpenPort fails if nothing is left.
	RSSHashFields uint64
	// RetaPeriod is the period of the redirection table Start programs
	// with several RX queues: a power of two no larger than the device's
	// table (DeviceInfo.RetaSize); 0 means the device's whole table. Ports
	// whose flows must land on the same queue index give them all the
	// smallest table size among them. The queue count must spread evenly
	// enough over it (CheckRetaSpread).
	RetaPeriod uint16
	// SpreadByDevice accepts several RX queues on a device without RSS
	// with a redirection table: the caller knows the device keeps each
	// flow on one queue by other means (net_af_packet with qpairs: the
	// kernel's fanout hash; net_pcap: one capture file per queue). Without
	// it OpenPort refuses such a port, because a per-queue flow table
	// would lose the flows the device moves between queues.
	SpreadByDevice bool
	// MTU is the largest IP packet the port must receive whole; 0 means
	// DefaultMTU. Its frames (MaxFrameLen) must fit one mbuf of Mempool
	// (OpenPort does not enable scattered receive) and the device
	// (rxmode.mtu, checked against max_rx_pktlen and max_mtu).
	MTU uint16
}

// DefaultMTU is the MTU of a port whose PortConfig.MTU is 0 (RTE_ETHER_MTU).
const DefaultMTU = C.RTE_ETHER_MTU

// FrameOverhead is what a received untagged frame carries beyond its IP
// packet: the Ethernet header (the frame check sequence is not part of an
// mbuf's data). A VLAN tag would add VLANTagLen.
const (
	FrameOverhead = C.RTE_ETHER_HDR_LEN
	VLANTagLen    = C.RTE_VLAN_HLEN
)

// MaxFrameLen is the longest untagged frame a port with this MTU receives
// whole: MTU plus FrameOverhead.
func MaxFrameLen(mtu uint16) int {
	if mtu == 0 {
		mtu = DefaultMTU
	}
	return int(mtu) + FrameOverhead
}

// DeviceInfo is what OpenPort learns of a device (rte_eth_dev_info_get).
type DeviceInfo struct {
	Driver string
	// RetaSize is the RSS redirection table's size; 0 when the device has
	// none. RSSOffloads are the flow types it can hash (0: no RSS).
	RetaSize    uint16
	RSSOffloads uint64
	// MaxRxPktLen, MinMTU and MaxMTU bound the MTU the device accepts.
	MaxRxPktLen    uint32
	MinMTU, MaxMTU uint16
	Args           string // the device's arguments, e.g. "iface=eth0,framesz=9216"
}

// RSSCapable reports whether the device spreads flows by RSS through a
// redirection table: the only spreading whose queue choice RSSQueue can
// predict.
func (d DeviceInfo) RSSCapable() bool { return d.RSSOffloads != 0 && d.RetaSize > 0 }

// GetDeviceInfo reads a port's device information before OpenPort.
func GetDeviceInfo(id uint16) (DeviceInfo, error) {
	var info C.struct_vec_dev_info
	if ret := C.vec_dev_info_get(C.uint16_t(id), &info); ret < 0 {
		return DeviceInfo{}, callError(fmt.Sprintf("rte_eth_dev_info_get(port %d)", id), ret)
	}
	return deviceInfo(&info), nil
}

func deviceInfo(info *C.struct_vec_dev_info) DeviceInfo {
	return DeviceInfo{
		Driver:      C.GoString(&info.driver[0]),
		RetaSize:    uint16(info.reta_size),
		RSSOffloads: uint64(info.flow_type_rss_offloads),
		MaxRxPktLen: uint32(info.max_rx_pktlen),
		MinMTU:      uint16(info.min_mtu),
		MaxMTU:      uint16(info.max_mtu),
		Args:        C.GoString(&info.devargs[0]),
	}
}

// Port is a configured ethdev port.
type Port struct {
	ID uint16

	name, driver       string
	rxQueues, txQueues uint16
	rss                bool
	rssHashFields      uint64
	retaSize           uint16
	retaPeriod         uint16
	mtu                uint16
	// rxDesc and txDesc are each queue's ring sizes as set up: what
	// PortConfig asked for, fitted to the device's limits by DPDK.
	rxDesc, txDesc uint16
	rssKey         *C.uint8_t // C copy: ethdev keeps a pointer to it
	started        bool
}

// OpenPort configures port id: rte_eth_dev_info_get, rte_eth_dev_configure
// (RSS when RxQueues > 1, and the MTU), RX and TX queue setup. Start then
// starts it.
//
// Several RX queues need a device with RSS and a redirection table, and a
// queue count that spreads evenly over it (CheckRetaSpread); on a device
// without (flow_type_rss_offloads = 0 or reta_size = 0: net_ring,
// net_af_packet, net_tap) OpenPort refuses them with an error wrapping
// ErrNoRSS, unless PortConfig.SpreadByDevice says the device keeps flows
// apart itself: RSSEnabled then reports false and which queue a packet
// lands on is up to the device.
func OpenPort(id uint16, cfg PortConfig) (*Port, error) {
	if cfg.Mempool == nil || cfg.Mempool.c == nil {
		return nil, fmt.Errorf("dpdk.OpenPort(port %d): %w", id, errNilMempool)
	}
	var info C.struct_vec_dev_info
	if ret := C.vec_dev_info_get(C.uint16_t(id), &info); ret < 0 {
		return nil, callError(fmt.Sprintf("rte_eth_dev_info_get(port %d)", id), ret)
	}
	p := &Port{
		ID:       id,
		driver:   C.GoString(&info.driver[0]),
		rxQueues: max(cfg.RxQueues, 1),
		txQueues: max(cfg.TxQueues, 1),
		mtu:      cfg.MTU,
	}
	if p.mtu == 0 {
		p.mtu = DefaultMTU
	}
	if err := p.configure(cfg, &info); err != nil {
		p.freeKey()
		return nil, err
	}
	var name [C.RTE_ETH_NAME_MAX_LEN]C.char
	if ret := C.rte_eth_dev_get_name_by_port(C.uint16_t(id), &name[0]); ret < 0 {
		p.freeKey()
		return nil, callError(fmt.Sprintf("rte_eth_dev_get_name_by_port(port %d)", id), ret)
	}
	p.name = C.GoString(&name[0])
	return p, nil
}

func (p *Port) configure(cfg PortConfig, info *C.struct_vec_dev_info) error {
	id := C.uint16_t(p.ID)
	dev := deviceInfo(info)
	if p.rxQueues > 1 && !dev.RSSCapable() && !cfg.SpreadByDevice {
		return fmt.Errorf("dpdk.OpenPort(port %d, driver %s): %d RX queues: %w (flow_type_rss_offloads %#x, reta_size %d)",
			p.ID, dev.Driver, p.rxQueues, ErrNoRSS, dev.RSSOffloads, dev.RetaSize)
	}
	rxMTU, err := checkMTU(p.ID, p.mtu, cfg.Mempool, dev)
	if err != nil {
		return err
	}
	p.rss = p.rxQueues > 1 && dev.RSSCapable()
	if p.rss {
		hf := cfg.RSSHashFields
		if hf == 0 {
			hf = DefaultRSSHashFields
		}
		p.rssHashFields = hf & uint64(info.flow_type_rss_offloads)
		if p.rssHashFields == 0 {
			return fmt.Errorf("dpdk.OpenPort(port %d): RSS hash fields %#x: the device supports none of them (it supports %#x)",
				p.ID, hf, uint64(info.flow_type_rss_offloads))
		}
		key, err := rssKeyFor(cfg.RSSKey, int(info.hash_key_size))
		if err != nil {
			return fmt.Errorf("dpdk.OpenPort(port %d): %w", p.ID, err)
		}
		if len(key) > 0 {
			p.rssKey = (*C.uint8_t)(C.CBytes(key))
		}
		p.retaSize = uint16(info.reta_size)
		p.retaPeriod = cfg.RetaPeriod
		if p.retaPeriod == 0 {
			p.retaPeriod = p.retaSize
		}
		if p.retaPeriod&(p.retaPeriod-1) != 0 || p.retaPeriod > p.retaSize {
			return fmt.Errorf("dpdk.OpenPort(port %d, driver %s): redirection table period %d: want a power of two no larger than the device's table of %d entries",
				p.ID, dev.Driver, p.retaPeriod, p.retaSize)
		}
		if err := CheckRetaSpread(int(p.retaPeriod), int(p.rxQueues)); err != nil {
			return fmt.Errorf("dpdk.OpenPort(port %d, driver %s): %w", p.ID, dev.Driver, err)
		}
	}
	rss := C.int(0)
	if p.rss {
		rss = 1
	}
	keyLen := C.uint8_t(0)
	if p.rssKey != nil {
		keyLen = C.uint8_t(info.hash_key_size)
	}
	if ret := C.vec_dev_configure(id, C.uint16_t(p.rxQueues), C.uint16_t(p.txQueues), rss, p.rssKey, keyLen, C.uint64_t(p.rssHashFields), C.uint16_t(rxMTU)); ret < 0 {
		return callError(fmt.Sprintf("rte_eth_dev_configure(port %d)", p.ID), ret)
	}

	nrx, ntx := C.uint16_t(cfg.RxDescriptors), C.uint16_t(cfg.TxDescriptors)
	if nrx == 0 {
		nrx = DefaultDescriptors
	}
	if ntx == 0 {
		ntx = DefaultDescriptors
	}
	if ret := C.rte_eth_dev_adjust_nb_rx_tx_desc(id, &nrx, &ntx); ret < 0 {
		return callError(fmt.Sprintf("rte_eth_dev_adjust_nb_rx_tx_desc(port %d)", p.ID), ret)
	}
	p.rxDesc, p.txDesc = uint16(nrx), uint16(ntx)
	socket := C.uint(info.socket) // SOCKET_ID_ANY (-1) wraps as DPDK expects
	for q := C.uint16_t(0); q < C.uint16_t(p.rxQueues); q++ {
		if ret := C.rte_eth_rx_queue_setup(id, q, nrx, socket, nil, cfg.Mempool.c); ret < 0 {
			return callError(fmt.Sprintf("rte_eth_rx_queue_setup(port %d, queue %d)", p.ID, q), ret)
		}
	}
	for q := C.uint16_t(0); q < C.uint16_t(p.txQueues); q++ {
		if ret := C.rte_eth_tx_queue_setup(id, q, ntx, socket, nil); ret < 0 {
			return callError(fmt.Sprintf("rte_eth_tx_queue_setup(port %d, queue %d)", p.ID, q), ret)
		}
	}
	return nil
}

// EnablePromiscuous makes the port receive frames for every MAC address
// (rte_eth_promiscuous_enable). Some devices cannot (virtio-user without a
// control queue): the error then wraps ENOTSUP.
func (p *Port) EnablePromiscuous() error {
	if ret := C.rte_eth_promiscuous_enable(C.uint16_t(p.ID)); ret < 0 {
		return callError(fmt.Sprintf("rte_eth_promiscuous_enable(port %d)", p.ID), ret)
	}
	return nil
}

func (p *Port) freeKey() {
	if p.rssKey != nil {
		C.free(unsafe.Pointer(p.rssKey))
		p.rssKey = nil
	}
}

// Start starts the port (rte_eth_dev_start) and, with RSS, then programs the
// redirection table (see RSSQueue). The table is written after the start
// because some PMDs rebuild their default table when they start.
func (p *Port) Start() error {
	if ret := C.rte_eth_dev_start(C.uint16_t(p.ID)); ret < 0 {
		return callError(fmt.Sprintf("rte_eth_dev_start(port %d)", p.ID), ret)
	}
	p.started = true
	if p.rss && p.retaSize > 0 {
		if ret := C.vec_reta_set(C.uint16_t(p.ID), C.uint16_t(p.retaSize), C.uint16_t(p.rxQueues), C.uint16_t(p.retaPeriod)); ret < 0 {
			return callError(fmt.Sprintf("rte_eth_dev_rss_reta_update(port %d)", p.ID), ret)
		}
	}
	return nil
}

// Stop stops the port (rte_eth_dev_stop). OpenPort may reconfigure a
// stopped port.
func (p *Port) Stop() error {
	if ret := C.rte_eth_dev_stop(C.uint16_t(p.ID)); ret < 0 {
		return callError(fmt.Sprintf("rte_eth_dev_stop(port %d)", p.ID), ret)
	}
	p.started = false
	return nil
}

// Close stops the port if it runs and closes it (rte_eth_dev_close). For
// virtual devices this also releases the port: its id and name are gone.
func (p *Port) Close() error {
	if p.started {
		if err := p.Stop(); err != nil {
			return err
		}
	}
	ret := C.rte_eth_dev_close(C.uint16_t(p.ID))
	p.freeKey()
	if ret < 0 {
		return callError(fmt.Sprintf("rte_eth_dev_close(port %d)", p.ID), ret)
	}
	return nil
}

// Name returns the device name (rte_eth_dev_get_name_by_port at open).
func (p *Port) Name() string { return p.name }

// Driver returns the PMD's name, e.g. "net_ring".
func (p *Port) Driver() string { return p.driver }

// RxQueues returns the number of RX queues configured.
func (p *Port) RxQueues() int { return int(p.rxQueues) }

// TxQueues returns the number of TX queues configured.
func (p *Port) TxQueues() int { return int(p.txQueues) }

// RxDescriptors and TxDescriptors are the ring size of each RX and TX
// queue: PortConfig's, or DefaultDescriptors, as DPDK fitted them to the
// device's limits (rte_eth_dev_adjust_nb_rx_tx_desc).
func (p *Port) RxDescriptors() int { return int(p.rxDesc) }
func (p *Port) TxDescriptors() int { return int(p.txDesc) }

// RSSEnabled reports whether the port spreads packets over its RX queues
// by RSS (more than one RX queue and a device that supports RSS).
func (p *Port) RSSEnabled() bool { return p.rss }

// RSSHashFields returns the RTE_ETH_RSS_* fields in use (0 without RSS).
func (p *Port) RSSHashFields() uint64 { return p.rssHashFields }

// RetaSize returns the device's redirection table size (0 without RSS).
func (p *Port) RetaSize() int { return int(p.retaSize) }

// RetaPeriod returns the period of the redirection table Start programs
// (0 without RSS).
func (p *Port) RetaPeriod() int { return int(p.retaPeriod) }

// RSSQueue returns the RX queue that a packet with RSS hash hash arrives
// on, given the table Start programs (see the package function RSSQueue).
// 0 without RSS.
func (p *Port) RSSQueue(hash uint32) int {
	if !p.rss {
		return 0
	}
	return RSSQueue(hash, int(p.retaPeriod), int(p.rxQueues))
}

// MTU returns the port's MTU (PortConfig.MTU, DefaultMTU for 0).
func (p *Port) MTU() int { return int(p.mtu) }

// MaxFrameLen returns the longest frame the port receives whole: MTU plus
// FrameOverhead. A received frame longer than this carries a packet larger
// than the MTU; it, or one that arrived in several segments, must not be
// parsed.
func (p *Port) MaxFrameLen() int { return MaxFrameLen(p.mtu) }

// RSSReta reads back the redirection table (rte_eth_dev_rss_reta_query).
func (p *Port) RSSReta() ([]uint16, error) {
	if !p.rss || p.retaSize == 0 {
		return nil, errors.New("dpdk: port has no RSS redirection table")
	}
	reta := make([]uint16, p.retaSize)
	if ret := C.vec_reta_get(C.uint16_t(p.ID), C.uint16_t(p.retaSize), (*C.uint16_t)(unsafe.Pointer(&reta[0]))); ret < 0 {
		return nil, callError(fmt.Sprintf("rte_eth_dev_rss_reta_query(port %d)", p.ID), ret)
	}
	return reta, nil
}

// RSSHashConf reads back the RSS key and hash fields
// (rte_eth_dev_rss_hash_conf_get). The key has the device's key size, or
// 40 bytes when the device reports none.
func (p *Port) RSSHashConf() (key []byte, hashFields uint64, err error) {
	key = make([]byte, 255)
	var hf C.uint64_t
	if ret := C.vec_rss_hash_get(C.uint16_t(p.ID), (*C.uint8_t)(unsafe.Pointer(&key[0])), C.uint8_t(len(key)), &hf); ret < 0 {
		return nil, 0, callError(fmt.Sprintf("rte_eth_dev_rss_hash_conf_get(port %d)", p.ID), ret)
	}
	var info C.struct_vec_dev_info
	if ret := C.vec_dev_info_get(C.uint16_t(p.ID), &info); ret < 0 {
		return nil, 0, callError(fmt.Sprintf("rte_eth_dev_info_get(port %d)", p.ID), ret)
	}
	n := int(info.hash_key_size)
	if n == 0 {
		// Some PMDs (net_null) keep a key but report no key size.
		n = len(DefaultRSSKey)
	}
	return key[:n], uint64(hf), nil
}

// MAC returns the port's Ethernet address (rte_eth_macaddr_get).
func (p *Port) MAC() ([6]byte, error) {
	var a C.struct_rte_ether_addr
	if ret := C.rte_eth_macaddr_get(C.uint16_t(p.ID), &a); ret < 0 {
		return [6]byte{}, callError(fmt.Sprintf("rte_eth_macaddr_get(port %d)", p.ID), ret)
	}
	var mac [6]byte
	for i := range mac {
		mac[i] = byte(a.addr_bytes[i])
	}
	return mac, nil
}

// PortStats are a port's basic counters (struct rte_eth_stats). What is
// counted depends on the PMD: net_ring and net_null count packets, per
// queue too, but leave the byte counters at 0.
type PortStats struct {
	IPackets, OPackets uint64
	IBytes, OBytes     uint64
	IMissed            uint64 // dropped by the hardware: RX ring full
	IErrors, OErrors   uint64
	RxNoMbuf           uint64 // RX mbuf allocation failures
	// Per-queue packet counts, one entry per configured queue (at most
	// RTE_ETHDEV_QUEUE_STAT_CNTRS = 16; not every PMD fills them).
	RxQueuePackets, TxQueuePackets []uint64
}

// Stats reads the port's counters (rte_eth_stats_get).
func (p *Port) Stats() (PortStats, error) {
	var s C.struct_rte_eth_stats
	if ret := C.rte_eth_stats_get(C.uint16_t(p.ID), &s); ret < 0 {
		return PortStats{}, callError(fmt.Sprintf("rte_eth_stats_get(port %d)", p.ID), ret)
	}
	st := PortStats{
		IPackets:       uint64(s.ipackets),
		OPackets:       uint64(s.opackets),
		IBytes:         uint64(s.ibytes),
		OBytes:         uint64(s.obytes),
		IMissed:        uint64(s.imissed),
		IErrors:        uint64(s.ierrors),
		OErrors:        uint64(s.oerrors),
		RxNoMbuf:       uint64(s.rx_nombuf),
		RxQueuePackets: make([]uint64, min(int(p.rxQueues), len(s.q_ipackets))),
		TxQueuePackets: make([]uint64, min(int(p.txQueues), len(s.q_opackets))),
	}
	for i := range st.RxQueuePackets {
		st.RxQueuePackets[i] = uint64(s.q_ipackets[i])
	}
	for i := range st.TxQueuePackets {
		st.TxQueuePackets[i] = uint64(s.q_opackets[i])
	}
	return st, nil
}

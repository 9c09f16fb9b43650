package gateway

import "time"

// Port MTU bounds: DefaultMTU for a port without options, MinMTU the IPv4
// minimum (RFC 791), MaxMTU the largest the gateway sizes packet buffers
// for (dataRoomFor). vecd's configuration has the same limits
// (control/config); cmd/vecd's tests check that they agree.
const (
	DefaultMTU = 1500
	MinMTU     = 68
	MaxMTU     = 16000
)

// Ring size bounds of PortOptions.RxDescriptors and TxDescriptors: powers
// of two from MinDescriptors to MaxDescriptors, the largest a DPDK ring
// size (uint16) can be. vecd's configuration has the same limits
// (control/config); cmd/vecd's tests check that they agree.
const (
	MinDescriptors = 64
	MaxDescriptors = 32768
)

// DefaultMempoolSize is the packet-buffer pool size when
// Options.MempoolSize is zero. DPDK mempools are most memory-efficient at
// 2^q − 1 elements; 16383 buffers of ~2.2 KB are ~36 MB of hugepage memory.
const DefaultMempoolSize = 16383

// Options are what a gateway is started with: the start-up part of vecd's
// configuration, which cmd/vecd converts from config.Runtime, so that the
// gateway depends on none of the control plane's packages.
type Options struct {
	EALArgs []string // extra EAL arguments, verbatim
	VDevs   []string // virtual devices, one --vdev argument each
	// MempoolSize is the number of mbufs (zero: DefaultMempoolSize).
	MempoolSize int
	// Ports are the port devices in order; PortOptions their settings, in
	// the same order (a port without any gets DefaultMTU).
	Ports       []string
	PortOptions []PortOptions
	WorkerCores []int
	ControlCore int
	// ControlSharesWorkerCore is set when a worker polls on the control
	// core: the control plane then only gets what the poll loop leaves
	// over.
	ControlSharesWorkerCore bool
	TableCapacity           int // connection-table entries per worker
	// RunUntilInputExhausted makes the workers stop once their input
	// (a pcap file) is done.
	RunUntilInputExhausted bool
	// BusyPoll makes the workers poll without napping; IdleSleep is the
	// adaptive workers' longest nap.
	BusyPoll  bool
	IdleSleep time.Duration
}

// PortOptions are one port's settings.
type PortOptions struct {
	MTU            int
	SpreadByDevice bool
	// RxDescriptors and TxDescriptors are the ring sizes of each of the
	// port's queues; zero selects the driver's default (Options.rings).
	RxDescriptors, TxDescriptors int
}

// MaxPortMTU returns the largest MTU of the ports (DefaultMTU without any).
func (o *Options) MaxPortMTU() int {
	m := DefaultMTU
	for _, p := range o.PortOptions {
		m = max(m, p.MTU)
	}
	return m
}

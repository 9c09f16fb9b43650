package gateway

import (
	"time"

	"vec/internal/limits"
)

// Options are what a gateway is started with: the start-up part of vecd's
// configuration, which cmd/vecd converts from config.Runtime, so that the
// gateway depends on none of the control plane's packages.
type Options struct {
	EALArgs []string // extra EAL arguments, verbatim
	VDevs   []string // virtual devices, one --vdev argument each
	// MempoolSize is the number of mbufs (zero: limits.DefaultMempoolSize).
	MempoolSize int
	// Ports are the port devices in order; PortOptions their settings, in
	// the same order (a port without any gets limits.DefaultMTU).
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

// MaxPortMTU returns the largest MTU of the ports (limits.DefaultMTU without any).
func (o *Options) MaxPortMTU() int {
	m := limits.DefaultMTU
	for _, p := range o.PortOptions {
		m = max(m, p.MTU)
	}
	return m
}

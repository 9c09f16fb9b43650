package config

import "time"

// The file format's own copies of what the data plane serves, fills in and
// holds. config does not import the fastpath, so that the format stays
// apart from the internals; control/ids, which translates a configuration
// into the fastpath's types, checks in its tests that each equals the
// fastpath's (see docs/fastpath.md for why the defaults are what they are).

// IP protocol numbers of the services (protocol: tcp, udp).
const (
	ProtoTCP uint8 = 6
	ProtoUDP uint8 = 17
)

// Defaults of the service timers and weight bound left out in the file.
const (
	DefaultStaleTimeout = 900 * time.Second
	DefaultFinTimeout   = 90 * time.Second
	DefaultSynTimeout   = 3 * time.Second
	DefaultResetTimeout = 10 * time.Second
	DefaultWeightBound  = 20
)

// Schedulers of a service (scheduler: wrr or maglev); left out, wrr.
const (
	SchedulerWRR    = "wrr"
	SchedulerMaglev = "maglev"
)

// Forwarding modes of a service (forwarding: dsr, ipip or gue); left
// out, dsr.
const (
	ForwardDSR  = "dsr"
	ForwardIPIP = "ipip"
	ForwardGUE  = "gue"
)

// Defaults of gue_port and encapsulation.mtu.
const (
	DefaultGUEPort  = 6080
	DefaultEncapMTU = 1500
)

// MinEncapMTU is the smallest encapsulation.mtu: a 576-byte packet (the
// size every IPv4 host must accept, RFC 791) still fits once wrapped in
// the largest outer headers (GUE's: IPv4, UDP and GUE, 32 bytes).
const MinEncapMTU = 576 + 32

// Limits: the largest weight_bound, and the most services and servers
// (each service's counted) a gateway holds.
const (
	MaxWeightBound = 100
	MaxServices    = 1024
	MaxServers     = 4096
)

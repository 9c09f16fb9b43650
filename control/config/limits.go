package config

// The file format's names for what the data plane serves. config does not
// import the fastpath, so that the format stays apart from the internals;
// control/ids, which translates a configuration into the fastpath's types,
// checks in its tests that each equals the fastpath's. The defaults the
// file fills in and the bounds it checks against are internal/limits',
// shared with the data plane (see docs/fastpath.md for why the defaults
// are what they are).

// IP protocol numbers of the services (protocol: tcp, udp).
const (
	ProtoTCP uint8 = 6
	ProtoUDP uint8 = 17
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

// MinEncapMTU is the smallest encapsulation.mtu: a 576-byte packet (the
// size every IPv4 host must accept, RFC 791) still fits once wrapped in
// the largest outer headers (GUE's: IPv4, UDP and GUE, 32 bytes).
const MinEncapMTU = 576 + 32

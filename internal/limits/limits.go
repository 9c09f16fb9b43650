package limits

import "time"

// Service timers, used when a service leaves its timeout out (zero).
const (
	// DefaultStaleTimeout is above the usual server-side TCP idle timeouts
	// (nginx keepalive 75 s, Apache 5 s, HAProxy 50 s … and the 2 h TCP
	// keepalive probe interval is rarely relied upon); 15 minutes is the
	// value IBM Network Dispatcher shipped with (staletimeout 900 s).
	DefaultStaleTimeout = 900 * time.Second
	// DefaultFinTimeout is 3 × MSL with Linux's MSL of 30 s (TCP_TIMEWAIT_LEN
	// is 2 × MSL = 60 s); it covers the servers' own TIME-WAIT plus late
	// retransmissions from the client.
	DefaultFinTimeout = 90 * time.Second
	// DefaultSynTimeout is how long an embryonic entry (the client's SYN
	// seen, nothing else from it yet) waits for the client's next packet.
	// The handshake's ACK follows the SYN by one round trip; a client
	// whose SYN went unanswered retransmits it (Linux after 1 s, then 2 s
	// more), which refreshes the entry. A spoofed SYN's entry is gone
	// after this long instead of stale_timeout.
	DefaultSynTimeout = 3 * time.Second
	// DefaultResetTimeout is how long an entry lives after an RST from the
	// client's side (IPVS keeps a reset connection in CLOSE for 10 s). With
	// direct server return the gateway sees no sequence numbers and cannot
	// tell a real RST from a blind, spoofed one, so the entry keeps its
	// server meanwhile and the client's next packet re-activates it.
	DefaultResetTimeout = 10 * time.Second
)

// Weights: DefaultWeightBound is the largest weight a server may carry
// (the patent's Fig. 8 weight bound) when its service sets none;
// MaxWeightBound caps every service's.
const (
	DefaultWeightBound = 20
	MaxWeightBound     = 100
)

// MaxServices and MaxServers are the most services and servers (each
// service's counted) a gateway holds: the fastpath keeps its counters in
// fixed arrays of these sizes so that it never allocates.
const (
	MaxServices = 1024
	MaxServers  = 4096
)

// DefaultGUEPort is the UDP port GUE packets go to when a service sets
// none (Katran's and the Linux fou examples' choice is arbitrary; this one
// is vec's). DefaultEncapMTU is the path MTU to the servers assumed when
// encapsulation.mtu is left out: Ethernet's.
const (
	DefaultGUEPort  = 6080
	DefaultEncapMTU = 1500
)

// Port MTU bounds: DefaultMTU for a port that sets none, MinMTU the IPv4
// minimum (RFC 791), MaxMTU the largest the gateway sizes packet buffers
// for (a 16 KiB frame).
const (
	DefaultMTU = 1500
	MinMTU     = 68
	MaxMTU     = 16000
)

// Ring sizes of a port's receive and transmit queues: powers of two from
// MinDescriptors to MaxDescriptors, the largest a DPDK ring size (uint16)
// can be. The device may allow less: DPDK fits the sizes to its limits
// when the gateway opens the port.
const (
	MinDescriptors = 64
	MaxDescriptors = 32768
)

// DefaultMempoolSize is the packet-buffer pool size when the configuration
// sets none. DPDK mempools are most memory-efficient at 2^q − 1 elements;
// 16383 buffers of ~2.2 KB are ~36 MB of hugepage memory.
const DefaultMempoolSize = 16383

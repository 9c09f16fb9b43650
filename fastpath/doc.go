// Package fastpath is vec's executor: the per-core packet logic of the
// gateway, in pure Go with no cgo, so it runs and is tested without DPDK.
// It implements the message switch of US patent 6,018,017 (IBM, the design
// behind IBM Network Dispatcher; CN 1175147A, "recoverable virtual
// encapsulated cluster"), whose figures the comments cite.
//
// A worker hands Core.ProcessBurst a burst of frames; for each frame the core
// parses the headers through allocation-free views (fastpath/header), finds the
// service its (VIP, protocol, port) belongs to, runs the connection state
// machine of the patent's Fig. 7A/7B against its own connection table
// (table.go), picks a server for a new connection by the weighted round robin
// of Fig. 7C (wrr.go) or, for a service spread over several active gateways,
// by a Maglev table every gateway builds alike (maglev.go), and rewrites the
// Ethernet addresses for direct server return. ARP requests for the VIPs and the gateway are answered in place.
// Every packet gets a verdict: forward, reply, or drop with a counted reason.
//
// Configuration arrives as an immutable Snapshot that a core swaps in between
// bursts; connection entries and counters are keyed by ServiceID and ServerID,
// which the control plane keeps stable across snapshots. Timers are driven by
// a Clock so tests use a ManualClock. See docs/fastpath.md for the design.
package fastpath

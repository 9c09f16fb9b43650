// Package netnullbench measures vecd's worker poll loop on DPDK net_null
// ports, for cmd/vec-bench: a plain Go rx → tx loop and the same loop
// writing a fresh flow tuple into every packet (the baselines), vecd's own
// loop (gateway.Loops) over live flows, alone or while the control plane
// serves a steady load in the same process, two loops on two cores, a
// loop fed only SYNs of new connections, and installing rebuilt
// connection entries through the loops' mailboxes. A feed stands in for
// the NIC: net_null hands out buffers without writing them, and the feed
// writes into each the packet a client would have sent. RunBenchmark runs
// one measurement per process (the EAL initialises once); vec-bench starts
// a process per measurement. See docs/benchmarking.md.
package netnullbench

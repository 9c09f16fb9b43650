// Package gateway runs the vec gateway on DPDK: it initialises the EAL,
// opens the configured ports with one RX/TX queue per worker, gives each
// worker a fastpath core with its connection table in hugepage memory, and
// runs one polled-mode loop per worker core, pinned and registered with
// DPDK, with the control plane's threads kept off those cores.
//
// A worker's loop is: receive a burst (one cgo call), decide it with
// fastpath.Core.ProcessBurst, transmit the kept packets back out the same
// port (one cgo call), run the reaper; nothing in it locks, logs or
// allocates.
package gateway

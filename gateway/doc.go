// Package gateway runs the vec gateway on DPDK: it initialises the EAL,
// opens the configured ports with one RX/TX queue per worker, gives each
// worker a fastpath core with its connection table in hugepage memory, and
// runs one polled-mode loop per worker core, pinned and registered with
// DPDK, with the control plane's threads kept off those cores.
//
// A worker's loop is: receive a burst (one cgo call), decide it with
// fastpath.Core.ProcessBurst, transmit the kept packets back out the same
// port (one cgo call), run the reaper, serve its mailbox; nothing in it
// locks, logs or allocates.
//
// The Gateway is the control plane's manager.Dataplane. The control plane
// reaches a worker only through the worker's mailbox, an rte_ring of
// request tokens (mailbox.go): switch to a new snapshot (dropping the
// entries of servers whose drain ended, see coreops), copy out the
// counters, copy out a page of connection entries. The worker carries a
// request out between bursts and acknowledges it; Apply posts a snapshot to
// every worker at once and returns when all have acknowledged, with each
// worker's acknowledgement latency.
//
// bench.go measures the worker loop on net_null (vec-bench), alone or while
// the same process serves a steady load of control API and /metrics
// requests.
package gateway

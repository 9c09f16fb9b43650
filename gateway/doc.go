// Package gateway runs the vec gateway on DPDK: it initialises the EAL,
// opens the configured ports with one RX/TX queue per worker, gives each
// worker a fastpath core with its connection table in hugepage memory, and
// runs one polled-mode loop per worker core, pinned and registered with
// DPDK, with the control plane's threads kept off those cores.
//
// A worker's loop is: transmit the kept packets of the burst it decided
// last back out their port and receive the next burst, in one cgo call
// (dpdk.Burst.SendKeptThenRx), decide it with fastpath.Core.ProcessBurst,
// run the reaper, serve its mailbox; nothing in it locks, logs or
// allocates. A decided burst waits for the next receive at most the
// reaper's and the mailbox's time (a loop that received nothing has
// nothing waiting), and is sent when the loop stops.
//
// The Gateway is the control plane's dataplane.Dataplane. The control plane
// reaches a worker only through the worker's mailbox, an rte_ring of
// request tokens (mailbox.go): stage a new snapshot, copy out the
// counters, copy out a page of connection entries (a bounded part of the
// table per request, see fastpath.Core.List). The worker carries a
// request out between bursts and acknowledges it. Apply is two-phase: it
// stages the snapshot on every worker at once, and only when all have
// taken it commits it through an atomic word each worker reads once per
// iteration; the worker then drops the entries of servers whose drain
// ended, a bounded step per iteration, and switches. Apply returns when
// all have switched, with each worker's latency.
//
// A control-plane goroutine watches liveness (liveness.go): each worker
// stores its loop count in an atomic word once per iteration, and a worker
// whose count stays still for a second is reported stalled; the ports'
// links are read once a second, their changes logged, and LinkHealth fails
// while every link is down (the HA machine then hands over). Stop waits
// for the workers for a bounded time and names any that did not stop.
//
// Loops (pollloop.go) run the worker loops on ports someone else opened,
// with a feed that sees every received burst first: the one seam through
// which vec-bench (internal/netnullbench) measures vecd's own loop.
package gateway

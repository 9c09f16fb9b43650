// Package dpdk is the project's thin cgo layer over DPDK 22.11 (Debian's
// libdpdk, linked dynamically through pkg-config; PMDs are loaded from
// the distribution's plugin directory). It is the only cgo package of the
// tree: the fastpath stays pure Go and works on the byte slices and verdict
// arrays this package exposes.
//
// What it offers:
//   - EAL: Init, Cleanup, SetControlAffinity, ThreadAffinity,
//     RegisterWorkerThread, LcoreID.
//   - Mempools of mbufs (NewPktMempool), ports (PortByName, OpenPort,
//     Port.Start/Stop/Close/Stats/MAC/LinkUp, RSS set-up and read-back).
//   - Bursts: a Burst keeps mbuf pointers, data pointers, lengths and a
//     keep (verdict) byte per packet in C memory. Rx and SendKept/SendAll
//     are exactly one cgo call per burst; Packets and Keep are views over
//     that memory and allocate nothing. Alloc and AllocLens fill a burst
//     with new mbufs to transmit (one length for all, or one per packet);
//     SendHold transmits what the ring takes and keeps the rest.
//   - Rings of 64-bit tokens (control plane → worker) and AllocSlice for
//     pointer-free tables in hugepage memory.
//   - A pure-Go Toeplitz hash (ToeplitzHash, RSSHashIPv4) and RSSQueue,
//     which match what a port configured by OpenPort/Start does, so the
//     control plane can tell which core a flow lands on.
//
// Threads. The package's init locks the main goroutine to the main OS
// thread; call Init from main (or TestMain). rte_eal_init pins that thread
// to the main lcore; Init puts the thread's affinity back as it was and
// sets GOMAXPROCS explicitly to its value before the call (Go would
// otherwise lower it when it sees the affinity shrink). Give EAL only the
// main lcore (-l 0); workers are goroutines that call runtime.LockOSThread
// and RegisterWorkerThread(cpu) (rte_thread_register, then pinning), which
// gives them an lcore id and a mempool cache; that needs an EAL without
// multi-process, e.g. --in-memory.
//
// Memory rules. No Go pointer is ever stored in C memory: rings carry
// opaque uint64 tokens, AllocSlice rejects types containing pointers, the
// RSS key ethdev keeps a pointer to is copied into C memory. unsafe is
// used only in the *_unsafe.go files.
//
// Errors from DPDK are *Error values naming the call and its subject, with
// rte_strerror's text: "rte_eth_dev_configure(port 0): Invalid argument".
// errors.Is(err, syscall.EEXIST) and the like work through Unwrap.
package dpdk

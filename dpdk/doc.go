// Package dpdk is the project's thin cgo layer over DPDK 22.11 (Debian's
// libdpdk, linked dynamically through pkg-config; PMDs are loaded from
// the distribution's plugin directory). It is the only cgo package of the
// tree: the fastpath stays pure Go and works on the byte slices and verdict
// arrays this package exposes.
//
// What it offers:
//   - EAL: Init, Cleanup, SetControlAffinity, ThreadAffinity,
//     RegisterWorkerThread, LcoreID.
//   - Mempools of mbufs (NewPktMempool), ports (PortByName, GetDeviceInfo,
//     OpenPort, Port.Start/Stop/Close/Stats/MAC/LinkUp, Port.Link (state
//     and speed) and SetLinkDown/SetLinkUp, RSS set-up and
//     read-back). OpenPort sets the MTU (frames must fit one mbuf: no
//     scattered receive; net_af_packet is checked against its framesz),
//     refuses several RX queues on a device without RSS and a redirection
//     table unless told the device spreads flows itself, and refuses a
//     queue count the table cannot spread evenly (CheckRetaSpread).
//   - Bursts: a Burst keeps mbuf pointers, a view of each packet's data
//     laid out as a Go []byte, lengths and a keep (verdict) byte per
//     packet in C memory, and each packet's segment count and whole
//     length (Segments, PacketLens: a chained frame is visible as such).
//     Rx (which also prefetches each packet's first bytes) and
//     SendKept/SendAll are exactly one cgo call per burst, and
//     SendKeptThenRx one for both ends of a poll loop's turn; Packets and
//     Keep are that memory itself, rebuilt by nothing and allocating
//     nothing. Alloc fills a burst with new mbufs to transmit.
//   - Frames: pre-built frames in C memory that Frames.Send copies into
//     fresh mbufs and transmits, one cgo call per burst (a traffic
//     generator that prepares its traffic ahead).
//   - Rings of 64-bit tokens (control plane → worker) and AllocSlice for
//     pointer-free tables in hugepage memory.
//   - A pure-Go Toeplitz hash (ToeplitzHash, RSSHashIPv4, RSSTable) and
//     RSSQueue, which match what a port configured by OpenPort/Start does
//     (its redirection table's period: Port.RetaPeriod), so the control
//     plane can tell which core a flow lands on.
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
// Privileges. DropCapabilities empties every capability set of every
// thread, those DPDK started included, through a C signal handler that
// each thread runs (Go refuses AllThreadsSyscall in a cgo binary); memory
// mapped before stays usable, but in IOVA-PA mode EAL can map no new
// hugepages afterwards (docs/security.md).
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

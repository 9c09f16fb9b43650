// Package privdrop removes every Linux capability from the running process,
// on all of its threads: the ambient, bounding, inheritable, permitted and
// effective sets are emptied and no_new_privs is set, so neither the
// process nor a program it starts can gain a capability again (not even by
// exec as uid 0). Drop can also switch the process to an unprivileged user
// (vec-agent does when started as root).
//
// Capabilities belong to threads, not processes. DropAll and Drop go
// through syscall.AllThreadsSyscall, which the Go runtime supports only in
// binaries without cgo (vec-agent is built with CGO_ENABLED=0); setgroups,
// setgid and setuid are applied to every thread by Go itself. A binary
// that links cgo (vecd, through DPDK, whose own threads Go does not know)
// uses DropAllSignalled instead: every thread listed in /proc/self/task is
// sent a signal whose handler, installed in C by the caller (package dpdk),
// drops the capabilities of the thread it runs on.
package privdrop

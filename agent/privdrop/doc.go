// Package privdrop removes every Linux capability from the running process,
// on all of its threads: the ambient, bounding, inheritable, permitted and
// effective sets are emptied and no_new_privs is set, so neither the agent
// nor a metric script it starts can gain a capability again (not even by
// exec as uid 0).
//
// Capabilities belong to threads, not processes; the changes go through
// syscall.AllThreadsSyscall, which the Go runtime supports only in binaries
// without cgo (the agent is built with CGO_ENABLED=0).
package privdrop

// Package coreops holds what a worker does to its own fastpath core when
// the control plane asks through the mailbox: drop the connection entries
// of servers whose drain ended, and copy out a page of entries. Both go a
// bounded number of table slots at a time (ScanSlots), resuming where they
// stopped, so a poll iteration never spends long on them whatever the
// table's size. The functions run on the goroutine that owns the core,
// between bursts; they are pure Go so that tests run them against cores in
// ordinary memory.
package coreops

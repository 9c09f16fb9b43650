// Command vecd is the vec gateway: it reads a YAML configuration, brings up
// DPDK ports (PCI devices or virtual devices), and runs one polled-mode
// fastpath loop per worker core, each owning one RX/TX queue of every port
// and a connection table in hugepage memory. It exits cleanly on SIGINT or
// SIGTERM (workers drain, ports stop, EAL is cleaned up) and prints its
// final counters; with workers.run_until_input_exhausted it stops by itself
// once a replayed capture has been consumed.
//
// While it runs, the configuration can change: SIGHUP or an edit of the
// file (watched with fsnotify unless control.watch_file is false) reloads
// it, and the control API (control.tokens_file; see docs/control-api.md and
// vecctl) changes clusters, services, servers and weights. Every change is
// validated as a whole and applied to every worker atomically, or rejected
// with nothing changed. Prometheus metrics are served on metrics.listen
// (default 127.0.0.1:9100; docs/metrics.md).
//
//	vecd -config /etc/vec/vecd.yaml [-stats-json /run/vec/final.json]
//	vecd -check-config /etc/vec/vecd.yaml [-node NAME] [-skip-files]
//
// -check-config validates a file as start-up would, without starting (no
// DPDK, no root), and exits 0 (valid), 1 (invalid: every problem listed by
// field path) or 2 (unreadable); docs/configuration.md lists every key.
//
// vecd starts as root and, once DPDK, the ports, the listeners and the
// heartbeat socket are up, drops every capability on every thread (DPDK's
// included) and sets no_new_privs, keeping uid 0 for its root-owned files;
// -keep-capabilities skips that, for debugging (docs/security.md).
package main

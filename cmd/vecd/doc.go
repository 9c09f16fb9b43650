// Command vecd is the vec gateway: it reads a YAML configuration, brings up
// DPDK ports (PCI devices or virtual devices), and runs one polled-mode
// fastpath loop per worker core, each owning one RX/TX queue of every port
// and a connection table in hugepage memory. It exits cleanly on SIGINT or
// SIGTERM (workers drain, ports stop, EAL is cleaned up) and prints its
// final counters; with workers.run_until_input_exhausted it stops by itself
// once a replayed capture has been consumed.
//
//	vecd -config /etc/vec/vecd.yaml [-stats-json /run/vec/final.json]
package main

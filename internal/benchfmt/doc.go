// Package benchfmt declares the JSON shapes of the benchmark files that
// one program writes and another reads: cmd/vec-bench writes
// bench/net_null.json (NetNullReport) and bench/control.json
// (ControlReport) with internal/netnullbench's Results, and
// internal/benchrun (vec-pktgen suite -include and vec-pktgen merge) reads
// them. It imports only the standard library, so that the reader does not
// link DPDK as netnullbench does. See docs/benchmarking.md.
package benchfmt

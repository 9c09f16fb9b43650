// Package benchrun runs vec's testpmd-style benchmark over a
// virtio-user/vhost-user pair: vec-pktgen (a DPDK traffic generator on a
// net_vhost port) against dpdk-testpmd in io forwarding mode (the ceiling
// of the path) and against vecd (net_virtio_user port), with the same
// traffic, on the same cores. It writes vecd's configuration, starts and
// stops the processes with bounded times, samples which core each thread
// ran on, optionally profiles the worker threads with perf, and reports
// every figure with its ratio to testpmd's, as text, JSON and an SVG chart.
//
// vec-pktgen writes its own result as a GenResult; `vec-pktgen suite`
// (Main) runs the whole benchmark, and the smoke test of cmd/vec-pktgen
// runs one Pair at a fixed rate. `vec-pktgen merge` (MergeMain) folds the
// other steps' results of `make bench` (vec-bench -control's and the
// iperf3 upload's) into the suite's report and prints the summary of every
// figure with its same-run baseline. See docs/benchmarking.md.
package benchrun

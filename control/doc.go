// Package control is the home of vec's control plane, the "manager" of the
// patent: everything that decides what the fastpath serves without touching a
// packet itself.
//
// The control plane never writes a worker core's memory; it builds complete
// configuration snapshots (with the weights in force) and hands them to the
// fastpath as messages. Its sub-packages:
//
//   - config: the operator's YAML configuration — schema, parsing, whole-file
//     validation and translation into the fastpath's internal types.
//   - ids: ServiceIDs and ServerIDs that stay stable across changes, and the
//     draining of removed services and servers.
//   - manager: the configuration in force; every change (file reload, API,
//     ARP resolution, end of a drain, computed weights) validated as a whole
//     and applied to every worker atomically.
//   - weights: the patent's manager proper, the loop that re-weights the
//     servers from input, host, advisor and user metrics (docs/manager.md).
//   - advisor: probes of the servers (HTTP, HTTPS, TCP, UDP, custom) with
//     their latency, dampened into up and down.
//   - rules: user metrics — time windows, blocks, always, scripts.
//   - api: the authenticated HTTP/JSON control API (cmd/vecctl is its
//     client).
//   - metrics: the Prometheus endpoint, read from the workers at scrape time.
package control

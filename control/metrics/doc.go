// Package metrics serves vecd's Prometheus endpoint. Its collector asks
// the workers for a snapshot of their counters at scrape time (through the
// manager and the workers' mailboxes): nothing on the per-packet path ever
// touches a metric. Series are per worker core, per port, per server, and
// summed per service and per VIP; docs/metrics.md lists them.
package metrics

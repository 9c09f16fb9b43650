package benchrun

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Server is one backend of the benchmark's service: vecd sends its share
// of the connections to MAC, and the generator checks the split by MAC.
type Server struct {
	Name   string
	IP     string
	MAC    string
	Weight int
}

// BenchServers are the servers of every benchmark: weights 3 and 2, so
// WRR must split new connections exactly 60:40.
var BenchServers = []Server{
	{Name: "s1", IP: "10.10.0.11", MAC: "02:00:00:00:00:11", Weight: 3},
	{Name: "s2", IP: "10.10.0.12", MAC: "02:00:00:00:00:12", Weight: 2},
}

// Addresses shared by the generator and vecd's configuration.
const (
	BenchVIP        = "10.10.0.100"
	BenchPort       = 80
	BenchGatewayMAC = "02:00:00:00:00:01"
)

// ServersFlag renders servers as vec-pktgen's -servers value.
func ServersFlag(servers []Server) string {
	parts := make([]string, len(servers))
	for i, s := range servers {
		parts[i] = fmt.Sprintf("%s=%d", s.MAC, s.Weight)
	}
	return strings.Join(parts, ",")
}

// DefaultQueueSize is the virtio ring size of the benchmark's port pair
// (virtio-user's own default).
const DefaultQueueSize = 256

// VirtioUserVdev is the net_virtio_user device on the vhost-user socket
// at path: one queue pair of queueSize-entry rings, and the control queue
// (cq=1), without which the virtio PMD cannot be put in promiscuous mode
// (ENOTSUP), which vecd requires of its ports.
func VirtioUserVdev(path string, queueSize int) string {
	return fmt.Sprintf("net_virtio_user0,path=%s,queues=1,queue_size=%d,cq=1", path, queueSize)
}

// WindowFor is the generator's in-flight window for rings of queueSize
// entries: half a ring, so that everything in flight fits in the
// forwarder's transmit ring (not all of whose entries are free at any
// time) even when the generator stops draining it for a while.
func WindowFor(queueSize int) int { return queueSize / 2 }

// VhostVdev is the generator's side of the pair: the vhost-user server.
func VhostVdev(path string) string {
	return "net_vhost0,iface=" + path + ",queues=1"
}

// VecdParams shape the vecd configuration of a benchmark run.
type VecdParams struct {
	Socket      string // the vhost-user socket
	QueueSize   int    // virtio ring size
	WorkerCore  int
	ControlCore int
	// TableCapacity is the connection-table size of the worker.
	TableCapacity int
	// MempoolSize is the number of mbufs (0: vecd's default).
	MempoolSize int
	Servers     []Server
}

// TableCapacityFor sizes the table for flows concurrent connections plus
// the closing ones: at a few hundred thousand new connections per second
// and a FIN timeout of a second, up to about a million are in FIN state at
// once; beyond that, vecd evicts the oldest FIN entries (counted as
// evicted_fin), which is what the table is designed to do.
func TableCapacityFor(flows int) int { return flows + 1<<20 }

// VecdConfig is vecd's configuration file for a benchmark: one
// net_virtio_user port, the worker and control cores given, the gateway
// MAC the generator sends to, one TCP service on the VIP with a short FIN
// timeout, no metrics endpoint (runs must not collide on its TCP port).
func VecdConfig(p VecdParams) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# vecd configuration written by vec-pktgen suite.
dpdk:
  # --single-file-segments: vhost-user maps vecd's memory by file
  # descriptor, one per segment list ("Too many memory regions" otherwise).
  eal_args: ["--no-pci", "--single-file-segments"]
  vdevs: [%q]
`, VirtioUserVdev(p.Socket, p.QueueSize))
	if p.MempoolSize > 0 {
		fmt.Fprintf(&b, "  mempool_size: %d\n", p.MempoolSize)
	}
	fmt.Fprintf(&b, `ports: [{device: net_virtio_user0}]
gateway: {mac: %q}
workers: {cores: [%d], control_core: %d, table_capacity: %d}
log: {level: warn}
metrics: {disabled: true}
clusters:
  - vip: %s
    services:
      - name: bench
        protocol: tcp
        port: %d
        fin_timeout: 1s
        servers:
`, BenchGatewayMAC, p.WorkerCore, p.ControlCore, p.TableCapacity, BenchVIP, BenchPort)
	for _, s := range p.Servers {
		fmt.Fprintf(&b, "          - {name: %s, ip: %s, mac: %q, weight: %d}\n", s.Name, s.IP, s.MAC, s.Weight)
	}
	return b.String()
}

// VecdStats is the part of vecd's counters file (-stats-json) the
// benchmark reads.
type VecdStats struct {
	Cores []struct {
		Core       int               `json:"core"`
		RX         uint64            `json:"rx"`
		TX         uint64            `json:"tx"`
		TxFull     uint64            `json:"tx_full"`
		Drops      map[string]uint64 `json:"drops"`
		EvictedFIN uint64            `json:"evicted_fin"`
		Entries    uint64            `json:"entries"`
	} `json:"cores"`
	Servers []struct {
		Server  string `json:"server"`
		New     uint64 `json:"new"`
		Packets uint64 `json:"packets"`
	} `json:"servers"`
}

// ReadVecdStats reads a counters file vecd wrote.
func ReadVecdStats(path string) (*VecdStats, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st VecdStats
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(st.Cores) == 0 {
		return nil, fmt.Errorf("%s: no worker cores in vecd's counters", path)
	}
	return &st, nil
}

// Drops sums one drop reason over the cores ("" for every reason).
func (st *VecdStats) Drops(reason string) uint64 {
	var n uint64
	for _, c := range st.Cores {
		for r, v := range c.Drops {
			if reason == "" || r == reason {
				n += v
			}
		}
	}
	return n
}

// Totals sums the cores' counters.
func (st *VecdStats) Totals() (rx, tx, txFull, evictedFIN uint64) {
	for _, c := range st.Cores {
		rx += c.RX
		tx += c.TX
		txFull += c.TxFull
		evictedFIN += c.EvictedFIN
	}
	return rx, tx, txFull, evictedFIN
}

package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"vec/dpdk"
	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
	"vec/internal/corpus"
	"vec/internal/pcapfile"
	"vec/internal/testenv"
)

// rssQueue is the queue a NIC with our RSS key and a round-robin
// redirection table of 128 entries delivers a flow to.
func rssQueue(f pktbuild.Flow, queues int) int {
	h := dpdk.RSSHashIPv4(dpdk.DefaultRSSKey[:], f.SrcIP.As4(), f.DstIP.As4(), f.SrcPort, f.DstPort)
	return dpdk.RSSQueue(h, 128, queues)
}

// TestTwoWorkersOwnTheirFlows runs vecd with two workers on a two-queue
// net_pcap port. Packets are spread over the queues the way RSS would
// spread them, so every flow reaches one worker only; each worker must then
// handle exactly its own flows, and a segment that arrives on the other
// worker's queue must find no entry there — the tables share nothing.
func TestTwoWorkersOwnTheirFlows(t *testing.T) {
	testenv.RequireDPDK(t)
	const queues = 2
	var in [queues][][]byte
	flowQueue := map[string]int{}
	var strayFlow pktbuild.Flow
	for i := range 40 {
		f := clientFlow(fmt.Sprintf("192.0.2.%d", 1+i), uint16(30000+i*7), corpus.VIPA, 80)
		q := rssQueue(f, queues)
		flowQueue[f.SrcIP.String()] = q
		in[q] = append(in[q],
			pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil),
			pktbuild.TCP(f, pktbuild.ACK|pktbuild.PSH, 2, 1, []byte("data")),
			pktbuild.TCP(f, pktbuild.FIN|pktbuild.ACK, 6, 1, nil))
		if i == 0 {
			strayFlow = f
		}
	}
	for i := range 20 {
		f := clientFlow(fmt.Sprintf("203.0.113.%d", 1+i), 7000, corpus.VIPA, 53)
		q := rssQueue(f, queues)
		flowQueue[f.SrcIP.String()] = q
		in[q] = append(in[q], pktbuild.UDP(f, []byte("a")), pktbuild.UDP(f, []byte("b")))
	}
	if len(in[0]) == 0 || len(in[1]) == 0 {
		t.Fatalf("RSS put every flow on one queue: %d / %d packets", len(in[0]), len(in[1]))
	}
	// The first flow's next segment, delivered to the other worker.
	other := 1 - flowQueue[strayFlow.SrcIP.String()]
	in[other] = append(in[other], pktbuild.TCP(strayFlow, pktbuild.ACK, 7, 2, nil))

	dir := t.TempDir()
	var rx, tx [queues]string
	for q := range queues {
		rx[q], tx[q] = filepath.Join(dir, fmt.Sprintf("in%d.pcap", q)), filepath.Join(dir, fmt.Sprintf("out%d.pcap", q))
		if err := pcapfile.Write(rx[q], corpus.Packets(in[q])); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`
dpdk:
  eal_args: ["--no-pci"]
  vdevs: ["net_pcap0,rx_pcap=%s,rx_pcap=%s,tx_pcap=%s,tx_pcap=%s"]
  mempool_size: 8191
ports: [{device: net_pcap0, spread_by_device: true}]
workers: {cores: [1, 0], control_core: 0, table_capacity: 4096, run_until_input_exhausted: true}
log: {level: warn}
metrics: {disabled: true}
`, rx[0], rx[1], tx[0], tx[1]) + goldenConfigClusters
	st, log := runVecd(t, buildVecd(t), dir, cfg)
	if len(st.Cores) != queues {
		t.Fatalf("%d workers in the counters\n%s", len(st.Cores), log)
	}
	for q := range queues {
		c := st.Cores[q]
		wantTX := uint64(len(in[q]))
		if q == other {
			wantTX-- // the stray segment
		}
		if c.RX != uint64(len(in[q])) || c.TX != wantTX {
			t.Errorf("worker %d: rx %d tx %d, want %d and %d", q, c.RX, c.TX, len(in[q]), wantTX)
		}
		wantMiss := uint64(0)
		if q == other {
			wantMiss = 1
		}
		if c.Drops["non_syn_miss"] != wantMiss {
			t.Errorf("worker %d: non-SYN misses %d, want %d", q, c.Drops["non_syn_miss"], wantMiss)
		}
		out, err := pcapfile.Read(tx[q])
		if err != nil {
			t.Fatal(err)
		}
		// Every packet a worker sent belongs to a flow RSS gave that
		// worker, and each flow went to one server.
		server := map[string][6]byte{}
		for _, p := range out {
			eth := header.Ethernet(p.Data)
			src := header.IPv4(eth.Payload()).SourceAddr().String()
			if flowQueue[src] != q {
				t.Errorf("worker %d sent a packet of %s, a flow of worker %d", q, src, flowQueue[src])
			}
			dst := [6]byte(eth.Destination())
			if prev, seen := server[src]; seen && prev != dst {
				t.Errorf("flow %s split between %x and %x", src, prev, dst)
			}
			server[src] = dst
		}
		if uint64(len(out)) != wantTX {
			t.Errorf("worker %d: capture holds %d packets, counters say %d", q, len(out), wantTX)
		}
	}
	if t.Failed() {
		t.Logf("vecd output:\n%s", log)
	}
}

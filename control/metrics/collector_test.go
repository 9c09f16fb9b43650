package metrics

import (
	"encoding/json"
	"os"
	"regexp"

	"bufio"
	"github.com/prometheus/client_golang/prometheus"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"

	"vec/control/manager"
	"vec/control/manager/managertest"
	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

// scrape returns the samples of one scrape by "name{labels}".
func scrape(t *testing.T, c *Collector) map[string]float64 {
	t.Helper()
	h, err := Handler(c)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body.String())
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "vec_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func TestScrapeAgreesWithTraffic(t *testing.T) {
	// s1 at weight 3, s2 at 1.
	yaml := strings.Replace(managertest.YAML, "weight: 1}", "weight: 3}", 1)
	m, dp, _ := managertest.Start(t, yaml, manager.Options{Log: zap.NewNop(), Level: zap.NewAtomicLevel()})
	c := NewCollector(m, 1024, zap.NewNop())

	// 8 connections on core 0 (3:1 → 6 to s1, 2 to s2), each SYN and one
	// data segment; 2 stray segments and one packet for another port on
	// core 1.
	vip := netip.MustParseAddr("10.1.0.100")
	flow := func(port, dport uint16) pktbuild.Flow {
		return pktbuild.Flow{SrcMAC: pktbuild.MAC{2, 0, 0, 0, 0, 0xc1}, DstMAC: pktbuild.MAC(managertest.PortMAC),
			SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: vip, SrcPort: port, DstPort: dport}
	}
	for i := range 8 {
		f := flow(uint16(1000+i), 80)
		dp.Process(0, pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil), pktbuild.TCP(f, pktbuild.ACK, 2, 1, []byte("x")))
	}
	dp.Process(1, pktbuild.TCP(flow(2000, 80), pktbuild.ACK, 5, 5, nil), pktbuild.TCP(flow(2001, 80), pktbuild.ACK, 5, 5, nil),
		pktbuild.TCP(flow(2002, 81), pktbuild.SYN, 1, 0, nil))
	// A router's "fragmentation needed" about a server's segment of
	// connection 1007 (s2's: the 3:1 round robin gives it the 4th and 8th):
	// forwarded by core 0, which has the connection, dropped by core 1.
	serverSegment := pktbuild.TCP(pktbuild.Flow{SrcMAC: pktbuild.MAC{2, 0, 0, 0, 0, 0x12}, SrcIP: vip, DstIP: netip.MustParseAddr("192.0.2.1"),
		SrcPort: 80, DstPort: 1007}, pktbuild.ACK, 1, 2, make([]byte, 1400))
	serverSegment = header.Ethernet(serverSegment).Payload()
	fragNeeded := func() []byte {
		return pktbuild.FragNeeded(pktbuild.MAC{2, 0, 0, 0, 0, 0xe1}, pktbuild.MAC(managertest.PortMAC), netip.MustParseAddr("198.51.100.1"), serverSegment, 1280)
	}
	dp.Process(0, fragNeeded())
	dp.Process(1, fragNeeded())

	s := scrape(t, c)
	want := map[string]float64{
		`vec_server_new_connections_total{ip="10.1.0.11",server="s1",service="http",vip="10.1.0.100"}`: 6,
		`vec_server_new_connections_total{ip="10.1.0.12",server="s2",service="http",vip="10.1.0.100"}`: 2,
		`vec_server_packets_total{ip="10.1.0.11",server="s1",service="http",vip="10.1.0.100"}`:         12,
		`vec_server_active_connections{ip="10.1.0.12",server="s2",service="http",vip="10.1.0.100"}`:    2,
		`vec_server_weight{ip="10.1.0.11",server="s1",service="http",vip="10.1.0.100"}`:                3,
		`vec_service_new_connections_total{service="http",vip="10.1.0.100"}`:                           8,
		`vec_server_packets_total{ip="10.1.0.12",server="s2",service="http",vip="10.1.0.100"}`:         5,
		`vec_vip_packets_total{vip="10.1.0.100"}`:                                                      17,
		`vec_core_rx_packets_total{core="0"}`:                                                          17,
		`vec_core_rx_packets_total{core="1"}`:                                                          4,
		`vec_core_icmp_errors_forwarded_total{core="0"}`:                                               1,
		`vec_core_drops_total{core="1",reason="icmp_no_flow"}`:                                         1,
		`vec_core_drops_total{core="1",reason="non_syn_miss"}`:                                         2,
		`vec_core_drops_total{core="1",reason="not_for_cluster"}`:                                      1,
		`vec_core_table_entries{core="0"}`:                                                             8,
		`vec_core_table_capacity{core="0"}`:                                                            1024,
		`vec_config_generation`:                                                                        1,
		`vec_workers_up`:                                                                               1,
		`vec_worker_mailbox_capacity{core="1"}`:                                                        64,
	}
	wantSamples(t, s, want)
	if dp.Reads() != 1 {
		t.Errorf("one scrape read the workers' counters %d times, want 1", dp.Reads())
	}
}

// Every vec_ series the shipped Grafana dashboard queries is one the
// collector describes.
func TestDashboardUsesKnownSeries(t *testing.T) {
	b, err := os.ReadFile("../../configs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	known := map[string]bool{}
	ch := make(chan *prometheus.Desc, 100)
	go func() {
		NewCollector(nil, 0, zap.NewNop()).Describe(ch)
		NewHACollector(nil).Describe(ch)
		NewManagerCollector(nil).Describe(ch)
		close(ch)
	}()
	for d := range ch {
		name := regexp.MustCompile(`fqName: "([a-z_]+)"`).FindStringSubmatch(d.String())
		known[name[1]] = true
	}
	used := regexp.MustCompile(`vec_[a-z_]+`).FindAllString(string(b), -1)
	if len(used) < 10 {
		t.Fatalf("the dashboard uses only %d vec_ series", len(used))
	}
	for _, name := range used {
		if !known[name] {
			t.Errorf("the dashboard queries %s, which vecd does not export", name)
		}
	}
}

package metrics

import (
	"net/netip"
	"testing"

	"go.uber.org/zap"

	"vec/control/manager"
	"vec/control/manager/managertest"
	"vec/fastpath"
	"vec/fastpath/pktbuild"
	"vec/internal/testconfig"
)

// The packets of an encapsulating service are counted as encapsulated,
// and the "fragmentation needed" replies to clients whose packets would
// not fit encapsulation.mtu as too_big, apart from the ARP replies.
func TestScrapeCountsEncapsulation(t *testing.T) {
	yaml := managertest.OneWorker + `
encapsulation: {mtu: 1000}
clusters:
` + testconfig.HTTPCluster("10.1.0.100", []string{"forwarding: ipip"}, testconfig.S1)
	m, dp, _ := managertest.Start(t, yaml, manager.Options{Log: zap.NewNop(), Level: zap.NewAtomicLevel()})
	dp.SetHeadroom(fastpath.EncapHeadroom)
	c := NewCollector(m, 64, zap.NewNop())
	f := pktbuild.Flow{SrcMAC: pktbuild.MAC{2, 0, 0, 0, 0, 0xc1}, DstMAC: pktbuild.MAC(managertest.PortMAC),
		SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("10.1.0.100"), SrcPort: 1000, DstPort: 80}
	withHeadroom := func(p []byte) []byte {
		buf := make([]byte, fastpath.EncapHeadroom+len(p))
		copy(buf[fastpath.EncapHeadroom:], p)
		return buf[fastpath.EncapHeadroom:]
	}
	// The SYN and a small segment go through; a segment of 1200 bytes
	// (Don't Fragment set) would exceed the MTU of 1000 once wrapped.
	verdicts := dp.Process(0, withHeadroom(pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil)),
		withHeadroom(pktbuild.TCP(f, pktbuild.ACK, 2, 1, []byte("x"))),
		withHeadroom(pktbuild.TCP(f, pktbuild.ACK, 3, 1, make([]byte, 1200))))
	want := []fastpath.Verdict{fastpath.VerdictForward, fastpath.VerdictForward, fastpath.VerdictReply}
	for i, v := range verdicts {
		if v != want[i] {
			t.Fatalf("verdicts %v, want %v", verdicts, want)
		}
	}
	wantSamples(t, scrape(t, c), map[string]float64{
		`vec_core_encapsulated_total{core="0"}`: 2,
		`vec_core_too_big_total{core="0"}`:      1,
		`vec_core_arp_replies_total{core="0"}`:  0,
		`vec_core_tx_packets_total{core="0"}`:   2,
	})
}

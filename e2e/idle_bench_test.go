package e2e

import (
	"net"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"vec/e2e/traffic"
)

// BenchmarkFirstPacketAfterIdle measures what idle-adaptive polling adds to
// the first packet after a quiet spell: a UDP echo through vecd to a
// server and straight back (DSR), sent after the gateway has been idle for
// idleGap (so an adaptive worker naps its longest), with workers.poll busy
// and adaptive in turn. Each iteration is one round trip; the reported
// rtt-p50-µs and rtt-p99-µs are over the iterations, and warm-p50-µs is
// the round trip of a datagram sent right after another one (no nap).
//
//	go test -run '^$' -bench FirstPacketAfterIdle -benchtime 200x ./e2e/
func BenchmarkFirstPacketAfterIdle(b *testing.B) {
	for _, mode := range []string{"busy", "adaptive"} {
		b.Run(mode, func(b *testing.B) { benchFirstPacket(b, mode) })
	}
}

// idleGap is the quiet spell before each measured datagram: well past the
// time an adaptive worker needs to reach its longest nap (a few ms).
const idleGap = 100 * time.Millisecond

func benchFirstPacket(b *testing.B, mode string) {
	c := startLockedCluster(b, Options{Servers: 3})
	c.StartBackends()
	cfg := vecdYAML(c, standardServices(c, true))
	cfg = strings.Replace(cfg, "  table_capacity: 65536\n", "  table_capacity: 65536\n  poll: "+mode+"\n", 1)
	startVecd(b, c, cfg, false)

	var conn *net.UDPConn
	target := net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.VIP(), traffic.UDPPort))
	if err := InNetns(c.ClientNS(), func() error {
		var err error
		conn, err = net.DialUDP("udp4", nil, target)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 256)
	roundTrip := func() time.Duration {
		start := time.Now()
		if _, err := conn.Write([]byte("ping")); err != nil {
			b.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := conn.Read(buf); err != nil {
			b.Fatalf("echo through vecd (%s polling): %v", mode, err)
		}
		return time.Since(start)
	}
	roundTrip() // the flow's entry exists from here on
	idle := make([]time.Duration, 0, b.N)
	warm := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		time.Sleep(idleGap)
		b.StartTimer()
		idle = append(idle, roundTrip())
		b.StopTimer()
		warm = append(warm, roundTrip())
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(percentileMicros(idle, 50), "rtt-p50-µs")
	b.ReportMetric(percentileMicros(idle, 99), "rtt-p99-µs")
	b.ReportMetric(percentileMicros(warm, 50), "warm-p50-µs")
}

func percentileMicros(d []time.Duration, p int) float64 {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[(len(s)-1)*p/100].Nanoseconds()) / 1000
}

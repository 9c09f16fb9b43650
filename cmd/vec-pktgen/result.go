package main

import (
	"net"
	"strings"

	"vec/internal/benchrun"
)

// result turns what the worker counted into the report.
func (cfg *genConfig) result(g *generator, out *outcome) *benchrun.GenResult {
	t := &cfg.traffic
	r := &benchrun.GenResult{
		Mode: t.Mode, Flows: t.Flows, Clients: t.Clients, DataPerConn: t.DataPerConn, Replay: t.Replay, StrayEvery: t.StrayEvery,
		FrameSizes: t.Sizes, TargetPPS: cfg.rate, Window: g.window, Device: cfg.vdev,
		WorkerCore: cfg.core, MainLcore: cfg.mainLcore, WorkerCPUs: out.workerCPUs,
	}
	if r.Device == "" {
		r.Device = "EAL " + strings.Join(cfg.ealArgs, " ")
	}
	a, b := &out.start, &out.end
	r.Seconds = b.at.Sub(a.at).Seconds()
	r.Sent, r.SentBytes = b.tx.packets-a.tx.packets, b.tx.bytes-a.tx.bytes
	r.Received, r.ReceivedBytes = b.sink.frames-a.sink.frames, b.sink.bytes-a.sink.bytes
	r.SYNsReceived = b.sink.syns - a.sink.syns
	if r.Seconds > 0 {
		r.SentMpps = float64(r.Sent) / r.Seconds / 1e6
		r.ReceivedMpps = float64(r.Received) / r.Seconds / 1e6
		r.SentGbps = float64(r.SentBytes) * 8 / r.Seconds / 1e9
		r.ReceivedGbps = float64(r.ReceivedBytes) * 8 / r.Seconds / 1e9
		r.NewConnsPerSec = float64(r.SYNsReceived) / r.Seconds
		r.HeldFraction = out.held.Seconds() / r.Seconds
	}
	f := &out.final
	r.Total = benchrun.Totals{
		Sent: f.tx.packets, Expected: f.tx.expected, Received: f.sink.flowPackets,
		SYNsSent: f.tx.syns, SYNsReceived: f.sink.syns,
		StraysSent: f.tx.strays, StraysReceived: f.sink.strays,
		Misrouted: f.sink.misrouted, Unmatched: f.sink.unmatched, Other: f.sink.other,
		UntrackedMACs: out.otherMACs, TxRefused: out.refused, WindowStalls: out.stalls, WrittenOff: out.writtenOff,
		MbufWaits: out.noMbufs,
	}
	r.Total.Lost = int64(r.Total.Expected) - int64(r.Total.Received)
	r.Split = split(cfg.servers, out.macs, f.sink)
	return r
}

// split lists what came back per destination MAC: the expected servers
// first, in their order, then every other MAC seen.
func split(servers []server, macs []macCount, counts sinkCounts) []benchrun.ServerShare {
	var totalWeight int
	for _, s := range servers {
		totalWeight += s.weight
	}
	var out []benchrun.ServerShare
	listed := map[uint64]bool{}
	add := func(mac uint64, weight int) {
		share := benchrun.ServerShare{MAC: macString(mac), Weight: weight}
		for _, m := range macs {
			if m.mac == mac {
				share.Packets, share.Bytes, share.SYNs = m.packets, m.bytes, m.syns
			}
		}
		if counts.flowPackets > 0 {
			share.PacketShare = float64(share.Packets) / float64(counts.flowPackets)
		}
		if counts.syns > 0 {
			share.SYNShare = float64(share.SYNs) / float64(counts.syns)
		}
		if totalWeight > 0 {
			share.ExpectedShare = float64(weight) / float64(totalWeight)
		}
		out = append(out, share)
		listed[mac] = true
	}
	for _, s := range servers {
		add(macUint64(s.mac), s.weight)
	}
	for _, m := range macs {
		if !listed[m.mac] {
			add(m.mac, 0)
		}
	}
	return out
}

func macString(mac uint64) string {
	b := make(net.HardwareAddr, 6)
	for i := range b {
		b[i] = byte(mac >> (40 - 8*i))
	}
	return b.String()
}

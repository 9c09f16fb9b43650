package benchrun

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"vec/internal/benchfmt"
)

// GenResult is what one vec-pktgen run measured. vec-pktgen prints it and
// writes it as JSON (-json); the suite reads it back.
//
// Rates are over the measured window, which starts once every flow has
// been visited once (warm-up) and lasts -duration. Totals cover the whole
// run, warm-up and the final drain included, so that loss and routing are
// checked for every packet sent.
type GenResult struct {
	Mode        string `json:"mode"`
	Flows       int    `json:"flows"`
	Clients     int    `json:"clients"`
	DataPerConn int    `json:"data_per_connection"`
	// Replay: after the warm-up the same pre-built segment of each flow
	// (stray tuple) is sent over and over; DataPerConn applies only
	// without it.
	Replay     bool    `json:"replay"`
	StrayEvery int     `json:"stray_every"`
	FrameSizes []int   `json:"frame_sizes"`
	TargetPPS  float64 `json:"target_pps"` // 0: full speed
	Window     int     `json:"window"`     // most flow packets in flight (0: no limit)
	Device     string  `json:"device"`
	WorkerCore int     `json:"worker_core"`
	MainLcore  int     `json:"main_lcore"`
	WorkerCPUs string  `json:"worker_cpus"` // the worker thread's affinity, read back

	Seconds        float64 `json:"seconds"`
	Sent           uint64  `json:"sent"`
	SentBytes      uint64  `json:"sent_bytes"`
	Received       uint64  `json:"received"`
	ReceivedBytes  uint64  `json:"received_bytes"`
	SYNsReceived   uint64  `json:"syns_received"`
	SentMpps       float64 `json:"sent_mpps"`
	ReceivedMpps   float64 `json:"received_mpps"`
	SentGbps       float64 `json:"sent_gbps"`
	ReceivedGbps   float64 `json:"received_gbps"`
	NewConnsPerSec float64 `json:"new_connections_per_second"`
	// HeldFraction is the share of the window the generator had packets
	// to send but was held back by the forwarder (the window full of
	// packets not yet back, the forwarder's receive ring full, every mbuf
	// in flight): near 0, the generator itself set the pace (and a ceiling
	// measured with it is the generator's); well above, the forwarder or
	// the path did.
	HeldFraction float64 `json:"held_fraction"`

	Total Totals `json:"total"`
	// Split is per destination MAC of the frames that came back, in the
	// order of -servers, then any other MAC seen.
	Split []ServerShare `json:"split"`
}

// Totals count every packet of a run.
type Totals struct {
	// Sent is every frame the port accepted, probes excluded; Expected the
	// flow packets among them (everything but the strays), which a
	// forwarder must return.
	Sent     uint64 `json:"sent"`
	Expected uint64 `json:"expected"`
	// Received counts returned flow packets; Lost = Expected - Received
	// (negative if a forwarder duplicated packets).
	Received     uint64 `json:"received"`
	Lost         int64  `json:"lost"`
	SYNsSent     uint64 `json:"syns_sent"`
	SYNsReceived uint64 `json:"syns_received"`
	// Strays are packets of flows that never opened: a gateway must drop
	// them, an io-forwarder returns them.
	StraysSent     uint64 `json:"strays_sent"`
	StraysReceived uint64 `json:"strays_received"`
	// Misrouted: returned flow packets whose destination MAC differs from
	// the one their connection's SYN came back with. Unmatched: returned
	// packets of a connection whose SYN never came back.
	Misrouted uint64 `json:"misrouted"`
	Unmatched uint64 `json:"unmatched"`
	// Other: returned frames that are neither ARP nor one of our flows.
	// UntrackedMACs: returned flow packets to a destination MAC beyond the
	// 16 the sink tells apart (they are missing from Split).
	Other         uint64 `json:"other"`
	UntrackedMACs uint64 `json:"untracked_macs"`
	// TxRefused: frames the port would not take (its ring was full); they
	// were offered again later and are not in Sent.
	TxRefused uint64 `json:"tx_refused"`
	// WindowStalls: times the in-flight window stayed full with nothing
	// coming back, so the WrittenOff packets in flight were given up on.
	WindowStalls uint64 `json:"window_stalls"`
	WrittenOff   uint64 `json:"written_off"`
	// MbufWaits: times the generator found no free mbuf for a burst.
	MbufWaits uint64 `json:"mbuf_waits"`
}

// ServerShare is what came back to one destination MAC.
type ServerShare struct {
	MAC     string `json:"mac"`
	Weight  int    `json:"weight"` // from -servers; 0 for a MAC not listed
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	SYNs    uint64 `json:"syns"`
	// Shares of all returned flow packets and SYNs, and the share the
	// weights ask for (of new connections).
	PacketShare   float64 `json:"packet_share"`
	SYNShare      float64 `json:"syn_share"`
	ExpectedShare float64 `json:"expected_share"`
}

// LossRatio is the lost fraction of the flow packets sent.
func (r *GenResult) LossRatio() float64 {
	if r.Total.Expected == 0 {
		return 0
	}
	return float64(r.Total.Lost) / float64(r.Total.Expected)
}

// MaxSplitError is the largest difference, over the servers listed with a
// weight, between the share of new connections a server got and the share
// its weight asks for.
func (r *GenResult) MaxSplitError() float64 {
	worst := 0.0
	for _, s := range r.Split {
		if s.Weight > 0 {
			worst = max(worst, abs(s.SYNShare-s.ExpectedShare))
		}
	}
	return worst
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// Print writes the result for people.
func (r *GenResult) Print(out io.Writer) {
	rate := "full speed"
	if r.TargetPPS > 0 {
		rate = fmt.Sprintf("%.0f pps", r.TargetPPS)
	}
	fmt.Fprintf(out, "vec-pktgen: mode %s, %d flows from %d clients, %s, data frames %v bytes\n",
		r.Mode, r.Flows, r.Clients, rate, r.FrameSizes)
	fmt.Fprintf(out, "  port %s; worker on core %d (affinity %s), EAL main lcore %d\n",
		r.Device, r.WorkerCore, r.WorkerCPUs, r.MainLcore)
	fmt.Fprintf(out, "  measured %.2f s: sent %.3f Mpps (%.2f Gbit/s), received %.3f Mpps (%.2f Gbit/s), new connections %.0f/s; generator held back %.0f%% of the time\n",
		r.Seconds, r.SentMpps, r.SentGbps, r.ReceivedMpps, r.ReceivedGbps, r.NewConnsPerSec, 100*r.HeldFraction)
	t := r.Total
	fmt.Fprintf(out, "  whole run: sent %d (%d flow packets, %d strays), received %d flow packets, lost %d (%.4f%%)\n",
		t.Sent, t.Expected, t.StraysSent, t.Received, t.Lost, 100*r.LossRatio())
	fmt.Fprintf(out, "  SYNs sent %d, returned %d; strays returned %d; misrouted %d; unmatched %d; other %d\n",
		t.SYNsSent, t.SYNsReceived, t.StraysReceived, t.Misrouted, t.Unmatched, t.Other)
	fmt.Fprintf(out, "  port refused %d offers; window stalls %d (%d packets written off); waits for mbufs %d\n",
		t.TxRefused, t.WindowStalls, t.WrittenOff, t.MbufWaits)
	if len(r.Split) == 0 {
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  destination MAC\tweight\tpackets\tSYNs\tpacket share\tSYN share\texpected")
	for _, s := range r.Split {
		expected := "-"
		if s.Weight > 0 {
			expected = fmt.Sprintf("%.2f%%", 100*s.ExpectedShare)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%.2f%%\t%.2f%%\t%s\n", s.MAC, s.Weight, s.Packets, s.SYNs,
			100*s.PacketShare, 100*s.SYNShare, expected)
	}
	tw.Flush()
}

// SplitString renders the SYN split as "60.0:40.0".
func (r *GenResult) SplitString() string {
	var parts []string
	for _, s := range r.Split {
		if s.Weight > 0 || s.SYNs > 0 {
			parts = append(parts, fmt.Sprintf("%.1f", 100*s.SYNShare))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ":")
}

// NetNullRows decodes the rows of the report's net_null results
// (bench/net_null.json as cmd/vec-bench writes it, included in the report
// as NetNull): none when there are none, or they are not vec-bench's.
func (r *Report) NetNullRows() []benchfmt.NetNullRow {
	var nn benchfmt.NetNullReport
	if len(r.NetNull) == 0 || json.Unmarshal(r.NetNull, &nn) != nil {
		return nil
	}
	return nn.Rows
}

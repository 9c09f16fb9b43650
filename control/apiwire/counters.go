package apiwire

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// Counters are the gateway's counters with names (GET /v1/counters): per
// worker core, per server (summed over the cores) and per port. vecd
// prints them when it stops and writes them with -stats-json; the metrics
// serve them too.
type Counters struct {
	Generation uint64           `json:"generation"`
	Cores      []CoreCounters   `json:"cores"`
	Servers    []ServerCounters `json:"servers"`
	Ports      []PortCounters   `json:"ports"`
}

// CoreCounters are one worker's packet counters.
type CoreCounters struct {
	Core    int    `json:"core"`
	RX      uint64 `json:"rx"`
	TX      uint64 `json:"tx"`
	Replies uint64 `json:"replies"`
	// ARPLearned counts servers' ARP replies read to learn their MACs
	// (neither sent nor dropped): rx = tx + replies + arp_learned + Σ drops.
	ARPLearned uint64 `json:"arp_learned"`
	// ICMPErrors are the ICMP errors forwarded to the server of the
	// connection they quote (part of tx); EchoReplies the answered pings
	// (part of replies).
	ICMPErrors   uint64            `json:"icmp_errors"`
	EchoReplies  uint64            `json:"echo_replies"`
	TxFull       uint64            `json:"tx_full"`
	Drops        map[string]uint64 `json:"drops"`
	EvictedFIN   uint64            `json:"evicted_fin"`
	ExpiredStale uint64            `json:"expired_stale"`
	ExpiredFIN   uint64            `json:"expired_fin"`
	Resets       uint64            `json:"resets"`
	ReusedFIN    uint64            `json:"reused_fin"`
	Rescheduled  uint64            `json:"rescheduled_syn"`
	// SecondChanceHash and SecondChancePrevious count the TCP segments
	// without SYN and without an entry, of maglev services, forwarded to
	// the server of their flow's slot instead of dropped (docs/maglev.md):
	// the current and previous tables agreeing, or the previous table's
	// server where they disagree.
	SecondChanceHash     uint64 `json:"second_chance_hash"`
	SecondChancePrevious uint64 `json:"second_chance_previous"`
	// EvictedSYN and EvictedActive count the embryonic and idle ACTIVE
	// entries evicted for a new connection in a full table (EvictedFIN:
	// FIN and RST ones); ExpiredSYN and ExpiredReset those removed by the
	// embryonic and reset timers.
	EvictedSYN    uint64 `json:"evicted_syn"`
	EvictedActive uint64 `json:"evicted_active"`
	ExpiredSYN    uint64 `json:"expired_syn"`
	ExpiredReset  uint64 `json:"expired_reset"`
	Purged        uint64 `json:"purged"`
	ARPSilenced   uint64 `json:"arp_silenced"`
	Entries       uint64 `json:"entries"`
	// Mode is active, recovering or standby; Installed counts entries
	// rebuilt from the agents (InstallExisting: already there; InstallFull:
	// no room); Naps the idle naps of an adaptive poll loop.
	Mode            string `json:"mode"`
	Installed       uint64 `json:"installed"`
	InstallExisting uint64 `json:"install_existing"`
	InstallFull     uint64 `json:"install_full"`
	Naps            uint64 `json:"naps"`
	// PollIteration is the histogram of the worker's poll-iteration
	// times since it started.
	PollIteration PollTimes `json:"poll_iteration"`
	// Encapsulated counts the packets sent to the servers of ipip and gue
	// services (part of tx); TooBig the ICMP "fragmentation needed"
	// messages sent to clients whose packets would exceed
	// encapsulation.mtu once encapsulated (part of replies).
	Encapsulated uint64 `json:"encapsulated"`
	TooBig       uint64 `json:"too_big"`
}

// PollTimeBuckets is the number of buckets of a PollTimes histogram:
// bucket i below PollTimeBuckets-1 counts the iterations that took at most
// 64 ns << i (64 ns … 16.8 ms) and more than the bound of bucket i-1; the
// last bucket counts the longer ones.
const PollTimeBuckets = 20

// PollTimes is a histogram of a worker's poll-iteration times. An
// iteration in which an idle worker napped is not counted: the nap is a
// chosen wait.
type PollTimes struct {
	Buckets [PollTimeBuckets]uint64 `json:"buckets"` // not cumulative
	// SumNanos is the time of the counted iterations, MaxNanos the
	// longest one.
	SumNanos uint64 `json:"sum_ns"`
	MaxNanos uint64 `json:"max_ns"`
}

// Count is the number of iterations counted.
func (p *PollTimes) Count() uint64 {
	var n uint64
	for _, b := range p.Buckets {
		n += b
	}
	return n
}

// ServerCounters are one server's counters summed over the workers, with
// its names, IDs and weights.
type ServerCounters struct {
	ID              uint16 `json:"id"`
	ServiceID       uint16 `json:"service_id"`
	VIP             string `json:"vip"`
	Service         string `json:"service"`
	Proto           string `json:"protocol"`
	Port            uint16 `json:"port"`
	Server          string `json:"server"`
	IP              string `json:"ip"`
	Weight          int    `json:"weight"`
	EffectiveWeight int    `json:"effective_weight"`
	Quiesced        bool   `json:"quiesced"`
	Draining        bool   `json:"draining"`
	ServerTraffic
}

// ServerTraffic are a server's connection and packet counters. Its fields
// are those of fastpath.ServerCounters, in the same order, so that one
// converts to the other.
type ServerTraffic struct {
	Active    int64  `json:"active"`    // entries in ACTIVE state
	FIN       int64  `json:"fin"`       // entries in FIN state
	Completed uint64 `json:"completed"` // entries removed (RST, FIN or stale timeout, eviction)
	New       uint64 `json:"new"`       // connections assigned to this server
	Packets   uint64 `json:"packets"`   // packets forwarded to this server
	Bytes     uint64 `json:"bytes"`     // frame bytes forwarded to this server
}

// PortCounters are one port's hardware counters.
type PortCounters struct {
	Device   string `json:"device"`
	IPackets uint64 `json:"ipackets"`
	OPackets uint64 `json:"opackets"`
	IMissed  uint64 `json:"imissed"`
	RxNoMbuf uint64 `json:"rx_nombuf"`
}

// Print writes the counters as two tables.
func (st *Counters) Print(out io.Writer) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "core\trx\ttx\treplies\tdrops\ttx_full\tentries\t")
	for _, c := range st.Cores {
		var drops uint64
		for _, d := range c.Drops {
			drops += d
		}
		fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", c.Core, c.RX, c.TX, c.Replies, drops, c.TxFull, c.Entries)
	}
	w.Flush()
	for _, c := range st.Cores {
		reasons := make([]string, 0, len(c.Drops))
		for r := range c.Drops {
			reasons = append(reasons, r)
		}
		slices.Sort(reasons)
		for _, r := range reasons {
			fmt.Fprintf(out, "  core %d dropped %d: %s\n", c.Core, c.Drops[r], r)
		}
	}
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "vip\tservice\tserver\tip\tweight\tnew\tactive\tfin\tcompleted\tpackets\tbytes")
	for _, s := range st.Servers {
		weight := fmt.Sprint(s.EffectiveWeight)
		switch {
		case s.Draining:
			weight = "draining"
		case s.Quiesced:
			weight = fmt.Sprintf("0 (quiesced, %d)", s.Weight)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", s.VIP, s.Service, s.Server, s.IP, weight,
			s.New, s.Active, s.FIN, s.Completed, s.Packets, s.Bytes)
	}
	w.Flush()
}

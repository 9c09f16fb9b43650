package dataplane

import (
	"context"
	"net/netip"
	"time"

	"vec/fastpath"
)

// Dataplane is what the manager needs of the gateway's workers. Every call
// goes through the workers' mailboxes: the workers act between bursts and
// acknowledge, and the control plane never reads or writes their memory
// directly.
type Dataplane interface {
	// Apply switches every worker to the update, all or none: it first
	// stages the update on every worker, and commits it only once all of
	// them hold it, through a switch that cannot fail. An error means it
	// was not committed: every worker still runs what it ran before.
	// Without an error it is in force, and Apply has waited (until ctx
	// ends) for every worker to switch; those that had not yet are listed
	// in the report and switch at their next poll iteration.
	Apply(ctx context.Context, u Update) (ApplyReport, error)
	// Read asks every worker for a copy of its counters, including the
	// per-server counters of ServerIDs below servers.
	Read(ctx context.Context, servers int) (Reading, error)
	// Connections asks the workers for a page of their connection
	// entries from q.From on, each worker copying into a buffer the
	// control plane provides. Each worker examines a bounded number of
	// its table's slots per request, and a call makes a bounded number of
	// requests, so a page may be short, even empty, before the listing
	// is done.
	Connections(ctx context.Context, q ConnQuery) (ConnPage, error)
	// Workers describes the workers and their mailboxes.
	Workers() []WorkerStatus
}

// Update is what the workers switch to between two bursts.
type Update struct {
	Snapshot *fastpath.Snapshot
	// Purge lists servers whose remaining connection entries the workers
	// must drop (and whose counters they reset) as they switch: servers
	// whose drain ended.
	Purge []fastpath.ServerID
	// SilentVIPs are VIPs whose services all drain: the cluster was
	// removed, so the workers stop answering ARP (IPv4) and Neighbor
	// Solicitations (IPv6) for them while the snapshot still forwards
	// their open connections.
	SilentVIPs []netip.Addr
}

// ApplyReport tells how fast the workers took a snapshot.
type ApplyReport struct {
	// AckLatency is, per worker, the time from posting the snapshot to
	// the worker's acknowledgement; Max is the largest: the time until
	// the change was live everywhere.
	AckLatency []time.Duration
	Max        time.Duration
	// Unconfirmed are the cores of the workers that had not confirmed
	// the switch when the wait ended (their AckLatency is 0): the update
	// is committed, and they switch at their next poll iteration (after
	// finishing the purge, which goes a bounded step per iteration).
	Unconfirmed []int
}

// Reading is every worker's counters and the ports'.
type Reading struct {
	Cores []CoreReading
	Ports []PortCounters
}

// CoreReading is one worker's counters.
type CoreReading struct {
	Core     int
	Counters fastpath.CoreCounters
	Servers  []fastpath.ServerCounters // indexed by ServerID
	TxFull   uint64
	// Purged counts the entries the worker dropped because their
	// server's drain ended with connections left.
	Purged uint64
	// ARPSilenced counts ARP replies for removed VIPs the worker did not
	// send.
	ARPSilenced uint64
	// Naps counts the idle naps of an adaptive poll loop.
	Naps uint64
	// Mode is the worker's fastpath mode (standby on a backup).
	Mode fastpath.Mode
	// PollIteration is the histogram of the worker's poll-iteration
	// times since it started.
	PollIteration PollTimes
}

// PortCounters are one port's hardware counters.
type PortCounters struct {
	Device   string
	IPackets uint64
	OPackets uint64
	IMissed  uint64
	RxNoMbuf uint64
}

// WorkerStatus describes one worker and its mailbox.
type WorkerStatus struct {
	Core  int
	Queue int
	// MailboxDepth is the number of requests posted and not yet taken;
	// MailboxCapacity the most that can be in flight.
	MailboxDepth    int
	MailboxCapacity int
}

// PollTimeBuckets is the number of buckets of a poll-iteration-time
// histogram: bucket i below PollTimeBuckets-1 counts the iterations that
// took at most PollTimeBound(i), 64 ns << i (64 ns … 16.8 ms), and more
// than the bound of bucket i-1; the last bucket counts the longer ones.
const PollTimeBuckets = 20

// PollTimeBound is the upper bound of bucket i of a PollTimes histogram.
func PollTimeBound(i int) time.Duration { return 64 << i }

// PollTimes is a histogram of a worker's poll-iteration times, written by
// the worker alone and copied out through its mailbox. An iteration in
// which an idle worker napped is not counted: the nap is a chosen wait.
// Its fields are the control API's (apiwire.PollTimes), so the manager
// converts one into the other.
type PollTimes struct {
	Buckets [PollTimeBuckets]uint64 // not cumulative
	// SumNanos is the time of the counted iterations, MaxNanos the
	// longest one.
	SumNanos uint64
	MaxNanos uint64
}

// Count is the number of iterations counted.
func (p *PollTimes) Count() uint64 {
	var n uint64
	for _, b := range p.Buckets {
		n += b
	}
	return n
}

// ConnQuery selects connection entries. Nil sets and zero values match
// everything.
type ConnQuery struct {
	VIP      uint32 // big-endian IPv4, 0 = any (an IPv6 VIP is selected by its Services)
	Services []bool // indexed by ServiceID; nil = any
	Servers  []bool // indexed by ServerID; nil = any
	State    fastpath.ConnState
	// From is where the page starts (the zero value: at the beginning);
	// at most Limit entries are returned.
	From  ConnCursor
	Limit int
}

// ConnCursor is where a listing of the connection entries goes on: the
// Worker-th worker's table (in the order of Workers), at home slot Home,
// after the first Skip matching entries of that home slot. The workers
// list their tables in home-slot order (fastpath.Table.ScanRun), so
// every entry that stays in its table from the first page to the last is
// listed exactly once, whatever is inserted or deleted between pages;
// entries added or removed meanwhile may or may not be. (Skip is not zero
// only when one home slot holds more matching entries than a page; if
// entries of that home slot are deleted between those pages, one of the
// others may be missed.)
type ConnCursor struct {
	Worker, Home, Skip int
}

// Match reports whether e is selected (for the worker's scan).
func (q *ConnQuery) Match(e *fastpath.Entry) bool {
	return (q.VIP == 0 || (!e.Key.IPv6 && e.Key.DstIP == q.VIP)) &&
		(q.Services == nil || q.Services[e.Service]) &&
		(q.Servers == nil || q.Servers[e.Server]) &&
		(q.State == 0 || e.State == q.State)
}

// ConnPage is a page of connection entries.
type ConnPage struct {
	Entries []ConnEntry
	// Next is where the next page starts, unless Done: every worker's
	// table has been listed to its end.
	Next ConnCursor
	Done bool
}

// ConnEntry is one connection entry and the worker that holds it.
type ConnEntry struct {
	Core  int
	Entry fastpath.ListedEntry
}

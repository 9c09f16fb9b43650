package recovery

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"vec/agent/client"
	"vec/agent/wire"
	"vec/fastpath"
)

// Directory maps what agents report to the fastpath's identities, from the running configuration.
type Directory interface {
	Lookup(proto uint8, vip netip.AddrPort, serverIP netip.Addr) (fastpath.ServiceID, fastpath.ServerID, bool)
	VIPs() []netip.Addr
}

// Agent is one server's agent: where to ask and which server address it
// speaks for; a dual-stack server's agent speaks for its IPv6 address too
// (IP6), under which its IPv6 connections are rebuilt.
type Agent struct {
	Target client.Target
	IP     netip.Addr
	IP6    netip.Addr
}

// addrFor returns the server address the agent speaks for in the family
// of vip: IP, or IP6 when IP is of the other family (the invalid Addr when
// the agent has none).
func (a Agent) addrFor(vip netip.Addr) netip.Addr {
	if vip.Is6() == a.IP.Is6() {
		return a.IP
	}
	return a.IP6
}

// RebuildStats counts what Rebuild made of the agents' answers. Every
// received entry is counted once: as Skipped, Invalid, Foreign, or as a
// claim on a tuple; a tuple claimed once is installed, a tuple claimed more
// than once is counted under ConflictsResolved or ConflictsDropped.
type RebuildStats struct {
	// Received is the number of entries in the answers used (those of the
	// agents that answered completely).
	Received int
	// Skipped counts UDP sockets bound to a VIP without a peer: they are
	// not a flow, there is nothing to install.
	Skipped int
	// Invalid counts entries the fastpath cannot key: a VIP and a client
	// of different families, a v4-mapped IPv6 address (agents list IPv4
	// connections as IPv4), an unknown state, a TCP entry without a
	// client.
	Invalid int
	// Foreign counts entries whose (protocol, VIP:port) has no server at
	// the answering agent's own address: an agent may only claim
	// connections to its own server.
	Foreign int
	// ConflictsResolved counts tuples claimed by several agents where
	// exactly one claim is ACTIVE: that one is installed.
	ConflictsResolved int
	// ConflictsDropped counts tuples claimed by several agents with no
	// single ACTIVE claim (all FIN, or several ACTIVE): none is installed.
	ConflictsDropped int
	// Entries is the number of entries to install, all workers together.
	Entries int
}

// Plan is the result of Rebuild: the entries each worker installs.
type Plan struct {
	// PerWorker[w] are worker w's entries, in the agents' listing order
	// (wire.Compare: protocol, VIP, VIP port, client, client port, each
	// address by its 16-byte form).
	PerWorker [][]fastpath.InstallEntry
	Stats     RebuildStats
}

// Rebuild maps the agents' shadow tables to fastpath entries and partitions
// them by the worker each flow lands on. results[i] must be agents[i]'s
// answer (ConnectionsAll keeps that order); an answer with an error is not
// used: that agent counts as down.
//
// Each entry is mapped through dir.Lookup with the answering agent's own
// address, so an agent can only claim connections to its own server. A
// tuple claimed by several agents is resolved by one rule: a single ACTIVE
// claim beats FIN claims; otherwise (same state) none is installed, since
// the gateway cannot know which server holds the connection.
//
// The merge relies on each answer being sorted in wire.Compare order, which
// the agent client guarantees; it then runs in one pass without a map, a
// k-way merge over the answers. Unsorted answers (built by hand) are sorted
// first.
func Rebuild(dir Directory, agents []Agent, results []client.ConnectionsResult,
	numWorkers int, workerFor func(fastpath.InstallEntry) int) (Plan, error) {
	if len(results) != len(agents) {
		return Plan{}, fmt.Errorf("rebuild: %d answers for %d agents", len(results), len(agents))
	}
	if numWorkers < 1 {
		return Plan{}, fmt.Errorf("rebuild: %d workers", numWorkers)
	}
	runs := make([][]wire.Entry, 0, len(results))
	ips := make([]Agent, 0, len(results))
	for i, r := range results {
		if r.Target.Name != agents[i].Target.Name {
			return Plan{}, fmt.Errorf("rebuild: answer %d is agent %q's, want %q's", i, r.Target.Name, agents[i].Target.Name)
		}
		if r.Err != nil {
			continue
		}
		runs = append(runs, r.Shadow.Entries)
		ips = append(ips, agents[i])
	}
	plan, err := mergeAnswers(dir, runs, ips, numWorkers, workerFor)
	if errors.Is(err, errUnsorted) {
		for i, entries := range runs {
			if !slices.IsSortedFunc(entries, wire.Compare) {
				runs[i] = slices.SortedFunc(slices.Values(entries), wire.Compare)
			}
		}
		plan, err = mergeAnswers(dir, runs, ips, numWorkers, workerFor)
	}
	return plan, err
}

// errUnsorted: an answer is not in wire.Compare order.
var errUnsorted = errors.New("answer not in listing order")

// answerCursor walks one agent's entries, mapping each to a claim. Its head
// is the current claim, at tuple.
type answerCursor struct {
	entries []wire.Entry
	pos     int
	agent   Agent // whose answer: the server addresses it speaks for

	tuple wire.Key
	head  fastpath.InstallEntry

	// The last (protocol, VIP:port) looked up and its answer: an agent's
	// entries come grouped by VIP and port, so the directory is asked once
	// per group, not once per entry.
	cached        bool
	cachedProto   wire.Proto
	cachedVIP     netip.AddrPort
	cachedOK      bool
	cachedService fastpath.ServiceID
	cachedServer  fastpath.ServerID
}

// next moves the head to the answer's next claim, counting the entries it
// passes over. It reports false at the end, and errUnsorted if the claims
// go backwards.
func (r *answerCursor) next(dir Directory, st *RebuildStats) (bool, error) {
	for r.pos < len(r.entries) {
		e := &r.entries[r.pos]
		r.pos++
		if !e.Client.IsValid() {
			if e.Proto == wire.ProtoUDP {
				st.Skipped++
			} else {
				st.Invalid++
			}
			continue
		}
		vip, peer := e.VIP.Addr(), e.Client.Addr()
		var state fastpath.ConnState
		switch e.State {
		case wire.StateActive:
			state = fastpath.StateActive
		case wire.StateFIN:
			state = fastpath.StateFIN
		}
		if !vip.IsValid() || vip.Is4() != peer.Is4() || vip.Is4In6() || peer.Is4In6() || state == 0 ||
			(e.Proto != wire.ProtoTCP && e.Proto != wire.ProtoUDP) {
			st.Invalid++
			continue
		}
		if !r.cached || e.Proto != r.cachedProto || e.VIP != r.cachedVIP {
			r.cached, r.cachedProto, r.cachedVIP = true, e.Proto, e.VIP
			r.cachedService, r.cachedServer, r.cachedOK = dir.Lookup(uint8(e.Proto), e.VIP, r.agent.addrFor(e.VIP.Addr()))
		}
		if !r.cachedOK {
			st.Foreign++
			continue
		}
		t := wire.KeyOf(e.Proto, e.VIP, e.Client)
		// Equal tuples may follow each other (the merge treats them as a
		// conflict); a tuple before the previous one may not. The first
		// tuple compares with the zero tuple, which is before every entry
		// (protocol 0).
		if r.tuple.Compare(&t) > 0 {
			return false, errUnsorted
		}
		r.tuple = t
		r.head = fastpath.InstallEntry{Service: r.cachedService, Server: r.cachedServer, State: state}
		if vip.Is4() {
			// The 16-byte form's low 32 bits are the IPv4 address.
			r.head.Key = fastpath.NewFlowKey(uint8(e.Proto), uint32(t.ClientLo), e.Client.Port(), uint32(t.VIPLo), e.VIP.Port())
		} else {
			// Source = client, destination = VIP, as the packets go in;
			// Install folds the addresses into the key.
			r.head.Key = fastpath.FlowKey{Proto: uint8(e.Proto), SrcPort: e.Client.Port(), DstPort: e.VIP.Port(), IPv6: true}
			r.head.Addrs = fastpath.Addrs6{Src: peer.As16(), Dst: vip.As16()}
		}
		return true, nil
	}
	return false, nil
}

func (r *answerCursor) less(o *answerCursor) bool {
	return r.tuple.Compare(&o.tuple) < 0
}

// mergeAnswers is Rebuild over sorted answers: a k-way merge with a binary
// heap of cursors, every group of equal tuples decided by the conflict rule.
func mergeAnswers(dir Directory, answers [][]wire.Entry, agents []Agent, numWorkers int, workerFor func(fastpath.InstallEntry) int) (Plan, error) {
	var st RebuildStats
	cursors := make([]answerCursor, len(answers))
	heap := make([]int, 0, len(answers))
	total := 0
	for i := range cursors {
		cursors[i] = answerCursor{entries: answers[i], agent: agents[i]}
		total += len(answers[i])
		ok, err := cursors[i].next(dir, &st)
		if err != nil {
			return Plan{}, err
		}
		if ok {
			heap = append(heap, i)
		}
	}
	st.Received = total
	for i := len(heap)/2 - 1; i >= 0; i-- {
		siftDownCursors(heap, cursors, i)
	}

	// Flows spread evenly over the workers (that is what RSS is for), so
	// each worker's share plus a margin is reserved up front; a skewed
	// worker grows by append.
	perWorker := make([][]fastpath.InstallEntry, numWorkers)
	share := total / numWorkers
	if numWorkers > 1 {
		share += share/16 + 64
	}
	for w := range perWorker {
		perWorker[w] = make([]fastpath.InstallEntry, 0, share)
	}

	for len(heap) > 0 {
		group := cursors[heap[0]].tuple
		var active, fin fastpath.InstallEntry
		nActive, nFIN := 0, 0
		for len(heap) > 0 && cursors[heap[0]].tuple == group {
			r := &cursors[heap[0]]
			if r.head.State == fastpath.StateActive {
				active = r.head
				nActive++
			} else {
				fin = r.head
				nFIN++
			}
			ok, err := r.next(dir, &st)
			if err != nil {
				return Plan{}, err
			}
			if !ok {
				heap[0] = heap[len(heap)-1]
				heap = heap[:len(heap)-1]
			}
			if len(heap) > 0 {
				siftDownCursors(heap, cursors, 0)
			}
		}
		var chosen fastpath.InstallEntry
		switch {
		case nActive == 1:
			chosen = active
			if nFIN > 0 {
				st.ConflictsResolved++
			}
		case nActive == 0 && nFIN == 1:
			chosen = fin
		default:
			st.ConflictsDropped++
			continue
		}
		w := workerFor(chosen)
		if w < 0 || w >= numWorkers {
			return Plan{}, fmt.Errorf("rebuild: WorkerFor gave worker %d, want 0..%d", w, numWorkers-1)
		}
		perWorker[w] = append(perWorker[w], chosen)
		st.Entries++
	}
	return Plan{PerWorker: perWorker, Stats: st}, nil
}

// siftDownCursors restores the heap property below heap[i] (smallest head on top).
func siftDownCursors(heap []int, cursors []answerCursor, i int) {
	for {
		least := i
		if l := 2*i + 1; l < len(heap) && cursors[heap[l]].less(&cursors[heap[least]]) {
			least = l
		}
		if r := 2*i + 2; r < len(heap) && cursors[heap[r]].less(&cursors[heap[least]]) {
			least = r
		}
		if least == i {
			return
		}
		heap[i], heap[least] = heap[least], heap[i]
		i = least
	}
}

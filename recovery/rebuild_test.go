package recovery

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"vec/agent/client"
	"vec/agent/wire"
	"vec/fastpath"
)

// rebuildDirectory is a Directory over a fixed map, counting lookups.
type rebuildDirectory struct {
	vips    []netip.Addr
	servers map[rebuildDirKey]rebuildDirValue
	lookups int
}

type rebuildDirKey struct {
	proto    uint8
	vip      netip.AddrPort
	serverIP netip.Addr
}

type rebuildDirValue struct {
	service fastpath.ServiceID
	server  fastpath.ServerID
}

func (d *rebuildDirectory) Lookup(proto uint8, vip netip.AddrPort, serverIP netip.Addr) (fastpath.ServiceID, fastpath.ServerID, bool) {
	d.lookups++
	v, ok := d.servers[rebuildDirKey{proto, vip, serverIP}]
	return v.service, v.server, ok
}

func (d *rebuildDirectory) VIPs() []netip.Addr { return d.vips }

// The test cluster: three servers; tcp 10.0.0.1:80 (service 1) on all of
// them, udp 10.0.0.2:53 (service 2) on s1 and s2 only.
var (
	serverIPs = []netip.Addr{
		netip.MustParseAddr("10.99.0.11"),
		netip.MustParseAddr("10.99.0.12"),
		netip.MustParseAddr("10.99.0.13"),
	}
	web = netip.MustParseAddrPort("10.0.0.1:80")
	dns = netip.MustParseAddrPort("10.0.0.2:53")
)

func newRebuildDirectory() *rebuildDirectory {
	d := &rebuildDirectory{
		vips:    []netip.Addr{web.Addr(), dns.Addr()},
		servers: map[rebuildDirKey]rebuildDirValue{},
	}
	for i, ip := range serverIPs {
		d.servers[rebuildDirKey{6, web, ip}] = rebuildDirValue{1, fastpath.ServerID(i + 1)}
		if i < 2 {
			d.servers[rebuildDirKey{17, dns, ip}] = rebuildDirValue{2, fastpath.ServerID(i + 11)}
		}
	}
	return d
}

// web6 is tcp [2001:db8::80]:80 (service 3) on all three servers, at their
// IPv6 addresses serverIPs6 (the servers are dual-stack), added by withWeb6
// for the IPv6 tests.
var (
	web6       = netip.MustParseAddrPort("[2001:db8::80]:80")
	serverIPs6 = []netip.Addr{
		netip.MustParseAddr("fd00:99::11"),
		netip.MustParseAddr("fd00:99::12"),
		netip.MustParseAddr("fd00:99::13"),
	}
)

func withWeb6(d *rebuildDirectory) *rebuildDirectory {
	d.vips = append(d.vips, web6.Addr())
	for i, ip := range serverIPs6 {
		d.servers[rebuildDirKey{6, web6, ip}] = rebuildDirValue{3, fastpath.ServerID(i + 1)}
	}
	return d
}

func tcp6(client string, state wire.State) wire.Entry {
	return wire.Entry{Proto: wire.ProtoTCP, Client: netip.MustParseAddrPort(client), VIP: web6, State: state}
}

func rebuildAgents(n int) []Agent {
	agents := make([]Agent, n)
	for i := range agents {
		agents[i] = Agent{Target: client.Target{Name: "s" + string(rune('1'+i)), URL: "http://" + serverIPs[i].String() + ":10004"},
			IP: serverIPs[i], IP6: serverIPs6[i]}
	}
	return agents
}

// answered builds the agents' answers, sorted as the client returns them.
func answered(agents []Agent, entries ...[]wire.Entry) []client.ConnectionsResult {
	results := make([]client.ConnectionsResult, len(agents))
	for i, a := range agents {
		es := slices.SortedFunc(slices.Values(entries[i]), wire.Compare)
		results[i] = client.ConnectionsResult{Target: a.Target, Shadow: client.Shadow{Server: a.Target.Name, Entries: es, Complete: true}}
	}
	return results
}

func tcp(client string, state wire.State) wire.Entry {
	return wire.Entry{Proto: wire.ProtoTCP, Client: netip.MustParseAddrPort(client), VIP: web, State: state}
}

func udp(client string) wire.Entry {
	e := wire.Entry{Proto: wire.ProtoUDP, VIP: dns, State: wire.StateActive}
	if client != "" {
		e.Client = netip.MustParseAddrPort(client)
	}
	return e
}

// workerBySrcPort spreads flows by client port, easy to predict in tests.
func workerBySrcPort(n int) func(fastpath.InstallEntry) int {
	return func(e fastpath.InstallEntry) int { return int(e.Key.SrcPort) % n }
}

func key4(proto uint8, client, vip netip.AddrPort) fastpath.FlowKey {
	c, v := client.Addr().As4(), vip.Addr().As4()
	be := func(b [4]byte) uint32 { return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) }
	return fastpath.NewFlowKey(proto, be(c), client.Port(), be(v), vip.Port())
}

func TestRebuildMapsAndPartitions(t *testing.T) {
	agents := rebuildAgents(2)
	results := answered(agents,
		[]wire.Entry{tcp("192.0.2.1:1000", wire.StateActive), tcp("192.0.2.1:1001", wire.StateFIN), udp("192.0.2.9:5000")},
		[]wire.Entry{tcp("198.51.100.7:2001", wire.StateActive), udp("198.51.100.7:5001")},
	)
	dir := newRebuildDirectory()
	plan, err := Rebuild(dir, agents, results, 2, workerBySrcPort(2))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]fastpath.InstallEntry{
		{ // even client ports
			{Key: key4(6, netip.MustParseAddrPort("192.0.2.1:1000"), web), Service: 1, Server: 1, State: fastpath.StateActive},
			{Key: key4(17, netip.MustParseAddrPort("192.0.2.9:5000"), dns), Service: 2, Server: 11, State: fastpath.StateActive},
		},
		{ // odd client ports
			{Key: key4(6, netip.MustParseAddrPort("192.0.2.1:1001"), web), Service: 1, Server: 1, State: fastpath.StateFIN},
			{Key: key4(6, netip.MustParseAddrPort("198.51.100.7:2001"), web), Service: 1, Server: 2, State: fastpath.StateActive},
			{Key: key4(17, netip.MustParseAddrPort("198.51.100.7:5001"), dns), Service: 2, Server: 12, State: fastpath.StateActive},
		},
	}
	for w := range want {
		if !slices.Equal(plan.PerWorker[w], want[w]) {
			t.Errorf("worker %d: got %+v\nwant %+v", w, plan.PerWorker[w], want[w])
		}
	}
	// The key is what the fastpath parses off the wire: source = client,
	// destination = VIP, addresses big-endian.
	k := plan.PerWorker[0][0].Key
	if k.SrcIP != 0xc0000201 || k.SrcPort != 1000 || k.DstIP != 0x0a000001 || k.DstPort != 80 || k.Proto != 6 {
		t.Errorf("key %+v", k)
	}
	if want := (RebuildStats{Received: 5, Entries: 5}); plan.Stats != want {
		t.Errorf("stats %+v, want %+v", plan.Stats, want)
	}
	// One lookup per (agent, protocol, VIP:port), not one per entry.
	if dir.lookups != 4 {
		t.Errorf("%d directory lookups, want 4", dir.lookups)
	}
}

func TestRebuildRejectsForeignEntries(t *testing.T) {
	agents := rebuildAgents(3)
	results := answered(agents,
		[]wire.Entry{tcp("192.0.2.1:1000", wire.StateActive)},
		[]wire.Entry{
			tcp("192.0.2.2:1000", wire.StateActive),
			// A port of the VIP no service listens on.
			{Proto: wire.ProtoTCP, Client: netip.MustParseAddrPort("192.0.2.2:1001"), VIP: netip.MustParseAddrPort("10.0.0.1:443"), State: wire.StateActive},
		},
		// s3 is no server of the udp service: it cannot claim its flows.
		[]wire.Entry{udp("192.0.2.3:5000")},
	)
	plan, err := Rebuild(newRebuildDirectory(), agents, results, 1, workerBySrcPort(1))
	if err != nil {
		t.Fatal(err)
	}
	if want := (RebuildStats{Received: 4, Foreign: 2, Entries: 2}); plan.Stats != want {
		t.Errorf("stats %+v, want %+v", plan.Stats, want)
	}
	for _, e := range plan.PerWorker[0] {
		if e.Key.Proto == 17 || e.Key.DstPort == 443 {
			t.Errorf("foreign entry installed: %+v", e)
		}
	}
}

func TestRebuildMapsClaimsToTheAgentsOwnServer(t *testing.T) {
	// s3 claims a connection that is s1's: it is mapped to s3's server,
	// never to s1's, and conflicts with s1's own claim.
	agents := rebuildAgents(3)
	results := answered(agents,
		[]wire.Entry{tcp("192.0.2.1:1000", wire.StateFIN)},
		nil,
		[]wire.Entry{tcp("192.0.2.1:1000", wire.StateActive), tcp("192.0.2.1:1001", wire.StateActive)},
	)
	plan, err := Rebuild(newRebuildDirectory(), agents, results, 1, workerBySrcPort(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range plan.PerWorker[0] {
		if e.Server != 3 {
			t.Errorf("s3's claim installed for server %d: %+v", e.Server, e)
		}
	}
	if want := (RebuildStats{Received: 3, ConflictsResolved: 1, Entries: 2}); plan.Stats != want {
		t.Errorf("stats %+v, want %+v", plan.Stats, want)
	}
}

func TestRebuildSkipsWhatIsNoFlow(t *testing.T) {
	agents := rebuildAgents(1)
	// A flow's VIP and client are of one family.
	v6ToV4 := wire.Entry{Proto: wire.ProtoTCP, Client: netip.MustParseAddrPort("[2001:db8::1]:1000"), VIP: web, State: wire.StateActive}
	v4ToV6 := tcp6("192.0.2.1:1000", wire.StateActive)
	// Agents list IPv4 connections with IPv4 addresses, never v4-mapped.
	mapped := tcp6("[::ffff:192.0.2.1]:1000", wire.StateActive)
	mapped.VIP = netip.MustParseAddrPort("[::ffff:10.0.0.1]:80")
	noState := tcp("192.0.2.1:1002", 0)
	noClient := wire.Entry{Proto: wire.ProtoTCP, VIP: web, State: wire.StateActive}
	results := answered(agents, []wire.Entry{
		udp(""), // an unconnected UDP socket
		v6ToV4, v4ToV6, mapped, noState, noClient,
		tcp("192.0.2.1:1000", wire.StateActive),
		tcp6("[2001:db8::1]:1000", wire.StateActive),
	})
	plan, err := Rebuild(withWeb6(newRebuildDirectory()), agents, results, 1, workerBySrcPort(1))
	if err != nil {
		t.Fatal(err)
	}
	if want := (RebuildStats{Received: 8, Skipped: 1, Invalid: 5, Entries: 2}); plan.Stats != want {
		t.Errorf("stats %+v, want %+v", plan.Stats, want)
	}
}

// conflictCase: claims by s1, s2, s3 on one tuple (0 = no claim); winner
// is the index of the agent installed, -1 none.
type conflictCase struct {
	name              string
	claims            []wire.State
	winner            int
	resolved, dropped int
	installed         int
}

func TestRebuildConflicts(t *testing.T) {
	const (
		A = wire.StateActive
		F = wire.StateFIN
	)
	cases := []conflictCase{
		{"one claim", []wire.State{0, F, 0}, 1, 0, 0, 1},
		{"ACTIVE beats FIN", []wire.State{F, A, 0}, 1, 1, 0, 1},
		{"ACTIVE beats two FIN", []wire.State{F, F, A}, 2, 1, 0, 1},
		{"two ACTIVE: none", []wire.State{A, A, 0}, -1, 0, 1, 0},
		{"two FIN: none", []wire.State{0, F, F}, -1, 0, 1, 0},
		{"two ACTIVE and a FIN: none", []wire.State{A, F, A}, -1, 0, 1, 0},
	}
	// The contested tuple is IPv4 or IPv6, decided alike; every agent
	// also holds one connection of its own, of the other family.
	families := []struct {
		name      string
		contested wire.Entry
		own       func(i int) wire.Entry
	}{
		{"IPv4", tcp("192.0.2.1:1000", 0), func(i int) wire.Entry { return tcp6("[2001:db8::c1]:"+string(rune('1'+i))+"000", A) }},
		{"IPv6", tcp6("[2001:db8::c1]:1000", 0), func(i int) wire.Entry { return tcp("198.51.100.1:"+string(rune('1'+i))+"000", A) }},
	}
	for _, family := range families {
		for _, c := range cases {
			t.Run(family.name+"/"+c.name, func(t *testing.T) {
				testRebuildConflict(t, c, family.contested, family.own)
			})
		}
	}
}

func testRebuildConflict(t *testing.T, c conflictCase, contested wire.Entry, own func(int) wire.Entry) {
	agents := rebuildAgents(3)
	entries := make([][]wire.Entry, 3)
	for i := range entries {
		entries[i] = []wire.Entry{own(i)}
		if c.claims[i] != 0 {
			claim := contested
			claim.State = c.claims[i]
			entries[i] = append(entries[i], claim)
		}
	}
	plan, err := Rebuild(withWeb6(newRebuildDirectory()), agents, answered(agents, entries...), 1, workerBySrcPort(1))
	if err != nil {
		t.Fatal(err)
	}
	if plan.Stats.ConflictsResolved != c.resolved || plan.Stats.ConflictsDropped != c.dropped {
		t.Errorf("stats %+v", plan.Stats)
	}
	if plan.Stats.Entries != 3+c.installed || len(plan.PerWorker[0]) != 3+c.installed {
		t.Errorf("%d entries (%d planned), want %d", len(plan.PerWorker[0]), plan.Stats.Entries, 3+c.installed)
	}
	want := installEntry(contested)
	var got []fastpath.InstallEntry
	for _, e := range plan.PerWorker[0] {
		if e.Key == want.Key && e.Addrs == want.Addrs {
			got = append(got, e)
		}
	}
	switch {
	case c.winner < 0 && len(got) != 0:
		t.Errorf("contested tuple installed: %+v", got)
	case c.winner >= 0 && (len(got) != 1 || got[0].Server != fastpath.ServerID(c.winner+1) ||
		got[0].State != fastpath.ConnState(c.claims[c.winner])):
		t.Errorf("contested tuple: got %+v, want server %d", got, c.winner+1)
	}
}

// An answer mixing IPv4 and IPv6 connections gives both to the workers,
// IPv6 ones with the addresses in Addrs (source = client, destination =
// VIP), in the listing's order: IPv4 addresses sort as ::ffff:a.b.c.d.
func TestRebuildMixesIPv4AndIPv6(t *testing.T) {
	agents := rebuildAgents(2)
	results := answered(agents,
		[]wire.Entry{tcp6("[2001:db8::c1]:1000", wire.StateActive), tcp("192.0.2.1:1000", wire.StateActive),
			tcp6("[2001:db8::c2]:1001", wire.StateFIN)},
		[]wire.Entry{tcp6("[2001:db8::c1]:1001", wire.StateActive), tcp("192.0.2.1:1001", wire.StateFIN),
			udp("198.51.100.7:5001")},
	)
	dir := withWeb6(newRebuildDirectory())
	plan, err := Rebuild(dir, agents, results, 2, workerBySrcPort(2))
	if err != nil {
		t.Fatal(err)
	}
	v6 := func(client string, server fastpath.ServerID, state fastpath.ConnState) fastpath.InstallEntry {
		c := netip.MustParseAddrPort(client)
		return fastpath.InstallEntry{
			Key:     fastpath.FlowKey{Proto: 6, SrcPort: c.Port(), DstPort: 80, IPv6: true},
			Addrs:   fastpath.Addrs6{Src: c.Addr().As16(), Dst: web6.Addr().As16()},
			Service: 3, Server: server, State: state,
		}
	}
	want := [][]fastpath.InstallEntry{
		{ // even client ports
			{Key: key4(6, netip.MustParseAddrPort("192.0.2.1:1000"), web), Service: 1, Server: 1, State: fastpath.StateActive},
			v6("[2001:db8::c1]:1000", 1, fastpath.StateActive),
		},
		{ // odd client ports
			{Key: key4(6, netip.MustParseAddrPort("192.0.2.1:1001"), web), Service: 1, Server: 2, State: fastpath.StateFIN},
			v6("[2001:db8::c1]:1001", 2, fastpath.StateActive),
			v6("[2001:db8::c2]:1001", 1, fastpath.StateFIN),
			{Key: key4(17, netip.MustParseAddrPort("198.51.100.7:5001"), dns), Service: 2, Server: 12, State: fastpath.StateActive},
		},
	}
	for w := range want {
		if !slices.Equal(plan.PerWorker[w], want[w]) {
			t.Errorf("worker %d: got %+v\nwant %+v", w, plan.PerWorker[w], want[w])
		}
	}
	if want := (RebuildStats{Received: 6, Entries: 6}); plan.Stats != want {
		t.Errorf("stats %+v, want %+v", plan.Stats, want)
	}
}

// A dual-stack server's agent speaks for its IPv6 address under ip6: an
// agent known by its IPv4 address alone has its IPv6 connections counted
// foreign (they name no server at an address it speaks for), its IPv4
// ones installed.
func TestRebuildNeedsTheAgentsIPv6Address(t *testing.T) {
	agents := rebuildAgents(1)
	agents[0].IP6 = netip.Addr{}
	results := answered(agents, []wire.Entry{tcp6("[2001:db8::c1]:1000", wire.StateActive), tcp("192.0.2.1:1000", wire.StateActive)})
	plan, err := Rebuild(withWeb6(newRebuildDirectory()), agents, results, 1, workerBySrcPort(1))
	if err != nil {
		t.Fatal(err)
	}
	if want := (RebuildStats{Received: 2, Entries: 1, Foreign: 1}); plan.Stats != want {
		t.Errorf("stats %+v, want %+v", plan.Stats, want)
	}
}

// The merge's order across families is wire.Compare's, so a listing the
// agent sorted passes, and one out of order is caught whichever family
// goes backwards, then sorted by Rebuild.
func TestRebuildDetectsUnsortedMixedAnswers(t *testing.T) {
	dir := withWeb6(newRebuildDirectory())
	ips := rebuildAgents(1)
	sorted := slices.SortedFunc(slices.Values([]wire.Entry{
		tcp("192.0.2.1:1000", wire.StateActive), tcp("192.0.2.2:1000", wire.StateActive),
		tcp6("[2001:db8::c1]:1000", wire.StateActive), tcp6("[2001:db8::c1]:1001", wire.StateActive),
		tcp6("[2001:db8::c2]:1000", wire.StateActive), tcp6("[2001:db8:1::c1]:1000", wire.StateActive),
		udp("192.0.2.1:1000"),
	}), wire.Compare)
	want, err := mergeAnswers(dir, [][]wire.Entry{sorted}, ips, 1, workerBySrcPort(1))
	if err != nil || want.Stats.Entries != len(sorted) {
		t.Fatalf("sorted answer: %+v, %v", want.Stats, err)
	}
	for i := 1; i < len(sorted); i++ {
		swapped := slices.Clone(sorted)
		swapped[i-1], swapped[i] = swapped[i], swapped[i-1]
		if _, err := mergeAnswers(dir, [][]wire.Entry{swapped}, ips, 1, workerBySrcPort(1)); !errors.Is(err, errUnsorted) {
			t.Errorf("%v before %v: error %v, want errUnsorted", swapped[i-1], swapped[i], err)
		}
		agents := rebuildAgents(1)
		results := answered(agents, nil)
		results[0].Shadow.Entries = swapped
		got, err := Rebuild(dir, agents, results, 1, workerBySrcPort(1))
		if err != nil || !slices.Equal(got.PerWorker[0], want.PerWorker[0]) || got.Stats != want.Stats {
			t.Errorf("%v before %v: Rebuild %+v, %v; want %+v", swapped[i-1], swapped[i], got, err, want)
		}
	}
}

func TestRebuildIgnoresFailedAgents(t *testing.T) {
	agents := rebuildAgents(2)
	results := answered(agents,
		[]wire.Entry{tcp("192.0.2.1:1000", wire.StateFIN)},
		[]wire.Entry{tcp("192.0.2.1:1000", wire.StateActive), tcp("192.0.2.2:1000", wire.StateActive)},
	)
	// s2 timed out after its first page: it counts as down, its partial
	// table is not used, and so does not beat s1's claim.
	results[1].Err = errors.New("context deadline exceeded")
	results[1].Shadow.Complete = false
	plan, err := Rebuild(newRebuildDirectory(), agents, results, 1, workerBySrcPort(1))
	if err != nil {
		t.Fatal(err)
	}
	want := []fastpath.InstallEntry{{Key: key4(6, netip.MustParseAddrPort("192.0.2.1:1000"), web), Service: 1, Server: 1, State: fastpath.StateFIN}}
	if !slices.Equal(plan.PerWorker[0], want) || plan.Stats != (RebuildStats{Received: 1, Entries: 1}) {
		t.Errorf("plan %+v", plan)
	}
}

func TestRebuildRefusesMisuse(t *testing.T) {
	agents := rebuildAgents(2)
	results := answered(agents, []wire.Entry{tcp("192.0.2.1:1000", wire.StateActive)}, nil)
	dir := newRebuildDirectory()
	for _, c := range []struct {
		name      string
		agents    []Agent
		results   []client.ConnectionsResult
		workers   int
		workerFor func(fastpath.InstallEntry) int
		want      string
	}{
		{"fewer answers", agents, results[:1], 1, workerBySrcPort(1), "1 answers for 2 agents"},
		{"answers in another order", agents, []client.ConnectionsResult{results[1], results[0]}, 1, workerBySrcPort(1), `agent "s2"'s, want "s1"'s`},
		{"no workers", agents, results, 0, workerBySrcPort(1), "0 workers"},
		{"worker out of range", agents, results, 2, func(fastpath.InstallEntry) int { return 2 }, "worker 2, want 0..1"},
	} {
		_, err := Rebuild(dir, c.agents, c.results, c.workers, c.workerFor)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// referenceRebuild is the rule written plainly, with a map: what Rebuild's
// merge must agree with.
func referenceRebuild(dir Directory, agents []Agent, results []client.ConnectionsResult, numWorkers int, workerFor func(fastpath.InstallEntry) int) Plan {
	var st RebuildStats
	type flow struct {
		key   fastpath.FlowKey
		addrs fastpath.Addrs6
	}
	claims := map[flow][]fastpath.InstallEntry{}
	for i, r := range results {
		if r.Err != nil {
			continue
		}
		for _, e := range r.Shadow.Entries {
			st.Received++
			vip, peer := e.VIP.Addr(), e.Client.Addr()
			switch {
			case !e.Client.IsValid() && e.Proto == wire.ProtoUDP:
				st.Skipped++
				continue
			case !e.Client.IsValid() || (!vip.Is4() || !peer.Is4()) && (!vip.Is6() || !peer.Is6() || vip.Is4In6() || peer.Is4In6()) ||
				(e.State != wire.StateActive && e.State != wire.StateFIN):
				st.Invalid++
				continue
			}
			svc, srv, ok := dir.Lookup(uint8(e.Proto), e.VIP, agents[i].addrFor(e.VIP.Addr()))
			if !ok {
				st.Foreign++
				continue
			}
			c := installEntry(e)
			c.Service, c.Server = svc, srv
			f := flow{c.Key, c.Addrs}
			claims[f] = append(claims[f], c)
		}
	}
	plan := Plan{PerWorker: make([][]fastpath.InstallEntry, numWorkers)}
	for _, cs := range claims {
		var active []fastpath.InstallEntry
		for _, c := range cs {
			if c.State == fastpath.StateActive {
				active = append(active, c)
			}
		}
		var e fastpath.InstallEntry
		switch {
		case len(cs) == 1:
			e = cs[0]
		case len(active) == 1:
			e = active[0]
			st.ConflictsResolved++
		default:
			st.ConflictsDropped++
			continue
		}
		w := workerFor(e)
		plan.PerWorker[w] = append(plan.PerWorker[w], e)
		st.Entries++
	}
	plan.Stats = st
	return plan
}

// installEntry is the entry the fastpath gets for e (no service or server
// yet): IPv4 addresses in the key, IPv6 ones in Addrs.
func installEntry(e wire.Entry) fastpath.InstallEntry {
	if e.VIP.Addr().Is4() {
		return fastpath.InstallEntry{Key: key4(uint8(e.Proto), e.Client, e.VIP), State: fastpath.ConnState(e.State)}
	}
	return fastpath.InstallEntry{
		Key:   fastpath.FlowKey{Proto: uint8(e.Proto), SrcPort: e.Client.Port(), DstPort: e.VIP.Port(), IPv6: true},
		Addrs: fastpath.Addrs6{Src: e.Client.Addr().As16(), Dst: e.VIP.Addr().As16()},
		State: fastpath.ConnState(e.State),
	}
}

func sortedByKey(es []fastpath.InstallEntry) []fastpath.InstallEntry {
	return slices.SortedFunc(slices.Values(es), func(a, b fastpath.InstallEntry) int {
		return strings.Compare(string(listingOrder(a)), string(listingOrder(b)))
	})
}

// listingOrder is the tuple order Plan documents, wire.Compare's:
// protocol, VIP, VIP port, client, client port, an IPv4 address as
// ::ffff:a.b.c.d.
func listingOrder(e fastpath.InstallEntry) []byte {
	vip, client := e.Addrs.Dst, e.Addrs.Src
	if !e.Key.IPv6 {
		vip = netip.AddrFrom4([4]byte{byte(e.Key.DstIP >> 24), byte(e.Key.DstIP >> 16), byte(e.Key.DstIP >> 8), byte(e.Key.DstIP)}).As16()
		client = netip.AddrFrom4([4]byte{byte(e.Key.SrcIP >> 24), byte(e.Key.SrcIP >> 16), byte(e.Key.SrcIP >> 8), byte(e.Key.SrcIP)}).As16()
	}
	b := append([]byte{e.Key.Proto}, vip[:]...)
	b = append(b, byte(e.Key.DstPort>>8), byte(e.Key.DstPort))
	b = append(b, client[:]...)
	return append(b, byte(e.Key.SrcPort>>8), byte(e.Key.SrcPort))
}

// randomAnswers draws overlapping tables: few clients and ports, so many
// tuples are claimed twice or three times, with every kind of bad entry.
func randomAnswers(rng *rand.Rand, agents []Agent) []client.ConnectionsResult {
	entries := make([][]wire.Entry, len(agents))
	vips := []netip.AddrPort{web, dns, netip.MustParseAddrPort("10.0.0.1:443"), web6, netip.MustParseAddrPort("[2001:db8::80]:443")}
	for i := range entries {
		seen := map[wire.Entry]bool{}
		for range rng.IntN(300) {
			e := wire.Entry{Proto: wire.ProtoTCP, VIP: vips[rng.IntN(len(vips))], State: wire.State(1 + rng.IntN(2))}
			if rng.IntN(2) == 0 {
				e.Proto = wire.ProtoUDP
			}
			v4 := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(rng.IntN(4))}), uint16(1000+rng.IntN(8)))
			v6 := netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(rng.IntN(4))}), uint16(1000+rng.IntN(8)))
			if e.VIP.Addr().Is6() {
				v4, v6 = v6, v4
			}
			switch rng.IntN(20) {
			case 0: // no client
			case 1: // the other family
				e.Client = v6
			case 2: // v4-mapped
				e.Client = netip.AddrPortFrom(netip.AddrFrom16(v4.Addr().As16()), v4.Port())
			default:
				e.Client = v4
			}
			// An agent lists each (protocol, VIP, client) once.
			id := wire.Entry{Proto: e.Proto, VIP: e.VIP, Client: e.Client}
			if seen[id] {
				continue
			}
			seen[id] = true
			entries[i] = append(entries[i], e)
		}
	}
	return answered(agents, entries...)
}

func TestRebuildAgreesWithReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	agents := rebuildAgents(3)
	for round := range 200 {
		results := randomAnswers(rng, agents)
		if rng.IntN(4) == 0 {
			results[rng.IntN(3)].Err = errors.New("down")
		}
		if rng.IntN(4) == 0 { // an answer out of order
			es := results[rng.IntN(3)].Shadow.Entries
			rng.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
		}
		workers := 1 + rng.IntN(4)
		dir := withWeb6(newRebuildDirectory())
		got, err := Rebuild(dir, agents, results, workers, workerBySrcPort(workers))
		if err != nil {
			t.Fatal(err)
		}
		want := referenceRebuild(dir, agents, results, workers, workerBySrcPort(workers))
		if got.Stats != want.Stats {
			t.Fatalf("round %d: stats %+v, want %+v", round, got.Stats, want.Stats)
		}
		for w := range workers {
			if !slices.Equal(sortedByKey(got.PerWorker[w]), sortedByKey(want.PerWorker[w])) {
				t.Fatalf("round %d worker %d: got %v, want %v", round, w, got.PerWorker[w], want.PerWorker[w])
			}
			if !slices.IsSortedFunc(got.PerWorker[w], func(a, b fastpath.InstallEntry) int {
				return strings.Compare(string(listingOrder(a)), string(listingOrder(b)))
			}) {
				t.Fatalf("round %d worker %d: not in tuple order", round, w)
			}
		}
	}
}

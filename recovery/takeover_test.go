package recovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"vec/agent/auth"
	"vec/agent/client"
	"vec/agent/wire"
	"vec/fastpath"
)

// takeoverEvent is one call the takeover made on the dataplane.
type takeoverEvent struct {
	kind   string // "mode", "install" or "announce"
	mode   fastpath.Mode
	worker int
	n      int
}

// takeoverDataplane records every call in order. Its workers' tables are
// sets of keys: an entry already present is Existing, as in the fastpath.
type takeoverDataplane struct {
	workers int

	mu        sync.Mutex
	events    []takeoverEvent
	tables    []map[fastpath.FlowKey]fastpath.InstallEntry
	announced chan []netip.Addr // every Announce, if not nil

	// Hooks for failures and timing; nil means succeed at once.
	setMode func(fastpath.Mode) error
	install func(ctx context.Context, worker, n int) error
}

func newTakeoverDataplane(workers int) *takeoverDataplane {
	dp := &takeoverDataplane{workers: workers, tables: make([]map[fastpath.FlowKey]fastpath.InstallEntry, workers)}
	for w := range dp.tables {
		dp.tables[w] = map[fastpath.FlowKey]fastpath.InstallEntry{}
	}
	return dp
}

func (dp *takeoverDataplane) record(e takeoverEvent) {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	dp.events = append(dp.events, e)
}

func (dp *takeoverDataplane) SetMode(_ context.Context, m fastpath.Mode) error {
	if dp.setMode != nil {
		if err := dp.setMode(m); err != nil {
			return err
		}
	}
	dp.record(takeoverEvent{kind: "mode", mode: m})
	return nil
}

func (dp *takeoverDataplane) Install(ctx context.Context, worker int, entries []fastpath.InstallEntry) (fastpath.InstallResult, error) {
	if dp.install != nil {
		if err := dp.install(ctx, worker, len(entries)); err != nil {
			return fastpath.InstallResult{}, err
		}
	}
	dp.mu.Lock()
	defer dp.mu.Unlock()
	dp.events = append(dp.events, takeoverEvent{kind: "install", worker: worker, n: len(entries)})
	var r fastpath.InstallResult
	for _, e := range entries {
		if _, ok := dp.tables[worker][e.Key]; ok {
			r.Existing++
			continue
		}
		dp.tables[worker][e.Key] = e
		r.Installed++
	}
	return r, nil
}

func (dp *takeoverDataplane) WorkerFor(e fastpath.InstallEntry) int {
	return int(e.Key.SrcPort) % dp.workers
}

func (dp *takeoverDataplane) NumWorkers() int { return dp.workers }

func (dp *takeoverDataplane) Announce(_ context.Context, vips []netip.Addr) error {
	dp.record(takeoverEvent{kind: "announce", n: len(vips)})
	if dp.announced != nil {
		dp.announced <- vips
	}
	return nil
}

// calls returns the events other than announcements (those come from the
// announcer's own goroutine, at its own times).
func (dp *takeoverDataplane) calls() []takeoverEvent {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	var out []takeoverEvent
	for _, e := range dp.events {
		if e.kind != "announce" {
			out = append(out, e)
		}
	}
	return out
}

func (dp *takeoverDataplane) announcements() int {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	n := 0
	for _, e := range dp.events {
		if e.kind == "announce" {
			n++
		}
	}
	return n
}

func (dp *takeoverDataplane) table() map[fastpath.FlowKey]fastpath.InstallEntry {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	all := map[fastpath.FlowKey]fastpath.InstallEntry{}
	for _, t := range dp.tables {
		for k, e := range t {
			all[k] = e
		}
	}
	return all
}

func takeoverKey(t *testing.T, fill byte) auth.Key {
	t.Helper()
	k, err := auth.NewKey(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// startTakeoverAgent serves entries as an agent named name: requests are
// verified and replies signed with key, as the real agent does. With hang,
// it never answers (a server that died with its TCP stack still up).
func startTakeoverAgent(t *testing.T, name string, key auth.Key, entries []wire.Entry, hang bool) string {
	t.Helper()
	v, err := auth.NewVerifier(auth.VerifierConfig{Agent: name, Keys: []auth.Key{key}})
	if err != nil {
		t.Fatal(err)
	}
	entries = slices.SortedFunc(slices.Values(entries), wire.Compare)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := v.Verify(r, body)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(wire.ErrorReply{Error: "unauthorized: " + err.Error()})
			return
		}
		if hang {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		var cr wire.ConnectionsRequest
		if err := json.Unmarshal(body, &cr); err != nil {
			t.Errorf("agent %s: request %s: %v", name, body, err)
		}
		reply := wire.ConnectionsReply{Server: name, VIPs: cr.VIPs, Entries: []wire.Entry{}}
		for _, e := range entries {
			if slices.Contains(cr.VIPs, e.VIP.Addr()) {
				reply.Entries = append(reply.Entries, e)
			}
		}
		out, err := json.Marshal(reply)
		if err != nil {
			t.Error(err)
		}
		v.SignReply(req, w.Header(), http.StatusOK, out)
		w.WriteHeader(http.StatusOK)
		w.Write(out)
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return srv.URL
}

func newAgentClient(t *testing.T, key auth.Key) *client.Client {
	t.Helper()
	c, err := client.New(client.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newTestTakeover wires a Takeover to dp and agents; the announcer is
// stopped when the test ends.
func newTestTakeover(t *testing.T, dp *takeoverDataplane, key auth.Key, agents []Agent, log *zap.Logger) *Takeover {
	dir := newRebuildDirectory()
	an := NewAnnouncer(dp, dir, log)
	t.Cleanup(an.Stop)
	return &Takeover{Dataplane: dp, Directory: dir, Client: newAgentClient(t, key), Agents: agents,
		FetchTimeout: 2 * time.Second, InstallChunk: 2, Logger: log, Announcer: an}
}

func TestTakeoverOrderAndReport(t *testing.T) {
	key := takeoverKey(t, 1)
	agents := rebuildAgents(3)
	entries := [][]wire.Entry{
		{tcp("192.0.2.1:1000", wire.StateFIN), tcp("192.0.2.1:1001", wire.StateActive), tcp("192.0.2.1:1002", wire.StateActive),
			tcp("192.0.2.1:1003", wire.StateActive), tcp("192.0.2.1:1004", wire.StateActive), udp("192.0.2.1:5000"), udp("")},
		{tcp("192.0.2.1:1000", wire.StateActive), tcp("192.0.2.2:1000", wire.StateActive), tcp("192.0.2.2:1001", wire.StateFIN),
			{Proto: wire.ProtoTCP, Client: netip.MustParseAddrPort("192.0.2.2:1002"), VIP: netip.MustParseAddrPort("10.0.0.1:443"), State: wire.StateActive}},
		{tcp("192.0.2.3:1000", wire.StateActive), tcp("192.0.2.3:1001", wire.StateActive), tcp("192.0.2.3:1002", wire.StateActive)},
	}
	for i := range agents {
		agents[i].Target.URL = startTakeoverAgent(t, agents[i].Target.Name, key, entries[i], false)
	}
	dp := newTakeoverDataplane(2)
	dp.announced = make(chan []netip.Addr, 100)
	// The gateway has already seen one of the flows itself (a SYN since
	// the fence): its own entry stays.
	seen := key4(6, netip.MustParseAddrPort("192.0.2.3:1002"), web)
	dp.tables[dp.WorkerFor(fastpath.InstallEntry{Key: seen})][seen] = fastpath.InstallEntry{Key: seen, Service: 1, Server: 1, State: fastpath.StateActive}

	core, logs := observer.New(zap.InfoLevel)
	tk := newTestTakeover(t, dp, key, agents, zap.New(core))
	rep, err := tk.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// The order: recovering, installs, active.
	calls := dp.calls()
	if len(calls) < 3 || calls[0] != (takeoverEvent{kind: "mode", mode: fastpath.ModeRecovering}) ||
		calls[len(calls)-1] != (takeoverEvent{kind: "mode", mode: fastpath.ModeActive}) {
		t.Fatalf("calls %+v: want recovering first and active last", calls)
	}
	dp.mu.Lock()
	if first := dp.events[0]; first.kind != "mode" {
		t.Errorf("first call %+v: the VIPs were claimed before the workers were in recovering mode", first)
	}
	dp.mu.Unlock()
	perWorker := make([]int, 2)
	for _, c := range calls[1 : len(calls)-1] {
		if c.kind != "install" || c.n < 1 || c.n > 2 {
			t.Errorf("call %+v between the modes: want installs of 1..2 entries", c)
			continue
		}
		perWorker[c.worker] += c.n
	}

	// The table is the union of the answers, merged by the rule.
	want := map[fastpath.FlowKey]fastpath.InstallEntry{}
	add := func(client string, vip netip.AddrPort, proto uint8, svc fastpath.ServiceID, srv fastpath.ServerID, st fastpath.ConnState) {
		k := key4(proto, netip.MustParseAddrPort(client), vip)
		want[k] = fastpath.InstallEntry{Key: k, Service: svc, Server: srv, State: st}
	}
	add("192.0.2.1:1000", web, 6, 1, 2, fastpath.StateActive) // s2's ACTIVE beats s1's FIN
	for _, c := range []string{"192.0.2.1:1001", "192.0.2.1:1002", "192.0.2.1:1003", "192.0.2.1:1004"} {
		add(c, web, 6, 1, 1, fastpath.StateActive)
	}
	add("192.0.2.1:5000", dns, 17, 2, 11, fastpath.StateActive)
	add("192.0.2.2:1000", web, 6, 1, 2, fastpath.StateActive)
	add("192.0.2.2:1001", web, 6, 1, 2, fastpath.StateFIN)
	add("192.0.2.3:1000", web, 6, 1, 3, fastpath.StateActive)
	add("192.0.2.3:1001", web, 6, 1, 3, fastpath.StateActive)
	add("192.0.2.3:1002", web, 6, 1, 1, fastpath.StateActive) // the gateway's own
	got := dp.table()
	if len(got) != len(want) {
		t.Errorf("table has %d entries, want %d", len(got), len(want))
	}
	for k, e := range want {
		if got[k] != e {
			t.Errorf("entry %+v: got %+v", e, got[k])
		}
	}
	for k, e := range got {
		if dp.WorkerFor(e) != slices.IndexFunc(dp.tables, func(m map[fastpath.FlowKey]fastpath.InstallEntry) bool { _, ok := m[k]; return ok }) {
			t.Errorf("flow %+v installed on another worker than WorkerFor's", k)
		}
	}

	// The report.
	if rep.Trigger != "takeover" || rep.AgentsAsked != 3 || rep.AgentsAnswered != 3 || rep.AgentsFailed != 0 {
		t.Errorf("report agents: %+v", rep)
	}
	for i, a := range rep.Agents {
		if a.Name != agents[i].Target.Name || a.Error != "" || a.Entries != len(entries[i]) {
			t.Errorf("agent report %+v", a)
		}
	}
	wantStats := RebuildStats{Received: 14, Skipped: 1, Foreign: 1, ConflictsResolved: 1, Entries: 11}
	if rep.RebuildStats != wantStats {
		t.Errorf("rebuild stats %+v, want %+v", rep.RebuildStats, wantStats)
	}
	if rep.Installed != 10 || rep.Existing != 1 || rep.Full != 0 || len(rep.PerWorker) != 2 {
		t.Errorf("install figures %+v", rep)
	}
	for w, r := range rep.PerWorker {
		if r.Installed+r.Existing != perWorker[w] {
			t.Errorf("worker %d: report %+v, %d entries sent", w, r, perWorker[w])
		}
	}
	if rep.Fence <= 0 || rep.Fetch <= 0 || rep.Install <= 0 || rep.Total < rep.Fence+rep.Fetch+rep.Rebuild+rep.Install {
		t.Errorf("durations %+v", rep)
	}

	// The VIPs are being claimed.
	select {
	case vips := <-dp.announced:
		if !slices.Equal(vips, tk.Directory.VIPs()) {
			t.Errorf("announced %v", vips)
		}
	case <-time.After(5 * time.Second):
		t.Error("no gratuitous ARP")
	}

	// One line at info with the figures.
	lines := logs.FilterMessage("takeover done").All()
	if len(lines) != 1 || lines[0].Level != zap.InfoLevel {
		t.Fatalf("log: %+v", logs.All())
	}
	fields := lines[0].ContextMap()
	for name, want := range map[string]any{"installed": int64(10), "existing": int64(1), "foreign": int64(1),
		"skipped": int64(1), "conflicts_resolved": int64(1), "agents_answered": int64(3), "trigger": "takeover"} {
		if fields[name] != want {
			t.Errorf("log field %s = %v, want %v", name, fields[name], want)
		}
	}
}

func TestTakeoverGoesOnWithoutDownAgents(t *testing.T) {
	key := takeoverKey(t, 1)
	agents := rebuildAgents(3)
	agents[0].Target.URL = startTakeoverAgent(t, "s1", key, []wire.Entry{tcp("192.0.2.1:1000", wire.StateActive)}, false)
	agents[1].Target.URL = startTakeoverAgent(t, "s2", key, []wire.Entry{tcp("192.0.2.2:1000", wire.StateActive)}, true)
	agents[2].Target.URL = startTakeoverAgent(t, "s3", takeoverKey(t, 2), []wire.Entry{tcp("192.0.2.3:1000", wire.StateActive)}, false)
	dp := newTakeoverDataplane(1)
	tk := newTestTakeover(t, dp, key, agents, zaptest.NewLogger(t))
	const deadline = 300 * time.Millisecond
	tk.FetchTimeout = deadline

	start := time.Now()
	rep, err := tk.Run(context.Background())
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Fetch < deadline || elapsed > deadline+2*time.Second {
		t.Errorf("fetch took %v, the run %v: want the %v deadline to hold", rep.Fetch, elapsed, deadline)
	}
	if rep.AgentsAsked != 3 || rep.AgentsAnswered != 1 || rep.AgentsFailed != 2 {
		t.Errorf("agents %+v", rep)
	}
	if !strings.Contains(rep.Agents[1].Error, "deadline exceeded") || !strings.Contains(rep.Agents[2].Error, "401") {
		t.Errorf("agent errors %q, %q", rep.Agents[1].Error, rep.Agents[2].Error)
	}
	want := key4(6, netip.MustParseAddrPort("192.0.2.1:1000"), web)
	if got := dp.table(); len(got) != 1 || got[want].Server != 1 {
		t.Errorf("table %+v: want s1's connection only", got)
	}
	if calls := dp.calls(); calls[len(calls)-1].mode != fastpath.ModeActive {
		t.Errorf("calls %+v", calls)
	}
}

func TestTakeoverInstallsWorkersInParallelInBoundedChunks(t *testing.T) {
	key := takeoverKey(t, 1)
	agents := rebuildAgents(1)
	var entries []wire.Entry
	for port := range 40 {
		entries = append(entries, wire.Entry{Proto: wire.ProtoTCP, Client: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), uint16(1000+port)), VIP: web, State: wire.StateActive})
	}
	agents[0].Target.URL = startTakeoverAgent(t, "s1", key, entries, false)
	dp := newTakeoverDataplane(2)
	// Worker 0's first chunk is applied only once worker 1 has its first:
	// the workers are fed side by side, not one after the other.
	worker1Started := make(chan struct{})
	var once sync.Once
	dp.install = func(ctx context.Context, worker, n int) error {
		if worker == 1 {
			once.Do(func() { close(worker1Started) })
			return nil
		}
		select {
		case <-worker1Started:
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("worker 1 got nothing while worker 0 was installing")
		}
	}
	tk := newTestTakeover(t, dp, key, agents, zaptest.NewLogger(t))
	tk.InstallChunk = 3
	rep, err := tk.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sent := make([]int, 2)
	for _, c := range dp.calls() {
		if c.kind == "install" {
			if c.n > 3 {
				t.Errorf("chunk of %d entries, more than 3", c.n)
			}
			sent[c.worker] += c.n
		}
	}
	if sent[0] != 20 || sent[1] != 20 || rep.Installed != 40 || rep.PerWorker[0].Installed != 20 {
		t.Errorf("sent %v, report %+v", sent, rep)
	}
}

func TestTakeoverFailureStopsAndSaysSo(t *testing.T) {
	key := takeoverKey(t, 1)
	cases := []struct {
		name    string
		setMode func(fastpath.Mode) error
		install func(context.Context, int, int) error
		want    string
	}{
		{"recovering mode", func(m fastpath.Mode) error {
			if m == fastpath.ModeRecovering {
				return errors.New("mailbox full")
			}
			return nil
		}, nil, "workers to recovering mode: mailbox full"},
		{"install", nil, func(_ context.Context, worker, _ int) error {
			if worker == 1 {
				return errors.New("worker stuck")
			}
			return nil
		}, "install on worker 1: worker stuck"},
		{"active mode", func(m fastpath.Mode) error {
			if m == fastpath.ModeActive {
				return errors.New("mailbox full")
			}
			return nil
		}, nil, "workers to active mode: mailbox full"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			agents := rebuildAgents(1)
			agents[0].Target.URL = startTakeoverAgent(t, "s1", key,
				[]wire.Entry{tcp("192.0.2.1:1000", wire.StateActive), tcp("192.0.2.1:1001", wire.StateActive)}, false)
			dp := newTakeoverDataplane(2)
			dp.setMode, dp.install = c.setMode, c.install
			core, logs := observer.New(zap.InfoLevel)
			tk := newTestTakeover(t, dp, key, agents, zap.New(core))
			_, err := tk.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			for _, call := range dp.calls() {
				if call.mode == fastpath.ModeActive && call.kind == "mode" {
					t.Errorf("workers set active after a failure: %+v", dp.calls())
				}
			}
			// The announcer has stopped: the burst's 50 ms round never comes.
			n := dp.announcements()
			time.Sleep(150 * time.Millisecond)
			if m := dp.announcements(); m != n {
				t.Errorf("%d announcements after the failed takeover returned", m-n)
			}
			if lines := logs.FilterMessage("takeover failed").All(); len(lines) != 1 || lines[0].Level != zap.ErrorLevel {
				t.Errorf("log %+v", logs.All())
			}
		})
	}
}

func TestTakeoverOnStartWithoutAgents(t *testing.T) {
	dp := newTakeoverDataplane(2)
	dir := newRebuildDirectory()
	log := zaptest.NewLogger(t)
	an := NewAnnouncer(dp, dir, log)
	t.Cleanup(an.Stop)
	tk := &Takeover{Dataplane: dp, Directory: dir, Logger: log, Announcer: an}
	rep, err := tk.RunOnStart(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []takeoverEvent{{kind: "mode", mode: fastpath.ModeRecovering}, {kind: "mode", mode: fastpath.ModeActive}}
	if !slices.Equal(dp.calls(), want) {
		t.Errorf("calls %+v, want %+v", dp.calls(), want)
	}
	if rep.Trigger != "start" || rep.AgentsAsked != 0 || rep.Installed != 0 {
		t.Errorf("report %+v", rep)
	}
}

func TestTakeoverRefusesIncompleteSetup(t *testing.T) {
	dp := newTakeoverDataplane(1)
	dir := newRebuildDirectory()
	log := zaptest.NewLogger(t)
	an := NewAnnouncer(dp, dir, log)
	full := func() Takeover {
		return Takeover{Dataplane: dp, Directory: dir, Client: newAgentClient(t, takeoverKey(t, 1)), Agents: rebuildAgents(1), Logger: log, Announcer: an}
	}
	for _, c := range []struct {
		change func(*Takeover)
		want   string
	}{
		{func(tk *Takeover) { tk.Dataplane = nil }, "no dataplane"},
		{func(tk *Takeover) { tk.Directory = nil }, "no directory"},
		{func(tk *Takeover) { tk.Announcer = nil }, "no announcer"},
		{func(tk *Takeover) { tk.Logger = nil }, "no logger"},
		{func(tk *Takeover) { tk.Client = nil }, "agents but no agent client"},
		{func(tk *Takeover) { tk.FetchTimeout = -1 }, "fetch timeout"},
		{func(tk *Takeover) { tk.InstallChunk = -1 }, "install chunk"},
		{func(tk *Takeover) { tk.Agents[0].IP = netip.Addr{} }, "a name and a server address are required"},
	} {
		tk := full()
		c.change(&tk)
		if _, err := tk.Run(context.Background()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	if calls := dp.calls(); len(calls) != 0 {
		t.Errorf("a refused takeover touched the dataplane: %+v", calls)
	}
}

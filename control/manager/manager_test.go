package manager_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"vec/control/apiwire"
	"vec/control/config"
	"vec/control/manager"
	"vec/control/manager/managertest"
	"vec/fastpath"
	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

var vip = netip.MustParseAddr("10.1.0.100")

// env is a manager over a fake two-worker dataplane, with a wall clock the
// test moves.
type env struct {
	t    *testing.T
	m    *manager.Manager
	dp   *managertest.Dataplane
	path string
	now  time.Time
	port uint16 // next client port
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), port: 1000}
	e.m, e.dp, e.path = managertest.Start(t, managertest.YAML, manager.Options{Log: zap.NewNop(), Level: zap.NewAtomicLevel(),
		Now: func() time.Time { return e.now }})
	return e
}

// syn opens a connection on core i and returns the server MAC it was sent to.
func (e *env) syn(core int) [6]byte {
	e.t.Helper()
	e.port++
	f := pktbuild.Flow{SrcMAC: pktbuild.MAC{2, 0, 0, 0, 0, 0xc1}, DstMAC: pktbuild.MAC(managertest.PortMAC),
		SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: vip, SrcPort: e.port, DstPort: 80}
	p := pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil)
	v := e.dp.Process(core, p)
	if v[0] != fastpath.VerdictForward {
		e.t.Fatalf("SYN on core %d: verdict %v", core, v[0])
	}
	return [6]byte(header.Ethernet(p).Destination())
}

func (e *env) mutate(what string, fn func(*config.Config) error) (apiwire.Change, error) {
	return e.m.Mutate(context.Background(), what, fn)
}

func (e *env) mustMutate(what string, fn func(*config.Config) error) apiwire.Change {
	e.t.Helper()
	ch, err := e.mutate(what, fn)
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
	return ch
}

// failingMutate makes a change that must fail in the workers (an
// ApplyError).
func (e *env) failingMutate(what string, fn func(*config.Config) error) {
	e.t.Helper()
	_, err := e.mutate(what, fn)
	var ae *manager.ApplyError
	if !errors.As(err, &ae) {
		e.t.Fatalf("%s: error %v, want an ApplyError", what, err)
	}
}

// setS1Weight is the change that gives s1 (10.1.0.100 http) weight w.
func setS1Weight(w int) func(*config.Config) error {
	return func(c *config.Config) error {
		return manager.UpdateServer(c, "10.1.0.100", "http", "s1", manager.ServerPatch{Weight: &w})
	}
}

func names(m *manager.Manager) map[string]uint16 {
	out := map[string]uint16{}
	for _, n := range m.Names() {
		key := n.Service + "/" + n.Server
		if n.Draining {
			key += " (draining)"
		}
		out[key] = uint16(n.ServerID)
	}
	return out
}

func TestChangesAreAppliedToEveryWorker(t *testing.T) {
	e := newEnv(t)
	before := e.dp.Snapshot(0)
	ch := e.mustMutate("add s3", func(c *config.Config) error {
		w := 2
		return manager.AddServer(c, "10.1.0.100", "http", config.Server{Name: "s3", IP: "10.1.0.13", MAC: "02:00:00:00:00:13", Weight: &w})
	})
	if ch.Generation != 2 || len(ch.PerWorkerMs) != 2 || len(ch.Summary) != 1 || !strings.Contains(ch.Summary[0], "added 10.1.0.100/http/s3") {
		t.Errorf("change %+v", ch)
	}
	if e.dp.Snapshot(0) == before || e.dp.Snapshot(0) != e.dp.Snapshot(1) {
		t.Error("the workers do not both run the new snapshot")
	}
	if got := names(e.m); got["http/s1"] != 0 || got["http/s2"] != 1 || got["http/s3"] != 2 {
		t.Errorf("IDs after adding s3: %v", got)
	}
	// New connections follow the new weights 1:1:2 at once.
	counts := map[[6]byte]int{}
	for range 40 {
		counts[e.syn(0)]++
	}
	if counts[[6]byte{2, 0, 0, 0, 0, 0x13}] != 20 || counts[[6]byte{2, 0, 0, 0, 0, 0x11}] != 10 {
		t.Errorf("40 connections after the change went %v, want 10:10:20", counts)
	}
	st := e.m.Status()
	if st.Generation != 2 || st.Servers != 3 || st.Services != 1 || len(st.Workers) != 2 {
		t.Errorf("status %+v", st)
	}
}

func TestRejectedChangeChangesNothing(t *testing.T) {
	e := newEnv(t)
	before := e.dp.Snapshot(0)
	applied := e.dp.Applied
	cases := []struct {
		name  string
		fn    func(*config.Config) error
		field string
		want  string
	}{
		{"weight above the bound", setS1Weight(21), "clusters[0].services[0].servers[0].weight", "above the default weight_bound 20"},
		{"malformed address", func(c *config.Config) error {
			w := 1
			return manager.AddServer(c, "10.1.0.100", "http", config.Server{Name: "bad", IP: "10.1.0.300", MAC: "02:00:00:00:00:33", Weight: &w})
		}, "clusters[0].services[0].servers[2].ip", "not an IPv4 address"},
		{"duplicate VIP", func(c *config.Config) error {
			c.Clusters = append(c.Clusters, c.Clusters[0].Clone())
			return nil
		}, "clusters[1].vip", "already the VIP of clusters[0]"},
		{"start-up only", func(c *config.Config) error {
			c.Workers.TableCapacity = 9
			return nil
		}, "workers", "cannot change while vecd runs"},
	}
	for _, tc := range cases {
		_, err := e.mutate(tc.name, tc.fn)
		var re *manager.RejectedError
		if !errors.As(err, &re) {
			t.Errorf("%s: error %v, want a RejectedError", tc.name, err)
			continue
		}
		found := false
		for _, p := range re.Problems {
			found = found || (p.Field == tc.field && strings.Contains(p.Message, tc.want))
		}
		if !found {
			t.Errorf("%s: problems %+v, want %s: …%s…", tc.name, re.Problems, tc.field, tc.want)
		}
	}
	_, err := e.mutate("unknown server", func(c *config.Config) error {
		return manager.RemoveServer(c, "10.1.0.100", "http", "nope")
	})
	var nf *manager.NotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "server nope") {
		t.Errorf("unknown server: %v", err)
	}
	if e.dp.Applied != applied || e.dp.Snapshot(0) != before {
		t.Error("a rejected change reached the workers")
	}
	if _, gen := e.m.Config(); gen != 1 {
		t.Errorf("generation %d after rejected changes, want 1", gen)
	}
}

func TestFailedApplyChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.dp.FailApply = errors.New("worker on core 2 did not answer")
	e.failingMutate("weight", setS1Weight(5))
	cfg, gen := e.m.Config()
	if gen != 1 || *cfg.Clusters[0].Services[0].Servers[0].Weight != 1 {
		t.Errorf("after a failed apply: generation %d, weight %d", gen, *cfg.Clusters[0].Services[0].Servers[0].Weight)
	}
}

// A change that the second worker cannot take (its mailbox full, no
// answer in time) reaches no worker: the first one, which took it, does not
// switch either, and the manager reports the state in force as before. An
// ended drain whose purge fails stays a drain, its entries kept, until a
// later check succeeds.
func TestApplyFailingOnOneWorkerChangesNoWorker(t *testing.T) {
	e := newEnv(t)
	before := e.dp.Snapshot(0)
	snapshots := e.m.Status().Snapshots
	e.dp.FailApply, e.dp.FailWorker = errors.New("worker mailbox full"), 1
	e.failingMutate("weight", setS1Weight(5))
	if e.dp.Snapshot(0) != before || e.dp.Snapshot(1) != before {
		t.Error("after a change failed on worker 1, a worker runs another snapshot than before")
	}
	cfg, gen := e.m.Config()
	if st := e.m.Status(); gen != 1 || st.Generation != 1 || st.Snapshots != snapshots ||
		*cfg.Clusters[0].Services[0].Servers[0].Weight != 1 {
		t.Errorf("after the failed change: generation %d, status %+v, weight %d", gen, st, *cfg.Clusters[0].Services[0].Servers[0].Weight)
	}
	// New connections still follow the weights in force, 1:1.
	counts := map[[6]byte]int{}
	for range 4 {
		counts[e.syn(0)]++
	}
	if counts[[6]byte{2, 0, 0, 0, 0, 0x11}] != 2 {
		t.Errorf("4 connections after the failed change went %v, want 2:2", counts)
	}

	// A drain that ends while worker 1 cannot take the purge.
	e.dp.FailApply = nil
	e.mustMutate("remove s2", func(c *config.Config) error { return manager.RemoveServer(c, "10.1.0.100", "http", "s2") })
	draining := e.dp.Snapshot(0)
	entries := e.dp.Entries()
	e.dp.FailApply = errors.New("worker did not answer")
	e.now = e.now.Add(31 * time.Second)
	e.m.CheckDrains(context.Background())
	if _, ok := names(e.m)["http/s2 (draining)"]; !ok {
		t.Errorf("s2 released though its purge failed: %v", names(e.m))
	}
	if e.dp.Purged != 0 || e.dp.Entries() != entries || e.dp.Snapshot(0) != draining || e.dp.Snapshot(1) != draining {
		t.Errorf("a failed purge changed the workers: %d purged, %d of %d entries", e.dp.Purged, e.dp.Entries(), entries)
	}
	e.dp.FailApply = nil
	e.m.CheckDrains(context.Background())
	if _, ok := names(e.m)["http/s2 (draining)"]; ok || e.dp.Purged != 2 {
		t.Errorf("after a successful check: names %v, %d entries purged, want s2's 2", names(e.m), e.dp.Purged)
	}
	if e.dp.Snapshot(0) == draining || e.dp.Snapshot(0) != e.dp.Snapshot(1) {
		t.Error("the workers do not both run the snapshot without s2")
	}
}

func TestRemovedServerDrainsUntilItsConnectionsEnd(t *testing.T) {
	e := newEnv(t)
	// Two connections: the first goes to s1, the second to s2.
	e.syn(0)
	if mac := e.syn(0); mac != [6]byte{2, 0, 0, 0, 0, 0x12} {
		t.Fatalf("second connection went to %x", mac)
	}
	ch := e.mustMutate("remove s2", func(c *config.Config) error { return manager.RemoveServer(c, "10.1.0.100", "http", "s2") })
	if len(ch.Draining) != 1 || ch.Draining[0].Server != "s2" || !ch.Draining[0].Until.Equal(e.now.Add(30*time.Second)) {
		t.Fatalf("draining after removal: %+v", ch.Draining)
	}
	// s2 gets no new connection but keeps its entry (and its counters).
	for range 4 {
		if mac := e.syn(0); mac != [6]byte{2, 0, 0, 0, 0, 0x11} {
			t.Fatalf("a new connection went to %x while s2 drains", mac)
		}
	}
	e.now = e.now.Add(10 * time.Second)
	e.m.CheckDrains(context.Background())
	if _, ok := names(e.m)["http/s2 (draining)"]; !ok {
		t.Fatalf("s2 stopped draining with a connection open: %v", names(e.m))
	}
	// The drain limit passes: the entry is purged and the ID released.
	e.now = e.now.Add(21 * time.Second)
	e.m.CheckDrains(context.Background())
	if _, ok := names(e.m)["http/s2 (draining)"]; ok {
		t.Fatalf("s2 still draining after its limit: %v", names(e.m))
	}
	if e.dp.Purged != 1 {
		t.Errorf("%d entries purged at the drain limit, want 1", e.dp.Purged)
	}
	// Its ID is the first a new server gets.
	e.mustMutate("add s4", func(c *config.Config) error {
		w := 1
		return manager.AddServer(c, "10.1.0.100", "http", config.Server{Name: "s4", IP: "10.1.0.14", MAC: "02:00:00:00:00:14", Weight: &w})
	})
	if got := names(e.m); got["http/s4"] != 1 {
		t.Errorf("s4 got ID %d, want the released 1", got["http/s4"])
	}
	counters, err := e.m.Counters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range counters.Servers {
		if s.Server == "s4" && (s.New != 0 || s.Active != 0) {
			t.Errorf("s4 inherited s2's counters: %+v", s.ServerTraffic)
		}
	}
}

func TestRemovedServerWithoutConnectionsIsReleasedAtOnce(t *testing.T) {
	e := newEnv(t)
	e.mustMutate("remove s2", func(c *config.Config) error { return manager.RemoveServer(c, "10.1.0.100", "http", "s2") })
	e.m.CheckDrains(context.Background())
	if len(e.m.Status().Draining) != 0 {
		t.Errorf("a server without connections still drains: %+v", e.m.Status().Draining)
	}
	if e.dp.Purged != 0 {
		t.Errorf("%d entries purged", e.dp.Purged)
	}
}

func TestQuiesceKeepsTheWeight(t *testing.T) {
	e := newEnv(t)
	on := true
	e.mustMutate("quiesce", func(c *config.Config) error {
		return manager.UpdateServer(c, "10.1.0.100", "http", "s1", manager.ServerPatch{Quiesced: &on})
	})
	for range 4 {
		if mac := e.syn(0); mac != [6]byte{2, 0, 0, 0, 0, 0x12} {
			t.Fatalf("a new connection went to quiesced s1 (%x)", mac)
		}
	}
	cfg, _ := e.m.Config()
	if sv := cfg.Clusters[0].Services[0].Servers[0]; !sv.Quiesced || *sv.Weight != 1 {
		t.Errorf("quiesced s1: %+v", sv)
	}
	off := false
	e.mustMutate("unquiesce", func(c *config.Config) error {
		return manager.UpdateServer(c, "10.1.0.100", "http", "s1", manager.ServerPatch{Quiesced: &off})
	})
	got := map[[6]byte]int{}
	for range 10 {
		got[e.syn(0)]++
	}
	if got[[6]byte{2, 0, 0, 0, 0, 0x11}] != 5 {
		t.Errorf("after unquiesce: %v, want 5:5", got)
	}
}

func TestReloadReplacesRuntimeChangesAndSaveKeepsThem(t *testing.T) {
	e := newEnv(t)
	e.mustMutate("weight", setS1Weight(4))
	// The file watch ignores a file it has already read.
	if ch, err := e.m.Reload(context.Background(), "watch", true); err != nil || ch.Generation != 0 {
		t.Errorf("reload of an unchanged file from the watch: %+v %v", ch, err)
	}
	// SIGHUP: the file wins.
	if _, err := e.m.Reload(context.Background(), "SIGHUP", false); err != nil {
		t.Fatal(err)
	}
	cfg, _ := e.m.Config()
	if got := *cfg.Clusters[0].Services[0].Servers[0].Weight; got != 1 {
		t.Errorf("after reload the weight is %d, want the file's 1", got)
	}
	// Saved, the change survives a reload.
	e.mustMutate("weight", setS1Weight(4))
	if _, err := e.m.Save(); err != nil {
		t.Fatal(err)
	}
	if ch, err := e.m.Reload(context.Background(), "watch", true); err != nil || ch.Generation != 0 {
		t.Errorf("the watch reloaded the file vecd itself saved: %+v %v", ch, err)
	}
	if _, err := e.m.Reload(context.Background(), "SIGHUP", false); err != nil {
		t.Fatal(err)
	}
	cfg, _ = e.m.Config()
	if got := *cfg.Clusters[0].Services[0].Servers[0].Weight; got != 4 {
		t.Errorf("after save and reload the weight is %d, want 4", got)
	}
	saved, _ := os.ReadFile(e.path)
	if !strings.Contains(string(saved), "weight: 4") {
		t.Errorf("saved file:\n%s", saved)
	}
}

// TestSaveWritesANewTemporaryFile: Save never writes through a name
// someone could have prepared in the configuration's directory (here a
// symbolic link at the old fixed temporary name, pointing at a file that
// must not be touched); it leaves the file's mode as it was, a regular file
// with the new content, and no temporary file behind.
func TestSaveWritesANewTemporaryFile(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Dir(e.path)
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "."+filepath.Base(e.path)+".tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(e.path, 0o640); err != nil {
		t.Fatal(err)
	}
	e.mustMutate("weight", setS1Weight(4))
	if _, err := e.m.Save(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "precious\n" {
		t.Errorf("Save wrote through the planted link: %q %v", b, err)
	}
	fi, err := os.Lstat(e.path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o640 {
		t.Fatalf("saved configuration: %v %v, want a regular file of mode 0640", fi.Mode(), err)
	}
	if saved, _ := os.ReadFile(e.path); !strings.Contains(string(saved), "weight: 4") {
		t.Errorf("saved file:\n%s", saved)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range entries {
		if strings.Contains(de.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", de.Name())
		}
	}
}

func TestBadFileIsRejected(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ edit, want string }{
		{strings.Replace(managertest.YAML, "weight: 1}", "weight: 1", 1), "not valid YAML"},
		{strings.Replace(managertest.YAML, "weight: 1}", "weight: 50}", 1), "clusters[0].services[0].servers[0].weight: 50 is above"},
		{strings.Replace(managertest.YAML, "cores: [1, 2]", "cores: [1]", 1), "workers: cannot change while vecd runs"},
	} {
		if err := os.WriteFile(e.path, []byte(tc.edit), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := e.m.Reload(context.Background(), "test", true)
		var re *manager.RejectedError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("reload: %v, want a rejection naming %q", err, tc.want)
		}
	}
	if _, gen := e.m.Config(); gen != 1 {
		t.Errorf("generation %d after bad files", gen)
	}
}

func TestConnectionsArePagedOverWorkers(t *testing.T) {
	e := newEnv(t)
	for i := range 7 {
		e.syn(i % 2)
	}
	seen := map[string]bool{}
	cursor := ""
	for page := 1; ; page++ {
		p, err := e.m.Connections(context.Background(), manager.ConnFilter{Cursor: cursor, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Connections {
			if seen[c.Client] {
				t.Errorf("connection %s on two pages", c.Client)
			}
			seen[c.Client] = true
			if c.VIP != "10.1.0.100" || c.Port != 80 || c.State != "SYN" || c.Service != "http" {
				t.Errorf("connection %+v", c)
			}
		}
		if len(p.Connections) > 3 {
			t.Errorf("page %d holds %d connections, limit 3", page, len(p.Connections))
		}
		if p.More != (p.NextCursor != "") {
			t.Errorf("page %d: more %v with next cursor %q", page, p.More, p.NextCursor)
		}
		if !p.More {
			break
		}
		cursor = p.NextCursor
		if page > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 7 {
		t.Errorf("%d connections listed, want 7", len(seen))
	}
	p, err := e.m.Connections(context.Background(), manager.ConnFilter{Server: "s2", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Connections {
		if c.Server != "s2" {
			t.Errorf("filter server=s2 returned %+v", c)
		}
	}
	if len(p.Connections) == 0 || len(p.Connections) == 7 {
		t.Errorf("filter server=s2 returned %d of 7", len(p.Connections))
	}
	if _, err := e.m.Connections(context.Background(), manager.ConnFilter{Server: "nope", Limit: 10}); err == nil {
		t.Error("an unknown server in the filter was accepted")
	}
	if _, err := e.m.Connections(context.Background(), manager.ConnFilter{State: "open", Limit: 10}); err == nil {
		t.Error("an unknown state was accepted")
	}
	// A VIP filter may be IPv4 or IPv6: the IPv4 VIP selects every
	// connection, an IPv6 VIP no cluster has selects none.
	for vipFilter, want := range map[string]int{"10.1.0.100": 7, "2001:db8::100": 0} {
		p, err := e.m.Connections(context.Background(), manager.ConnFilter{VIP: vipFilter, Limit: 100})
		if err != nil || len(p.Connections) != want {
			t.Errorf("filter vip=%s: %d connections, %v; want %d", vipFilter, len(p.Connections), err, want)
		}
	}
	for _, bad := range []string{"10.1.0", "fe80::1%eth0"} {
		var fe *manager.FilterError
		if _, err := e.m.Connections(context.Background(), manager.ConnFilter{VIP: bad, Limit: 10}); !errors.As(err, &fe) {
			t.Errorf("vip %q: %v, want a FilterError", bad, err)
		}
	}
	for _, bad := range []string{"1", "1.2", "a.b.c", "-1.0.0", "0.0.0.0", "0.99999999999.0"} {
		var fe *manager.FilterError
		if _, err := e.m.Connections(context.Background(), manager.ConnFilter{Cursor: bad, Limit: 10}); !errors.As(err, &fe) {
			t.Errorf("cursor %q: %v, want a FilterError", bad, err)
		}
	}
	// A cursor past the end (a table of another size, a worker that is
	// gone) ends the listing.
	p, err = e.m.Connections(context.Background(), manager.ConnFilter{Cursor: "9.0.0", Limit: 10})
	if err != nil || len(p.Connections) != 0 || p.More {
		t.Errorf("cursor past the last worker: %+v %v", p, err)
	}
}

func TestCountersAreNamedByID(t *testing.T) {
	e := newEnv(t)
	// Put a new service first in the file: the counters of http/s1 must
	// still be s1's.
	e.syn(0)
	e.mustMutate("add dns first", func(c *config.Config) error {
		w := 1
		c.Clusters[0].Services = append([]config.Service{{Name: "dns", Protocol: "udp", Port: 53,
			Servers: []config.Server{{Name: "n1", IP: "10.1.0.31", MAC: "02:00:00:00:00:31", Weight: &w}}}}, c.Clusters[0].Services...)
		return nil
	})
	st, err := e.m.Counters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, s := range st.Servers {
		got[fmt.Sprintf("%s/%s", s.Service, s.Server)] = s.New
	}
	if got["http/s1"] != 1 || got["dns/n1"] != 0 || got["http/s2"] != 0 {
		t.Errorf("new connections by name %v, want http/s1 = 1", got)
	}
	if st.Generation != 2 || len(st.Cores) != 2 {
		t.Errorf("counters %+v", st)
	}
}

func TestRemovedClusterStopsARPButDrains(t *testing.T) {
	e := newEnv(t)
	e.mustMutate("add cluster", func(c *config.Config) error {
		w := 1
		return manager.AddCluster(c, config.Cluster{VIP: "10.1.0.200", Services: []config.Service{{Name: "web", Protocol: "tcp", Port: 80,
			Servers: []config.Server{{Name: "b1", IP: "10.1.0.21", MAC: "02:00:00:00:00:21", Weight: &w}}}}})
	})
	if len(e.dp.SilentVIPs) != 0 {
		t.Errorf("silent VIPs %v with every cluster live", e.dp.SilentVIPs)
	}
	e.port++
	f := pktbuild.Flow{SrcMAC: pktbuild.MAC{2, 0, 0, 0, 0, 0xc1}, DstMAC: pktbuild.MAC(managertest.PortMAC),
		SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("10.1.0.200"), SrcPort: e.port, DstPort: 80}
	if v := e.dp.Process(0, pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil)); v[0] != fastpath.VerdictForward {
		t.Fatalf("SYN to the new cluster: %v", v[0])
	}
	e.mustMutate("remove cluster", func(c *config.Config) error { return manager.RemoveCluster(c, "10.1.0.200") })
	if len(e.dp.SilentVIPs) != 1 || e.dp.SilentVIPs[0] != netip.MustParseAddr("10.1.0.200") {
		t.Errorf("silent VIPs %v after removing 10.1.0.200", e.dp.SilentVIPs)
	}
	// Its open connection still flows; a new one is refused.
	if v := e.dp.Process(0, pktbuild.TCP(f, pktbuild.ACK, 2, 1, []byte("x"))); v[0] != fastpath.VerdictForward {
		t.Errorf("data of an open connection to the removed cluster: %v", v[0])
	}
	f.SrcPort++
	if v := e.dp.Process(0, pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil)); v[0] == fastpath.VerdictForward {
		t.Error("a new connection to the removed cluster was forwarded")
	}
	e.now = e.now.Add(time.Hour)
	e.m.CheckDrains(context.Background())
	if len(e.dp.SilentVIPs) != 0 || len(e.m.Status().Draining) != 0 {
		t.Errorf("after the drain: silent %v, draining %v", e.dp.SilentVIPs, e.m.Status().Draining)
	}
}

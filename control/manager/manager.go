package manager

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"vec/control/apiwire"
	"vec/control/config"
	"vec/control/ids"
	"vec/dataplane"
	"vec/fastpath"
)

// applyTimeout bounds the wait for every worker to take a snapshot.
const applyTimeout = 2 * time.Second

// Intervals of the background loops.
const (
	// NeighborWatchInterval is how often the manager looks for servers
	// whose ARP resolution changed: for servers going silent. A server
	// answering is seen at once (Neighbors.Learned): a gateway that has
	// just started or taken over gives a server new connections only from
	// the snapshot after its first ARP reply.
	NeighborWatchInterval = 200 * time.Millisecond
	// DrainCheckInterval is how often draining servers are checked for
	// connections left and expired deadlines.
	DrainCheckInterval = time.Second
)

// Options configure a Manager.
type Options struct {
	Log *zap.Logger
	// Level is the logger's level; the manager sets it from log.level on
	// every change.
	Level zap.AtomicLevel
	// Path is the configuration file (reloads, saves); Config is what was
	// loaded from it at start-up.
	Path   string
	Config *config.Config
	// Neighbors and Clock are the gateway's: servers given without a MAC
	// are resolved there, and connection ages are in Clock's time.
	Neighbors *fastpath.Neighbors
	Clock     fastpath.Clock
	// Now is the wall clock for drain deadlines; nil means time.Now.
	Now func() time.Time
	// Node is this gateway's name in ha.gateways when vecd -node gave
	// it: every configuration read later (reloads, the API) is made this
	// node's (config.ForNode), as the start-up one was.
	Node string
}

// Manager is the control plane's state; see the package comment. Its
// methods are safe for concurrent use: changes are serialised.
type Manager struct {
	log       *zap.Logger
	level     zap.AtomicLevel
	path      string
	node      string
	neighbors *fastpath.Neighbors
	clock     fastpath.Clock
	now       func() time.Time
	started   time.Time

	mu       sync.Mutex
	dp       dataplane.Dataplane
	cfg      *config.Config
	live     config.Live
	ids      ids.State
	portMAC  [6]byte
	resolved map[netip.Addr]bool
	// computed are the weight loop's weights by server (computed.go).
	computed map[fastpath.ServerID]int
	// running is the snapshot the workers run (the last one applied): a
	// new snapshot takes its Maglev tables as the services' previous ones.
	running    *fastpath.Snapshot
	generation uint64 // configurations applied
	snapshots  uint64 // snapshots applied, for any reason
	last       apiwire.Change
	fileHash   [32]byte // of the file as last read or written
}

// New makes a manager for the configuration loaded at start-up. Call
// Initial once the port's MAC is known, then Attach once the workers run.
func New(opts Options) *Manager {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	m := &Manager{log: opts.Log, level: opts.Level, path: opts.Path, node: opts.Node, cfg: opts.Config, neighbors: opts.Neighbors,
		clock: opts.Clock, now: now, started: now()}
	if opts.Path != "" {
		if b, err := os.ReadFile(opts.Path); err == nil {
			m.fileHash = sha256.Sum256(b)
		}
	}
	return m
}

// Initial compiles the start-up configuration for a gateway whose port
// has portMAC: the snapshot the workers start with (generation 1).
func (m *Manager) Initial(portMAC [6]byte) (*fastpath.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.portMAC = portMAC
	live, err := m.cfg.Live(portMAC)
	if err != nil {
		return nil, err
	}
	state, err := ids.State{}.Plan(live.Services, m.now())
	if err != nil {
		return nil, err
	}
	snap, err := m.compile(state, live)
	if err != nil {
		return nil, err
	}
	m.live, m.ids, m.running = live, state, snap
	m.generation, m.snapshots = 1, 1
	m.last = apiwire.Change{Generation: 1, Source: "start-up", At: m.now()}
	return snap, nil
}

// Attach connects the manager to the running workers.
func (m *Manager) Attach(dp dataplane.Dataplane) {
	m.mu.Lock()
	m.dp = dp
	m.mu.Unlock()
}

// compile builds the fastpath snapshot of an ID state, marking the servers
// resolved by ARP that have answered: those whose neighbor (the server, or
// the next hop of an encapsulating service) has.
func (m *Manager) compile(state ids.State, live config.Live) (*fastpath.Snapshot, error) {
	fc := state.Fastpath(live)
	m.applyComputed(state, &fc)
	fc.Neighbors = m.neighbors
	fc.Previous = m.running
	for i := range fc.Services {
		svc := &fc.Services[i]
		for j := range svc.Servers {
			srv := &svc.Servers[j]
			srv.Resolved = m.resolved[fc.NeighborAddr(svc, srv)]
		}
	}
	snap, err := fastpath.NewSnapshot(&fc)
	if err != nil {
		return nil, fmt.Errorf("compiling the configuration: %w", err)
	}
	return snap, nil
}

func ipKey(a netip.Addr) uint32 {
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// Config returns a copy of the configuration in force and its generation.
func (m *Manager) Config() (*config.Config, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg.Clone(), m.generation
}

// Replace validates next as a whole against the running gateway and
// applies it, or rejects it (*RejectedError) with nothing changed.
func (m *Manager) Replace(ctx context.Context, next *config.Config, source string) (apiwire.Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.replaceLocked(ctx, next, source)
}

// Mutate applies change to a copy of the configuration in force and
// replaces it with the result, as Replace. An error from change (such as
// *NotFoundError) is returned as it is, with nothing changed.
func (m *Manager) Mutate(ctx context.Context, source string, change func(*config.Config) error) (apiwire.Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.cfg.Clone()
	if err := change(next); err != nil {
		return apiwire.Change{}, err
	}
	return m.replaceLocked(ctx, next, source)
}

// Reload reads the configuration file and replaces the running
// configuration with it — runtime changes that were not saved are lost.
// With onlyIfChanged (the file watch), a file identical to the one last
// read or written is ignored: the returned Change is then zero.
func (m *Manager) Reload(ctx context.Context, source string, onlyIfChanged bool) (apiwire.Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, err := os.ReadFile(m.path)
	if err != nil {
		return apiwire.Change{}, rejected(fmt.Errorf("reading %s: %w", m.path, err))
	}
	hash := sha256.Sum256(data)
	if onlyIfChanged && hash == m.fileHash {
		return apiwire.Change{}, nil
	}
	next, err := config.ParseBytes(data)
	if err != nil {
		return apiwire.Change{}, rejected(err)
	}
	ch, err := m.replaceLocked(ctx, next, source)
	if err == nil {
		m.fileHash = hash
	}
	return ch, err
}

// Save writes the configuration in force to the configuration file (a
// temporary file renamed over it), so that it survives a restart and a
// reload. The file's comments are not kept.
func (m *Manager) Save() (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.cfg
	if m.node != "" {
		// The file is shared by the gateways: this one's name came from
		// vecd -node and is not written into it.
		out = m.cfg.Clone()
		out.HA.Node = ""
	}
	data, err := config.Marshal(out)
	if err != nil {
		return "", err
	}
	header := []byte("# Written by vecd (vecctl config save): the configuration in force at " +
		m.now().UTC().Format(time.RFC3339) + ".\n")
	data = append(header, data...)
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(m.path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := writeFileAtomic(m.path, data, mode); err != nil {
		return "", fmt.Errorf("saving the configuration: %w", err)
	}
	m.fileHash = sha256.Sum256(data)
	m.log.Info("configuration saved", zap.String("file", m.path), zap.Uint64("generation", m.generation))
	return m.path, nil
}

// writeFileAtomic replaces path with data: written to a new temporary file
// of a unique name in the same directory (created exclusively, so nothing
// already there, such as a planted symbolic link, is followed), synced,
// given mode, renamed over path, and the directory synced so the rename
// survives a crash. Readers see the old file or the new one, never a part.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func (m *Manager) replaceLocked(ctx context.Context, next *config.Config, source string) (apiwire.Change, error) {
	if err := next.ForNode(m.node); err != nil {
		return apiwire.Change{}, rejected(err)
	}
	if err := next.Validate(); err != nil {
		return apiwire.Change{}, rejected(err)
	}
	if err := next.RestartOnly(m.cfg); err != nil {
		return apiwire.Change{}, rejected(err)
	}
	live, err := next.Live(m.portMAC)
	if err != nil {
		return apiwire.Change{}, rejected(err)
	}
	level, err := zapcore.ParseLevel(next.Log.Level)
	if err != nil {
		return apiwire.Change{}, rejected(err)
	}
	state, err := m.ids.Plan(live.Services, m.now())
	if err != nil {
		return apiwire.Change{}, rejected(err)
	}
	snap, err := m.compile(state, live)
	if err != nil {
		return apiwire.Change{}, rejected(err)
	}
	report, err := m.applyLocked(ctx, dataplane.Update{Snapshot: snap, SilentVIPs: silentVIPs(state)})
	if err != nil {
		return apiwire.Change{}, err
	}
	summary := describe(m.ids, state)
	m.cfg, m.live, m.ids = next, live, state
	m.retainNeighbors()
	m.generation++
	m.level.SetLevel(level)
	m.last = apiwire.Change{Generation: m.generation, Source: source, At: m.now(), AckLatency: report.Max,
		AckLatencyMs: ms(report.Max), Summary: summary}
	for _, d := range report.AckLatency {
		m.last.PerWorkerMs = append(m.last.PerWorkerMs, ms(d))
	}
	m.last.Draining = m.drainingLocked()
	m.log.Info("configuration applied", zap.Uint64("generation", m.generation), zap.String("source", source),
		zap.Duration("ack_latency", report.Max), zap.Strings("changes", summary))
	return m.last, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// applyLocked hands u to every worker, all or none (see
// dataplane.Dataplane.Apply): after an error no worker runs it, and the
// caller keeps the state in force; without one, every worker runs it or
// switches at its next poll iteration, and the caller makes it the state
// in force.
func (m *Manager) applyLocked(ctx context.Context, u dataplane.Update) (dataplane.ApplyReport, error) {
	if m.dp == nil {
		return dataplane.ApplyReport{}, &ApplyError{Err: errors.New("the workers are not running")}
	}
	ctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	report, err := m.dp.Apply(ctx, u)
	if err != nil {
		return report, &ApplyError{Err: err}
	}
	m.snapshots++
	if u.Snapshot != nil {
		m.running = u.Snapshot
	}
	if len(report.Unconfirmed) > 0 {
		m.log.Warn("snapshot committed, some workers had not switched yet when the wait ended",
			zap.Ints("cores", report.Unconfirmed))
	}
	return report, nil
}

// silentVIPs lists the VIPs that only draining services have: removed
// clusters, whose ARP (IPv4) or Neighbor Solicitations (IPv6) the workers
// stop answering.
func silentVIPs(s ids.State) []netip.Addr {
	live := map[netip.Addr]bool{}
	for _, svc := range s.Services {
		if !svc.Draining {
			live[svc.Key.VIP] = true
		}
	}
	var out []netip.Addr
	for _, svc := range s.Services {
		if vip := svc.Key.VIP; svc.Draining && !live[vip] && !slices.Contains(out, vip) {
			out = append(out, vip)
		}
	}
	return out
}

// describe lists in words what changed between two ID states.
func describe(before, after ids.State) []string {
	type row struct {
		name  string
		state string
	}
	index := func(s ids.State) map[fastpath.ServerID]ids.Name {
		out := map[fastpath.ServerID]ids.Name{}
		for _, n := range s.Servers() {
			out[n.ServerID] = n
		}
		return out
	}
	b, a := index(before), index(after)
	var out []string
	for _, id := range slices.Sorted(maps.Keys(a)) {
		n := a[id]
		label := fmt.Sprintf("%s/%s/%s (%s, id %d)", n.VIP, n.Service, n.Server, n.IP, id)
		o, had := b[id]
		switch {
		case !had:
			out = append(out, fmt.Sprintf("added %s weight %d", label, n.EffectiveWeight))
		case n.Draining && !o.Draining:
			out = append(out, fmt.Sprintf("removed %s: draining until %s", label, n.DrainUntil.UTC().Format(time.RFC3339)))
		case o.Draining && !n.Draining:
			out = append(out, fmt.Sprintf("re-added %s weight %d", label, n.EffectiveWeight))
		case o.EffectiveWeight != n.EffectiveWeight:
			out = append(out, fmt.Sprintf("weight of %s %d → %d", label, o.EffectiveWeight, n.EffectiveWeight))
		}
	}
	return out
}

func (m *Manager) drainingLocked() []apiwire.DrainingEntry {
	var out []apiwire.DrainingEntry
	for _, n := range m.ids.Servers() {
		if n.Draining {
			out = append(out, apiwire.DrainingEntry{VIP: n.VIP, Service: n.Service, Server: n.Server, IP: n.IP, Until: n.DrainUntil})
		}
	}
	return out
}

// Run runs the background loops — ARP resolution changes and drains —
// until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	neighborTick := time.NewTicker(NeighborWatchInterval)
	defer neighborTick.Stop()
	drainTick := time.NewTicker(DrainCheckInterval)
	defer drainTick.Stop()
	var learned <-chan struct{}
	if m.neighbors != nil {
		learned = m.neighbors.Learned()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-neighborTick.C:
			m.checkNeighbors(ctx)
		case <-learned:
			m.checkNeighbors(ctx)
		case <-drainTick.C:
			m.checkDrains(ctx)
		}
	}
}

// checkNeighbors hands the workers a new snapshot when a server resolved
// by ARP answers for the first time or goes silent.
func (m *Manager) checkNeighbors(ctx context.Context) {
	if m.neighbors == nil || m.clock == nil {
		return
	}
	resolved := m.neighbors.ResolvedIPs(m.clock.Now())
	m.mu.Lock()
	defer m.mu.Unlock()
	if maps.Equal(resolved, m.resolved) {
		return
	}
	previous := m.resolved
	m.resolved = resolved
	snap, err := m.compile(m.ids, m.live)
	if err == nil {
		_, err = m.applyLocked(ctx, dataplane.Update{Snapshot: snap, SilentVIPs: silentVIPs(m.ids)})
	}
	if err != nil {
		m.resolved = previous // try again on the next tick
		m.log.Error("applying server ARP resolution", zap.Error(err))
		return
	}
	for ip, ok := range resolved {
		if ok != previous[ip] {
			m.log.Info("server ARP resolution changed", zap.Stringer("ip", ip), zap.Bool("resolved", ok))
		}
	}
}

// ServersResolved reports whether every enabled service has a server that
// can take connections now (weight above 0, and resolved when it is given
// by IP alone): a backup is ready to take over only then.
func (m *Manager) ServersResolved() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, svc := range m.live.Services {
		if svc.Disabled {
			continue
		}
		if !slices.ContainsFunc(svc.Servers, func(srv config.ServerSpec) bool {
			return srv.EffectiveWeight() > 0 && m.hasMACLocked(svc, srv)
		}) {
			return false
		}
	}
	return true
}

// hasMACLocked tells whether the workers can address srv of svc: its MAC
// is configured, or its neighbor has answered ARP — the server itself, or
// the next hop when svc encapsulates through one (as compile marks it).
func (m *Manager) hasMACLocked(svc config.ServiceSpec, srv config.ServerSpec) bool {
	return srv.MAC != [6]byte{} || m.resolved[ids.NeighborAddr(m.live.Encap, svc, srv)]
}

// LiveVIPs lists, sorted, the VIPs with a server that takes new
// connections now: of a service neither draining nor disabled, not
// draining itself, with a weight in force above 0 (not quiesced, not
// weighted out by the weight loop) and a MAC configured or resolved. The
// BGP speaker announces these.
func (m *Manager) LiveVIPs() []netip.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []netip.Addr
	for _, svc := range m.ids.Services {
		if svc.Draining || svc.Spec.Disabled || slices.Contains(out, svc.Key.VIP) {
			continue
		}
		if slices.ContainsFunc(svc.Servers, func(srv ids.Server) bool {
			return m.inForce(srv) > 0 && m.hasMACLocked(svc.Spec, srv.Spec)
		}) {
			out = append(out, svc.Key.VIP)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// retainNeighbors frees the ARP-table slots of the neighbors (servers,
// next hop) that no snapshot uses any more; called once every worker runs
// the state in force.
func (m *Manager) retainNeighbors() {
	if m.neighbors == nil {
		return
	}
	keep := map[netip.Addr]bool{}
	for _, svc := range m.ids.Services {
		for _, srv := range svc.Servers {
			keep[ids.NeighborAddr(m.live.Encap, svc.Spec, srv.Spec)] = true
		}
	}
	m.neighbors.Retain(keep)
}

// checkDrains ends the drain of every removed server whose connections
// have all ended or whose deadline has passed: the workers switch to a
// snapshot without it and drop its remaining entries, then its ID is
// released.
func (m *Manager) checkDrains(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	draining := m.ids.Draining()
	if len(draining) == 0 || m.dp == nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, applyTimeout)
	reading, err := m.dp.Read(rctx, m.ids.MaxServerID())
	cancel()
	if err != nil {
		m.log.Warn("reading counters for draining servers", zap.Error(err))
		return
	}
	now := m.now()
	done := map[fastpath.ServerID]bool{}
	var purge []fastpath.ServerID
	left := map[fastpath.ServerID]int64{}
	for _, srv := range draining {
		var open int64
		for _, c := range reading.Cores {
			if int(srv.ID) < len(c.Servers) {
				open += c.Servers[srv.ID].Active + c.Servers[srv.ID].FIN
			}
		}
		if open == 0 || !now.Before(srv.DrainUntil) {
			done[srv.ID] = true
			purge = append(purge, srv.ID)
			left[srv.ID] = open
		}
	}
	if len(done) == 0 {
		return
	}
	names := map[fastpath.ServerID]ids.Name{}
	for _, n := range m.ids.Servers() {
		names[n.ServerID] = n
	}
	state := m.ids.Release(done)
	snap, err := m.compile(state, m.live)
	if err == nil {
		_, err = m.applyLocked(ctx, dataplane.Update{Snapshot: snap, Purge: purge, SilentVIPs: silentVIPs(state)})
	}
	if err != nil {
		m.log.Error("ending drains", zap.Error(err))
		return
	}
	m.ids = state
	m.retainNeighbors()
	for _, id := range purge {
		delete(m.computed, id) // the ID may be handed to a new server
	}
	for _, id := range purge {
		n := names[id]
		m.log.Info("drain ended", zap.String("vip", n.VIP), zap.String("service", n.Service), zap.String("server", n.Server),
			zap.String("ip", n.IP), zap.Uint16("id", uint16(id)), zap.Int64("connections_cut", left[id]))
	}
}

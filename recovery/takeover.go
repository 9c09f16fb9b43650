package recovery

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"vec/agent/client"
	"vec/fastpath"
)

// Dataplane is what a takeover needs of the gateway's workers.
type Dataplane interface {
	SetMode(ctx context.Context, m fastpath.Mode) error
	Install(ctx context.Context, worker int, entries []fastpath.InstallEntry) (fastpath.InstallResult, error)
	WorkerFor(e fastpath.InstallEntry) int
	NumWorkers() int
	Announce(ctx context.Context, vips []netip.Addr) error // one round of gratuitous ARP for vips on every port
}

// Defaults of Takeover's settings.
const (
	DefaultFetchTimeout = time.Second
	DefaultInstallChunk = 4096
)

// Takeover rebuilds the workers' connection tables from the agents' shadow
// tables and makes this gateway the one that forwards, in the patent's
// order (see Run). Set the fields, then call Run or RunOnStart; a Takeover
// runs one at a time.
type Takeover struct {
	Dataplane Dataplane
	Directory Directory
	// Client asks the agents; it may be nil when Agents is empty.
	Client *client.Client
	Agents []Agent
	// FetchTimeout is the one deadline for every agent's answer; 0 means
	// DefaultFetchTimeout.
	FetchTimeout time.Duration
	// InstallChunk is the most entries in one request to a worker; 0
	// means DefaultInstallChunk.
	InstallChunk int
	Logger       *zap.Logger
	// Announcer claims the VIPs; Run starts it and leaves it running when
	// it succeeds (stop it when this gateway steps down).
	Announcer *Announcer
}

// AgentReport is one agent's part in a takeover.
type AgentReport struct {
	Name string
	// Entries is the number of entries the agent sent that the client
	// took; Dropped what it refused (VIPs not asked for, unparsable).
	Entries int
	Dropped client.Dropped
	Elapsed time.Duration
	// Error is why the agent counts as down; "" when it answered.
	Error string
}

// Report says what a takeover did and how long each phase took.
type Report struct {
	// Trigger is "takeover" (Run) or "start" (RunOnStart).
	Trigger string
	// Phase durations: Fence (workers to ModeRecovering, announcing
	// started), Fetch (the agents' answers), Rebuild (map, merge,
	// partition), Install (every worker's chunks); Total is the whole run.
	Fence, Fetch, Rebuild, Install, Total time.Duration
	// AgentsAsked = AgentsAnswered + AgentsFailed; Agents lists each, in
	// configuration order.
	AgentsAsked, AgentsAnswered, AgentsFailed int
	Agents                                    []AgentReport
	// RebuildStats counts the answered agents' entries (Entries is the
	// number sent to the workers).
	RebuildStats
	// Installed, Existing, Full and InstallInvalid add up the workers'
	// InstallResults; PerWorker[w] is worker w's.
	Installed, Existing, Full, InstallInvalid int
	PerWorker                                 []fastpath.InstallResult
}

// Run takes over: (1) fence: the workers go to ModeRecovering (new SYNs are
// served at once, a non-SYN packet of an unknown flow is dropped as a
// takeover miss, never given a new server) and the Announcer starts
// claiming the VIPs; (2) every agent is asked in parallel with one deadline,
// FetchTimeout; an agent that fails or misses it counts as down and the
// others go on; (3) the answers are rebuilt (see Rebuild) and installed on
// the worker each flow lands on, in chunks of at most InstallChunk, every
// worker in parallel, so no worker stops forwarding for more than one chunk;
// (4) the workers go to ModeActive.
//
// When setting a mode or installing fails, Run stops the Announcer and
// returns the error with the report so far: the caller steps down. The
// report is logged in one line.
func (t *Takeover) Run(ctx context.Context) (Report, error) {
	return t.run(ctx, "takeover")
}

// RunOnStart is Run for a gateway (re)starting alone: its table is empty
// after a crash or an upgrade, and the agents still hold every open
// connection. The steps are Run's; the report's Trigger is "start".
func (t *Takeover) RunOnStart(ctx context.Context) (Report, error) {
	return t.run(ctx, "start")
}

func (t *Takeover) run(ctx context.Context, trigger string) (rep Report, err error) {
	rep.Trigger = trigger
	if err := t.check(); err != nil {
		return rep, err
	}
	start := time.Now()
	defer func() {
		rep.Total = time.Since(start)
		if err != nil {
			t.Announcer.Stop()
		}
		t.log(rep, err)
	}()

	// (1) Fence.
	if err := t.Dataplane.SetMode(ctx, fastpath.ModeRecovering); err != nil {
		return rep, fmt.Errorf("%s: workers to recovering mode: %w", trigger, err)
	}
	t.Announcer.Start()
	rep.Fence = time.Since(start)

	// (2) Fetch.
	phase := time.Now()
	agents, results := t.fetch(ctx)
	rep.Fetch = time.Since(phase)
	rep.AgentsAsked = len(results)
	rep.Agents = make([]AgentReport, len(results))
	for i, r := range results {
		ar := AgentReport{Name: r.Target.Name, Entries: len(r.Shadow.Entries), Dropped: r.Shadow.Dropped, Elapsed: r.Elapsed}
		if r.Err != nil {
			ar.Error = r.Err.Error()
			rep.AgentsFailed++
		} else {
			rep.AgentsAnswered++
		}
		rep.Agents[i] = ar
	}

	// (3) Rebuild and install.
	phase = time.Now()
	plan, err := Rebuild(t.Directory, agents, results, t.Dataplane.NumWorkers(), t.Dataplane.WorkerFor)
	rep.Rebuild = time.Since(phase)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", trigger, err)
	}
	rep.RebuildStats = plan.Stats
	phase = time.Now()
	rep.PerWorker, err = t.install(ctx, plan.PerWorker)
	rep.Install = time.Since(phase)
	for _, r := range rep.PerWorker {
		rep.Installed += r.Installed
		rep.Existing += r.Existing
		rep.Full += r.Full
		rep.InstallInvalid += r.Invalid
	}
	if err != nil {
		return rep, fmt.Errorf("%s: %w", trigger, err)
	}

	// (4) Forward.
	if err := t.Dataplane.SetMode(ctx, fastpath.ModeActive); err != nil {
		return rep, fmt.Errorf("%s: workers to active mode: %w", trigger, err)
	}
	return rep, nil
}

func (t *Takeover) check() error {
	switch {
	case t.Dataplane == nil:
		return errors.New("takeover: no dataplane")
	case t.Directory == nil:
		return errors.New("takeover: no directory")
	case t.Announcer == nil:
		return errors.New("takeover: no announcer")
	case t.Logger == nil:
		return errors.New("takeover: no logger")
	case t.Client == nil && len(t.Agents) > 0:
		return errors.New("takeover: agents but no agent client")
	case t.FetchTimeout < 0:
		return fmt.Errorf("takeover: fetch timeout %v is negative", t.FetchTimeout)
	case t.InstallChunk < 0:
		return fmt.Errorf("takeover: install chunk %d is negative", t.InstallChunk)
	}
	for _, a := range t.Agents {
		if a.Target.Name == "" || !a.IP.IsValid() {
			return fmt.Errorf("takeover: agent %q at %v: a name and a server address are required", a.Target.Name, a.IP)
		}
	}
	return nil
}

// fetch asks every agent for its shadow table on the VIPs, all in parallel
// under one deadline. It returns the agents asked and their answers, in the
// same order; none are asked when there are no VIPs.
func (t *Takeover) fetch(ctx context.Context) ([]Agent, []client.ConnectionsResult) {
	vips := t.Directory.VIPs()
	if len(vips) == 0 || len(t.Agents) == 0 {
		return nil, nil
	}
	timeout := t.FetchTimeout
	if timeout == 0 {
		timeout = DefaultFetchTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	targets := make([]client.Target, len(t.Agents))
	for i, a := range t.Agents {
		targets[i] = a.Target
	}
	return t.Agents, t.Client.ConnectionsAll(ctx, targets, vips)
}

// install sends every worker its entries in chunks, the workers in
// parallel and each worker's chunks one after the other, so a worker has at
// most one chunk to apply between two bursts. The first failure cancels
// the rest.
func (t *Takeover) install(ctx context.Context, perWorker [][]fastpath.InstallEntry) ([]fastpath.InstallResult, error) {
	chunk := t.InstallChunk
	if chunk == 0 {
		chunk = DefaultInstallChunk
	}
	results := make([]fastpath.InstallResult, len(perWorker))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for w, entries := range perWorker {
		if len(entries) == 0 {
			continue
		}
		wg.Go(func() {
			for len(entries) > 0 {
				n := min(chunk, len(entries))
				r, err := t.Dataplane.Install(ctx, w, entries[:n:n])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("install on worker %d: %w", w, err)
						cancel()
					}
					mu.Unlock()
					return
				}
				results[w].Installed += r.Installed
				results[w].Existing += r.Existing
				results[w].Full += r.Full
				results[w].Invalid += r.Invalid
				entries = entries[n:]
			}
		})
	}
	wg.Wait()
	return results, firstErr
}

// log writes the report in one line: info when the takeover succeeded,
// error when it did not.
func (t *Takeover) log(rep Report, err error) {
	var down []string
	for _, a := range rep.Agents {
		if a.Error != "" {
			down = append(down, a.Name+": "+a.Error)
		}
	}
	installed := make([]int, len(rep.PerWorker))
	for w, r := range rep.PerWorker {
		installed[w] = r.Installed
	}
	fields := []zap.Field{
		zap.String("trigger", rep.Trigger),
		zap.Duration("total", rep.Total),
		zap.Duration("fence", rep.Fence),
		zap.Duration("fetch", rep.Fetch),
		zap.Duration("rebuild", rep.Rebuild),
		zap.Duration("install", rep.Install),
		zap.Int("agents_asked", rep.AgentsAsked),
		zap.Int("agents_answered", rep.AgentsAnswered),
		zap.Int("agents_failed", rep.AgentsFailed),
		zap.Strings("agents_down", down),
		zap.Int("received", rep.Received),
		zap.Int("entries", rep.Entries),
		zap.Int("installed", rep.Installed),
		zap.Int("existing", rep.Existing),
		zap.Int("full", rep.Full),
		zap.Int("install_invalid", rep.InstallInvalid),
		zap.Int("foreign", rep.Foreign),
		zap.Int("skipped", rep.Skipped),
		zap.Int("invalid", rep.Invalid),
		zap.Int("conflicts_resolved", rep.ConflictsResolved),
		zap.Int("conflicts_dropped", rep.ConflictsDropped),
		zap.Ints("installed_per_worker", installed),
	}
	if err != nil {
		t.Logger.Error("takeover failed", append(fields, zap.Error(err))...)
		return
	}
	t.Logger.Info("takeover done", fields...)
}

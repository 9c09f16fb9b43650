package weights

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"sync"
	"time"

	"go.uber.org/zap"

	"vec/agent/client"
	"vec/control/advisor"
	"vec/control/apiwire"
	"vec/control/config"
	"vec/control/manager"
	"vec/control/rules"
	"vec/fastpath"
)

// Source is the control plane the loop reads and steers: the running
// configuration with the weights in force, the workers' counters, and the
// apply path for computed weights (control/manager.Manager).
type Source interface {
	Managed() manager.ManagedView
	Counters(ctx context.Context) (apiwire.Counters, error)
	SetComputedWeights(ctx context.Context, gen uint64, weights map[fastpath.ServerID]int) error
}

// HostAgent is a server's vec-agent, read for host metrics.
type HostAgent struct {
	Target client.Target
	IP     netip.Addr
}

// Options configure a Loop.
type Options struct {
	Source Source
	// Client and Agents read the servers' host metrics (none: no host
	// metrics, no system class, no host timeout).
	Client *client.Client
	Agents []HostAgent
	Log    *zap.Logger
	Now    func() time.Time
}

// Loop is the patent's manager (Fig. 9): every interval it reads the input
// metrics (the workers' counters), the host metrics (the agents), the
// forward metrics (the advisors) and the user metrics (the rules),
// computes every service's weights with Compute, and hands them to the
// workers when they changed enough.
type Loop struct {
	opts Options
	log  *zap.Logger
	now  func() time.Time

	// Owned by Run's goroutine.
	advisors    map[string]*runningAdvisor
	rules       *rules.Set
	rulesSpec   []rules.Spec
	ruleService map[string]int // rule name → config.Live service index
	prevNew     map[fastpath.ServerID]uint64
	haveWeights bool

	hostMu sync.Mutex
	hosts  map[netip.Addr]hostState

	mu     sync.Mutex
	report apiwire.ManagerReport
}

type runningAdvisor struct {
	spec    advisor.Spec
	targets []advisor.Target
	service int // config.Live index
	a       *advisor.Advisor
}

type hostState struct {
	lastOK  time.Time
	metrics hostMetrics
}

type hostMetrics struct {
	cpu, load1, memory float64
	haveCPU            bool
	scripts            map[string]float64
}

// New makes a loop; Run runs it.
func New(opts Options) *Loop {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Loop{opts: opts, log: opts.Log, now: now, advisors: map[string]*runningAdvisor{},
		prevNew: map[fastpath.ServerID]uint64{}, hosts: map[netip.Addr]hostState{}}
}

// Run computes weights every manager.interval until ctx ends, and reads
// the agents' host metrics every manager.host_interval meanwhile. Stopped
// or disabled, it returns every server to its configured weight.
func (l *Loop) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if l.opts.Client != nil && len(l.opts.Agents) > 0 {
		wg.Go(func() { l.readHosts(ctx) })
	}
	defer func() {
		wg.Wait()
		l.stopAll()
	}()
	for {
		interval := l.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// tick is one interval: it returns how long to wait for the next.
func (l *Loop) tick(ctx context.Context) time.Duration {
	view := l.opts.Source.Managed()
	spec := view.Manager
	if !spec.Enabled {
		l.disable(ctx, view)
		return config.DefaultManagerInterval
	}
	l.syncAdvisors(view)
	l.syncRules(spec)
	rep, weights, push, err := l.compute(ctx, view)
	if err == nil && push {
		err = l.opts.Source.SetComputedWeights(ctx, view.Generation, weights)
		if err == nil {
			l.haveWeights = true
		}
	}
	if err != nil && !errors.Is(err, manager.ErrStaleWeights) {
		rep.Error = err.Error()
		l.log.Warn("manager: computing or applying weights", zap.Error(err))
	}
	l.mu.Lock()
	l.report = rep
	l.mu.Unlock()
	return spec.Interval
}

// disable stops what runs and gives the servers their configured weights
// back, once.
func (l *Loop) disable(ctx context.Context, view manager.ManagedView) {
	l.stopAll()
	if l.haveWeights {
		if err := l.opts.Source.SetComputedWeights(ctx, view.Generation, nil); err == nil {
			l.haveWeights = false
			l.log.Info("manager stopped: servers back at their configured weights")
		}
	}
	clear(l.prevNew)
	l.mu.Lock()
	l.report = apiwire.ManagerReport{At: l.now(), Generation: view.Generation}
	l.mu.Unlock()
}

func (l *Loop) stopAll() {
	for name, ra := range l.advisors {
		ra.a.Stop()
		delete(l.advisors, name)
	}
	if l.rules != nil {
		l.rules.Stop()
		l.rules, l.rulesSpec = nil, nil
	}
}

// syncAdvisors starts, restarts (changed) and stops advisors to match the
// configuration.
func (l *Loop) syncAdvisors(view manager.ManagedView) {
	want := map[string]bool{}
	for _, as := range view.Manager.Advisors {
		want[as.Name] = true
		svc := serviceAt(view, as.Service)
		if svc == nil {
			continue
		}
		spec := advisor.Spec{Name: as.Name, Type: as.Type, Interval: as.Interval, Timeout: as.Timeout, Fall: as.Fall,
			Rise: as.Rise, HTTPMethod: as.HTTP.Method, HTTPPath: as.HTTP.Path, HTTPHost: as.HTTP.Host,
			HTTPExpect: as.HTTP.ExpectStatus, UDPSend: as.UDP.Send, UDPExpect: as.UDP.Expect, Command: as.Command}
		port := svc.Port
		if as.Port != 0 {
			port = uint16(as.Port)
		}
		var targets []advisor.Target
		for _, srv := range svc.Servers {
			targets = append(targets, advisor.Target{Server: srv.Name, Addr: netip.AddrPortFrom(srv.IP, port)})
		}
		if ra := l.advisors[as.Name]; ra != nil {
			if reflect.DeepEqual(ra.spec, spec) && reflect.DeepEqual(ra.targets, targets) && ra.service == as.Service {
				continue
			}
			ra.a.Stop()
			delete(l.advisors, as.Name)
		}
		a, err := advisor.New(spec, targets, l.log.Named("advisor"))
		if err != nil {
			l.log.Error("manager: advisor not started", zap.String("advisor", as.Name), zap.Error(err))
			continue
		}
		a.Start()
		l.advisors[as.Name] = &runningAdvisor{spec: spec, targets: targets, service: as.Service, a: a}
	}
	for name, ra := range l.advisors {
		if !want[name] {
			ra.a.Stop()
			delete(l.advisors, name)
		}
	}
}

// syncRules replaces the rule set when the configuration changed it.
func (l *Loop) syncRules(spec config.ManagerSpec) {
	var specs []rules.Spec
	services := map[string]int{}
	for _, r := range spec.Rules {
		specs = append(specs, rules.Spec{Name: r.Name, Type: r.Type, Servers: r.Servers, From: r.From,
			To: r.To, Weight: r.Weight, Command: r.Command, Interval: r.Interval})
		services[r.Name] = r.Service
	}
	l.ruleService = services
	if reflect.DeepEqual(specs, l.rulesSpec) && (l.rules != nil || len(specs) == 0) {
		return
	}
	if l.rules != nil {
		l.rules.Stop()
		l.rules = nil
	}
	l.rulesSpec = specs
	if len(specs) == 0 {
		return
	}
	set, err := rules.New(specs, l.log.Named("rules"), l.now)
	if err != nil {
		l.log.Error("manager: rules not started", zap.Error(err))
		return
	}
	set.Start()
	l.rules = set
}

func serviceAt(view manager.ManagedView, index int) *manager.ManagedService {
	for i := range view.Services {
		if view.Services[i].Index == index {
			return &view.Services[i]
		}
	}
	return nil
}

// readHosts reads every agent's host metrics every host interval.
func (l *Loop) readHosts(ctx context.Context) {
	targets := make([]client.Target, len(l.opts.Agents))
	for i, a := range l.opts.Agents {
		targets[i] = a.Target
	}
	for {
		interval := l.opts.Source.Managed().Manager.HostInterval
		if l.opts.Source.Managed().Manager.Enabled {
			qctx, cancel := context.WithTimeout(ctx, interval)
			results := l.opts.Client.MetricsAll(qctx, targets)
			cancel()
			now := l.now()
			l.hostMu.Lock()
			for i, r := range results {
				if r.Err != nil {
					continue
				}
				hm := hostMetrics{load1: r.Metrics.Load1, scripts: map[string]float64{}}
				if r.Metrics.CPUPercent != nil {
					hm.cpu, hm.haveCPU = *r.Metrics.CPUPercent, true
				}
				if r.Metrics.MemTotalBytes > 0 {
					hm.memory = 100 * float64(r.Metrics.MemUsedBytes) / float64(r.Metrics.MemTotalBytes)
				}
				for _, c := range r.Metrics.Custom {
					if c.Value != nil {
						hm.scripts[c.Name] = *c.Value
					}
				}
				l.hosts[l.opts.Agents[i].IP] = hostState{lastOK: now, metrics: hm}
			}
			l.hostMu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// systemValue is a host's value of the configured system metric.
func (h hostMetrics) systemValue(metric string) (float64, bool) {
	switch metric {
	case "cpu":
		return h.cpu, h.haveCPU
	case "load1":
		return h.load1, true
	case "memory":
		return h.memory, true
	}
	v, ok := h.scripts[metric[len("script:"):]]
	return v, ok
}

// compute builds every service's inputs and runs the formula. weights
// holds the weight of every server the loop steers (neither quiesced nor
// fixed); push is set when some service's weights changed enough.
func (l *Loop) compute(ctx context.Context, view manager.ManagedView) (apiwire.ManagerReport, map[fastpath.ServerID]int, bool, error) {
	spec := view.Manager
	now := l.now()
	rep := apiwire.ManagerReport{Enabled: true, At: now, Generation: view.Generation, IntervalS: spec.Interval.Seconds(),
		Proportions: apiwire.Proportions(spec.Proportions), Smoothing: spec.Smoothing, Sensitivity: spec.Sensitivity}
	counters, err := l.opts.Source.Counters(ctx)
	if err != nil {
		return rep, nil, false, fmt.Errorf("reading the workers' counters: %w", err)
	}
	byID := map[fastpath.ServerID]*apiwire.ServerCounters{}
	for i := range counters.Servers {
		byID[fastpath.ServerID(counters.Servers[i].ID)] = &counters.Servers[i]
	}
	holds := map[int]map[string]rules.Hold{} // service index → server → hold
	if l.rules != nil {
		for _, h := range l.rules.Holding(now) {
			svc := l.ruleService[h.Rule]
			if holds[svc] == nil {
				holds[svc] = map[string]rules.Hold{}
			}
			for _, s := range h.Servers {
				holds[svc][s] = h
			}
		}
	}
	l.hostMu.Lock()
	hosts := make(map[netip.Addr]hostState, len(l.hosts))
	for ip, h := range l.hosts {
		hosts[ip] = h
	}
	l.hostMu.Unlock()
	agentFor := map[netip.Addr]string{}
	for _, a := range l.opts.Agents {
		agentFor[a.IP] = a.Target.Name
	}

	weights := map[fastpath.ServerID]int{}
	push := !l.haveWeights
	params := Params{Smoothing: spec.Smoothing, Sensitivity: spec.Sensitivity,
		Proportions: Proportions{spec.Proportions.Active, spec.Proportions.New, spec.Proportions.Advisor, spec.Proportions.System}}
	newNew := map[fastpath.ServerID]uint64{}
	for _, svc := range view.Services {
		params.Bound = svc.Bound
		if err := params.Check(); err != nil {
			return rep, nil, false, fmt.Errorf("service %s: %w", view.ServiceRefs[svc.Index], err)
		}
		inputs := make([]ServerInput, len(svc.Servers))
		for i, srv := range svc.Servers {
			in := ServerInput{Name: srv.Name, Weight: srv.InForce, Configured: srv.Configured, Quiesced: srv.Quiesced, Fixed: srv.Fixed}
			if c := byID[srv.ID]; c != nil {
				in.Metrics[ClassActive], in.Have[ClassActive] = float64(c.Active), true
				newNew[srv.ID] = c.New
				if prev, ok := l.prevNew[srv.ID]; ok && c.New >= prev {
					in.Metrics[ClassNew], in.Have[ClassNew] = float64(c.New-prev), true
				}
			}
			for _, ra := range l.advisors {
				if ra.service != svc.Index {
					continue
				}
				for _, r := range ra.a.Results() {
					if r.Server != srv.Name {
						continue
					}
					if !r.Up {
						in.Down = fmt.Sprintf("advisor %s: %s", ra.spec.Name, r.LastError)
					} else if r.Latency > 0 && !in.Have[ClassAdvisor] {
						in.Metrics[ClassAdvisor], in.Have[ClassAdvisor] = float64(r.Latency)/float64(time.Millisecond), true
					}
				}
			}
			if name, ok := agentFor[srv.IP]; ok {
				h, heard := hosts[srv.IP]
				if spec.HostTimeout > 0 && (!heard || now.Sub(h.lastOK) > spec.HostTimeout) && in.Down == "" {
					in.Down = fmt.Sprintf("agent %s silent for more than %v", name, spec.HostTimeout)
				}
				if heard && now.Sub(h.lastOK) <= 2*spec.HostInterval {
					in.Metrics[ClassSystem], in.Have[ClassSystem] = h.metrics.systemValue(spec.SystemMetric)
				}
			}
			if h, ok := holds[svc.Index][srv.Name]; ok {
				in.Rule, in.RuleWeight = h.Rule, h.Weight
			}
			inputs[i] = in
		}
		results, servicePush := Compute(params, inputs)
		push = push || servicePush
		sr := apiwire.ServiceReport{Service: view.ServiceRefs[svc.Index], Bound: svc.Bound, Pushed: servicePush}
		for i, r := range results {
			srv := svc.Servers[i]
			if !srv.Fixed && !srv.Quiesced {
				w := r.New
				if !servicePush {
					w = srv.InForce
				}
				weights[srv.ID] = w
			}
			sr.Servers = append(sr.Servers, serverReport(srv, inputs[i], r))
		}
		rep.Services = append(rep.Services, sr)
	}
	l.prevNew = newNew
	for _, ra := range l.advisors {
		rep.Advisors = append(rep.Advisors, apiwire.AdvisorReport{Name: ra.spec.Name, Type: ra.spec.Type,
			Service: view.ServiceRefs[ra.service], Servers: ra.a.Results()})
	}
	if l.rules != nil {
		for _, st := range l.rules.Status(now) {
			rr := apiwire.RuleReport{Name: st.Name, Type: st.Type, Holds: st.Holds, LastError: st.LastError}
			if svc, ok := l.ruleService[st.Name]; ok && svc >= 0 && svc < len(view.ServiceRefs) {
				rr.Service = view.ServiceRefs[svc]
			}
			rep.Rules = append(rep.Rules, rr)
		}
	}
	return rep, weights, push, nil
}

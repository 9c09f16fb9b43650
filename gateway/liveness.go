package gateway

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"vec/dpdk"
)

// Liveness defaults. A healthy worker completes an iteration at least
// once per idle nap (workers.idle_sleep is at most 100 ms, a standby nap
// 10 ms) plus one control request, so a second without one is a worker
// stuck in a bug or a blocking call, not a slow one.
const (
	// DefaultStallThreshold is how long a worker may go without
	// completing an iteration before it is reported stalled.
	DefaultStallThreshold = time.Second
	// DefaultStopTimeout is how long Stop waits for the workers to
	// finish their iteration.
	DefaultStopTimeout = 3 * time.Second
	// watchdogEvery is how often the watchdog samples the workers'
	// iteration counters; the reported age is that coarse.
	watchdogEvery = 100 * time.Millisecond
	// linkEvery is how often the ports' link state is read.
	linkEvery = time.Second
	// stillLogEvery bounds the repeated log lines about a worker that
	// stays stalled or a link that cannot be read.
	stillLogEvery = 10 * time.Second
)

// linkReader is a port as the link watch sees it (a *dpdk.Port).
type linkReader interface {
	Name() string
	Link() (dpdk.Link, error)
}

// kernelLink is a net_af_packet or net_af_xdp port: its driver reports the
// link up from start to stop whatever the interface does, so the kernel interface's
// IFF_RUNNING flag (carrier, in this process's network namespace) decides
// too.
type kernelLink struct {
	*dpdk.Port
	iface string
}

func (k kernelLink) Link() (dpdk.Link, error) {
	l, err := k.Port.Link()
	if err != nil {
		return l, err
	}
	running, err := ifaceRunning(k.iface)
	if err != nil {
		return l, fmt.Errorf("port %s: %w", k.Name(), err)
	}
	l.Up = l.Up && running
	return l, nil
}

// ifaceRunning reads a kernel interface's flags (SIOCGIFFLAGS): up and
// with a carrier.
func ifaceRunning(iface string) (bool, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("socket for reading interface %s's flags: %w", iface, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(iface)
	if err != nil {
		return false, fmt.Errorf("interface %q: %w", iface, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return false, fmt.Errorf("SIOCGIFFLAGS(%s): %w", iface, err)
	}
	flags := ifr.Uint16()
	return flags&unix.IFF_UP != 0 && flags&unix.IFF_RUNNING != 0, nil
}

// kernelIfaces maps each net_af_packet and net_af_xdp device of the vdev
// arguments ("net_af_packet0,iface=eth1,qpairs=2") to its kernel interface.
func kernelIfaces(vdevs []string) map[string]string {
	out := map[string]string{}
	for _, v := range vdevs {
		args := strings.Split(v, ",")
		if !strings.HasPrefix(args[0], "net_af_packet") && !strings.HasPrefix(args[0], afXDP) {
			continue
		}
		for _, a := range args[1:] {
			if iface, ok := strings.CutPrefix(a, "iface="); ok {
				out[args[0]] = iface
			}
		}
	}
	return out
}

// afXDP names DPDK's AF_XDP devices (net_af_xdp0, …).
const afXDP = "net_af_xdp"

// detachStaleXDP removes the XDP program a vecd before this one left on
// each net_af_xdp device's interface (see dpdk.DetachXDP): vecd drops
// CAP_NET_ADMIN after start, so it cannot remove its own on exit.
func detachStaleXDP(vdevs []string) error {
	for dev, iface := range kernelIfaces(vdevs) {
		if strings.HasPrefix(dev, afXDP) {
			if err := dpdk.DetachXDP(iface); err != nil {
				return fmt.Errorf("port %s: %w", dev, err)
			}
		}
	}
	return nil
}

// PortLink is one port's link as the link watch last read it.
type PortLink struct {
	Device string
	// Known is false until the link was read once.
	Known     bool
	Up        bool
	SpeedMbps uint32
	// Changes counts the link going down or up since the first reading.
	Changes uint64
}

// WorkerLiveness is one worker as the watchdog last sampled it.
type WorkerLiveness struct {
	Core, Queue int
	// Iterations is the worker's loop count.
	Iterations uint64
	// LastIterationAge is how long ago the watchdog last saw Iterations
	// move (at the watchdog's resolution, 100 ms).
	LastIterationAge time.Duration
	// Stalled: no iteration for the stall threshold or longer. Stalls
	// counts the times it became so.
	Stalled bool
	Stalls  uint64
	// Stopped: the worker's loop has returned.
	Stopped bool
}

// watchdog is the control plane's view of the workers' and ports'
// liveness, refreshed by the watch goroutine.
type watchdog struct {
	stallAfter  time.Duration
	stopTimeout time.Duration
	links       []linkReader

	mu      sync.Mutex
	ports   []PortLink
	linkLog []time.Time // last "cannot read" line per port
	workers []workerWatch

	stop     chan struct{}
	finished chan struct{}
	once     sync.Once
}

type workerWatch struct {
	WorkerLiveness
	moved  time.Time // when Iterations was last seen to change
	logged time.Time // last "stalled" line
}

// startWatch reads the links once, so the first health answer is a real
// one, then samples workers and links in the background until Stop.
func (g *Gateway) startWatch() {
	g.initWatch()
	g.watch.stop, g.watch.finished = make(chan struct{}), make(chan struct{})
	go g.runWatch()
}

// initWatch sets up the watch of the ports and workers Start brought up
// and reads the links once.
func (g *Gateway) initWatch() {
	wd := &g.watch
	ifaces := kernelIfaces(g.rt.VDevs)
	for _, p := range g.ports {
		if iface, ok := ifaces[p.Name()]; ok {
			wd.links = append(wd.links, kernelLink{p, iface})
		} else {
			wd.links = append(wd.links, p)
		}
	}
	now := time.Now()
	wd.ports = make([]PortLink, len(wd.links))
	wd.linkLog = make([]time.Time, len(wd.links))
	for i, l := range wd.links {
		wd.ports[i].Device = l.Name()
	}
	wd.workers = make([]workerWatch, len(g.workers))
	for i, w := range g.workers {
		wd.workers[i] = workerWatch{WorkerLiveness: WorkerLiveness{Core: w.cpu, Queue: int(w.queue)}, moved: now}
	}
	g.readLinks(now)
}

func (g *Gateway) runWatch() {
	defer close(g.watch.finished)
	tick := time.NewTicker(watchdogEvery)
	defer tick.Stop()
	lastLinks := time.Now()
	for {
		select {
		case <-g.watch.stop:
			return
		case now := <-tick.C:
			g.sampleWorkers(now)
			if now.Sub(lastLinks) >= linkEvery {
				lastLinks = now
				g.readLinks(now)
			}
		}
	}
}

// stopWatch ends the watch goroutine and waits for it (it reads the
// ports, which Close releases). Safe to call more than once, or when the
// watch never started.
func (g *Gateway) stopWatch() {
	wd := &g.watch
	wd.once.Do(func() {
		if wd.stop == nil {
			return
		}
		close(wd.stop)
		<-wd.finished
	})
}

// sampleWorkers reads every worker's iteration counter: one that has not
// moved for the stall threshold is reported (once when it stalls, then
// every stillLogEvery), and again when it resumes.
func (g *Gateway) sampleWorkers(now time.Time) {
	wd := &g.watch
	wd.mu.Lock()
	defer wd.mu.Unlock()
	for i, w := range g.workers {
		ww := &wd.workers[i]
		select {
		case <-g.done[i]:
			ww.Stopped, ww.Stalled = true, false
			continue
		default:
		}
		if n := w.iterations.Load(); n != ww.Iterations {
			if ww.Stalled {
				g.log.Warn("worker resumed iterating", zap.Int("core", ww.Core), zap.Int("queue", ww.Queue),
					zap.Duration("stalled_for", now.Sub(ww.moved)))
			}
			ww.Iterations, ww.moved, ww.Stalled = n, now, false
			ww.LastIterationAge = 0
			continue
		}
		ww.LastIterationAge = now.Sub(ww.moved)
		switch {
		case ww.LastIterationAge < wd.stallAfter:
		case !ww.Stalled:
			ww.Stalled, ww.logged = true, now
			ww.Stalls++
			g.log.Error("worker stalled: its loop has not completed an iteration; its queues are not being served",
				zap.Int("core", ww.Core), zap.Int("queue", ww.Queue), zap.Duration("for", ww.LastIterationAge),
				zap.Uint64("iterations", ww.Iterations))
		case now.Sub(ww.logged) >= stillLogEvery:
			ww.logged = now
			g.log.Error("worker still stalled", zap.Int("core", ww.Core), zap.Int("queue", ww.Queue),
				zap.Duration("for", ww.LastIterationAge))
		}
	}
}

// readLinks reads every port's link state and logs the changes. A link
// that cannot be read keeps its last known state.
func (g *Gateway) readLinks(now time.Time) {
	wd := &g.watch
	for i, l := range wd.links {
		link, err := l.Link()
		wd.mu.Lock()
		p := &wd.ports[i]
		if err != nil {
			if now.Sub(wd.linkLog[i]) >= stillLogEvery {
				wd.linkLog[i] = now
				g.log.Warn("cannot read a port's link state", zap.String("device", p.Device), zap.Error(err))
			}
			wd.mu.Unlock()
			continue
		}
		switch {
		case !p.Known && !link.Up:
			g.log.Warn("port link down", zap.String("device", p.Device))
		case p.Known && p.Up != link.Up:
			p.Changes++
			if link.Up {
				g.log.Info("port link up", zap.String("device", p.Device), zap.Uint32("speed_mbps", link.SpeedMbps))
			} else {
				g.log.Warn("port link down", zap.String("device", p.Device))
			}
		}
		p.Known, p.Up, p.SpeedMbps = true, link.Up, link.SpeedMbps
		wd.mu.Unlock()
	}
}

// Links returns every port's link as last read (once a second).
func (g *Gateway) Links() []PortLink {
	g.watch.mu.Lock()
	defer g.watch.mu.Unlock()
	return append([]PortLink(nil), g.watch.ports...)
}

// Liveness returns every worker as the watchdog last sampled it.
func (g *Gateway) Liveness() []WorkerLiveness {
	g.watch.mu.Lock()
	defer g.watch.mu.Unlock()
	out := make([]WorkerLiveness, len(g.watch.workers))
	for i, w := range g.watch.workers {
		out[i] = w.WorkerLiveness
	}
	return out
}

// LinkHealth is nil unless every port's link is known to be down: then
// the gateway cannot forward at all, and an active gateway should hand
// over to a backup (recovery.HAConfig.Health). A link that could not be
// read yet counts as up. It takes a lock briefly and never blocks on DPDK.
func (g *Gateway) LinkHealth() error {
	g.watch.mu.Lock()
	defer g.watch.mu.Unlock()
	if len(g.watch.ports) == 0 {
		return nil
	}
	var down []string
	for _, p := range g.watch.ports {
		if !p.Known || p.Up {
			return nil
		}
		down = append(down, p.Device)
	}
	return fmt.Errorf("every data port's link is down (%s)", strings.Join(down, ", "))
}

// waitWorkers waits up to the stop timeout for every worker to return
// and names those that did not.
func (g *Gateway) waitWorkers() error {
	timer := time.NewTimer(g.watch.stopTimeout)
	defer timer.Stop()
	expired := false
	var errs []error
	for i, d := range g.done {
		if !expired {
			select {
			case <-d:
				continue
			case <-timer.C:
				expired = true
			}
		}
		select {
		case <-d:
		default:
			w := g.workers[i]
			g.stuck = append(g.stuck, i)
			g.log.Error("worker did not stop", zap.Int("core", w.cpu), zap.Int("queue", int(w.queue)),
				zap.Duration("waited", g.watch.stopTimeout), zap.Uint64("iterations", w.iterations.Load()))
			errs = append(errs, fmt.Errorf("worker on core %d (queue %d) did not stop within %v", w.cpu, w.queue, g.watch.stopTimeout))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("gateway stop: %w", errors.Join(errs...))
	}
	return nil
}

package netnullbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"vec/control/api"
	"vec/control/config"
	"vec/control/manager"
	"vec/control/metrics"
	"vec/control/weights"
	"vec/dataplane"
	"vec/fastpath"
	"vec/internal/benchfmt"
)

// control is the control plane of the worker benchmarks: a manager over
// the benchmark's one service, the control API's handler and the metrics
// handler, served in-process.
type control struct {
	log     *zap.Logger
	m       *manager.Manager
	api     http.Handler
	metrics http.Handler
	dir     string
}

const benchToken = "bench-admin-token-0123456789"

// forwarding is the benchmark service's forwarding mode.
func (o Options) forwarding() string {
	switch o.Mode {
	case WorkerIPIP:
		return "ipip"
	case WorkerGUE:
		return "gue"
	}
	return "dsr"
}

func newControl(opts Options) (*control, error) {
	dir, err := os.MkdirTemp("", "vec-bench-")
	if err != nil {
		return nil, err
	}
	b := &control{log: zap.NewNop(), dir: dir}
	text := fmt.Sprintf(`
dpdk: {eal_args: ["--no-pci"], vdevs: ["net_null0"]}
ports: [{device: net_null0}]
workers: {cores: [%s], control_core: %d, table_capacity: %d}
clusters:
  - vip: 10.10.0.100
    services:
      - name: http
        protocol: tcp
        port: 80
        forwarding: %s
        servers:
          - {name: s1, ip: 10.10.0.11, mac: "02:00:00:00:00:11", weight: 3}
          - {name: s2, ip: 10.10.0.12, mac: "02:00:00:00:00:12", weight: 2}
encapsulation: {source: 10.10.0.1}
manager: {enabled: %t, interval: %s}
`, coreList(opts.workerCores()), opts.ControlCore, opts.tableCapacity(), opts.forwarding(), opts.Mode == WorkerManager, managerInterval)
	path := filepath.Join(dir, "vecd.yaml")
	tokens := filepath.Join(dir, "tokens")
	if err := errors.Join(os.WriteFile(path, []byte(text), 0o600),
		os.WriteFile(tokens, []byte("admin bench "+benchToken+"\n"), 0o600)); err != nil {
		b.close()
		return nil, err
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.close()
		return nil, err
	}
	b.m = manager.New(manager.Options{Log: b.log, Level: zap.NewAtomicLevel(), Path: path, Config: cfg})
	tk := &api.Tokens{}
	if err := tk.Load(tokens); err != nil {
		b.close()
		return nil, err
	}
	b.api = api.NewHandler(api.Options{Backend: b.m, Tokens: tk, Log: b.log})
	if b.metrics, err = metrics.Handler(metrics.NewCollector(b.m, opts.Flows, b.log)); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *control) close() { os.RemoveAll(b.dir) }

// servers looks the benchmark's service and servers up in the manager's
// directory.
func (b *control) servers() (fastpath.ServiceID, []fastpath.ServerID, error) {
	dir := b.m.Directory()
	var service fastpath.ServiceID
	ids := make([]fastpath.ServerID, len(benchServers))
	for i, ip := range benchServers {
		svc, srv, ok := dir.Lookup(6, benchVIP, ip)
		if !ok {
			return 0, nil, fmt.Errorf("the benchmark's configuration has no server %v for tcp %v", ip, benchVIP)
		}
		service, ids[i] = svc, srv
	}
	return service, ids, nil
}

// coreList writes cores as a YAML flow sequence's items.
func coreList(cores []int) string {
	s := make([]string, len(cores))
	for i, c := range cores {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ", ")
}

// controlLoad sends a steady mix of control requests: status, counters,
// the server list, a page of connections, a /metrics scrape, and every
// 50th request a weight change (a new snapshot for the worker).
type controlLoad struct {
	b        *control
	quit     chan struct{}
	wg       sync.WaitGroup
	requests atomic.Uint64
	err      error
}

// weightChangeEvery is how many requests of the mix come per weight change.
const weightChangeEvery = 50

func (b *control) start(rate int) *controlLoad {
	l := &controlLoad{b: b, quit: make(chan struct{})}
	l.wg.Add(1)
	go l.run(rate)
	return l
}

func (l *controlLoad) run(rate int) {
	defer l.wg.Done()
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		tick = t.C
	}
	gets := []string{"/v1/status", "/v1/counters", "/v1/servers", "/v1/connections?limit=100", "/metrics"}
	for i := 0; ; i++ {
		if tick != nil {
			select {
			case <-l.quit:
				return
			case <-tick:
			}
		} else {
			select {
			case <-l.quit:
				return
			default:
			}
		}
		var status int
		switch {
		case i%weightChangeEvery == weightChangeEvery-1:
			body := fmt.Sprintf(`{"weight": %d}`, 3+(i/weightChangeEvery)%2)
			status = l.serve(l.b.api, http.MethodPatch, "/v1/clusters/10.10.0.100/services/http/servers/s1", body)
		case gets[i%len(gets)] == "/metrics":
			status = l.serve(l.b.metrics, http.MethodGet, "/metrics", "")
		default:
			status = l.serve(l.b.api, http.MethodGet, gets[i%len(gets)], "")
		}
		if status != http.StatusOK && l.err == nil {
			l.err = fmt.Errorf("request %d answered %d", i, status)
		}
		l.requests.Add(1)
	}
}

// spin keeps one goroutine busy on the control core without allocating
// or sending the worker anything.
func (b *control) spin() *controlLoad {
	l := &controlLoad{b: b, quit: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		x := uint64(1)
		for {
			for range 1 << 16 {
				x = x*6364136223846793005 + 1442695040888963407
			}
			l.requests.Add(x & 1)
			select {
			case <-l.quit:
				return
			default:
			}
		}
	}()
	return l
}

// managerInterval is the weight loop's interval in WorkerManager.
const managerInterval = 100 * time.Millisecond

// runManager runs the weight loop over the benchmark's manager until
// stopped; the count is the intervals that passed.
func (b *control) runManager() *controlLoad {
	l := &controlLoad{b: b, quit: make(chan struct{})}
	loop := weights.New(weights.Options{Source: b.m, Log: b.log})
	ctx, cancel := context.WithCancel(context.Background())
	l.wg.Go(func() { loop.Run(ctx) })
	l.wg.Go(func() {
		defer cancel()
		tick := time.NewTicker(managerInterval)
		defer tick.Stop()
		for {
			select {
			case <-l.quit:
				return
			case <-tick.C:
				l.requests.Add(1)
			}
		}
	})
	return l
}

func (l *controlLoad) serve(h http.Handler, method, path, body string) int {
	req := httptest.NewRequest(method, path, bytes.NewReader([]byte(body)))
	req.Header.Set("Authorization", "Bearer "+benchToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// stop ends the load and returns how many requests were served.
func (l *controlLoad) stop() uint64 {
	close(l.quit)
	l.wg.Wait()
	return l.requests.Load()
}

// pollWindow is the worker's histogram and its thread's scheduling at the
// start of the measurement.
type pollWindow struct {
	start dataplane.PollTimes
	tid   int
	sched threadSched
	gc    []uint64 // runtime/metrics' GC pause counts per bucket
}

// begin reads the worker thread's scheduling counters once the warm-up
// has ended (after feed.warm is seen set: tid is set by then).
func (win *pollWindow) begin() (err error) {
	win.sched, err = readThreadSched(win.tid)
	win.gc = gcPauses().Counts
	return err
}

// gcPauseMetric is runtime/metrics' histogram of the garbage collector's
// stop-the-world pauses.
const gcPauseMetric = "/sched/pauses/total/gc:seconds"

func gcPauses() *rtmetrics.Float64Histogram {
	s := []rtmetrics.Sample{{Name: gcPauseMetric}}
	rtmetrics.Read(s)
	return s[0].Value.Float64Histogram()
}

// report is what end, the histogram once the worker stopped, counted
// since the window started; sched is its thread's scheduling counters
// read before it stopped.
func (win *pollWindow) report(end *dataplane.PollTimes, sched threadSched, gc *rtmetrics.Float64Histogram) *benchfmt.PollIterationReport {
	h := dataplane.PollTimes{SumNanos: end.SumNanos - win.start.SumNanos, MaxNanos: end.MaxNanos}
	r := &benchfmt.PollIterationReport{Buckets: map[string]uint64{}, Preempted: sched.preempted - win.sched.preempted,
		RunqueueWaitMicros: float64(sched.waited-win.sched.waited) / 1e3}
	for i := range h.Buckets {
		h.Buckets[i] = end.Buckets[i] - win.start.Buckets[i]
		if h.Buckets[i] == 0 {
			continue
		}
		bound := "+Inf"
		if i < dataplane.PollTimeBuckets-1 {
			bound = strconv.FormatFloat(float64(dataplane.PollTimeBound(i))/1e3, 'g', -1, 64)
		}
		r.Buckets[bound] = h.Buckets[i]
	}
	for i, n := range gc.Counts {
		if n -= win.gc[i]; n > 0 {
			r.GCPauses += n
			r.GCPauseMaxMicros = gc.Buckets[i+1] * 1e6
		}
	}
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	if r.Iterations = h.Count(); r.Iterations > 0 {
		r.MeanMicros = float64(h.SumNanos) / float64(r.Iterations) / 1e3
	}
	r.P50Micros, r.P99Micros, r.P999Micros = us(pollQuantile(&h, 0.5)), us(pollQuantile(&h, 0.99)), us(pollQuantile(&h, 0.999))
	r.P9999Micros = us(pollQuantile(&h, 0.9999))
	r.MaxMicros = us(time.Duration(h.MaxNanos))
	return r
}

// threadSched are a thread's scheduling counters.
type threadSched struct {
	waited    time.Duration // runnable, waiting for a CPU
	preempted uint64        // involuntary context switches
}

// readThreadSched reads the counters of thread tid of this process from
// /proc (schedstat's second field, status's nonvoluntary_ctxt_switches).
func readThreadSched(tid int) (threadSched, error) {
	var s threadSched
	dir := fmt.Sprintf("/proc/self/task/%d/", tid)
	stat, err := os.ReadFile(dir + "schedstat")
	if err != nil {
		return s, err
	}
	var ran, waited int64
	if _, err := fmt.Sscan(string(stat), &ran, &waited); err != nil {
		return s, fmt.Errorf("%sschedstat: %w", dir, err)
	}
	s.waited = time.Duration(waited)
	status, err := os.ReadFile(dir + "status")
	if err != nil {
		return s, err
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
			if s.preempted, err = strconv.ParseUint(strings.TrimSpace(v), 10, 64); err != nil {
				return s, fmt.Errorf("%sstatus: %w", dir, err)
			}
			return s, nil
		}
	}
	return s, fmt.Errorf("%sstatus: no nonvoluntary_ctxt_switches", dir)
}

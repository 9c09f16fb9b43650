package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
)

// benchControl is the control plane of the worker benchmarks: a manager
// over the benchmark's one service, the control API's handler and the
// metrics handler, served in-process.
type benchControl struct {
	log     *zap.Logger
	m       *manager.Manager
	api     http.Handler
	metrics http.Handler
	dir     string
}

const benchToken = "bench-admin-token-0123456789"

func newBenchControl(opts BenchOptions) (*benchControl, error) {
	dir, err := os.MkdirTemp("", "vec-bench-")
	if err != nil {
		return nil, err
	}
	b := &benchControl{log: zap.NewNop(), dir: dir}
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
        servers:
          - {name: s1, ip: 10.10.0.11, mac: "02:00:00:00:00:11", weight: 3}
          - {name: s2, ip: 10.10.0.12, mac: "02:00:00:00:00:12", weight: 2}
manager: {enabled: %t, interval: %s}
`, coreList(opts.workerCores()), opts.ControlCore, opts.tableCapacity(), opts.Mode == BenchWorkerManager, benchManagerInterval)
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

func (b *benchControl) close() { os.RemoveAll(b.dir) }

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
	b        *benchControl
	quit     chan struct{}
	wg       sync.WaitGroup
	requests atomic.Uint64
	err      error
}

// weightChangeEvery is how many requests of the mix come per weight change.
const weightChangeEvery = 50

func (b *benchControl) start(rate int) *controlLoad {
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
func (b *benchControl) spin() *controlLoad {
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

// benchManagerInterval is the weight loop's interval in BenchWorkerManager.
const benchManagerInterval = 100 * time.Millisecond

// runManager runs the weight loop over the benchmark's manager until
// stopped; the count is the intervals that passed.
func (b *benchControl) runManager() *controlLoad {
	l := &controlLoad{b: b, quit: make(chan struct{})}
	loop := weights.New(weights.Options{Source: b.m, Log: b.log})
	ctx, cancel := context.WithCancel(context.Background())
	l.wg.Go(func() { loop.Run(ctx) })
	l.wg.Go(func() {
		defer cancel()
		tick := time.NewTicker(benchManagerInterval)
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

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"vec/e2e/traffic"
)

// newClient returns an HTTP client whose every request opens a new TCP
// connection from src and closes it afterwards. No proxy from the
// environment is ever used.
func newClient(src netip.Addr, connectTimeout time.Duration) *http.Client {
	d := &net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: connectTimeout}
	return &http.Client{Transport: &http.Transport{
		DialContext:           d.DialContext,
		DisableKeepAlives:     true,
		ResponseHeaderTimeout: connectTimeout,
	}}
}

// requestRecord is one request of an http run, for -requests.
type requestRecord struct {
	// Due is when the arrival schedule wanted the request to start, Start
	// when a worker started it (later only when all -c workers were busy).
	Due, Start time.Time
	Latency    time.Duration
	// Server answered it; Error is the failure's class ("" for none).
	Server, Error string
}

// arrivals returns the schedule of a run: each call gives when the next
// request is due, relative to the start of the run, every 1/rate (steady)
// or after exponentially distributed gaps of mean 1/rate drawn from the
// seed (poisson). Without a rate every request is due at once.
func arrivals(cfg config) func() time.Duration {
	if cfg.connRate <= 0 {
		return func() time.Duration { return 0 }
	}
	mean := float64(time.Second) / cfg.connRate
	var at float64
	gap := func() float64 { return mean }
	if cfg.arrivals == "poisson" {
		rng := rand.New(rand.NewPCG(cfg.seed, 0x76656320706f6973))
		gap = func() float64 { return rng.ExpFloat64() * mean }
	}
	return func() time.Duration {
		d := time.Duration(at)
		at += gap()
		return d
	}
}

type job struct {
	i   int
	due time.Time
}

func runHTTP(ctx context.Context, cfg config) (*traffic.HTTPResult, []requestRecord) {
	res := &traffic.HTTPResult{Requested: cfg.n, PerServer: map[string]int{}, PerSource: map[string]int{}}
	clients := make([]*http.Client, len(cfg.sources))
	for i, s := range cfg.sources {
		clients[i] = newClient(s, cfg.reqTimeout)
	}
	url := "http://" + cfg.target.String() + "/"
	errs := newErrorLog()

	var (
		mu      sync.Mutex
		lats    []time.Duration
		records []requestRecord
		wg      sync.WaitGroup
	)
	jobs := make(chan job)
	for range min(cfg.conc, cfg.n) {
		wg.Go(func() {
			for j := range jobs {
				src := j.i % len(clients)
				t0 := time.Now()
				name, err := getName(ctx, clients[src], url, cfg.reqTimeout)
				lat := time.Since(t0)
				rec := requestRecord{Due: j.due, Start: t0, Latency: lat, Server: name}
				if err != nil {
					rec.Error = classify(err)
				}
				mu.Lock()
				if err != nil {
					res.Failed++
				} else {
					res.OK++
					res.PerServer[name]++
					res.PerSource[cfg.sources[src].String()]++
					lats = append(lats, lat)
				}
				if cfg.requestsOut != "" {
					records = append(records, rec)
				}
				mu.Unlock()
				if err != nil {
					errs.add(err)
				}
			}
		})
	}
	// With -conn-rate, request i starts when it is due (or as soon as a
	// worker is free after that): an open-loop arrival of new connections
	// that does not slow down with the servers.
	next := arrivals(cfg)
	begin := time.Now()
	pace := time.NewTimer(0)
	defer pace.Stop()
feed:
	for i := range cfg.n {
		at := begin.Add(next())
		if cfg.connRate > 0 {
			pace.Reset(time.Until(at))
			select {
			case <-pace.C:
			case <-ctx.Done():
				res.NotRun = cfg.n - i
				break feed
			}
		}
		select {
		case jobs <- job{i: i, due: at}:
		case <-ctx.Done():
			res.NotRun = cfg.n - i
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	res.Errors = errs.result()
	res.LatencyP50Ms, res.LatencyP99Ms, res.LatencyMaxMs = percentileMs(lats, 50), percentileMs(lats, 99), percentileMs(lats, 100)
	slices.SortFunc(records, func(a, b requestRecord) int { return a.Due.Compare(b.Due) })
	return res, records
}

// requestsHeader is the first line of a -requests file.
const requestsHeader = "due_unix_ns,start_unix_ns,latency_ns,server,error"

// writeRequests writes one CSV line per request, in the order they were
// due: the columns of requestsHeader, times in nanoseconds, the server
// empty and the error class set for a failed request.
func writeRequests(path string, records []requestRecord) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("-requests: %w", err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, requestsHeader)
	for _, r := range records {
		fmt.Fprintf(w, "%d,%d,%d,%s,%s\n", r.Due.UnixNano(), r.Start.UnixNano(), r.Latency.Nanoseconds(), r.Server, r.Error)
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("-requests %s: %w", path, err)
	}
	return nil
}

// getName fetches "/" on a fresh connection and returns the server name the
// reply carries, checking that header and body agree.
func getName(ctx context.Context, c *http.Client, url string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	req.Close = true
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", err
	}
	name := resp.Header.Get(traffic.ServerHeader)
	switch {
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("%w: status %s", errBadReply, resp.Status)
	case traffic.CheckServerName(name) != nil:
		return "", fmt.Errorf("%w: server header %q", errBadReply, name)
	case string(body) != traffic.HTTPBody(name):
		return "", fmt.Errorf("%w: body %q from server %q", errBadReply, body, name)
	}
	return name, nil
}

func percentileMs(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := (len(d)*p + 99) / 100
	return float64(d[max(0, i-1)]) / float64(time.Millisecond)
}

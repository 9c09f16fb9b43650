package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"vec/e2e/traffic"
)

// newClient returns an HTTP client whose every request opens a new TCP
// connection from src and closes it afterwards. No proxy from the
// environment is ever used.
func newClient(src netip.Addr, connectTimeout time.Duration) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: connectTimeout}
	return &http.Client{Transport: &http.Transport{
		DialContext:           d.DialContext,
		DisableKeepAlives:     true,
		ResponseHeaderTimeout: connectTimeout,
	}}
}

func runHTTP(ctx context.Context, cfg config) *traffic.HTTPResult {
	res := &traffic.HTTPResult{Requested: cfg.n, PerServer: map[string]int{}, PerSource: map[string]int{}}
	clients := make([]*http.Client, len(cfg.sources))
	for i, s := range cfg.sources {
		clients[i] = newClient(s, cfg.reqTimeout)
	}
	url := "http://" + cfg.target.String() + "/"
	errs := newErrorLog()

	var (
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
	)
	jobs := make(chan int)
	for range min(cfg.conc, cfg.n) {
		wg.Go(func() {
			for i := range jobs {
				src := i % len(clients)
				t0 := time.Now()
				name, err := getName(ctx, clients[src], url, cfg.reqTimeout)
				lat := time.Since(t0)
				mu.Lock()
				if err != nil {
					res.Failed++
				} else {
					res.OK++
					res.PerServer[name]++
					res.PerSource[cfg.sources[src].String()]++
					lats = append(lats, lat)
				}
				mu.Unlock()
				if err != nil {
					errs.add(err)
				}
			}
		})
	}
	// With -conn-rate, request i starts at begin + i/rate (or as soon as a
	// worker is free after that): a steady arrival of new connections.
	var gap time.Duration
	if cfg.connRate > 0 {
		gap = time.Duration(float64(time.Second) / cfg.connRate)
	}
	begin := time.Now()
	pace := time.NewTimer(0)
	defer pace.Stop()
feed:
	for i := range cfg.n {
		if gap > 0 {
			pace.Reset(time.Until(begin.Add(time.Duration(i) * gap)))
			select {
			case <-pace.C:
			case <-ctx.Done():
				res.NotRun = cfg.n - i
				break feed
			}
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			res.NotRun = cfg.n - i
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	res.Errors = errs.result()
	res.LatencyP50Ms, res.LatencyP99Ms, res.LatencyMaxMs = percentileMs(lats, 50), percentileMs(lats, 99), percentileMs(lats, 100)
	return res
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

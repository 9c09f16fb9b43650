package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"vec/e2e/traffic"
)

func runDownload(ctx context.Context, cfg config) *traffic.DownloadResult {
	res := &traffic.DownloadResult{
		Parallel: cfg.parallel, Size: cfg.size, Seed: cfg.seed, RateLimit: cfg.rate,
		PerServer: map[string]int{},
	}
	// The expected sum costs as much as one download's hashing; compute it
	// while the downloads run.
	expected := make(chan [sha256.Size]byte, 1)
	go func() { expected <- traffic.StreamSum(cfg.seed, cfg.size) }()
	var want [sha256.Size]byte
	var wantOnce sync.Once
	wantSum := func() [sha256.Size]byte {
		wantOnce.Do(func() { want = <-expected })
		return want
	}

	url := fmt.Sprintf("http://%s%s?n=%d&seed=%d&rate=%d", cfg.target, traffic.BytesPath, cfg.size, cfg.seed, cfg.rate)
	errs := newErrorLog()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range cfg.parallel {
		client := newClient(cfg.sources[i%len(cfg.sources)], cfg.reqTimeout)
		wg.Go(func() {
			name, n, sum, err := download(ctx, client, url, func(at time.Time) {
				mu.Lock()
				if at.After(res.LastConnected) {
					res.LastConnected = at
				}
				mu.Unlock()
			})
			ended := time.Now()
			if err == nil && n != cfg.size {
				err = fmt.Errorf("%w: %d bytes from %s, want %d", errBadReply, n, name, cfg.size)
			}
			mismatch := false
			if err == nil {
				if w := wantSum(); !bytes.Equal(sum[:], w[:]) {
					mismatch = true
					err = fmt.Errorf("%w: SHA-256 %x from %s, want %x", errBadReply, sum, name, w)
				}
			}
			mu.Lock()
			if res.FirstDone.IsZero() || ended.Before(res.FirstDone) {
				res.FirstDone = ended
			}
			res.Bytes += n
			if err != nil {
				res.Failed++
				if mismatch {
					res.Mismatches++
				}
			} else {
				res.OK++
				res.PerServer[name]++
			}
			mu.Unlock()
			if err != nil {
				errs.add(err)
			}
		})
	}
	wg.Wait()
	res.Errors = errs.result()
	return res
}

// download fetches url and returns the answering server, the body length
// and its SHA-256; connected is called with the time the response headers
// arrived. The body is bounded by ctx only: a paced stream may rightly take
// long.
func download(ctx context.Context, c *http.Client, url string, connected func(time.Time)) (string, int64, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, sum, err
	}
	req.Close = true
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, sum, err
	}
	defer resp.Body.Close()
	connected(time.Now())
	name := resp.Header.Get(traffic.ServerHeader)
	if resp.StatusCode != http.StatusOK {
		return name, 0, sum, fmt.Errorf("%w: status %s from %q", errBadReply, resp.Status, name)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return name, n, sum, fmt.Errorf("after %d bytes from %s: %w", n, name, err)
	}
	h.Sum(sum[:0])
	return name, n, sum, nil
}

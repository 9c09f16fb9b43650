package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

func noDelay(t *testing.T) *slowness {
	t.Helper()
	s, err := newSlowness(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// get fetches url and returns the body and how long it took.
func get(t *testing.T, url string) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %q %v", url, resp.Status, b, err)
	}
	return string(b), time.Since(start)
}

func put(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDelayChangesWhileRunning(t *testing.T) {
	slow := noDelay(t)
	srv := httptest.NewServer(newHandler("s2", slow, zap.NewNop()))
	defer srv.Close()
	ctl := httptest.NewServer(controlHandler(slow))
	defer ctl.Close()

	if body, _ := get(t, ctl.URL+"/delay"); body != "0s\n" {
		t.Fatalf("GET /delay: %q, want 0s", body)
	}
	const d = 300 * time.Millisecond
	if code, body := put(t, ctl.URL+"/delay?d=300ms"); code != http.StatusOK || body != "300ms\n" {
		t.Fatalf("PUT /delay?d=300ms: %d %q", code, body)
	}
	if body, took := get(t, srv.URL+"/"); body != "s2\n" || took < d {
		t.Fatalf("GET / with a delay of %v: %q after %v", d, body, took)
	}
	if body, _ := get(t, ctl.URL+"/delay"); body != "300ms\n" {
		t.Fatalf("GET /delay: %q, want 300ms", body)
	}
	if code, _ := put(t, ctl.URL+"/delay?d=0s"); code != http.StatusOK {
		t.Fatalf("PUT /delay?d=0s: %d", code)
	}
	if _, took := get(t, srv.URL+"/"); took >= d {
		t.Fatalf("GET / took %v after the delay went back to 0", took)
	}
	// /bytes is never delayed.
	if code, _ := put(t, ctl.URL+"/delay?d=1m"); code != http.StatusOK {
		t.Fatalf("PUT /delay?d=1m: %d", code)
	}
	if _, took := get(t, srv.URL+"/bytes?n=10"); took >= time.Minute/2 {
		t.Fatalf("GET /bytes took %v", took)
	}
}

func TestControlRefusesBadDelays(t *testing.T) {
	slow := noDelay(t)
	ctl := httptest.NewServer(controlHandler(slow))
	defer ctl.Close()
	for _, q := range []string{"", "d=", "d=20", "d=x", "d=-1ms", "d=61s"} {
		if code, body := put(t, ctl.URL+"/delay?"+q); code != http.StatusBadRequest || !strings.Contains(body, "duration") {
			t.Errorf("PUT /delay?%s: %d %q, want 400", q, code, body)
		}
	}
	resp, err := http.Post(ctl.URL+"/delay?d=1s", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /delay: %s, want 405", resp.Status)
	}
	if slow.Delay() != 0 {
		t.Fatalf("refused changes left the delay at %v", slow.Delay())
	}
	for _, bad := range []struct {
		d time.Duration
		k int
	}{{-time.Millisecond, 0}, {maxDelay + 1, 0}, {0, -1}} {
		if _, err := newSlowness(bad.d, bad.k); err == nil {
			t.Errorf("newSlowness(%v, %d) accepted", bad.d, bad.k)
		}
	}
}

// finishTimes sends n GET / at once and returns how long each took.
func finishTimes(t *testing.T, url string, n int) []time.Duration {
	t.Helper()
	out := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			resp, err := http.Get(url)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			out[i] = time.Since(start)
		})
	}
	wg.Wait()
	return out
}

func TestWorkersMakeRequestsWaitInLine(t *testing.T) {
	const d = 100 * time.Millisecond
	// One worker: three requests at once end d, 2d and 3d later.
	one, err := newSlowness(d, 1)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newHandler("s1", one, zap.NewNop()))
	defer srv.Close()
	took := finishTimes(t, srv.URL+"/", 3)
	if longest := max(took[0], took[1], took[2]); longest < 3*d {
		t.Fatalf("3 requests through 1 worker of %v each: the last took %v, want ≥ %v (all: %v)", d, longest, 3*d, took)
	}

	// No limit: they are served side by side.
	all, err := newSlowness(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(newHandler("s1", all, zap.NewNop()))
	defer srv2.Close()
	took = finishTimes(t, srv2.URL+"/", 3)
	for _, x := range took {
		if x < d || x >= 3*d {
			t.Fatalf("3 requests of %v each with no worker limit took %v, want each in [%v, %v)", d, took, d, 3*d)
		}
	}
}

// A client that gives up while waiting for a worker leaves no trace: the
// next request is served as soon as the worker is free.
func TestWaitingClientThatLeavesFreesItsPlace(t *testing.T) {
	const d = 200 * time.Millisecond
	slow, err := newSlowness(d, 1)
	if err != nil {
		t.Fatal(err)
	}
	holder := make(chan error, 1)
	go func() {
		holder <- slow.serve(context.Background())
	}()
	time.Sleep(20 * time.Millisecond) // the holder has the worker
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := slow.serve(ctx); err == nil {
		t.Fatal("a request that gave up while waiting was served")
	}
	// The worker is free after the rest of the holder's d, then this one
	// takes d.
	next, cancelNext := context.WithTimeout(context.Background(), 3*d)
	defer cancelNext()
	if err := slow.serve(next); err != nil {
		t.Fatalf("the next request was not served within %v (%v): the one that left still held a place", 3*d, err)
	}
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
}

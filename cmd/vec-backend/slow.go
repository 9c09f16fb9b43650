package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// maxDelay bounds -delay and what the control endpoint accepts: a slow
// server, not a hung one.
const maxDelay = time.Minute

// slowness makes GET / take time and gives the server a capacity, so that a
// test can make one server slow, and loaded, while it runs: each request
// holds one of the workers (when there is a limit) for the current delay,
// and requests beyond the limit wait in line, first come first served.
type slowness struct {
	delay atomic.Int64 // nanoseconds
	// slots holds one token per request being served; nil means no limit.
	slots chan struct{}
}

// newSlowness is a delay with at most workers requests served at once (0:
// no limit).
func newSlowness(delay time.Duration, workers int) (*slowness, error) {
	if err := checkDelay(delay); err != nil {
		return nil, err
	}
	if workers < 0 {
		return nil, fmt.Errorf("workers must be ≥ 0 (0: no limit), got %d", workers)
	}
	s := &slowness{}
	s.delay.Store(int64(delay))
	if workers > 0 {
		s.slots = make(chan struct{}, workers)
	}
	return s, nil
}

func checkDelay(d time.Duration) error {
	if d < 0 || d > maxDelay {
		return fmt.Errorf("delay %v is outside 0..%v", d, maxDelay)
	}
	return nil
}

// Delay is the time each request takes now.
func (s *slowness) Delay() time.Duration { return time.Duration(s.delay.Load()) }

// SetDelay changes it for the requests that start being served from now on.
func (s *slowness) SetDelay(d time.Duration) error {
	if err := checkDelay(d); err != nil {
		return err
	}
	s.delay.Store(int64(d))
	return nil
}

// serve waits for a worker (when limited), then holds it for the delay. It
// returns early with the context's error when the client goes away.
func (s *slowness) serve(ctx context.Context) error {
	if s.slots != nil {
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	d := s.Delay()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// controlHandler serves the run-time control: GET /delay prints the delay,
// PUT /delay?d=DURATION sets it and prints the new one.
func controlHandler(s *slowness) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /delay", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, s.Delay().String()+"\n")
	})
	mux.HandleFunc("PUT /delay", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err == nil {
			err = s.SetDelay(d)
		}
		if err != nil {
			http.Error(w, fmt.Sprintf("d: want a duration 0..%v (e.g. 20ms): %v", maxDelay, err), http.StatusBadRequest)
			return
		}
		io.WriteString(w, s.Delay().String()+"\n")
	})
	return mux
}

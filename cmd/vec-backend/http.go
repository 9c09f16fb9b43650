package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"vec/e2e/traffic"
)

// newHandler serves "/" (after slow's delay) and /bytes as server name.
func newHandler(name string, slow *slowness, log *zap.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if err := slow.serve(r.Context()); err != nil {
			// The client gave up while waiting; nobody reads an answer.
			return
		}
		w.Header().Set(traffic.ServerHeader, name)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, traffic.HTTPBody(name))
	})
	mux.HandleFunc("GET "+traffic.BytesPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(traffic.ServerHeader, name)
		q, err := parseBytesQuery(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(q.n, 10))
		if err := writeStream(r, w, q); err != nil {
			// The client went away; nothing to answer, only to note.
			log.Debug("stream cut short", zap.String("client", r.RemoteAddr), zap.Error(err))
		}
	})
	return mux
}

type bytesQuery struct {
	n, rate int64
	seed    uint64
}

func parseBytesQuery(r *http.Request) (bytesQuery, error) {
	var q bytesQuery
	var err error
	v := r.URL.Query()
	if q.n, err = strconv.ParseInt(v.Get("n"), 10, 64); err != nil || q.n < 0 || q.n > traffic.MaxBytes {
		return q, fmt.Errorf("n must be 0..%d", int64(traffic.MaxBytes))
	}
	if s := v.Get("seed"); s != "" {
		if q.seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			return q, fmt.Errorf("seed: %w", err)
		}
	}
	if s := v.Get("rate"); s != "" {
		if q.rate, err = strconv.ParseInt(s, 10, 64); err != nil || q.rate < 0 {
			return q, fmt.Errorf("rate must be a byte count per second ≥ 0")
		}
	}
	return q, nil
}

// writeStream sends q.n bytes of the stream, paced to q.rate bytes/s when
// set: chunks of a twentieth of a second's worth, each released on schedule,
// so a slow transfer stays open for as long as a test needs it to.
func writeStream(r *http.Request, w http.ResponseWriter, q bytesQuery) error {
	chunk := int64(64 << 10)
	if q.rate > 0 {
		chunk = max(1, min(chunk, q.rate/20))
	}
	buf := make([]byte, chunk)
	st := traffic.NewStream(q.seed)
	start := time.Now()
	var sent int64
	for sent < q.n {
		b := buf[:min(chunk, q.n-sent)]
		st.Read(b)
		if q.rate > 0 {
			due := start.Add(time.Duration(float64(sent) / float64(q.rate) * float64(time.Second)))
			select {
			case <-r.Context().Done():
				return r.Context().Err()
			case <-time.After(time.Until(due)):
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		sent += int64(len(b))
	}
	return nil
}

package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"

	"vec/control/metrics"
)

// BenchmarkRequests reports time and allocations of the control requests
// vec-bench -control sends, against a fake one-worker dataplane: what the
// control plane allocates per request, which is what drives the garbage
// collector that the poll loops must not feel.
func BenchmarkRequests(b *testing.B) {
	t := &testing.T{}
	e := newAPIEnv(t)
	mh, err := metrics.Handler(metrics.NewCollector(e.m, 1024, zap.NewNop()))
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range []struct {
		name, method, path, body string
		h                        http.Handler
	}{
		{"status", "GET", "/v1/status", "", e.h},
		{"counters", "GET", "/v1/counters", "", e.h},
		{"servers", "GET", "/v1/servers", "", e.h},
		{"connections", "GET", "/v1/connections?limit=100", "", e.h},
		{"metrics", "GET", "/metrics", "", mh},
		{"weight", "PATCH", "/v1/clusters/10.1.0.100/services/http/servers/s1", `{"weight": 3}`, e.h},
	} {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
				req.Header.Set("Authorization", "Bearer "+adminToken)
				rec := httptest.NewRecorder()
				r.h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", r.path, rec.Code, rec.Body.String())
				}
			}
		})
	}
}

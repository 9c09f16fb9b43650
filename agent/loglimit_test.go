package agent

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"vec/agent/auth"
	"vec/agent/wire"
)

// TestRefusalLogRateLimited: a flood of refused requests (unknown key,
// missing or bad signature) logs refusalLogBurst lines per period, and the
// first line of the next period counts the ones not logged.
func TestRefusalLogRateLimited(t *testing.T) {
	other, err := auth.NewKey(bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	now := func() time.Time { return clock }
	core, logs := observer.New(zapcore.InfoLevel)
	h, _ := testHandler(t, 7, now, HandlerConfig{Name: "srv1", Table: newFakeTable([]netip.Addr{vipA}, nil),
		Logger: zap.New(core), Now: now})
	body := []byte(`{"vips":["10.0.0.1"]}`)
	refuse := func(n int) {
		t.Helper()
		for i := range n {
			r := httptest.NewRequest(http.MethodPost, wire.PathConnections, bytes.NewReader(body))
			if i%2 == 0 {
				if _, err := auth.SignRequest(r, body, other, "srv1", clock); err != nil {
					t.Fatal(err)
				}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("request %d: status %d", i, w.Code)
			}
		}
	}
	refused := func() []observer.LoggedEntry {
		var out []observer.LoggedEntry
		for _, l := range logs.TakeAll() {
			if l.Message == "request refused" {
				out = append(out, l)
			}
		}
		return out
	}

	refuse(100)
	lines := refused()
	if len(lines) != refusalLogBurst {
		t.Fatalf("100 refusals in one period logged %d lines, want %d", len(lines), refusalLogBurst)
	}
	for _, l := range lines {
		if got := l.ContextMap()["suppressed"]; got != int64(0) {
			t.Errorf("line within the burst counts %v suppressed", got)
		}
	}

	clock = clock.Add(refusalLogPeriod)
	refuse(refusalLogBurst + 3)
	lines = refused()
	if len(lines) != refusalLogBurst {
		t.Fatalf("next period logged %d lines, want %d", len(lines), refusalLogBurst)
	}
	if got := lines[0].ContextMap()["suppressed"]; got != int64(100-refusalLogBurst) {
		t.Errorf("first line of the next period counts %v suppressed, want %d", got, 100-refusalLogBurst)
	}

	clock = clock.Add(refusalLogPeriod)
	refuse(1)
	if lines = refused(); len(lines) != 1 || lines[0].ContextMap()["suppressed"] != int64(3) {
		t.Errorf("third period: %+v", lines)
	}
}

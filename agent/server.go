package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"vec/agent/auth"
	"vec/agent/metrics"
	"vec/agent/wire"
)

// EntrySource is the shadow table the handler serves (*Table).
type EntrySource interface {
	VIPs() []netip.Addr
	Served(want []netip.Addr) []netip.Addr
	Entries(vips []netip.Addr) ([]wire.Entry, error)
}

// MetricSource is the host metrics the handler serves (*metrics.Collector).
type MetricSource interface {
	Host() (metrics.Host, error)
	Custom() []wire.CustomMetric
}

// HandlerConfig configures NewHandler.
type HandlerConfig struct {
	// Name is the agent's name, reported in every reply.
	Name     string
	Verifier *auth.Verifier
	Table    EntrySource
	Metrics  MetricSource
	// Witness answers the gateways' lease requests.
	Witness *Witness
	// MaxEntries and MaxBytes cap a connections page (0: the wire defaults);
	// a client may ask for less.
	MaxEntries int
	MaxBytes   int
	Logger     *zap.Logger
	// Now is the clock of the metrics timestamp and of the rate limit on
	// the log of refused requests; nil means time.Now.
	Now func() time.Time
}

// maxServiceCounts bounds the per-service rows of a metrics reply, which
// keeps it within wire.MaxMetricsBytes.
const maxServiceCounts = 4096

type handler struct {
	cfg       HandlerConfig
	log       *zap.Logger
	snapshots snapshotStore
	// refusals rate-limits the log lines about refused requests.
	refusals *logLimiter
}

// NewHandler returns the agent's HTTP handler: wire.PathConnections,
// wire.PathMetrics and wire.PathLease, all authenticated, every reply after
// authentication signed.
func NewHandler(cfg HandlerConfig) (http.Handler, error) {
	if cfg.Verifier == nil || cfg.Table == nil || cfg.Metrics == nil || cfg.Witness == nil || cfg.Logger == nil {
		return nil, errors.New("agent handler: verifier, table, metrics, witness and logger are required")
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = wire.DefaultMaxEntries
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = wire.DefaultMaxBytes
	}
	if cfg.MaxEntries > wire.LimitMaxEntries || cfg.MaxBytes > wire.LimitMaxBytes || cfg.MaxBytes < wire.MinMaxBytes {
		return nil, fmt.Errorf("agent handler: page limits %d entries / %d bytes outside (0, %d] / [%d, %d]",
			cfg.MaxEntries, cfg.MaxBytes, wire.LimitMaxEntries, wire.MinMaxBytes, wire.LimitMaxBytes)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &handler{cfg: cfg, log: cfg.Logger, snapshots: snapshotStore{next: rand.Uint64()},
		refusals: newLogLimiter(refusalLogPeriod, refusalLogBurst, cfg.Now)}
	mux := http.NewServeMux()
	mux.HandleFunc(wire.PathConnections, h.authenticated(http.MethodPost, h.connections))
	mux.HandleFunc(wire.PathMetrics, h.authenticated(http.MethodGet, h.metrics))
	mux.HandleFunc(wire.PathLease, h.authenticated(http.MethodPost, h.lease))
	return mux, nil
}

// reply is what an authenticated endpoint answers; the wrapper signs it.
type reply struct {
	status int
	body   []byte
}

func errorReply(status int, format string, args ...any) reply {
	body, _ := json.Marshal(wire.ErrorReply{Error: fmt.Sprintf(format, args...)})
	return reply{status: status, body: body}
}

// authenticated reads the body, verifies the request and signs the reply of
// serve. Refusals before authentication are not signed: there is nothing to
// bind them to, and the client trusts no data from them.
func (h *handler) authenticated(method string, serve func(body []byte) reply) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeReply(w, errorReply(http.StatusMethodNotAllowed, "method %s not allowed, use %s", r.Method, method))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wire.MaxRequestBytes))
		if err != nil {
			writeReply(w, errorReply(http.StatusRequestEntityTooLarge, "request body: %v", err))
			return
		}
		req, err := h.cfg.Verifier.Verify(r, body)
		if err != nil {
			status := http.StatusUnauthorized
			if errors.Is(err, auth.ErrNonceCacheFull) {
				status = http.StatusServiceUnavailable
			} else {
				w.Header().Set("WWW-Authenticate", auth.Scheme)
			}
			if ok, suppressed := h.refusals.allow(); ok {
				h.log.Warn("request refused", zap.String("remote", r.RemoteAddr), zap.String("path", r.URL.Path), zap.Error(err),
					zap.Int("suppressed", suppressed))
			}
			writeReply(w, errorReply(status, "unauthorized: %v", err))
			return
		}
		rep := serve(body)
		h.cfg.Verifier.SignReply(req, w.Header(), rep.status, rep.body)
		writeReply(w, rep)
		h.log.Debug("request served", zap.String("remote", r.RemoteAddr), zap.String("path", r.URL.Path),
			zap.Int("status", rep.status), zap.Int("bytes", len(rep.body)), zap.Duration("took", time.Since(start)))
	}
}

func writeReply(w http.ResponseWriter, rep reply) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// decodeRequest decodes body, one JSON object of v's shape without unknown
// fields, into v; what names the request in the error.
func decodeRequest(what string, body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if dec.More() {
		return fmt.Errorf("%s: data after the JSON object", what)
	}
	return nil
}

func (h *handler) connections(body []byte) reply {
	var req wire.ConnectionsRequest
	if err := decodeRequest("connections request", body, &req); err != nil {
		return errorReply(http.StatusBadRequest, "%v", err)
	}
	switch {
	case len(req.VIPs) == 0:
		return errorReply(http.StatusBadRequest, "connections request names no VIP")
	case len(req.VIPs) > wire.MaxRequestVIPs:
		return errorReply(http.StatusBadRequest, "connections request names %d VIPs, at most %d", len(req.VIPs), wire.MaxRequestVIPs)
	case req.MaxEntries < 0 || req.MaxBytes < 0:
		return errorReply(http.StatusBadRequest, "negative page limit")
	case req.MaxBytes != 0 && req.MaxBytes < wire.MinMaxBytes:
		return errorReply(http.StatusBadRequest, "max_bytes %d below the minimum %d", req.MaxBytes, wire.MinMaxBytes)
	}
	for _, v := range req.VIPs {
		if !v.IsValid() {
			return errorReply(http.StatusBadRequest, "connections request holds an empty VIP")
		}
	}
	var cursor *wire.Cursor
	if req.Cursor != "" {
		c, err := wire.ParseCursor(req.Cursor)
		if err != nil {
			return errorReply(http.StatusBadRequest, "%v", err)
		}
		cursor = &c
	}
	maxEntries, maxBytes := h.cfg.MaxEntries, h.cfg.MaxBytes
	if req.MaxEntries > 0 {
		maxEntries = min(maxEntries, req.MaxEntries)
	}
	if req.MaxBytes > 0 {
		maxBytes = min(maxBytes, req.MaxBytes)
	}

	served := h.cfg.Table.Served(req.VIPs)
	key := vipsKey(served)
	now := h.cfg.Now()
	var entries []wire.Entry
	var snapshot uint64
	if cursor != nil {
		entries, snapshot = h.snapshots.find(cursor.Snapshot, key, now)
	}
	if snapshot == 0 {
		var err error
		if entries, err = h.cfg.Table.Entries(served); err != nil {
			h.log.Error("listing connections failed", zap.Error(err))
			return errorReply(http.StatusInternalServerError, "listing connections: %v", err)
		}
	}
	from := 0
	if cursor != nil {
		from = sort.Search(len(entries), func(i int) bool { return wire.Compare(entries[i], cursor.After) > 0 })
	}
	// A listing that needs more pages is kept, so they come from the same
	// listing (a consistent table, and one kernel dump for all pages).
	keep := func() uint64 {
		if snapshot == 0 {
			snapshot = h.snapshots.add(key, entries, now)
		}
		return snapshot
	}
	page, err := encodePage(h.cfg.Name, served, entries[from:], maxEntries, maxBytes, keep)
	if err != nil {
		return errorReply(http.StatusBadRequest, "%v", err)
	}
	return reply{status: http.StatusOK, body: page}
}

// encodePage writes a wire.ConnectionsReply holding as many of entries as fit
// in maxEntries and maxBytes, with the cursor after the last one, in the
// snapshot keep returns, when some are left.
func encodePage(server string, vips []netip.Addr, entries []wire.Entry, maxEntries, maxBytes int, keep func() uint64) ([]byte, error) {
	head, err := json.Marshal(struct {
		Server string       `json:"server"`
		VIPs   []netip.Addr `json:"vips"`
	}{server, vipsOrEmpty(vips)})
	if err != nil {
		return nil, fmt.Errorf("encode reply: %w", err)
	}
	const entriesKey = `,"entries":[`
	const cursorTrailer = len(`],"next_cursor":""}`) + wire.MaxCursorLen
	budget := maxBytes - cursorTrailer
	if len(head)+len(entriesKey) > budget {
		return nil, fmt.Errorf("max_bytes %d leaves no room for the %d-byte envelope", maxBytes, len(head))
	}
	// head is {"server":…,"vips":[…]}; entries go after it.
	b := make([]byte, 0, min(maxBytes, len(head)+64+len(entries)*80))
	b = append(b, head[:len(head)-1]...)
	b = append(b, entriesKey...)
	n := 0
	for n < len(entries) && n < maxEntries {
		mark := len(b)
		if n > 0 {
			b = append(b, ',')
		}
		b = entries[n].AppendJSON(b)
		if len(b) > budget {
			b = b[:mark]
			break
		}
		n++
	}
	if n == 0 && len(entries) > 0 {
		return nil, fmt.Errorf("max_bytes %d leaves no room for an entry after the %d-byte envelope", maxBytes, len(head))
	}
	b = append(b, ']')
	if n < len(entries) {
		b = append(b, `,"next_cursor":"`...)
		b = append(b, wire.Cursor{Snapshot: keep(), After: entries[n-1]}.Encode()...)
		b = append(b, '"')
	}
	return append(b, '}'), nil
}

func vipsOrEmpty(v []netip.Addr) []netip.Addr {
	if v == nil {
		return []netip.Addr{}
	}
	return v
}

func (h *handler) metrics(body []byte) reply {
	if len(body) != 0 {
		return errorReply(http.StatusBadRequest, "metrics request must have an empty body")
	}
	host, err := h.cfg.Metrics.Host()
	if err != nil {
		h.log.Error("host metrics failed", zap.Error(err))
		return errorReply(http.StatusInternalServerError, "host metrics: %v", err)
	}
	entries, err := h.cfg.Table.Entries(h.cfg.Table.VIPs())
	if err != nil {
		h.log.Error("listing connections failed", zap.Error(err))
		return errorReply(http.StatusInternalServerError, "listing connections: %v", err)
	}
	rep := wire.MetricsReply{
		Server:        h.cfg.Name,
		Time:          h.cfg.Now().UTC(),
		CPUPercent:    host.CPUPercent,
		Load1:         host.Load1,
		Load5:         host.Load5,
		Load15:        host.Load15,
		MemUsedBytes:  host.MemUsed,
		MemTotalBytes: host.MemTotal,
		Connections:   countServices(entries),
		Custom:        h.cfg.Metrics.Custom(),
	}
	out, err := json.Marshal(rep)
	if err != nil {
		return errorReply(http.StatusInternalServerError, "encode metrics: %v", err)
	}
	return reply{status: http.StatusOK, body: out}
}

func (h *handler) lease(body []byte) reply {
	var req wire.LeaseRequest
	if err := decodeRequest("lease request", body, &req); err != nil {
		return errorReply(http.StatusBadRequest, "%v", err)
	}
	rep, err := h.cfg.Witness.Lease(req)
	if err != nil {
		return errorReply(http.StatusBadRequest, "%v", err)
	}
	rep.Server = h.cfg.Name
	out, err := json.Marshal(rep)
	if err != nil {
		return errorReply(http.StatusInternalServerError, "encode lease reply: %v", err)
	}
	return reply{status: http.StatusOK, body: out}
}

// Snapshots of listings being paged through.
const (
	// snapshotTTL is how long a listing serves the pages after its first;
	// a cursor into an expired one resumes in a fresh listing.
	snapshotTTL = 10 * time.Second
	// maxSnapshots bounds the listings kept (one per gateway paging at the
	// same time, typically).
	maxSnapshots = 4
)

type snapshotStore struct {
	mu   sync.Mutex
	next uint64 // starts random: cursors from before a restart find nothing
	kept []snapshot
}

type snapshot struct {
	id      uint64
	vips    string
	entries []wire.Entry
	taken   time.Time
}

// add keeps entries, the listing of the VIPs vips, and returns its id
// (never 0), dropping the oldest listing beyond maxSnapshots.
func (s *snapshotStore) add(vips string, entries []wire.Entry, now time.Time) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	if s.next == 0 {
		s.next++
	}
	if len(s.kept) == maxSnapshots {
		s.kept = slices.Delete(s.kept, 0, 1)
	}
	s.kept = append(s.kept, snapshot{id: s.next, vips: vips, entries: entries, taken: now})
	return s.next
}

// find returns the listing id of the VIPs vips if it is kept and fresh;
// the id returned is 0 otherwise.
func (s *snapshotStore) find(id uint64, vips string, now time.Time) ([]wire.Entry, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kept = slices.DeleteFunc(s.kept, func(k snapshot) bool { return now.Sub(k.taken) > snapshotTTL })
	for _, k := range s.kept {
		if k.id == id && k.vips == vips {
			return k.entries, id
		}
	}
	return nil, 0
}

func vipsKey(vips []netip.Addr) string {
	var b []byte
	for _, v := range vips {
		b = v.AppendTo(b)
		b = append(b, ' ')
	}
	return string(b)
}

// countServices counts entries (sorted by protocol and VIP) per service,
// keeping the busiest maxServiceCounts services.
func countServices(entries []wire.Entry) []wire.ServiceCount {
	counts := []wire.ServiceCount{}
	for _, e := range entries {
		if n := len(counts); n == 0 || counts[n-1].Proto != e.Proto || counts[n-1].VIP != e.VIP {
			counts = append(counts, wire.ServiceCount{Proto: e.Proto, VIP: e.VIP})
		}
		c := &counts[len(counts)-1]
		if e.State == wire.StateFIN {
			c.FIN++
		} else {
			c.Active++
		}
	}
	if len(counts) > maxServiceCounts {
		slices.SortStableFunc(counts, func(a, b wire.ServiceCount) int { return (b.Active + b.FIN) - (a.Active + a.FIN) })
		counts = counts[:maxServiceCounts]
		slices.SortFunc(counts, func(a, b wire.ServiceCount) int {
			return wire.Compare(wire.Entry{Proto: a.Proto, VIP: a.VIP}, wire.Entry{Proto: b.Proto, VIP: b.VIP})
		})
	}
	return counts
}

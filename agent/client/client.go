package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sync"
	"time"

	"vec/agent/auth"
	"vec/agent/wire"
)

// Errors a query can wrap (test with errors.Is).
var (
	// ErrRefused: the agent answered with a non-200 status.
	ErrRefused = errors.New("agent refused the request")
	// ErrBadReply: the reply was refused — too large, malformed, unsigned
	// or wrongly signed (forged or replayed), from another agent than the
	// one asked, or inconsistent paging.
	ErrBadReply = errors.New("agent reply rejected")
)

// DefaultMaxTotalEntries bounds the entries taken from one agent over all
// pages.
const DefaultMaxTotalEntries = 4 << 20

// Target is one agent to query.
type Target struct {
	// Name is the agent's configured name: the request is addressed to it
	// (and refused by any other agent) and the reply must carry it.
	Name string
	// URL is the agent's base URL, e.g. "http://192.0.2.11:10004".
	URL string
	// Key is this agent's own key; the zero Key means Options.Key. With a
	// key per agent, one compromised server can neither forge another
	// agent's replies nor read its table.
	Key auth.Key
}

// Options configures a Client.
type Options struct {
	// Key signs the requests to targets without a Key of their own; it may
	// be zero when every target has one.
	Key auth.Key
	// HTTPClient sends the requests; nil means a client with its own
	// transport, no proxy and no timeout but the context's.
	HTTPClient *http.Client
	// MaxEntriesPerPage and MaxReplyBytes bound one connections page; the
	// agent is told and a larger reply is refused. 0 means the wire
	// defaults.
	MaxEntriesPerPage int
	MaxReplyBytes     int
	// MaxTotalEntries bounds the entries taken from one agent over all its
	// pages; 0 means DefaultMaxTotalEntries.
	MaxTotalEntries int
	// Now is the clock requests are timestamped with; nil means time.Now.
	Now func() time.Time
}

// Client queries agents. It is safe for concurrent use.
type Client struct {
	key             auth.Key
	http            *http.Client
	maxEntries      int
	maxBytes        int
	maxTotalEntries int
	now             func() time.Time
}

// New checks opts and returns a Client.
func New(opts Options) (*Client, error) {
	c := &Client{
		key:             opts.Key,
		http:            opts.HTTPClient,
		maxEntries:      opts.MaxEntriesPerPage,
		maxBytes:        opts.MaxReplyBytes,
		maxTotalEntries: opts.MaxTotalEntries,
		now:             opts.Now,
	}
	if c.http == nil {
		c.http = &http.Client{Transport: &http.Transport{
			Proxy:               nil, // agents are reached directly, never through a proxy
			DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		}}
	}
	if c.maxEntries == 0 {
		c.maxEntries = wire.DefaultMaxEntries
	}
	if c.maxBytes == 0 {
		c.maxBytes = wire.DefaultMaxBytes
	}
	if c.maxTotalEntries == 0 {
		c.maxTotalEntries = DefaultMaxTotalEntries
	}
	if c.maxEntries < 1 || c.maxEntries > wire.LimitMaxEntries {
		return nil, fmt.Errorf("agent client: MaxEntriesPerPage %d outside 1..%d", c.maxEntries, wire.LimitMaxEntries)
	}
	if c.maxBytes < wire.MinMaxBytes || c.maxBytes > wire.LimitMaxBytes {
		return nil, fmt.Errorf("agent client: MaxReplyBytes %d outside %d..%d", c.maxBytes, wire.MinMaxBytes, wire.LimitMaxBytes)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Dropped counts the entries of an agent's answer that were not taken.
type Dropped struct {
	// ForeignVIP: the entry's VIP is not one of the VIPs asked for (or not
	// one the agent said it serves).
	ForeignVIP int
	// Invalid: the entry did not parse (unknown protocol or state, bad
	// address, missing client).
	Invalid int
}

// Total returns the number of dropped entries.
func (d Dropped) Total() int { return d.ForeignVIP + d.Invalid }

// Shadow is one agent's shadow table, as far as it was received.
type Shadow struct {
	// Server is the agent's name (always the Target's name).
	Server string
	// VIPs are the requested VIPs the agent serves.
	VIPs []netip.Addr
	// Entries are the valid entries on the requested VIPs, in wire.Compare
	// order, without duplicates.
	Entries []wire.Entry
	Dropped Dropped
	Pages   int
	// Complete is true when the last page was received; a Shadow returned
	// with an error holds the pages received before it.
	Complete bool
}

// Connections fetches the agent's shadow table for vips, page by page. Every
// entry is checked; those for a VIP not in vips are dropped and counted.
func (c *Client) Connections(ctx context.Context, t Target, vips []netip.Addr) (Shadow, error) {
	sh := Shadow{Server: t.Name}
	if len(vips) == 0 || len(vips) > wire.MaxRequestVIPs {
		return sh, fmt.Errorf("agent %s: %d VIPs asked for, want 1..%d", t.Name, len(vips), wire.MaxRequestVIPs)
	}
	ours := make(map[netip.Addr]bool, len(vips))
	for _, v := range vips {
		ours[v.Unmap()] = true
	}
	req := wire.ConnectionsRequest{VIPs: vips, MaxEntries: c.maxEntries, MaxBytes: c.maxBytes}
	var last *wire.Entry
	for {
		body, err := json.Marshal(req)
		if err != nil {
			return sh, fmt.Errorf("agent %s: encode request: %w", t.Name, err)
		}
		p, err := exchange(ctx, c, t, http.MethodPost, wire.PathConnections, body, c.maxBytes,
			func(b []byte) (page, error) { return decodeConnectionsPage(b, c.maxEntries) },
			func(p page) string { return p.server })
		if err != nil {
			return sh, err
		}
		served := map[netip.Addr]bool{}
		for _, v := range p.vips {
			served[v] = true
		}
		if sh.Pages == 0 {
			sh.VIPs = p.vips
		}
		sh.Pages++
		sh.Dropped.Invalid += p.invalid
		for _, e := range p.entries {
			// Order is checked on every parsed entry, foreign ones too: an
			// agent that repeats or reorders entries is broken or hostile.
			if last != nil && wire.Compare(e, *last) <= 0 {
				return sh, fmt.Errorf("agent %s: %w: entries out of order or repeated (%v after %v)", t.Name, ErrBadReply, e, *last)
			}
			last = &e
			if !ours[e.VIP.Addr()] || !served[e.VIP.Addr()] {
				sh.Dropped.ForeignVIP++
				continue
			}
			sh.Entries = append(sh.Entries, e)
		}
		if len(sh.Entries)+sh.Dropped.Total() > c.maxTotalEntries {
			return sh, fmt.Errorf("agent %s: %w: more than %d entries", t.Name, ErrBadReply, c.maxTotalEntries)
		}
		if p.nextCursor == "" {
			sh.Complete = true
			return sh, nil
		}
		if len(p.entries)+p.invalid == 0 {
			return sh, fmt.Errorf("agent %s: %w: a page without entries has a next cursor", t.Name, ErrBadReply)
		}
		req.Cursor = p.nextCursor
	}
}

// Metrics fetches the agent's host metrics.
func (c *Client) Metrics(ctx context.Context, t Target) (wire.MetricsReply, error) {
	return exchange(ctx, c, t, http.MethodGet, wire.PathMetrics, nil, wire.MaxMetricsBytes,
		decodeMetrics, func(m wire.MetricsReply) string { return m.Server })
}

// Lease asks the agent t, as a witness, for a lease for req's gateway and
// term, renews it, or (req.Release) ends it, and returns the agent's lease
// state. The reply must come from t, be consistent, and may grant only what
// was asked: the lease to req's gateway, for req's term, for at most
// req.DurationMs.
func (c *Client) Lease(ctx context.Context, t Target, req wire.LeaseRequest) (wire.LeaseReply, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return wire.LeaseReply{}, fmt.Errorf("agent %s: encode lease request: %w", t.Name, err)
	}
	l, err := exchange(ctx, c, t, http.MethodPost, wire.PathLease, body, wire.MaxLeaseReplyBytes,
		decodeLease, func(l wire.LeaseReply) string { return l.Server })
	if err != nil {
		return wire.LeaseReply{}, err
	}
	if l.Granted {
		switch {
		case req.Release:
			return wire.LeaseReply{}, fmt.Errorf("agent %s: %w: a release answered as a grant", t.Name, ErrBadReply)
		case l.Holder != req.Gateway || l.Term != req.Term:
			return wire.LeaseReply{}, fmt.Errorf("agent %s: %w: grants term %d to %q, asked for term %d for %q",
				t.Name, ErrBadReply, l.Term, l.Holder, req.Term, req.Gateway)
		case l.RemainingMs > req.DurationMs:
			return wire.LeaseReply{}, fmt.Errorf("agent %s: %w: grants %d ms, asked for %d ms", t.Name, ErrBadReply, l.RemainingMs, req.DurationMs)
		}
	}
	return l, nil
}

// exchange sends one request with c.do and decodes the reply with decode.
// A reply that does not decode, or whose server (read by server) is not t,
// is ErrBadReply.
func exchange[R any](ctx context.Context, c *Client, t Target, method, path string, body []byte, maxBytes int,
	decode func([]byte) (R, error), server func(R) string) (R, error) {
	var none R
	reply, err := c.do(ctx, t, method, path, body, maxBytes)
	if err != nil {
		return none, err
	}
	r, err := decode(reply)
	if err != nil {
		return none, fmt.Errorf("agent %s: %w: %w", t.Name, ErrBadReply, err)
	}
	if name := server(r); name != t.Name {
		return none, fmt.Errorf("agent %s: %w: reply names server %q", t.Name, ErrBadReply, name)
	}
	return r, nil
}

// do sends one signed request and returns the body of a signed 200 reply of
// at most maxBytes.
func (c *Client) do(ctx context.Context, t Target, method, path string, body []byte, maxBytes int) ([]byte, error) {
	key := t.Key
	if key.IsZero() {
		key = c.key
	}
	if key.IsZero() {
		return nil, fmt.Errorf("agent %s: no key (neither the target nor the client options have one)", t.Name)
	}
	base, err := url.Parse(t.URL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("agent %s: URL %q is not http(s)://host:port", t.Name, t.URL)
	}
	req, err := http.NewRequestWithContext(ctx, method, base.JoinPath(path).String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", t.Name, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	signed, err := auth.SignRequest(req, body, key, t.Name, c.now())
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", t.Name, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", t.Name, err)
	}
	defer resp.Body.Close()

	limit := maxBytes
	if resp.StatusCode != http.StatusOK {
		limit = wire.MaxErrorBytes
	}
	if resp.ContentLength > int64(limit) {
		return nil, fmt.Errorf("agent %s: %w: status %d reply of %d bytes, more than %d", t.Name, ErrBadReply, resp.StatusCode, resp.ContentLength, limit)
	}
	reply, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("agent %s: read reply: %w", t.Name, err)
	}
	if len(reply) > limit {
		return nil, fmt.Errorf("agent %s: %w: status %d reply of more than %d bytes", t.Name, ErrBadReply, resp.StatusCode, limit)
	}
	sigErr := signed.VerifyReply(resp.StatusCode, resp.Header, reply)
	if resp.StatusCode != http.StatusOK {
		msg := errorMessage(reply)
		if sigErr != nil {
			// 401s cannot be signed (the agent did not accept our key);
			// the message is shown but vouched for by nobody.
			return nil, fmt.Errorf("agent %s: %w: %d %s (unsigned reply): %s", t.Name, ErrRefused, resp.StatusCode, http.StatusText(resp.StatusCode), msg)
		}
		return nil, fmt.Errorf("agent %s: %w: %d %s: %s", t.Name, ErrRefused, resp.StatusCode, http.StatusText(resp.StatusCode), msg)
	}
	if sigErr != nil {
		return nil, fmt.Errorf("agent %s: %w: %w", t.Name, ErrBadReply, sigErr)
	}
	return reply, nil
}

// errorMessage extracts an ErrorReply's text, quoted and shortened if the
// body is something else.
func errorMessage(body []byte) string {
	var e wire.ErrorReply
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	const show = 200
	if len(body) > show {
		body = body[:show]
	}
	return fmt.Sprintf("%q", body)
}

// ConnectionsResult is one agent's answer to ConnectionsAll.
type ConnectionsResult struct {
	Target Target
	Shadow Shadow
	// Err is nil when Shadow is complete; otherwise the agent counts as
	// down (Shadow may still hold the pages received before the error).
	Err     error
	Elapsed time.Duration
}

// ConnectionsAll queries every target in parallel for its shadow table on
// vips and returns when all have answered or ctx ends (give ctx the
// deadline: agents that miss it fail with the context's error). Results are
// in the order of targets.
func (c *Client) ConnectionsAll(ctx context.Context, targets []Target, vips []netip.Addr) []ConnectionsResult {
	vips = slices.Clone(vips)
	return queryAll(ctx, targets, func(ctx context.Context, t Target) ConnectionsResult {
		start := time.Now()
		sh, err := c.Connections(ctx, t, vips)
		return ConnectionsResult{Target: t, Shadow: sh, Err: err, Elapsed: time.Since(start)}
	})
}

// MetricsResult is one agent's answer to MetricsAll.
type MetricsResult struct {
	Target  Target
	Metrics wire.MetricsReply
	Err     error
	Elapsed time.Duration
}

// MetricsAll queries every target in parallel for its metrics, like
// ConnectionsAll.
func (c *Client) MetricsAll(ctx context.Context, targets []Target) []MetricsResult {
	return queryAll(ctx, targets, func(ctx context.Context, t Target) MetricsResult {
		start := time.Now()
		m, err := c.Metrics(ctx, t)
		return MetricsResult{Target: t, Metrics: m, Err: err, Elapsed: time.Since(start)}
	})
}

// LeaseResult is one agent's answer to LeaseAll.
type LeaseResult struct {
	Target Target
	Reply  wire.LeaseReply
	// Err is nil when Reply is the agent's checked answer; otherwise the
	// agent counts as not granting.
	Err     error
	Elapsed time.Duration
}

// LeaseAll sends req to every target in parallel, like ConnectionsAll.
func (c *Client) LeaseAll(ctx context.Context, targets []Target, req wire.LeaseRequest) []LeaseResult {
	return queryAll(ctx, targets, func(ctx context.Context, t Target) LeaseResult {
		start := time.Now()
		rep, err := c.Lease(ctx, t, req)
		return LeaseResult{Target: t, Reply: rep, Err: err, Elapsed: time.Since(start)}
	})
}

func queryAll[R any](ctx context.Context, targets []Target, query func(context.Context, Target) R) []R {
	results := make([]R, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { results[i] = query(ctx, t) })
	}
	wg.Wait()
	return results
}

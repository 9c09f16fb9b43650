package advisor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"vec/control/apiwire"
	"vec/control/periodic"
)

// Defaults for the zero fields of a Spec.
const (
	defaultInterval = time.Second
	defaultTimeout  = time.Second
	defaultFall     = 3
	defaultRise     = 2
	defaultMethod   = http.MethodGet
	defaultPath     = "/"
	defaultExpect   = http.StatusOK
)

// errorLogEvery is how often a target's failed probes are logged at most;
// the failures in between are counted in the next message.
const errorLogEvery = time.Minute

// Spec is one advisor's configuration. New fills in the zero fields:
// Interval 1s, Timeout 1s, Fall 3, Rise 2, and for http and https method GET,
// path "/" and expected status 200. Fields that belong to another type must
// be left zero.
type Spec struct {
	Name, Type        string // Type: http, https, tcp, udp or custom
	Interval, Timeout time.Duration
	Fall, Rise        int

	HTTPMethod, HTTPPath, HTTPHost string
	HTTPExpect                     int

	UDPSend, UDPExpect string

	Command []string // custom: argv, run without a shell
}

// Target is one server an advisor probes.
type Target struct {
	Server string         // the server's name
	Addr   netip.AddrPort // the server's IP and the probe port
}

// Result is a target's state as its probes left it: the control API's
// shape (GET /v1/manager lists it per advisor), defined in control/apiwire.
type Result = apiwire.AdvisorResult

// Option changes how an Advisor reaches the world; tests use them.
type Option func(*options)

type options struct {
	now  func() time.Time
	dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// WithClock sets the clock that stamps Result.Since and paces the error logs.
// Latencies are always measured with the monotonic clock.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithDialer sets how the http, https, tcp and udp probes open connections.
func WithDialer(dial func(ctx context.Context, network, address string) (net.Conn, error)) Option {
	return func(o *options) { o.dial = dial }
}

// Advisor probes every target of one service. Its methods are safe for
// concurrent use.
type Advisor struct {
	spec    Spec
	log     *zap.Logger
	now     func() time.Time
	dial    func(ctx context.Context, network, address string) (net.Conn, error)
	probe   func(ctx context.Context, t *target) (probeOutput, error)
	client  *http.Client // http and https: one per advisor, shared by its targets
	udpSend []byte
	udpWant []byte

	targets []*target

	mu sync.Mutex // guards every target's state

	probes periodic.Group
}

// target is a Target with what its probes need, precomputed, and its state.
type target struct {
	Target
	addr string   // Addr as a dial address
	url  string   // http and https
	argv []string // custom, placeholders replaced
	env  []string // custom

	// Guarded by Advisor.mu.
	res        Result
	fails, oks int // consecutive failures and successes
	lastErrLog time.Time
	suppressed int // failures not logged since lastErrLog
}

// New validates spec and targets and returns an Advisor that has not started
// probing; every target starts up.
func New(spec Spec, targets []Target, log *zap.Logger, opts ...Option) (*Advisor, error) {
	spec, err := withDefaults(spec)
	if err != nil {
		return nil, err
	}
	o := options{now: time.Now, dial: (&net.Dialer{}).DialContext}
	for _, opt := range opts {
		opt(&o)
	}
	if log == nil {
		log = zap.NewNop()
	}
	a := &Advisor{
		spec: spec,
		log:  log.With(zap.String("advisor", spec.Name), zap.String("type", spec.Type)),
		now:  o.now,
		dial: o.dial,
	}
	switch spec.Type {
	case "http", "https":
		a.client = a.newHTTPClient()
		a.probe = a.probeHTTP
	case "tcp":
		a.probe = a.probeTCP
	case "udp":
		a.udpSend, a.udpWant = []byte(spec.UDPSend), []byte(spec.UDPExpect)
		a.probe = a.probeUDP
	case "custom":
		a.probe = a.probeCustom
	}
	start := a.now()
	seen := make(map[string]bool, len(targets))
	for i, tg := range targets {
		switch {
		case tg.Server == "":
			return nil, fmt.Errorf("advisor %q: target %d: server name is empty", spec.Name, i)
		case seen[tg.Server]:
			return nil, fmt.Errorf("advisor %q: server %q listed twice", spec.Name, tg.Server)
		case !tg.Addr.IsValid() || tg.Addr.Port() == 0:
			return nil, fmt.Errorf("advisor %q: server %q: address %v has no IP or no port", spec.Name, tg.Server, tg.Addr)
		}
		seen[tg.Server] = true
		tg.Addr = netip.AddrPortFrom(tg.Addr.Addr().Unmap(), tg.Addr.Port())
		a.targets = append(a.targets, a.newTarget(tg, start))
	}
	return a, nil
}

func withDefaults(s Spec) (Spec, error) {
	if s.Name == "" {
		return s, errors.New("advisor: name is empty")
	}
	fail := func(format string, args ...any) (Spec, error) {
		return s, fmt.Errorf("advisor %q: %s", s.Name, fmt.Sprintf(format, args...))
	}
	switch {
	case s.Interval < 0:
		return fail("interval %v is negative", s.Interval)
	case s.Timeout < 0:
		return fail("timeout %v is negative", s.Timeout)
	case s.Fall < 0:
		return fail("fall %d is negative", s.Fall)
	case s.Rise < 0:
		return fail("rise %d is negative", s.Rise)
	}
	s.Interval = orDefault(s.Interval, defaultInterval)
	s.Timeout = orDefault(s.Timeout, defaultTimeout)
	s.Fall = orDefault(s.Fall, defaultFall)
	s.Rise = orDefault(s.Rise, defaultRise)

	isHTTP := s.Type == "http" || s.Type == "https"
	switch {
	case s.Type != "http" && s.Type != "https" && s.Type != "tcp" && s.Type != "udp" && s.Type != "custom":
		return fail("type %q: want http, https, tcp, udp or custom", s.Type)
	case !isHTTP && (s.HTTPMethod != "" || s.HTTPPath != "" || s.HTTPHost != "" || s.HTTPExpect != 0):
		return fail("http settings (method, path, host, expect_status) are only for types http and https, not %s", s.Type)
	case s.Type != "udp" && (s.UDPSend != "" || s.UDPExpect != ""):
		return fail("udp settings (send, expect) are only for type udp, not %s", s.Type)
	case s.Type != "custom" && len(s.Command) > 0:
		return fail("command is only for type custom, not %s", s.Type)
	case s.Type == "custom" && (len(s.Command) == 0 || s.Command[0] == ""):
		return fail("type custom needs a command")
	}
	if isHTTP {
		s.HTTPMethod = orDefault(s.HTTPMethod, defaultMethod)
		s.HTTPPath = orDefault(s.HTTPPath, defaultPath)
		s.HTTPExpect = orDefault(s.HTTPExpect, defaultExpect)
		switch {
		case !strings.HasPrefix(s.HTTPPath, "/"):
			return fail("http path %q does not start with /", s.HTTPPath)
		case strings.ContainsAny(s.HTTPHost, " \t\r\n/"):
			return fail("http host %q is not a host name", s.HTTPHost)
		case s.HTTPExpect < 100 || s.HTTPExpect > 599:
			return fail("http expect_status %d is not an HTTP status", s.HTTPExpect)
		}
		// The request a probe builds must be valid for every target: try one.
		if _, err := http.NewRequest(s.HTTPMethod, "http://127.0.0.1"+s.HTTPPath, nil); err != nil {
			return fail("http method %q or path %q: %v", s.HTTPMethod, s.HTTPPath, err)
		}
	}
	return s, nil
}

// orDefault returns v, or def when v is the zero value.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func (a *Advisor) newHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:       nil, // never the environment's proxy: the probe is for this server
		DialContext: a.dial,
		// Each probe is a real connection attempt, as a new client's would be.
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxBody,
		TLSHandshakeTimeout:    a.spec.Timeout,
	}
	if a.spec.Type == "https" {
		tr.TLSClientConfig = &tls.Config{
			// The probe checks that the server is alive and answers, not who
			// it is: servers behind a load balancer commonly present the
			// service's certificate (or a self-signed one) on their own IP.
			InsecureSkipVerify: true, //nolint:gosec // liveness, not identity
			ServerName:         hostOnly(a.spec.HTTPHost),
		}
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // the status is this server's own
		},
	}
}

// hostOnly strips a port from a Host header value.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

func (a *Advisor) newTarget(tg Target, start time.Time) *target {
	t := &target{
		Target: tg,
		addr:   tg.Addr.String(),
		res:    Result{Server: tg.Server, Up: true, Since: start},
	}
	switch a.spec.Type {
	case "http":
		t.url = "http://" + t.addr + a.spec.HTTPPath
	case "https":
		t.url = "https://" + t.addr + a.spec.HTTPPath
	case "custom":
		ip, port := tg.Addr.Addr().String(), strconv.Itoa(int(tg.Addr.Port()))
		r := strings.NewReplacer("{server}", tg.Server, "{ip}", ip, "{port}", port, "{addr}", t.addr)
		for _, arg := range a.spec.Command {
			t.argv = append(t.argv, r.Replace(arg))
		}
		t.env = append(os.Environ(),
			"VEC_ADVISOR="+a.spec.Name, "VEC_SERVER="+tg.Server, "VEC_IP="+ip, "VEC_PORT="+port)
	}
	return t
}

// Start begins probing every target, the first probe at once and then every
// Interval. Starting a started Advisor does nothing; a stopped one may be
// started again and keeps its results.
func (a *Advisor) Start() {
	jobs := make([]periodic.Job, len(a.targets))
	for i, t := range a.targets {
		jobs[i] = periodic.Job{Interval: a.spec.Interval, Run: func(ctx context.Context) { a.check(ctx, t) }}
	}
	a.probes.Start(jobs)
}

// Stop cancels the probes in flight and returns once every one has ended.
// A probe cut short by Stop is not counted.
func (a *Advisor) Stop() {
	a.probes.Stop()
}

// Results returns a snapshot of every target's state, in target order.
func (a *Advisor) Results() []Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Result, len(a.targets))
	for i, t := range a.targets {
		out[i] = t.res
	}
	return out
}

// check runs one probe of t, bounded by Timeout, and records its outcome
// unless ctx ended (Stop) meanwhile.
func (a *Advisor) check(ctx context.Context, t *target) {
	pctx, cancel := context.WithTimeout(ctx, a.spec.Timeout)
	start := time.Now()
	out, err := a.probe(pctx, t)
	latency := time.Since(start)
	timedOut := errors.Is(pctx.Err(), context.DeadlineExceeded)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if timedOut || (err == nil && latency > a.spec.Timeout) {
		err = fmt.Errorf("timeout after %v", a.spec.Timeout)
	}
	a.record(t, out, latency, err)
}

// record applies one probe's outcome to t's state, dampened by Fall and Rise,
// and logs a change of state or, rate-limited, the failure.
func (a *Advisor) record(t *target, out probeOutput, latency time.Duration, err error) {
	now := a.now()
	a.mu.Lock()
	r := &t.res
	r.Checks++
	changed, logErr, suppressed := false, false, 0
	if err == nil {
		t.fails, t.oks = 0, t.oks+1
		r.Latency, r.Metric, r.HaveMetric = latency, out.metric, out.haveMetric
		if !r.Up && t.oks >= a.spec.Rise {
			r.Up, r.Since, changed = true, now, true
		}
		if r.Up {
			r.LastError = ""
		}
	} else {
		t.oks, t.fails = 0, t.fails+1
		r.Failures++
		r.LastError = err.Error()
		if r.Up && t.fails >= a.spec.Fall {
			r.Up, r.Since, changed = false, now, true
			t.lastErrLog, t.suppressed = now, 0 // the state change says why
		} else if now.Sub(t.lastErrLog) >= errorLogEvery {
			logErr, suppressed = true, t.suppressed
			t.lastErrLog, t.suppressed = now, 0
		} else {
			t.suppressed++
		}
	}
	res, fails, oks := *r, t.fails, t.oks
	a.mu.Unlock()

	switch {
	case changed && res.Up:
		a.log.Info("server up", zap.String("server", t.Server), zap.Stringer("addr", t.Addr),
			zap.String("why", fmt.Sprintf("%d consecutive successful probes", oks)),
			zap.Duration("latency", latency))
	case changed:
		a.log.Info("server down", zap.String("server", t.Server), zap.Stringer("addr", t.Addr),
			zap.String("why", fmt.Sprintf("%d consecutive failed probes, last: %s", fails, res.LastError)))
	case logErr:
		a.log.Warn("probe failed", zap.String("server", t.Server), zap.Stringer("addr", t.Addr),
			zap.Error(err), zap.Bool("up", res.Up), zap.Int("consecutive", fails),
			zap.Int("failures_not_logged", suppressed))
	}
}

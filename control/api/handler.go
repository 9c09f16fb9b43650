package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"vec/control/apiwire"
	"vec/control/config"
	"vec/control/manager"
)

// Backend is what the API serves: the manager, or a test's stand-in.
type Backend interface {
	Config() (*config.Config, uint64)
	Mutate(ctx context.Context, source string, change func(*config.Config) error) (apiwire.Change, error)
	Reload(ctx context.Context, source string, onlyIfChanged bool) (apiwire.Change, error)
	Save() (string, error)
	Status() apiwire.Status
	Counters(ctx context.Context) (apiwire.Counters, error)
	Connections(ctx context.Context, f manager.ConnFilter) (apiwire.Connections, error)
}

// Options configure the API's handler.
type Options struct {
	Backend Backend
	Tokens  *Tokens
	Log     *zap.Logger
	// ReloadTokens, when set, is called by POST /v1/config/reload before
	// the configuration is reloaded, so that changed tokens take effect
	// with it.
	ReloadTokens func() error
	// HA serves /v1/ha; nil on a gateway without agents or peers.
	HA HA
	// Manager serves GET /v1/manager; nil when vecd runs no weight loop.
	Manager Manager
	// BGP serves /v1/bgp and /v1/gateway/drain, /undrain; nil without a
	// bgp section.
	BGP BGP
}

// requestTimeout bounds what one request may wait for the workers.
const requestTimeout = 10 * time.Second

// handler serves the API; see NewHandler.
type handler struct {
	Options
	mux  *http.ServeMux
	page http.Handler // the status page's files
}

// NewHandler returns the API's HTTP handler.
func NewHandler(opts Options) http.Handler {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	h := &handler{Options: opts, mux: http.NewServeMux(), page: statusPage()}
	ha, bgp, mgr := optional(h.HA != nil, errNoHA), optional(h.BGP != nil, errNoBGP), optional(h.Manager != nil, errNoManager)
	routes := []struct {
		pattern string
		fn      func(*http.Request, Identity) (any, error)
	}{
		{"GET /v1/status", h.status},
		{"GET /v1/whoami", h.whoami},
		{"GET /v1/config", h.showConfig},
		{"POST /v1/config/save", h.saveConfig},
		{"POST /v1/config/reload", h.reloadConfig},
		{"GET /v1/clusters", h.listClusters},
		{"POST /v1/clusters", h.addCluster},
		{"GET /v1/clusters/{vip}", h.showCluster},
		{"DELETE /v1/clusters/{vip}", h.removeCluster},
		{"GET /v1/services", h.listServices},
		{"GET /v1/clusters/{vip}/services", h.listServices},
		{"POST /v1/clusters/{vip}/services", h.addService},
		{"PATCH /v1/clusters/{vip}/services/{service}", h.updateService},
		{"DELETE /v1/clusters/{vip}/services/{service}", h.removeService},
		{"GET /v1/servers", h.listServers},
		{"GET /v1/clusters/{vip}/services/{service}/servers", h.listServers},
		{"POST /v1/clusters/{vip}/services/{service}/servers", h.addServer},
		{"PATCH /v1/clusters/{vip}/services/{service}/servers/{server}", h.updateServer},
		{"DELETE /v1/clusters/{vip}/services/{service}/servers/{server}", h.removeServer},
		{"POST /v1/clusters/{vip}/services/{service}/servers/{server}/quiesce", h.quiesce(true)},
		{"POST /v1/clusters/{vip}/services/{service}/servers/{server}/unquiesce", h.quiesce(false)},
		{"GET /v1/connections", h.connections},
		{"GET /v1/counters", h.counters},
		{"GET /v1/log/level", h.getLogLevel},
		{"PUT /v1/log/level", h.setLogLevel},
		{"GET /v1/ha", ha(h.haStatus)},
		{"POST /v1/ha/takeover", ha(h.haTakeover)},
		{"GET /v1/bgp", bgp(h.bgpStatus)},
		{"POST /v1/gateway/drain", bgp(h.gatewayDrain(true))},
		{"POST /v1/gateway/undrain", bgp(h.gatewayDrain(false))},
		{"GET /v1/manager", mgr(h.managerReport)},
		{"PATCH /v1/manager", h.updateManager},
		{"POST /v1/manager/start", h.managerEnable(true)},
		{"POST /v1/manager/stop", h.managerEnable(false)},
		{"POST /v1/manager/advisors", addNamed(h, advisorList, advisorToConfig)},
		{"DELETE /v1/manager/advisors/{name}", removeNamed(h, advisorList)},
		{"POST /v1/manager/rules", addNamed(h, ruleList, ruleToConfig)},
		{"DELETE /v1/manager/rules/{name}", removeNamed(h, ruleList)},
	}
	for _, rt := range routes {
		h.mux.Handle(rt.pattern, endpoint(rt.fn))
	}
	return h
}

// endpoint adapts a handler function: its result is the JSON reply (200),
// its error the JSON error.
type endpoint func(*http.Request, Identity) (any, error)

// optional returns what the endpoints of a part vecd may run without (the
// recovery side, the BGP speaker, the manager) are wrapped in: while the
// part is absent, they answer absent.
func optional(present bool, absent *apiError) func(endpoint) endpoint {
	return func(e endpoint) endpoint {
		if present {
			return e
		}
		return func(*http.Request, Identity) (any, error) { return nil, absent }
	}
}

type identityKey struct{}

func (e endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, _ := r.Context().Value(identityKey{}).(Identity)
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	v, err := e(r.WithContext(ctx), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

var allMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// ServeHTTP authenticates, authorises and routes a request.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	id, err := h.Tokens.Verify(r.Header.Get("Authorization"))
	switch {
	case isStatusPage(r):
		h.page.ServeHTTP(rec, r)
	case err != nil:
		rec.Header().Set("WWW-Authenticate", `Bearer realm="vecd"`)
		writeError(rec, &apiError{status: http.StatusUnauthorized, code: "unauthorized", msg: err.Error()})
	case id.Role != RoleAdmin && r.Method != http.MethodGet && r.Method != http.MethodHead:
		writeError(rec, &apiError{status: http.StatusForbidden, code: "forbidden",
			msg: fmt.Sprintf("token %q has role %s: it may only read (GET)", id.Name, id.Role)})
	default:
		if _, pattern := h.mux.Handler(r); pattern == "" {
			h.notRouted(rec, r)
			break
		}
		h.mux.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	}
	if ce := h.Log.Check(zapcore.DebugLevel, "control API request"); ce != nil {
		ce.Write(zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.String("token", id.Name),
			zap.Int("status", rec.status), zap.Duration("took", time.Since(start)))
	}
}

// notRouted answers a request no route takes: 405 when the path exists
// with other methods, else 404.
func (h *handler) notRouted(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range allMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
			msg: fmt.Sprintf("%s %s: this endpoint takes %s", r.Method, r.URL.Path, strings.Join(allowed, ", "))})
		return
	}
	writeError(w, &apiError{status: http.StatusNotFound, code: "unknown_endpoint",
		msg: fmt.Sprintf("%s %s is not an endpoint of the control API (see docs/control-api.md)", r.Method, r.URL.Path)})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// apiError is an error with its HTTP status and code.
type apiError struct {
	status   int
	code     string
	msg      string
	problems []config.Problem
}

func (e *apiError) Error() string { return e.msg }

// classify maps an error to its HTTP status and code.
func classify(err error) *apiError {
	var (
		ae  *apiError
		re  *requestError
		rj  *manager.RejectedError
		nf  *manager.NotFoundError
		cf  *manager.ConflictError
		ap  *manager.ApplyError
		fe  *manager.FilterError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &re), errors.As(err, &fe), errors.As(err, &mbe):
		return &apiError{status: http.StatusBadRequest, code: "bad_request", msg: err.Error()}
	case errors.As(err, &rj):
		return &apiError{status: http.StatusUnprocessableEntity, code: "invalid_config", msg: err.Error(), problems: rj.Problems}
	case errors.As(err, &nf):
		return &apiError{status: http.StatusNotFound, code: "not_found", msg: err.Error()}
	case errors.As(err, &cf):
		return &apiError{status: http.StatusConflict, code: "conflict", msg: err.Error()}
	case errors.As(err, &ap), errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: http.StatusServiceUnavailable, code: "workers_unavailable", msg: err.Error()}
	}
	return &apiError{status: http.StatusInternalServerError, code: "internal", msg: err.Error()}
}

func writeError(w http.ResponseWriter, err error) {
	ae := classify(err)
	body := apiwire.ErrorBody{Error: apiwire.ErrorDetail{Code: ae.code, Message: ae.msg}}
	for _, p := range ae.problems {
		body.Error.Problems = append(body.Error.Problems, apiwire.Problem{Field: p.Field, Message: p.Message})
	}
	writeJSON(w, ae.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"encoding the reply failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func source(id Identity, what string) string { return fmt.Sprintf("api (%s): %s", id.Name, what) }

func (h *handler) status(*http.Request, Identity) (any, error) { return h.Backend.Status(), nil }

func (h *handler) showConfig(*http.Request, Identity) (any, error) {
	cfg, gen := h.Backend.Config()
	b, err := config.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return apiwire.ConfigReply{Generation: gen, YAML: string(b)}, nil
}

func (h *handler) saveConfig(*http.Request, Identity) (any, error) {
	path, err := h.Backend.Save()
	if err != nil {
		return nil, err
	}
	_, gen := h.Backend.Config()
	return apiwire.SaveReply{Generation: gen, File: path}, nil
}

func (h *handler) reloadConfig(r *http.Request, id Identity) (any, error) {
	if h.ReloadTokens != nil {
		if err := h.ReloadTokens(); err != nil {
			return nil, &apiError{status: http.StatusUnprocessableEntity, code: "invalid_tokens", msg: err.Error()}
		}
	}
	return h.Backend.Reload(r.Context(), source(id, "reload"), false)
}

func (h *handler) listClusters(*http.Request, Identity) (any, error) {
	cfg, _ := h.Backend.Config()
	out := []apiwire.Cluster{}
	for _, cl := range cfg.Clusters {
		out = append(out, fromConfigCluster(cl))
	}
	return out, nil
}

func (h *handler) showCluster(r *http.Request, _ Identity) (any, error) {
	cfg, _ := h.Backend.Config()
	ci, err := manager.FindCluster(cfg, r.PathValue("vip"))
	if err != nil {
		return nil, err
	}
	return fromConfigCluster(cfg.Clusters[ci]), nil
}

func (h *handler) addCluster(r *http.Request, id Identity) (any, error) {
	cl, err := decodeConverted(r.Body, clusterToConfig)
	if err != nil {
		return nil, err
	}
	return h.Backend.Mutate(r.Context(), source(id, "add cluster "+cl.VIP), func(c *config.Config) error {
		return manager.AddCluster(c, cl)
	})
}

func (h *handler) removeCluster(r *http.Request, id Identity) (any, error) {
	vip := r.PathValue("vip")
	return h.Backend.Mutate(r.Context(), source(id, "remove cluster "+vip), func(c *config.Config) error {
		return manager.RemoveCluster(c, vip)
	})
}

func (h *handler) listServices(r *http.Request, _ Identity) (any, error) {
	cfg, _ := h.Backend.Config()
	vip := r.PathValue("vip")
	if vip == "" {
		vip = r.URL.Query().Get("vip")
	}
	out := []apiwire.ServiceRow{}
	if vip != "" {
		ci, err := manager.FindCluster(cfg, vip)
		if err != nil {
			return nil, err
		}
		cfg.Clusters = cfg.Clusters[ci : ci+1]
	}
	for _, cl := range cfg.Clusters {
		for _, s := range cl.Services {
			out = append(out, apiwire.ServiceRow{VIP: cl.VIP, Service: fromConfigService(s)})
		}
	}
	return out, nil
}

func (h *handler) addService(r *http.Request, id Identity) (any, error) {
	s, err := decodeConverted(r.Body, serviceToConfig)
	if err != nil {
		return nil, err
	}
	vip := r.PathValue("vip")
	return h.Backend.Mutate(r.Context(), source(id, fmt.Sprintf("add service %s/%s", vip, s.Name)), func(c *config.Config) error {
		return manager.AddService(c, vip, s)
	})
}

func (h *handler) updateService(r *http.Request, id Identity) (any, error) {
	body, err := decodePatch[apiwire.ServicePatch](r.Body, "stale_timeout, fin_timeout, drain_timeout, weight_bound or disabled")
	if err != nil {
		return nil, err
	}
	p, err := servicePatchToManager(body)
	if err != nil {
		return nil, err
	}
	vip, name := r.PathValue("vip"), r.PathValue("service")
	return h.Backend.Mutate(r.Context(), source(id, fmt.Sprintf("set service %s/%s", vip, name)), func(c *config.Config) error {
		return manager.UpdateService(c, vip, name, p)
	})
}

func servicePatchToManager(p apiwire.ServicePatch) (manager.ServicePatch, error) {
	var out manager.ServicePatch
	for _, f := range []struct {
		name string
		in   *string
		out  **time.Duration
	}{{"stale_timeout", p.StaleTimeout, &out.StaleTimeout}, {"fin_timeout", p.FinTimeout, &out.FinTimeout},
		{"drain_timeout", p.DrainTimeout, &out.DrainTimeout}} {
		if f.in == nil {
			continue
		}
		d, err := duration(f.name, *f.in)
		if err != nil {
			return out, err
		}
		*f.out = &d
	}
	out.WeightBound, out.Disabled = p.WeightBound, p.Disabled
	return out, nil
}

func (h *handler) removeService(r *http.Request, id Identity) (any, error) {
	vip, name := r.PathValue("vip"), r.PathValue("service")
	return h.Backend.Mutate(r.Context(), source(id, fmt.Sprintf("remove service %s/%s", vip, name)), func(c *config.Config) error {
		return manager.RemoveService(c, vip, name)
	})
}

func (h *handler) listServers(r *http.Request, _ Identity) (any, error) {
	vip, service := r.PathValue("vip"), r.PathValue("service")
	if vip == "" {
		vip, service = r.URL.Query().Get("vip"), r.URL.Query().Get("service")
	}
	if vip != "" {
		cfg, _ := h.Backend.Config()
		var err error
		if service != "" {
			_, _, err = manager.FindService(cfg, vip, service)
		} else {
			_, err = manager.FindCluster(cfg, vip)
		}
		if err != nil {
			return nil, err
		}
	}
	// The counters name VIPs in their canonical form.
	if a, err := netip.ParseAddr(vip); err == nil {
		vip = a.String()
	}
	st, err := h.Backend.Counters(r.Context())
	if err != nil {
		return nil, err
	}
	out := []apiwire.ServerCounters{}
	for _, s := range st.Servers {
		if (vip == "" || s.VIP == vip) && (service == "" || s.Service == service) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (h *handler) addServer(r *http.Request, id Identity) (any, error) {
	body, err := decodeJSON[apiwire.Server](r.Body)
	if err != nil {
		return nil, err
	}
	sv := serverToConfig(body)
	vip, service := r.PathValue("vip"), r.PathValue("service")
	return h.Backend.Mutate(r.Context(), source(id, fmt.Sprintf("add server %s/%s/%s", vip, service, sv.Name)), func(c *config.Config) error {
		return manager.AddServer(c, vip, service, sv)
	})
}

func (h *handler) updateServer(r *http.Request, id Identity) (any, error) {
	body, err := decodePatch[apiwire.ServerPatch](r.Body, "weight, mac or quiesced")
	if err != nil {
		return nil, err
	}
	vip, service, server := r.PathValue("vip"), r.PathValue("service"), r.PathValue("server")
	p := manager.ServerPatch{Weight: body.Weight, MAC: body.MAC, Quiesced: body.Quiesced}
	return h.Backend.Mutate(r.Context(), source(id, fmt.Sprintf("set server %s/%s/%s", vip, service, server)), func(c *config.Config) error {
		return manager.UpdateServer(c, vip, service, server, p)
	})
}

func (h *handler) removeServer(r *http.Request, id Identity) (any, error) {
	vip, service, server := r.PathValue("vip"), r.PathValue("service"), r.PathValue("server")
	return h.Backend.Mutate(r.Context(), source(id, fmt.Sprintf("remove server %s/%s/%s", vip, service, server)), func(c *config.Config) error {
		return manager.RemoveServer(c, vip, service, server)
	})
}

func (h *handler) quiesce(on bool) func(*http.Request, Identity) (any, error) {
	verb := "unquiesce"
	if on {
		verb = "quiesce"
	}
	return func(r *http.Request, id Identity) (any, error) {
		vip, service, server := r.PathValue("vip"), r.PathValue("service"), r.PathValue("server")
		return h.Backend.Mutate(r.Context(), source(id, fmt.Sprintf("%s server %s/%s/%s", verb, vip, service, server)), func(c *config.Config) error {
			return manager.UpdateServer(c, vip, service, server, manager.ServerPatch{Quiesced: &on})
		})
	}
}

func (h *handler) connections(r *http.Request, _ Identity) (any, error) {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains([]string{"vip", "service", "server", "state", "limit", "cursor"}, k) {
			return nil, badRequest("unknown query parameter %q (vip, service, server, state, limit, cursor)", k)
		}
	}
	f := manager.ConnFilter{VIP: q.Get("vip"), Service: q.Get("service"), Server: q.Get("server"), State: q.Get("state"),
		Cursor: q.Get("cursor"), Limit: apiwire.DefaultConnLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, badRequest("limit=%q is not a positive number", s)
		}
		f.Limit = n
	}
	return h.Backend.Connections(r.Context(), f)
}

func (h *handler) counters(r *http.Request, _ Identity) (any, error) {
	return h.Backend.Counters(r.Context())
}

func (h *handler) getLogLevel(*http.Request, Identity) (any, error) {
	return apiwire.LogLevel{Level: h.Backend.Status().LogLevel}, nil
}

func (h *handler) setLogLevel(r *http.Request, id Identity) (any, error) {
	body, err := decodeJSON[apiwire.LogLevel](r.Body)
	if err != nil {
		return nil, err
	}
	if _, err := zapcore.ParseLevel(body.Level); err != nil || body.Level == "" {
		return nil, badRequest("level %q is not one of debug, info, warn, error", body.Level)
	}
	return h.Backend.Mutate(r.Context(), source(id, "log level "+body.Level), func(c *config.Config) error {
		c.Log.Level = body.Level
		return nil
	})
}

package api

import (
	"net/http"
	"slices"
	"time"

	"vec/control/apiwire"
	"vec/control/config"
	"vec/control/manager"
)

// Manager is vecd's weight loop (control/weights, the patent's manager):
// GET /v1/manager shows its last interval. Starting, stopping and
// configuring it are changes of the configuration's manager section, made
// through the Backend like any other change.
type Manager interface {
	ManagerReport() apiwire.ManagerReport
}

var errNoManager = &apiError{status: http.StatusNotFound, code: "manager_unavailable",
	msg: "this vecd runs no manager (weight loop) to report on"}

func (h *handler) managerReport(*http.Request, Identity) (any, error) {
	return h.Manager.ManagerReport(), nil
}

func (h *handler) managerEnable(on bool) func(*http.Request, Identity) (any, error) {
	verb := "stop"
	if on {
		verb = "start"
	}
	return func(r *http.Request, id Identity) (any, error) {
		return h.Backend.Mutate(r.Context(), source(id, "manager "+verb), func(c *config.Config) error {
			c.Manager.Enabled = on
			return nil
		})
	}
}

func (h *handler) updateManager(r *http.Request, id Identity) (any, error) {
	body, err := decodePatch[apiwire.ManagerPatch](r.Body, "interval, proportions, smoothing, sensitivity, system_metric, host_interval or host_timeout")
	if err != nil {
		return nil, err
	}
	// Durations are read before the change so that a bad one is a 400.
	var durations [3]*time.Duration
	for i, f := range []struct {
		name string
		in   *string
	}{{"interval", body.Interval}, {"host_interval", body.HostInterval}, {"host_timeout", body.HostTimeout}} {
		if f.in == nil {
			continue
		}
		d, err := duration(f.name, *f.in)
		if err != nil {
			return nil, err
		}
		durations[i] = &d
	}
	return h.Backend.Mutate(r.Context(), source(id, "set manager"), func(c *config.Config) error {
		m := &c.Manager
		for i, dst := range []*time.Duration{&m.Interval, &m.HostInterval, &m.HostTimeout} {
			if durations[i] != nil {
				*dst = *durations[i]
			}
		}
		if p := body.Proportions; p != nil {
			m.Proportions = &config.Proportions{Active: p.Active, New: p.New, Advisor: p.Advisor, System: p.System}
		}
		if body.Smoothing != nil {
			m.Smoothing = *body.Smoothing
		}
		if body.Sensitivity != nil {
			s := *body.Sensitivity
			m.Sensitivity = &s
		}
		if body.SystemMetric != nil {
			m.SystemMetric = *body.SystemMetric
		}
		return nil
	})
}

func advisorToConfig(a apiwire.Advisor) (config.Advisor, error) {
	out := config.Advisor{Name: a.Name, Service: a.Service, Type: a.Type, Fall: a.Fall, Rise: a.Rise, Port: a.Port,
		Command: slices.Clone(a.Command)}
	var err error
	if out.Interval, err = duration("interval", a.Interval); err != nil {
		return out, err
	}
	if out.Timeout, err = duration("timeout", a.Timeout); err != nil {
		return out, err
	}
	if a.HTTP != nil {
		out.HTTP = config.AdvisorHTTP{Method: a.HTTP.Method, Path: a.HTTP.Path, Host: a.HTTP.Host, ExpectStatus: a.HTTP.ExpectStatus}
	}
	if a.UDP != nil {
		out.UDP = config.AdvisorUDP{Send: a.UDP.Send, Expect: a.UDP.Expect}
	}
	return out, nil
}

func ruleToConfig(r apiwire.Rule) (config.Rule, error) {
	out := config.Rule{Name: r.Name, Service: r.Service, Type: r.Type, Servers: slices.Clone(r.Servers), From: r.From,
		To: r.To, Command: slices.Clone(r.Command)}
	if r.Weight != nil {
		w := *r.Weight
		out.Weight = &w
	}
	var err error
	out.Interval, err = duration("interval", r.Interval)
	return out, err
}

// namedList is one of the manager section's lists of entries named
// uniquely (advisors, rules), which the API adds to and removes from by
// name.
type namedList[T any] struct {
	kind string // "advisor", "rule": for the change's source and errors
	list func(*config.Config) *[]T
	name func(T) string
}

var (
	advisorList = namedList[config.Advisor]{"advisor",
		func(c *config.Config) *[]config.Advisor { return &c.Manager.Advisors },
		func(a config.Advisor) string { return a.Name }}
	ruleList = namedList[config.Rule]{"rule",
		func(c *config.Config) *[]config.Rule { return &c.Manager.Rules },
		func(r config.Rule) string { return r.Name }}
)

// add appends v to c's list unless it has an entry of that name.
func (l namedList[T]) add(c *config.Config, v T) error {
	list, name := l.list(c), l.name(v)
	if slices.ContainsFunc(*list, func(x T) bool { return l.name(x) == name }) {
		return &manager.ConflictError{What: l.kind + " " + name}
	}
	*list = append(*list, v)
	return nil
}

// remove deletes the entry named name from c's list.
func (l namedList[T]) remove(c *config.Config, name string) error {
	list := l.list(c)
	i := slices.IndexFunc(*list, func(x T) bool { return l.name(x) == name })
	if i < 0 {
		return &manager.NotFoundError{What: l.kind + " " + name}
	}
	*list = slices.Delete(*list, i, i+1)
	return nil
}

// addNamed is the endpoint that decodes a W, converts it with toConfig and
// appends it to l unless l has an entry of that name.
func addNamed[W, T any](h *handler, l namedList[T], toConfig func(W) (T, error)) func(*http.Request, Identity) (any, error) {
	return func(r *http.Request, id Identity) (any, error) {
		v, err := decodeConverted(r.Body, toConfig)
		if err != nil {
			return nil, err
		}
		return h.Backend.Mutate(r.Context(), source(id, "add "+l.kind+" "+l.name(v)), func(c *config.Config) error {
			return l.add(c, v)
		})
	}
}

// removeNamed is the endpoint that removes the entry of l named in the
// path.
func removeNamed[T any](h *handler, l namedList[T]) func(*http.Request, Identity) (any, error) {
	return func(r *http.Request, id Identity) (any, error) {
		name := r.PathValue("name")
		return h.Backend.Mutate(r.Context(), source(id, "remove "+l.kind+" "+name), func(c *config.Config) error {
			return l.remove(c, name)
		})
	}
}

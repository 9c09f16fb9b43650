package api

import (
	"net/http"
	"slices"
	"time"

	"vec/control/apiwire"
	"vec/control/config"
	"vec/control/manager"
	"vec/control/weights"
)

// Manager is vecd's weight loop (control/weights, the patent's manager):
// GET /v1/manager shows its last interval. Starting, stopping and
// configuring it are changes of the configuration's manager section, made
// through the Backend like any other change.
type Manager interface {
	ManagerReport() weights.Report
}

var errNoManager = &apiError{status: http.StatusNotFound, code: "manager_unavailable",
	msg: "this vecd runs no manager (weight loop) to report on"}

func (h *handler) managerReport(*http.Request, Identity) (any, error) {
	if h.Manager == nil {
		return nil, errNoManager
	}
	return wireReport(h.Manager.ManagerReport()), nil
}

// wireReport is the JSON body of GET /v1/manager: the report's parts are
// already apiwire's; the interval and the proportions are converted.
func wireReport(rep weights.Report) apiwire.ManagerReport {
	return apiwire.ManagerReport{Enabled: rep.Enabled, At: rep.At, Generation: rep.Generation,
		IntervalS: rep.IntervalS, Proportions: apiwire.Proportions(rep.Proportions), Smoothing: rep.Smoothing,
		Sensitivity: rep.Sensitivity, Services: rep.Services, Advisors: rep.Advisors, Rules: rep.Rules, Error: rep.Error}
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
	body, err := decodeJSON[ManagerPatch](r.Body)
	if err != nil {
		return nil, err
	}
	if body == (ManagerPatch{}) {
		return nil, badRequest("the patch changes nothing: give interval, proportions, smoothing, sensitivity, system_metric, host_interval or host_timeout")
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

func advisorToConfig(a Advisor) (config.Advisor, error) {
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

func (h *handler) addAdvisor(r *http.Request, id Identity) (any, error) {
	body, err := decodeJSON[Advisor](r.Body)
	if err != nil {
		return nil, err
	}
	a, err := advisorToConfig(body)
	if err != nil {
		return nil, err
	}
	return h.Backend.Mutate(r.Context(), source(id, "add advisor "+a.Name), func(c *config.Config) error {
		if slices.ContainsFunc(c.Manager.Advisors, func(x config.Advisor) bool { return x.Name == a.Name }) {
			return &manager.ConflictError{What: "advisor " + a.Name}
		}
		c.Manager.Advisors = append(c.Manager.Advisors, a)
		return nil
	})
}

func (h *handler) removeAdvisor(r *http.Request, id Identity) (any, error) {
	name := r.PathValue("name")
	return h.Backend.Mutate(r.Context(), source(id, "remove advisor "+name), func(c *config.Config) error {
		i := slices.IndexFunc(c.Manager.Advisors, func(x config.Advisor) bool { return x.Name == name })
		if i < 0 {
			return &manager.NotFoundError{What: "advisor " + name}
		}
		c.Manager.Advisors = slices.Delete(c.Manager.Advisors, i, i+1)
		return nil
	})
}

func ruleToConfig(r Rule) (config.Rule, error) {
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

func (h *handler) addRule(r *http.Request, id Identity) (any, error) {
	body, err := decodeJSON[Rule](r.Body)
	if err != nil {
		return nil, err
	}
	rule, err := ruleToConfig(body)
	if err != nil {
		return nil, err
	}
	return h.Backend.Mutate(r.Context(), source(id, "add rule "+rule.Name), func(c *config.Config) error {
		if slices.ContainsFunc(c.Manager.Rules, func(x config.Rule) bool { return x.Name == rule.Name }) {
			return &manager.ConflictError{What: "rule " + rule.Name}
		}
		c.Manager.Rules = append(c.Manager.Rules, rule)
		return nil
	})
}

func (h *handler) removeRule(r *http.Request, id Identity) (any, error) {
	name := r.PathValue("name")
	return h.Backend.Mutate(r.Context(), source(id, "remove rule "+name), func(c *config.Config) error {
		i := slices.IndexFunc(c.Manager.Rules, func(x config.Rule) bool { return x.Name == name })
		if i < 0 {
			return &manager.NotFoundError{What: "rule " + name}
		}
		c.Manager.Rules = slices.Delete(c.Manager.Rules, i, i+1)
		return nil
	})
}

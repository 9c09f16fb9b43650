package metrics

import (
	"math"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"vec/control/apiwire"
	"vec/control/config"
)

// ManagerSource is vecd's weight loop (control/api.Manager).
type ManagerSource interface {
	ManagerReport() apiwire.ManagerReport
}

// ManagerCollector exports the manager's last interval: every server's
// computed weight and why, its metrics and their proportions, the
// advisors' state and latency, and the rules, read at scrape time.
type ManagerCollector struct {
	src ManagerSource
	descs

	enabled, computed, reason, metric, proportion, advisorUp, advisorLatency, ruleHolds, lastInterval desc
}

// NewManagerCollector makes a collector over src.
func NewManagerCollector(src ManagerSource) *ManagerCollector {
	gv := prometheus.GaugeValue
	server := []string{"vip", "service", "server"}
	class := []string{"vip", "service", "server", "class"}
	c := &ManagerCollector{src: src,
		enabled:        newDesc("manager_enabled", "1 while the manager re-weights the servers, 0 when stopped (configured weights).", gv),
		computed:       newDesc("manager_server_computed_weight", "The weight the manager computed for the server in its last interval (in force when the change passed the sensitivity).", gv, server...),
		reason:         newDesc("manager_server_reason", "1 for why the server has its weight: computed, kept (no metric), quiesced, fixed, down (advisor or silent agent) or rule.", gv, "vip", "service", "server", "reason"),
		metric:         newDesc("manager_server_metric", "The server's metric of each class read in the last interval (active connections, new connections in the interval, advisor latency in ms, system load); absent when not known.", gv, class...),
		proportion:     newDesc("manager_server_metric_proportion", "The server's share (0..1) of the service's total of each metric class that took part in the last computation.", gv, class...),
		advisorUp:      newDesc("manager_advisor_up", "1 while the advisor finds the server up, 0 once it failed fall probes in a row.", gv, "advisor", "server"),
		advisorLatency: newDesc("manager_advisor_latency_seconds", "Latency of the advisor's last successful probe of the server.", gv, "advisor", "server"),
		ruleHolds:      newDesc("manager_rule_holds", "1 while the rule holds (its servers get its weight).", gv, "rule"),
		lastInterval:   newDesc("manager_last_interval_timestamp_seconds", "Unix time of the manager's last interval.", gv),
	}
	c.descs = descs{c.enabled, c.computed, c.reason, c.metric, c.proportion, c.advisorUp, c.advisorLatency, c.ruleHolds, c.lastInterval}
	return c
}

// Collect implements prometheus.Collector.
func (c *ManagerCollector) Collect(ch chan<- prometheus.Metric) {
	emit := emitter(ch)
	rep := c.src.ManagerReport()
	emit(c.enabled, b2f(rep.Enabled))
	if !rep.At.IsZero() {
		emit(c.lastInterval, float64(rep.At.UnixNano())/1e9)
	}
	importance := map[string]float64{"active": rep.Proportions.Active, "new": rep.Proportions.New,
		"advisor": rep.Proportions.Advisor, "system": rep.Proportions.System}
	for _, svc := range rep.Services {
		// VIP:SERVICE, the VIP IPv4 or IPv6.
		addr, service, _ := config.SplitServiceRef(svc.Service)
		vip := addr.String()
		for _, s := range svc.Servers {
			emit(c.computed, float64(s.Computed), vip, service, s.Server)
			emit(c.reason, 1, vip, service, s.Server, reasonLabel(s.Reason))
			for _, m := range s.Metrics {
				if !m.Known || math.IsNaN(m.Value) {
					continue
				}
				emit(c.metric, m.Value, vip, service, s.Server, m.Class)
				// Only a live server's metrics of the classes that count
				// have a proportion.
				if importance[m.Class] > 0 && s.Reason == "computed" && !math.IsNaN(m.Proportion) {
					emit(c.proportion, m.Proportion, vip, service, s.Server, m.Class)
				}
			}
		}
	}
	for _, a := range rep.Advisors {
		for _, r := range a.Servers {
			emit(c.advisorUp, b2f(r.Up), a.Name, r.Server)
			emit(c.advisorLatency, r.Latency.Seconds(), a.Name, r.Server)
		}
	}
	for _, r := range rep.Rules {
		emit(c.ruleHolds, b2f(r.Holds), r.Name)
	}
}

// reasonLabel is the kind of a report's reason: what comes before its
// first colon ("down: advisor web: timeout" → down, "kept: no metric" →
// kept), else before its first space ("rule nightly" → rule), with spaces
// as underscores.
func reasonLabel(reason string) string {
	kind, _, found := strings.Cut(reason, ":")
	if !found {
		kind, _, _ = strings.Cut(reason, " ")
	}
	return strings.ReplaceAll(strings.TrimSpace(kind), " ", "_")
}

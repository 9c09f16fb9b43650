package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PortLink is one port's link as the gateway's link watch last read it
// (once a second).
type PortLink struct {
	Device string
	// Known is false until the link could be read once; no link series
	// is exported for the port until then.
	Known, Up bool
	// Changes counts the link going down or up.
	Changes uint64
}

// WorkerLiveness is one worker as the gateway's watchdog last sampled it.
type WorkerLiveness struct {
	Core             int
	Iterations       uint64
	LastIterationAge time.Duration
	Stalled          bool
	Stalls           uint64
}

// LivenessSource is the gateway's watch of its ports' links and its
// workers' loops (vecd adapts gateway.Gateway). Both calls return at once:
// they read what the watch sampled, not the workers.
type LivenessSource interface {
	Links() []PortLink
	Workers() []WorkerLiveness
}

// LivenessCollector exports the ports' link state and the workers'
// liveness, read at scrape time.
type LivenessCollector struct {
	src LivenessSource
	descs

	linkUp, linkChanges                       desc
	stalled, iterationAge, stalls, iterations desc
}

// NewLivenessCollector makes a collector over src.
func NewLivenessCollector(src LivenessSource) *LivenessCollector {
	cv, gv := prometheus.CounterValue, prometheus.GaugeValue
	c := &LivenessCollector{src: src,
		linkUp:       newDesc("port_link_up", "1 while a port's link is up, 0 while down (read once a second).", gv, "device"),
		linkChanges:  newDesc("port_link_changes_total", "Times a port's link went down or came up.", cv, "device"),
		stalled:      newDesc("worker_stalled", "1 while a worker's loop has not completed an iteration for the stall threshold (1 s) or longer: its queues are not served.", gv, coreLabels...),
		iterationAge: newDesc("worker_last_iteration_age_seconds", "Time since a worker's loop was last seen iterating (sampled every 100 ms).", gv, coreLabels...),
		stalls:       newDesc("worker_stalls_total", "Times a worker was found stalled.", cv, coreLabels...),
		iterations:   newDesc("worker_iterations_total", "Iterations of a worker's poll loop.", cv, coreLabels...),
	}
	c.descs = descs{c.linkUp, c.linkChanges, c.stalled, c.iterationAge, c.stalls, c.iterations}
	return c
}

// Collect implements prometheus.Collector.
func (c *LivenessCollector) Collect(ch chan<- prometheus.Metric) {
	emit := emitter(ch)
	for _, p := range c.src.Links() {
		if p.Known {
			emit(c.linkUp, b2f(p.Up), p.Device)
		}
		emit(c.linkChanges, float64(p.Changes), p.Device)
	}
	for _, w := range c.src.Workers() {
		core := strconv.Itoa(w.Core)
		emit(c.stalled, b2f(w.Stalled), core)
		emit(c.iterationAge, w.LastIterationAge.Seconds(), core)
		emit(c.stalls, float64(w.Stalls), core)
		emit(c.iterations, float64(w.Iterations), core)
	}
}

package metrics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"vec/agent/wire"
)

// Config configures a Collector.
type Config struct {
	// ProcRoot is the procfs mount to read ("/proc").
	ProcRoot string
	// CPUInterval is the CPU sampling interval.
	CPUInterval time.Duration
	// Scripts are the operator's metrics, reported in this order.
	Scripts []Script
}

// Collector samples the host and runs the metric scripts in the background;
// its accessors return the latest results at once.
type Collector struct {
	cpuInterval time.Duration
	sampler     *HostSampler
	scripts     []Script
	log         *zap.Logger

	mu      sync.Mutex
	results []wire.CustomMetric
}

// errNotRun is the "no value" reason of a script that has not finished once.
var errNotRun = errors.New("not run yet")

// NewCollector checks cfg and returns a Collector; Run starts it.
func NewCollector(cfg Config, log *zap.Logger) (*Collector, error) {
	if cfg.CPUInterval <= 0 {
		return nil, errors.New("metrics: CPU interval must be positive")
	}
	c := &Collector{
		cpuInterval: cfg.CPUInterval,
		sampler:     NewHostSampler(cfg.ProcRoot),
		scripts:     cfg.Scripts,
		log:         log,
		results:     make([]wire.CustomMetric, len(cfg.Scripts)),
	}
	for i, s := range cfg.Scripts {
		if s.Interval <= 0 || s.Timeout <= 0 || len(s.Command) == 0 {
			return nil, fmt.Errorf("metrics: script %q needs a command, an interval and a timeout", s.Name)
		}
		c.results[i] = wire.CustomMetric{Name: s.Name, Error: errNotRun.Error()}
	}
	return c, nil
}

// Run samples and runs scripts until ctx ends, then waits for the running
// scripts to be killed and returns.
func (c *Collector) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range c.scripts {
		wg.Go(func() { c.runScript(ctx, i) })
	}
	c.sampleCPU()
	t := time.NewTicker(c.cpuInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
			c.sampleCPU()
		}
	}
}

func (c *Collector) sampleCPU() {
	if err := c.sampler.SampleCPU(); err != nil {
		c.log.Warn("CPU sample failed", zap.Error(err))
	}
}

func (c *Collector) runScript(ctx context.Context, i int) {
	s := c.scripts[i]
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		v, err := RunScript(ctx, s)
		if ctx.Err() != nil {
			return
		}
		m := wire.CustomMetric{Name: s.Name, Updated: time.Now()}
		if err != nil {
			m.Error = err.Error()
		} else {
			m.Value = &v
		}
		c.mu.Lock()
		previous := c.results[i].Error
		c.results[i] = m
		c.mu.Unlock()
		// Log changes only: a script failing every interval says it once.
		if m.Error != previous {
			if err != nil {
				c.log.Warn("metric script has no value", zap.String("metric", s.Name), zap.Error(err))
			} else {
				c.log.Info("metric script has a value", zap.String("metric", s.Name), zap.Float64("value", v))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Host returns the latest host sample.
func (c *Collector) Host() (Host, error) { return c.sampler.Host() }

// Custom returns the scripts' latest results, in configuration order.
func (c *Collector) Custom() []wire.CustomMetric {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]wire.CustomMetric, len(c.results))
	for i, m := range c.results {
		if m.Value != nil {
			v := *m.Value
			m.Value = &v
		}
		out[i] = m
	}
	return out
}

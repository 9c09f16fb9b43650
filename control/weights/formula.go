package weights

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"vec/internal/limits"
)

// Class is a metric class, the index into Proportions, ServerInput.Metrics
// and the per-class fields of ServerResult. Every metric is oriented so that
// a larger value means a more loaded server.
type Class int

// The metric classes, in the order of IBM's proportions (active, new,
// advisor, system).
const (
	ClassActive  Class = iota // connections in ACTIVE state (the workers' gauge)
	ClassNew                  // new connections during the last interval
	ClassAdvisor              // the advisor's metric: probe latency, or a custom advisor's number
	ClassSystem               // the host metric vec-agent reports (CPU, load, memory or a script's)
)

const numClasses = 4

// String names the class as the configuration does.
func (c Class) String() string {
	switch c {
	case ClassActive:
		return "active"
	case ClassNew:
		return "new"
	case ClassAdvisor:
		return "advisor"
	case ClassSystem:
		return "system"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// Proportions is the importance of each metric class in percent, indexed by
// Class; the four sum to 100.
type Proportions [numClasses]float64

// Params are a service's settings for the computation.
type Params struct {
	Bound       int         // the service's weight bound, 1..fastpath.MaxWeightBound
	Smoothing   float64     // SF: the larger, the smaller each step; finite and > 0
	Sensitivity float64     // percent of Bound a live weight must move by before weights are pushed; 0..100
	Proportions Proportions // importance of each class, percent, summing to 100
}

// proportionTolerance absorbs the rounding of proportions that were written
// as fractions, e.g. three times 33.333333333.
const proportionTolerance = 1e-6

// Check reports every problem with p. Compute does nothing with parameters
// that fail it, so callers check first and reject the configuration.
func (p Params) Check() error {
	var errs []error
	if p.Bound < 1 || p.Bound > limits.MaxWeightBound {
		errs = append(errs, fmt.Errorf("weight bound %d: want 1..%d", p.Bound, limits.MaxWeightBound))
	}
	if !(p.Smoothing > 0) || math.IsInf(p.Smoothing, 1) {
		errs = append(errs, fmt.Errorf("smoothing %g: want a finite number above 0", p.Smoothing))
	}
	if !(p.Sensitivity >= 0 && p.Sensitivity <= 100) {
		errs = append(errs, fmt.Errorf("sensitivity %g: want 0..100 (percent of the weight bound)", p.Sensitivity))
	}
	sum, each := 0.0, true
	for c, v := range p.Proportions {
		if !(v >= 0 && v <= 100) {
			errs = append(errs, fmt.Errorf("proportion %s %g: want 0..100", Class(c), v))
			each = false
		}
		sum += v
	}
	if each && math.Abs(sum-100) > proportionTolerance {
		errs = append(errs, fmt.Errorf("proportions sum to %g: want 100", sum))
	}
	return errors.Join(errs...)
}

// ServerInput is one server of the service as the caller sees it this
// interval.
type ServerInput struct {
	Name       string
	Weight     int                 // the weight in force now
	Configured int                 // the configured weight, which a fixed server keeps
	Quiesced   bool                // the operator stopped new connections to it
	Fixed      bool                // the manager never changes its weight
	Down       string              // "" = up; otherwise why it is down ("advisor web: timeout", "agent s2 silent 6s")
	Rule       string              // "" = no rule holds it; otherwise the name of the rule that does
	RuleWeight int                 // the weight the rule gives it
	Metrics    [numClasses]float64 // raw values by Class
	Have       [numClasses]bool    // whether each metric is known this interval
}

// ServerResult is the decision for one server, with what it was based on.
type ServerResult struct {
	Name     string
	Old, New int
	// Reason is "computed" for a live server; "kept: no metric" for a live
	// server when no class with a proportion had a metric for every live
	// server; "quiesced", "fixed", "down: <why>" or "rule <name>" for a
	// server whose weight is forced; "not computed: <error>" when the
	// Params fail Check.
	Reason string
	// Proportion is the metric proportion MP of each class that took part
	// in the computation, 0 for a class that did not and for every class
	// of a server that is not live: a class took part when its proportions
	// over the live servers sum to 1. (0 rather than NaN, which
	// encoding/json rejects.)
	Proportion [numClasses]float64
	// Value is the metric of each class, whether or not the class took
	// part; 0 when it is not known (Have false, NaN, infinite or negative).
	Value [numClasses]float64
}

// Reasons of the servers whose weight is not computed from metrics.
const (
	reasonComputed   = "computed"
	reasonKept       = "kept: no metric"
	reasonQuiesced   = "quiesced"
	reasonFixed      = "fixed"
	reasonDownPrefix = "down: "
	reasonRulePrefix = "rule "
)

// maxGain caps bound/SF. Beyond it any difference between weight and metric
// proportions a computer can tell apart from zero already drives the weight
// to 1 or to the bound; the cap keeps an absurdly small smoothing from
// turning the arithmetic into infinities and NaN.
const maxGain = 1e9

// Compute computes one interval's new weights for the servers of one
// service. Results are in the order of servers; push reports whether they
// should be sent to the workers. When push is false New still holds the
// weights computed, for the report, and the caller leaves the weights in
// force alone.
//
// Precedence of forced weights: quiesced (0) before down (0) before a rule
// (its weight) before fixed (the configured weight); forced weights are
// clamped to [0, Bound]. Every other server is live and gets
//
//	NW_s = Σ_m q_m · (AW + (CWP_s − MP_{m,s}) · Bound/SF)
//
// rounded and clamped to [1, Bound], where AW and CWP are the live servers'
// average weight and weight proportion, MP_{m,s} = M_{m,s}/Σ_s M_{m,s}
// (CWP_s when the sum is 0), and q_m the proportions of the classes taking
// part, scaled to sum to 1. A class takes part when its proportion is above
// 0 and every live server has a valid metric for it (Have set, finite,
// not negative). When the live servers' weights in force sum to 0 their
// configured weights (at least 1) stand in for them.
//
// push is true when a live server's weight moves by at least
// max(1, Sensitivity% · Bound) or between 0 and non-zero, or a forced
// weight differs from the one in force.
//
// Compute is deterministic, keeps no state and allocates the result slice
// plus, when some server is down or held by a rule, one string holding
// those servers' reasons.
func Compute(p Params, servers []ServerInput) (results []ServerResult, push bool) {
	results = make([]ServerResult, len(servers))
	if err := p.Check(); err != nil {
		reason := "not computed: " + strings.ReplaceAll(err.Error(), "\n", "; ")
		for i, s := range servers {
			results[i] = ServerResult{
				Name: s.Name, Old: s.Weight, New: s.Weight, Reason: reason,
				Value: values(s),
			}
		}
		return results, false
	}
	bound := p.Bound

	// Forced weights, and what the live servers have in common.
	var (
		nLive      int
		sumWeight  int
		sumConfig  int
		takesPart  [numClasses]bool
		maxMetric  [numClasses]float64
		reasonsLen int
	)
	for c, v := range p.Proportions {
		takesPart[c] = v > 0
	}
	for i, s := range servers {
		r := &results[i]
		r.Name, r.Old = s.Name, s.Weight
		r.Value = values(s)
		switch {
		case s.Quiesced:
			r.New, r.Reason = 0, reasonQuiesced
		case s.Down != "":
			r.New = 0
			reasonsLen += len(reasonDownPrefix) + len(s.Down)
		case s.Rule != "":
			r.New = clamp(s.RuleWeight, 0, bound)
			reasonsLen += len(reasonRulePrefix) + len(s.Rule)
		case s.Fixed:
			r.New, r.Reason = clamp(s.Configured, 0, bound), reasonFixed
		default:
			nLive++
			sumWeight += clamp(s.Weight, 0, bound)
			sumConfig += clamp(s.Configured, 1, bound)
			for c := range numClasses {
				if !known(s, Class(c)) {
					takesPart[c] = false
				} else {
					maxMetric[c] = max(maxMetric[c], s.Metrics[c])
				}
			}
		}
	}
	if reasonsLen > 0 {
		setForcedReasons(results, servers, reasonsLen)
	}

	if nLive > 0 {
		computeLive(p, servers, results, nLive, sumWeight, sumConfig, takesPart, maxMetric)
	}

	threshold := max(1, p.Sensitivity*float64(bound)/100)
	for i, s := range servers {
		r := &results[i]
		if !isLive(s) {
			push = push || r.New != r.Old
			continue
		}
		moved := math.Abs(float64(r.New)-float64(r.Old)) >= threshold
		push = push || moved || (r.Old == 0) != (r.New == 0)
	}
	return results, push
}

// computeLive fills in New, Reason and Proportion of the live servers.
func computeLive(p Params, servers []ServerInput, results []ServerResult, nLive, sumWeight, sumConfig int,
	takesPart [numClasses]bool, maxMetric [numClasses]float64) {
	bound := p.Bound
	// base is the weight a live server's share is computed from: the weight
	// in force, or the configured weight when no live server has one.
	fromConfig := sumWeight == 0
	base := func(s ServerInput) int {
		if fromConfig {
			return clamp(s.Configured, 1, bound)
		}
		return clamp(s.Weight, 0, bound)
	}
	sumBase := sumWeight
	if fromConfig {
		sumBase = sumConfig
	}

	totalProportion := 0.0
	for c, v := range p.Proportions {
		if takesPart[c] {
			totalProportion += v
		}
	}
	if totalProportion == 0 {
		// No class can be computed: keep the weights; a server at 0 (back
		// from down, a rule or quiescing) returns to its configured weight.
		for i, s := range servers {
			if isLive(s) {
				w := s.Weight
				if w < 1 {
					w = s.Configured
				}
				results[i].New, results[i].Reason = clamp(w, 1, bound), reasonKept
			}
		}
		return
	}

	// Metrics are divided by the class's largest value before they are
	// summed, so values up to math.MaxFloat64 cannot overflow the sum; the
	// proportions are the same.
	var sumScaled [numClasses]float64
	for _, s := range servers {
		if !isLive(s) {
			continue
		}
		for c := range numClasses {
			if takesPart[c] && maxMetric[c] > 0 {
				sumScaled[c] += s.Metrics[c] / maxMetric[c]
			}
		}
	}

	averageWeight := float64(sumBase) / float64(nLive)
	gain := min(float64(bound)/p.Smoothing, maxGain)
	for i, s := range servers {
		if !isLive(s) {
			continue
		}
		r := &results[i]
		cwp := float64(base(s)) / float64(sumBase)
		nw := 0.0
		for c := range numClasses {
			if !takesPart[c] {
				continue
			}
			mp := cwp // no signal: this class votes for the average weight
			if sumScaled[c] > 0 {
				mp = s.Metrics[c] / maxMetric[c] / sumScaled[c]
			}
			r.Proportion[c] = mp
			nw += p.Proportions[c] / totalProportion * (averageWeight + (cwp-mp)*gain)
		}
		r.New, r.Reason = clampFloat(math.Round(nw), 1, bound), reasonComputed
	}
}

// setForcedReasons writes the reasons of down and rule-held servers into one
// string of length n and hands each server its slice of it.
func setForcedReasons(results []ServerResult, servers []ServerInput, n int) {
	var b strings.Builder
	b.Grow(n)
	for _, s := range servers {
		prefix, why := forcedReason(s)
		b.WriteString(prefix)
		b.WriteString(why)
	}
	all, at := b.String(), 0
	for i, s := range servers {
		prefix, why := forcedReason(s)
		if n := len(prefix) + len(why); n > 0 {
			results[i].Reason = all[at : at+n]
			at += n
		}
	}
}

// forcedReason is the prefix and text of a down or rule-held server's
// reason, empty for any other server.
func forcedReason(s ServerInput) (prefix, why string) {
	switch {
	case s.Quiesced:
		return "", ""
	case s.Down != "":
		return reasonDownPrefix, s.Down
	case s.Rule != "":
		return reasonRulePrefix, s.Rule
	}
	return "", ""
}

// isLive reports whether the formula computes s's weight.
func isLive(s ServerInput) bool {
	return !s.Quiesced && s.Down == "" && s.Rule == "" && !s.Fixed
}

// known reports whether s has a usable metric of class c.
func known(s ServerInput, c Class) bool {
	v := s.Metrics[c]
	return s.Have[c] && v >= 0 && !math.IsInf(v, 1)
}

// values is s's metrics, 0 where not known.
func values(s ServerInput) [numClasses]float64 {
	var v [numClasses]float64
	for c := range numClasses {
		if known(s, Class(c)) {
			v[c] = s.Metrics[c]
		}
	}
	return v
}

func clamp(v, lo, hi int) int {
	return min(max(v, lo), hi)
}

// clampFloat clamps a rounded, finite v into [lo, hi] before converting it,
// so a value beyond the int range cannot wrap.
func clampFloat(v float64, lo, hi int) int {
	return int(min(max(v, float64(lo)), float64(hi)))
}

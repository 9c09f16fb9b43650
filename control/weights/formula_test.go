package weights

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// defaults are IBM's: proportions 50/50/0/0, with the weight bound 20 and
// smoothing 1.5 that vec uses by default; sensitivity 5 % of 20 = 1.
var defaults = Params{Bound: 20, Smoothing: 1.5, Sensitivity: 5, Proportions: Proportions{50, 50, 0, 0}}

// up is a live server with input metrics only, configured at its weight.
func up(name string, weight int, active, newConns float64) ServerInput {
	return ServerInput{
		Name: name, Weight: weight, Configured: weight,
		Metrics: [4]float64{active, newConns, 0, 0},
		Have:    [4]bool{true, true, false, false},
	}
}

func compute(t *testing.T, p Params, servers ...ServerInput) ([]ServerResult, bool) {
	t.Helper()
	if err := p.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	results, push := Compute(p, servers)
	checkInvariants(t, p, servers, results, push)
	return results, push
}

func wantWeights(t *testing.T, results []ServerResult, want ...int) {
	t.Helper()
	for i, r := range results {
		if r.New != want[i] {
			t.Errorf("%s: new weight %d, want %d (reason %q, proportions %v)", r.Name, r.New, want[i], r.Reason, r.Proportion)
		}
	}
}

func wantReasons(t *testing.T, results []ServerResult, want ...string) {
	t.Helper()
	for i, r := range results {
		if r.Reason != want[i] {
			t.Errorf("%s: reason %q, want %q", r.Name, r.Reason, want[i])
		}
	}
}

func wantPush(t *testing.T, push, want bool) {
	t.Helper()
	if push != want {
		t.Errorf("push = %v, want %v", push, want)
	}
}

func wantProportion(t *testing.T, r ServerResult, c Class, want float64) {
	t.Helper()
	if got := r.Proportion[c]; math.Abs(got-want) > 1e-12 {
		t.Errorf("%s: %s proportion %g, want %g", r.Name, c, got, want)
	}
}

// The worked example of docs/manager.md. Equal weights 10; s3 holds three
// times the active connections of the others while the round robin gave all
// three the same number of new ones. AW = 10, CWP = 1/3, Bound/SF = 40/3.
// active: MP = 0.2, 0.2, 0.6
//
//	NWV s1 = 10 + (1/3 − 0.2)·40/3 = 10 + 16/9 = 11.778
//	NWV s3 = 10 + (1/3 − 0.6)·40/3 = 10 − 32/9 = 6.444
//
// new: MP = 1/3 = CWP, NWV = 10 for all.
// NW s1 = 0.5·11.778 + 0.5·10 = 10.889 → 11; NW s3 = 0.5·6.444 + 0.5·10 = 8.222 → 8.
func TestOneOverloadedServer(t *testing.T) {
	results, push := compute(t, defaults,
		up("s1", 10, 20, 100),
		up("s2", 10, 20, 100),
		up("s3", 10, 60, 100))
	wantWeights(t, results, 11, 11, 8)
	wantReasons(t, results, "computed", "computed", "computed")
	wantPush(t, push, true)
	for i, mp := range []float64{0.2, 0.2, 0.6} {
		wantProportion(t, results[i], ClassActive, mp)
		wantProportion(t, results[i], ClassNew, 1.0/3)
		wantProportion(t, results[i], ClassAdvisor, 0)
		wantProportion(t, results[i], ClassSystem, 0)
	}
	if v := results[2].Value[ClassActive]; v != 60 {
		t.Errorf("s3 active value %g, want 60", v)
	}
}

// Load in the proportion of the weights: MP = CWP for every class, every
// server gets AW = 10, nothing moves and nothing is pushed.
func TestAllEqual(t *testing.T) {
	results, push := compute(t, defaults,
		up("s1", 10, 30, 50),
		up("s2", 10, 30, 50),
		up("s3", 10, 30, 50))
	wantWeights(t, results, 10, 10, 10)
	wantPush(t, push, false)
}

// A fixed server keeps its configured weight and its metrics, however large,
// count for nothing: the live servers s2 and s3 share AW = 10, CWP = 0.5.
// active: MP = 0.25, 0.75 → NWV s2 = 10 + 0.25·40/3 = 13.333, s3 = 6.667;
// new: MP = 0.5 = CWP → 10. NW s2 = 11.667 → 12, s3 = 8.333 → 8.
func TestFixedServer(t *testing.T) {
	fixed := up("s1", 12, 1000, 500)
	fixed.Fixed, fixed.Configured = true, 15
	results, push := compute(t, defaults,
		fixed,
		up("s2", 10, 10, 40),
		up("s3", 10, 30, 40))
	wantWeights(t, results, 15, 12, 8)
	wantReasons(t, results, "fixed", "computed", "computed")
	wantPush(t, push, true)
	wantProportion(t, results[0], ClassActive, 0)
	wantProportion(t, results[1], ClassActive, 0.25)
}

// A quiesced server gets 0 at once; its connections do not count.
func TestQuiescedServer(t *testing.T) {
	quiesced := up("s3", 10, 500, 0)
	quiesced.Quiesced = true
	results, push := compute(t, defaults,
		up("s1", 10, 10, 20),
		up("s2", 10, 10, 20),
		quiesced)
	wantWeights(t, results, 10, 10, 0)
	wantReasons(t, results, "computed", "computed", "quiesced")
	wantPush(t, push, true)
}

// A server down gets 0 with the reason from its source; its missing metrics
// do not take a class away from the live servers.
func TestServerDown(t *testing.T) {
	down := ServerInput{Name: "s2", Weight: 10, Configured: 10, Down: "advisor web: timeout"}
	results, push := compute(t, defaults,
		up("s1", 10, 20, 100),
		down,
		up("s3", 10, 20, 100))
	wantWeights(t, results, 10, 0, 10)
	wantReasons(t, results, "computed", "down: advisor web: timeout", "computed")
	wantPush(t, push, true)
	wantProportion(t, results[0], ClassActive, 0.5)
	wantProportion(t, results[0], ClassNew, 0.5)
}

// A rule holds its servers at its weight, clamped to the bound.
func TestRuleHoldsServer(t *testing.T) {
	block := up("s2", 10, 0, 0)
	block.Rule, block.RuleWeight = "nightly-s2", 0
	half := up("s3", 10, 0, 0)
	half.Rule, half.RuleWeight = "half", 5
	above := up("s4", 10, 0, 0)
	above.Rule, above.RuleWeight = "too-much", 50
	results, push := compute(t, defaults,
		up("s1", 10, 20, 100),
		block, half, above)
	wantWeights(t, results, 10, 0, 5, 20)
	wantReasons(t, results, "computed", "rule nightly-s2", "rule half", "rule too-much")
	wantPush(t, push, true)
}

// Quiesced before down before a rule before fixed.
func TestForcedPrecedence(t *testing.T) {
	a := up("quiesced+down", 10, 0, 0)
	a.Quiesced, a.Down = true, "agent silent 6s"
	b := up("down+rule", 10, 0, 0)
	b.Down, b.Rule, b.RuleWeight = "advisor web: refused", "always", 7
	c := up("rule+fixed", 10, 0, 0)
	c.Rule, c.RuleWeight, c.Fixed, c.Configured = "always", 7, true, 12
	results, _ := compute(t, defaults, a, b, c, up("live", 10, 1, 1))
	wantWeights(t, results, 0, 0, 7, 10)
	wantReasons(t, results, "quiesced", "down: advisor web: refused", "rule always", "computed")
}

// A forced weight already in force is not a reason to push.
func TestForcedWeightInForceDoesNotPush(t *testing.T) {
	down := up("s2", 0, 0, 0)
	down.Down = "advisor web: timeout"
	_, push := compute(t, defaults, up("s1", 10, 5, 5), down, up("s3", 10, 5, 5))
	wantPush(t, push, false)
}

// Sensitivity 20 % of bound 20: only a move of 4 or more is pushed.
// Small (active 25, 25, 50; MP 0.25, 0.25, 0.5):
//
//	NWV s1 = 10 + (1/3 − 1/4)·40/3 = 11.111, NW = 10.556 → 11 (moved 1)
//	NWV s3 = 10 + (1/3 − 1/2)·40/3 = 7.778,  NW = 8.889  → 9  (moved 1)
//
// Large (active 0, 0, 100; MP 0, 0, 1):
//
//	NWV s1 = 10 + (1/3)·40/3 = 14.444,       NW = 12.222 → 12 (moved 2)
//	NWV s3 = 10 + (1/3 − 1)·40/3 = 1.111,    NW = 5.556  → 6  (moved 4)
func TestSensitivity(t *testing.T) {
	p := defaults
	p.Sensitivity = 20
	t.Run("small change suppressed", func(t *testing.T) {
		results, push := compute(t, p, up("s1", 10, 25, 100), up("s2", 10, 25, 100), up("s3", 10, 50, 100))
		wantWeights(t, results, 11, 11, 9)
		wantPush(t, push, false)
	})
	t.Run("large change pushed", func(t *testing.T) {
		results, push := compute(t, p, up("s1", 10, 0, 100), up("s2", 10, 0, 100), up("s3", 10, 100, 100))
		wantWeights(t, results, 12, 12, 6)
		wantPush(t, push, true)
	})
}

// Doubling the smoothing halves the step. The worked example with SF = 3
// (Bound/SF = 20/3):
//
//	NW s1 = (10 + (1/3 − 0.2)·20/3 + 10)/2 = 10.444 → 10
//	NW s3 = (10 + (1/3 − 0.6)·20/3 + 10)/2 = 9.111  → 9
func TestSmoothing(t *testing.T) {
	p := defaults
	p.Smoothing = 3
	results, push := compute(t, p, up("s1", 10, 20, 100), up("s2", 10, 20, 100), up("s3", 10, 60, 100))
	wantWeights(t, results, 10, 10, 9)
	wantPush(t, push, true)
}

// A server back at weight 0 (from down, say) is pushed to its new weight
// even when the move is below the sensitivity threshold (50 % of 20 = 10).
// Live weights 10, 10, 0: AW = 20/3, CWP = 0.5, 0.5, 0; the metrics have the
// same proportions, so every server gets AW = 6.667 → 7.
func TestBackFromZeroPushes(t *testing.T) {
	p := defaults
	p.Sensitivity = 50
	back := up("s3", 0, 0, 0)
	back.Configured = 10
	results, push := compute(t, p, up("s1", 10, 10, 50), up("s2", 10, 10, 50), back)
	wantWeights(t, results, 7, 7, 7)
	wantPush(t, push, true)
}

// s2 has no new-connection figure this interval: the class is left out and
// active connections carry all the weight. active MP = 0.2, 0.2, 0.6:
// NW s1 = 11.778 → 12, NW s3 = 6.444 → 6.
func TestMissingMetricLeavesClassOut(t *testing.T) {
	missing := up("s2", 10, 20, 0)
	missing.Have[ClassNew] = false
	results, push := compute(t, defaults, up("s1", 10, 20, 100), missing, up("s3", 10, 60, 100))
	wantWeights(t, results, 12, 12, 6)
	wantPush(t, push, true)
	for _, r := range results {
		wantProportion(t, r, ClassNew, 0)
	}
	wantProportion(t, results[2], ClassActive, 0.6)
	if v := results[1].Value[ClassNew]; v != 0 {
		t.Errorf("s2 new value %g, want 0 (unknown)", v)
	}
	if v := results[0].Value[ClassNew]; v != 100 {
		t.Errorf("s1 new value %g, want 100", v)
	}
}

// A NaN, infinite or negative metric counts as missing. Here active is left
// out; new MP = 1/6, 1/6, 2/3:
// NW s1 = 10 + (1/3 − 1/6)·40/3 = 12.222 → 12, NW s3 = 10 − (1/3)·40/3 = 5.556 → 6.
func TestInvalidMetricCountsAsMissing(t *testing.T) {
	for _, bad := range []float64{math.NaN(), math.Inf(1), -1} {
		results, _ := compute(t, defaults, up("s1", 10, 20, 50), up("s2", 10, bad, 50), up("s3", 10, 20, 200))
		wantWeights(t, results, 12, 12, 6)
		wantProportion(t, results[0], ClassActive, 0)
		if v := results[1].Value[ClassActive]; v != 0 {
			t.Errorf("s2 active value %g for %g, want 0 (unknown)", v, bad)
		}
	}
}

// No class has a metric for every live server: weights stay, a server at 0
// gets its configured weight.
func TestNoUsableClassKeepsWeights(t *testing.T) {
	p := defaults
	p.Proportions = Proportions{0, 0, 100, 0}
	back := up("s2", 0, 0, 0)
	back.Configured = 10
	s1 := up("s1", 12, 0, 0)
	s1.Metrics[ClassAdvisor], s1.Have[ClassAdvisor] = 3.5, true
	results, push := compute(t, p, s1, back, up("s3", 8, 0, 0))
	wantWeights(t, results, 12, 10, 8)
	wantReasons(t, results, "kept: no metric", "kept: no metric", "kept: no metric")
	wantPush(t, push, true)
}

// Every metric 0: no signal, MP = CWP, and every class votes for the
// average weight: 12, 10, 8 become 10, 10, 10.
func TestAllMetricsZero(t *testing.T) {
	results, push := compute(t, defaults, up("s1", 12, 0, 0), up("s2", 10, 0, 0), up("s3", 8, 0, 0))
	wantWeights(t, results, 10, 10, 10)
	wantPush(t, push, true)
	wantProportion(t, results[0], ClassActive, 0.4)
	wantProportion(t, results[2], ClassNew, 0.8/3)
}

// When every live weight in force is 0 the configured weights 15, 10, 5 stand
// in: AW = 10, CWP = 1/2, 1/3, 1/6. active MP = 0, 0, 1; new: no signal.
//
//	NW s1 = (10 + 0.5·40/3 + 10)/2 = 13.333 → 13
//	NW s2 = (10 + (1/3)·40/3 + 10)/2 = 12.222 → 12
//	NW s3 = (10 + (1/6 − 1)·40/3 + 10)/2 = 4.444 → 4
func TestAllLiveAtZeroStartFromConfigured(t *testing.T) {
	s := []ServerInput{up("s1", 0, 0, 0), up("s2", 0, 0, 0), up("s3", 0, 10, 0)}
	s[0].Configured, s[1].Configured, s[2].Configured = 15, 10, 5
	results, push := compute(t, defaults, s...)
	wantWeights(t, results, 13, 12, 4)
	wantPush(t, push, true)
}

// Parameters that fail Check change nothing.
func TestInvalidParamsChangeNothing(t *testing.T) {
	down := up("s2", 10, 0, 0)
	down.Down = "advisor web: timeout"
	results, push := Compute(Params{Bound: 0, Smoothing: 1.5, Proportions: Proportions{50, 50}},
		[]ServerInput{up("s1", 10, 90, 90), down})
	wantWeights(t, results, 10, 10)
	wantPush(t, push, false)
	for _, r := range results {
		if !strings.HasPrefix(r.Reason, "not computed: weight bound 0") {
			t.Errorf("%s: reason %q", r.Name, r.Reason)
		}
	}
}

func TestCheck(t *testing.T) {
	third := 100.0 / 3
	for _, tc := range []struct {
		name string
		edit func(*Params)
		want []string // substrings of the error; none = valid
	}{
		{"defaults", func(*Params) {}, nil},
		{"bound 1", func(p *Params) { p.Bound = 1 }, nil},
		{"bound 100", func(p *Params) { p.Bound = 100 }, nil},
		{"thirds", func(p *Params) { p.Proportions = Proportions{third, third, third, 0} }, nil},
		{"sensitivity 0", func(p *Params) { p.Sensitivity = 0 }, nil},
		{"sensitivity 100", func(p *Params) { p.Sensitivity = 100 }, nil},
		{"bound 0", func(p *Params) { p.Bound = 0 }, []string{"weight bound 0: want 1..100"}},
		{"bound 101", func(p *Params) { p.Bound = 101 }, []string{"weight bound 101"}},
		{"smoothing 0", func(p *Params) { p.Smoothing = 0 }, []string{"smoothing 0"}},
		{"smoothing negative", func(p *Params) { p.Smoothing = -1 }, []string{"smoothing -1"}},
		{"smoothing NaN", func(p *Params) { p.Smoothing = math.NaN() }, []string{"smoothing NaN"}},
		{"smoothing Inf", func(p *Params) { p.Smoothing = math.Inf(1) }, []string{"smoothing +Inf"}},
		{"sensitivity negative", func(p *Params) { p.Sensitivity = -1 }, []string{"sensitivity -1"}},
		{"sensitivity 101", func(p *Params) { p.Sensitivity = 101 }, []string{"sensitivity 101"}},
		{"sensitivity NaN", func(p *Params) { p.Sensitivity = math.NaN() }, []string{"sensitivity NaN"}},
		{"negative proportion", func(p *Params) { p.Proportions = Proportions{150, -50, 0, 0} },
			[]string{"proportion active 150", "proportion new -50"}},
		{"NaN proportion", func(p *Params) { p.Proportions[ClassSystem] = math.NaN() }, []string{"proportion system NaN"}},
		{"sum 99", func(p *Params) { p.Proportions = Proportions{50, 49, 0, 0} }, []string{"proportions sum to 99: want 100"}},
		{"all zero", func(p *Params) { p.Proportions = Proportions{} }, []string{"proportions sum to 0"}},
		{"everything", func(p *Params) { *p = Params{Bound: -3, Smoothing: -2, Sensitivity: 200, Proportions: Proportions{10}} },
			[]string{"weight bound -3", "smoothing -2", "sensitivity 200", "sum to 10"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := defaults
			tc.edit(&p)
			err := p.Check()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check accepted %+v", p)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestClassString(t *testing.T) {
	for c, want := range []string{"active", "new", "advisor", "system", "Class(4)"} {
		if got := Class(c).String(); got != want {
			t.Errorf("Class(%d) = %q, want %q", c, got, want)
		}
	}
}

// Compute allocates the result slice, plus one string for the reasons of
// down and rule-held servers when there are any.
func TestComputeAllocations(t *testing.T) {
	servers := []ServerInput{up("s1", 10, 20, 100), up("s2", 10, 20, 100), up("s3", 10, 60, 100)}
	if n := testing.AllocsPerRun(100, func() { Compute(defaults, servers) }); n != 1 {
		t.Errorf("all live: %g allocations per Compute, want 1", n)
	}
	servers[1].Down = "advisor web: timeout"
	servers[2].Rule = "nightly-s3"
	if n := testing.AllocsPerRun(100, func() { Compute(defaults, servers) }); n != 2 {
		t.Errorf("down and rule: %g allocations per Compute, want 2", n)
	}
}

// The property: for any metric input — zeros, subnormals, huge values, NaN,
// infinities, negatives, missing — and any valid parameters, every live
// server's weight is in [1, Bound], every forced server gets its forced
// weight, and push says exactly what the rules say. Seeded, so a failure
// repeats.
func TestPropertyWeightsInRange(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 2026))
	iterations := 20000
	if testing.Short() {
		iterations = 2000
	}
	for range iterations {
		p := randomParams(r)
		servers := make([]ServerInput, r.IntN(9))
		for i := range servers {
			servers[i] = randomServer(r, p.Bound, i)
		}
		results, push := Compute(p, servers)
		checkInvariants(t, p, servers, results, push)
		if t.Failed() {
			t.Fatalf("params %+v\nservers %+v", p, servers)
		}
	}
}

func randomParams(r *rand.Rand) Params {
	smoothing := []float64{5e-324, 1e-300, 0.01, 0.5, 1, 1.5, 10, 1e6, 1e300, math.MaxFloat64, 0.1 + 20*r.Float64()}
	var props Proportions
	var sum float64
	for c := range props {
		if r.IntN(3) > 0 {
			props[c] = r.Float64()
			sum += props[c]
		}
	}
	if sum == 0 {
		props[r.IntN(len(props))], sum = 1, 1
	}
	for c := range props {
		props[c] = props[c] / sum * 100
	}
	sensitivity := []float64{0, 100, 100 * r.Float64()}
	return Params{
		Bound:       1 + r.IntN(100),
		Smoothing:   smoothing[r.IntN(len(smoothing))],
		Sensitivity: sensitivity[r.IntN(len(sensitivity))],
		Proportions: props,
	}
}

func randomServer(r *rand.Rand, bound, i int) ServerInput {
	weight := func() int {
		w := []int{-5, 0, 1, bound, bound + 7, r.IntN(bound + 1), r.IntN(bound + 1)}
		return w[r.IntN(len(w))]
	}
	metric := func() float64 {
		m := []float64{0, 0, 5e-324, 1e-300, 1, 1e300, math.MaxFloat64, 1000 * r.Float64(), 1000 * r.Float64(),
			math.NaN(), math.Inf(1), math.Inf(-1), -1e-300, -1, -math.MaxFloat64}
		return m[r.IntN(len(m))]
	}
	s := ServerInput{Name: "s" + string(rune('a'+i)), Weight: weight(), Configured: weight(), RuleWeight: weight()}
	s.Quiesced = r.IntN(8) == 0
	s.Fixed = r.IntN(8) == 0
	if r.IntN(8) == 0 {
		s.Down = "advisor web: timeout"
	}
	if r.IntN(8) == 0 {
		s.Rule = "rule-" + s.Name
	}
	for c := range s.Metrics {
		s.Metrics[c] = metric()
		s.Have[c] = r.IntN(8) > 0
	}
	return s
}

// checkInvariants checks Compute's guarantees, which hold for any input.
func checkInvariants(t *testing.T, p Params, servers []ServerInput, results []ServerResult, push bool) {
	t.Helper()
	if len(results) != len(servers) {
		t.Fatalf("%d results for %d servers", len(results), len(servers))
	}
	again, againPush := Compute(p, servers)
	if againPush != push || !sameResults(again, results) {
		t.Errorf("Compute is not deterministic")
	}
	if p.Check() != nil {
		for i, r := range results {
			if r.New != servers[i].Weight || !strings.HasPrefix(r.Reason, "not computed: ") {
				t.Errorf("invalid params: %s changed to %d (%q)", r.Name, r.New, r.Reason)
			}
		}
		if push {
			t.Errorf("invalid params pushed")
		}
		return
	}
	clampTo := func(v, lo int) int { return min(max(v, lo), p.Bound) }
	threshold := max(1, p.Sensitivity*float64(p.Bound)/100)
	known := func(s ServerInput, c int) bool {
		v := s.Metrics[c]
		return s.Have[c] && v >= 0 && !math.IsInf(v, 0) && !math.IsNaN(v)
	}
	live := func(s ServerInput) bool { return !s.Quiesced && s.Down == "" && s.Rule == "" && !s.Fixed }
	// A class takes part when its proportion is above 0 and every live
	// server knows its metric.
	var takesPart [4]bool
	anyPart := false
	for c := range 4 {
		takesPart[c] = p.Proportions[c] > 0
		for _, s := range servers {
			if live(s) && !known(s, c) {
				takesPart[c] = false
			}
		}
		anyPart = anyPart || takesPart[c]
	}
	wantPush := false
	var sums [4]float64
	nLive := 0
	for i, s := range servers {
		r := results[i]
		if r.Name != s.Name || r.Old != s.Weight {
			t.Errorf("result %d is %q old %d, want %q old %d", i, r.Name, r.Old, s.Name, s.Weight)
		}
		for c := range 4 {
			want := 0.0
			if known(s, c) {
				want = s.Metrics[c]
			}
			if r.Value[c] != want {
				t.Errorf("%s: %s value %g, want %g", s.Name, Class(c), r.Value[c], want)
			}
		}
		forced, reason := 0, ""
		switch {
		case s.Quiesced:
			reason = "quiesced"
		case s.Down != "":
			reason = "down: " + s.Down
		case s.Rule != "":
			forced, reason = clampTo(s.RuleWeight, 0), "rule "+s.Rule
		case s.Fixed:
			forced, reason = clampTo(s.Configured, 0), "fixed"
		}
		if reason != "" {
			if r.New != forced || r.Reason != reason {
				t.Errorf("%s: new %d reason %q, want %d %q", s.Name, r.New, r.Reason, forced, reason)
			}
			if r.Proportion != [4]float64{} {
				t.Errorf("%s (%s): proportions %v, want none", s.Name, reason, r.Proportion)
			}
			wantPush = wantPush || r.New != r.Old
			continue
		}
		nLive++
		if r.New < 1 || r.New > p.Bound {
			t.Errorf("%s: live weight %d outside [1, %d]", s.Name, r.New, p.Bound)
		}
		wantReason := "kept: no metric"
		if anyPart {
			wantReason = "computed"
		}
		if r.Reason != wantReason {
			t.Errorf("%s: live reason %q, want %q", s.Name, r.Reason, wantReason)
		}
		for c := range 4 {
			mp := r.Proportion[c]
			if !(mp >= 0 && mp <= 1+1e-12) {
				t.Errorf("%s: %s proportion %g outside [0, 1]", s.Name, Class(c), mp)
			}
			if !takesPart[c] && mp != 0 {
				t.Errorf("%s: %s proportion %g for a class that does not take part", s.Name, Class(c), mp)
			}
			sums[c] += mp
		}
		wantPush = wantPush || math.Abs(float64(r.New-r.Old)) >= threshold || (r.Old == 0) != (r.New == 0)
	}
	for c := range 4 {
		if takesPart[c] && nLive > 0 && math.Abs(sums[c]-1) > 1e-9 {
			t.Errorf("%s proportions sum to %g over the live servers, want 1", Class(c), sums[c])
		}
	}
	if push != wantPush {
		t.Errorf("push = %v, want %v", push, wantPush)
	}
}

// sameResults compares results bit for bit.
func sameResults(a, b []ServerResult) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Name != y.Name || x.Old != y.Old || x.New != y.New || x.Reason != y.Reason {
			return false
		}
		for c := range 4 {
			if math.Float64bits(x.Proportion[c]) != math.Float64bits(y.Proportion[c]) ||
				math.Float64bits(x.Value[c]) != math.Float64bits(y.Value[c]) {
				return false
			}
		}
	}
	return true
}

// FuzzCompute checks the same invariants on inputs the fuzzer makes up.
// Parameters come straight from the fuzzer (so some fail Check, which
// Compute must survive too), except that the proportions are the four bytes
// scaled to sum to 100. Each server is serverBytes of data: flags, three
// weights and four metrics as raw float64 bits (any NaN, infinity, negative
// or subnormal).
func FuzzCompute(f *testing.F) {
	f.Add(20, 1.5, 5.0, byte(1), byte(1), byte(0), byte(0), encodeServers(
		up("s1", 10, 20, 100), up("s2", 10, 20, 100), up("s3", 10, 60, 100)))
	f.Add(100, 1e-300, 0.0, byte(0), byte(0), byte(1), byte(3), encodeServers(
		up("s1", 0, math.MaxFloat64, 5e-324), up("s2", 0, 0, 0)))
	f.Add(0, -1.0, 200.0, byte(0), byte(0), byte(0), byte(0), []byte{0xff, 0x80})
	f.Fuzz(func(t *testing.T, bound int, smoothing, sensitivity float64, a, n, adv, sys byte, data []byte) {
		p := Params{Bound: bound, Smoothing: smoothing, Sensitivity: sensitivity}
		if sum := float64(a) + float64(n) + float64(adv) + float64(sys); sum > 0 {
			p.Proportions = Proportions{float64(a) / sum * 100, float64(n) / sum * 100, float64(adv) / sum * 100, float64(sys) / sum * 100}
		}
		servers := decodeServers(data)
		results, push := Compute(p, servers)
		checkInvariants(t, p, servers, results, push)
	})
}

const serverBytes = 1 + 3 + 4*8

func decodeServers(data []byte) []ServerInput {
	var servers []ServerInput
	for i := 0; len(data) >= serverBytes && i < 16; i++ {
		flags := data[0]
		s := ServerInput{
			Name:       "s" + string(rune('a'+i)),
			Quiesced:   flags&1 != 0,
			Fixed:      flags&2 != 0,
			Weight:     int(int8(data[1])),
			Configured: int(int8(data[2])),
			RuleWeight: int(int8(data[3])),
		}
		if flags&4 != 0 {
			s.Down = "advisor web: timeout"
		}
		if flags&8 != 0 {
			s.Rule = "rule-" + s.Name
		}
		for c := range 4 {
			s.Have[c] = flags&(16<<c) != 0
			var bits uint64
			for _, b := range data[4+8*c : 12+8*c] {
				bits = bits<<8 | uint64(b)
			}
			s.Metrics[c] = math.Float64frombits(bits)
		}
		servers = append(servers, s)
		data = data[serverBytes:]
	}
	return servers
}

func encodeServers(servers ...ServerInput) []byte {
	var data []byte
	for _, s := range servers {
		var flags byte
		for bit, on := range []bool{s.Quiesced, s.Fixed, s.Down != "", s.Rule != "", s.Have[0], s.Have[1], s.Have[2], s.Have[3]} {
			if on {
				flags |= 1 << bit
			}
		}
		data = append(data, flags, byte(int8(s.Weight)), byte(int8(s.Configured)), byte(int8(s.RuleWeight)))
		for _, m := range s.Metrics {
			bits := math.Float64bits(m)
			for shift := 56; shift >= 0; shift -= 8 {
				data = append(data, byte(bits>>shift))
			}
		}
	}
	return data
}

package metrics

import (
	"context"
	"testing"

	"go.uber.org/zap"

	"vec/control/manager"
)

// fixedSource serves one reading of the counters.
type fixedSource struct{ counters manager.Counters }

func (s fixedSource) Counters(context.Context) (manager.Counters, error) { return s.counters, nil }
func (s fixedSource) Status() manager.Status                             { return manager.Status{} }

// The maglev second chances are exported per core and table.
func TestSecondChancesExported(t *testing.T) {
	src := fixedSource{manager.Counters{Cores: []manager.CoreCounters{
		{Core: 0, SecondChanceHash: 7, SecondChancePrevious: 2},
		{Core: 1, SecondChanceHash: 1},
	}}}
	wantSamples(t, scrape(t, NewCollector(src, 1024, zap.NewNop())), map[string]float64{
		`vec_core_second_chance_total{core="0",table="hash"}`:     7,
		`vec_core_second_chance_total{core="0",table="previous"}`: 2,
		`vec_core_second_chance_total{core="1",table="hash"}`:     1,
		`vec_core_second_chance_total{core="1",table="previous"}`: 0,
	})
}

package metrics

import (
	"context"
	"testing"

	"go.uber.org/zap"

	"vec/control/apiwire"
)

// fixedSource serves one reading of the counters.
type fixedSource struct{ counters apiwire.Counters }

func (s fixedSource) Counters(context.Context) (apiwire.Counters, error) { return s.counters, nil }
func (s fixedSource) Status() apiwire.Status                             { return apiwire.Status{} }

// The maglev second chances are exported per core and table.
func TestSecondChancesExported(t *testing.T) {
	src := fixedSource{apiwire.Counters{Cores: []apiwire.CoreCounters{
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

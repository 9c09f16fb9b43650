package gateway

import (
	"slices"
	"testing"

	"vec/control/config"
)

// A control core that is also a worker's core keeps the control threads
// on it whoever built the Runtime: vec-bench builds its own without
// ControlSharesWorkerCore, which only config validation sets.
func TestControlCoresFollowTheCores(t *testing.T) {
	cpus := []int{0, 1, 2, 3}
	for _, tt := range []struct {
		workers []int
		control int
		want    []int
	}{
		{[]int{1, 2}, 1, []int{1}},
		{[]int{0, 1, 2, 3}, 2, []int{2}},
		{[]int{2, 3}, 0, []int{0, 1}},
	} {
		rt := config.Runtime{WorkerCores: tt.workers, ControlCore: tt.control} // as vec-bench builds it
		if got := controlCores(cpus, rt); !slices.Equal(got, tt.want) {
			t.Errorf("workers %v, control core %d: control threads on %v, want %v", tt.workers, tt.control, got, tt.want)
		}
	}
}

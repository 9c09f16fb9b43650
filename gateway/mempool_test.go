package gateway

import (
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// A pool too small for the ports' rings is refused before DPDK starts,
// with the numbers that make up the need; the default pool fits the usual
// one-port gateway.
func TestMempoolTooSmallIsRefused(t *testing.T) {
	if need := mempoolNeed(1, 2); need > DefaultMempoolSize {
		t.Fatalf("one port and two workers need %d buffers, more than the default pool of %d", need, DefaultMempoolSize)
	}
	rt := Options{Ports: []string{"a", "b", "c", "d"}, WorkerCores: []int{1, 2, 3, 4, 5, 6, 7, 8},
		MempoolSize: DefaultMempoolSize}
	err := New(zap.NewNop(), rt).checkMempool()
	if err == nil || !strings.Contains(err.Error(), "4 ports × 8 workers") || !strings.Contains(err.Error(), "16383 is too small") {
		t.Fatalf("4 ports × 8 workers with the default pool: %v", err)
	}
}

// The control plane runs where the configuration puts it: on the CPUs no
// worker polls, or on workers.control_core when that is a worker's core.
// A control core that is also a worker's core keeps the control threads
// on it whoever built the Runtime: vec-bench builds its own without
// ControlSharesWorkerCore, which only config validation sets.
func TestControlCores(t *testing.T) {
	cpus := []int{0, 1, 2, 3}
	for _, tt := range []struct {
		workers []int
		control int
		want    []int
	}{
		{[]int{2, 3}, 0, []int{0, 1}},
		{[]int{1, 2}, 1, []int{1}},       // shares a worker's core, as configured
		{[]int{0, 1, 2, 3}, 0, []int{0}}, // every CPU polls
		{[]int{0, 1, 2, 3}, 2, []int{2}},
		{[]int{3}, 0, []int{0, 1, 2}},
	} {
		// As config validation builds the Runtime, then as vec-bench does.
		for _, shares := range []bool{slices.Contains(tt.workers, tt.control), false} {
			rt := Options{WorkerCores: tt.workers, ControlCore: tt.control, ControlSharesWorkerCore: shares}
			if got := controlCores(cpus, rt); !slices.Equal(got, tt.want) {
				t.Errorf("workers %v, control core %d, ControlSharesWorkerCore %t: control threads on %v, want %v",
					tt.workers, tt.control, shares, got, tt.want)
			}
		}
	}
}

package gateway

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"vec/dpdk"
	"vec/internal/limits"
)

// A pool too small for the ports' rings is refused before DPDK starts,
// with the numbers that make up the need; the default pool fits the usual
// one-port gateway, also on net_af_xdp with its larger default RX ring.
func TestMempoolTooSmallIsRefused(t *testing.T) {
	for _, dev := range []string{"0000:03:00.0", "net_af_xdp0"} {
		g := New(zap.NewNop(), Options{Ports: []string{dev}, WorkerCores: []int{1, 2}})
		if err := g.checkMempool(); err != nil {
			t.Errorf("one %s port and two workers with the default pool: %v", dev, err)
		}
	}
	rt := Options{Ports: []string{"a", "b", "c", "d"}, WorkerCores: []int{1, 2, 3, 4, 5, 6, 7, 8},
		MempoolSize: limits.DefaultMempoolSize}
	err := New(zap.NewNop(), rt).checkMempool()
	if err == nil || !strings.Contains(err.Error(), "8 workers × 8192 descriptors of one queue on each of 4 ports") ||
		!strings.Contains(err.Error(), "16383 is too small") {
		t.Fatalf("4 ports × 8 workers with the default pool: %v", err)
	}
}

// Ring sizes left at zero are the driver's defaults (a larger RX ring on
// net_af_xdp); configured ones replace them, RX and TX each on its own.
func TestRings(t *testing.T) {
	rt := Options{Ports: []string{"net_af_xdp0", "0000:03:00.0", "net_ring0", "net_af_xdp1"},
		PortOptions: []PortOptions{{}, {}, {RxDescriptors: 2048, TxDescriptors: 512}, {TxDescriptors: 4096}}}
	for i, want := range [][2]int{
		{afXDPRxDescriptors, dpdk.DefaultDescriptors},
		{dpdk.DefaultDescriptors, dpdk.DefaultDescriptors},
		{2048, 512},
		{afXDPRxDescriptors, 4096},
	} {
		if rx, tx := rt.rings(i); rx != want[0] || tx != want[1] {
			t.Errorf("%s: %d RX + %d TX descriptors, want %d + %d", rt.Ports[i], rx, tx, want[0], want[1])
		}
	}
	// A port past PortOptions (Options built by hand) gets the defaults.
	rt.Ports = append(rt.Ports, "net_af_xdp2")
	if rx, tx := rt.rings(4); rx != afXDPRxDescriptors || tx != dpdk.DefaultDescriptors {
		t.Errorf("port without options: %d RX + %d TX descriptors", rx, tx)
	}
}

// The pool must hold every descriptor of the configured rings: one
// buffer fewer than the need is refused, the need itself is accepted.
func TestMempoolSizedForConfiguredRings(t *testing.T) {
	rt := Options{Ports: []string{"net_af_xdp0", "0000:03:00.0"}, WorkerCores: []int{1, 2, 3},
		PortOptions: []PortOptions{{TxDescriptors: 2048}, {RxDescriptors: 8192, TxDescriptors: 256}}}
	descriptors := afXDPRxDescriptors + 2048 + 8192 + 256
	need := 3*descriptors + 4*mempoolCache + 6*burstSize
	if got := mempoolNeed(descriptors, 3); got != need {
		t.Fatalf("mempoolNeed(%d, 3) = %d, want %d", descriptors, got, need)
	}
	rt.MempoolSize = need - 1
	err := New(zap.NewNop(), rt).checkMempool()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("3 workers × %d descriptors", descriptors)) ||
		!strings.Contains(err.Error(), "net_af_xdp0: 4096 RX + 2048 TX; 0000:03:00.0: 8192 RX + 256 TX") ||
		!strings.Contains(err.Error(), fmt.Sprintf("need %d packet buffers", need)) {
		t.Errorf("pool of %d for a need of %d: %v", need-1, need, err)
	}
	rt.MempoolSize = need
	if err := New(zap.NewNop(), rt).checkMempool(); err != nil {
		t.Errorf("pool of exactly the need (%d): %v", need, err)
	}
}

// Ring sizes the gateway is given by hand (vec-bench builds its own
// Options) are held to the configuration's bounds, naming the port.
func TestBadRingsAreRefused(t *testing.T) {
	for _, tt := range []struct {
		opts PortOptions
		want string
	}{
		{PortOptions{RxDescriptors: 1000}, `port "net_ring0": RX ring of 1000 descriptors: not a power of two in 64..32768`},
		{PortOptions{TxDescriptors: 32}, `port "net_ring0": TX ring of 32 descriptors`},
		{PortOptions{TxDescriptors: 65536}, `port "net_ring0": TX ring of 65536 descriptors`},
		{PortOptions{RxDescriptors: -1024}, `port "net_ring0": RX ring of -1024 descriptors`},
	} {
		g := New(zap.NewNop(), Options{Ports: []string{"net_ring0"}, PortOptions: []PortOptions{tt.opts}})
		if err := g.checkRings(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want an error naming %q", tt.opts, err, tt.want)
		}
	}
	g := New(zap.NewNop(), Options{Ports: []string{"net_ring0", "net_af_xdp0"},
		PortOptions: []PortOptions{{RxDescriptors: limits.MinDescriptors, TxDescriptors: limits.MaxDescriptors}, {}}})
	if err := g.checkRings(); err != nil {
		t.Errorf("bounds and defaults: %v", err)
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

// A ring size the operator set must be the one the device set up; an
// unset one takes whatever DPDK fitted to the device.
func TestConfiguredRingsMustBeTaken(t *testing.T) {
	set := PortOptions{RxDescriptors: 8192, TxDescriptors: 2048}
	if err := checkRingsTaken(set, "net_ixgbe", 8192, 2048); err != nil {
		t.Errorf("rings taken as configured: %v", err)
	}
	if err := checkRingsTaken(PortOptions{}, "net_ixgbe", 4096, 512); err != nil {
		t.Errorf("default rings fitted by DPDK: %v", err)
	}
	err := checkRingsTaken(set, "net_ixgbe", 4096, 2048)
	if err == nil || !strings.Contains(err.Error(), "rx_descriptors 8192") || !strings.Contains(err.Error(), "takes 4096") {
		t.Errorf("RX ring fitted to 4096: %v", err)
	}
	err = checkRingsTaken(set, "net_ixgbe", 8192, 1024)
	if err == nil || !strings.Contains(err.Error(), "tx_descriptors 2048") || !strings.Contains(err.Error(), "takes 1024") {
		t.Errorf("TX ring fitted to 1024: %v", err)
	}
}

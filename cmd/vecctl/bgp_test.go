package main

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"vec/control/manager/managertest"
	"vec/fastpath"
	"vec/fastpath/pktbuild"
)

// forwardFor makes the fake dataplane forward one new connection every
// 10 ms until stop is closed.
func forwardFor(t *testing.T, dp *managertest.Dataplane, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for port := uint16(1000); ; port++ {
			f := pktbuild.Flow{SrcMAC: pktbuild.MAC{2, 0, 0, 0, 0, 0xc1}, DstMAC: pktbuild.MAC(managertest.PortMAC),
				SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("10.1.0.100"), SrcPort: port, DstPort: 80}
			if v := dp.Process(0, pktbuild.TCP(f, pktbuild.SYN, 1, 0, nil)); v[0] != fastpath.VerdictForward {
				t.Errorf("SYN from port %d: %v", port, v[0])
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return &wg
}

// drain --wait returns once the gateway has forwarded nothing for --quiet,
// and fails (exit 1) when packets still flow at --wait-timeout.
func TestDrainWaitsUntilNothingIsForwarded(t *testing.T) {
	flags, dp := serveDataplane(t)
	o := &globalOptions{socket: flags[1], tokenFile: flags[3], output: "table", timeout: 5 * time.Second}

	stop := make(chan struct{})
	wg := forwardFor(t, dp, stop)
	time.AfterFunc(600*time.Millisecond, func() { close(stop) })
	start := time.Now()
	var out bytes.Buffer
	if err := waitQuiet(&out, o, 300*time.Millisecond, 5*time.Second); err != nil {
		t.Fatalf("waitQuiet while forwarding stops after 600 ms: %v", err)
	}
	wg.Wait()
	if took := time.Since(start); took < 850*time.Millisecond {
		t.Errorf("waitQuiet returned after %v: before 600 ms of forwarding and 300 ms of quiet", took)
	}
	if !strings.Contains(out.String(), "drained: nothing forwarded for 300ms") {
		t.Errorf("output %q", out.String())
	}

	stop = make(chan struct{})
	wg = forwardFor(t, dp, stop)
	err := waitQuiet(&out, o, 300*time.Millisecond, 700*time.Millisecond)
	close(stop)
	wg.Wait()
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitServer || !strings.Contains(err.Error(), "still forwarding after 700ms") {
		t.Errorf("waitQuiet while forwarding never stops: %v, want exit %d, still forwarding", err, exitServer)
	}
}

package manager_test

import (
	"context"
	"net/netip"
	"testing"

	"vec/control/config"
	"vec/control/manager/managertest"
	"vec/fastpath"
	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

// The manager hands every snapshot the one the workers run, so a maglev
// service keeps its table from before a change as the previous one: after
// a weight change, a mid-flow segment that reaches a core without its
// entry still goes to the server the flow had (second_chance_previous),
// not to the one the new table gives its slot.
func TestMaglevPreviousTableFollowsTheRunningSnapshot(t *testing.T) {
	e := newEnv(t)
	e.mustMutate("schedule http by maglev", func(c *config.Config) error {
		c.Clusters[0].Services[0].Scheduler = "maglev"
		return nil
	})
	ack := func(core int, port uint16) [6]byte {
		t.Helper()
		f := pktbuild.Flow{SrcMAC: pktbuild.MAC{2, 0, 0, 0, 0, 0xc1}, DstMAC: pktbuild.MAC(managertest.PortMAC),
			SrcIP: netip.MustParseAddr("192.0.2.7"), DstIP: vip, SrcPort: port, DstPort: 80}
		p := pktbuild.TCP(f, pktbuild.ACK, 2, 1, nil)
		if v := e.dp.Process(core, p); v[0] != fastpath.VerdictForward {
			t.Fatalf("mid-flow ACK from port %d on core %d: %v", port, core, v[0])
		}
		return [6]byte(header.Ethernet(p).Destination())
	}
	// Core 0 gives 400 flows their servers by the table in force.
	const flows = 400
	before := map[uint16][6]byte{}
	for port := uint16(2000); port < 2000+flows; port++ {
		before[port] = ack(0, port)
	}
	e.mustMutate("s1 weight 5", setS1Weight(5))
	// Core 1 has none of their entries: every one must still reach its
	// server, through the previous table where the new one moved it.
	for port := uint16(2000); port < 2000+flows; port++ {
		if got := ack(1, port); got != before[port] {
			t.Fatalf("flow from port %d went to %x after the weight change, want %x (its server before)", port, got, before[port])
		}
	}
	st, err := e.m.Counters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c0, c1 := st.Cores[0], st.Cores[1]
	if c0.SecondChanceHash != flows || c0.SecondChancePrevious != 0 {
		t.Errorf("core 0: second chances hash %d previous %d, want %d and 0", c0.SecondChanceHash, c0.SecondChancePrevious, flows)
	}
	// s1's weight from 1 to 5 of 6 moves a large share of the slots to it.
	if c1.SecondChancePrevious == 0 || c1.SecondChanceHash+c1.SecondChancePrevious != flows {
		t.Errorf("core 1: second chances hash %d previous %d: want some by the previous table, %d in all",
			c1.SecondChanceHash, c1.SecondChancePrevious, flows)
	}
	t.Logf("after the weight change: %d of %d flows by the previous table", c1.SecondChancePrevious, flows)
}

package recovery

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// linkHealth stands in for vecd's link watch: down makes it report every
// data port down.
type linkHealth struct{ down bool }

func (l *linkHealth) check() error {
	if l.down {
		return errors.New("every data port's link is down (eth1)")
	}
	return nil
}

// An active gateway whose data ports all go down hands over at its next
// tick, as on a graceful stop, not after the backup's master-down wait;
// recovered, it preempts back; an unhealthy backup claims nothing when
// the active one goes away, and claims the role once healthy again.
func TestHAUnhealthyActiveHandsOver(t *testing.T) {
	w := newWorld(t, 3,
		nodeSpec{name: "gw1", prio: 200, preempt: true, preemptDelay: time.Second},
		nodeSpec{name: "gw2", prio: 100, preempt: true, preemptDelay: time.Second})
	gw1 := &linkHealth{}
	w.node("gw1").ha.cfg.Health = gw1.check
	w.startActive("gw1", "gw2")

	gw1.down = true
	took := w.until(time.Second, "gw2 active", w.isRole("gw2", RoleActive))
	t.Logf("gw2 active %v after gw1 found itself unhealthy (interval %v, master-down %v)", took, testInterval, testMasterDown)
	// The next tick (at most one interval), the lease release, then the
	// advert or SHUTDOWN and gw2's lease request: well inside master-down.
	if took > testInterval+2*netDelay+3*jobDelay {
		t.Errorf("gw2 active %v after gw1's links went down, want at most one interval and a few datagrams (master-down is %v)",
			took, testMasterDown)
	}
	st := w.node("gw1").ha.Status()
	if st.Role != RoleBackup || w.node("gw1").ctl.active || !strings.Contains(st.Unhealthy, "link is down") {
		t.Fatalf("gw1 after its links went down: role %s, forwarding %v, unhealthy %q", st.Role, w.node("gw1").ctl.active, st.Unhealthy)
	}
	if d := w.node("gw1").ctl.lastDeactivation(); !strings.Contains(d, "unhealthy: every data port's link is down") {
		t.Errorf("gw1 deactivated with %q", d)
	}
	// Unhealthy, the preferred gw1 does not preempt back.
	w.run(3 * time.Second)
	if a, b := w.role("gw1"), w.role("gw2"); a != RoleBackup || b != RoleActive {
		t.Fatalf("3 s with gw1 unhealthy: gw1 %s, gw2 %s; want backup and active", a, b)
	}
	if err := w.node("gw1").ha.RequestTakeover(); err == nil || !strings.Contains(err.Error(), "link is down") {
		t.Errorf("operator takeover on the unhealthy gw1: %v", err)
	}

	gw1.down = false
	took = w.until(2*time.Second, "gw1 active again", w.isRole("gw1", RoleActive))
	if took < time.Second || took > time.Second+2*testInterval+10*time.Millisecond {
		t.Errorf("gw1 preempted %v after recovering, want PreemptDelay (1 s) plus at most two intervals", took)
	}
	if st := w.node("gw1").ha.Status(); st.Unhealthy != "" {
		t.Errorf("gw1 still unhealthy in its status: %q", st.Unhealthy)
	}

	// Unhealthy again, gw1 hands over; then gw2 stops: gw1 stays a backup
	// while its links are down, and claims the role once they are up.
	gw1.down = true
	w.until(time.Second, "gw2 active", w.isRole("gw2", RoleActive))
	w.run(10 * time.Millisecond)
	if err := w.node("gw2").ha.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.run(5 * testMasterDown)
	if r := w.role("gw1"); r != RoleBackup || w.node("gw1").ctl.active {
		t.Fatalf("unhealthy gw1 is %s (forwarding %v) with no other gateway; want backup", r, w.node("gw1").ctl.active)
	}
	gw1.down = false
	took = w.until(time.Second, "gw1 active", w.isRole("gw1", RoleActive))
	if took > testInterval+netDelay+jobDelay {
		t.Errorf("gw1 active %v after recovering alone, want at most one interval and a lease request", took)
	}
}

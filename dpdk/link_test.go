package dpdk

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

// A net_ring port's link follows Start and SetLinkDown/SetLinkUp, as a
// cable pulled and plugged back would; a driver that cannot take its link
// down says so with rte_strerror's text.
func TestLinkStateFollowsSetLinkDown(t *testing.T) {
	pool := newPool(t, "t_link", 1023)
	p := openPort(t, "net_ring5", PortConfig{Mempool: pool})
	if l, err := p.Link(); err != nil || !l.Up {
		t.Fatalf("Link after Start = %+v, %v; want up", l, err)
	}
	if err := p.SetLinkDown(); err != nil {
		t.Fatal(err)
	}
	if l, err := p.Link(); err != nil || l.Up {
		t.Fatalf("Link after SetLinkDown = %+v, %v; want down", l, err)
	}
	if up, err := p.LinkUp(); err != nil || up {
		t.Fatalf("LinkUp after SetLinkDown = %v, %v; want down", up, err)
	}
	if err := p.SetLinkUp(); err != nil {
		t.Fatal(err)
	}
	if l, err := p.Link(); err != nil || !l.Up || l.SpeedMbps == 0 {
		t.Fatalf("Link after SetLinkUp = %+v, %v; want up with a speed", l, err)
	}

	null := openPort(t, "net_null5", PortConfig{Mempool: pool})
	err := null.SetLinkDown()
	if !errors.Is(err, syscall.ENOTSUP) || !strings.Contains(err.Error(), "rte_eth_dev_set_link_down(port") {
		t.Fatalf("SetLinkDown on net_null = %v; want ENOTSUP naming the call", err)
	}
	if l, err := null.Link(); err != nil || !l.Up {
		t.Fatalf("net_null Link after a refused SetLinkDown = %+v, %v; want up", l, err)
	}
}

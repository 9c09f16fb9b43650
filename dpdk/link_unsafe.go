package dpdk

/*
#include <string.h>
#include <rte_ethdev.h>

// vec_link_read copies the bit fields of struct rte_eth_link, which cgo
// cannot reach, into plain ints.
static int vec_link_read(uint16_t port, uint32_t *speed, int *up, int *full_duplex)
{
	struct rte_eth_link link;
	int r;

	memset(&link, 0, sizeof(link));
	r = rte_eth_link_get_nowait(port, &link);
	if (r < 0)
		return r;
	*speed = link.link_speed;
	*up = link.link_status == RTE_ETH_LINK_UP;
	*full_duplex = link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
	return 0;
}
*/
import "C"

import "fmt"

// Link is a port's link state as the driver last knew it (struct
// rte_eth_link).
type Link struct {
	Up bool
	// SpeedMbps is the speed the driver reports (the negotiated one, or
	// its nominal one for a virtual device, even while down); 0 when it
	// does not know it.
	SpeedMbps  uint32
	FullDuplex bool
}

// Link reads the port's link state without waiting for the driver to
// refresh it (rte_eth_link_get_nowait): cheap enough to call from the
// control plane once a second per port.
func (p *Port) Link() (Link, error) {
	var speed C.uint32_t
	var up, full C.int
	if ret := C.vec_link_read(C.uint16_t(p.ID), &speed, &up, &full); ret < 0 {
		return Link{}, callError(fmt.Sprintf("rte_eth_link_get_nowait(port %d)", p.ID), ret)
	}
	l := Link{Up: up != 0, FullDuplex: full != 0}
	if s := uint32(speed); s != C.RTE_ETH_SPEED_NUM_UNKNOWN {
		l.SpeedMbps = s
	}
	return l, nil
}

// LinkUp reports whether the port's link is up (Link's Up). A net_vhost
// port's link comes up when a virtio driver (e.g. a process with a
// net_virtio_user port on the same socket) has connected and started its
// device.
func (p *Port) LinkUp() (bool, error) {
	l, err := p.Link()
	return l.Up, err
}

// SetLinkDown takes the port's link down administratively
// (rte_eth_dev_set_link_down); not every driver can (net_ring can,
// net_null cannot: the error then wraps ENOTSUP).
func (p *Port) SetLinkDown() error {
	if ret := C.rte_eth_dev_set_link_down(C.uint16_t(p.ID)); ret < 0 {
		return callError(fmt.Sprintf("rte_eth_dev_set_link_down(port %d)", p.ID), ret)
	}
	return nil
}

// SetLinkUp brings the link of a started port back up
// (rte_eth_dev_set_link_up).
func (p *Port) SetLinkUp() error {
	if ret := C.rte_eth_dev_set_link_up(C.uint16_t(p.ID)); ret < 0 {
		return callError(fmt.Sprintf("rte_eth_dev_set_link_up(port %d)", p.ID), ret)
	}
	return nil
}

package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"vec/fastpath"
)

// What recovery (takeover, rebuild on start) needs of the workers: every
// call goes through the mailboxes, like the manager's.

// SetMode switches every worker to mode and waits until all have.
func (g *Gateway) SetMode(ctx context.Context, mode fastpath.Mode) error {
	_, err := g.broadcast(ctx, func(int) *request { return &request{kind: reqMode, newMode: mode} })
	if err == nil {
		g.mode.Store(uint32(mode))
	}
	return err
}

// Mode returns the mode the workers were last switched to.
func (g *Gateway) Mode() fastpath.Mode { return fastpath.Mode(g.mode.Load()) }

// Install hands worker a chunk of rebuilt entries and waits until it has
// installed them between two of its bursts.
func (g *Gateway) Install(ctx context.Context, worker int, entries []fastpath.InstallEntry) (fastpath.InstallResult, error) {
	if worker < 0 || worker >= len(g.workers) {
		return fastpath.InstallResult{}, fmt.Errorf("install: no worker %d (there are %d)", worker, len(g.workers))
	}
	w := g.workers[worker]
	req := &request{kind: reqInstall, install: entries}
	if err := w.mailbox.send(ctx, req); err != nil {
		return fastpath.InstallResult{}, fmt.Errorf("install on the worker on core %d: %w", w.cpu, err)
	}
	return req.installResult, nil
}

// NumWorkers returns the number of workers (and RX queues per port).
func (g *Gateway) NumWorkers() int { return len(g.workers) }

// WorkerFor returns the worker whose RX queue the first port's RSS delivers
// entry e's flow to: worker i polls queue i of every port. It hashes in
// software with the key programmed on the port (dpdk.RSSTable), so an entry
// rebuilt for a flow lands on the core that will see its packets. An IPv6
// entry is hashed on its full addresses (e.Addrs), not on its key's folded
// ones.
func (g *Gateway) WorkerFor(e fastpath.InstallEntry) int {
	if len(g.workers) <= 1 || g.rss == nil {
		return 0
	}
	k := &e.Key
	if k.IPv6 {
		return g.ports[0].RSSQueue(g.rss.HashIPv6(&e.Addrs.Src, &e.Addrs.Dst, k.SrcPort, k.DstPort))
	}
	return g.ports[0].RSSQueue(g.rss.HashIPv4(k.SrcIP, k.DstIP, k.SrcPort, k.DstPort))
}

var errNoVIPs = errors.New("announce: no VIP given")

// Announce has the first worker announce every VIP (gratuitous ARP, or an
// unsolicited Neighbor Advertisement for an IPv6 one) on
// every port, from the gateway's MAC, and waits until it has.
func (g *Gateway) Announce(ctx context.Context, vips []netip.Addr) error {
	if len(vips) == 0 {
		return errNoVIPs
	}
	req := &request{kind: reqAnnounce, announce: vips}
	if err := g.workers[0].mailbox.send(ctx, req); err != nil {
		return fmt.Errorf("announce: %w", err)
	}
	if want := len(vips) * len(g.ports); req.sent < want {
		return fmt.Errorf("announce: %d of %d gratuitous ARP and unsolicited NA frames sent (no packet buffers or TX ring full)", req.sent, want)
	}
	return nil
}

// sendGratuitousARP sends one gratuitous ARP per IPv4 VIP, one
// unsolicited Neighbor Advertisement per IPv6 VIP, on every port and
// returns how many frames went out. Only the first worker has the buffers.
func (w *worker) sendGratuitousARP(vips []netip.Addr) int {
	if w.probe == nil {
		return 0
	}
	mac := w.core.Snapshot().GatewayMAC()
	sent := 0
	for _, port := range w.ports {
		for left := vips; len(left) > 0; {
			n := min(len(left), burstSize)
			if err := w.probe.Alloc(w.pool, n, fastpath.AnnouncementLen); err != nil {
				return sent
			}
			frames := w.probe.Packets()
			keep := w.probe.Keep()
			for i := range n {
				frames[i] = fastpath.WriteAnnouncement(frames[i], mac, left[i])
				keep[i] = 1
			}
			out, _ := w.probe.SendKept(port, w.queue)
			sent += out
			left = left[n:]
		}
	}
	return sent
}

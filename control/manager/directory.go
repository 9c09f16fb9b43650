package manager

import (
	"net/netip"
	"slices"

	"vec/control/ids"
	"vec/fastpath"
)

// Directory maps what the servers' agents report (a connection's protocol,
// VIP and port, and the server address of the agent that reported it) to
// the fastpath's service and server IDs in force when it was taken; see
// recovery.Directory. It is an immutable copy: the configuration may change
// while a rebuild uses it.
type Directory struct {
	byKey map[directoryKey]directoryIDs
	vips  []netip.Addr
}

type directoryKey struct {
	proto    uint8
	vip      netip.AddrPort
	serverIP netip.Addr
}

type directoryIDs struct {
	service fastpath.ServiceID
	server  fastpath.ServerID
}

// Directory returns the directory of the configuration in force. Draining
// servers are in it: their open connections go on after a rebuild too.
func (m *Manager) Directory() *Directory {
	m.mu.Lock()
	defer m.mu.Unlock()
	return newDirectory(m.ids)
}

func newDirectory(s ids.State) *Directory {
	d := &Directory{byKey: map[directoryKey]directoryIDs{}}
	for _, svc := range s.Services {
		vip := netip.AddrPortFrom(svc.Key.VIP, svc.Key.Port)
		if !slices.Contains(d.vips, svc.Key.VIP) {
			d.vips = append(d.vips, svc.Key.VIP)
		}
		for _, srv := range svc.Servers {
			d.byKey[directoryKey{proto: svc.Key.Proto, vip: vip, serverIP: srv.Spec.IP}] =
				directoryIDs{service: svc.ID, server: srv.ID}
		}
	}
	return d
}

// Lookup returns the IDs of the service (proto, vip) and of its server at
// serverIP, or false when the service has no server at that address.
func (d *Directory) Lookup(proto uint8, vip netip.AddrPort, serverIP netip.Addr) (fastpath.ServiceID, fastpath.ServerID, bool) {
	ids, ok := d.byKey[directoryKey{proto: proto, vip: vip, serverIP: serverIP}]
	return ids.service, ids.server, ok
}

// VIPs returns every VIP of the configuration, in file order.
func (d *Directory) VIPs() []netip.Addr { return slices.Clone(d.vips) }

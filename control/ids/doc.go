// Package ids gives services and servers the fastpath IDs they keep for as
// long as they exist: connection entries and per-core counters are keyed by
// fastpath.ServiceID and fastpath.ServerID, so a change of configuration
// must not renumber what it keeps.
//
// A service is identified by (VIP, protocol, port) and a server by (its
// service's identity, server IP); names are labels and may change. Planning
// a new configuration against the current State keeps the ID of every
// identity that stays, gives a new identity the lowest free ID, and turns an
// identity that went away into a draining one: it keeps its ID, stays in
// the fastpath with weight 0 (so its open connections still find its MAC
// and its service's timers) until its drain deadline, and its ID is free
// for reuse only once it is released. States are values: Plan and Release
// return a new State and never change the old one, so a change that the
// fastpath rejects leaves nothing behind.
package ids

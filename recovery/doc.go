// Package recovery keeps open connections alive when a gateway fails or
// restarts: it decides which gateway forwards, and makes the one that takes
// over rebuild its connection table from the servers' agents.
//
// Two parts (docs/recovery.md describes both):
//
//   - HA: the gateways sharing a configuration exchange authenticated UDP
//     heartbeats on their management interface (Heartbeat, UDPTransport);
//     a state machine per gateway (HA) moves between backup, candidate and
//     active like VRRP (master-down interval, preemption, graceful stop),
//     and against split brain holds a lease for its term from a majority
//     of the agents as witnesses (Witnesses, AgentWitnesses): a gateway
//     forwards only while it holds one, so two gateways that cannot hear
//     each other never both forward. The HA machine drives a Controller
//     that activates or deactivates the dataplane.
//   - Takeover and rebuild: the gateway that becomes active fences the VIPs
//     (gratuitous ARP), asks every agent for its shadow table in parallel
//     with one deadline, installs each entry on the worker RSS hands that
//     flow to, and then forwards (Takeover, Rebuild, Announcer).
package recovery

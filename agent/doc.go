// Package agent is vec-agent, the program each server runs for the gateways:
// it serves the server's shadow connection table (the patent's recovery
// data: every TCP connection and UDP socket whose local address is one of
// the server's VIPs, read from the kernel through sock_diag) and its host
// metrics (IBM's Metric Server), and witnesses the gateways' leases, over
// the authenticated HTTP/JSON protocol of agent/wire and agent/auth.
//
// Table maps kernel sockets to entries (GatewayState maps TCP states to the
// gateway's ACTIVE and FIN); Witness grants one gateway at a time a lease
// for its term (the agent's vote in the gateways' split-brain protection);
// NewHandler serves both in signed replies, the table cursor-paged; Run is
// the daemon: configuration (LoadConfig, Validate), listener, capability
// drop, metric collection, clean shutdown. The gateway side is agent/client.
// docs/agent.md describes protocol, states and privileges.
package agent

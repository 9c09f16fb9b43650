// Command vec-agent runs on every real server behind a vec gateway. It
// serves the server's shadow connection table (its own kernel's TCP
// connections and UDP sockets on the VIPs, read through netlink sock_diag)
// and its host metrics to the gateways, and grants them witness leases,
// over an authenticated HTTP/JSON protocol; it drops every capability once
// started.
//
//	vec-agent --config /etc/vec-agent/vec-agent.yaml
//	vec-agent --name server-1 --listen 192.0.2.11:10004 --vip 198.51.100.10 --key-file agent.key
//	vec-agent --config vec-agent.yaml --check   # validate and exit
//	vec-agent --check-config vec-agent.yaml     # the file alone: exit 0 valid, 1 invalid, 2 unreadable
//	vec-agent decap --mode ipip,gue [--tun vecdecap0] [--gue-port 6080]
//
// The decap subcommand is a separate process, run as root where the kernel
// has no ipip or fou device, for a gateway in encapsulation mode: it
// decapsulates IPIP and GUE into a TUN device (package agent/decap).
// Flags override the file's keys. Build it static: CGO_ENABLED=0 go build.
// It stops cleanly on SIGINT or SIGTERM. See configs/vec-agent.yaml,
// configs/vec-agent.service and docs/agent.md.
package main

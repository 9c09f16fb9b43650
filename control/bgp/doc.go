// Package bgp announces the gateway's VIPs to routers over BGP, so that
// several active gateways can share the VIPs' traffic behind routers that
// spread it by ECMP. It embeds GoBGP (github.com/osrg/gobgp/v3) as a
// library: a Speaker connects out to the configured peers (it does not
// listen on port 179), announces every VIP that has a server taking new
// connections as an IPv4 /32 with the gateway's data-plane address as next
// hop, and withdraws it when the VIP loses its last such server, while the
// gateway is drained (Drain), and before it stops (Stop).
//
// The speaker does not look at the manager itself: its owner (vecd) hands
// it the eligible VIPs and whether the gateway forwards (Update), and the
// speaker announces or withdraws what changed.
package bgp

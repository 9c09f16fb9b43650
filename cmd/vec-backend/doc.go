// Command vec-backend is the test server run in every server namespace of the
// test cluster (scripts/netns.sh). It binds the wildcard address of both
// IPv4 and IPv6, so it answers on the server's own addresses and on the VIPs
// held on its loopback, of either family:
//
//	GET /                  "NAME\n" with header X-Vec-Server: NAME (also the health check)
//	GET /bytes?n=N&seed=S&rate=R
//	                       N bytes of the deterministic stream for seed S
//	                       (package vec/e2e/traffic), paced to R bytes/s if R > 0
//	UDP :5353              echoes "NAME " + payload, sent from the address the
//	                       datagram was sent to (the VIP under DSR), over
//	                       IPv4 and IPv6 (one socket each)
//
// Usage: vec-backend -name s1 [-http :80] [-udp :5353] [-delay D] [-workers K]
// [-control ADDR]. An -http or -udp address with a host serves that
// address (and so its family) only. It stops cleanly on SIGINT or SIGTERM.
//
// A slow server, for the manager's tests: with -delay D every GET / takes D
// before it is answered, and with -workers K at most K of them are served at
// once while the others wait in line, first come first served. K gives the
// server a capacity (K/D requests per second), so a server that is slow is
// also one that queues, and its latency grows with the load it is sent,
// like a real overloaded server. 0 (the defaults) answers at once, with no
// limit. /bytes and the UDP echo are never delayed.
//
// -control ADDR serves the run-time control on its own listener, which a
// test in another namespace drives over the network: bind it to the
// server's own address (e.g. 10.99.0.12:8079), not the VIP, so that it is
// never reached through the gateway.
//
//	GET /delay             the current delay ("20ms\n")
//	PUT /delay?d=20ms      sets it for the requests served from then on and
//	                       prints it; 400 for anything but a duration 0..1m
//
// e.g. `ip netns exec vecc curl -X PUT 'http://10.99.0.12:8079/delay?d=20ms'`.
package main

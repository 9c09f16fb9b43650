// Command vec-backend is the test server run in every server namespace of the
// test cluster (scripts/netns.sh). It binds the wildcard address, so it
// answers on the server's own address and on the VIP held on its loopback:
//
//	GET /                  "NAME\n" with header X-Vec-Server: NAME (also the health check)
//	GET /bytes?n=N&seed=S&rate=R
//	                       N bytes of the deterministic stream for seed S
//	                       (package vec/e2e/traffic), paced to R bytes/s if R > 0
//	UDP :5353              echoes "NAME " + payload, sent from the address the
//	                       datagram was sent to (the VIP under DSR)
//
// Usage: vec-backend -name s1 [-http :80] [-udp :5353]. It stops cleanly on
// SIGINT or SIGTERM.
package main

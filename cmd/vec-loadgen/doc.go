// Command vec-loadgen is the test client run in the client namespace of the
// test cluster (scripts/netns.sh) against vec-backend, through the gateway's
// VIP or straight to a server's address:
//
//	-mode http      -n 2000 -c 32: one fresh TCP connection per request
//	                (Connection: close), counts replies per server; with
//	                -conn-rate R the requests start at a steady R per second,
//	                or with -arrivals poisson after random gaps of mean 1/R
//	                (seeded by -seed): open-loop load, which does not slow
//	                down with the servers as long as -c workers are free;
//	                -requests FILE writes every request as a CSV line (when
//	                it was due and started, its latency, the server, the
//	                error class), for figures over part of a run
//	-mode download  -parallel 50 -size 20000000: checks every body's SHA-256
//	                against the deterministic stream; with -rate R each one
//	                is paced to R bytes/s, a long-lived stream (the report
//	                says when the last one connected and the first ended)
//	-mode udp       -n 1000 -flows 50: datagrams from several source ports,
//	                records which server answered each flow
//	-mode stray     ACK+PSH segments of a connection that does not exist, sent
//	                with a raw socket; reports whether anything came back
//	                (IPv4 only)
//
// -target is an IPv4 or IPv6 address with an optional port (10.99.0.100,
// 10.99.0.100:80, fd00:99::100, [fd00:99::100]:80). Requests are spread
// round-robin over -sources, which must all be of the target's family
// (default: every non-loopback address of that family in the namespace,
// for IPv6 the global unicast ones, not link-local). Every run is bounded by -n and -timeout.
// -json prints a traffic.Report. Exit status: 0 every check held, 1 some
// check failed (the report says which; for stray, an answer is a failure),
// 2 bad usage or setup.
package main

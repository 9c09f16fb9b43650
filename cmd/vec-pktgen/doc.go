// Command vec-pktgen is a DPDK traffic generator and sink for benchmarking
// vecd: it drives one port (by default a net_vhost port, whose peer is
// vecd's net_virtio_user port; on bare metal a NIC), plays TCP clients
// towards a VIP and counts what comes back.
//
//	vec-pktgen [-mode tcp|syn|stray|mixed] [-flows N] [-replay=false] [-rate PPS] [-duration D] [-no-return]
//	           [-servers MAC=W,...] [-vdev net_vhost0,iface=/tmp/vec-vhost.sock,queues=1]
//	           [-core 0] [-main-lcore 0] [-json result.json]
//	vec-pktgen suite [-vecd bin/vecd] [-duration 5s] [-out bench/results.json] ...
//	vec-pktgen merge [-results bench/results.json] [-control bench/control.json] [-upload bench/upload.json] [-chart bench/results.svg]
//
// Traffic: N concurrent flows from many client addresses (flow i is the
// (i / clients)-th flow of client i % clients) to the VIP, each playing
// connections one after another — SYN, ACK, data segments, FIN, last ACK,
// then the next connection from a new source port — with real sequence
// numbers and checksums, addressed to vecd's gateway MAC. One packet per
// flow per pass, flows in order (a closing flow sends its FIN and its last
// ACK together, as a round trip apart is far less than a pass); the first
// pass opens every flow's connection (the warm-up, not measured). syn mode opens and resets
// connections (new connections per second); stray mode sends segments of
// flows that never opened (vecd must drop them all); mixed mode plays short
// connections with IMIX data sizes and one stray in sixteen packets.
//
// Replay (tcp and stray modes, the default): the traffic is prepared ahead,
// as TRex or pktgen-dpdk do. In tcp mode the warm-up is every flow's
// handshake (a pass of SYNs, then one of ACKs), and then one pre-built data
// segment per flow, built before the run, is sent over and over in flow
// order; stray mode replays one segment per stray tuple. -replay=false
// plays whole tcp connections as above. Every frame goes out by copy from C
// memory, one cgo call per burst (dpdk.Frames): replayed frames cost no Go
// work per packet, planned ones (syn, mixed) are written a burst at a time.
//
// Rate: full speed, or -rate packets per second; either way at most
// -window flow packets are in flight, so the forwarder's transmit ring can
// never overflow because the generator was descheduled. With -no-return
// the peer is a sink (testpmd icmpecho answers the probes and frees the
// rest): no window and no drain, and the rate sent is the generator's
// offered rate alone.
//
// Sink: vecd forwards out the port it received on, so the generator gets
// the frames back with the chosen server's MAC as destination. It counts
// them per destination MAC, checks that every packet of a connection went
// to the MAC its SYN went to (misrouted), that nothing was lost, and that
// new connections were split by the -servers weights.
//
// Report: Mpps sent and received, Gbit/s, new connections per second over
// the measured window; loss, misrouting and the split over the whole run;
// the cores the worker ran on. As text, and as JSON with -json (see
// benchrun.GenResult).
//
// Threads: EAL gets only the main lcore; the worker is a goroutine
// registered with DPDK and pinned to -core, and every other thread of the
// process is kept on the main lcore's core, away from the forwarder.
//
// `vec-pktgen suite` runs the whole benchmark (package benchrun): testpmd
// io-fwd and vecd, one after the other, over the same pair, per case.
// `vec-pktgen merge`, the last step of `make bench`, measures nothing: it
// folds vec-bench -control's and scripts/bench-upload.sh's results into the
// suite's report, redraws its chart and prints every figure of the run
// with its baseline (benchrun.MergeMain).
package main

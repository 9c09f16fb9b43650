// Package advisor holds the forward metrics of the patent (IBM's advisors):
// probes sent from the gateway to every server of one service, each timed,
// that mark a server down for that service when it stops answering.
//
// An Advisor probes each Target on its own goroutine every Interval; a probe
// slower than Timeout failed, and one target's probes never wait for
// another's. The probe types are:
//
//   - http: a request (method, path, Host header) whose response must carry
//     the expected status; at most 64 KiB of the body is read and discarded.
//     Redirects are not followed: the status is the server's own.
//   - https: the same over TLS. The certificate is not verified (the probe
//     checks liveness, not identity); the TLS server name is the Host header
//     when one is given.
//   - tcp: a connect, closed as soon as it succeeds.
//   - udp: a datagram (Send) whose reply must arrive within Timeout and
//     contain Expect when Expect is not empty.
//   - custom: an executable run without a shell, killed (with every process
//     it started) at Timeout. Exit status 0 means up; a number on the first
//     line of its standard output is the Metric. It learns its target from
//     the environment (VEC_ADVISOR, VEC_SERVER, VEC_IP, VEC_PORT) and from
//     the placeholders {server}, {ip}, {port} and {addr} in its arguments.
//
// Every probe opens a new connection (HTTP keep-alives are off) and ignores
// the proxy settings of the environment, so a probe measures what a new
// client connection would meet.
//
// States are dampened so that one lost probe does not flap a server: a target
// starts up, goes down after Fall consecutive failures and comes back after
// Rise consecutive successes. Latency, Metric and HaveMetric are those of the
// last successful probe. State changes are logged at info level with the
// reason; failed probes are logged at most once a minute per target.
//
// With direct server return the servers hold the VIP on their loopback and
// answer from it, so the gateway cannot reach one chosen server through the
// VIP: probes go to each server's own address (Target.Addr: the server's IP
// and the service's or the advisor's port), which reaches the same listener
// when the service listens on every address. A service bound to the VIP alone
// is probed through the VIP by a custom advisor whose command runs the check
// on the server itself, where the VIP is local (for example
// ["ssh", "{ip}", "curl", "-sf", "http://VIP/"]). A probe through the gateway,
// from a host on the clients' side, checks the service as a whole rather
// than one server, since the gateway picks the server.
package advisor

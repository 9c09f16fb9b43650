// Package decap is vec-agent's userspace decapsulator, for servers whose
// kernel has no ipip or fou support but which a gateway in encapsulation
// mode forwards to. It reads the encapsulated packets from a raw IPPROTO_IPIP
// socket (mode ipip) and from a UDP socket on the GUE port (mode gue),
// strips the outer headers (FromIPIP, FromGUE: pure functions) and writes
// the inner packet, still addressed to the VIP, into a TUN device, so the
// kernel receives it as if it had arrived on that device and the server
// answers the client directly, as with direct server return.
//
// Open creates the TUN device and the sockets in the caller's network
// namespace; Serve forwards until its context ends, counting every packet
// delivered and every one dropped, per reason (Stats).
package decap

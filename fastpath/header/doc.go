// Package header holds typed, allocation-free views over raw frame bytes, in
// the style of gvisor's pkg/tcpip/header: Ethernet, ARP, IPv4, TCP, UDP and
// ICMP headers, the named offsets of their fields, getters and setters, and
// the checks that say what is wrong with a header (Problem).
//
// It imports nothing from vec, so the fastpath, the gateway, the tools and
// the tests all read and write frames through the same views and the same
// offsets instead of bare numbers.
package header

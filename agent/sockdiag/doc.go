// Package sockdiag lists the kernel's TCP and UDP sockets through netlink
// sock_diag (NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY with inet_diag_req_v2),
// the interface ss(8) uses, instead of parsing /proc/net/*.
//
// The request and the replies are encoded and decoded here by hand, through
// typed views over the raw bytes (no unsafe, no cgo). A Filter's local
// addresses are compiled into inet_diag bytecode so the kernel itself drops
// every socket that is not on one of them; a dump of a host with many unrelated
// sockets therefore costs little more than a dump of the matching ones.
//
// A Conn belongs to the network namespace it was opened in; reading that
// namespace's sockets needs no capability (see docs/agent.md).
package sockdiag

// Package netnstest gives tests a network namespace of their own (ip netns
// add), with loopback up and addresses on it, and runs code inside it;
// namespaces can be linked by veth pairs and hold a UDP echo service, and a
// client can send a server encapsulated packets (IPIP, GUE). It
// needs root; without it a test is skipped, unless CI=true, where it fails
// (docs/TEAM-RULES.md). Namespaces are deleted when the test ends, failed or
// not, and leftovers of killed test processes are removed by the next run.
package netnstest

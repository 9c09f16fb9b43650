// Package e2e runs vec end to end on one machine: it brings up the namespace
// test cluster of scripts/netns.sh (a client, one or more gateways, N
// servers on one bridged segment), starts processes inside its namespaces
// and cleans everything up through t.Cleanup.
//
//	c := e2e.StartCluster(t, e2e.Options{Servers: 3, Backends: true})
//	vecd := c.Start(c.GatewayNS(), "vecd", e2e.Binary(t, "vecd"), "-config", cfg)
//	rep := c.Loadgen("-mode", "http", "-n", "2000", "-c", "32")
//
// The cluster has fixed names and addresses, so there is one per machine:
// tests that use it must not call t.Parallel. They need root; without it they
// fail when CI=true and skip otherwise (RequireRoot). VEC_KEEP_CLUSTER=1
// leaves the topology up after the test for inspection.
package e2e

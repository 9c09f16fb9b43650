// Package weights is the patent's manager: the computation that turns the
// metrics of a service's servers into new server weights (the patent's
// Fig. 9), so new connections move away from loaded, slow or dead servers.
//
// Compute is the formula alone, a pure function of its inputs: per service,
// each server's weight in force, its state (quiesced, fixed, down, held by a
// rule) and one metric per class (active connections, new connections in
// the interval, advisor latency, a host metric). It returns every server's
// new weight with the reason and the proportions behind it, and whether the
// change is large enough to send to the workers. Gathering the metrics,
// running the loop each interval and applying the weights belong to the
// caller. docs/manager.md explains the formula with a worked example.
//
// The package named control/manager is a different thing: it applies
// configuration.
package weights

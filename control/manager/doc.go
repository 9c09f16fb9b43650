// Package manager is the running control plane of vecd: it holds the
// configuration in force, turns every change — a reloaded file, an API
// request, a server resolved by ARP, a drain that ended — into a complete
// fastpath snapshot, and hands it to the workers through a
// dataplane.Dataplane (the gateway's per-worker mailboxes), returning only
// once every worker runs it.
//
// A change is validated as a whole (the new configuration must pass
// config.Validate, leave the start-up-only sections alone, get IDs from
// control/ids and compile with fastpath.NewSnapshot) and is then applied
// atomically, or rejected with the problems named and nothing changed.
// Removed servers and services drain: they stay in the snapshot with weight
// 0 until their connections have ended or their drain_timeout has passed;
// then the workers drop whatever entries remain and their IDs are released.
//
// The package never touches a worker's memory and has no cgo: tests run it
// against a fake dataplane.Dataplane (managertest).
package manager

// Package dataplane is the contract between the control plane and the
// data plane: what the manager asks of the workers and what comes back.
// The manager (control/manager) drives a Dataplane; the gateway's workers
// implement it. It imports only fastpath, so the gateway depends on none
// of the control plane's packages.
package dataplane

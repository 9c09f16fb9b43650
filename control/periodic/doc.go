// Package periodic runs the control plane's background probes and scripts
// (control/advisor, control/rules): jobs each on its own goroutine, run at
// once and then every interval, that can be stopped and started again.
package periodic

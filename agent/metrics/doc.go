// Package metrics produces the agent's host metrics, the patent's "system
// metrics" that IBM shipped as the Metric Server: CPU utilisation sampled
// from /proc/stat over an interval, load averages, memory in use
// (MemTotal − MemAvailable), and any number of operator-defined metrics, each
// the number a script prints, run on its own interval with a timeout.
//
// A script never blocks the agent: it runs in its own process group, is
// killed with the whole group when its timeout expires, and its pipes are
// abandoned shortly after; a script that times out, exits non-zero or prints
// no finite number yields "no value" (a nil Value with the reason in Error).
package metrics

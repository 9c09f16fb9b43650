package gateway

import (
	"os"
	"runtime/debug"
)

// GCMemoryLimit is the heap size at which the garbage collector of a vecd
// process runs (TuneGC).
const GCMemoryLimit = 128 << 20

// TuneGC makes the garbage collector run only when the heap nears
// GCMemoryLimit instead of whenever it has doubled. The control plane's
// live heap is a few megabytes, so with Go's default (GOGC=100) a control
// API or metrics load of tens of MB/s meant tens of collections a second,
// and every collection takes CPU from, and briefly stops, the poll loops
// (docs/metrics.md gives the measurements). GOGC or GOMEMLIMIT in the
// environment take precedence; TuneGC then changes nothing and reports
// false.
func TuneGC() bool {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return false
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(GCMemoryLimit)
	return true
}

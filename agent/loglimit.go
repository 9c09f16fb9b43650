package agent

import (
	"sync"
	"time"
)

// Refused requests are logged at most refusalLogBurst times per
// refusalLogPeriod: a flood of forged, replayed or unauthenticated requests
// must not flood the journal (or fill the disk) with one line each.
const (
	refusalLogPeriod = 10 * time.Second
	refusalLogBurst  = 5
)

// logLimiter lets at most burst lines through per period and counts the
// ones it holds back; the next line let through carries that count.
type logLimiter struct {
	period time.Duration
	burst  int
	now    func() time.Time

	mu         sync.Mutex
	start      time.Time // of the current period
	logged     int       // lines let through in the current period
	suppressed int       // lines held back since the last one let through
}

func newLogLimiter(period time.Duration, burst int, now func() time.Time) *logLimiter {
	return &logLimiter{period: period, burst: burst, now: now}
}

// allow reports whether a line may be logged now and, if so, how many were
// held back since the last one logged (to be logged with it).
func (l *logLimiter) allow() (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.start.IsZero() || now.Sub(l.start) >= l.period || now.Before(l.start) {
		l.start, l.logged = now, 0
	}
	if l.logged >= l.burst {
		l.suppressed++
		return false, 0
	}
	l.logged++
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

package acmeforward

import "sync/atomic"

// maxLookupLogLines bounds the info lines of forwarded challenge lookups per
// second: an operator watching a check sees every line, a flood of challenge
// questions does not become a flood of log lines.
const maxLookupLogLines = 100

// logLimiter allows max lines in each second of the clock (a few more when
// lines race the turn of a second); the rest are counted (suppressedLogCount)
// instead of written. Lock-free: one window (the second) and its count, reset
// by whoever first sees a new second.
type logLimiter struct {
	max    int64
	second atomic.Int64
	count  atomic.Int64
}

// allow reports whether a line may be written in the second now (Unix
// seconds).
func (l *logLimiter) allow(now int64) bool {
	if s := l.second.Load(); s != now && l.second.CompareAndSwap(s, now) {
		l.count.Store(0)
	}
	return l.count.Add(1) <= l.max
}

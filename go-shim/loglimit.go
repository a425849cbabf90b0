package acmeforward

import "sync/atomic"

// maxLookupLogLines bounds the info lines of forwarded challenge lookups per
// second: an operator watching a check sees every line, a flood of challenge
// questions does not become a flood of log lines.
const maxLookupLogLines = 100

// logLimiter allows max lines in each second of the clock; the rest are
// counted (suppressedLogCount) instead of written. Lock-free and exact: the
// second and its count are one word, changed together by compare-and-swap.
type logLimiter struct {
	max int64
	// state is the second (low 32 bits of the Unix time) << 32 | its count.
	state atomic.Uint64
}

// allow reports whether a line may be written in the second now (Unix
// seconds).
func (l *logLimiter) allow(now int64) bool {
	if l.max <= 0 {
		return false
	}
	second := uint64(uint32(now)) << 32
	for {
		old := l.state.Load()
		next := second | 1
		if old&^0xffffffff == second {
			if int64(old&0xffffffff) >= l.max {
				return false
			}
			next = old + 1
		}
		if l.state.CompareAndSwap(old, next) {
			return true
		}
	}
}

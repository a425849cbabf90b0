package acmeforward

import (
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Identical questions in flight at once share one exchange: the first query
// (the leader) runs it, the others (followers) wait for its outcome and get
// the core's answer for their own query (afwd_exchange_answer_for: own ID,
// letter case, RD, EDNS0 and size). A pod repeating a question, or many
// pods asking the same challenge name, then cost one upstream exchange.

// flightKey is what makes two questions the same here: name (ASCII
// case-insensitive), type, class, and the DO and CD bits. The core checks
// the same when it answers a follower and refuses otherwise (the follower
// then runs an exchange of its own), so this key only groups.
type flightKey struct {
	name          string
	qtype, qclass uint16
	do, cd        bool
}

func keyOf(r *dns.Msg) flightKey {
	q := r.Question[0]
	k := flightKey{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass, cd: r.CheckingDisabled}
	if o := r.IsEdns0(); o != nil {
		k.do = o.Do()
	}
	return k
}

// outcome is how a flight ended, as its followers see it.
type outcome int

const (
	// abandoned: the leader ended without the core's verdict (its client
	// went away, the engine was closed, a packing error); followers start
	// over, and one of them leads.
	abandoned outcome = iota
	// answered: the exchange holds an answer for every follower.
	answered
	// failed: the core gave up (FAIL); followers get SERVFAIL too.
	failed
)

// flight is one exchange in flight and the queries waiting on it.
type flight struct {
	done chan struct{} // closed by land
	refs int           // queries holding the flight; guarded by flights.mu

	// Set by land before done is closed; read-only afterwards.
	outcome outcome
	ex      *exchange // answered: the exchange, closed by the last release
	reason  string    // failed: the core's reason
}

// flights are the flights of one plugin instance (one engine), by key.
type flights struct {
	mu sync.Mutex
	m  map[flightKey]*flight
}

// join returns the flight for key, and whether the caller leads it (then it
// must land it). Every joiner must release it.
func (fs *flights) join(key flightKey) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok {
		f.refs++
		return f, false
	}
	if fs.m == nil {
		fs.m = make(map[flightKey]*flight)
	}
	f := &flight{done: make(chan struct{}), refs: 1}
	fs.m[key] = f
	return f, true
}

// land publishes the leader's outcome: no query joins the flight afterwards,
// and its followers wake up. ex is the answered exchange (nil otherwise),
// which the flight now owns.
func (fs *flights) land(key flightKey, f *flight, o outcome, ex *exchange, reason string) {
	fs.mu.Lock()
	if fs.m[key] == f {
		delete(fs.m, key)
	}
	fs.mu.Unlock()
	f.outcome, f.ex, f.reason = o, ex, reason
	close(f.done)
}

// release drops one query's hold on the flight; the last one closes the
// exchange.
func (fs *flights) release(f *flight) {
	fs.mu.Lock()
	f.refs--
	last := f.refs == 0
	fs.mu.Unlock()
	if last && f.ex != nil {
		f.ex.Close()
	}
}

package acmeforward

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// portsUpstream answers every challenge TXT, except the queries for which
// silent says so, and records the source port of every query.
func portsUpstream(t *testing.T, silent func(n int32) bool) (*upstream, func() []int) {
	var mu sync.Mutex
	var ports []int
	var n atomic.Int32
	up := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		mu.Lock()
		ports = append(ports, w.RemoteAddr().(*net.UDPAddr).Port)
		mu.Unlock()
		if silent(n.Add(1)) {
			return
		}
		txtAnswer("token", 60)(w, r)
	})
	return up, func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), ports...)
	}
}

func distinct(ports []int) int {
	seen := map[int]bool{}
	for _, p := range ports {
		seen[p] = true
	}
	return len(seen)
}

// Tries to a `to` resolver reuse a pooled socket, up to maxSocketUses tries,
// then a new one (with a new port) takes over.
func TestResolverSocketsAreReusedThenReplaced(t *testing.T) {
	up, ports := portsUpstream(t, func(int32) bool { return false })
	a, next := newTestPlugin(t, block("example.com", "2s", up.addr))
	for i := range maxSocketUses + 1 {
		q := challengeQuery(challenge)
		q.Id = uint16(i)
		forwarded(t, a, next, q)
	}
	got := ports()
	if len(got) != maxSocketUses+1 {
		t.Fatalf("the upstream got %d queries, want %d", len(got), maxSocketUses+1)
	}
	if n := distinct(got[:maxSocketUses]); n != 1 {
		t.Errorf("the first %d tries came from %d source ports, want 1 (one pooled socket)", maxSocketUses, n)
	}
	if got[maxSocketUses] == got[0] {
		t.Errorf("try %d still came from port %d: a socket serves at most %d tries", maxSocketUses+1, got[0], maxSocketUses)
	}
}

// A try that timed out does not give its socket back: a late reply must not
// meet the next query there.
func TestSocketOfATimedOutTryIsClosed(t *testing.T) {
	up, ports := portsUpstream(t, func(n int32) bool { return n == 1 })
	a, next := newTestPlugin(t, block("example.com", "100ms", up.addr))
	if rc, _, _, _ := serve(t, a, challengeQuery(challenge), false); rc != dns.RcodeServerFailure {
		t.Fatalf("first query (upstream silent): rcode %s, want SERVFAIL", dns.RcodeToString[rc])
	}
	forwarded(t, a, next, challengeQuery(challenge))
	forwarded(t, a, next, challengeQuery(challenge))
	got := ports()
	if len(got) != 3 || got[0] == got[1] || got[1] != got[2] {
		t.Errorf("source ports %v: want the timed-out try's port never again, then one socket reused", got)
	}
	if err := a.OnShutdown(); err != nil {
		t.Fatal(err)
	}
	if len(a.up.pool.idle) != 0 || !a.up.pool.closed {
		t.Errorf("after shutdown: %d idle sockets, closed %v; want none, closed", len(a.up.pool.idle), a.up.pool.closed)
	}
}

package acmeforward

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// heldUpstream answers every query with a TXT "token", but only once release
// is closed; it counts the queries it got.
func heldUpstream(t *testing.T) (*upstream, chan struct{}) {
	release := make(chan struct{})
	up := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		<-release
		txtAnswer("token", 300)(w, r)
	})
	return up, release
}

// serveAll runs each query through the plugin in its own goroutine (over UDP
// or TCP) and returns what each client got, once every one was answered.
func serveAll(t *testing.T, a *AcmeForward, qs []*dns.Msg, tcp func(int) bool, started func()) []*captureWriter {
	t.Helper()
	out := make([]*captureWriter, len(qs))
	var wg sync.WaitGroup
	for i, q := range qs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, out[i], _ = serve(t, a, q, tcp(i))
		}()
	}
	started()
	wg.Wait()
	return out
}

// waitDeadline bounds every waitFor: far more than the goroutines under test
// need, so that a bug fails the test instead of hanging it.
const waitDeadline = 10 * time.Second

// waitFor waits until cond holds (the goroutines under test get there without
// any timer involved: it yields, then sleeps briefly), and fails the test if
// that takes waitDeadline. what says what was awaited.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitDeadline)
	for i := 0; !cond(); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", waitDeadline, what)
		}
		if i < 1000 {
			runtime.Gosched()
		} else {
			time.Sleep(time.Millisecond)
		}
	}
}

func TestIdenticalQuestionsShareOneExchange(t *testing.T) {
	up, release := heldUpstream(t)
	a, _ := newTestPlugin(t, block("example.com", "5s", up.addr))
	shared := sharedAnswerCount.WithLabelValues("")
	before := testutil.ToFloat64(shared)
	logs := captureLog(t)

	// The same question from eight clients, in their own letter case and ID;
	// half over TCP, one with EDNS0 (its size is its own).
	spellings := []string{challenge, "_ACME-challenge.www.example.com.", "_acme-challenge.WWW.Example.COM."}
	var qs []*dns.Msg
	for i := range 8 {
		q := challengeQuery(spellings[i%len(spellings)])
		q.Id = uint16(0x1000 + i)
		q.RecursionDesired = i%2 == 0
		if i == 3 {
			q.SetEdns0(1232, false)
		}
		qs = append(qs, q)
	}
	key := keyOf(qs[0])
	got := serveAll(t, a, qs, func(i int) bool { return i%2 == 1 }, func() {
		// Every client waits on the one flight before the upstream answers
		// (or, were they not sharing, a second query reached the upstream).
		waitFor(t, "every client to join the flight", func() bool { return a.flights.waiting(key) == len(qs) || up.udp.Load()+up.tcp.Load() > 1 })
		close(release)
	})

	if n := up.udp.Load() + up.tcp.Load(); n != 1 {
		t.Errorf("the upstream got %d queries for %d identical questions, want 1", n, len(qs))
	}
	for i, cw := range got {
		reply := cw.reply(t)
		checkAnswer(t, reply, qs[i], "token")
		if reply.RecursionDesired != qs[i].RecursionDesired {
			t.Errorf("client %d: RD = %v, want its own %v", i, reply.RecursionDesired, qs[i].RecursionDesired)
		}
		if (reply.IsEdns0() != nil) != (qs[i].IsEdns0() != nil) {
			t.Errorf("client %d: OPT in the reply = %v, want it as the client sent", i, reply.IsEdns0() != nil)
		}
	}
	if d := testutil.ToFloat64(shared) - before; d != float64(len(qs)-1) {
		t.Errorf("shared_answers_total grew by %v, want %d", d, len(qs)-1)
	}
	// Each client's lookup is logged: the one that asked, with the upstream.
	if n := strings.Count(logs.String(), " TXT to="+up.addr+" rcode=NOERROR "); n != 1 {
		t.Errorf("%d log lines name the upstream, want 1: %q", n, logs.String())
	}
	if n := strings.Count(logs.String(), " TXT to=shared rcode=NOERROR "); n != len(qs)-1 {
		t.Errorf("%d log lines say shared, want %d: %q", n, len(qs)-1, logs.String())
	}
	if n := a.flights.waiting(key); n != 0 {
		t.Errorf("%d queries still hold the flight", n)
	}
}

func TestDifferentQuestionsDoNotShare(t *testing.T) {
	up, release := heldUpstream(t)
	a, _ := newTestPlugin(t, block("example.com", "5s", up.addr))
	// Same name: other type, DO set, CD set, another name. Each is its own
	// exchange (DO and CD change what the upstream sends).
	plain := challengeQuery(challenge)
	do := challengeQuery(challenge)
	do.SetEdns0(1232, true)
	cd := challengeQuery(challenge)
	cd.CheckingDisabled = true
	other := challengeQuery("_acme-challenge.other.example.com.")
	qs := []*dns.Msg{plain, do, cd, other}
	got := serveAll(t, a, qs, func(int) bool { return false }, func() {
		waitFor(t, "a query per question at the upstream", func() bool { return up.udp.Load() == int32(len(qs)) })
		close(release)
	})
	for i, cw := range got {
		checkAnswer(t, cw.reply(t), qs[i], "token")
	}
	if n := up.udp.Load(); n != int32(len(qs)) {
		t.Errorf("the upstream got %d queries, want %d (one per distinct question)", n, len(qs))
	}
}

func TestFollowersShareAFailure(t *testing.T) {
	// Every upstream answers SERVFAIL: the core gives up once, and every
	// waiting client gets SERVFAIL from that one exchange.
	var queries atomic.Int32
	release := make(chan struct{})
	up := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		queries.Add(1)
		<-release
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeServerFailure)
		_ = w.WriteMsg(m)
	})
	a, _ := newTestPlugin(t, block("example.com", "5s", up.addr))
	var qs []*dns.Msg
	for i := range 4 {
		q := challengeQuery(challenge)
		q.Id = uint16(i + 1)
		qs = append(qs, q)
	}
	key := keyOf(qs[0])
	rcs := make([]int, len(qs))
	var wg sync.WaitGroup
	for i, q := range qs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rcs[i], _, _, _ = serve(t, a, q, false)
		}()
	}
	waitFor(t, "every client to join the flight", func() bool { return a.flights.waiting(key) == len(qs) || queries.Load() > 1 })
	close(release)
	wg.Wait()
	for i, rc := range rcs {
		if rc != dns.RcodeServerFailure {
			t.Errorf("client %d: rcode %s, want SERVFAIL", i, dns.RcodeToString[rc])
		}
	}
	if n := queries.Load(); n != 1 {
		t.Errorf("the upstream got %d queries, want 1", n)
	}
}

// waiting is how many queries hold the flight for key (0 when none is in
// flight).
func (fs *flights) waiting(key flightKey) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok {
		return f.refs
	}
	return 0
}

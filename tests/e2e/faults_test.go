package e2e_test

// Upstream faults against real servers: knot is the healthy upstream, and
// each fault is put in front of it (failover: the client gets knot's answer)
// and then alone with a second server of the same fault (every upstream
// fails: SERVFAIL). Faults that answer in the end (TC then TCP, a slow
// server, one that recovers) must give their answer. After each fault the
// CoreDNS process's goroutines (go_goroutines) and open sockets
// (/proc/<pid>/fd) come back to what they were before it.

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

const (
	faultTimeout = time.Second
	faultSlow    = 300 * time.Millisecond // a slow server's delay, within faultTimeout
	faultFailN   = 3                      // the recovering server's failures
	// Slack over the baseline once a fault is over: the Go runtime and
	// CoreDNS start and end a few goroutines of their own.
	goroutineSlack = 5
	socketSlack    = 2
)

// fault is one row of the table.
type fault struct {
	name string
	// fails: the server never answers usably; else it answers with answer
	// (an outcome: "good", "tcp").
	fails  bool
	answer string
	// start gives a fresh server with this fault.
	start func(t *testing.T) netip.AddrPort
}

func fakeFault(mode world.FakeMode, delay time.Duration) func(t *testing.T) netip.AddrPort {
	return func(t *testing.T) netip.AddrPort {
		return world.FakeT(t, world.FakeConfig{Mode: mode, Delay: delay}).Addr
	}
}

var faults = []fault{
	{"closed-port", true, "", func(t *testing.T) netip.AddrPort { return world.Addr(t) }},
	{"blackhole", true, "", fakeFault(world.FakeSilent, 0)},
	{"servfail", true, "", fakeFault(world.FakeServfail, 0)},
	{"refused", true, "", fakeFault(world.FakeRefused, 0)},
	{"tc-then-tcp", false, "tcp", fakeFault(world.FakeTruncate, 0)},
	{"tc-then-tcp-closed", true, "", fakeFault(world.FakeTruncateNoTCP, 0)},
	{"slow", false, "good", fakeFault(world.FakeSlow, faultSlow)},
}

// faultRow is what one setup of one fault did.
type faultRow struct {
	setup, got                  string
	goroutines, sockets, result string
}

func TestUpstreamFaults(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t) // before anything starts
	w := world.New(t, world.Standard())
	var mu sync.Mutex
	rows := map[string][]faultRow{}
	record := func(name string, r faultRow) {
		mu.Lock()
		rows[name] = append(rows[name], r)
		mu.Unlock()
	}

	t.Run("faults", func(t *testing.T) {
		for _, f := range faults {
			t.Run(f.name, func(t *testing.T) {
				t.Parallel()
				failover, alone := "knot", "servfail"
				if !f.fails {
					failover, alone = f.answer, f.answer
				}
				t.Run("failover", func(t *testing.T) {
					faultSetup(t, w, "failover", []netip.AddrPort{f.start(t), w.Knot.Addr}, func(int) string { return failover }, func(r faultRow) { record(f.name, r) })
				})
				t.Run("all-fail", func(t *testing.T) {
					faultSetup(t, w, "all-fail", []netip.AddrPort{f.start(t), f.start(t)}, func(int) string { return alone }, func(r faultRow) { record(f.name, r) })
				})
			})
		}
		// A server that fails faultFailN times (SERVFAIL) and then answers:
		// knot (or SERVFAIL alone) while it fails, its answer after; no
		// question is held against it once it recovers.
		t.Run("recovers", func(t *testing.T) {
			t.Parallel()
			for _, setup := range []struct {
				name, failing string
				to            func(rec netip.AddrPort) []netip.AddrPort
			}{
				{"failover", "knot", func(rec netip.AddrPort) []netip.AddrPort { return []netip.AddrPort{rec, w.Knot.Addr} }},
				{"all-fail", "servfail", func(rec netip.AddrPort) []netip.AddrPort { return []netip.AddrPort{rec} }},
			} {
				t.Run(setup.name, func(t *testing.T) {
					rec := world.FakeT(t, world.FakeConfig{Mode: world.FakeGood, FailFirst: faultFailN})
					// The fake counts its queries: the first faultFailN fail.
					want := func(int) string {
						if rec.Hits() < faultFailN {
							return setup.failing
						}
						return "good"
					}
					faultSetup(t, w, setup.name, setup.to(rec.Addr), want, func(r faultRow) { record("recovers", r) })
					if rec.Hits() < faultFailN+1 {
						t.Fatalf("the recovering server was asked %d times, want more than %d", rec.Hits(), faultFailN)
					}
				})
			}
		})
	})

	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "fault\tsetup\tclients got\tgoroutines base→after\tsockets base→peak→after\tresult")
	for _, name := range append(faultNames(), "recovers") {
		for _, r := range rows[name] {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, r.setup, r.got, r.goroutines, r.sockets, r.result)
		}
	}
	tw.Flush()
	t.Logf("upstream faults (timeout %v; failover: to FAULT knot; all-fail: to FAULT FAULT', or the recovering server alone):\n%s", faultTimeout, b.String())
}

func faultNames() []string {
	var out []string
	for _, f := range faults {
		out = append(out, f.name)
	}
	return out
}

// faultSetup starts a CoreDNS with these upstreams, asks the challenge once
// to warm up, takes the baseline, asks it twice more over UDP and TCP, each
// answer being want(i) (an outcome), and then waits until goroutines and
// sockets are back at the baseline (with a slack; the wait is a hang guard).
func faultSetup(t *testing.T, w *world.World, setup string, to []netip.AddrPort, want func(i int) string, record func(faultRow)) {
	row := faultRow{setup: setup}
	defer func() {
		row.result = "ok"
		if t.Failed() {
			row.result = "FAIL"
		}
		record(row)
	}()
	// No zone listed: no prefetch of a zone's nameservers, so the servers
	// see the client's questions only (the recovering one counts them).
	s, metrics := startCoreDNSMetrics(t, w, "coredns-fault-"+setup, world.Acme{
		To: to, Timeout: faultTimeout.String(), MaxTTL: 30})
	var got []string
	askOne := func(i int, c client) {
		t.Helper()
		wanted := want(i)
		r, err := c.run(world.Query{Server: s.Addr, Name: world.ExampleCom.Challenge(), Type: "TXT", TCP: c.tcp, Timeout: 15 * time.Second})
		if err != nil {
			t.Fatalf("%s: no usable reply from %s: %v", c.name, s, err)
		}
		o := outcome(r)
		got = append(got, o)
		if o != wanted {
			t.Errorf("%s, question %d: got %s, want %s\n%s", c.name, i, o, wanted, r)
		}
	}
	askOne(0, digUDP)
	baseG, baseS := settle(t, metrics, s)
	peak := world.StartSampler(s.PID(), 20*time.Millisecond, nil)
	i := 1
	for round := 0; round < 2; round++ {
		for _, c := range both {
			askOne(i, c)
			i++
		}
	}
	pk, _, err := peak.Stop()
	if err != nil {
		t.Fatal(err)
	}
	row.got = compact(got)
	g, n := waitBack(t, metrics, s, baseG, baseS)
	row.goroutines = fmt.Sprintf("%d→%d", baseG, g)
	row.sockets = fmt.Sprintf("%d→%d→%d", baseS, pk.Sockets, n)
}

// settle samples goroutines and sockets until two samples in a row agree
// (at most 10 s) and gives the last.
func settle(t *testing.T, metrics netip.AddrPort, s *world.Server) (int, int) {
	t.Helper()
	g, n := goroutines(t, metrics), sockets(t, s)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		g2, n2 := goroutines(t, metrics), sockets(t, s)
		if g2 == g && n2 == n {
			break
		}
		g, n = g2, n2
	}
	return g, n
}

// waitBack polls until goroutines and sockets are at most the baseline plus
// the slack; past the hang guard it fails the test with the last counts.
func waitBack(t *testing.T, metrics netip.AddrPort, s *world.Server, baseG, baseS int) (int, int) {
	t.Helper()
	var g, n int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		g, n = goroutines(t, metrics), sockets(t, s)
		if g <= baseG+goroutineSlack && n <= baseS+socketSlack {
			return g, n
		}
		if time.Now().After(deadline) {
			t.Errorf("goroutines %d (baseline %d), sockets %d (baseline %d): not back within the slack (%d, %d)",
				g, baseG, n, baseS, goroutineSlack, socketSlack)
			return g, n
		}
	}
}

// compact: "knot×3 good×2" from a sequence of outcomes, in order.
func compact(seq []string) string {
	var out []string
	for i := 0; i < len(seq); {
		j := i
		for j < len(seq) && seq[j] == seq[i] {
			j++
		}
		out = append(out, fmt.Sprintf("%s×%d", seq[i], j-i))
		i = j
	}
	return strings.Join(out, " ")
}

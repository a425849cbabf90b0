package e2e_test

// A bounded flood: random `_acme-challenge.<random>.example.com` TXT
// questions over UDP at a high rate for a few seconds, with a blackhole as
// the only upstream, so every one would wait out its timeout in flight.
// `max_concurrent` must keep the CoreDNS process's sockets and memory
// bounded (the excess gets REFUSED at once), and the ordinary questions
// asked meanwhile (a template's in-cluster names, the internal server's
// name) must all be answered.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

const (
	floodRate          = 5000 // questions per second
	floodSenders       = 64
	floodDuration      = 5 * time.Second
	floodMaxConcurrent = 1000
	// The bounds.
	floodMaxSockets = 1100
	floodMaxGrowth  = 128 << 20
	// Past these the flood is stopped at once: a CoreDNS without the bound
	// would take every socket and gigabytes of memory of a shared machine.
	floodAbortSockets = 4000
	floodAbortGrowth  = 1 << 30
)

func TestFloodBounded(t *testing.T) {
	t.Parallel()
	bin := world.CoreDNSBinary(t) // before anything starts
	w := world.New(t, world.Options{Hidden: []string{"example.com"}, Hosts: []world.HostRecord{world.InternalCom}})
	hole := world.FakeT(t, world.FakeConfig{Mode: world.FakeSilent})
	addr, metrics := world.Addr(t), world.Addr(t)
	// No zone listed: every challenge name is forwarded, with no prefetch.
	acme := world.Acme{To: []netip.AddrPort{hole.Addr}, MaxTTL: 30, MaxConcurrent: floodMaxConcurrent}
	s := w.CoreDNST(t, world.CoreDNS{Name: "coredns-flood", Binary: bin, Corefile: world.LoadCorefile(addr, metrics, w.Dnsmasq.Addr, acme.String()), Addr: addr})

	// Warm up the ordinary path, then take the baseline.
	// About 400 ordinary questions a second: a busy cluster's own traffic.
	ordinary := world.Ordinary{Server: s.Addr, Workers: 4, Tries: 3, TryTimeout: 2 * time.Second, Pause: 10 * time.Millisecond,
		Question: world.OrdinaryQuestions(world.InternalCom.Name)}
	warm, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	st, err := ordinary.Run(warm)
	cancel()
	if err != nil || st.Failed > 0 || st.Answered == 0 {
		t.Fatalf("ordinary questions before the flood: %v, %s %v", err, st, st.Failures)
	}
	baseG, baseS := settle(t, metrics, s)
	base, err := world.ReadProc(s.PID())
	if err != nil {
		t.Fatal(err)
	}
	rejectsBefore := metricSum(t, metrics, "coredns_acmeforward_max_concurrent_rejects_total")
	rcvbufBefore, _ := world.UDPRcvbufErrors()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var aborted string
	sampler := world.StartSampler(s.PID(), 50*time.Millisecond, func(p world.ProcSample) {
		if aborted == "" && (p.Sockets > floodAbortSockets || p.RSS-base.RSS > floodAbortGrowth) {
			aborted = fmt.Sprintf("%d sockets, RSS %s", p.Sockets, world.MiB(p.RSS))
			stop()
		}
	})
	flood := world.Flood{Server: s.Addr, Rate: floodRate, Senders: floodSenders, Duration: floodDuration,
		// Every flood question ends within max_time (default 4s); the drain
		// collects their SERVFAILs.
		Drain: 6 * time.Second,
		Name:  func(rnd *rand.Rand) string { return world.ChallengeName(rnd, "example.com") }, Type: world.TypeTXT}
	ordCtx, ordStop := context.WithCancel(ctx)
	ordDone := make(chan world.OrdinaryStats, 1)
	go func() {
		st, err := ordinary.Run(ordCtx)
		if err != nil {
			t.Error(err)
		}
		ordDone <- st
	}()
	fst, err := flood.Run(ctx)
	ordStop()
	ost := <-ordDone
	peak, samples, serr := sampler.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatalf("sampling %s: %v", s, serr)
	}
	rcvbufAfter, _ := world.UDPRcvbufErrors()
	rejects := metricSum(t, metrics, "coredns_acmeforward_max_concurrent_rejects_total") - rejectsBefore
	t.Logf("flood: %d/s for %v from %d sockets, blackhole upstream, max_concurrent %d\n"+
		"  challenge: %s\n  ordinary:  %s\n"+
		"  peak sockets %d (baseline %d, bound %d); peak RSS %s (baseline %s, growth %s, bound %s); %d samples\n"+
		"  max_concurrent rejects counted: %g; machine's UDP receive-buffer drops during the flood: %d",
		floodRate, floodDuration, floodSenders, floodMaxConcurrent, fst, ost,
		peak.Sockets, base.Sockets, floodMaxSockets, world.MiB(peak.RSS), world.MiB(base.RSS), world.MiB(peak.RSS-base.RSS), world.MiB(floodMaxGrowth), samples,
		rejects, rcvbufAfter-rcvbufBefore)
	if aborted != "" {
		t.Errorf("the flood was stopped early: CoreDNS held %s", aborted)
	}
	if peak.Sockets >= floodMaxSockets {
		t.Errorf("peak open sockets %d, want under %d", peak.Sockets, floodMaxSockets)
	}
	if growth := peak.RSS - base.RSS; growth >= floodMaxGrowth {
		t.Errorf("RSS grew by %s, want under %s", world.MiB(growth), world.MiB(floodMaxGrowth))
	}
	if ost.Failed > 0 || ost.Answered == 0 {
		t.Errorf("ordinary questions not answered during the flood: %s\n%v", ost, ost.Failures)
	}
	if fst.Rcodes[5] == 0 || rejects == 0 {
		t.Errorf("the flood went past max_concurrent %d, but the client got %d REFUSED and %g rejects were counted",
			floodMaxConcurrent, fst.Rcodes[5], rejects)
	}
	// Once the flood is over, CoreDNS lets go of what it took.
	g, n := waitBack(t, metrics, s, baseG, baseS)
	t.Logf("after the flood: goroutines %d (baseline %d), sockets %d (baseline %d)", g, baseG, n, baseS)
}

// metricSum sums a metric's samples (0 when it has none).
func metricSum(t *testing.T, metrics netip.AddrPort, name string) float64 {
	t.Helper()
	v, err := world.MetricSum(metrics, name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

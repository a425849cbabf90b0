package acmeforward

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestLogLimiterAllowsMaxPerSecond(t *testing.T) {
	l := &logLimiter{max: 100}
	allowed := 0
	for range 150 {
		if l.allow(1000) {
			allowed++
		}
	}
	if allowed != 100 {
		t.Fatalf("%d lines allowed in one second, want 100", allowed)
	}
	if !l.allow(1001) {
		t.Fatal("the next second allows no line")
	}
}

// Concurrent callers within one second get exactly max lines between them.
func TestLogLimiterConcurrent(t *testing.T) {
	l := &logLimiter{max: 100}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if l.allow(7) {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := allowed.Load(); n != 100 {
		t.Fatalf("%d lines allowed, want 100", n)
	}
}

// report writes the challenge lines the limiter allows and counts the rest;
// other decisions are never logged, so never suppressed.
func TestReportSuppressesPastTheLimit(t *testing.T) {
	saved := lookupLogLimit
	lookupLogLimit = &logLimiter{max: 3}
	t.Cleanup(func() { lookupLogLimit = saved })
	const server = "dns://test-loglimit:53"
	q := &dns.Question{Name: "_acme-challenge.example.com.", Qtype: dns.TypeTXT, Qclass: dns.ClassINET}
	suppressed := func() float64 { return testutil.ToFloat64(suppressedLogCount.WithLabelValues(server)) }
	before := suppressed()
	for range 5 {
		report(server, decisionDiscovery, q, dns.RcodeSuccess, "-", time.Now())
	}
	if got := suppressed() - before; got != 0 {
		t.Fatalf("%v discovery lines suppressed, want 0: only challenge lookups are logged", got)
	}
	for range 20 {
		report(server, decisionChallenge, q, dns.RcodeSuccess, "-", time.Now())
	}
	// 3 a second: at most 6 written if the loop crosses the turn of a second.
	if got := suppressed() - before; got < 14 || got > 17 {
		t.Fatalf("%v of 20 challenge lines suppressed, want 17 (14 if a second turned)", got)
	}
}

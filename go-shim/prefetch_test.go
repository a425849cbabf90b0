package acmeforward

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/miekg/dns"
)

// The prefetch runs before the server answers: right after OnStartup, every
// replica forwards the A of the listed zone's nameserver host, before any
// NS question went through it; OnShutdown stops it.
func TestPrefetchAtStartup(t *testing.T) {
	up := startUpstream(t, zoneData(t, false, exampleSOA,
		"example.com. 3600 IN NS ns1.example.com.",
		"example.com. 3600 IN NS ns.provider.test.",
		"ns1.example.com. 3600 IN A 192.0.2.53",
	))
	a, next := newTestPlugin(t, block("example.com", "500ms", up.addr))
	if a.Ready() {
		t.Fatal("Ready before OnStartup")
	}
	okBefore := testutil.ToFloat64(prefetchCount.WithLabelValues(a.server, "ok"))
	if err := a.OnStartup(); err != nil {
		t.Fatal(err)
	}
	if !a.Ready() {
		t.Fatal("not Ready after OnStartup with a healthy upstream")
	}
	if got := testutil.ToFloat64(prefetchCount.WithLabelValues(a.server, "ok")) - okBefore; got != 1 {
		t.Errorf("prefetch_lookups_total{result=ok} grew by %v, want 1 (NS example.com)", got)
	}
	if got := refusedCount(t, a.server, "out_of_bailiwick"); got < 1 {
		t.Errorf("refused_facts_total{reason=out_of_bailiwick} = %v, want at least 1 (ns.provider.test)", got)
	}
	reply := forwarded(t, a, next, query("ns1.example.com.", dns.TypeA))
	if len(reply.Answer) != 1 {
		t.Errorf("A ns1.example.com: answer %v, want the public address", reply.Answer)
	}
	passed(t, a, next, query("ns.provider.test.", dns.TypeA))
	if err := a.OnShutdown(); err != nil {
		t.Fatal(err)
	}
	// Stopped: a second shutdown (the test's cleanup) is harmless.
}

// A dead upstream does not keep the server from starting: the first round
// fails within the core's deadlines and the plugin is ready (deciding as every
// replica whose prefetch failed does).
func TestPrefetchDeadUpstream(t *testing.T) {
	silent := rawUpstream(t, func([]byte) []byte { return nil })
	a, _ := newTestPlugin(t, block("example.com", "100ms", silent))
	before := testutil.ToFloat64(prefetchCount.WithLabelValues(a.server, reasonTimeout))
	if err := a.OnStartup(); err != nil {
		t.Fatal(err)
	}
	if !a.Ready() {
		t.Fatal("not Ready after the first round failed")
	}
	if got := testutil.ToFloat64(prefetchCount.WithLabelValues(a.server, reasonTimeout)) - before; got < 1 {
		t.Errorf("prefetch_lookups_total{result=timeout} grew by %v, want at least 1", got)
	}
}

// refusedCount reads refused_facts_total{server, reason} from the default
// registry, as the prometheus plugin serves it.
func refusedCount(t *testing.T, server, reason string) float64 {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "coredns_acmeforward_refused_facts_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if label(m, "server") == server && label(m, "reason") == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Past max_concurrent exchanges in flight a challenge question is answered
// REFUSED at once (by CoreDNS, from the returned rcode: exactly one reply),
// and counted; ordinary questions are never limited.
func TestMaxConcurrent(t *testing.T) {
	silent := rawUpstream(t, func([]byte) []byte { return nil })
	a, next := newTestPlugin(t, "acmeforward example.com {\n to "+silent+"\n timeout 1s\n max_concurrent 1\n}")
	rejects := maxConcurrentRejectCount.WithLabelValues("")
	refused := responseCount.WithLabelValues("", decisionChallenge, "REFUSED")
	before, refusedBefore := testutil.ToFloat64(rejects), testutil.ToFloat64(refused)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _, _ = serve(t, a, challengeQuery(challenge), false)
	}()
	for a.inflight.Load() == 0 {
		select {
		case <-done:
			t.Fatal("the first exchange ended before the second question")
		default:
		}
	}
	rc, err, cw, _ := serve(t, a, challengeQuery("_acme-challenge.other.example.com."), false)
	if rc != dns.RcodeRefused || err != nil || cw.count() != 0 {
		t.Errorf("ServeDNS = %d, %v with %d replies written; want REFUSED, nil, none (CoreDNS writes it)", rc, err, cw.count())
	}
	if got := testutil.ToFloat64(rejects) - before; got != 1 {
		t.Errorf("max_concurrent_rejects_total grew by %v, want 1", got)
	}
	if got := testutil.ToFloat64(refused) - refusedBefore; got != 1 {
		t.Errorf("responses_total{rcode=REFUSED} grew by %v, want 1", got)
	}
	passed(t, a, next, query("www.example.com.", dns.TypeA))
	<-done
}

package acmeforward

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/test"

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
	waitFor(t, "the first exchange in flight", func() bool {
		select {
		case <-done:
			t.Error("the first exchange ended before the second question")
			return true
		default:
		}
		return a.inflight.Load() > 0
	})
	if t.Failed() {
		return
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

// knowsInternally is an internal view that answers the A of the names in
// known (NOERROR, an internal address), counted in calls when a client asked,
// and everything else like emptyInternalView.
func knowsInternally(calls *atomic.Int32, known ...string) test.HandlerFunc {
	empty := emptyInternalView(calls, dns.RcodeNameError)
	return func(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		q := r.Question[0]
		if slices.Contains(known, q.Name) && q.Qtype == dns.TypeA {
			if !isInternal(w) {
				calls.Add(1)
			}
			m := new(dns.Msg)
			m.SetReply(r)
			m.Answer = append(m.Answer, test.A(q.Name+" 60 IN A 10.20.0.11"))
			return dns.RcodeSuccess, w.WriteMsg(m)
		}
		return empty(ctx, w, r)
	}
}

// A nameserver host that the listed zone's public NS RRset names, but that
// the internal view knows, keeps its internal answer from the first query
// on; the refusal is counted and logged once with the fix. public_hosts
// gives it the public answer.
func TestPrefetchKeepsHostsTheInternalViewKnows(t *testing.T) {
	up := startUpstream(t, zoneData(t, false, exampleSOA,
		"example.com. 3600 IN NS ns1.example.com.",
		"example.com. 3600 IN NS intranet.example.com.",
		"ns1.example.com. 3600 IN A 192.0.2.53",
		"intranet.example.com. 3600 IN A 198.51.100.67",
	))
	for _, optIn := range []bool{false, true} {
		cfg := block("example.com", "500ms", up.addr)
		if optIn {
			cfg = strings.Replace(cfg, "\n}", "\n public_hosts intranet.example.com\n}", 1)
		}
		a, err := parse(caddy.NewTestController("dns", cfg))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.OnShutdown() })
		var next atomic.Int32
		a.Next = knowsInternally(&next, "intranet.example.com.")
		a.server = fmt.Sprintf("dns://127.0.0.1:%d", map[bool]int{false: 10053, true: 10054}[optIn])
		logs := captureLog(t)
		if err := a.OnStartup(); err != nil {
			t.Fatal(err)
		}
		forwarded(t, a, &next, query("ns1.example.com.", dns.TypeA))
		hint := "public_hosts intranet.example.com"
		if optIn {
			reply := forwarded(t, a, &next, query("intranet.example.com.", dns.TypeA))
			if len(reply.Answer) != 1 || reply.Answer[0].(*dns.A).A.String() != "198.51.100.67" {
				t.Errorf("public_hosts: A intranet.example.com = %v, want the public address", reply.Answer)
			}
			if strings.Contains(logs.String(), hint) {
				t.Errorf("public_hosts given, but the log still says how to give it:\n%s", logs)
			}
			continue
		}
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
			passedWith(t, a, &next, query("intranet.example.com.", qtype))
		}
		if got := refusedCount(t, a.server, "internal_name"); got != 1 {
			t.Errorf("refused_facts_total{reason=internal_name} = %v, want 1", got)
		}
		if got := strings.Count(logs.String(), hint); got != 1 {
			t.Errorf("the fix (%q) is logged %d times, want once:\n%s", hint, got, logs)
		}
	}
}

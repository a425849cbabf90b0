package acmeforward

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"

	clog "github.com/coredns/coredns/plugin/pkg/log"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// labelValues gives every value the label has in the samples of the
// acmeforward metrics registered now (prometheus' default registry, which
// the prometheus plugin serves).
func labelValues(t *testing.T, label string) map[string]bool {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]bool{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "coredns_acmeforward_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					values[l.GetValue()] = true
				}
			}
		}
	}
	return values
}

// histogramCount is how many observations a histogram of vec holds for labels.
func histogramCount(t *testing.T, vec *prometheus.HistogramVec, labels ...string) uint64 {
	t.Helper()
	m, ok := vec.WithLabelValues(labels...).(prometheus.Metric)
	if !ok {
		t.Fatal("not a metric")
	}
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetHistogram().GetSampleCount()
}

// logCapture collects what clog writes (the standard logger's output) until
// the test ends.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func captureLog(t *testing.T) *logCapture {
	c := &logCapture{}
	clog.SetOutput(c)
	t.Cleanup(func() { clog.SetOutput(os.Stderr) })
	return c
}

func TestMetricsOfAForwardedChallenge(t *testing.T) {
	up := startUpstream(t, txtAnswer("token-1", 60))
	a, _ := newTestPlugin(t, block("example.com", "2s", up.addr))
	logs := captureLog(t)

	requests := requestCount.WithLabelValues("", decisionChallenge)
	noerror := responseCount.WithLabelValues("", decisionChallenge, "NOERROR")
	tries := upstreamRequestCount.WithLabelValues("", up.addr, "udp")
	before := []float64{testutil.ToFloat64(requests), testutil.ToFloat64(noerror), testutil.ToFloat64(tries)}
	durations := histogramCount(t, requestDuration, "", decisionChallenge)
	tryDurations := histogramCount(t, upstreamDuration, "", up.addr)

	q := challengeQuery("_ACME-Challenge.www.example.com.")
	if rc, err, _, _ := serve(t, a, q, false); err != nil || rc != dns.RcodeSuccess {
		t.Fatalf("ServeDNS = %d, %v", rc, err)
	}
	for i, c := range []struct {
		name string
		now  float64
	}{
		{"requests_total{decision=challenge}", testutil.ToFloat64(requests)},
		{"responses_total{decision=challenge,rcode=NOERROR}", testutil.ToFloat64(noerror)},
		{"upstream_requests_total{to=" + up.addr + "}", testutil.ToFloat64(tries)},
	} {
		if got := c.now - before[i]; got != 1 {
			t.Errorf("%s grew by %v, want 1", c.name, got)
		}
	}
	if got := histogramCount(t, requestDuration, "", decisionChallenge) - durations; got != 1 {
		t.Errorf("request_duration_seconds{decision=challenge} got %d observations, want 1", got)
	}
	if got := histogramCount(t, upstreamDuration, "", up.addr) - tryDurations; got != 1 {
		t.Errorf("upstream_duration_seconds{to=%s} got %d observations, want 1", up.addr, got)
	}
	want := "[INFO] plugin/acmeforward: _ACME-Challenge.www.example.com. TXT to=" + up.addr + " rcode=NOERROR duration="
	if !strings.Contains(logs.String(), want) {
		t.Errorf("log %q has no line %q", logs.String(), want)
	}

	// A failed lookup: SERVFAIL, logged with the last upstream tried.
	silent := rawUpstream(t, func([]byte) []byte { return nil })
	a, _ = newTestPlugin(t, block("example.com", "50ms", silent))
	servfail := responseCount.WithLabelValues("", decisionChallenge, "SERVFAIL")
	servfailBefore := testutil.ToFloat64(servfail)
	if rc, _, _, _ := serve(t, a, challengeQuery(challenge), false); rc != dns.RcodeServerFailure {
		t.Fatalf("ServeDNS = %d, want SERVFAIL", rc)
	}
	if got := testutil.ToFloat64(servfail) - servfailBefore; got != 1 {
		t.Errorf("responses_total{rcode=SERVFAIL} grew by %v, want 1", got)
	}
	want = "[INFO] plugin/acmeforward: " + challenge + " TXT to=" + silent + " rcode=SERVFAIL duration="
	if !strings.Contains(logs.String(), want) {
		t.Errorf("log %q has no line %q", logs.String(), want)
	}
}

func TestMetricsDecisions(t *testing.T) {
	resolver := startUpstream(t, zoneData(t, false, exampleSOA,
		"example.com. 3600 IN NS ns1.example.com.",
		"x.auth.example.net. 60 IN TXT \"delegated-token\"",
	))
	a, next := newTestPlugin(t, "acmeforward example.com {\n to "+resolver.addr+"\n delegated auth.example.net\n}")
	logs := captureLog(t)
	for _, c := range []struct {
		q        *dns.Msg
		decision string
	}{
		{challengeQuery(challenge), decisionChallenge},
		{query("example.com.", dns.TypeSOA), decisionDiscovery},
		{query("example.com.", dns.TypeNS), decisionDiscovery},
		{query("x.auth.example.net.", dns.TypeTXT), decisionDelegated},
	} {
		requests := requestCount.WithLabelValues("", c.decision)
		before := testutil.ToFloat64(requests)
		forwarded(t, a, next, c.q)
		if got := testutil.ToFloat64(requests) - before; got != 1 {
			t.Errorf("%v: requests_total{decision=%s} grew by %v, want 1", c.q.Question[0], c.decision, got)
		}
	}
	// Only the challenge lookup is logged.
	if got := strings.Count(logs.String(), "[INFO] plugin/acmeforward: "); got != 1 {
		t.Errorf("%d info lines, want 1 (the challenge): %q", got, logs.String())
	}
}

func TestMetricsInvalidReplyReasons(t *testing.T) {
	replyTo := func(query []byte, edit func(m, r *dns.Msg)) []byte {
		m := new(dns.Msg)
		if err := m.Unpack(query); err != nil {
			return nil
		}
		r := new(dns.Msg)
		r.SetReply(m)
		edit(m, r)
		out, _ := r.Pack()
		return out
	}
	for reason, answer := range map[string]func([]byte) []byte{
		invalidForeignRecord: func(query []byte) []byte {
			return replyTo(query, func(_, r *dns.Msg) {
				r.Answer = append(r.Answer, &dns.TXT{
					Hdr: dns.RR_Header{Name: "other.example.com.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
					Txt: []string{"foreign"},
				})
			})
		},
		invalidNxdomainWithData: func(query []byte) []byte {
			return replyTo(query, func(m, r *dns.Msg) {
				r.Rcode = dns.RcodeNameError
				r.Answer = append(r.Answer, &dns.TXT{
					Hdr: dns.RR_Header{Name: m.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
					Txt: []string{"said not to exist"},
				})
			})
		},
		invalidMalformed: func(query []byte) []byte {
			out := replyTo(query, func(m, r *dns.Msg) {
				r.Answer = append(r.Answer, &dns.TXT{
					Hdr: dns.RR_Header{Name: m.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
					Txt: []string{"cut short"},
				})
			})
			// The answer record ends before its data does.
			return out[:len(out)-3]
		},
	} {
		t.Run(reason, func(t *testing.T) {
			bad := rawUpstream(t, answer)
			good := startUpstream(t, txtAnswer("from-second", 60))
			a, _ := newTestPlugin(t, block("example.com", "1s", bad, good.addr))
			invalid := invalidReplyCount.WithLabelValues("", bad, reason)
			failures := upstreamFailureCount.WithLabelValues("", bad, reasonInvalidReply)
			before, failuresBefore := testutil.ToFloat64(invalid), testutil.ToFloat64(failures)
			q := challengeQuery(challenge)
			rc, err, cw, _ := serve(t, a, q, false)
			if err != nil || rc != dns.RcodeSuccess {
				t.Fatalf("ServeDNS = %d, %v", rc, err)
			}
			checkAnswer(t, cw.reply(t), q, "from-second")
			if got := testutil.ToFloat64(invalid) - before; got != 1 {
				t.Errorf("invalid_replies_total{reason=%s} grew by %v, want 1", reason, got)
			}
			if got := testutil.ToFloat64(failures) - failuresBefore; got != 1 {
				t.Errorf("upstream_failures_total{reason=invalid_reply} grew by %v, want 1", got)
			}
		})
	}
}

package acmeforward

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// The hot path is a query that is not a challenge lookup: ServeDNS classifies
// it with one C call and hands it to the next plugin. Compare
// BenchmarkServeDNSPass with BenchmarkNextHandlerOnly for the plugin's cost;
// BenchmarkClassify is the cgo call alone. BenchmarkNextOrFailureOnly is
// CoreDNS's own chaining step (plugin.NextOrFailure, which allocates a
// pluginWriter per call) without the plugin, to tell its cost from ours. No packet is sent (the upstream
// address is never contacted on this path). BenchmarkServeDNSPassLearned and
// BenchmarkClassifyLearned are the same after ACME traffic taught the engine
// a CNAME target (then every question's classify looks at the learned table,
// under its read lock); the one challenge query that teaches it goes to a
// test server on 127.0.0.1 before the timing starts. BenchmarkServeDNSHairpin
// and BenchmarkServeDNSHairpinName are the HTTP-01 hairpin's answers (issue
// 5): an IP target, and a name target looked up in the next handler.

func benchPlugin(b *testing.B) (*AcmeForward, test.HandlerFunc) {
	b.Helper()
	return benchPluginTo(b, "127.0.0.1:5300")
}

func benchPluginTo(b *testing.B, to string) (*AcmeForward, test.HandlerFunc) {
	b.Helper()
	a, err := parse(caddy.NewTestController("dns", "acmeforward example.com example.net {\n to "+to+"\n}"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.OnShutdown() })
	next := emptyInternalView(new(atomic.Int32), dns.RcodeSuccess)
	a.Next = next
	return a, next
}

func passQuery() *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion("www.internal.example.com.", dns.TypeA)
	return m
}

func BenchmarkServeDNSPass(b *testing.B) {
	a, _ := benchPlugin(b)
	ctx, w, r := context.Background(), &test.ResponseWriter{}, passQuery()
	b.ReportAllocs()
	for b.Loop() {
		if rc, err := a.ServeDNS(ctx, w, r); rc != dns.RcodeSuccess || err != nil {
			b.Fatalf("ServeDNS = %d, %v", rc, err)
		}
	}
}

// hairpinBenchPlugin is benchPlugin with hairpin lines: www.example.com with
// an IP target, svc.example.com with a name target that next answers (one A
// record, as the kubernetes plugin answers a Service).
func hairpinBenchPlugin(b *testing.B) *AcmeForward {
	b.Helper()
	a, err := parse(caddy.NewTestController("dns", `acmeforward example.com example.net {
		to 127.0.0.1:5300
		hairpin www.example.com 10.96.0.80
		hairpin svc.example.com ingress-nginx-controller.ingress-nginx.svc.cluster.local
	}`))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.OnShutdown() })
	ip := net.IPv4(10, 96, 0, 10)
	a.Next = test.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30},
			A:   ip,
		})
		return dns.RcodeSuccess, w.WriteMsg(m)
	})
	return a
}

// benchHairpin serves an A question for name through a, checking it is
// answered with want (a client reply is packed once, outside the timing, to
// check it).
func benchHairpin(b *testing.B, name, want string) {
	a := hairpinBenchPlugin(b)
	r := new(dns.Msg)
	r.SetQuestion(name, dns.TypeA)
	ctx := context.Background()
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	if rc, err := a.ServeDNS(ctx, rec, r); rc != dns.RcodeSuccess || err != nil {
		b.Fatalf("ServeDNS = %d, %v", rc, err)
	}
	if rec.Msg == nil || len(rec.Msg.Answer) != 1 || rec.Msg.Answer[0].(*dns.A).A.String() != want {
		b.Fatalf("hairpin answer %v, want %s", rec.Msg, want)
	}
	w := &test.ResponseWriter{}
	b.ReportAllocs()
	for b.Loop() {
		if rc, err := a.ServeDNS(ctx, w, r); rc != dns.RcodeSuccess || err != nil {
			b.Fatalf("ServeDNS = %d, %v", rc, err)
		}
	}
}

// BenchmarkServeDNSHairpin: an A question for a hairpin name with an IP
// target (answered by the core at once).
func BenchmarkServeDNSHairpin(b *testing.B) {
	benchHairpin(b, "www.example.com.", "10.96.0.80")
}

// BenchmarkServeDNSHairpinName: an A question for a hairpin name with a name
// target, looked up in a trivial next handler (one internal lookup).
func BenchmarkServeDNSHairpinName(b *testing.B) {
	benchHairpin(b, "svc.example.com.", "10.96.0.10")
}

func BenchmarkNextHandlerOnly(b *testing.B) {
	_, next := benchPlugin(b)
	ctx, w, r := context.Background(), &test.ResponseWriter{}, passQuery()
	b.ReportAllocs()
	for b.Loop() {
		if rc, err := next.ServeDNS(ctx, w, r); rc != dns.RcodeSuccess || err != nil {
			b.Fatalf("ServeDNS = %d, %v", rc, err)
		}
	}
}

func BenchmarkNextOrFailureOnly(b *testing.B) {
	_, next := benchPlugin(b)
	ctx, w, r := context.Background(), &test.ResponseWriter{}, passQuery()
	b.ReportAllocs()
	for b.Loop() {
		if rc, err := plugin.NextOrFailure(pluginName, next, ctx, w, r); rc != dns.RcodeSuccess || err != nil {
			b.Fatalf("NextOrFailure = %d, %v", rc, err)
		}
	}
}

func BenchmarkClassify(b *testing.B) {
	a, _ := benchPlugin(b)
	q := passQuery().Question[0]
	b.ReportAllocs()
	for b.Loop() {
		if v := a.engine.Classify(q.Name, q.Qtype, q.Qclass); v != VerdictPass {
			b.Fatalf("Classify = %d, want pass", v)
		}
	}
}

// learnedBenchPlugin is benchPlugin after one challenge answered with a CNAME
// (learned: the target and its ancestors, the challenge name's ancestors).
func learnedBenchPlugin(b *testing.B) (*AcmeForward, test.HandlerFunc) {
	b.Helper()
	up := startUpstream(b, zoneData(b, false, "",
		"_acme-challenge.www.example.com. 3600 IN CNAME x.auth.example.org.",
		"x.auth.example.org. 3600 IN TXT \"token\"",
	))
	a, next := benchPluginTo(b, up.addr)
	q := new(dns.Msg)
	q.SetQuestion("_acme-challenge.www.example.com.", dns.TypeTXT)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	if rc, err := a.ServeDNS(context.Background(), rec, q); rc != dns.RcodeSuccess || err != nil {
		b.Fatalf("teaching ServeDNS = %d, %v", rc, err)
	}
	if a.engine.LearnedLen() == 0 {
		b.Fatal("nothing learned")
	}
	if v := a.engine.Classify("x.auth.example.org.", dns.TypeTXT, dns.ClassINET); v != VerdictForward {
		b.Fatalf("learned target: Classify = %d, want forward", v)
	}
	return a, next
}

func BenchmarkServeDNSPassLearned(b *testing.B) {
	a, _ := learnedBenchPlugin(b)
	ctx, w, r := context.Background(), &test.ResponseWriter{}, passQuery()
	b.ReportAllocs()
	for b.Loop() {
		if rc, err := a.ServeDNS(ctx, w, r); rc != dns.RcodeSuccess || err != nil {
			b.Fatalf("ServeDNS = %d, %v", rc, err)
		}
	}
}

func BenchmarkClassifyLearned(b *testing.B) {
	a, _ := learnedBenchPlugin(b)
	q := passQuery().Question[0]
	b.ReportAllocs()
	for b.Loop() {
		if v := a.engine.Classify(q.Name, q.Qtype, q.Qclass); v != VerdictPass {
			b.Fatalf("Classify = %d, want pass", v)
		}
	}
}

// The pass-through hot path allocates nothing in the plugin (the claim the
// benchmarks above measure, as a test that can fail): Classify allocates
// nothing, and ServeDNS for a question that passes allocates no more than
// CoreDNS's own plugin.NextOrFailure does on its own. Both on a fresh engine
// and after it learned a CNAME target (the learned-table path).
func TestPassPathAllocations(t *testing.T) {
	up := startUpstream(t, zoneData(t, false, "",
		"_acme-challenge.www.example.com. 3600 IN CNAME x.auth.example.org.",
		"x.auth.example.org. 3600 IN TXT \"token\"",
	))
	a, next := newTestPlugin(t, "acmeforward example.com example.net {\n to "+up.addr+"\n}")
	ctx, w, r := context.Background(), &test.ResponseWriter{}, passQuery()
	q := r.Question[0]
	check := func(stage string) {
		t.Helper()
		if v := a.engine.Classify(q.Name, q.Qtype, q.Qclass); v != VerdictPass {
			t.Fatalf("%s: Classify(%s) = %d, want pass", stage, q.Name, v)
		}
		if n := testing.AllocsPerRun(200, func() { a.engine.Classify(q.Name, q.Qtype, q.Qclass) }); n != 0 {
			t.Errorf("%s: Classify allocates %v times per call, want 0", stage, n)
		}
		base := testing.AllocsPerRun(200, func() { _, _ = plugin.NextOrFailure(pluginName, a.Next, ctx, w, r) })
		before := next.Load()
		got := testing.AllocsPerRun(200, func() { _, _ = a.ServeDNS(ctx, w, r) })
		if next.Load() == before {
			t.Fatalf("%s: ServeDNS did not pass the question to the next plugin", stage)
		}
		if got > base {
			t.Errorf("%s: ServeDNS allocates %v times per passed question, NextOrFailure alone %v: the plugin allocates", stage, got, base)
		}
	}
	check("fresh engine")

	rc, err, _, _ := serve(t, a, challengeQuery(challenge), false)
	if rc != dns.RcodeSuccess || err != nil || a.engine.LearnedLen() == 0 {
		t.Fatalf("teaching query: ServeDNS = %d, %v; learned %d entries", rc, err, a.engine.LearnedLen())
	}
	check("learned engine")
}

// BenchmarkOrdinary is the plugin's cost per ordinary question, side by side
// with its baseline: ServeDNS (classify, then the next plugin) against
// plugin.NextOrFailure to the same next plugin alone, for three names (a
// cluster Service, a public name under a configured zone, another public
// name), with nothing learned and with the state a live server has
// (prefetched nameservers, a learned CNAME'd challenge).
func BenchmarkOrdinary(b *testing.B) {
	names := []struct{ label, name string }{
		{"cluster", "api.payments.svc.cluster.local."},
		{"zone", "www.internal.example.com."},
		{"public", "www.google.com."},
	}
	states := []struct {
		label string
		setup func(b *testing.B) *AcmeForward
	}{
		{"empty", func(b *testing.B) *AcmeForward { a, _ := benchPlugin(b); return a }},
		{"live", livePlugin},
	}
	for _, s := range states {
		a := s.setup(b)
		for _, n := range names {
			r := new(dns.Msg)
			r.SetQuestion(n.name, dns.TypeA)
			ctx, w := context.Background(), &test.ResponseWriter{}
			b.Run(s.label+"/"+n.label+"/acmeforward", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if rc, err := a.ServeDNS(ctx, w, r); rc != dns.RcodeSuccess || err != nil {
						b.Fatalf("ServeDNS = %d, %v", rc, err)
					}
				}
			})
			b.Run(s.label+"/"+n.label+"/baseline", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if rc, err := plugin.NextOrFailure(pluginName, a.Next, ctx, w, r); rc != dns.RcodeSuccess || err != nil {
						b.Fatalf("NextOrFailure = %d, %v", rc, err)
					}
				}
			})
		}
	}
}

// livePlugin is benchPlugin in the state of a server that has run a while:
// the prefetch found example.com's nameserver, and one challenge answered
// with a CNAME taught its target.
func livePlugin(b *testing.B) *AcmeForward {
	b.Helper()
	up := startUpstream(b, zoneData(b, false, exampleSOA,
		"example.com. 3600 IN NS ns1.example.com.",
		"ns1.example.com. 3600 IN A 192.0.2.53",
		"_acme-challenge.www.example.com. 3600 IN CNAME x.auth.example.org.",
		"x.auth.example.org. 3600 IN TXT \"token\"",
	))
	a, _ := benchPluginTo(b, up.addr)
	if err := a.OnStartup(); err != nil {
		b.Fatal(err)
	}
	q := new(dns.Msg)
	q.SetQuestion("_acme-challenge.www.example.com.", dns.TypeTXT)
	if rc, err := a.ServeDNS(context.Background(), dnstest.NewRecorder(&test.ResponseWriter{}), q); rc != dns.RcodeSuccess || err != nil {
		b.Fatalf("teaching ServeDNS = %d, %v", rc, err)
	}
	if a.engine.LearnedLen() == 0 || a.engine.Classify("ns1.example.com.", dns.TypeA, dns.ClassINET) != VerdictForward {
		b.Fatal("not in the live state: nothing learned, or the nameserver not prefetched")
	}
	return a
}

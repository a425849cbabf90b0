package acmeforward

import (
	"bytes"
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The HTTP-01 hairpin through the handler: `hairpin` lines answer
// A/AAAA questions for public names with in-cluster addresses; a name target
// is looked up in the rest of the plugin chain (here a fake of the kubernetes
// plugin). Nothing is sent anywhere but to the challenge upstream on
// 127.0.0.1.

const (
	hpIngress = "ingress-nginx-controller.ingress-nginx.svc.cluster.local."
	hpAlias   = "ingress-alias.ingress-nginx.svc.cluster.local."
	hpTarget  = "ingress-alias-target.ingress-nginx.svc.cluster.local."
	hpNoSuch  = "nosuch.ingress-nginx.svc.cluster.local."
	hpRefused = "refused.ingress-nginx.svc.cluster.local."
	hpRaw     = "raw.ingress-nginx.svc.cluster.local."
)

// clusterChain stands in for the plugins after acmeforward (kubernetes):
// it answers the in-cluster names and records every query it gets; anything
// else it passes (NXDOMAIN, not written), like newTestPlugin's next handler.
type clusterChain struct {
	calls   atomic.Int32
	mu      sync.Mutex
	queries []*dns.Msg
}

func (c *clusterChain) received() []*dns.Msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.queries)
}

func (c *clusterChain) Name() string { return "cluster" }

func (c *clusterChain) ServeDNS(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	c.calls.Add(1)
	c.mu.Lock()
	c.queries = append(c.queries, r.Copy())
	c.mu.Unlock()
	q := r.Question[0]
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	a := func(name, ip string, ttl uint32) dns.RR {
		return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: net.ParseIP(ip)}
	}
	switch strings.ToLower(q.Name) {
	case hpIngress:
		// A Service with a ClusterIP: an A record, no AAAA (NODATA).
		if q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, a(q.Name, "10.96.0.10", 300))
		}
	case hpAlias:
		// An ExternalName-style Service: a CNAME and the A at its target.
		m.Answer = append(m.Answer,
			&dns.CNAME{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 300}, Target: hpTarget},
		)
		if q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, a(hpTarget, "10.96.0.11", 7))
		}
	case hpNoSuch:
		m.Rcode = dns.RcodeNameError
	case hpRefused:
		// As a plugin that fails: the rcode, nothing written.
		return dns.RcodeRefused, nil
	case hpRaw:
		// A raw write: it must not reach the client either.
		m.Answer = append(m.Answer, a(q.Name, "10.96.0.12", 30))
		wire, err := m.Pack()
		if err != nil {
			return dns.RcodeServerFailure, err
		}
		_, err = w.Write(wire)
		return dns.RcodeSuccess, err
	default:
		return dns.RcodeNameError, nil
	}
	return m.Rcode, w.WriteMsg(m)
}

// hairpinPlugin is acmeforward with hairpin lines (max_ttl 60), the
// challenge upstream up (a zone with a TXT token and NODATA for other types
// of the challenge name), and clusterChain after it.
func hairpinPlugin(t *testing.T, to string) (*AcmeForward, *clusterChain) {
	t.Helper()
	a, err := parse(caddy.NewTestController("dns", `acmeforward example.com {
		to `+to+`
		max_ttl 60
		hairpin www.example.com 10.96.0.80
		hairpin *.example.com 10.96.0.2
		hairpin v6.example.com fd00::6
		hairpin dual.example.com 10.96.0.5 fd00::5
		hairpin one.example.com two.example.com 10.96.0.6 10.96.0.7
		hairpin svc.example.com *.apps.example.org `+hpIngress+`
		hairpin chain.example.com `+hpAlias+`
		hairpin gone.example.com `+hpNoSuch+`
		hairpin refused.example.com `+hpRefused+`
		hairpin raw.example.com `+hpRaw+`
	}`))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	t.Cleanup(func() { _ = a.OnShutdown() })
	chain := &clusterChain{}
	a.Next = chain
	return a, chain
}

// hairpinServe runs q through the plugin and checks that it was answered by
// the plugin (one reply, the client's ID and question); it returns the reply.
func hairpinServe(t *testing.T, a *AcmeForward, q *dns.Msg, tcp bool) *dns.Msg {
	t.Helper()
	rc, err, cw, _ := serve(t, a, q, tcp)
	if err != nil || rc != dns.RcodeSuccess {
		t.Fatalf("%s %s: ServeDNS = %d, %v", q.Question[0].Name, dns.TypeToString[q.Question[0].Qtype], rc, err)
	}
	reply := cw.reply(t)
	if reply.Id != q.Id || len(reply.Question) != 1 || reply.Question[0] != q.Question[0] {
		t.Fatalf("reply ID %#04x question %v, want the client's %#04x %v", reply.Id, reply.Question, q.Id, q.Question)
	}
	return reply
}

// wantAddrs checks a hairpin answer: NOERROR, AA clear, RA set, the client's
// RD, and exactly the given addresses as records of the asked type owned by
// the client's name as written (no CNAME, nothing else in any section), each
// with TTL ttl.
func wantAddrs(t *testing.T, reply, q *dns.Msg, ttl uint32, addrs ...string) {
	t.Helper()
	if reply.Rcode != dns.RcodeSuccess || reply.Authoritative || !reply.RecursionAvailable || reply.RecursionDesired != q.RecursionDesired {
		t.Errorf("rcode %s AA %v RA %v RD %v; want NOERROR, AA clear, RA set, RD %v",
			dns.RcodeToString[reply.Rcode], reply.Authoritative, reply.RecursionAvailable, reply.RecursionDesired, q.RecursionDesired)
	}
	if len(reply.Ns) != 0 || len(reply.Extra) != 0 {
		t.Errorf("authority %v, additional %v: want none", reply.Ns, reply.Extra)
	}
	var got []string
	for _, rr := range reply.Answer {
		h := rr.Header()
		if h.Rrtype != q.Question[0].Qtype || h.Name != q.Question[0].Name || h.Ttl != ttl {
			t.Fatalf("answer %v: want %s records owned by %q with TTL %d", rr, dns.TypeToString[q.Question[0].Qtype], q.Question[0].Name, ttl)
		}
		switch rr := rr.(type) {
		case *dns.A:
			got = append(got, rr.A.String())
		case *dns.AAAA:
			got = append(got, rr.AAAA.String())
		}
	}
	if !slices.Equal(got, addrs) {
		t.Fatalf("%s %s: addresses %v, want %v", q.Question[0].Name, dns.TypeToString[q.Question[0].Qtype], got, addrs)
	}
}

func TestHairpinStaticTarget(t *testing.T) {
	a, chain := hairpinPlugin(t, "127.0.0.1:5300") // never contacted here
	answers := hairpinAnswerCount.WithLabelValues("")
	forwarded := requestCount.WithLabelValues("", decisionChallenge)
	before, requests := testutil.ToFloat64(answers), testutil.ToFloat64(forwarded)
	hairpinRequests := requestCount.WithLabelValues("", decisionHairpin)
	hairpinBefore := testutil.ToFloat64(hairpinRequests)
	for _, tcp := range []bool{false, true} {
		for _, tc := range []struct {
			name string
			want string
		}{
			{"www.example.com.", "10.96.0.80"},
			{"WwW.ExAmple.COM.", "10.96.0.80"}, // the client's case is kept
			{"mail.example.com.", "10.96.0.2"}, // wildcard
			{"a.b.example.com.", "10.96.0.2"},
			{"sub.www.example.com.", "10.96.0.2"}, // an exact name covers only itself
		} {
			q := query(tc.name, dns.TypeA)
			wantAddrs(t, hairpinServe(t, a, q, tcp), q, 60, tc.want)
		}
	}
	// RD clear in the query: clear in the answer.
	q := query("www.example.com.", dns.TypeA)
	q.RecursionDesired = false
	wantAddrs(t, hairpinServe(t, a, q, false), q, 60, "10.96.0.80")
	if n := chain.calls.Load(); n != 0 {
		t.Errorf("the rest of the chain was asked %d times for IP targets", n)
	}
	if got := testutil.ToFloat64(answers) - before; got != 11 {
		t.Errorf("hairpin_answers_total grew by %v, want 11", got)
	}
	if got := testutil.ToFloat64(forwarded) - requests; got != 0 {
		t.Errorf("requests_total{decision=challenge} grew by %v for hairpin answers", got)
	}
	if got := testutil.ToFloat64(hairpinRequests) - hairpinBefore; got != 11 {
		t.Errorf("requests_total{decision=hairpin} grew by %v, want 11", got)
	}
}

func TestHairpinNameTarget(t *testing.T) {
	a, chain := hairpinPlugin(t, "127.0.0.1:5300")
	for i, tcp := range []bool{false, true} {
		q := query("Svc.Example.COM.", dns.TypeA)
		// The Service's TTL (300) capped by max_ttl.
		wantAddrs(t, hairpinServe(t, a, q, tcp), q, 60, "10.96.0.10")
		got := chain.received()
		if len(got) != i+1 {
			t.Fatalf("the chain got %d queries, want %d", len(got), i+1)
		}
		iq := got[i]
		if len(iq.Question) != 1 || iq.Question[0] != (dns.Question{Name: hpIngress, Qtype: dns.TypeA, Qclass: dns.ClassINET}) || !iq.RecursionDesired || iq.Response {
			t.Errorf("internal query %v: want %s A IN, RD", iq.Question, hpIngress)
		}
	}
	// A wildcard pointing at the name target.
	q := query("x.apps.example.org.", dns.TypeA)
	wantAddrs(t, hairpinServe(t, a, q, false), q, 60, "10.96.0.10")
	// Behind a CNAME: the A at its end, under the client's name, its own TTL.
	q = query("chain.example.com.", dns.TypeA)
	wantAddrs(t, hairpinServe(t, a, q, false), q, 7, "10.96.0.11")
}

func TestHairpinAAAAAndNodata(t *testing.T) {
	a, _ := hairpinPlugin(t, "127.0.0.1:5300")
	for _, tc := range []struct {
		name  string
		qtype uint16
		want  []string
	}{
		{"v6.example.com.", dns.TypeAAAA, []string{"fd00::6"}},
		{"dual.example.com.", dns.TypeA, []string{"10.96.0.5"}},
		{"dual.example.com.", dns.TypeAAAA, []string{"fd00::5"}},
		{"one.example.com.", dns.TypeA, []string{"10.96.0.6", "10.96.0.7"}},
		{"two.example.com.", dns.TypeA, []string{"10.96.0.6", "10.96.0.7"}},
		// NODATA: no address of the asked family (IP targets, and a Service
		// without an AAAA).
		{"www.example.com.", dns.TypeAAAA, nil},
		{"v6.example.com.", dns.TypeA, nil},
		{"two.example.com.", dns.TypeAAAA, nil},
		{"svc.example.com.", dns.TypeAAAA, nil},
	} {
		q := query(tc.name, tc.qtype)
		wantAddrs(t, hairpinServe(t, a, q, false), q, 60, tc.want...)
	}
}

func TestHairpinOtherTypesPass(t *testing.T) {
	a, chain := hairpinPlugin(t, "127.0.0.1:5300")
	next := &chain.calls
	for _, q := range []*dns.Msg{
		query("www.example.com.", dns.TypeTXT),
		query("www.example.com.", dns.TypeMX),
		query("www.example.com.", dns.TypeCNAME),
		query("mail.example.com.", dns.TypeTXT),
		query("svc.example.com.", dns.TypeHTTPS),
		query("example.com.", dns.TypeA), // *.example.com does not match example.com
		query("example.org.", dns.TypeA),
		query("apps.example.org.", dns.TypeAAAA),
	} {
		passed(t, a, next, q)
	}
	// Another class.
	q := query("www.example.com.", dns.TypeA)
	q.Question[0].Qclass = dns.ClassCHAOS
	passed(t, a, next, q)
	// The chain got the client's own queries (not internal lookups).
	for _, r := range chain.received() {
		if strings.HasSuffix(r.Question[0].Name, "svc.cluster.local.") {
			t.Errorf("internal lookup %v for a question that passes", r.Question)
		}
	}
}

func TestHairpinChallengesKeepForwarding(t *testing.T) {
	up := startUpstream(t, zoneData(t, false, exampleSOA,
		`_acme-challenge.www.example.com. 3600 IN TXT "token-www"`,
	))
	a, chain := hairpinPlugin(t, up.addr)
	checkAnswer(t, forwarded(t, a, &chain.calls, challengeQuery("_acme-challenge.WWW.example.com.")),
		challengeQuery("_acme-challenge.WWW.example.com."), "token-www")
	// A and AAAA of a challenge name under `hairpin *.example.com`: forwarded
	// (NODATA from upstream, with its SOA), not hairpinned.
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		q := query("_acme-challenge.www.example.com.", qtype)
		reply := forwarded(t, a, &chain.calls, q)
		if reply.Rcode != dns.RcodeSuccess || len(reply.Answer) != 0 || len(reply.Ns) != 1 {
			t.Errorf("%s: want the upstream's NODATA with its SOA, got\n%v", dns.TypeToString[qtype], reply)
		}
	}
	// SOA of a hairpin name: discovery (rule 2) forwards it.
	reply := forwarded(t, a, &chain.calls, query("www.example.com.", dns.TypeSOA))
	if reply.Rcode != dns.RcodeNameError || len(reply.Answer) != 0 || len(reply.Ns) != 1 || reply.Ns[0].Header().Rrtype != dns.TypeSOA {
		t.Errorf("www SOA: want the upstream's NXDOMAIN with its SOA, got\n%v", reply)
	}
	if n := up.udp.Load(); n != 4 {
		t.Errorf("upstream got %d queries, want 4", n)
	}
	if n := chain.calls.Load(); n != 0 {
		t.Errorf("the chain was asked %d times", n)
	}
}

func TestHairpinTargetLookupFails(t *testing.T) {
	a, chain := hairpinPlugin(t, "127.0.0.1:5300")
	servfails := servfailCount.WithLabelValues("")
	answers := hairpinAnswerCount.WithLabelValues("")
	before, beforeAnswers := testutil.ToFloat64(servfails), testutil.ToFloat64(answers)
	for _, tc := range []struct {
		name string
		why  string // in the error
	}{
		{"gone.example.com.", "NXDOMAIN"},   // the Service does not exist
		{"refused.example.com.", "REFUSED"}, // the chain failed without a reply
		{"raw.example.com.", ""},            // a raw write: taken, never passed on
	} {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
			calls := chain.calls.Load()
			q := query(tc.name, qtype)
			rc, err, cw, _ := serve(t, a, q, false)
			if tc.name == "raw.example.com." {
				// The chain's raw reply is recorded and used like any other.
				if err != nil || rc != dns.RcodeSuccess {
					t.Fatalf("%s: ServeDNS = %d, %v", tc.name, rc, err)
				}
				want := []string{"10.96.0.12"}
				if qtype == dns.TypeAAAA {
					want = nil
				}
				wantAddrs(t, cw.reply(t), q, 30, want...)
				continue
			}
			if rc != dns.RcodeServerFailure || err == nil || !strings.Contains(err.Error(), "hairpin") || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("%s %s: ServeDNS = %d, %v; want SERVFAIL and an error naming the hairpin and %s",
					tc.name, dns.TypeToString[qtype], rc, err, tc.why)
			}
			if cw.count() != 0 {
				t.Errorf("%s: the client got a reply from the plugin (or the chain's negative answer)", tc.name)
			}
			if got := chain.calls.Load() - calls; got != 1 {
				t.Errorf("%s: %d internal lookups, want 1", tc.name, got)
			}
		}
	}
	if got := testutil.ToFloat64(servfails) - before; got != 4 {
		t.Errorf("servfail_total grew by %v, want 4", got)
	}
	if got := testutil.ToFloat64(answers) - beforeAnswers; got != 2 {
		t.Errorf("hairpin_answers_total grew by %v, want 2 (the raw answers)", got)
	}
}

func TestHairpinWithoutNextPlugin(t *testing.T) {
	a, _ := hairpinPlugin(t, "127.0.0.1:5300")
	a.Next = nil
	// IP targets need no other plugin.
	q := query("www.example.com.", dns.TypeA)
	wantAddrs(t, hairpinServe(t, a, q, false), q, 60, "10.96.0.80")
	// A name target cannot be looked up: SERVFAIL.
	rc, err, cw, _ := serve(t, a, query("svc.example.com.", dns.TypeA), false)
	if rc != dns.RcodeServerFailure || err == nil || cw.count() != 0 {
		t.Errorf("ServeDNS = %d, %v (%d replies); want SERVFAIL", rc, err, cw.count())
	}
}

func TestHairpinAfterClose(t *testing.T) {
	a, chain := hairpinPlugin(t, "127.0.0.1:5300")
	a.engine.Close()
	// A closed engine classifies nothing: the question passes.
	passed(t, a, &chain.calls, query("www.example.com.", dns.TypeA))
}

// The chain sees the internal query as a client query on the same writer (its
// remote address, its transport), and test.ResponseWriter never gets it.
func TestHairpinInternalQueryTransport(t *testing.T) {
	a, _ := hairpinPlugin(t, "127.0.0.1:5300")
	var sawTCP []bool
	a.Next = test.HandlerFunc(func(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		_, tcp := w.RemoteAddr().(*net.TCPAddr)
		sawTCP = append(sawTCP, tcp)
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.IPv4(10, 0, 0, 1)})
		return dns.RcodeSuccess, w.WriteMsg(m)
	})
	for _, tcp := range []bool{false, true} {
		q := query("svc.example.com.", dns.TypeA)
		wantAddrs(t, hairpinServe(t, a, q, tcp), q, 5, "10.0.0.1")
	}
	if !slices.Equal(sawTCP, []bool{false, true}) {
		t.Errorf("the chain saw TCP %v, want the client's transport [false true]", sawTCP)
	}
}

// The answer the shim writes for a hairpin name with IP targets (from the
// core's classification) is, byte for byte, the one the core's exchange
// builds for the same query: flags, question, records, TTL, OPT.
func TestHairpinReadyAnswerIsTheCores(t *testing.T) {
	a, _ := hairpinPlugin(t, "127.0.0.1:5300")
	cases := []struct {
		name        string
		qtype       uint16
		edns, do    bool
		rd, cd, adq bool
	}{
		{name: "WwW.Example.COM.", qtype: dns.TypeA, rd: true},
		{name: "www.example.com.", qtype: dns.TypeAAAA, edns: true},
		{name: "dual.example.com.", qtype: dns.TypeAAAA, edns: true, do: true, cd: true},
		{name: "two.example.com.", qtype: dns.TypeA, adq: true},
		{name: "x.example.com.", qtype: dns.TypeA, edns: true, rd: true, cd: true, adq: true},
	}
	for _, tc := range cases {
		q := new(dns.Msg)
		q.SetQuestion(tc.name, tc.qtype)
		q.Id, q.RecursionDesired, q.CheckingDisabled, q.AuthenticatedData = 0x2345, tc.rd, tc.cd, tc.adq
		if tc.edns {
			q.SetEdns0(4096, tc.do)
		}
		v, c := a.engine.classify(tc.name, tc.qtype, dns.ClassINET)
		if _, ok := readyHairpin(&c); v != VerdictHairpin || !ok {
			t.Fatalf("%s: verdict %d, no ready answer", tc.name, v)
		}
		rc, err, cw, _ := serve(t, a, q, false)
		if rc != dns.RcodeSuccess || err != nil || len(cw.msgs) != 1 {
			t.Fatalf("%s: ServeDNS = %d, %v, %d messages", tc.name, rc, err, len(cw.msgs))
		}
		got, err := cw.msgs[0].Pack()
		if err != nil {
			t.Fatal(err)
		}
		wire, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		x, err := a.engine.newExchange(nil, wire, false, 1, nowMs())
		if err != nil {
			t.Fatal(err)
		}
		act, err := x.poll(make([]byte, 512))
		x.Close()
		if err != nil || act.kind != actionAnswer {
			t.Fatalf("%s: the core's exchange: %v, action %d", tc.name, err, act.kind)
		}
		if !bytes.Equal(got, act.data) {
			t.Errorf("%s: the shim wrote\n%x\nthe core builds\n%x", tc.name, got, act.data)
		}
	}
}

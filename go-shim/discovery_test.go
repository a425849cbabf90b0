package acmeforward

// Discovery (the SOA/NS walk and the nameservers' addresses), delegated zones
// learned from CNAMEs or listed, and authoritative mode, through the plugin.

import (
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestDiscovery(t *testing.T) {
	up := startUpstream(t, zoneData(t, false, exampleSOA,
		"example.com. 3600 IN NS ns1.example.com.",
		"ns1.example.com. 3600 IN A 192.0.2.53",
		"www.example.com. 3600 IN A 192.0.2.80",
	))
	a, next := newTestPlugin(t, block("example.com", "500ms", up.addr))

	// An SOA question inside the zone, as the propagation check walks up.
	reply := forwarded(t, a, next, query("www.Example.com.", dns.TypeSOA))
	if len(reply.Ns) != 1 || reply.Ns[0].Header().Rrtype != dns.TypeSOA || reply.Rcode != dns.RcodeSuccess {
		t.Errorf("SOA www.example.com: got rcode %s, authority %v; want NODATA with the zone's SOA", dns.RcodeToString[reply.Rcode], reply.Ns)
	}
	reply = forwarded(t, a, next, query("example.com.", dns.TypeSOA))
	if len(reply.Answer) != 1 || reply.Answer[0].Header().Rrtype != dns.TypeSOA {
		t.Errorf("SOA example.com: answer %v, want the SOA", reply.Answer)
	}
	if ttl := reply.Answer[0].Header().Ttl; ttl != 30 {
		t.Errorf("SOA TTL = %d, want 30 (max_ttl)", ttl)
	}

	// Before any NS answer, ns1's address is the internal view's business.
	passed(t, a, next, query("ns1.example.com.", dns.TypeA))
	passed(t, a, next, query("www.example.com.", dns.TypeA))

	// The NS question; its answer names ns1.example.com.
	reply = forwarded(t, a, next, query("example.com.", dns.TypeNS))
	if len(reply.Answer) != 1 {
		t.Fatalf("NS example.com: answer %v, want one NS", reply.Answer)
	}
	if ns, ok := reply.Answer[0].(*dns.NS); !ok || ns.Ns != "ns1.example.com." {
		t.Fatalf("NS example.com: answer %v, want ns1.example.com.", reply.Answer[0])
	}
	if got := testutil.ToFloat64(learnedEntries.WithLabelValues("")); got < 1 {
		t.Errorf("learned_entries = %v after an NS answer, want at least 1", got)
	}

	// Now ns1's A and AAAA go out; other names still pass.
	reply = forwarded(t, a, next, query("NS1.example.com.", dns.TypeA))
	if len(reply.Answer) != 1 || reply.Answer[0].(*dns.A).A.String() != "192.0.2.53" {
		t.Errorf("A ns1.example.com: answer %v, want 192.0.2.53", reply.Answer)
	}
	forwarded(t, a, next, query("ns1.example.com.", dns.TypeAAAA))
	passed(t, a, next, query("www.example.com.", dns.TypeA))
	passed(t, a, next, query("ns1.example.com.", dns.TypeTXT))

	// Outside the zone nothing changes.
	passed(t, a, next, query("example.org.", dns.TypeSOA))

	// Every forwarded question reached the upstream (and nothing else did).
	if got, want := len(up.received()), 5; got != want {
		t.Errorf("upstream got %d queries, want %d", got, want)
	}
}

func TestDiscoveryOff(t *testing.T) {
	up := startUpstream(t, zoneData(t, false, exampleSOA,
		"example.com. 3600 IN NS ns1.example.com.",
		"_acme-challenge.www.example.com. 60 IN TXT \"token\"",
	))
	a, next := newTestPlugin(t, "acmeforward example.com {\n to "+up.addr+"\n timeout 500ms\n discovery off\n}")
	passed(t, a, next, query("example.com.", dns.TypeSOA))
	passed(t, a, next, query("www.example.com.", dns.TypeSOA))
	passed(t, a, next, query("example.com.", dns.TypeNS))
	passed(t, a, next, query("ns1.example.com.", dns.TypeA))
	// The challenge itself still goes out, any type.
	forwarded(t, a, next, query(challenge, dns.TypeTXT))
	forwarded(t, a, next, query(challenge, dns.TypeSOA))
	if n := len(up.received()); n != 2 {
		t.Errorf("upstream got %d queries, want the 2 challenge ones", n)
	}
}

func TestDelegationLearnedFromCNAME(t *testing.T) {
	up := startUpstream(t, zoneData(t, false, "",
		"_acme-challenge.www.example.com. 300 IN CNAME x.auth.example.net.",
		"x.auth.example.net. 300 IN TXT \"delegated-token\"",
		"y.auth.example.net. 300 IN TXT \"other\"",
	))
	a, next := newTestPlugin(t, block("example.com", "500ms", up.addr))

	passed(t, a, next, query("x.auth.example.net.", dns.TypeTXT))

	// The challenge answer is the CNAME into the acme-dns zone (and the
	// record it leads to).
	reply := forwarded(t, a, next, query("_acme-challenge.www.example.com.", dns.TypeTXT))
	if len(reply.Answer) != 2 {
		t.Fatalf("challenge answer %v, want the CNAME and the TXT", reply.Answer)
	}
	if cn, ok := reply.Answer[0].(*dns.CNAME); !ok || cn.Target != "x.auth.example.net." {
		t.Fatalf("challenge answer %v, want a CNAME to x.auth.example.net.", reply.Answer[0])
	}
	if got := testutil.ToFloat64(learnedEntries.WithLabelValues("")); got < 1 {
		t.Errorf("learned_entries = %v after a CNAME, want at least 1", got)
	}

	// The client follows the CNAME: the target's TXT now goes out (the check's
	// types only: never its A).
	reply = forwarded(t, a, next, query("X.Auth.Example.NET.", dns.TypeTXT))
	if len(reply.Answer) != 1 || reply.Answer[0].(*dns.TXT).Txt[0] != "delegated-token" {
		t.Errorf("TXT x.auth.example.net: answer %v, want delegated-token", reply.Answer)
	}
	forwarded(t, a, next, query("x.auth.example.net.", dns.TypeCNAME))
	passed(t, a, next, query("x.auth.example.net.", dns.TypeA))
	// The propagation check's SOA walk above the target goes out too.
	forwarded(t, a, next, query("auth.example.net.", dns.TypeSOA))
	// Only the learned target, not its siblings.
	passed(t, a, next, query("y.auth.example.net.", dns.TypeTXT))
}

func TestDelegatedZone(t *testing.T) {
	up := startUpstream(t, zoneData(t, false, "",
		"x.auth.example.net. 300 IN TXT \"delegated-token\"",
		"x.auth.example.net. 300 IN A 192.0.2.7",
		"auth.example.net. 300 IN MX 10 mail.example.net.",
	))
	a, next := newTestPlugin(t, "acmeforward example.com {\n to "+up.addr+"\n timeout 500ms\n delegated auth.example.net\n}")
	reply := forwarded(t, a, next, query("x.auth.example.net.", dns.TypeTXT))
	if len(reply.Answer) != 1 || reply.Answer[0].(*dns.TXT).Txt[0] != "delegated-token" {
		t.Errorf("TXT: answer %v, want delegated-token", reply.Answer)
	}
	forwarded(t, a, next, query("new.x.auth.example.net.", dns.TypeCNAME))
	forwarded(t, a, next, query("auth.example.net.", dns.TypeNS))
	// An application's types stay internal, even in a delegated zone.
	passed(t, a, next, query("x.auth.example.net.", dns.TypeA))
	passed(t, a, next, query("auth.example.net.", dns.TypeMX))
	passed(t, a, next, query("new.x.auth.example.net.", dns.TypeAAAA))
	// Its ancestors' SOA/NS for the propagation check, nothing else above it.
	forwarded(t, a, next, query("example.net.", dns.TypeSOA))
	passed(t, a, next, query("example.net.", dns.TypeA))
	passed(t, a, next, query("other.example.net.", dns.TypeTXT))
}

func TestAuthoritativeMode(t *testing.T) {
	// The "authoritative" server: the zone's nameserver, with the fresh token
	// and AA set.
	var authRD atomic.Int32
	auth, authIP := startAuthoritative(t, func(w dns.ResponseWriter, r *dns.Msg) {
		if r.RecursionDesired {
			authRD.Add(1)
		}
		zoneData(t, true, exampleSOA,
			"_acme-challenge.www.example.com. 60 IN TXT \"fresh-token\"",
			"_acme-challenge.api.example.com. 60 IN TXT \"api-token\"",
		)(w, r)
	})
	// The "resolver" behind `to`: serves the discovery data (SOA, NS, the NS
	// host's address) and a stale copy of the challenge record, as a caching
	// resolver would after a first check.
	resolver := startUpstream(t, zoneData(t, false, exampleSOA,
		"example.com. 3600 IN NS ns1.example.com.",
		"ns1.example.com. 3600 IN A "+authIP,
		"_acme-challenge.www.example.com. 60 IN TXT \"stale-token\"",
	))
	a, next := newTestPlugin(t, "acmeforward example.com {\n to "+resolver.addr+"\n timeout 1s\n upstream_mode authoritative\n allow_ns 127.0.0.0/8\n}")

	authTries := upstreamRequestCount.WithLabelValues("", toAuthoritative, "udp")
	resolverTries := upstreamRequestCount.WithLabelValues("", resolver.addr, "udp")
	lookups := discoveryLookupCount.WithLabelValues("")
	triesBefore, resolverBefore, lookupsBefore := testutil.ToFloat64(authTries), testutil.ToFloat64(resolverTries), testutil.ToFloat64(lookups)
	logs := captureLog(t)
	q := challengeQuery("_acme-challenge.WWW.example.com.")
	rc, err, cw, _ := serve(t, a, q, false)
	if err != nil || rc != dns.RcodeSuccess {
		t.Fatalf("ServeDNS = %d, %v", rc, err)
	}
	reply := cw.reply(t)
	checkAnswer(t, reply, q, "fresh-token")
	if next.Load() != 0 {
		t.Error("next handler called")
	}

	// The resolver was asked the discovery questions only (RD set), in order:
	// SOA of the challenge name, NS of the apex, A of the glueless NS host.
	var asked []string
	for _, m := range resolver.received() {
		if !m.RecursionDesired {
			t.Errorf("resolver query %v has RD clear", m.Question[0])
		}
		asked = append(asked, strings.ToLower(m.Question[0].Name)+" "+dns.TypeToString[m.Question[0].Qtype])
	}
	want := []string{"_acme-challenge.www.example.com. SOA", "example.com. NS", "ns1.example.com. A"}
	if !slices.Equal(asked, want) {
		t.Errorf("resolver was asked %q, want %q", asked, want)
	}
	// The nameserver got the challenge, RD clear, over UDP as the client came.
	if got := auth.received(); len(got) != 1 || !strings.EqualFold(got[0].Question[0].Name, q.Question[0].Name) || got[0].Question[0].Qtype != dns.TypeTXT {
		t.Errorf("nameserver got %v, want the one TXT challenge", got)
	}
	if authRD.Load() != 0 || auth.udp.Load() != 1 {
		t.Errorf("nameserver got %d queries with RD set, %d over UDP; want RD clear, UDP", authRD.Load(), auth.udp.Load())
	}
	// The "to" label of the nameserver try is "authoritative", never the
	// address DNS gave; the discovery lookups carry the resolver's.
	if got := testutil.ToFloat64(authTries) - triesBefore; got != 1 {
		t.Errorf("upstream_requests_total{to=authoritative,proto=udp} grew by %v, want 1", got)
	}
	if got := testutil.ToFloat64(resolverTries) - resolverBefore; got != 3 {
		t.Errorf("upstream_requests_total{to=%s,proto=udp} grew by %v, want 3 (SOA, NS, A)", resolver.addr, got)
	}
	if got := testutil.ToFloat64(lookups) - lookupsBefore; got != 3 {
		t.Errorf("discovery_lookups_total grew by %v, want 3 (SOA, NS, A)", got)
	}
	for to := range labelValues(t, "to") {
		if strings.Contains(to, authIP) {
			t.Errorf("a metric has to=%q: the nameserver's address", to)
		}
	}
	wantLog := "[INFO] plugin/acmeforward: _acme-challenge.WWW.example.com. TXT to=authoritative rcode=NOERROR duration="
	if !strings.Contains(logs.String(), wantLog) {
		t.Errorf("log %q has no line %q", logs.String(), wantLog)
	}
	if got := testutil.ToFloat64(learnedEntries.WithLabelValues("")); got < 1 {
		t.Errorf("learned_entries = %v, want the zone's nameservers at least", got)
	}

	// The zone's nameservers are learned: a second challenge in the zone goes
	// straight to them, over TCP as this client comes.
	q2 := challengeQuery("_acme-challenge.api.example.com.")
	rc, err, cw, _ = serve(t, a, q2, true)
	if err != nil || rc != dns.RcodeSuccess {
		t.Fatalf("second ServeDNS = %d, %v", rc, err)
	}
	checkAnswer(t, cw.reply(t), q2, "api-token")
	if n := len(resolver.received()); n != len(want) {
		t.Errorf("resolver got %d queries after the second challenge, want still %d", n, len(want))
	}
	if auth.tcp.Load() != 1 {
		t.Errorf("nameserver got %d TCP queries, want 1", auth.tcp.Load())
	}

	// Discovery questions from the client still go to the resolver.
	forwarded(t, a, next, query("example.com.", dns.TypeSOA))
	if n := len(resolver.received()); n != len(want)+1 {
		t.Errorf("resolver got %d queries, want %d", n, len(want)+1)
	}
	if n := len(auth.received()); n != 2 {
		t.Errorf("nameserver got %d queries, want 2", n)
	}
	// Neither the second challenge nor the client's own SOA question made a
	// discovery lookup.
	if got := testutil.ToFloat64(lookups) - lookupsBefore; got != 3 {
		t.Errorf("discovery_lookups_total grew by %v in all, want 3", got)
	}
}

func TestAuthoritativeModeNeedsAA(t *testing.T) {
	// A "nameserver" that answers without AA (a resolver, say): rejected, and
	// with no other nameserver the client gets SERVFAIL.
	auth, authIP := startAuthoritative(t, zoneData(t, false, exampleSOA,
		"_acme-challenge.www.example.com. 60 IN TXT \"not-authoritative\"",
	))
	resolver := startUpstream(t, zoneData(t, false, exampleSOA,
		"example.com. 3600 IN NS ns1.example.com.",
		"ns1.example.com. 3600 IN A "+authIP,
	))
	a, next := newTestPlugin(t, "acmeforward example.com {\n to "+resolver.addr+"\n timeout 1s\n upstream_mode authoritative\n allow_ns 127.0.0.0/8\n}")
	notAuth := upstreamFailureCount.WithLabelValues("", toAuthoritative, reasonNotAuth)
	before := testutil.ToFloat64(notAuth)
	rc, err, cw, _ := serve(t, a, challengeQuery(challenge), false)
	if rc != dns.RcodeServerFailure || err == nil {
		t.Fatalf("ServeDNS = %d, %v; want SERVFAIL and an error", rc, err)
	}
	if !strings.Contains(err.Error(), net.JoinHostPort(authIP, "53")) {
		t.Errorf("error %q does not name the nameserver", err)
	}
	if cw.count() != 0 || next.Load() != 0 {
		t.Error("the plugin wrote a reply, or the next handler ran")
	}
	if got := testutil.ToFloat64(notAuth) - before; got != 1 {
		t.Errorf("upstream_failures_total{reason=not_authoritative} grew by %v, want 1", got)
	}
	if n := len(auth.received()); n != 1 {
		t.Errorf("nameserver got %d queries, want 1", n)
	}
}

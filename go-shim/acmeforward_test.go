package acmeforward

// Forwarding through the plugin: the answer, failover, TC and TCP, the
// client's transport, what the core refuses, a reload during an exchange.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestForwardChallenge(t *testing.T) {
	up := startUpstream(t, txtAnswer("token-1", 3600))
	a, next := newTestPlugin(t, "acmeforward example.com {\n to "+up.addr+"\n max_ttl 60\n}")

	q := challengeQuery("_ACME-Challenge.WwW.Example.COM.")
	before := testutil.ToFloat64(requestCount.WithLabelValues("", decisionChallenge))
	rc, err, cw, rec := serve(t, a, q, false)
	if err != nil || rc != dns.RcodeSuccess {
		t.Fatalf("ServeDNS = %d, %v; want %d, nil", rc, err, dns.RcodeSuccess)
	}
	reply := cw.reply(t)
	checkAnswer(t, reply, q, "token-1")
	if ttl := reply.Answer[0].Header().Ttl; ttl != 60 {
		t.Errorf("answer TTL = %d, want 60 (capped by max_ttl)", ttl)
	}
	if rec.Rcode != dns.RcodeSuccess || rec.Msg == nil || len(rec.Msg.Answer) != 1 {
		t.Errorf("recorder (what log and prometheus see) got rcode %d, msg %v; want the NOERROR answer", rec.Rcode, rec.Msg)
	}
	if n := next.Load(); n != 0 {
		t.Errorf("next handler called %d times for a challenge name", n)
	}
	if up.udp.Load() != 1 || up.tcp.Load() != 0 {
		t.Errorf("upstream got %d UDP and %d TCP queries, want 1 UDP", up.udp.Load(), up.tcp.Load())
	}
	// The upstream query is the core's, not the client's: recursion desired,
	// EDNS0 with a 1232-byte payload.
	uq := up.received()[0]
	if !uq.RecursionDesired {
		t.Error("upstream query has RD clear")
	}
	if opt := uq.IsEdns0(); opt == nil || opt.UDPSize() != 1232 {
		t.Errorf("upstream query EDNS0 = %v, want a 1232-byte UDP payload", opt)
	}
	if !strings.EqualFold(uq.Question[0].Name, q.Question[0].Name) {
		t.Errorf("upstream question = %q, want %q in any case", uq.Question[0].Name, q.Question[0].Name)
	}
	if got := testutil.ToFloat64(requestCount.WithLabelValues("", decisionChallenge)) - before; got != 1 {
		t.Errorf("requests_total grew by %v, want 1", got)
	}
}

func TestForwardDefaultMaxTTL(t *testing.T) {
	up := startUpstream(t, txtAnswer("token-ttl", 3600))
	a, _ := newTestPlugin(t, "acmeforward {\n to "+up.addr+"\n}")
	q := challengeQuery(challenge)
	rc, err, cw, _ := serve(t, a, q, false)
	if err != nil || rc != dns.RcodeSuccess {
		t.Fatalf("ServeDNS = %d, %v", rc, err)
	}
	reply := cw.reply(t)
	checkAnswer(t, reply, q, "token-ttl")
	if ttl := reply.Answer[0].Header().Ttl; ttl != 30 {
		t.Errorf("answer TTL = %d, want the default cap 30", ttl)
	}
}

func TestPassToNext(t *testing.T) {
	up := startUpstream(t, txtAnswer("never", 60))
	a, next := newTestPlugin(t, block("example.com", "200ms", up.addr))

	for _, q := range []*dns.Msg{
		challengeQuery("www.example.com."),                 // not a challenge name
		challengeQuery("_acme-challenge.www.example.org."), // outside the zones
		challengeQuery("example.com."),
	} {
		before := next.Load()
		rc, err, cw, _ := serve(t, a, q, false)
		if err != nil || rc != dns.RcodeNameError {
			t.Errorf("%s: ServeDNS = %d, %v; want the next handler's %d, nil", q.Question[0].Name, rc, err, dns.RcodeNameError)
		}
		if next.Load() != before+1 {
			t.Errorf("%s: next handler not called", q.Question[0].Name)
		}
		if cw.count() != 0 {
			t.Errorf("%s: plugin wrote to the client", q.Question[0].Name)
		}
	}
	// Not exactly one question: the plugin does not look at it.
	two := challengeQuery(challenge)
	two.Question = append(two.Question, two.Question[0])
	before := next.Load()
	if _, _, cw, _ := serve(t, a, two, false); cw.count() != 0 || next.Load() != before+1 {
		t.Error("a two-question query was not passed to the next handler")
	}
	if n := up.udp.Load() + up.tcp.Load(); n != 0 {
		t.Errorf("upstream got %d queries for names that pass", n)
	}
}

// TestOtherOpcodesPass: a NOTIFY or an UPDATE, also for a name a QUERY
// would forward (a challenge name, a listed zone's apex), is for the plugins
// that serve the zone (secondary, file): it reaches the next plugin
// unchanged, and nothing goes upstream.
func TestOtherOpcodesPass(t *testing.T) {
	up := startUpstream(t, txtAnswer("never", 60))
	a, _ := newTestPlugin(t, block("example.com", "200ms", up.addr))
	var got []*dns.Msg
	a.Next = test.HandlerFunc(func(_ context.Context, _ dns.ResponseWriter, r *dns.Msg) (int, error) {
		got = append(got, r)
		return dns.RcodeSuccess, nil
	})
	notify := func(name string) *dns.Msg {
		m := new(dns.Msg)
		m.SetNotify(name)
		return m
	}
	update := func(name string) *dns.Msg {
		m := new(dns.Msg)
		m.SetUpdate(name)
		rr, err := dns.NewRR(challenge + " 60 IN TXT new-token")
		if err != nil {
			t.Fatal(err)
		}
		m.Insert([]dns.RR{rr})
		return m
	}
	for _, q := range []*dns.Msg{
		notify(challenge), notify("example.com."),
		update(challenge), update("example.com."),
	} {
		what := dns.OpcodeToString[q.Opcode] + " " + q.Question[0].Name
		// A QUERY for the same question is the plugin's.
		if v := a.engine.Classify(q.Question[0].Name, q.Question[0].Qtype, q.Question[0].Qclass); v != VerdictForward {
			t.Fatalf("%s: the question classifies as %d, want forwarded (the test asks nothing)", what, v)
		}
		want, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		got = nil
		rc, err, cw, _ := serve(t, a, q, false)
		if err != nil || rc != dns.RcodeSuccess || cw.count() != 0 {
			t.Errorf("%s: ServeDNS = %d, %v with %d replies written; want the next plugin's NOERROR, nothing written", what, rc, err, cw.count())
		}
		if len(got) != 1 {
			t.Fatalf("%s: the next plugin got %d messages, want 1", what, len(got))
		}
		if b, err := got[0].Pack(); err != nil || !bytes.Equal(b, want) {
			t.Errorf("%s: the next plugin got\n%v\nwant it unchanged:\n%v", what, got[0], q)
		}
	}
	if n := up.udp.Load() + up.tcp.Load(); n != 0 {
		t.Errorf("upstream got %d queries", n)
	}
}

func TestFailover(t *testing.T) {
	badAnswers := map[string]func(query []byte) []byte{
		"garbage": func([]byte) []byte { return []byte("\x00\x01 this is not a DNS message") },
		"wrong ID": func(query []byte) []byte {
			m := new(dns.Msg)
			if err := m.Unpack(query); err != nil {
				return nil
			}
			r := new(dns.Msg)
			r.SetReply(m)
			r.Id = m.Id + 1
			r.Answer = append(r.Answer, &dns.TXT{
				Hdr: dns.RR_Header{Name: m.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
				Txt: []string{"spoofed"},
			})
			out, _ := r.Pack()
			return out
		},
		"silent": func([]byte) []byte { return nil },
		"servfail": func(query []byte) []byte {
			m := new(dns.Msg)
			if err := m.Unpack(query); err != nil {
				return nil
			}
			r := new(dns.Msg)
			r.SetRcode(m, dns.RcodeServerFailure)
			out, _ := r.Pack()
			return out
		},
	}
	// Garbage and a wrong ID are no reply to the query: dropped (counted in
	// dropped_replies_total) while the try waits for the true one, which never
	// comes: a timeout.
	wantReason := map[string]string{
		"garbage":  reasonTimeout,
		"wrong ID": reasonTimeout,
		"silent":   reasonTimeout,
		"servfail": reasonUpstreamError,
	}
	wantDrop := map[string]string{"garbage": dropNotAResponse, "wrong ID": dropIDMismatch}
	for name, answer := range badAnswers {
		t.Run(name, func(t *testing.T) {
			bad := rawUpstream(t, answer)
			good := startUpstream(t, txtAnswer("from-second", 60))
			a, next := newTestPlugin(t, block("example.com", "200ms", bad, good.addr))

			failures := upstreamFailureCount.WithLabelValues("", bad, wantReason[name])
			before := testutil.ToFloat64(failures)
			var drops prometheus.Counter
			var dropsBefore float64
			if reason, ok := wantDrop[name]; ok {
				drops = droppedReplyCount.WithLabelValues("", reason)
				dropsBefore = testutil.ToFloat64(drops)
			}
			q := challengeQuery(challenge)
			rc, err, cw, _ := serve(t, a, q, false)
			if err != nil || rc != dns.RcodeSuccess {
				t.Fatalf("ServeDNS = %d, %v; want %d, nil", rc, err, dns.RcodeSuccess)
			}
			checkAnswer(t, cw.reply(t), q, "from-second")
			if next.Load() != 0 {
				t.Error("next handler called")
			}
			if got := testutil.ToFloat64(failures) - before; got != 1 {
				t.Errorf("upstream_failures_total{to=%s,reason=%s} grew by %v, want 1", bad, wantReason[name], got)
			}
			if drops != nil {
				if got := testutil.ToFloat64(drops) - dropsBefore; got != 1 {
					t.Errorf("dropped_replies_total{reason=%s} grew by %v, want 1", wantDrop[name], got)
				}
			}
		})
	}
}

func TestFailoverRefusedConnection(t *testing.T) {
	// A port nothing listens on (bound, then closed): the UDP try fails
	// with a network error or times out; either way the next upstream answers.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := pc.LocalAddr().String()
	_ = pc.Close()
	good := startUpstream(t, txtAnswer("after-refused", 60))
	a, _ := newTestPlugin(t, block("example.com", "200ms", closed, good.addr))
	q := challengeQuery(challenge)
	rc, err, cw, _ := serve(t, a, q, false)
	if err != nil || rc != dns.RcodeSuccess {
		t.Fatalf("ServeDNS = %d, %v", rc, err)
	}
	checkAnswer(t, cw.reply(t), q, "after-refused")
}

func TestAllUpstreamsFail(t *testing.T) {
	silent := rawUpstream(t, func([]byte) []byte { return nil })
	garbage := rawUpstream(t, func([]byte) []byte { return []byte{0xde, 0xad, 0xbe, 0xef} })
	a, next := newTestPlugin(t, block("example.com", "200ms", silent, garbage))

	before := testutil.ToFloat64(servfailCount.WithLabelValues(""))
	rc, err, cw, _ := serve(t, a, challengeQuery(challenge), false)
	if rc != dns.RcodeServerFailure {
		t.Errorf("ServeDNS rcode = %d, want SERVFAIL (%d)", rc, dns.RcodeServerFailure)
	}
	if err == nil {
		t.Fatal("ServeDNS returned no error; CoreDNS needs one to log and answer SERVFAIL")
	}
	for _, want := range []string{"acmeforward", silent, garbage} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if cw.count() != 0 {
		t.Error("plugin wrote to the client itself; CoreDNS writes the SERVFAIL")
	}
	if next.Load() != 0 {
		t.Error("next handler called")
	}
	if got := testutil.ToFloat64(servfailCount.WithLabelValues("")) - before; got != 1 {
		t.Errorf("servfail_total grew by %v, want 1", got)
	}
}

func TestCancelledContext(t *testing.T) {
	silent := rawUpstream(t, func([]byte) []byte { return nil })
	a, _ := newTestPlugin(t, block("example.com", "60s", silent, silent))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cw := &captureWriter{}
	rc, err := a.ServeDNS(ctx, dnstest.NewRecorder(cw), challengeQuery(challenge))
	if rc != dns.RcodeServerFailure || err == nil {
		t.Fatalf("ServeDNS with a cancelled context = %d, %v; want SERVFAIL and an error", rc, err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %q does not wrap context.Canceled", err)
	}
}

func TestTruncatedUDPRetriedOverTCP(t *testing.T) {
	up := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		if _, tcp := w.RemoteAddr().(*net.TCPAddr); !tcp {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Truncated = true
			_ = w.WriteMsg(m)
			return
		}
		txtAnswer("over-tcp", 60)(w, r)
	})
	a, _ := newTestPlugin(t, block("example.com", "500ms", up.addr))

	truncated := upstreamFailureCount.WithLabelValues("", up.addr, reasonTruncated)
	tcpTries := upstreamRequestCount.WithLabelValues("", up.addr, "tcp")
	beforeTrunc, beforeTCP := testutil.ToFloat64(truncated), testutil.ToFloat64(tcpTries)

	q := challengeQuery(challenge)
	rc, err, cw, _ := serve(t, a, q, false)
	if err != nil || rc != dns.RcodeSuccess {
		t.Fatalf("ServeDNS = %d, %v", rc, err)
	}
	checkAnswer(t, cw.reply(t), q, "over-tcp")
	if up.udp.Load() != 1 || up.tcp.Load() != 1 {
		t.Errorf("upstream got %d UDP and %d TCP queries, want 1 and 1", up.udp.Load(), up.tcp.Load())
	}
	if testutil.ToFloat64(truncated)-beforeTrunc != 1 || testutil.ToFloat64(tcpTries)-beforeTCP != 1 {
		t.Error("truncated failure or TCP try not counted")
	}
}

func TestTruncatedOverTCPMovesOn(t *testing.T) {
	first := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Truncated = true
		_ = w.WriteMsg(m)
	})
	second := startUpstream(t, txtAnswer("second", 60))
	a, _ := newTestPlugin(t, block("example.com", "500ms", first.addr, second.addr))
	q := challengeQuery(challenge)
	rc, err, cw, _ := serve(t, a, q, false)
	if err != nil || rc != dns.RcodeSuccess {
		t.Fatalf("ServeDNS = %d, %v", rc, err)
	}
	checkAnswer(t, cw.reply(t), q, "second")
	if first.udp.Load() != 1 || first.tcp.Load() != 1 {
		t.Errorf("first upstream got %d UDP and %d TCP queries, want 1 and 1", first.udp.Load(), first.tcp.Load())
	}
}

func TestClientOverTCP(t *testing.T) {
	up := startUpstream(t, txtAnswer("client-tcp", 60))
	a, _ := newTestPlugin(t, block("example.com", "500ms", up.addr))
	q := challengeQuery("_acme-challenge.WWW.example.com.")
	rc, err, cw, _ := serve(t, a, q, true)
	if err != nil || rc != dns.RcodeSuccess {
		t.Fatalf("ServeDNS = %d, %v", rc, err)
	}
	checkAnswer(t, cw.reply(t), q, "client-tcp")
	if up.udp.Load() != 0 || up.tcp.Load() != 1 {
		t.Errorf("upstream got %d UDP and %d TCP queries, want TCP only", up.udp.Load(), up.tcp.Load())
	}
}

func TestLargeReplyTruncatedForUDPClient(t *testing.T) {
	// 40 TXT records of 200 bytes: more than a 512-byte UDP client accepts.
	big := func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for range 40 {
			m.Answer = append(m.Answer, &dns.TXT{
				Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
				Txt: []string{strings.Repeat("x", 200)},
			})
		}
		_ = w.WriteMsg(m)
	}
	up := startUpstream(t, big)
	a, _ := newTestPlugin(t, block("example.com", "500ms", up.addr))

	q := challengeQuery(challenge) // no EDNS0: 512 bytes over UDP
	_, err, cw, _ := serve(t, a, q, false)
	if err != nil {
		t.Fatal(err)
	}
	reply := cw.reply(t)
	if wire, err := reply.Pack(); err != nil || len(wire) > 512 {
		t.Fatalf("UDP client reply packs to %d bytes (%v); want at most 512", len(wire), err)
	}
	if !reply.Truncated {
		t.Error("oversized reply to a UDP client is not marked TC")
	}

	_, err, cw, _ = serve(t, a, q, true)
	if err != nil {
		t.Fatal(err)
	}
	if reply := cw.reply(t); reply.Truncated || len(reply.Answer) != 40 {
		t.Errorf("TCP client got TC=%v and %d answers, want the whole reply", reply.Truncated, len(reply.Answer))
	}

	// A UDP client that takes 65535 bytes gets the whole reply (about 8.5 KB,
	// more than the buffers the shim starts with), as CoreDNS's own replies.
	q.SetEdns0(65535, false)
	_, err, cw, _ = serve(t, a, q, false)
	if err != nil {
		t.Fatal(err)
	}
	if reply := cw.reply(t); reply.Truncated || len(reply.Answer) != 40 {
		t.Errorf("UDP client with EDNS0 65535 got TC=%v and %d answers, want the whole reply", reply.Truncated, len(reply.Answer))
	}
}

func TestUpstreamTCPFraming(t *testing.T) {
	// A raw TCP upstream checks the 2-byte length prefix and answers with one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		var prefix [2]byte
		if _, err := io.ReadFull(conn, prefix[:]); err != nil {
			return
		}
		query := make([]byte, binary.BigEndian.Uint16(prefix[:]))
		if _, err := io.ReadFull(conn, query); err != nil {
			return
		}
		reply := append([]byte{0, 0}, query...)
		binary.BigEndian.PutUint16(reply, uint16(len(query)))
		_, _ = conn.Write(reply) // an echo: the framing is what is tested
	}()
	query := []byte("0123456789")
	var got []byte
	server := netip.MustParseAddrPort(ln.Addr().String())
	err = newUpstreams(nil, nil).roundTrip(context.Background(), protoTCP, server, time.Now().Add(time.Second), query, make([]byte, 4),
		func(reply []byte) bool { got = append([]byte(nil), reply...); return true }, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(query) {
		t.Errorf("echo = %q, want %q", got, query)
	}
}

func TestQueryTheCoreRejects(t *testing.T) {
	up := startUpstream(t, txtAnswer("never", 60))
	a, next := newTestPlugin(t, block("example.com", "200ms", up.addr))
	for name, mutate := range map[string]func(*dns.Msg){
		// CoreDNS does not pass responses to plugins; were one to come, no
		// reply to it.
		"response": func(m *dns.Msg) { m.Response = true },
	} {
		q := challengeQuery(challenge)
		mutate(q)
		rc, err, cw, _ := serve(t, a, q, false)
		if rc != dns.RcodeServerFailure || err == nil {
			t.Errorf("%s: ServeDNS = %d, %v; want SERVFAIL and an error", name, rc, err)
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: error %v does not carry the core's result code", name, err)
		}
		if cw.count() != 0 || next.Load() != 0 {
			t.Errorf("%s: the client got a reply from the plugin, or the next handler ran", name)
		}
	}
	if n := up.udp.Load() + up.tcp.Load(); n != 0 {
		t.Errorf("upstream got %d queries the core rejected", n)
	}
}

// TestBrokenEDNSGetsFormerr: a query whose EDNS0 is broken in a way miekg/dns
// (and so CoreDNS) lets through gets FORMERR (RFC 6891 §6.1.1), which the
// core builds: written through WriteMsg, no error, no SERVFAIL, nothing sent
// upstream. So too for one that follows a well-formed query in flight.
func TestBrokenEDNSGetsFormerr(t *testing.T) {
	up, release := heldUpstream(t)
	a, next := newTestPlugin(t, block("example.com", "5s", up.addr))
	opt := func(name string) *dns.OPT {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		return o
	}
	var broken []*dns.Msg
	for _, mutate := range []func(*dns.Msg){
		func(m *dns.Msg) { m.Extra = []dns.RR{opt("."), opt(".")} },  // two OPT records
		func(m *dns.Msg) { m.Extra = []dns.RR{opt("example.com.")} }, // OPT off the root
		func(m *dns.Msg) { m.Answer = []dns.RR{opt(".")} },           // OPT in the answer section
	} {
		q := challengeQuery(challenge)
		mutate(q)
		broken = append(broken, q)
	}
	check := func(q *dns.Msg, cw *captureWriter) {
		t.Helper()
		reply := cw.reply(t)
		if reply.Rcode != dns.RcodeFormatError || reply.Id != q.Id || !reply.Response ||
			len(reply.Question) != 1 || reply.Question[0] != q.Question[0] ||
			len(reply.Answer)+len(reply.Ns)+len(reply.Extra) != 0 {
			t.Errorf("query\n%v\ngot\n%v\nwant FORMERR with the query's ID and question, no records", q, reply)
		}
	}
	servfails := testutil.ToFloat64(servfailCount.WithLabelValues(""))
	for _, q := range broken {
		rc, err, cw, _ := serve(t, a, q, false)
		if rc != dns.RcodeFormatError || err != nil {
			t.Errorf("query\n%v\nServeDNS = %d, %v; want FORMERR and no error", q, rc, err)
		}
		check(q, cw)
	}
	if n := up.udp.Load() + up.tcp.Load(); n != 0 {
		t.Errorf("upstream got %d queries with broken EDNS0", n)
	}

	// The same question, well-formed, is in flight (its upstream holds the
	// reply): the broken queries follow it, and each gets its FORMERR once it
	// is answered. (Within max_time, 4s: the leader must not give up first.)
	leader := challengeQuery(challenge)
	key := keyOf(leader)
	led := make(chan *captureWriter, 1)
	go func() {
		_, _, cw, _ := serve(t, a, leader, false)
		led <- cw
	}()
	waitFor(t, "the leader's query at the upstream", func() bool { return up.udp.Load() == 1 })
	got := serveAll(t, a, broken, func(int) bool { return false }, func() {
		waitFor(t, "every client to join the flight", func() bool { return a.flights.waiting(key) == 1+len(broken) })
		close(release)
	})
	if reply := (<-led).reply(t); reply.Rcode != dns.RcodeSuccess || len(reply.Answer) != 1 {
		t.Errorf("the well-formed query got\n%v\nwant the upstream's answer", reply)
	}
	for i, q := range broken {
		check(q, got[i])
	}
	if got := testutil.ToFloat64(servfailCount.WithLabelValues("")) - servfails; got != 0 {
		t.Errorf("servfail_total grew by %v", got)
	}
	if next.Load() != 0 {
		t.Error("the next handler ran")
	}
}

func TestReloadDuringExchange(t *testing.T) {
	// The engine is closed (a reload) while a forwarded query waits for its
	// upstream: the exchange co-owns the core's engine, so the reply is still
	// checked and answered, and nothing touches freed memory; new questions
	// pass from then on.
	arrived, release := make(chan struct{}), make(chan struct{})
	up := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		close(arrived)
		<-release
		txtAnswer("after-reload", 60)(w, r)
	})
	// A second upstream that must never be asked: the first one answers.
	second := startUpstream(t, txtAnswer("never", 60))
	a, next := newTestPlugin(t, block("example.com", "10s", up.addr, second.addr))
	type result struct {
		rc  int
		err error
		cw  *captureWriter
	}
	done := make(chan result)
	q := challengeQuery(challenge)
	go func() {
		rc, err, cw, _ := serve(t, a, q, false)
		done <- result{rc, err, cw}
	}()
	<-arrived
	if err := a.OnShutdown(); err != nil {
		t.Fatal(err)
	}
	// Collections with the exchange in flight: whatever they free, the
	// exchange's engine is not among it.
	for range 3 {
		runtime.GC()
	}
	close(release)
	res := <-done
	if res.rc != dns.RcodeSuccess || res.err != nil || res.cw.count() != 1 {
		t.Fatalf("ServeDNS = %d, %v (%d replies); want the upstream's answer", res.rc, res.err, res.cw.count())
	}
	checkAnswer(t, res.cw.reply(t), q, "after-reload")
	if next.Load() != 0 {
		t.Error("the next handler ran")
	}
	if n := len(second.received()); n != 0 {
		t.Errorf("second upstream got %d queries", n)
	}
	// Afterwards every question passes.
	passed(t, a, next, query(challenge, dns.TypeTXT))
}

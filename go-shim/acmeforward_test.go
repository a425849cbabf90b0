package acmeforward

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Every upstream in these tests listens on 127.0.0.1 on an ephemeral port,
// except the authoritative-mode nameserver, on a random 127.x.y.z:53;
// nothing is ever sent outside 127.0.0.0/8. (test.ResponseWriter's fixed client address
// is only reported, never written to: writes are captured.)

// captureWriter records what the plugin writes to the client.
type captureWriter struct {
	test.ResponseWriter
	mu      sync.Mutex
	written [][]byte
	msgs    []*dns.Msg
}

func (c *captureWriter) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.written = append(c.written, slices.Clone(b))
	return len(b), nil
}

func (c *captureWriter) WriteMsg(m *dns.Msg) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m)
	return nil
}

// reply returns the single message the plugin wrote, after a pack/unpack
// round trip (what the client would receive). It must come through WriteMsg
// so that log and prometheus above the plugin see its rcode.
func (c *captureWriter) reply(t *testing.T) *dns.Msg {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.written) != 0 {
		t.Fatalf("plugin wrote %d raw replies; it must use WriteMsg", len(c.written))
	}
	if len(c.msgs) != 1 {
		t.Fatalf("plugin wrote %d replies, want 1", len(c.msgs))
	}
	wire, err := c.msgs[0].Pack()
	if err != nil {
		t.Fatalf("client reply does not pack: %v", err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(wire); err != nil {
		t.Fatalf("client reply does not unpack: %v", err)
	}
	return m
}

func (c *captureWriter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.written) + len(c.msgs)
}

// upstream is a miekg/dns server on 127.0.0.1, UDP and TCP on the same port.
type upstream struct {
	addr     string
	udp, tcp atomic.Int32 // queries received per transport
	mu       sync.Mutex
	queries  []*dns.Msg
}

func (u *upstream) received() []*dns.Msg {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.queries)
}

// startUpstream serves h on 127.0.0.1:<ephemeral> over UDP and TCP.
func startUpstream(t testing.TB, h func(w dns.ResponseWriter, r *dns.Msg)) *upstream {
	t.Helper()
	pc, ln := listenPair(t)
	u := &upstream{addr: pc.LocalAddr().String()}
	serveOn(t, u, pc, ln, h)
	return u
}

// serveOn serves h on pc and ln, counting into u.
func serveOn(t testing.TB, u *upstream, pc net.PacketConn, ln net.Listener, h func(w dns.ResponseWriter, r *dns.Msg)) {
	t.Helper()
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
			u.tcp.Add(1)
		} else {
			u.udp.Add(1)
		}
		u.mu.Lock()
		u.queries = append(u.queries, r.Copy())
		u.mu.Unlock()
		h(w, r)
	})
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: handler}, {Listener: ln, Handler: handler}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
}

// rawUpstream answers every UDP datagram on 127.0.0.1:<ephemeral> with
// answer(query); nil means no answer at all. It is for replies miekg/dns
// would not send (garbage) and for silence.
func rawUpstream(t *testing.T, answer func(query []byte) []byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, maxMessage)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := answer(slices.Clone(buf[:n])); out != nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

// listenPair opens a UDP socket and a TCP listener on the same loopback port.
func listenPair(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		_ = pc.Close()
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

// txtAnswer answers with one TXT record on the question name as asked.
func txtAnswer(text string, ttl uint32) func(w dns.ResponseWriter, r *dns.Msg) {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, &dns.TXT{
			Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: ttl},
			Txt: []string{text},
		})
		_ = w.WriteMsg(m)
	}
}

// newTestPlugin parses a Corefile block into a plugin whose next handler
// records that it was called.
func newTestPlugin(t *testing.T, block string) (*AcmeForward, *atomic.Int32) {
	t.Helper()
	a, err := parse(caddy.NewTestController("dns", block))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	t.Cleanup(func() { _ = a.OnShutdown() })
	var nextCalls atomic.Int32
	a.Next = emptyInternalView(&nextCalls, dns.RcodeNameError)
	return a, &nextCalls
}

// isInternal reports whether w is the writer of the core's own question to the
// internal view, under the writers CoreDNS puts around it (its pluginWriter
// embeds the one it wraps).
func isInternal(w dns.ResponseWriter) bool {
	for {
		if _, ok := w.(*chainWriter); ok {
			return true
		}
		v := reflect.ValueOf(w)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			return false
		}
		f := v.Elem().FieldByName("ResponseWriter")
		if !f.IsValid() || !f.CanInterface() {
			return false
		}
		inner, ok := f.Interface().(dns.ResponseWriter)
		if !ok || inner == nil {
			return false
		}
		w = inner
	}
}

// emptyInternalView is the next plugin of these tests: a client's question
// gets rcode without a reply written (CoreDNS then writes it), and is counted
// in calls; the core's own questions to the internal view (about a name it
// may learn) get a written NXDOMAIN: this internal view knows no name.
func emptyInternalView(calls *atomic.Int32, rcode int) test.HandlerFunc {
	return func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		if isInternal(w) {
			m := new(dns.Msg)
			m.SetRcode(r, dns.RcodeNameError)
			return dns.RcodeNameError, w.WriteMsg(m)
		}
		calls.Add(1)
		return rcode, nil
	}
}

func block(zones string, timeout string, to ...string) string {
	return "acmeforward " + zones + " {\n to " + strings.Join(to, " ") + "\n timeout " + timeout + "\n}"
}

const challenge = "_acme-challenge.www.example.com."

func challengeQuery(name string) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTXT)
	m.Id = 0x4a7d
	return m
}

// serve runs one query through the plugin and returns what the client got.
func serve(t *testing.T, a *AcmeForward, r *dns.Msg, tcp bool) (int, error, *captureWriter, *dnstest.Recorder) {
	t.Helper()
	cw := &captureWriter{ResponseWriter: test.ResponseWriter{TCP: tcp}}
	rec := dnstest.NewRecorder(cw)
	rc, err := a.ServeDNS(context.Background(), rec, r)
	return rc, err, cw, rec
}

// checkAnswer asserts a forwarded reply: the client's ID and name case, and
// the upstream's TXT.
func checkAnswer(t *testing.T, reply *dns.Msg, q *dns.Msg, text string) {
	t.Helper()
	if reply.Id != q.Id {
		t.Errorf("reply ID = %#04x, want the client's %#04x", reply.Id, q.Id)
	}
	if !reply.Response || reply.Rcode != dns.RcodeSuccess {
		t.Errorf("reply: response=%v rcode=%s, want a NOERROR response", reply.Response, dns.RcodeToString[reply.Rcode])
	}
	if len(reply.Question) != 1 || reply.Question[0].Name != q.Question[0].Name {
		t.Fatalf("reply question = %v, want %q exactly as the client wrote it", reply.Question, q.Question[0].Name)
	}
	if len(reply.Answer) != 1 {
		t.Fatalf("reply has %d answers, want 1: %v", len(reply.Answer), reply.Answer)
	}
	txt, ok := reply.Answer[0].(*dns.TXT)
	if !ok || len(txt.Txt) != 1 || txt.Txt[0] != text {
		t.Fatalf("answer = %v, want TXT %q", reply.Answer[0], text)
	}
	if txt.Hdr.Name != q.Question[0].Name {
		t.Errorf("answer owner = %q, want the client's case %q", txt.Hdr.Name, q.Question[0].Name)
	}
}

func TestForwardChallenge(t *testing.T) {
	up := startUpstream(t, txtAnswer("token-1", 3600))
	a, next := newTestPlugin(t, "acmeforward example.com {\n to "+up.addr+"\n max_ttl 60\n}")

	q := challengeQuery("_ACME-Challenge.WwW.Example.COM.")
	before := testutil.ToFloat64(requestCount.WithLabelValues(""))
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
	if got := testutil.ToFloat64(requestCount.WithLabelValues("")) - before; got != 1 {
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
		"response":      func(m *dns.Msg) { m.Response = true },
		"opcode NOTIFY": func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify },
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

// ---- discovery, delegation, authoritative mode ----------------------------------------------

// zoneData answers from a fixed set of records (presentation format): the
// records whose owner and type match the question (case-insensitively), or a
// CNAME and what it leads to, with AA as given; else NXDOMAIN, or NODATA when
// the name has records of other types, with soa (when set) in the authority
// section.
func zoneData(t testing.TB, aa bool, soa string, records ...string) func(w dns.ResponseWriter, r *dns.Msg) {
	t.Helper()
	var rrs []dns.RR
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("bad test record %q: %v", s, err)
		}
		rrs = append(rrs, rr)
	}
	var soaRR dns.RR
	if soa != "" {
		var err error
		if soaRR, err = dns.NewRR(soa); err != nil {
			t.Fatalf("bad test SOA %q: %v", soa, err)
		}
	}
	return func(w dns.ResponseWriter, r *dns.Msg) {
		q := r.Question[0]
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = aa
		nameExists := false
		// The question name, then (after a CNAME) its target: only as far
		// as the data goes, like a server authoritative for all of it.
		for name, hops := q.Name, 0; name != "" && hops < 8; hops++ {
			owner, next := name, ""
			for _, rr := range rrs {
				h := rr.Header()
				if !strings.EqualFold(h.Name, owner) {
					continue
				}
				nameExists = true
				if h.Rrtype == q.Qtype || (h.Rrtype == dns.TypeCNAME && q.Qtype != dns.TypeCNAME) {
					c := dns.Copy(rr)
					c.Header().Name = owner // as asked, 0x20 case included
					m.Answer = append(m.Answer, c)
					if cn, ok := rr.(*dns.CNAME); ok {
						next = cn.Target
					}
				}
			}
			name = next
		}
		if soaRR != nil && soaRR.Header().Rrtype == q.Qtype && strings.EqualFold(soaRR.Header().Name, q.Name) {
			c := dns.Copy(soaRR)
			c.Header().Name = q.Name
			m.Answer = append(m.Answer, c)
			nameExists = true
		}
		if len(m.Answer) == 0 {
			if !nameExists {
				m.Rcode = dns.RcodeNameError
			}
			if soaRR != nil {
				m.Ns = append(m.Ns, dns.Copy(soaRR))
			}
		}
		_ = w.WriteMsg(m)
	}
}

const exampleSOA = "example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 2026112401 3600 600 86400 300"

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 0x1357
	return m
}

// forwarded runs q through the plugin and checks that it was answered from
// upstream (not passed to next); it returns the reply.
func forwarded(t *testing.T, a *AcmeForward, next *atomic.Int32, q *dns.Msg) *dns.Msg {
	t.Helper()
	before := next.Load()
	rc, err, cw, _ := serve(t, a, q, false)
	if err != nil {
		t.Fatalf("%s %s: ServeDNS = %d, %v", q.Question[0].Name, dns.TypeToString[q.Question[0].Qtype], rc, err)
	}
	if next.Load() != before {
		t.Fatalf("%s %s: passed to the next plugin, want forwarded", q.Question[0].Name, dns.TypeToString[q.Question[0].Qtype])
	}
	reply := cw.reply(t)
	if reply.Id != q.Id || len(reply.Question) != 1 || reply.Question[0].Name != q.Question[0].Name {
		t.Errorf("reply ID %#04x question %v, want the client's %#04x %q", reply.Id, reply.Question, q.Id, q.Question[0].Name)
	}
	return reply
}

// passed runs q through the plugin and checks that the next plugin got it.
func passed(t *testing.T, a *AcmeForward, next *atomic.Int32, q *dns.Msg) {
	t.Helper()
	before := next.Load()
	rc, err, cw, _ := serve(t, a, q, false)
	if err != nil || rc != dns.RcodeNameError || next.Load() != before+1 || cw.count() != 0 {
		t.Errorf("%s %s: ServeDNS = %d, %v (next called %d times, %d replies); want passed to the next plugin",
			q.Question[0].Name, dns.TypeToString[q.Question[0].Qtype], rc, err, next.Load()-before, cw.count())
	}
}

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

// listenOn53 binds UDP and TCP on a random 127.x.y.z:53 (never 127.0.0.0/24,
// where resolvers such as systemd-resolved's 127.0.0.53 live). The core asks
// nameservers on port 53 only, so the authoritative test server cannot use an
// ephemeral port. Tests run as root; only 127.0.0.0/8 is used.
func listenOn53(t *testing.T) (net.PacketConn, net.Listener, string) {
	t.Helper()
	for range 50 {
		ip := net.IPv4(127, byte(1+rand.IntN(254)), byte(rand.IntN(256)), byte(1+rand.IntN(254)))
		addr := net.JoinHostPort(ip.String(), "53")
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			_ = pc.Close()
			continue
		}
		return pc, ln, ip.String()
	}
	t.Fatal("could not bind a 127.x.y.z:53 address (the test needs root)")
	return nil, nil, ""
}

// startAuthoritative serves h on a random 127.x.y.z:53 over UDP and TCP.
func startAuthoritative(t *testing.T, h func(w dns.ResponseWriter, r *dns.Msg)) (*upstream, string) {
	t.Helper()
	pc, ln, ip := listenOn53(t)
	u := &upstream{addr: pc.LocalAddr().String()}
	serveOn(t, u, pc, ln, h)
	return u, ip
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

	authTries := upstreamRequestCount.WithLabelValues("", net.JoinHostPort(authIP, "53"), "udp")
	triesBefore := testutil.ToFloat64(authTries)
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
	// The "to" label of the nameserver try is its address on port 53.
	if got := testutil.ToFloat64(authTries) - triesBefore; got != 1 {
		t.Errorf("upstream_requests_total{to=%s:53,proto=udp} grew by %v, want 1", authIP, got)
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
	notAuth := upstreamFailureCount.WithLabelValues("", net.JoinHostPort(authIP, "53"), reasonNotAuth)
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

func TestReloadDuringExchange(t *testing.T) {
	// The engine is freed (a reload) while a forwarded query waits for its
	// upstream: the reply cannot be checked against a freed engine, so the
	// client gets SERVFAIL and nothing touches freed memory.
	arrived, release := make(chan struct{}), make(chan struct{})
	up := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		close(arrived)
		<-release
		txtAnswer("too-late", 60)(w, r)
	})
	// A second upstream that must never be asked: the exchange ends with
	// the engine.
	second := startUpstream(t, txtAnswer("never", 60))
	a, next := newTestPlugin(t, block("example.com", "10s", up.addr, second.addr))
	type result struct {
		rc  int
		err error
		cw  *captureWriter
	}
	done := make(chan result)
	go func() {
		rc, err, cw, _ := serve(t, a, challengeQuery(challenge), false)
		done <- result{rc, err, cw}
	}()
	<-arrived
	if err := a.OnShutdown(); err != nil {
		t.Fatal(err)
	}
	close(release)
	res := <-done
	if res.rc != dns.RcodeServerFailure || res.err == nil {
		t.Fatalf("ServeDNS = %d, %v; want SERVFAIL and an error", res.rc, res.err)
	}
	if res.cw.count() != 0 || next.Load() != 0 {
		t.Error("the plugin wrote a reply, or the next handler ran")
	}
	if !strings.Contains(res.err.Error(), "shutting down") {
		t.Errorf("error %q does not say the server is shutting down", res.err)
	}
	if n := len(second.received()); n != 0 {
		t.Errorf("second upstream got %d queries after the engine was freed", n)
	}
	// Afterwards every question passes.
	passed(t, a, next, query(challenge, dns.TypeTXT))
}

package acmeforward

import (
	"context"
	"math/rand/v2"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
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

// passedWith is passed for an internal view that may write its own answer:
// the question reaches the next plugin, and acmeforward writes nothing else.
func passedWith(t *testing.T, a *AcmeForward, next *atomic.Int32, q *dns.Msg) {
	t.Helper()
	before := next.Load()
	if _, err, cw, _ := serve(t, a, q, false); err != nil || next.Load() != before+1 || cw.count() > 1 {
		t.Errorf("%s %s: %v (next called %d times, %d replies); want passed to the next plugin",
			q.Question[0].Name, dns.TypeToString[q.Question[0].Qtype], err, next.Load()-before, cw.count())
	}
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

// Classify is the verdict alone of the shim's classification (filter copy,
// then the core): no allocation, no copy, a C call only for a question the
// copy does not rule out.
func (e *Engine) Classify(name string, qtype, qclass uint16) Verdict {
	v, _ := e.classify(name, qtype, qclass)
	return v
}

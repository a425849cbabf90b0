package world

// A hostile (or merely broken, slow or healthy) upstream for CoreDNS with
// acmeforward: a small DNS responder on a loopback address, over UDP and
// TCP, that answers every query the way its mode says. It stands in for a
// `to` server that is down, broken, slow, or under an off-path attacker who
// races its replies, which no real server can be made to do on demand.

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// FakeMode is how a fake upstream answers (or not).
type FakeMode int32

// The modes. "The true reply" is a valid reply with the TXT FakeGoodToken
// for the question as asked (ID, letter case). A forged or broken reply
// carries FakeGarbageToken, so that a client that ever sees that token got
// bytes that should have been rejected.
const (
	FakeGood            FakeMode = iota // the true reply (proves the fake itself is right)
	FakeRandom                          // random bytes
	FakeWrongID                         // garbage under another ID, and nothing else
	FakeWrongCase                       // garbage with every letter of the question's case flipped (0x20), nothing else
	FakeWrongQuestion                   // garbage for another name, nothing else
	FakeForeign                         // right question, plus a record for another name
	FakeNotResponse                     // QR bit clear
	FakeServfail                        // a valid SERVFAIL
	FakeRefused                         // a valid REFUSED
	FakeSilent                          // reads the query, never answers (a blackhole)
	FakeTruncate                        // UDP: TC and no answer; TCP: FakeTCPToken
	FakeTruncateNoTCP                   // UDP: TC and no answer; TCP: closes the connection unanswered
	FakeForgedIDFirst                   // UDP: garbage under another ID, then the true reply
	FakeForgedCaseFirst                 // UDP: garbage with the question's case flipped, then the true reply
	FakeOtherPort                       // UDP: garbage from a second socket (same IP, another port), then the true reply
	FakeOtherAddr                       // UDP: garbage from another loopback IP, then the true reply
	FakeDuplicate                       // the true reply, twice
	FakeLate                            // the true reply, Delay after the query (set Delay past the try's timeout)
	FakeSlow                            // the true reply, Delay after the query (set Delay within the try's timeout)
	FakePointerLoop                     // the answer's owner is a compression pointer to itself
	FakeCNAMELoop                       // q CNAME a, a CNAME q, and garbage at a
	FakeCNAMEOffChain                   // q CNAME a, a TXT good, plus a chain b CNAME c, c TXT garbage not linked to q
	FakeOversized                       // UDP: ~8 KiB of garbage TXT, TC clear (above any EDNS size asked); TCP: FakeTCPToken
	FakeCutShort                        // a reply cut short in the middle of its answer record
	fakeModes
)

var fakeModeNames = [...]string{"good", "random-bytes", "wrong-id", "wrong-case", "wrong-question", "foreign-record",
	"not-a-response", "servfail", "refused", "silent", "truncate", "truncate-tcp-closed", "forged-id-first",
	"forged-case-first", "other-port", "other-addr", "duplicate", "late", "slow", "pointer-loop", "cname-loop",
	"cname-off-chain", "oversized", "cut-short"}

func (m FakeMode) String() string {
	if m < 0 || m >= fakeModes {
		return fmt.Sprintf("FakeMode(%d)", int32(m))
	}
	return fakeModeNames[m]
}

// Tokens in the fake's TXT answers.
const (
	FakeGoodToken    = "fake-upstream-good"
	FakeTCPToken     = "fake-upstream-via-tcp"
	FakeGarbageToken = "GARBAGE-must-never-reach-the-client"
)

// FakeConfig says how a fake answers.
type FakeConfig struct {
	Mode FakeMode
	// Delay is the wait before the reply in FakeLate and FakeSlow.
	Delay time.Duration
	// FailFirst makes the first FailFirst queries (UDP and TCP together) get
	// a SERVFAIL; the later ones get Mode's answer (an upstream that
	// recovers).
	FailFirst int64
	// Addr is where to listen; zero means a fresh address from NewAddr.
	Addr netip.AddrPort
}

// Fake is a running fake upstream. Stop it with Close.
type Fake struct {
	Addr netip.AddrPort

	mode      atomic.Int32
	delay     time.Duration
	failLeft  atomic.Int64
	udp       *net.UDPConn
	tcp       *net.TCPListener
	otherPort *net.UDPConn // FakeOtherPort: same IP, another port
	otherAddr *net.UDPConn // FakeOtherAddr: another IP
	hits      atomic.Int64
	done      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
}

// StartFake starts a fake on loopback, listening on UDP and TCP.
func StartFake(cfg FakeConfig) (*Fake, error) {
	if cfg.Mode < 0 || cfg.Mode >= fakeModes {
		return nil, fmt.Errorf("unknown fake mode %d", cfg.Mode)
	}
	f := &Fake{delay: cfg.Delay, done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	f.mode.Store(int32(cfg.Mode))
	f.failLeft.Store(cfg.FailFirst)
	// A port found free can be taken before we bind it (dig and other clients
	// bind random wildcard ports): take a fresh address then, a few times.
	var err error
	for try := 0; try < 5; try++ {
		f.Addr = cfg.Addr
		if !f.Addr.IsValid() {
			if f.Addr, err = NewAddr(); err != nil {
				return nil, err
			}
		}
		if err = MustLoopback(f.Addr); err != nil {
			return nil, err
		}
		if f.udp, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(f.Addr)); err != nil {
			continue
		}
		if f.tcp, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(f.Addr)); err != nil {
			f.udp.Close()
			continue
		}
		break
	}
	if err != nil {
		return nil, fmt.Errorf("fake upstream: %w", err)
	}
	// The sockets that forge from elsewhere exist in every mode, so that a
	// soak can switch modes while it runs.
	// Both bind port 0: the kernel picks a port free on that address, so no
	// client's wildcard socket can take it between a check and the bind.
	if f.otherPort, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(f.Addr.Addr(), 0))); err == nil {
		var other netip.AddrPort
		if other, err = NewAddr(); err == nil {
			f.otherAddr, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(other.Addr(), 0)))
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fake upstream: second socket: %w", err)
	}
	f.wg.Add(2)
	go f.serveUDP()
	go f.serveTCP()
	return f, nil
}

// FakeT starts a fake for a test; the test's cleanup closes it.
func FakeT(t testing.TB, cfg FakeConfig) *Fake {
	t.Helper()
	f, err := StartFake(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// Mode is the current mode.
func (f *Fake) Mode() FakeMode { return FakeMode(f.mode.Load()) }

// SetMode changes how the following queries are answered.
func (f *Fake) SetMode(m FakeMode) { f.mode.Store(int32(m)) }

// Hits is how many queries the fake has read.
func (f *Fake) Hits() int64 { return f.hits.Load() }

// Close stops the fake and waits for its goroutines. Idempotent.
func (f *Fake) Close() {
	f.closeOnce.Do(func() {
		close(f.done)
		for _, c := range []*net.UDPConn{f.udp, f.otherPort, f.otherAddr} {
			if c != nil {
				c.Close()
			}
		}
		if f.tcp != nil {
			f.tcp.Close()
		}
		f.mu.Lock()
		for c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
}

// datagram is one UDP reply and the socket it leaves from.
type datagram struct {
	from *net.UDPConn
	msg  []byte
}

func (f *Fake) serveUDP() {
	defer f.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := f.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		f.hits.Add(1)
		if !from.Addr().IsLoopback() {
			continue // never answer (or send) off loopback
		}
		mode, failing := f.next()
		q := append([]byte(nil), buf[:n]...)
		var out []datagram
		delay := time.Duration(0)
		if failing {
			out = f.udpReplies(FakeServfail, q)
		} else {
			out = f.udpReplies(mode, q)
			if mode == FakeLate || mode == FakeSlow {
				delay = f.delay
			}
		}
		if delay == 0 {
			f.send(out, from)
			continue
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			select {
			case <-time.After(delay):
				f.send(out, from)
			case <-f.done:
			}
		}()
	}
}

func (f *Fake) send(out []datagram, to netip.AddrPort) {
	for i, d := range out {
		if i > 0 {
			// Each datagram after the first follows a moment later, so the
			// order of arrival is the order here even across sockets.
			select {
			case <-time.After(10 * time.Millisecond):
			case <-f.done:
				return
			}
		}
		_, _ = d.from.WriteToUDPAddrPort(d.msg, to)
	}
}

// next counts a query against FailFirst: the mode, and whether this query
// is one of the first ones that fail.
func (f *Fake) next() (FakeMode, bool) {
	return f.Mode(), f.failLeft.Load() > 0 && f.failLeft.Add(-1) >= 0
}

// udpReplies are the datagrams for q, in order.
func (f *Fake) udpReplies(mode FakeMode, q []byte) []datagram {
	one := func(m []byte) []datagram {
		if m == nil {
			return nil
		}
		return []datagram{{f.udp, m}}
	}
	switch mode {
	case FakeForgedIDFirst:
		return []datagram{{f.udp, fakeReply(FakeWrongID, q, false)}, {f.udp, fakeReply(FakeGood, q, false)}}
	case FakeForgedCaseFirst:
		return []datagram{{f.udp, fakeReply(FakeWrongCase, q, false)}, {f.udp, fakeReply(FakeGood, q, false)}}
	case FakeOtherPort:
		return []datagram{{f.otherPort, fakeGarbage(q)}, {f.udp, fakeReply(FakeGood, q, false)}}
	case FakeOtherAddr:
		return []datagram{{f.otherAddr, fakeGarbage(q)}, {f.udp, fakeReply(FakeGood, q, false)}}
	case FakeDuplicate:
		good := fakeReply(FakeGood, q, false)
		return []datagram{{f.udp, good}, {f.udp, good}}
	}
	return one(fakeReply(mode, q, false))
}

func (f *Fake) serveTCP() {
	defer f.wg.Done()
	for {
		c, err := f.tcp.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns[c] = struct{}{}
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer func() {
				f.mu.Lock()
				delete(f.conns, c)
				f.mu.Unlock()
				c.Close()
			}()
			f.serveConn(c)
		}()
	}
}

func (f *Fake) serveConn(c net.Conn) {
	for {
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, q); err != nil {
			return
		}
		f.hits.Add(1)
		mode, failing := f.next()
		if failing {
			mode = FakeServfail
		}
		var out [][]byte
		switch mode {
		case FakeTruncateNoTCP:
			return // the connection closes unanswered
		case FakeForgedIDFirst:
			out = [][]byte{fakeReply(FakeWrongID, q, true), fakeReply(FakeGood, q, true)}
		case FakeForgedCaseFirst:
			out = [][]byte{fakeReply(FakeWrongCase, q, true), fakeReply(FakeGood, q, true)}
		case FakeOtherPort, FakeOtherAddr:
			out = [][]byte{fakeReply(FakeGood, q, true)} // no other source on a connection
		case FakeDuplicate:
			good := fakeReply(FakeGood, q, true)
			out = [][]byte{good, good}
		case FakeLate, FakeSlow:
			select {
			case <-time.After(f.delay):
			case <-f.done:
				return
			}
			out = [][]byte{fakeReply(FakeGood, q, true)}
		default:
			if r := fakeReply(mode, q, true); r != nil {
				out = [][]byte{r}
			}
		}
		// Silent: keep the connection open, say nothing.
		for _, r := range out {
			if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(r))), r...)); err != nil {
				return
			}
		}
	}
}

// question returns the query's question section (name, type, class) as sent.
func question(q []byte) ([]byte, error) {
	if len(q) < 12 {
		return nil, errors.New("short query")
	}
	i := 12
	for {
		if i >= len(q) {
			return nil, errors.New("question runs off the end")
		}
		l := int(q[i])
		if l == 0 {
			i++
			break
		}
		if l&0xc0 != 0 {
			return nil, errors.New("compressed question name")
		}
		i += 1 + l
	}
	if i+4 > len(q) {
		return nil, errors.New("question without type and class")
	}
	return q[12 : i+4], nil
}

// rr is one resource record: owner (wire form, may be a pointer), type,
// class IN, TTL, RDATA.
func rr(owner []byte, typ uint16, ttl uint32, rdata []byte) []byte {
	r := append([]byte(nil), owner...)
	r = binary.BigEndian.AppendUint16(r, typ)
	r = binary.BigEndian.AppendUint16(r, 1)
	r = binary.BigEndian.AppendUint32(r, ttl)
	r = binary.BigEndian.AppendUint16(r, uint16(len(rdata)))
	return append(r, rdata...)
}

func txtRR(owner []byte, ttl uint32, text string) []byte {
	return rr(owner, TypeTXT, ttl, append([]byte{byte(len(text))}, text...))
}

const typeCNAME = 5

// message builds a reply: the given ID and flags, question qs, answer
// records.
func message(id uint16, flags uint16, qs []byte, answers ...[]byte) []byte {
	m := make([]byte, 12)
	binary.BigEndian.PutUint16(m[0:], id)
	binary.BigEndian.PutUint16(m[2:], flags)
	binary.BigEndian.PutUint16(m[4:], 1)
	binary.BigEndian.PutUint16(m[6:], uint16(len(answers)))
	m = append(m, qs...)
	for _, a := range answers {
		m = append(m, a...)
	}
	return m
}

// fakeGarbage is a reply to q with its ID and question, carrying the
// garbage: valid in every way but where it comes from.
func fakeGarbage(q []byte) []byte {
	qs, err := question(q)
	if err != nil {
		return nil
	}
	return message(binary.BigEndian.Uint16(q), replyFlags(q), qs, txtRR([]byte{0xc0, 12}, 60, FakeGarbageToken))
}

// replyFlags: QR, the query's opcode and RD, AA, RA; rcode NOERROR.
func replyFlags(q []byte) uint16 {
	qflags := binary.BigEndian.Uint16(q[2:])
	return uint16(0x8000) | qflags&0x7800 | qflags&0x0100 | 0x0400 | 0x0080
}

// fakeReply is the one reply of mode to q; nil means no answer.
func fakeReply(mode FakeMode, q []byte, overTCP bool) []byte {
	switch mode {
	case FakeSilent:
		return nil
	case FakeRandom:
		var n [1]byte
		_, _ = rand.Read(n[:])
		b := make([]byte, 12+int(n[0])%200)
		_, _ = rand.Read(b)
		return b
	}
	qs, err := question(q)
	if err != nil {
		return nil
	}
	id := binary.BigEndian.Uint16(q)
	flags := replyFlags(q)
	owner := []byte{0xc0, 12} // pointer to the question name
	qname := qs[:len(qs)-4]
	switch mode {
	case FakeGood, FakeLate, FakeSlow, FakeDuplicate, FakeForgedIDFirst, FakeForgedCaseFirst, FakeOtherPort, FakeOtherAddr:
		return message(id, flags, qs, txtRR(owner, 60, FakeGoodToken))
	case FakeTruncate, FakeTruncateNoTCP:
		if overTCP {
			return message(id, flags, qs, txtRR(owner, 60, FakeTCPToken))
		}
		return message(id, flags|0x0200, qs)
	case FakeWrongID:
		return message(id^0x5a5a, flags, qs, txtRR(owner, 60, FakeGarbageToken))
	case FakeWrongCase:
		flipped := append([]byte(nil), qs...)
		for i := 0; i < len(flipped)-4; i++ {
			if c := flipped[i] | 0x20; c >= 'a' && c <= 'z' {
				flipped[i] ^= 0x20
			}
		}
		return message(id, flags, flipped, txtRR(owner, 60, FakeGarbageToken))
	case FakeWrongQuestion:
		other, _ := EncodeName("_acme-challenge.evil.example.net")
		other = append(other, qs[len(qs)-4:]...)
		return message(id, flags, other, txtRR(owner, 60, FakeGarbageToken))
	case FakeForeign:
		evil, _ := EncodeName("evil.example.net")
		return message(id, flags, qs, txtRR(owner, 60, FakeGoodToken), txtRR(evil, 60, FakeGarbageToken))
	case FakeNotResponse:
		return message(id, flags&^0x8000, qs, txtRR(owner, 60, FakeGarbageToken))
	case FakeServfail:
		return message(id, flags|2, qs, txtRR(owner, 60, FakeGarbageToken))
	case FakeRefused:
		return message(id, flags|5, qs)
	case FakePointerLoop:
		// The answer starts right after the question; its owner points at
		// itself.
		at := 12 + len(qs)
		self := []byte{0xc0 | byte(at>>8), byte(at)}
		return message(id, flags, qs, txtRR(self, 60, FakeGarbageToken))
	case FakeCNAMELoop:
		a := append([]byte{4, 'l', 'o', 'o', 'p'}, qname...)
		return message(id, flags, qs,
			rr(owner, typeCNAME, 60, a),
			rr(a, typeCNAME, 60, qname),
			txtRR(a, 60, FakeGarbageToken))
	case FakeCNAMEOffChain:
		a := append([]byte{5, 'c', 'h', 'a', 'i', 'n'}, qname...)
		b, _ := EncodeName("_acme-challenge.off-chain.example.net")
		c, _ := EncodeName("evil.example.net")
		return message(id, flags, qs,
			rr(owner, typeCNAME, 60, a),
			txtRR(a, 60, FakeGoodToken),
			rr(b, typeCNAME, 60, c),
			txtRR(c, 60, FakeGarbageToken))
	case FakeOversized:
		if overTCP {
			return message(id, flags, qs, txtRR(owner, 60, FakeTCPToken))
		}
		// 32 records of 255 bytes: ~8.6 KiB, far above the 1232 bytes
		// acmeforward asks for, and above a few-KiB receive buffer.
		text := FakeGarbageToken + strings.Repeat("-", 255-len(FakeGarbageToken))
		var answers [][]byte
		for i := 0; i < 32; i++ {
			answers = append(answers, txtRR(owner, 60, text))
		}
		return message(id, flags, qs, answers...)
	case FakeCutShort:
		m := message(id, flags, qs, txtRR(owner, 60, FakeGarbageToken))
		return m[:len(m)-len(FakeGarbageToken)/2]
	}
	return nil
}

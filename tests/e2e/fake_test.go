package e2e_test

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// fakeMode is how a fake upstream misbehaves (or not).
type fakeMode int

const (
	fakeGood          fakeMode = iota // a valid reply with TXT goodToken (proves the fake itself is right)
	fakeRandom                        // random bytes
	fakeWrongID                       // a valid reply with garbageToken, but the ID is off
	fakeWrongCase                     // question with every letter's case flipped (0x20 check)
	fakeWrongQuestion                 // the reply is for another name
	fakeForeign                       // right question, plus a record for another name
	fakeNotResponse                   // QR bit clear
	fakeServfail                      // a valid SERVFAIL
	fakeRefused                       // a valid REFUSED
	fakeSilent                        // reads the query, never answers
	fakeTruncate                      // UDP: TC and no answer; TCP: goodToken over TCP
)

func (m fakeMode) String() string {
	return [...]string{"good", "random-bytes", "wrong-id", "wrong-case", "wrong-question", "foreign-record",
		"not-a-response", "servfail", "refused", "silent", "truncate"}[m]
}

const (
	goodToken    = "fake-upstream-good"
	tcpToken     = "fake-upstream-via-tcp"
	garbageToken = "GARBAGE-must-never-reach-the-client"
)

// fake is a small DNS responder on a loopback address, over UDP and TCP.
type fake struct {
	Addr  netip.AddrPort
	mode  fakeMode
	udp   *net.UDPConn
	tcp   *net.TCPListener
	hits  atomic.Int64
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startFake(t *testing.T, mode fakeMode) *fake {
	t.Helper()
	f := &fake{mode: mode}
	// A port found free can be taken before we bind it (dig and other clients
	// bind random wildcard ports): take a fresh address then, a few times.
	var err error
	for try := 0; try < 5; try++ {
		f.Addr = world.Addr(t)
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
		t.Fatal(err)
	}
	f.wg.Add(2)
	go f.serveUDP()
	go f.serveTCP()
	t.Cleanup(f.close)
	return f
}

// Hits is how many queries the fake has read.
func (f *fake) Hits() int64 { return f.hits.Load() }

func (f *fake) close() {
	f.udp.Close()
	f.tcp.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fake) serveUDP() {
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
		if reply := f.reply(buf[:n], false); reply != nil {
			_, _ = f.udp.WriteToUDPAddrPort(reply, from)
		}
	}
}

func (f *fake) serveTCP() {
	defer f.wg.Done()
	for {
		c, err := f.tcp.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer c.Close()
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
				reply := f.reply(q, true)
				if reply == nil {
					continue // silent: keep the connection open, say nothing
				}
				if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(reply))), reply...)); err != nil {
					return
				}
			}
		}()
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

func txtRR(owner []byte, ttl uint32, text string) []byte {
	rr := append([]byte(nil), owner...)
	rr = binary.BigEndian.AppendUint16(rr, world.TypeTXT)
	rr = binary.BigEndian.AppendUint16(rr, 1)
	rr = binary.BigEndian.AppendUint32(rr, ttl)
	rr = binary.BigEndian.AppendUint16(rr, uint16(1+len(text)))
	rr = append(rr, byte(len(text)))
	return append(rr, text...)
}

// message builds a reply: the given ID and flags,
// question qs, answer records.
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

// reply is what the fake answers to q; nil means no answer.
func (f *fake) reply(q []byte, overTCP bool) []byte {
	if f.mode == fakeSilent {
		return nil
	}
	if f.mode == fakeRandom {
		b := make([]byte, 12+int(randByte())%200)
		_, _ = rand.Read(b)
		return b
	}
	qs, err := question(q)
	if err != nil {
		return nil
	}
	id := binary.BigEndian.Uint16(q)
	qflags := binary.BigEndian.Uint16(q[2:])
	// QR, the query's opcode and RD, AA, RA; rcode NOERROR.
	flags := uint16(0x8000) | qflags&0x7800 | qflags&0x0100 | 0x0400 | 0x0080
	owner := []byte{0xc0, 12} // pointer to the question name
	switch f.mode {
	case fakeGood:
		return message(id, flags, qs, txtRR(owner, 60, goodToken))
	case fakeTruncate:
		if overTCP {
			return message(id, flags, qs, txtRR(owner, 60, tcpToken))
		}
		return message(id, flags|0x0200, qs)
	case fakeWrongID:
		return message(id^0x5a5a, flags, qs, txtRR(owner, 60, garbageToken))
	case fakeWrongCase:
		flipped := append([]byte(nil), qs...)
		for i := 0; i < len(flipped)-4; i++ {
			if c := flipped[i] | 0x20; c >= 'a' && c <= 'z' {
				flipped[i] ^= 0x20
			}
		}
		return message(id, flags, flipped, txtRR(owner, 60, garbageToken))
	case fakeWrongQuestion:
		other, _ := world.EncodeName("_acme-challenge.evil.example.net")
		other = append(other, qs[len(qs)-4:]...)
		return message(id, flags, other, txtRR(owner, 60, garbageToken))
	case fakeForeign:
		evil, _ := world.EncodeName("evil.example.net")
		return message(id, flags, qs, txtRR(owner, 60, goodToken), txtRR(evil, 60, garbageToken))
	case fakeNotResponse:
		return message(id, flags&^0x8000, qs, txtRR(owner, 60, garbageToken))
	case fakeServfail:
		return message(id, flags|2, qs, txtRR(owner, 60, garbageToken))
	case fakeRefused:
		return message(id, flags|5, qs)
	}
	return nil
}

func randByte() byte {
	var b [1]byte
	_, _ = rand.Read(b[:])
	return b[0]
}

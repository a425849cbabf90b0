package world

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// fakeQuery is a query as acmeforward sends it: mixed letter case (0x20).
func fakeQuery(t *testing.T, id uint16) []byte {
	t.Helper()
	q, err := BuildQuery(id, "_AcMe-ChAlLeNgE.ExAmPlE.cOm", TypeTXT)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

type fakeDatagram struct {
	from netip.AddrPort
	msg  []byte
}

// udpExchange sends q to f and reads n datagrams (a hang guard bounds the
// wait; the fake sends them at once, or after Delay).
func udpExchange(t *testing.T, f *Fake, q []byte, n int) []fakeDatagram {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(f.Addr.Addr(), 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteToUDPAddrPort(q, f.Addr); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out []fakeDatagram
	buf := make([]byte, 65535)
	for len(out) < n {
		k, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("%s: datagram %d of %d: %v", f.Mode(), len(out)+1, n, err)
		}
		out = append(out, fakeDatagram{from, append([]byte(nil), buf[:k]...)})
	}
	return out
}

func tcpExchange(t *testing.T, f *Fake, q []byte) ([]byte, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", f.Addr.String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)); err != nil {
		t.Fatal(err)
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil, err
	}
	r := make([]byte, binary.BigEndian.Uint16(l[:]))
	_, err = io.ReadFull(c, r)
	return r, err
}

// The fake does what each mode says, so the end-to-end tables test
// acmeforward and not a broken fake.
func TestFakeModes(t *testing.T) {
	const id = 0x1234
	good := func(t *testing.T, d fakeDatagram, q []byte) {
		t.Helper()
		if binary.BigEndian.Uint16(d.msg) != id || !bytes.Contains(d.msg, []byte(FakeGoodToken)) {
			t.Fatalf("want the true reply, got % x", d.msg)
		}
		qs, _ := question(q)
		if !bytes.Equal(d.msg[12:12+len(qs)], qs) {
			t.Fatalf("true reply's question differs from the query's")
		}
	}
	garbage := func(t *testing.T, d fakeDatagram) {
		t.Helper()
		if !bytes.Contains(d.msg, []byte(FakeGarbageToken)) {
			t.Fatalf("want garbage, got % x", d.msg)
		}
	}
	for _, tc := range []struct {
		mode  FakeMode
		n     int
		check func(t *testing.T, f *Fake, q []byte, ds []fakeDatagram)
	}{
		{FakeGood, 1, func(t *testing.T, f *Fake, q []byte, ds []fakeDatagram) { good(t, ds[0], q) }},
		{FakeForgedIDFirst, 2, func(t *testing.T, f *Fake, q []byte, ds []fakeDatagram) {
			garbage(t, ds[0])
			if binary.BigEndian.Uint16(ds[0].msg) == id {
				t.Fatal("forged reply has the query's ID")
			}
			good(t, ds[1], q)
		}},
		{FakeForgedCaseFirst, 2, func(t *testing.T, f *Fake, q []byte, ds []fakeDatagram) {
			garbage(t, ds[0])
			qs, _ := question(q)
			if got := ds[0].msg[12 : 12+len(qs)]; bytes.Equal(got, qs) || !bytes.EqualFold(got, qs) {
				t.Fatalf("forged question %q, want %q in other letter case", got, qs)
			}
			good(t, ds[1], q)
		}},
		{FakeOtherPort, 2, func(t *testing.T, f *Fake, q []byte, ds []fakeDatagram) {
			garbage(t, ds[0])
			if ds[0].from.Addr() != f.Addr.Addr() || ds[0].from.Port() == f.Addr.Port() {
				t.Fatalf("forged reply from %s, want %s on another port", ds[0].from, f.Addr.Addr())
			}
			good(t, ds[1], q)
			if ds[1].from != f.Addr {
				t.Fatalf("true reply from %s, want %s", ds[1].from, f.Addr)
			}
		}},
		{FakeOtherAddr, 2, func(t *testing.T, f *Fake, q []byte, ds []fakeDatagram) {
			garbage(t, ds[0])
			if ds[0].from.Addr() == f.Addr.Addr() || !ds[0].from.Addr().IsLoopback() {
				t.Fatalf("forged reply from %s, want another loopback IP than %s", ds[0].from, f.Addr)
			}
			good(t, ds[1], q)
		}},
		{FakeDuplicate, 2, func(t *testing.T, f *Fake, q []byte, ds []fakeDatagram) {
			good(t, ds[0], q)
			if !bytes.Equal(ds[0].msg, ds[1].msg) {
				t.Fatal("duplicate differs")
			}
		}},
		{FakeOversized, 1, func(t *testing.T, f *Fake, q []byte, ds []fakeDatagram) {
			garbage(t, ds[0])
			if len(ds[0].msg) < 8000 || ds[0].msg[2]&0x02 != 0 {
				t.Fatalf("want more than 8000 bytes with TC clear, got %d bytes, flags %08b", len(ds[0].msg), ds[0].msg[2])
			}
		}},
		{FakeTruncate, 1, func(t *testing.T, f *Fake, q []byte, ds []fakeDatagram) {
			if ds[0].msg[2]&0x02 == 0 {
				t.Fatal("TC clear")
			}
			r, err := tcpExchange(t, f, q)
			if err != nil || !bytes.Contains(r, []byte(FakeTCPToken)) {
				t.Fatalf("over TCP: %v % x", err, r)
			}
		}},
		{FakeTruncateNoTCP, 1, func(t *testing.T, f *Fake, q []byte, ds []fakeDatagram) {
			if ds[0].msg[2]&0x02 == 0 {
				t.Fatal("TC clear")
			}
			if r, err := tcpExchange(t, f, q); err == nil {
				t.Fatalf("over TCP: an answer % x", r)
			}
		}},
		{FakeCutShort, 1, func(t *testing.T, f *Fake, q []byte, ds []fakeDatagram) {
			qs, _ := question(q)
			if len(ds[0].msg) >= 12+len(qs)+2+10+1+len(FakeGarbageToken) {
				t.Fatalf("not cut short: %d bytes", len(ds[0].msg))
			}
		}},
		{FakePointerLoop, 1, func(t *testing.T, f *Fake, q []byte, ds []fakeDatagram) {
			qs, _ := question(q)
			at := 12 + len(qs)
			if p := int(binary.BigEndian.Uint16(ds[0].msg[at:]) & 0x3fff); p != at {
				t.Fatalf("answer owner points at %d, want itself (%d)", p, at)
			}
		}},
		{FakeCNAMELoop, 1, func(t *testing.T, f *Fake, q []byte, ds []fakeDatagram) { garbage(t, ds[0]) }},
		{FakeCNAMEOffChain, 1, func(t *testing.T, f *Fake, q []byte, ds []fakeDatagram) { garbage(t, ds[0]) }},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			f := FakeT(t, FakeConfig{Mode: tc.mode})
			q := fakeQuery(t, id)
			tc.check(t, f, q, udpExchange(t, f, q, tc.n))
		})
	}

	t.Run("late", func(t *testing.T) {
		f := FakeT(t, FakeConfig{Mode: FakeLate, Delay: 50 * time.Millisecond})
		q := fakeQuery(t, id)
		ds := udpExchange(t, f, q, 1)
		if binary.BigEndian.Uint16(ds[0].msg) != id || !bytes.Contains(ds[0].msg, []byte(FakeGoodToken)) {
			t.Fatalf("want the true reply, got % x", ds[0].msg)
		}
	})

	t.Run("fail-first", func(t *testing.T) {
		f := FakeT(t, FakeConfig{Mode: FakeGood, FailFirst: 2})
		var rcodes []string
		for i := 0; i < 4; i++ {
			ds := udpExchange(t, f, fakeQuery(t, id), 1)
			rcodes = append(rcodes, RcodeName(int(ds[0].msg[3]&0x0f)))
		}
		if got := strings.Join(rcodes, " "); got != "SERVFAIL SERVFAIL NOERROR NOERROR" {
			t.Fatalf("rcodes %s", got)
		}
		if f.Hits() != 4 {
			t.Fatalf("hits %d, want 4", f.Hits())
		}
	})
}

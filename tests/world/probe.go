package world

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"
)

// DNS type codes the world needs without a DNS library.
const (
	TypeA   uint16 = 1
	TypeNS  uint16 = 2
	TypeSOA uint16 = 6
	TypeTXT uint16 = 16
)

// Rcode names as dig prints them.
var rcodeNames = map[int]string{
	0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
}

// RcodeName gives dig's name for an rcode.
func RcodeName(rc int) string {
	if n, ok := rcodeNames[rc]; ok {
		return n
	}
	return fmt.Sprintf("RCODE%d", rc)
}

// EncodeName turns "a.b.c" (trailing dot optional, no escapes) into wire form.
func EncodeName(name string) ([]byte, error) {
	name = strings.TrimSuffix(name, ".")
	var out []byte
	if name != "" {
		for _, l := range strings.Split(name, ".") {
			if l == "" || len(l) > 63 {
				return nil, fmt.Errorf("bad name %q", name)
			}
			out = append(out, byte(len(l)))
			out = append(out, l...)
		}
	}
	return append(out, 0), nil
}

// BuildQuery makes a plain DNS query (RD clear, no EDNS).
func BuildQuery(id uint16, name string, qtype uint16) ([]byte, error) {
	wire, err := EncodeName(name)
	if err != nil {
		return nil, err
	}
	q := make([]byte, 12, 12+len(wire)+4)
	binary.BigEndian.PutUint16(q[0:], id)
	binary.BigEndian.PutUint16(q[4:], 1) // QDCOUNT
	q = append(q, wire...)
	q = binary.BigEndian.AppendUint16(q, qtype)
	q = binary.BigEndian.AppendUint16(q, 1) // IN
	return q, nil
}

func randomID() uint16 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint16(b[:])
}

// Probe sends one query over UDP (or TCP) and returns the reply's rcode. It
// checks only that the reply is a response with the query's ID.
func Probe(addr netip.AddrPort, name string, qtype uint16, tcp bool, timeout time.Duration) (int, error) {
	id := randomID()
	q, err := BuildQuery(id, name, qtype)
	if err != nil {
		return 0, err
	}
	var reply []byte
	if tcp {
		reply, err = exchangeTCP(addr, q, timeout)
	} else {
		reply, err = exchangeUDP(addr, q, timeout)
	}
	if err != nil {
		return 0, err
	}
	if len(reply) < 12 {
		return 0, fmt.Errorf("short reply (%d bytes)", len(reply))
	}
	if got := binary.BigEndian.Uint16(reply); got != id {
		return 0, fmt.Errorf("reply ID %d, want %d", got, id)
	}
	if reply[2]&0x80 == 0 {
		return 0, errors.New("reply without QR")
	}
	return int(reply[3] & 0x0f), nil
}

func exchangeUDP(addr netip.AddrPort, q []byte, timeout time.Duration) ([]byte, error) {
	if !addr.Addr().IsLoopback() {
		return nil, fmt.Errorf("refusing to send to non-loopback %s", addr)
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(q); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

func exchangeTCP(addr netip.AddrPort, q []byte, timeout time.Duration) ([]byte, error) {
	if !addr.Addr().IsLoopback() {
		return nil, fmt.Errorf("refusing to connect to non-loopback %s", addr)
	}
	c, err := net.DialTimeout("tcp", addr.String(), timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	msg := binary.BigEndian.AppendUint16(nil, uint16(len(q)))
	if _, err := c.Write(append(msg, q...)); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil, err
	}
	reply := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, reply); err != nil {
		return nil, err
	}
	return reply, nil
}

// readyCheck asks name/qtype over UDP and then TCP; want < 0 accepts any rcode.
func readyCheck(addr netip.AddrPort, name string, qtype uint16, want int) func() error {
	return func() error {
		for _, tcp := range []bool{false, true} {
			rc, err := Probe(addr, name, qtype, tcp, 300*time.Millisecond)
			if err != nil {
				return err
			}
			if want >= 0 && rc != want {
				return fmt.Errorf("%s: rcode %s, want %s", name, RcodeName(rc), RcodeName(want))
			}
		}
		return nil
	}
}

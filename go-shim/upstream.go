package acmeforward

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Socket I/O with the upstreams: one query out, one reply in, nothing else.
// The bytes are neither built nor checked here; the Rust core does both.

// proto is the transport of one upstream try.
type proto uint8

const (
	protoUDP proto = iota
	protoTCP
)

func (p proto) String() string {
	if p == protoTCP {
		return "tcp"
	}
	return "udp"
}

// maxMessage is the largest DNS message: the TCP length prefix is 16 bits,
// and no UDP datagram is larger.
const maxMessage = 65535

// udpReadSize is one more than the largest UDP reply the core takes (it
// advertises 1232 and takes up to 4096): a bigger datagram arrives cut to this
// size, which the core recognises as too large and retries over TCP. Memory
// per try stays a few KiB.
const udpReadSize = 4096 + 1

// deliverFunc gets each reply of a try from the server asked; it reports
// whether the try is over (false: keep reading, the reply was no reply to the
// query). dropped counts what never reached the core, by reason.
type deliverFunc func(reply []byte) (done bool)

// upstreams is how one acmeforward block reaches its servers. Its tls://
// upstreams: over TLS, whatever the core's transport (tls). Its plain `to`
// resolvers over UDP: with a socket from a small pool (as forward reuses its
// connections), each socket used for at most maxSocketUses tries, and only
// after a try that ended with a reply (after a timeout a late reply may still
// come). Any other server over UDP (a zone's nameserver found by discovery,
// whose operator sees the source port): a socket of its own with a fresh
// port. TCP: a new connection per try. (The core asks a tls:// upstream over
// TCP only, so that it never expects a datagram from it; the core's deadline
// bounds the dial, the handshake and the exchange.)
type upstreams struct {
	tls       *tlsUpstreams // nil: none
	resolvers map[netip.AddrPort]struct{}
	pool      udpPool
	// labels are the metrics' "to" label of each configured upstream,
	// plain or TLS (label).
	labels map[netip.AddrPort]string
}

// newUpstreams makes the upstreams of one block.
func newUpstreams(resolvers []netip.AddrPort, tls *tlsUpstreams) *upstreams {
	u := &upstreams{tls: tls, resolvers: make(map[netip.AddrPort]struct{}, len(resolvers)),
		labels: make(map[netip.AddrPort]string, len(resolvers))}
	for _, r := range resolvers {
		u.resolvers[r] = struct{}{}
		u.labels[r] = r.String()
	}
	if tls != nil {
		for a := range tls.addrs {
			u.labels[a] = a.String()
		}
	}
	return u
}

// label is the "to" label of a try to server: the configured upstream in its
// normal form (IP:PORT, [IPv6]:PORT), or toAuthoritative for any other
// server (a zone's nameserver, found in DNS): the label's values stay as
// few as the Corefile's upstreams. No allocation.
func (u *upstreams) label(server netip.AddrPort) string {
	if l, ok := u.labels[server]; ok {
		return l
	}
	return toAuthoritative
}

// Close closes the idle pooled sockets; a try in flight closes its own.
func (u *upstreams) Close() { u.pool.close() }

// roundTrip sends query to server over p and hands what comes back to
// deliver, until deliver says the try is over, deadline passes (the core's:
// the shim has no timeout of its own) or ctx ends. Over UDP the socket is not
// connected, so a datagram from another address or port is seen, counted in
// dropped as source_mismatch, and ignored; the try keeps reading. buf is used
// for replies when it is large enough.
func (u *upstreams) roundTrip(ctx context.Context, p proto, server netip.AddrPort, deadline time.Time, query, buf []byte, deliver deliverFunc, dropped func(reason string)) error {
	if u.tls != nil {
		if _, ok := u.tls.addrs[server]; ok {
			return roundTripStream(ctx, u.tls.config, server, deadline, query, buf, deliver)
		}
	}
	if p == protoTCP {
		return roundTripStream(ctx, nil, server, deadline, query, buf, deliver)
	}
	_, pooled := u.resolvers[server]
	var conn *pooledConn
	if pooled {
		conn = u.pool.get()
	}
	if conn == nil {
		c, err := net.ListenUDP("udp", nil)
		if err != nil {
			return err
		}
		conn = &pooledConn{UDPConn: c}
	}
	answered, err := roundTripUDP(ctx, conn.UDPConn, server, deadline, query, buf, deliver, dropped)
	conn.uses++
	if !pooled || !answered || !u.pool.put(conn) {
		_ = conn.Close()
	}
	return err
}

// roundTripUDP is one UDP try on conn; answered is true when deliver ended it.
func roundTripUDP(ctx context.Context, conn *net.UDPConn, server netip.AddrPort, deadline time.Time, query, buf []byte, deliver deliverFunc, dropped func(reason string)) (answered bool, err error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return false, err
	}
	// Cancellation of ctx unblocks the read or write in progress at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.WriteToUDPAddrPort(query, server); err != nil {
		return false, withContext(ctx, err)
	}
	if len(buf) < udpReadSize {
		buf = make([]byte, udpReadSize)
	}
	want := netip.AddrPortFrom(server.Addr().Unmap(), server.Port())
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf[:udpReadSize])
		if err != nil {
			return false, withContext(ctx, err)
		}
		if netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) != want {
			dropped(dropSourceMismatch)
			continue
		}
		if deliver(buf[:n]) {
			return true, nil
		}
	}
}

// maxIdleSockets bounds the idle sockets of one block's pool; maxSocketUses
// is how many tries one socket serves before it is closed (and its port with
// it).
const (
	maxIdleSockets = 64
	maxSocketUses  = 100
)

// pooledConn is a UDP socket and the number of tries it served.
type pooledConn struct {
	*net.UDPConn
	uses int
}

// udpPool holds idle UDP sockets toward the `to` resolvers.
type udpPool struct {
	mu     sync.Mutex
	idle   []*pooledConn
	closed bool
}

// get returns an idle socket, or nil when there is none.
func (p *udpPool) get() *pooledConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return c
	}
	return nil
}

// put keeps c for a later try; false when the caller must close it (used up,
// pool full or closed).
func (p *udpPool) put(c *pooledConn) bool {
	if c.uses >= maxSocketUses {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.idle) >= maxIdleSockets {
		return false
	}
	p.idle = append(p.idle, c)
	return true
}

func (p *udpPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		_ = c.Close()
	}
}

// tlsUpstreams are the tls:// upstreams of one acmeforward block and their
// client configuration (`tls`, `tls_servername`). A nil *tlsUpstreams has
// none.
type tlsUpstreams struct {
	config *tls.Config
	addrs  map[netip.AddrPort]struct{}
}

// roundTripStream is one query and its reply over a new TCP connection, in
// TLS when tlsConfig is not nil (its ServerName, when empty, is the
// server's IP address, which the certificate must then name).
func roundTripStream(ctx context.Context, tlsConfig *tls.Config, server netip.AddrPort, deadline time.Time, query, buf []byte, deliver deliverFunc) error {
	dialer := &net.Dialer{Deadline: deadline}
	var conn net.Conn
	var err error
	if tlsConfig != nil {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: tlsConfig}).DialContext(ctx, "tcp", server.String())
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", server.String())
	}
	if err != nil {
		return withContext(ctx, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	reply, err := roundTripTCP(conn, query, buf)
	if err != nil {
		return withContext(ctx, err)
	}
	deliver(reply)
	return nil
}

// deadlineTime turns a deadline on the engines' clock (nowMs) into a time.
func deadlineTime(ms uint64) time.Time {
	return processStart.Add(time.Duration(ms) * time.Millisecond)
}

// withContext adds ctx's error to an I/O error caused by ctx ending, so
// callers can tell cancellation apart (errors.Is(err, context.Canceled)).
func withContext(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return err
}

// roundTripTCP writes the query with its 2-byte length prefix and reads one
// length-prefixed reply.
func roundTripTCP(conn net.Conn, query, buf []byte) ([]byte, error) {
	if len(query) > maxMessage {
		return nil, fmt.Errorf("query of %d bytes does not fit a TCP length prefix", len(query))
	}
	framed := make([]byte, 2+len(query))
	binary.BigEndian.PutUint16(framed, uint16(len(query)))
	copy(framed[2:], query)
	if _, err := conn.Write(framed); err != nil {
		return nil, err
	}
	var prefix [2]byte
	if _, err := io.ReadFull(conn, prefix[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(prefix[:]))
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// isTimeout reports whether an I/O error is a deadline or context timeout
// (as opposed to a network error such as a refused connection).
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

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

// roundTrip sends query to server over p and hands what comes back to
// deliver, until deliver says the try is over, deadline passes (the core's:
// the shim has no timeout of its own) or ctx ends. Over UDP the socket is not
// connected, so a datagram from another address or port is seen, counted in
// dropped as source_mismatch, and ignored; the try keeps reading. buf is used
// for replies when it is large enough.
func roundTrip(ctx context.Context, p proto, server netip.AddrPort, deadline time.Time, query, buf []byte, deliver deliverFunc, dropped func(reason string)) error {
	if p == protoTCP {
		return roundTripStream(ctx, nil, server, deadline, query, buf, deliver)
	}
	conn, err := net.ListenUDP("udp", nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	// Cancellation of ctx unblocks the read or write in progress at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.WriteToUDPAddrPort(query, server); err != nil {
		return withContext(ctx, err)
	}
	if len(buf) < udpReadSize {
		buf = make([]byte, udpReadSize)
	}
	want := netip.AddrPortFrom(server.Addr().Unmap(), server.Port())
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf[:udpReadSize])
		if err != nil {
			return withContext(ctx, err)
		}
		if netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) != want {
			dropped(dropSourceMismatch)
			continue
		}
		if deliver(buf[:n]) {
			return nil
		}
	}
}

// tlsUpstreams are the tls:// upstreams of one acmeforward block and their
// client configuration (`tls`, `tls_servername`). A nil *tlsUpstreams has
// none.
type tlsUpstreams struct {
	config *tls.Config
	addrs  map[netip.AddrPort]struct{}
}

// roundTrip is the package's roundTrip, but a try to a tls:// upstream goes
// over TLS whatever p says (the core asks such an upstream over TCP only, so
// that it never expects a datagram from it): one new connection per try,
// closed after its reply. The core's deadline bounds the dial, the handshake
// and the exchange.
func (t *tlsUpstreams) roundTrip(ctx context.Context, p proto, server netip.AddrPort, deadline time.Time, query, buf []byte, deliver deliverFunc, dropped func(reason string)) error {
	if t != nil {
		if _, ok := t.addrs[server]; ok {
			return roundTripStream(ctx, t.config, server, deadline, query, buf, deliver)
		}
	}
	return roundTrip(ctx, p, server, deadline, query, buf, deliver, dropped)
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

package acmeforward

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
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

// exchangeUpstream sends query to addr over p and returns the raw reply. The
// try ends at the earlier of now+timeout and ctx's deadline, or when ctx is
// cancelled. buf is used for the reply when it is large enough; the returned
// slice may alias it.
func exchangeUpstream(ctx context.Context, p proto, addr string, timeout time.Duration, query, buf []byte) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dialer := net.Dialer{Deadline: deadline}
	conn, err := dialer.DialContext(ctx, p.String(), addr)
	if err != nil {
		return nil, withContext(ctx, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	// Cancellation of ctx unblocks the read or write in progress at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var reply []byte
	if p == protoTCP {
		reply, err = roundTripTCP(conn, query, buf)
	} else {
		reply, err = roundTripUDP(conn, query, buf)
	}
	if err != nil {
		return nil, withContext(ctx, err)
	}
	return reply, nil
}

// withContext adds ctx's error to an I/O error caused by ctx ending, so
// callers can tell cancellation apart (errors.Is(err, context.Canceled)).
func withContext(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return err
}

// roundTripUDP writes the query as one datagram on the connected socket and
// reads exactly one datagram back (the kernel only delivers datagrams from
// the connected peer).
func roundTripUDP(conn net.Conn, query, buf []byte) ([]byte, error) {
	if _, err := conn.Write(query); err != nil {
		return nil, err
	}
	if len(buf) < maxMessage {
		buf = make([]byte, maxMessage)
	}
	n, err := conn.Read(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
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

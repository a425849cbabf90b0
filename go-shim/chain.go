package acmeforward

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/nonwriter"

	"github.com/miekg/dns"
)

// chainWriter records the reply the rest of the plugin chain gives an
// internal query (CoreDNS's nonwriter) and never writes to the client, not
// even a raw message.
type chainWriter struct {
	*nonwriter.Writer
}

// Write records a packed reply instead of writing it.
func (c *chainWriter) Write(b []byte) (int, error) {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return 0, err
	}
	c.Msg = m
	return len(b), nil
}

// askChain runs the core's internal query (a hairpin target's A or AAAA, or
// the A or AAAA of a name before it may get a public answer) as a client
// query through the rest of the plugin chain (kubernetes, hosts, ..., as
// after this plugin), with w as the client, and gives the reply packed into
// buf. what names the question, for logs. An error means the chain gave no
// reply the core can read: report a failure to the core.
func (a *AcmeForward) askChain(ctx context.Context, w dns.ResponseWriter, query, buf []byte) (reply []byte, what string, err error) {
	q := new(dns.Msg)
	if err := q.Unpack(query); err != nil || len(q.Question) != 1 {
		return nil, "", fmt.Errorf("unpacking the internal query: %v (%d questions)", err, len(q.Question))
	}
	what = q.Question[0].Name + " " + dns.TypeToString[q.Question[0].Qtype]
	cw := &chainWriter{Writer: nonwriter.New(w)}
	rc, err := plugin.NextOrFailure(pluginName, a.Next, ctx, cw, q)
	if cw.Msg == nil {
		if err == nil {
			err = fmt.Errorf("no reply (%s)", dns.RcodeToString[rc])
		}
		return nil, what, fmt.Errorf("looking up %s in the rest of the chain: %w", what, err)
	}
	reply, err = cw.Msg.PackBuffer(buf)
	if err != nil {
		return nil, what, fmt.Errorf("packing the reply for %s: %w", what, err)
	}
	return reply, what, nil
}

// internal runs an exchange's internal query through the rest of the chain
// (askChain, with the client's writer) and hands the reply to the core, which
// validates it and moves on; no reply is reported as a failure. The error is
// for the logs: the core has moved on either way (unless the engine was
// closed).
func (a *AcmeForward) internal(ctx context.Context, w dns.ResponseWriter, ex *exchange, query, buf []byte) error {
	reply, what, err := a.askChain(ctx, w, query, buf)
	if err != nil {
		return errors.Join(err, ex.failed(nowMs()))
	}
	rcode := dns.RcodeToString[int(reply[3]&0x0f)]
	if err := ex.internalReply(a.engine, reply); err != nil {
		return fmt.Errorf("the reply for %s (%s): %w", what, rcode, err)
	}
	if reply[3]&0x0f != dns.RcodeSuccess {
		return fmt.Errorf("the reply for %s is %s", what, rcode)
	}
	return nil
}

// chainClient is the client of the prefetch's internal queries, which no
// client sent: a local UDP client, as the plugins of the chain expect one.
// Nothing it is given is written anywhere (chainWriter records the reply).
type chainClient struct{}

var (
	chainClientLocal  = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	chainClientRemote = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 0}
)

func (chainClient) LocalAddr() net.Addr         { return chainClientLocal }
func (chainClient) RemoteAddr() net.Addr        { return chainClientRemote }
func (chainClient) WriteMsg(*dns.Msg) error     { return nil }
func (chainClient) Write(b []byte) (int, error) { return len(b), nil }
func (chainClient) Close() error                { return nil }
func (chainClient) TsigStatus() error           { return nil }
func (chainClient) TsigTimersOnly(bool)         {}
func (chainClient) Hijack()                     {}

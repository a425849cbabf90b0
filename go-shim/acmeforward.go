// Package acmeforward is a CoreDNS plugin that sends ACME DNS-01 challenge
// lookups (_acme-challenge.<name>) to external nameservers, while every other
// name keeps its internal (split-horizon) answer from the rest of the chain.
//
// The plugin is a thin shim over a Rust core reached through cgo: the core
// decides which questions are forwarded, builds the upstream query and
// validates and rewrites every upstream reply. This package does the Corefile
// parsing, the socket I/O and the metrics.
package acmeforward

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"

	"github.com/miekg/dns"
)

const pluginName = "acmeforward"

// AcmeForward is the plugin.Handler.
type AcmeForward struct {
	Next plugin.Handler

	config  *Config       // owned; closed by the OnShutdown registered in setup
	timeout time.Duration // per upstream try, the same value the core was given
}

// Name implements plugin.Handler.
func (a *AcmeForward) Name() string { return pluginName }

// ServeDNS implements plugin.Handler. A question the core classifies as a
// challenge lookup is forwarded; anything else goes to the next plugin.
func (a *AcmeForward) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	if len(r.Question) != 1 {
		return plugin.NextOrFailure(pluginName, a.Next, ctx, w, r)
	}
	q := &r.Question[0]
	if a.config.Classify(q.Name, q.Qtype, q.Qclass) != VerdictForward {
		// VerdictError (e.g. the config was freed by a reload) also passes:
		// the internal answer is the safe fallback.
		return plugin.NextOrFailure(pluginName, a.Next, ctx, w, r)
	}
	return a.forward(ctx, w, r)
}

// bufPool holds buffers of maxMessage bytes: large enough for any upstream
// query, upstream reply or client reply, so the core's "buffer too short"
// path is only a fallback.
var bufPool = sync.Pool{New: func() any { b := make([]byte, maxMessage); return &b }}

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { bufPool.Put(b) }

// forward runs the exchange: every upstream in configuration order until the
// core accepts a reply, which is written to the client as the core returned
// it. When every upstream fails the client gets SERVFAIL.
func (a *AcmeForward) forward(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	server := metrics.WithServer(ctx)
	requestCount.WithLabelValues(server).Inc()

	query, err := r.Pack()
	if err != nil {
		return a.servfail(server, fmt.Errorf("packing client query: %w", err))
	}
	ex, err := a.config.newExchange(query, rand.Uint64())
	if err != nil {
		return a.servfail(server, err)
	}
	defer ex.Close()

	queryBuf, replyBuf, outBuf := getBuf(), getBuf(), getBuf()
	defer putBuf(queryBuf)
	defer putBuf(replyBuf)
	defer putBuf(outBuf)

	upQuery, err := ex.upstreamQuery(*queryBuf)
	if err != nil {
		return a.servfail(server, err)
	}

	_, clientTCP := w.RemoteAddr().(*net.TCPAddr)
	first := protoUDP
	if clientTCP {
		first = protoTCP
	}

	var errs []error
	for _, to := range a.config.Upstreams() {
		for p := first; ; p = protoTCP {
			out, err := a.try(ctx, ex, server, to, p, upQuery, *replyBuf, clientTCP, *outBuf)
			if err == nil {
				if cap(out) > cap(*outBuf) {
					*outBuf = out[:cap(out)] // keep the grown buffer for the pool
				}
				return a.write(server, w, out)
			}
			errs = append(errs, fmt.Errorf("%s over %s: %w", to, p, err))
			var ce *Error
			if p == protoUDP && errors.As(err, &ce) && ce.Code == resultTruncated {
				continue // the same upstream again, over TCP
			}
			break
		}
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
	}
	return a.servfail(server, fmt.Errorf("all upstreams failed: %w", errors.Join(errs...)))
}

// try is one upstream round trip plus the core's verdict on the reply, with
// its metrics. Only bytes the core accepted and rewrote are returned.
func (a *AcmeForward) try(ctx context.Context, ex *exchange, server, to string, p proto, query, replyBuf []byte, clientTCP bool, outBuf []byte) ([]byte, error) {
	upstreamRequestCount.WithLabelValues(server, to, p.String()).Inc()
	start := time.Now()
	reply, err := exchangeUpstream(ctx, p, to, a.timeout, query, replyBuf)
	var out []byte
	if err == nil {
		out, err = ex.finish(reply, clientTCP, outBuf)
	}
	upstreamDuration.WithLabelValues(server, to).Observe(time.Since(start).Seconds())
	if err != nil {
		upstreamFailureCount.WithLabelValues(server, to, failureReason(err)).Inc()
		return nil, err
	}
	return out, nil
}

// write hands the reply the core accepted and rewrote to the client. It goes
// through WriteMsg, not a raw Write, so that the plugins wrapping this one
// (log, prometheus, dnstap) see its rcode and records like any other answer.
// The unpack cannot change what the client gets: the core already produced a
// well-formed message that fits the client's size.
func (a *AcmeForward) write(server string, w dns.ResponseWriter, out []byte) (int, error) {
	reply := new(dns.Msg)
	if err := reply.Unpack(out); err != nil {
		return a.servfail(server, fmt.Errorf("unpacking the validated reply: %w", err))
	}
	reply.Compress = true
	if err := w.WriteMsg(reply); err != nil {
		return dns.RcodeServerFailure, plugin.Error(pluginName, fmt.Errorf("writing reply: %w", err))
	}
	return reply.Rcode, nil
}

// servfail counts the failure and lets CoreDNS write SERVFAIL to the client.
func (a *AcmeForward) servfail(server string, err error) (int, error) {
	servfailCount.WithLabelValues(server).Inc()
	return dns.RcodeServerFailure, plugin.Error(pluginName, err)
}

// Package acmeforward is a CoreDNS plugin that sends ACME DNS-01 challenge
// lookups (_acme-challenge.<name>, and the SOA/NS/A/AAAA lookups of an ACME
// client's propagation check) to external nameservers, while every other
// name keeps its internal (split-horizon) answer from the rest of the chain.
// With `hairpin` lines it also answers the A/AAAA questions for public names
// served by the cluster's own ingress with an in-cluster address (the HTTP-01
// self check of a cluster without hairpin NAT).
//
// The plugin is a thin shim over a Rust core reached through cgo: the core
// decides which questions are forwarded, which server to ask next over which
// transport (failover, TC→TCP, authoritative discovery), builds every
// upstream query and validates and rewrites every upstream reply. This
// package does the Corefile parsing, the socket I/O and the metrics.
package acmeforward

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"

	"github.com/miekg/dns"
)

const pluginName = "acmeforward"

// AcmeForward is the plugin.Handler.
type AcmeForward struct {
	Next plugin.Handler

	engine *Engine // owned; closed by the OnShutdown registered in setup
	// prefetch is started by OnStartup and stopped by OnShutdown; the ready
	// plugin's HTTP server may read it (Ready) meanwhile.
	prefetch atomic.Pointer[prefetcher]
	server   string     // metrics label of what is not tied to a query
	up       *upstreams // how tries reach the servers; idle sockets closed by OnShutdown
	// maxConcurrent bounds the exchanges in flight (inflight); past it the
	// client gets REFUSED at once.
	maxConcurrent int64
	inflight      atomic.Int64
	// flights are the exchanges in flight, by question: an identical
	// question waits for the one in flight instead of starting its own.
	flights flights
}

// Name implements plugin.Handler.
func (a *AcmeForward) Name() string { return pluginName }

// ServeDNS implements plugin.Handler. A question the core classifies as one
// to forward is forwarded, a hairpin question is answered by the core (both
// through the same exchange loop); anything else goes to the next plugin.
// Only opcode QUERY is looked at: a NOTIFY or an UPDATE (for a challenge
// name too) is for the plugins that serve the zone, e.g. secondary.
func (a *AcmeForward) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	if len(r.Question) != 1 || r.Opcode != dns.OpcodeQuery {
		return plugin.NextOrFailure(pluginName, a.Next, ctx, w, r)
	}
	q := &r.Question[0]
	if a.engine.rulesOut(q.Name, q.Qtype, q.Qclass) {
		// Most of a cluster's questions: no C call, nothing copied.
		return plugin.NextOrFailure(pluginName, a.Next, ctx, w, r)
	}
	return a.serveClassified(ctx, w, r)
}

// serveClassified is ServeDNS for a question the shim's filter did not rule
// out: the core classifies it.
func (a *AcmeForward) serveClassified(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	q := &r.Question[0]
	switch v, c := a.engine.classify(q.Name, q.Qtype, q.Qclass); v {
	case VerdictHairpin:
		if h, ok := readyHairpin(&c); ok {
			return a.hairpinAnswer(ctx, w, r, h, c)
		}
		return a.forward(ctx, w, r, c)
	case VerdictForward:
		return a.forward(ctx, w, r, c)
	}
	// VerdictError (e.g. the engine was closed by a reload) also passes: the
	// internal answer is the safe fallback.
	return plugin.NextOrFailure(pluginName, a.Next, ctx, w, r)
}

// forward answers a question the core forwards (or answers as a hairpin),
// within max_concurrent: it leads the flight of its question (lead), or
// follows the identical question already in flight (follow). c is the
// classifier's verdict, which starts the exchange and names the decision the
// metrics count.
func (a *AcmeForward) forward(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, c classification) (rc int, err error) {
	hairpin := Verdict(c.verdict) == VerdictHairpin
	decision := decisionOf(c)
	server := metrics.WithServer(ctx)
	requestCount.WithLabelValues(server, decision).Inc()
	tr := &trace{upstream: "-"}
	start := time.Now()
	defer func() { report(server, decision, &r.Question[0], rc, tr.upstream, start) }()
	if a.inflight.Add(1) > a.maxConcurrent {
		a.inflight.Add(-1)
		maxConcurrentRejectCount.WithLabelValues(server).Inc()
		// CoreDNS writes the REFUSED itself (as for forward's max_concurrent).
		return dns.RcodeRefused, nil
	}
	defer a.inflight.Add(-1)

	query, err := r.Pack()
	if err != nil {
		return a.servfail(server, fmt.Errorf("packing client query: %w", err))
	}
	q := client{query: query, hairpin: hairpin, verdict: c, trace: tr}
	_, q.tcp = w.RemoteAddr().(*net.TCPAddr)
	if hairpin {
		// Answered from the table (or the rest of the chain): no upstream to share.
		return a.lead(ctx, w, q, flightKey{}, nil)
	}
	key := keyOf(r)
	for {
		f, leader := a.flights.join(key)
		if leader {
			return a.lead(ctx, w, q, key, f)
		}
		if rc, done, err := a.follow(ctx, w, q, key, f); done {
			return rc, err
		}
		// The leader gave up without the core's verdict: start over.
	}
}

// client is what forward keeps of the client's query.
type client struct {
	query   []byte // packed
	tcp     bool   // the query came over TCP
	hairpin bool   // VerdictHairpin
	// verdict is the classifier's, with the rule the exchange takes.
	verdict classification
	trace   *trace // what the report of the reply says
}

// trace is what lead and follow tell the report of a reply (report).
type trace struct {
	upstream string // "to" label of the last try, "shared" or "-"
}

// follow waits for the flight's outcome and answers from it: the core's
// answer for this client's own query, or SERVFAIL when the core gave up. done
// is false when the leader ended without the core's verdict.
func (a *AcmeForward) follow(ctx context.Context, w dns.ResponseWriter, q client, key flightKey, f *flight) (rc int, done bool, err error) {
	server := metrics.WithServer(ctx)
	defer a.flights.release(f)
	select {
	case <-f.done:
	case <-ctx.Done():
		rc, err = a.servfail(server, allFailed("request ended", []error{ctx.Err()}))
		return rc, true, err
	}
	switch f.outcome {
	case failed:
		rc, err = a.servfail(server, failure(q.hairpin, f.reason, nil))
		return rc, true, err
	case answered:
		buf := getBuf()
		defer putBuf(buf)
		reply, err := f.ex.answerFor(q.query, q.tcp, *buf)
		var ce *Error
		if errors.As(err, &ce) && ce.Code == resultOtherQuestion {
			// The key grouped what the core tells apart: an exchange of its own.
			rc, err = a.lead(ctx, w, q, key, nil)
			return rc, true, err
		}
		if err != nil {
			rc, err = a.queryRejected(server, w, q.query, err)
			return rc, true, err
		}
		sharedAnswerCount.WithLabelValues(server).Inc()
		q.trace.upstream = "shared"
		rc, err = a.write(server, w, reply)
		if q.hairpin && err == nil {
			hairpinAnswerCount.WithLabelValues(server).Inc()
		}
		return rc, true, err
	}
	return 0, false, nil
}

// bufPool holds buffers of udpReadSize bytes: enough for every query and UDP
// reply from an upstream, so memory per exchange in flight is a few KiB. A
// larger client reply (over TCP, or over UDP to a client whose EDNS0 size is
// larger) or TCP upstream reply gets a buffer of its own size (the core
// reports the length it needs).
var bufPool = sync.Pool{New: func() any { b := make([]byte, udpReadSize); return &b }}

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { bufPool.Put(b) }

// lead runs the exchange as the core directs it: each SEND is one upstream
// try (the server, transport and query are the core's), whose reply or
// failure goes back to the core; each INTERNAL (a hairpin target's lookup, a
// probe of a name before it is learned) goes through the rest of the plugin
// chain, and its reply or failure back to the core; ANSWER is written to the
// client as the core returned it; FAIL becomes SERVFAIL. The shim decides
// nothing about failover or retries. The outcome lands on the flight f (nil:
// an exchange shared with nobody), whose followers answer from it.
func (a *AcmeForward) lead(ctx context.Context, w dns.ResponseWriter, q client, key flightKey, f *flight) (int, error) {
	server := metrics.WithServer(ctx)
	var shared *exchange // the exchange, once the flight owns it
	land := func(o outcome, ex *exchange, reason string) {
		if f != nil {
			a.flights.land(key, f, o, ex, reason)
			a.flights.release(f)
			f, shared = nil, ex
		}
	}
	defer land(abandoned, nil, "")

	ex, err := a.engine.newExchange(&q.verdict, q.query, q.tcp, rand.Uint64(), nowMs())
	if err != nil {
		return a.queryRejected(server, w, q.query, err)
	}
	defer func() {
		if shared != ex {
			ex.Close()
		}
	}()
	if !q.hairpin {
		// A hairpin exchange learns nothing.
		defer a.updateLearned(server, ex)
	}

	// In authoritative mode its sends to the `to` resolvers are the
	// discovery lookups, its other sends the question to a nameserver.
	authoritative := ex.isAuthoritative()

	pollBuf, replyBuf := getBuf(), getBuf()
	defer putBuf(pollBuf)
	defer putBuf(replyBuf)

	var errs []error
	for {
		act, err := ex.poll(*pollBuf)
		if err != nil {
			return a.servfail(server, errors.Join(append(errs, err)...))
		}
		switch act.kind {
		case actionAnswer:
			if f != nil {
				// The flight owns the exchange from here; act.data is ours.
				land(answered, ex, "")
			}
			rc, err := a.write(server, w, act.data)
			if q.hairpin && err == nil {
				hairpinAnswerCount.WithLabelValues(server).Inc()
			}
			return rc, err
		case actionFail:
			land(failed, nil, act.reason.String())
			return a.servfail(server, failure(q.hairpin, act.reason.String(), errs))
		case actionInternal:
			if err := a.internal(ctx, w, ex, act.data, *replyBuf); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		// actionSend: one try, then tell the core how it went.
		label := a.up.label(act.server)
		q.trace.upstream = label
		if authoritative && label != toAuthoritative {
			discoveryLookupCount.WithLabelValues(server).Inc()
		}
		err = a.try(ctx, ex, server, label, act, *replyBuf)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s over %s: %w", act.server, act.proto, err))
		}
		if ctx.Err() != nil {
			return a.servfail(server, allFailed("request ended", append(errs, ctx.Err())))
		}
	}
}

// failure is the error for a query that gets SERVFAIL: why the exchange
// ended, and what went wrong on the way.
func failure(hairpin bool, why string, errs []error) error {
	if hairpin {
		return hairpinFailed(why, errs)
	}
	return allFailed(why, errs)
}

// allFailed is the error for a forwarded query that gets SERVFAIL: why the
// exchange ended, and what went wrong with each try.
func allFailed(why string, errs []error) error {
	if len(errs) == 0 {
		return fmt.Errorf("all upstreams failed: %s", why)
	}
	return fmt.Errorf("all upstreams failed: %s: %w", why, errors.Join(errs...))
}

// hairpinFailed is the error for a hairpin query that gets SERVFAIL.
func hairpinFailed(why string, errs []error) error {
	if len(errs) == 0 {
		return fmt.Errorf("hairpin: %s", why)
	}
	return fmt.Errorf("hairpin: %s: %w", why, errors.Join(errs...))
}

// try is one upstream round trip, with its metrics (to is their "to" label),
// and the report of its outcome to the core: the reply (which the core
// validates, learns from or rejects) or the I/O failure. The error says why
// the try did not produce a usable reply; either way the core has moved on
// and is polled next.
func (a *AcmeForward) try(ctx context.Context, ex *exchange, server, to string, act action, replyBuf []byte) error {
	upstreamRequestCount.WithLabelValues(server, to, act.proto.String()).Inc()
	start := time.Now()
	dropped := func(reason string) { droppedReplyCount.WithLabelValues(server, reason).Inc() }
	var replyErr error
	delivered := false
	deliver := func(reply []byte) bool {
		err := ex.reply(a.engine, reply, nowMs())
		if reason, ok := unsolicited(err); ok && act.proto == protoUDP {
			// No reply to this query: the core keeps the try waiting.
			dropped(reason)
			return false
		}
		if isLate(err) {
			dropped(dropLate)
		}
		delivered, replyErr = true, err
		return true
	}
	err := a.up.roundTrip(ctx, act.proto, act.server, deadlineTime(act.deadline), act.data, replyBuf, deliver, dropped)
	switch {
	case err == nil && delivered:
		err = replyErr
	case err == nil:
		err = errors.New("no reply")
		fallthrough
	default:
		if ferr := ex.failed(nowMs()); ferr != nil {
			err = errors.Join(err, ferr)
		}
	}
	upstreamDuration.WithLabelValues(server, to).Observe(time.Since(start).Seconds())
	if err != nil {
		reason := failureReason(err)
		upstreamFailureCount.WithLabelValues(server, to, reason).Inc()
		if reason == reasonInvalidReply {
			invalidReplyCount.WithLabelValues(server, to, invalidReason(err)).Inc()
		}
	}
	return err
}

// updateLearned publishes the size of the learned state after an exchange,
// as its last reply reported it (no reply: nothing learned, nothing to say).
func (a *AcmeForward) updateLearned(server string, ex *exchange) {
	if ex.replied {
		learnedEntries.WithLabelValues(server).Set(float64(ex.learnedLen))
	}
}

// write hands the reply the core accepted and rewrote to the client. It goes
// through WriteMsg, not a raw Write, so that the plugins wrapping this one
// (log, prometheus, dnstap) see its rcode and records like any other answer.
// The unpack cannot change what the client gets: the core already produced a
// well-formed message that fits the client's size. CoreDNS's own writer,
// below every plugin, then packs it as it packs every plugin's reply:
// uncompressed when that fits the client's size (over TCP, whenever it fits
// 65535 bytes), compressed otherwise. Compress is for writers without it.
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

// queryRejected answers a query the core would not take (err from newExchange or
// answerFor): a malformed one (two OPT records, an OPT off the root or outside
// the additional section, ...) gets the FORMERR the core builds, written like
// any answer (no error: the client's mistake is no failure of the plugin);
// anything else SERVFAIL.
func (a *AcmeForward) queryRejected(server string, w dns.ResponseWriter, query []byte, err error) (int, error) {
	var ce *Error
	if errors.As(err, &ce) && ce.Code == resultQueryMalformed {
		buf := getBuf()
		defer putBuf(buf)
		if reply, ferr := formatError(query, *buf); ferr == nil {
			return a.write(server, w, reply)
		}
	}
	return a.servfail(server, err)
}

// servfail counts the failure and lets CoreDNS write SERVFAIL to the client.
func (a *AcmeForward) servfail(server string, err error) (int, error) {
	servfailCount.WithLabelValues(server).Inc()
	return dns.RcodeServerFailure, plugin.Error(pluginName, err)
}

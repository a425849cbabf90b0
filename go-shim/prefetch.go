package acmeforward

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// prefetchWait bounds how long start-up waits for the first prefetch round
// (every listed and delegated zone tried once). Past it the server starts
// anyway: a dead upstream must not keep cluster DNS from starting. The ready
// plugin reports this plugin not ready until the round is done.
const prefetchWait = 5 * time.Second

// maxKeptInternalLogged bounds the nameserver hosts the prefetcher remembers
// having logged: a public NS RRset may name new hosts at every refresh.
const maxKeptInternalLogged = 256

// chainFunc asks the rest of the plugin chain a query (askChain with a
// client of its own) and gives the reply packed into buf, and the question
// for logs.
type chainFunc func(ctx context.Context, query, buf []byte) (reply []byte, what string, err error)

// prefetcher runs the core's prefetch in one goroutine: it does the I/O the
// core asks for (upstream tries, and questions to the internal view through
// the rest of the plugin chain), with the core's deadlines, and sleeps when
// the core says so. It decides nothing: which names, which hosts keep their
// internal answer, when to refresh and how to back off are the core's.
type prefetcher struct {
	engine *Engine
	server string // metrics label
	up     *upstreams
	chain  chainFunc
	// logged are the hosts kept internal that were logged already (only
	// the run goroutine uses it).
	logged map[string]bool
	stop   chan struct{}
	done   chan struct{}
	ready  chan struct{} // closed once the first round is done
	isUp   atomic.Bool
	once   sync.Once
}

// startPrefetch starts the engine's prefetch. With nothing to prefetch the
// goroutine ends at once and the prefetcher is ready.
func startPrefetch(e *Engine, server string, up *upstreams, chain chainFunc) *prefetcher {
	p := &prefetcher{
		engine: e,
		server: server,
		up:     up,
		chain:  chain,
		logged: map[string]bool{},
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		ready:  make(chan struct{}),
	}
	go p.run()
	return p
}

// markReady closes ready once.
func (p *prefetcher) markReady() {
	p.once.Do(func() {
		p.isUp.Store(true)
		close(p.ready)
	})
}

// waitReady waits for the first round, at most limit. It reports whether the
// round was done.
func (p *prefetcher) waitReady(limit time.Duration) bool {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-p.ready:
		return true
	case <-t.C:
		return false
	}
}

// Stop ends the goroutine (an exchange in flight is cancelled) and waits for
// it; the core's prefetch is freed by then. Safe to call more than once.
func (p *prefetcher) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

func (p *prefetcher) run() {
	defer close(p.done)
	defer p.markReady()
	pf, err := p.engine.newPrefetch(rand.Uint64())
	if err != nil {
		log.Errorf("prefetch: %v", err)
		return
	}
	defer pf.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-p.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	buf, replyBuf := make([]byte, udpReadSize), make([]byte, udpReadSize)
	for {
		now := nowMs()
		act, err := pf.poll(p.engine, now, buf)
		if err != nil {
			// The engine was closed under us (shutdown): nothing left to do.
			return
		}
		if pf.ready() {
			p.markReady()
		}
		if act.internal {
			p.internal(ctx, pf, act, replyBuf)
			if ctx.Err() != nil {
				return
			}
			continue
		}
		if !act.send {
			if act.until == math.MaxUint64 {
				<-ctx.Done()
				return
			}
			wait := time.Duration(act.until-min(act.until, now)) * time.Millisecond
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		var replyErr error
		delivered := false
		deliver := func(reply []byte) bool {
			_, err := pf.reply(p.engine, reply, nowMs())
			if _, ok := unsolicited(err); ok && act.proto == protoUDP {
				return false
			}
			delivered, replyErr = true, err
			return true
		}
		err = p.up.roundTrip(ctx, act.proto, act.server, deadlineTime(act.until), act.query, replyBuf, deliver, func(string) {})
		if ctx.Err() != nil {
			return
		}
		result := "ok"
		switch {
		case err == nil && delivered:
			err = replyErr
		default:
			if err == nil {
				err = errors.New("no reply")
			}
			if ferr := pf.failed(nowMs()); ferr != nil {
				err = ferr
			}
		}
		if err != nil {
			result = failureReason(err)
			log.Debugf("prefetch: %s over %s: %v", act.server, act.proto, err)
		}
		prefetchCount.WithLabelValues(p.server, result).Inc()
	}
}

// internal asks the internal view the prefetch's question (the A or AAAA of
// a nameserver host it found) until the core's deadline, and hands the reply
// to the core. A host the internal view knows keeps its internal answer:
// that is logged once per host, with the operator's way to change it.
func (p *prefetcher) internal(ctx context.Context, pf *prefetch, act prefetchAction, buf []byte) {
	ctx, cancel := context.WithDeadline(ctx, deadlineTime(act.until))
	defer cancel()
	reply, what, err := p.chain(ctx, act.query, buf)
	if err != nil {
		log.Debugf("prefetch: %v", err)
		_ = pf.failed(nowMs())
		return
	}
	kept, err := pf.reply(p.engine, reply, nowMs())
	if err != nil {
		log.Debugf("prefetch: the internal view's reply for %s: %v", what, err)
		return
	}
	host, _, _ := strings.Cut(what, " ")
	if !kept || p.logged[host] || len(p.logged) >= maxKeptInternalLogged {
		return
	}
	p.logged[host] = true
	log.Warningf("nameserver host %s of a listed or delegated zone keeps its internal answer: the internal view knows it (%s), and public data never decides an internal name. If ACME clients need its public address, name it in the acmeforward block: public_hosts %s", host, what, strings.TrimSuffix(host, "."))
}

package acmeforward

// The core's prefetch in the cgo binding (engine.go has its ownership
// rules); prefetch.go runs it.

/*
#include "acmeforward.h"
*/
import "C"

import (
	"net/netip"
	"runtime"
	"unsafe"
)

// prefetch wraps one afwd_prefetch: the engine's own background lookups. It
// is owned by one goroutine (prefetcher.run), which must Close it before the
// engine is closed.
type prefetch struct {
	ptr *C.afwd_prefetch
}

// newPrefetch makes the engine's prefetch; random seeds its query IDs.
func (e *Engine) newPrefetch(random uint64) (*prefetch, error) {
	var ptr *C.afwd_prefetch
	if e.closed.Load() {
		return nil, errClosed("afwd_prefetch_new")
	}
	err := resultErr("afwd_prefetch_new", C.afwd_prefetch_new(e.ptr, C.uint64_t(random), &ptr))
	runtime.KeepAlive(e)
	if err != nil {
		return nil, err
	}
	return &prefetch{ptr: ptr}, nil
}

// Close frees the prefetch. Safe to call more than once.
func (p *prefetch) Close() {
	C.afwd_prefetch_free(p.ptr)
	p.ptr = nil
}

// prefetchAction is what the prefetch wants done next: a send (the query
// aliases the poll buffer) with the core's deadline, a question to the
// internal view (internal: the rest of the plugin chain) with its deadline,
// or a sleep until a time (math.MaxUint64: for ever). Times are nowMs()
// values.
type prefetchAction struct {
	send     bool
	internal bool
	server   netip.AddrPort
	proto    proto
	query    []byte
	until    uint64
}

// poll asks the prefetch what to do at now; the query goes into buf (grown
// once if too short). It publishes finished lookups into the engine.
func (p *prefetch) poll(e *Engine, now uint64, buf []byte) (prefetchAction, error) {
	if e.closed.Load() {
		return prefetchAction{}, errClosed("afwd_prefetch_poll")
	}
	var a C.afwd_prefetch_action
	r := C.afwd_prefetch_poll(p.ptr, e.ptr, C.uint64_t(now), bytesPtr(buf), C.size_t(len(buf)), &a)
	if Result(r) == resultBufferTooShort {
		buf = make([]byte, int(a.len))
		r = C.afwd_prefetch_poll(p.ptr, e.ptr, C.uint64_t(now), bytesPtr(buf), C.size_t(len(buf)), &a)
	}
	// A poll ends prefetch rounds, and publishes what they found.
	e.refreshFilter()
	if err := resultErr("afwd_prefetch_poll", r); err != nil {
		return prefetchAction{}, err
	}
	act := prefetchAction{until: uint64(a.until_ms)}
	if a.kind == C.AFWD_PREFETCH_INTERNAL {
		act.internal = true
		act.query = buf[:int(a.len)]
	}
	if a.kind == C.AFWD_PREFETCH_SEND {
		ip := netip.AddrFrom16(*(*[16]byte)(unsafe.Pointer(&a.server_ip))).Unmap()
		act.send = true
		act.server = netip.AddrPortFrom(ip, uint16(a.server_port))
		if a.tcp {
			act.proto = protoTCP
		}
		act.query = buf[:int(a.len)]
	}
	return act, nil
}

// reply hands the prefetch the reply to its last send or internal question;
// an error says why it was not used (the prefetch has moved on either way).
// keptInternal: the reply was the internal view's, and it knows the
// nameserver host asked about, which keeps its internal answer.
func (p *prefetch) reply(e *Engine, reply []byte, now uint64) (keptInternal bool, err error) {
	if e.closed.Load() {
		return false, errClosed("afwd_prefetch_reply")
	}
	r := C.afwd_prefetch_reply(p.ptr, e.ptr, bytesPtr(reply), C.size_t(len(reply)), C.uint64_t(now))
	runtime.KeepAlive(e)
	// What the prefetch publishes expires by the clock: classify must read it.
	e.mayHaveLearned.Store(true)
	if r == C.AFWD_KEPT_INTERNAL {
		return true, nil
	}
	return false, resultErr("afwd_prefetch_reply", r)
}

// failed reports at now that the last send got no reply by its deadline.
func (p *prefetch) failed(now uint64) error {
	return resultErr("afwd_prefetch_failed", C.afwd_prefetch_failed(p.ptr, C.uint64_t(now)))
}

// ready reports whether every zone was tried once.
func (p *prefetch) ready() bool {
	return bool(C.afwd_prefetch_ready(p.ptr))
}

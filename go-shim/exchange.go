package acmeforward

// One forwarded query in the cgo binding (engine.go has its ownership
// rules): the exchange the core drives, and the FORMERR of a malformed query.

/*
#include "acmeforward.h"
*/
import "C"

import (
	"fmt"
	"net/netip"
	"runtime"
	"unsafe"
)

// exchange wraps one afwd_exchange: the state of one forwarded query. It is
// driven by the one ServeDNS call that leads its flight (flight.go); the last
// query to leave the flight closes it.
type exchange struct {
	ptr *C.afwd_exchange
	// learnedLen is the engine's learned state's size after the last reply
	// (valid when replied is set): the reply call reports it.
	learnedLen int
	replied    bool
}

// newExchange parses the client's packed query and starts the exchange. c
// is the classification of its question (Engine.classify), whose rule the
// exchange takes as it is; nil makes the core classify the query itself.
// random seeds the upstream IDs and 0x20 letter case; now is nowMs().
func (e *Engine) newExchange(c *classification, query []byte, clientTCP bool, random, now uint64) (*exchange, error) {
	if e.closed.Load() {
		return nil, errClosed("afwd_exchange_new")
	}
	var ptr *C.afwd_exchange
	r := C.afwd_exchange_new(e.ptr, c, bytesPtr(query), C.size_t(len(query)), C.bool(clientTCP),
		C.uint64_t(random), C.uint64_t(now), &ptr)
	runtime.KeepAlive(e)
	if err := resultErr("afwd_exchange_new", r); err != nil {
		return nil, err
	}
	return &exchange{ptr: ptr}, nil
}

// Close frees the exchange. Safe to call more than once.
func (x *exchange) Close() {
	C.afwd_exchange_free(x.ptr)
	x.ptr = nil
}

// isAuthoritative reports whether the exchange asks the zone's nameservers
// the client's question (authoritative mode): then its sends to the `to`
// resolvers are discovery lookups. Fixed when the exchange is made.
func (x *exchange) isAuthoritative() bool {
	return bool(C.afwd_exchange_is_authoritative(x.ptr))
}

// actionKind is afwd_action_kind.
type actionKind uint32

const (
	actionSend     actionKind = C.AFWD_ACTION_SEND
	actionAnswer   actionKind = C.AFWD_ACTION_ANSWER
	actionFail     actionKind = C.AFWD_ACTION_FAIL
	actionInternal actionKind = C.AFWD_ACTION_INTERNAL
)

// action is what the exchange wants done next.
type action struct {
	kind     actionKind
	server   netip.AddrPort // SEND: where (an IPv4-mapped address is unmapped)
	deadline uint64         // SEND: when the try is over (nowMs clock)
	proto    proto          // SEND: UDP or TCP
	data     []byte         // SEND, INTERNAL: the query; ANSWER: the client reply (aliases the poll buffer)
	reason   Result         // FAIL: the last error seen
}

// poll asks the exchange for its next action; the query or client reply goes
// into buf (grown once if the core reports it too short) and action.data
// aliases it.
func (x *exchange) poll(buf []byte) (action, error) {
	var a C.afwd_action
	r := C.afwd_exchange_poll(x.ptr, bytesPtr(buf), C.size_t(len(buf)), &a)
	if Result(r) == resultBufferTooShort {
		buf = make([]byte, int(a.len))
		r = C.afwd_exchange_poll(x.ptr, bytesPtr(buf), C.size_t(len(buf)), &a)
	}
	if err := resultErr("afwd_exchange_poll", r); err != nil {
		return action{}, err
	}
	act := action{kind: actionKind(a.kind), reason: Result(a.fail_reason)}
	switch act.kind {
	case actionSend:
		ip := netip.AddrFrom16(*(*[16]byte)(unsafe.Pointer(&a.server_ip))).Unmap()
		act.server = netip.AddrPortFrom(ip, uint16(a.server_port))
		act.deadline = uint64(a.deadline_ms)
		if a.tcp {
			act.proto = protoTCP
		}
		act.data = buf[:int(a.len)]
	case actionAnswer, actionInternal:
		act.data = buf[:int(a.len)]
	case actionFail:
	default:
		return action{}, fmt.Errorf("afwd_exchange_poll: unknown action kind %d", act.kind)
	}
	return act, nil
}

// reply hands the exchange the reply to its last SEND. nil means the core
// used it; an *Error says why not (for metrics and logs: the exchange has
// already moved on either way).
func (x *exchange) reply(e *Engine, reply []byte, now uint64) error {
	if err := x.feed(e, reply, now); err != nil {
		return err
	}
	e.mayHaveLearned.Store(true)
	return nil
}

// internalReply hands the exchange the rest of the plugin chain's reply to its
// INTERNAL query: a hairpin target's lookup, or a probe of a name before it is
// learned. Unlike reply it does not make classify read the clock: a probe
// only follows an upstream reply of the same exchange, which did.
func (x *exchange) internalReply(e *Engine, reply []byte) error {
	return x.feed(e, reply, nowMs())
}

// feed is afwd_exchange_reply, on the engine the exchange co-owns. Learning
// happens here (a reply, or the internal view's answer to a probe); the call
// reports the engine's state after it, so the pass filter is copied again
// only when its generation changed, with no other call.
func (x *exchange) feed(e *Engine, reply []byte, now uint64) error {
	var state C.afwd_engine_state
	r := C.afwd_exchange_reply(x.ptr, bytesPtr(reply), C.size_t(len(reply)), C.uint64_t(now), &state)
	x.learnedLen, x.replied = int(state.learned_len), true
	if !e.closed.Load() {
		e.refreshFilterTo(uint64(state.pass_filter_generation))
	}
	return resultErr("afwd_exchange_reply", r)
}

// answerFor writes into buf (grown once if the core reports it too short) the
// answered exchange's answer for another client's packed query that asks the
// same question, and returns it (aliasing buf). Several goroutines may call it
// at once; none may poll, feed or close x meanwhile. An *Error with
// resultOtherQuestion means the client must have an exchange of its own.
func (x *exchange) answerFor(query []byte, clientTCP bool, buf []byte) ([]byte, error) {
	var n C.size_t
	r := C.afwd_exchange_answer_for(x.ptr, bytesPtr(query), C.size_t(len(query)), C.bool(clientTCP),
		bytesPtr(buf), C.size_t(len(buf)), &n)
	if Result(r) == resultBufferTooShort {
		buf = make([]byte, int(n))
		r = C.afwd_exchange_answer_for(x.ptr, bytesPtr(query), C.size_t(len(query)), C.bool(clientTCP),
			bytesPtr(buf), C.size_t(len(buf)), &n)
	}
	if err := resultErr("afwd_exchange_answer_for", r); err != nil {
		return nil, err
	}
	return buf[:int(n)], nil
}

// formatError writes into buf (grown once if the core reports it too short)
// the core's FORMERR reply to a packed query that newExchange or answerFor
// refused with resultQueryMalformed (afwd_query_formerr), and returns it
// (aliasing buf). An *Error when the core has no reply for it.
func formatError(query, buf []byte) ([]byte, error) {
	var n C.size_t
	r := C.afwd_query_formerr(bytesPtr(query), C.size_t(len(query)), bytesPtr(buf), C.size_t(len(buf)), &n)
	if Result(r) == resultBufferTooShort {
		buf = make([]byte, int(n))
		r = C.afwd_query_formerr(bytesPtr(query), C.size_t(len(query)), bytesPtr(buf), C.size_t(len(buf)), &n)
	}
	if err := resultErr("afwd_query_formerr", r); err != nil {
		return nil, err
	}
	return buf[:int(n)], nil
}

// failed reports at now that the last SEND (or INTERNAL) got no usable reply.
func (x *exchange) failed(now uint64) error {
	return resultErr("afwd_exchange_failed", C.afwd_exchange_failed(x.ptr, C.uint64_t(now)))
}

package acmeforward

// This file and builder.go, exchange.go and coreprefetch.go are the cgo
// binding to the Rust core (ffi/include/acmeforward.h, the static library of
// crate acmeforward-ffi); no other file imports "C". Header and library come
// from pkg-config's acmeforward.pc:
// `make ffi` writes one for the source tree to build/pkgconfig (the
// Makefile puts it on PKG_CONFIG_PATH), `make install` one for PREFIX
// (docs/BUILDING.md). --static adds the Rust standard library's system
// libraries (Libs.private).
//
// Ownership rules, mirroring the C ABI:
//
//   - configBuilder and exchange each own exactly one C handle and free it in
//     Close, which is idempotent; the owner (setup for the builder, ServeDNS
//     for an exchange) closes explicitly. The afwd_config between builder and
//     engine lives only inside Build (the engine copies it).
//   - Engine owns an afwd_engine, which its exchanges co-own in the core.
//     Close (the plugin's OnShutdown) only marks it closed: the handle is
//     freed by a runtime cleanup once no goroutine can reach the Engine, so a
//     call racing with Close never touches freed memory, and no lock sits on
//     the hot path.
//   - Every slice handed to C is Go memory without Go pointers, borrowed for
//     the duration of the call only; the Rust side copies what it keeps.
//   - Output goes to caller-owned Go buffers. A short buffer reports the
//     needed length; the helpers below grow the buffer once and retry.
//   - Time goes in as nowMs(): milliseconds since process start on Go's
//     monotonic clock, the one clock of every engine in the process.

/*
#cgo pkg-config: --static acmeforward
#cgo noescape afwd_engine_classify
#cgo nocallback afwd_engine_classify
#cgo noescape afwd_exchange_new
#cgo nocallback afwd_exchange_new
#cgo noescape afwd_exchange_reply
#cgo nocallback afwd_exchange_reply
#cgo noescape afwd_engine_pass_filter
#cgo nocallback afwd_engine_pass_filter
#cgo nocallback afwd_engine_pass_filter_generation
#include "acmeforward.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Result is an afwd_result code returned by the Rust core.
type Result uint32

// The result codes the shim acts on. Every other code is an error whose
// meaning is given by its text (afwd_result_text).
const (
	resultOK               Result = C.AFWD_OK
	resultTruncated        Result = C.AFWD_TRUNCATED
	resultNullArgument     Result = C.AFWD_ERR_NULL_ARGUMENT
	resultBufferTooShort   Result = C.AFWD_ERR_BUFFER_TOO_SHORT
	resultExchangeDone     Result = C.AFWD_ERR_EXCHANGE_DONE
	resultNoUpstream       Result = C.AFWD_ERR_NO_UPSTREAM
	resultUpstreamFailure  Result = C.AFWD_ERR_REPLY_UPSTREAM_FAILURE
	resultNotAuthoritative Result = C.AFWD_ERR_REPLY_NOT_AUTHORITATIVE
	resultMalformed        Result = C.AFWD_ERR_REPLY_MALFORMED
	resultForeignRecord    Result = C.AFWD_ERR_REPLY_FOREIGN_RECORD
	resultNxdomainWithData Result = C.AFWD_ERR_REPLY_NXDOMAIN_WITH_DATA
	resultNotAResponse     Result = C.AFWD_ERR_REPLY_NOT_A_RESPONSE
	resultIDMismatch       Result = C.AFWD_ERR_REPLY_ID_MISMATCH
	resultOpcodeMismatch   Result = C.AFWD_ERR_REPLY_OPCODE_MISMATCH
	resultQuestionMismatch Result = C.AFWD_ERR_REPLY_QUESTION_MISMATCH
	resultReplyLate        Result = C.AFWD_ERR_REPLY_LATE
	resultOtherQuestion    Result = C.AFWD_ERR_QUERY_OTHER_QUESTION
	resultQueryMalformed   Result = C.AFWD_ERR_QUERY_MALFORMED
)

// noPassFilter is the filter generation classify passes when it has no copy
// of the pass filter: the core applies its own.
const noPassFilter = C.AFWD_NO_PASS_FILTER

// UpstreamMode is afwd_upstream_mode: where challenge and delegation
// questions are sent.
type UpstreamMode uint32

// Upstream modes, as afwd_upstream_mode.
const (
	UpstreamRecursive     UpstreamMode = C.AFWD_UPSTREAM_RECURSIVE
	UpstreamAuthoritative UpstreamMode = C.AFWD_UPSTREAM_AUTHORITATIVE
)

// processStart is the origin of nowMs.
var processStart = time.Now()

// nowMs is the engines' clock: milliseconds since process start, from Go's
// monotonic clock (time.Since uses the monotonic reading), so a wall-clock
// step never expires or revives learned entries.
func nowMs() uint64 {
	return uint64(time.Since(processStart).Milliseconds())
}

// String returns the core's static English text for r.
func (r Result) String() string {
	return C.GoString(C.afwd_result_text(C.afwd_result(r)))
}

// Error is a non-OK afwd_result from a call into the Rust core.
type Error struct {
	Op   string // the C entry point or the Go operation that failed
	Code Result
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s (afwd_result %d)", e.Op, e.Code.String(), uint32(e.Code))
}

// resultErr takes the result as any uint32 type: cgo gives the C functions'
// "enum afwd_result" return type and the "afwd_result" typedef different Go
// types.
func resultErr[T ~uint32](op string, r T) error {
	if Result(r) == resultOK {
		return nil
	}
	return &Error{Op: op, Code: Result(r)}
}

// Verdict is the classifier's decision for one question.
type Verdict uint8

// Verdicts, as afwd_verdict.
const (
	VerdictPass    Verdict = C.AFWD_VERDICT_PASS
	VerdictForward Verdict = C.AFWD_VERDICT_FORWARD
	VerdictError   Verdict = C.AFWD_VERDICT_ERROR
	// VerdictHairpin: an A/AAAA question for a hairpin name. It runs the
	// same exchange loop as VerdictForward.
	VerdictHairpin Verdict = C.AFWD_VERDICT_HAIRPIN
)

// bytesPtr and stringPtr lend Go bytes to C without copying. An empty input
// may give NULL, which the C ABI reads as an empty value (NULL with length 0).
func bytesPtr(b []byte) *C.uint8_t {
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b)))
}

func stringPtr(s string) *C.uint8_t {
	return (*C.uint8_t)(unsafe.Pointer(unsafe.StringData(s)))
}

// Engine wraps an afwd_engine: the configuration plus the state learned from
// forwarded replies, shared by every query of one server instance. Its
// methods are safe for concurrent use. Close marks it closed: afterwards
// classify answers VerdictError, LearnedLen 0, and newExchange fails; the
// exchanges already made go on with the engine they co-own. The C handle is
// freed once the Engine is unreachable (see the ownership rules above).
type Engine struct {
	ptr    *C.afwd_engine // set by Build, never changed
	closed atomic.Bool
	// mayHaveLearned is set once a reply was accepted (the only way the
	// learned state grows); until then classify does not read the clock.
	mayHaveLearned atomic.Bool
	// filter is the core's pass filter as of the last time the state may
	// have grown (refreshFilter); nil until the engine is built.
	filter   atomic.Pointer[passFilter]
	filterMu sync.Mutex // serialises refreshFilter
}

// errClosed is what calls on a closed engine give.
func errClosed(op string) error { return &Error{Op: op, Code: resultNullArgument} }

// Close marks the engine closed. Safe to call more than once.
func (e *Engine) Close() {
	e.closed.Store(true)
}

// classification is the core's verdict with its rule, for newExchange.
type classification = C.afwd_classification

// hairpinAddrs is the answer the core made ready with a hairpin verdict
// (afwd_classification.hairpin_ready): the addresses, 16 bytes each
// (IPv4-mapped for IPv4), and their TTL.
type hairpinAddrs struct {
	ttl   uint32
	n     int
	addrs [C.AFWD_HAIRPIN_MAX_ADDRS][16]byte
}

// ednsUDPPayload is the UDP payload of the OPT record in the core's replies.
const ednsUDPPayload = C.AFWD_EDNS_UDP_PAYLOAD

// readyHairpin is c's ready hairpin answer, if it has one.
func readyHairpin(c *classification) (h hairpinAddrs, ok bool) {
	if !bool(c.hairpin_ready) {
		return h, false
	}
	h.ttl, h.n = uint32(c.ttl), int(c.addr_count)
	for i := range h.n {
		h.addrs[i] = *(*[16]byte)(unsafe.Pointer(&c.addrs[i]))
	}
	return h, true
}

// rulesOut reports whether the shim's copy of the pass filter rules the
// question out (VerdictPass for sure, no C call): the hot path of ServeDNS.
func (e *Engine) rulesOut(name string, qtype, qclass uint16) bool {
	f := e.filter.Load()
	return f != nil && f.passes(name, qtype, qclass)
}

// classify is the hot path: no allocation, no copy, and a C call only for a
// question the shim's copy of the pass filter does not rule out. It gives the
// verdict with the classification that starts the question's exchange. name
// is the question name as miekg/dns gives it (presentation format); its bytes
// are lent to the core for the duration of the call only.
func (e *Engine) classify(name string, qtype, qclass uint16) (Verdict, classification) {
	f := e.filter.Load()
	if f == nil {
		return e.classifyCore(name, qtype, qclass, noPassFilter)
	}
	if f.passes(name, qtype, qclass) {
		return VerdictPass, classification{}
	}
	// The core need not apply the filter again if this copy is current.
	return e.classifyCore(name, qtype, qclass, f.generation)
}

// classifyCore is one C call: the core's verdict, past the pass filter of
// generation filterGeneration (noPassFilter: the core applies it).
//
// The clock is read only once the engine may have learned something: until
// then the core has no expiry to compare with and the 0 it gets instead is
// never used, so a cluster without ACME traffic does not pay for reading the
// clock on every query. (A classify racing with the very first learning
// reply may see its fresh entries with now 0; they are unexpired either way.)
func (e *Engine) classifyCore(name string, qtype, qclass uint16, filterGeneration uint64) (Verdict, classification) {
	var c classification
	if e.closed.Load() {
		return VerdictError, c
	}
	var now uint64
	if e.mayHaveLearned.Load() {
		now = nowMs()
	}
	v := C.afwd_engine_classify(e.ptr, stringPtr(name), C.size_t(len(name)),
		C.uint16_t(qtype), C.uint16_t(qclass), C.uint64_t(now), C.uint64_t(filterGeneration), &c)
	runtime.KeepAlive(e)
	return Verdict(v), c
}

// refreshFilter takes a fresh copy of the core's pass filter unless the copy
// is of generation (the core's current one, as the caller just learned it).
// The state only grows in the calls after which this runs (Build, exchange
// replies, prefetch polls), so the copy never rules out what the core would
// take.
func (e *Engine) refreshFilter() {
	if e.closed.Load() {
		return // classify answers VerdictError past the filter's passes anyway
	}
	e.refreshFilterTo(uint64(C.afwd_engine_pass_filter_generation(e.ptr)))
	runtime.KeepAlive(e)
}

// refreshFilterTo is refreshFilter when the core's current generation is
// known: nothing is copied or allocated while the copy is of that
// generation (most replies teach nothing new).
func (e *Engine) refreshFilterTo(generation uint64) {
	if cur := e.filter.Load(); cur != nil && cur.generation == generation {
		return
	}
	// One refresh at a time, so that an older copy never replaces a newer one.
	e.filterMu.Lock()
	defer e.filterMu.Unlock()
	generation = uint64(C.afwd_engine_pass_filter_generation(e.ptr))
	if cur := e.filter.Load(); cur != nil && cur.generation == generation {
		return
	}
	var f C.afwd_pass_filter
	r := C.afwd_engine_pass_filter(e.ptr, &f)
	runtime.KeepAlive(e)
	if Result(r) != resultOK {
		return
	}
	pf := &passFilter{generation: generation}
	for i := range pf.types {
		pf.types[i] = uint64(f.types[i])
	}
	for i := range pf.labels {
		pf.labels[i] = uint64(f.labels[i])
		pf.hairpinLabels[i] = uint64(f.hairpin_labels[i])
		pf.pairs[i] = uint64(f.pairs[i])
	}
	e.filter.Store(pf)
}

// refusalReasons are the core's labels of afwd_refusal, in code order.
var refusalReasons = func() []string {
	out := make([]string, C.AFWD_REFUSAL_COUNT)
	for i := range out {
		out[i] = C.GoString(C.afwd_refusal_label(C.size_t(i)))
	}
	return out
}()

// Refused is how many facts from upstream replies the core refused so far,
// by afwd_refusal code (index of refusalReasons); nil once closed.
func (e *Engine) Refused() []uint64 {
	if e.closed.Load() {
		return nil
	}
	out := make([]uint64, len(refusalReasons))
	for i := range out {
		out[i] = uint64(C.afwd_engine_refused(e.ptr, C.size_t(i)))
	}
	runtime.KeepAlive(e)
	return out
}

// Rule is the forwarding rule that took a question, as its classification
// carries it (afwd_classification.rule, one of the AFWD_RULE_* numbers).
type Rule uint8

// Rules, as the AFWD_RULE_* numbers.
const (
	RuleNone        Rule = C.AFWD_RULE_NONE
	RuleChallenge   Rule = C.AFWD_RULE_CHALLENGE
	RuleDiscovery   Rule = C.AFWD_RULE_DISCOVERY
	RuleNSHost      Rule = C.AFWD_RULE_NS_HOST
	RuleDelegated   Rule = C.AFWD_RULE_DELEGATED
	RuleCNAMETarget Rule = C.AFWD_RULE_CNAME_TARGET
	RuleAncestor    Rule = C.AFWD_RULE_ANCESTOR
)

// LearnedLen is the number of entries in the learned state (0 once closed).
func (e *Engine) LearnedLen() int {
	if e.closed.Load() {
		return 0
	}
	n := int(C.afwd_engine_learned_len(e.ptr))
	runtime.KeepAlive(e)
	return n
}

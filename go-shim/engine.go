package acmeforward

// This file is the cgo binding to the Rust core (ffi/include/acmeforward.h,
// the static library of crate acmeforward-ffi). It is the only file that
// imports "C". Header and library come from pkg-config's acmeforward.pc:
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
	"net/netip"
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

// configBuilder wraps afwd_config_builder. It is used by setup only and is
// not safe for concurrent use.
type configBuilder struct {
	ptr *C.afwd_config_builder
}

func newConfigBuilder() *configBuilder {
	return &configBuilder{ptr: C.afwd_config_builder_new()}
}

// Close frees the builder. Safe to call more than once.
func (b *configBuilder) Close() {
	C.afwd_config_builder_free(b.ptr)
	b.ptr = nil
}

// AddZone adds a zone in presentation format; the core validates and
// normalises it.
func (b *configBuilder) AddZone(zone string) error {
	return resultErr("afwd_config_builder_add_zone",
		C.afwd_config_builder_add_zone(b.ptr, stringPtr(zone), C.size_t(len(zone))))
}

// AddUpstream adds an upstream "IP", "IP:PORT" or "[IPv6]:PORT".
func (b *configBuilder) AddUpstream(addr string) error {
	return resultErr("afwd_config_builder_add_upstream",
		C.afwd_config_builder_add_upstream(b.ptr, stringPtr(addr), C.size_t(len(addr))))
}

// AddUpstreamTLS adds an upstream reached over DNS over TLS, in the same
// forms: the core then sends it every query as TCP, which the shim wraps in
// TLS.
func (b *configBuilder) AddUpstreamTLS(addr string) error {
	return resultErr("afwd_config_builder_add_upstream_tls",
		C.afwd_config_builder_add_upstream_tls(b.ptr, stringPtr(addr), C.size_t(len(addr))))
}

// SetTimeout sets the per-try upstream timeout, passed to the core in whole
// milliseconds (the core decides whether it is in range; a negative duration
// wraps to a huge value and is rejected there).
func (b *configBuilder) SetTimeout(d time.Duration) error {
	return resultErr("afwd_config_builder_set_timeout_ms",
		C.afwd_config_builder_set_timeout_ms(b.ptr, C.uint64_t(d.Milliseconds())))
}

// SetMaxTime sets the overall limit of one exchange, in whole milliseconds.
func (b *configBuilder) SetMaxTime(d time.Duration) error {
	return resultErr("afwd_config_builder_set_max_time_ms",
		C.afwd_config_builder_set_max_time_ms(b.ptr, C.uint64_t(d.Milliseconds())))
}

// SetMaxConcurrent sets the bound on exchanges in flight (the core checks the
// range; the shim enforces it).
func (b *configBuilder) SetMaxConcurrent(n uint64) error {
	return resultErr("afwd_config_builder_set_max_concurrent",
		C.afwd_config_builder_set_max_concurrent(b.ptr, C.size_t(n)))
}

// SetMaxTTL sets the TTL cap in seconds.
func (b *configBuilder) SetMaxTTL(secs uint32) error {
	return resultErr("afwd_config_builder_set_max_ttl",
		C.afwd_config_builder_set_max_ttl(b.ptr, C.uint32_t(secs)))
}

// SetDiscovery turns the discovery rules on or off.
func (b *configBuilder) SetDiscovery(on bool) error {
	return resultErr("afwd_config_builder_set_discovery",
		C.afwd_config_builder_set_discovery(b.ptr, C.bool(on)))
}

// AddDelegated adds a delegated zone in presentation format.
func (b *configBuilder) AddDelegated(zone string) error {
	return resultErr("afwd_config_builder_add_delegated",
		C.afwd_config_builder_add_delegated(b.ptr, stringPtr(zone), C.size_t(len(zone))))
}

// AddProtected adds a protected zone (to the core's defaults: cluster.local,
// in-addr.arpa, ip6.arpa, localhost).
func (b *configBuilder) AddProtected(zone string) error {
	return resultErr("afwd_config_builder_add_protected",
		C.afwd_config_builder_add_protected(b.ptr, stringPtr(zone), C.size_t(len(zone))))
}

// AddAllowNS allows a network ("IP/PREFIX" or "IP") for nameserver addresses
// learned from DNS in authoritative mode.
func (b *configBuilder) AddAllowNS(net string) error {
	return resultErr("afwd_config_builder_add_allow_ns",
		C.afwd_config_builder_add_allow_ns(b.ptr, stringPtr(net), C.size_t(len(net))))
}

// AddHairpin adds a hairpin line, "NAME... TARGET..." (the Corefile
// arguments joined with spaces); the core parses and validates it.
func (b *configBuilder) AddHairpin(line string) error {
	return resultErr("afwd_config_builder_add_hairpin",
		C.afwd_config_builder_add_hairpin(b.ptr, stringPtr(line), C.size_t(len(line))))
}

// AddLabel adds a challenge label: the first call replaces the default set
// (_acme-challenge and _validation-persist).
func (b *configBuilder) AddLabel(label string) error {
	return resultErr("afwd_config_builder_add_label",
		C.afwd_config_builder_add_label(b.ptr, stringPtr(label), C.size_t(len(label))))
}

// AddPublicHost names a nameserver host whose A and AAAA may get the public
// answer although the internal view knows it (the Corefile's public_hosts).
func (b *configBuilder) AddPublicHost(host string) error {
	return resultErr("afwd_config_builder_add_public_host",
		C.afwd_config_builder_add_public_host(b.ptr, stringPtr(host), C.size_t(len(host))))
}

// SetUpstreamMode sets the upstream mode.
func (b *configBuilder) SetUpstreamMode(m UpstreamMode) error {
	return resultErr("afwd_config_builder_set_upstream_mode",
		C.afwd_config_builder_set_upstream_mode(b.ptr, C.afwd_upstream_mode(m)))
}

// SetMaxLearned sets the bound of the learned state, in entries (the core
// checks the range; a value beyond size_t cannot occur on 64-bit targets).
func (b *configBuilder) SetMaxLearned(n uint64) error {
	return resultErr("afwd_config_builder_set_max_learned",
		C.afwd_config_builder_set_max_learned(b.ptr, C.size_t(n)))
}

// Build validates the builder's content into a new Engine owned by the
// caller. The builder stays usable and must still be closed.
func (b *configBuilder) Build() (*Engine, error) {
	var config *C.afwd_config
	if err := resultErr("afwd_config_new", C.afwd_config_new(b.ptr, &config)); err != nil {
		return nil, err
	}
	defer C.afwd_config_free(config)
	var ptr *C.afwd_engine
	if err := resultErr("afwd_engine_new", C.afwd_engine_new(config, &ptr)); err != nil {
		return nil, err
	}
	e := &Engine{ptr: ptr}
	runtime.AddCleanup(e, func(p *C.afwd_engine) { C.afwd_engine_free(p) }, ptr)
	e.refreshFilter()
	return e, nil
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

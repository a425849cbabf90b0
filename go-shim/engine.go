package acmeforward

// This file is the cgo binding to the Rust core (ffi/include/acmeforward.h,
// target/release/libacmeforward_ffi.a). It is the only file that imports "C".
//
// Ownership rules, mirroring the C ABI:
//
//   - configBuilder, Config and exchange each own exactly one C handle and
//     free it in Close. Close is idempotent. There are no finalizers: the
//     owner (setup for the builder, the plugin's OnShutdown for Config,
//     ServeDNS for an exchange) closes explicitly.
//   - Every slice handed to C is Go memory without Go pointers, borrowed for
//     the duration of the call only; the Rust side copies what it keeps.
//   - Output goes to caller-owned Go buffers. A short buffer reports the
//     needed length; the helpers below grow the buffer once and retry.

/*
#cgo CFLAGS: -I${SRCDIR}/../ffi/include
#cgo LDFLAGS: ${SRCDIR}/../target/release/libacmeforward_ffi.a -lm -ldl -lpthread
#cgo noescape afwd_config_classify
#cgo nocallback afwd_config_classify
#include "acmeforward.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"time"
	"unsafe"
)

// Result is an afwd_result code returned by the Rust core.
type Result uint32

// The result codes the shim acts on. Every other code is an error whose
// meaning is given by its text (afwd_result_text).
const (
	resultOK              Result = C.AFWD_OK
	resultTruncated       Result = C.AFWD_TRUNCATED
	resultBufferTooShort  Result = C.AFWD_ERR_BUFFER_TOO_SHORT
	resultNoUpstream      Result = C.AFWD_ERR_NO_UPSTREAM
	resultUpstreamFailure Result = C.AFWD_ERR_REPLY_UPSTREAM_FAILURE
)

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

// SetTimeout sets the per-try upstream timeout, passed to the core in whole
// milliseconds (the core decides whether it is in range; a negative duration
// wraps to a huge value and is rejected there).
func (b *configBuilder) SetTimeout(d time.Duration) error {
	return resultErr("afwd_config_builder_set_timeout_ms",
		C.afwd_config_builder_set_timeout_ms(b.ptr, C.uint64_t(d.Milliseconds())))
}

// SetMaxTTL sets the TTL cap in seconds.
func (b *configBuilder) SetMaxTTL(secs uint32) error {
	return resultErr("afwd_config_builder_set_max_ttl",
		C.afwd_config_builder_set_max_ttl(b.ptr, C.uint32_t(secs)))
}

// Build validates the builder's content into a new Config owned by the
// caller. The builder stays usable and must still be closed.
func (b *configBuilder) Build() (*Config, error) {
	var ptr *C.afwd_config
	if err := resultErr("afwd_config_new", C.afwd_config_new(b.ptr, &ptr)); err != nil {
		return nil, err
	}
	c := &Config{ptr: ptr}
	ups, err := c.readUpstreams()
	if err != nil {
		c.Close()
		return nil, err
	}
	c.upstreams = ups
	return c, nil
}

// Config wraps a validated afwd_config. Classify and newExchange are safe for
// concurrent use. Close frees the C handle; it waits for calls in flight, and
// afterwards Classify answers VerdictError and newExchange fails, so a query
// still running on a server being reloaded never touches freed memory.
type Config struct {
	mu        sync.RWMutex // guards ptr against Close; read-locked around each C call
	ptr       *C.afwd_config
	upstreams []string // normalised "IP:PORT" / "[IPv6]:PORT", in configuration order
}

// Close frees the afwd_config. Safe to call more than once.
func (c *Config) Close() {
	c.mu.Lock()
	C.afwd_config_free(c.ptr)
	c.ptr = nil
	c.mu.Unlock()
}

// Upstreams returns the normalised upstream addresses in configuration order.
// The slice must not be modified.
func (c *Config) Upstreams() []string { return c.upstreams }

func (c *Config) readUpstreams() ([]string, error) {
	var ups []string
	buf := make([]byte, 64)
	for i := 0; ; i++ {
		var n C.size_t
		r := C.afwd_config_upstream(c.ptr, C.size_t(i), bytesPtr(buf), C.size_t(len(buf)), &n)
		if Result(r) == resultBufferTooShort {
			buf = make([]byte, int(n))
			r = C.afwd_config_upstream(c.ptr, C.size_t(i), bytesPtr(buf), C.size_t(len(buf)), &n)
		}
		if r == C.AFWD_ERR_INDEX_OUT_OF_RANGE {
			return ups, nil
		}
		if err := resultErr("afwd_config_upstream", r); err != nil {
			return nil, err
		}
		ups = append(ups, string(buf[:int(n)]))
	}
}

// Classify is the hot path: one C call, no allocation, no copy. name is the
// question name as miekg/dns gives it (presentation format); its bytes are
// lent to the core for the duration of the call only.
func (c *Config) Classify(name string, qtype, qclass uint16) Verdict {
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		return VerdictError
	}
	v := C.afwd_config_classify(c.ptr, stringPtr(name), C.size_t(len(name)),
		C.uint16_t(qtype), C.uint16_t(qclass))
	c.mu.RUnlock()
	return Verdict(v)
}

// exchange wraps one afwd_exchange: the state of one forwarded query. It is
// owned by a single ServeDNS call, which must Close it.
type exchange struct {
	ptr *C.afwd_exchange
}

// newExchange parses the client's packed query and prepares the upstream
// query. random seeds the upstream ID and 0x20 letter case.
func (c *Config) newExchange(query []byte, random uint64) (*exchange, error) {
	var ptr *C.afwd_exchange
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		return nil, &Error{Op: "afwd_exchange_new", Code: Result(C.AFWD_ERR_NULL_ARGUMENT)}
	}
	r := C.afwd_exchange_new(c.ptr, bytesPtr(query), C.size_t(len(query)), C.uint64_t(random), &ptr)
	c.mu.RUnlock()
	if err := resultErr("afwd_exchange_new", r); err != nil {
		return nil, err
	}
	return &exchange{ptr: ptr}, nil
}

// Close frees the exchange. Safe to call more than once.
func (e *exchange) Close() {
	C.afwd_exchange_free(e.ptr)
	e.ptr = nil
}

// upstreamQuery writes the upstream query into buf (grown once if the core
// reports it too short) and returns the written bytes, which alias the
// returned buffer.
func (e *exchange) upstreamQuery(buf []byte) ([]byte, error) {
	var n C.size_t
	r := C.afwd_exchange_upstream_query(e.ptr, bytesPtr(buf), C.size_t(len(buf)), &n)
	if Result(r) == resultBufferTooShort {
		buf = make([]byte, int(n))
		r = C.afwd_exchange_upstream_query(e.ptr, bytesPtr(buf), C.size_t(len(buf)), &n)
	}
	if err := resultErr("afwd_exchange_upstream_query", r); err != nil {
		return nil, err
	}
	return buf[:int(n)], nil
}

// finish validates an upstream reply and rewrites it for the client into
// buf (grown once on AFWD_ERR_BUFFER_TOO_SHORT). On AFWD_OK it returns the
// bytes to write to the client. Any other result, including AFWD_TRUNCATED,
// comes back as an *Error and no output.
func (e *exchange) finish(reply []byte, clientTCP bool, buf []byte) ([]byte, error) {
	var n C.size_t
	r := C.afwd_exchange_finish(e.ptr, bytesPtr(reply), C.size_t(len(reply)), C.bool(clientTCP),
		bytesPtr(buf), C.size_t(len(buf)), &n)
	if Result(r) == resultBufferTooShort {
		buf = make([]byte, int(n))
		r = C.afwd_exchange_finish(e.ptr, bytesPtr(reply), C.size_t(len(reply)), C.bool(clientTCP),
			bytesPtr(buf), C.size_t(len(buf)), &n)
	}
	if err := resultErr("afwd_exchange_finish", r); err != nil {
		return nil, err
	}
	return buf[:int(n)], nil
}

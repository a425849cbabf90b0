package acmeforward

// The configuration builder of the cgo binding (engine.go has its ownership
// rules): setup turns each Corefile option into one call, and the core checks
// every value.

/*
#include "acmeforward.h"
*/
import "C"

import (
	"runtime"
	"time"
)

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

//! `afwd_config_builder` and `afwd_config`.

use std::time::Duration;

use std::ffi::c_uint;

use acmeforward::{Config, ConfigBuilder, UpstreamMode};

use crate::boundary::ffi_boundary;
use crate::result::afwd_result;
use crate::slice::{self, OutBuf};

/// A configuration being built: zones, upstreams, timeout, max_ttl, discovery, delegated zones,
/// upstream mode, max_learned, hairpin lines.
///
/// Create it with `afwd_config_builder_new`, set it up with the `afwd_config_builder_*`
/// functions, turn it into an `afwd_config` with `afwd_config_new` (as often as wanted), and free
/// it with `afwd_config_builder_free`. Not safe for concurrent use: one thread at a time.
pub struct afwd_config_builder {
    inner: ConfigBuilder,
}

/// A validated, immutable configuration.
///
/// Made by `afwd_config_new`, freed by `afwd_config_free`. `afwd_engine_new` makes an engine
/// (what classifies and forwards) from a copy of it. Safe to share across threads: every
/// function taking a `const afwd_config *` may run concurrently on the same config, as long as
/// none runs during or after `afwd_config_free`.
pub struct afwd_config {
    inner: Config,
}

impl afwd_config {
    /// The core configuration.
    pub(crate) fn core(&self) -> &Config {
        &self.inner
    }
}

// afwd_config is shared across threads; the builder only moves between them (goroutines change
// threads between cgo calls).
const _: () = {
    const fn shared<T: Send + Sync>() {}
    const fn moved<T: Send>() {}
    shared::<Config>();
    moved::<ConfigBuilder>();
};

/// Turns a core builder result into a code.
pub(crate) fn status<T>(r: Result<T, acmeforward::ConfigError>) -> afwd_result {
    match r {
        Ok(_) => afwd_result::AFWD_OK,
        Err(e) => e.into(),
    }
}

/// Applies `f` to the builder behind `b` and to the UTF-8 text `ptr[..len]`.
///
/// # Safety
///
/// As for `afwd_config_builder_add_zone`.
pub(crate) unsafe fn with_text(
    b: *mut afwd_config_builder,
    ptr: *const u8,
    len: usize,
    f: impl FnOnce(&mut ConfigBuilder, &str) -> afwd_result,
) -> afwd_result {
    // SAFETY: the caller passes NULL or a live builder that no other thread uses now.
    let Some(builder) = (unsafe { b.as_mut() }) else {
        return afwd_result::AFWD_ERR_NULL_ARGUMENT;
    };
    // SAFETY: the caller passes NULL or `len` readable bytes, alive for this call.
    let Some(bytes) = (unsafe { slice::input(ptr, len) }) else {
        return afwd_result::AFWD_ERR_NULL_ARGUMENT;
    };
    match std::str::from_utf8(bytes) {
        Ok(text) => f(&mut builder.inner, text),
        Err(_) => afwd_result::AFWD_ERR_INVALID_UTF8,
    }
}

/// A new configuration builder: no zone (the root zone: every challenge name is in scope), no
/// upstream, timeout 2 s, max_ttl 30, discovery on, no delegated zone, recursive upstream mode,
/// max_learned 4096.
///
/// The caller owns the result and frees it with `afwd_config_builder_free`. Returns NULL only
/// if a panic was caught.
#[unsafe(no_mangle)]
pub extern "C" fn afwd_config_builder_new() -> *mut afwd_config_builder {
    ffi_boundary!({
        Box::into_raw(Box::new(afwd_config_builder {
            inner: ConfigBuilder::new(),
        }))
    })
}

/// Frees a builder made by `afwd_config_builder_new`. NULL is a no-op.
///
/// Configs made from the builder are independent of it and stay valid.
///
/// # Safety
///
/// `builder` is NULL or a builder from `afwd_config_builder_new` that was not freed yet and that
/// no other thread is using; it must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_free(builder: *mut afwd_config_builder) {
    ffi_boundary!({
        if !builder.is_null() {
            // SAFETY: non-null, and the caller passes ownership of a pointer that came from
            // Box::into_raw in afwd_config_builder_new and was not freed yet.
            drop(unsafe { Box::from_raw(builder) });
        }
    })
}

/// Adds a zone in presentation format (`example.com`, `example.com.`, `.` for the root;
/// `\.` and `\DDD` escapes), as in the Corefile's `acmeforward [ZONE...]`. Adding a zone twice
/// is harmless.
///
/// `zone` is `zone_len` bytes of UTF-8, not NUL-terminated; it is copied, not kept.
///
/// Returns `AFWD_OK`; `AFWD_ERR_NULL_ARGUMENT` for a NULL `b` (or NULL `zone` with a non-zero
/// length: NULL with length 0 is the empty name); `AFWD_ERR_INVALID_UTF8`;
/// `AFWD_ERR_NAME_EMPTY`, `AFWD_ERR_NAME_EMPTY_LABEL`, `AFWD_ERR_NAME_LABEL_TOO_LONG`,
/// `AFWD_ERR_NAME_TOO_LONG`, `AFWD_ERR_NAME_BAD_ESCAPE`; `AFWD_ERR_ZONE_PROTECTED` for a zone
/// inside a protected zone. On an error the builder is unchanged.
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call. `zone` is NULL
/// or points to `zone_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_add_zone(
    b: *mut afwd_config_builder,
    zone: *const u8,
    zone_len: usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: forwarded from this function's own contract.
        unsafe { with_text(b, zone, zone_len, |b, zone| status(b.zone(zone))) }
    })
}

/// Adds an upstream nameserver: `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT` (port 53 when left
/// out), as in the Corefile's `to ADDRESS...`. Upstreams are tried in the order they were added;
/// adding one twice is harmless.
///
/// `addr` is `addr_len` bytes of UTF-8, not NUL-terminated; it is copied, not kept.
///
/// Returns `AFWD_OK`; `AFWD_ERR_NULL_ARGUMENT` for a NULL `b` (or NULL `addr` with a non-zero
/// length); `AFWD_ERR_INVALID_UTF8`; `AFWD_ERR_ADDRESS_INVALID`; `AFWD_ERR_PORT_INVALID`. On an
/// error the builder is unchanged.
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call. `addr` is NULL
/// or points to `addr_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_add_upstream(
    b: *mut afwd_config_builder,
    addr: *const u8,
    addr_len: usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: forwarded from this function's own contract.
        unsafe { with_text(b, addr, addr_len, |b, addr| status(b.upstream(addr))) }
    })
}

/// Adds an upstream nameserver that the caller reaches over DNS over TLS (same address forms as
/// `afwd_config_builder_add_upstream`; give the port, 853 by convention, or it is 53), as in the
/// Corefile's `to tls://ADDRESS`. TLS is a stream: every SEND to it says `tcp`, whatever the
/// client's transport, and its replies are checked as TCP replies; the caller wraps those TCP
/// sends (2-byte length prefix) in TLS. One address is one server: an address added both with
/// this and with `afwd_config_builder_add_upstream` is a TLS upstream, in the place where it
/// was first added.
///
/// `addr` is `addr_len` bytes of UTF-8, not NUL-terminated; it is copied, not kept.
///
/// Returns as `afwd_config_builder_add_upstream`. On an error the builder is unchanged.
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call. `addr` is NULL
/// or points to `addr_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_add_upstream_tls(
    b: *mut afwd_config_builder,
    addr: *const u8,
    addr_len: usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: forwarded from this function's own contract.
        unsafe { with_text(b, addr, addr_len, |b, addr| status(b.upstream_tls(addr))) }
    })
}

/// Sets the timeout of one upstream try, in milliseconds: 1 ..= 60000 (default 2000).
///
/// Returns `AFWD_OK`, `AFWD_ERR_NULL_ARGUMENT` or `AFWD_ERR_TIMEOUT_OUT_OF_RANGE` (the builder
/// is then unchanged).
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_set_timeout_ms(
    b: *mut afwd_config_builder,
    timeout_ms: u64,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live builder that no other thread uses now.
        let Some(builder) = (unsafe { b.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        status(builder.inner.timeout(Duration::from_millis(timeout_ms)))
    })
}

/// Sets the overall limit of one exchange, in milliseconds: 10 ..= 300000 (default 4000).
/// Every try ends at the earlier of its timeout and this limit; when it runs out the exchange
/// fails (`AFWD_ERR_TIME_LIMIT`).
///
/// Returns `AFWD_OK`, `AFWD_ERR_NULL_ARGUMENT` or `AFWD_ERR_MAX_TIME_OUT_OF_RANGE` (the builder
/// is then unchanged).
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_set_max_time_ms(
    b: *mut afwd_config_builder,
    max_time_ms: u64,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live builder that no other thread uses now.
        let Some(builder) = (unsafe { b.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        status(builder.inner.max_time(Duration::from_millis(max_time_ms)))
    })
}

/// Sets the bound on exchanges in flight: 1 ..= 1000000 (default 1000). The caller enforces it
/// (it owns the exchanges): past it, answer REFUSED at once.
///
/// Returns `AFWD_OK`, `AFWD_ERR_NULL_ARGUMENT` or `AFWD_ERR_MAX_CONCURRENT_OUT_OF_RANGE` (the
/// builder is then unchanged).
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_set_max_concurrent(
    b: *mut afwd_config_builder,
    max_concurrent: usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live builder that no other thread uses now.
        let Some(builder) = (unsafe { b.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        status(builder.inner.max_concurrent(max_concurrent))
    })
}

/// Sets the cap on the TTLs (and SOA MINIMUM) of forwarded answers, in seconds:
/// 0 ..= 604800 (default 30).
///
/// Returns `AFWD_OK`, `AFWD_ERR_NULL_ARGUMENT` or `AFWD_ERR_MAX_TTL_OUT_OF_RANGE` (the builder
/// is then unchanged).
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_set_max_ttl(
    b: *mut afwd_config_builder,
    max_ttl: u32,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live builder that no other thread uses now.
        let Some(builder) = (unsafe { b.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        status(builder.inner.max_ttl(max_ttl))
    })
}

/// Turns discovery on (the default) or off.
///
/// With discovery on, SOA and NS questions at or below the listed zones (none when no zone was
/// added) and above the delegated zones, SOA and NS questions walking up from forwarded challenge
/// names and learned CNAME targets, and A/AAAA questions for the nameserver host names seen in
/// forwarded NS records are forwarded too: what an ACME client's propagation check asks before
/// the challenge itself.
///
/// Returns `AFWD_OK` or `AFWD_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_set_discovery(
    b: *mut afwd_config_builder,
    on: bool,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live builder that no other thread uses now.
        let Some(builder) = (unsafe { b.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        builder.inner.discovery(on);
        afwd_result::AFWD_OK
    })
}

/// How forwarded challenge and delegation questions reach the answer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum afwd_upstream_mode {
    /// Ask the `to` resolvers, recursion desired (the default).
    AFWD_UPSTREAM_RECURSIVE = 0,
    /// Find the zone's nameservers through the `to` resolvers, then ask them directly on port
    /// 53, recursion not desired, and require an authoritative (AA) answer.
    AFWD_UPSTREAM_AUTHORITATIVE = 1,
}

/// An upstream mode as C passes it in: any `unsigned int` (a value that is no
/// `afwd_upstream_mode` must not become a Rust enum). The header spells it `afwd_upstream_mode`
/// (cbindgen.toml), same ABI.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UpstreamModeCode(pub c_uint);

impl From<afwd_upstream_mode> for UpstreamModeCode {
    fn from(m: afwd_upstream_mode) -> Self {
        UpstreamModeCode(m as c_uint)
    }
}

/// Sets the upstream mode: `AFWD_UPSTREAM_RECURSIVE` (the default) or
/// `AFWD_UPSTREAM_AUTHORITATIVE`, as in the Corefile's `upstream_mode recursive|authoritative`.
///
/// Returns `AFWD_OK`, `AFWD_ERR_NULL_ARGUMENT`, or `AFWD_ERR_UPSTREAM_MODE_INVALID` for a value
/// that is not an `afwd_upstream_mode` (the builder is then unchanged).
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_set_upstream_mode(
    b: *mut afwd_config_builder,
    mode: UpstreamModeCode,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live builder that no other thread uses now.
        let Some(builder) = (unsafe { b.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        let mode = match mode.0 {
            m if m == afwd_upstream_mode::AFWD_UPSTREAM_RECURSIVE as c_uint => {
                UpstreamMode::Recursive
            }
            m if m == afwd_upstream_mode::AFWD_UPSTREAM_AUTHORITATIVE as c_uint => {
                UpstreamMode::Authoritative
            }
            _ => return afwd_result::AFWD_ERR_UPSTREAM_MODE_INVALID,
        };
        builder.inner.upstream_mode(mode);
        afwd_result::AFWD_OK
    })
}

/// Sets the bound of the engine's learned state (nameserver host names, CNAME targets, zone
/// nameservers), in entries: 16 ..= 1048576 (default 4096). When full, expired entries go
/// first, then the ones expiring soonest.
///
/// Returns `AFWD_OK`, `AFWD_ERR_NULL_ARGUMENT` or `AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE` (the
/// builder is then unchanged).
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_set_max_learned(
    b: *mut afwd_config_builder,
    max_learned: usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live builder that no other thread uses now.
        let Some(builder) = (unsafe { b.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        status(builder.inner.max_learned(max_learned))
    })
}

/// Validates the builder's settings and makes a config from them.
///
/// The builder stays the caller's, unchanged: free it with `afwd_config_builder_free` whether
/// or not this succeeds. On `AFWD_OK`, `*config_out` is a new config the caller owns and frees
/// with `afwd_config_free`; on any error it is set to NULL (unless `config_out` itself is NULL).
///
/// Returns `AFWD_OK`, `AFWD_ERR_NULL_ARGUMENT` or `AFWD_ERR_NO_UPSTREAM`.
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is changing during the call.
/// `config_out` is NULL or points to writable storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_new(
    b: *const afwd_config_builder,
    config_out: *mut *mut afwd_config,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or storage for one pointer.
        let Some(config_out) = (unsafe { config_out.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        *config_out = std::ptr::null_mut();
        // SAFETY: the caller passes NULL or a live builder that no thread changes now.
        let Some(builder) = (unsafe { b.as_ref() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        match builder.inner.build() {
            Ok(inner) => {
                *config_out = Box::into_raw(Box::new(afwd_config { inner }));
                afwd_result::AFWD_OK
            }
            Err(e) => e.into(),
        }
    })
}

/// Frees a config made by `afwd_config_new`. NULL is a no-op.
///
/// Engines made from the config hold their own copy and stay valid.
///
/// # Safety
///
/// `config` is NULL or a config from `afwd_config_new` that was not freed yet. No other call
/// may be using it (on any thread) and it must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_free(config: *mut afwd_config) {
    ffi_boundary!({
        if !config.is_null() {
            // SAFETY: non-null, and the caller passes ownership of a pointer that came from
            // Box::into_raw in afwd_config_new and was not freed yet.
            drop(unsafe { Box::from_raw(config) });
        }
    })
}

/// Writes upstream number `index` (0-based, in the order added) in normalised form, `IP:PORT`
/// or `[IPv6]:PORT`, to `buf`. The text is ASCII and NOT NUL-terminated: `*out_n` is its length.
///
/// Returns `AFWD_OK` (`*out_n` bytes written); `AFWD_ERR_BUFFER_TOO_SHORT` (nothing written,
/// `*out_n` = the needed length; 64 bytes always suffice); `AFWD_ERR_INDEX_OUT_OF_RANGE` when
/// `index` is not below the number of upstreams (`*out_n` = 0); `AFWD_ERR_NULL_ARGUMENT` for a
/// NULL `c` or `out_n`, or a NULL `buf` with a non-zero `buf_len` (NULL with 0 asks for the
/// length).
///
/// Thread-safe on a shared config.
///
/// # Safety
///
/// `c` is NULL or a live config. `buf` is NULL or points to `buf_len` writable bytes. `out_n`
/// is NULL or points to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_upstream(
    c: *const afwd_config,
    index: usize,
    buf: *mut u8,
    buf_len: usize,
    out_n: *mut usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a writable size_t.
        let Some(out_n) = (unsafe { out_n.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        *out_n = 0;
        // SAFETY: the caller passes NULL or a live config.
        let Some(config) = (unsafe { c.as_ref() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        let Some(out) = OutBuf::new(buf, buf_len) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        let Some(addr) = config.inner.upstreams().get(index) else {
            return afwd_result::AFWD_ERR_INDEX_OUT_OF_RANGE;
        };
        // SocketAddr's Display is the normalised form: 192.0.2.1:53, [2001:db8::1]:53.
        let text = addr.to_string();
        // SAFETY: the caller passes `buf_len` writable bytes, which cannot overlap our String.
        unsafe { out.write(text.as_bytes(), out_n) }
    })
}

//! The configuration builder's names and lists: delegated and protected zones, `allow_ns`
//! networks, challenge labels, `public_hosts` and hairpin lines. Each takes UTF-8 text, checked
//! by the core; `config.rs` has the builder, its numbers and the upstreams.

use crate::boundary::ffi_boundary;
use crate::config::{afwd_config_builder, status, with_text};
use crate::result::afwd_result;

/// Adds a delegated zone in presentation format, as in the Corefile's `delegated ZONE...`: a
/// zone that challenge names are CNAMEd into (acme-dns style). Its TXT, CNAME, SOA and NS
/// questions are forwarded (never A or AAAA, but for its nameserver hosts). Adding a zone twice
/// is harmless.
///
/// `zone` is `zone_len` bytes of UTF-8, not NUL-terminated; it is copied, not kept.
///
/// Returns `AFWD_OK`; `AFWD_ERR_NULL_ARGUMENT` for a NULL `b` (or NULL `zone` with a non-zero
/// length); `AFWD_ERR_INVALID_UTF8`; `AFWD_ERR_NAME_EMPTY`, `AFWD_ERR_NAME_EMPTY_LABEL`,
/// `AFWD_ERR_NAME_LABEL_TOO_LONG`, `AFWD_ERR_NAME_TOO_LONG`, `AFWD_ERR_NAME_BAD_ESCAPE`;
/// `AFWD_ERR_DELEGATED_ROOT` for the root; `AFWD_ERR_DELEGATED_PROTECTED` for a zone inside a
/// protected zone. On an error the builder is unchanged.
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call. `zone` is NULL
/// or points to `zone_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_add_delegated(
    b: *mut afwd_config_builder,
    zone: *const u8,
    zone_len: usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: forwarded from this function's own contract.
        unsafe { with_text(b, zone, zone_len, |b, zone| status(b.delegated(zone))) }
    })
}

/// Adds a protected zone in presentation format, as in the Corefile's `protect ZONE...`, to
/// the defaults (`cluster.local`, `in-addr.arpa`, `ip6.arpa`, `localhost`): names at or below it
/// are never forwarded and never learned, whatever a public record says. Adding a zone twice is
/// harmless. A listed or delegated zone or a hairpin NAME inside a protected zone is refused by
/// whichever of the two calls comes second (`AFWD_ERR_ZONE_PROTECTED`,
/// `AFWD_ERR_DELEGATED_PROTECTED`, `AFWD_ERR_HAIRPIN_PROTECTED`).
///
/// `zone` is `zone_len` bytes of UTF-8, not NUL-terminated; it is copied, not kept.
///
/// Returns `AFWD_OK`; `AFWD_ERR_NULL_ARGUMENT` for a NULL `b` (or NULL `zone` with a non-zero
/// length); `AFWD_ERR_INVALID_UTF8`; an `AFWD_ERR_NAME_*` code; `AFWD_ERR_PROTECTED_ROOT` for
/// the root; `AFWD_ERR_ZONE_PROTECTED` / `AFWD_ERR_DELEGATED_PROTECTED` /
/// `AFWD_ERR_HAIRPIN_PROTECTED` when a zone or hairpin NAME added already is inside it. On an
/// error the builder is unchanged.
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call. `zone` is NULL
/// or points to `zone_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_add_protected(
    b: *mut afwd_config_builder,
    zone: *const u8,
    zone_len: usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: forwarded from this function's own contract.
        unsafe { with_text(b, zone, zone_len, |b, zone| status(b.protect(zone))) }
    })
}

/// Allows a network, as in the Corefile's `allow_ns NET...` (`IP/PREFIX` or `IP`), for the
/// nameserver addresses learned from DNS in authoritative mode, which are otherwise refused in
/// the loopback, link-local, private (RFC 1918, ULA), CGNAT, multicast and unspecified ranges.
///
/// `net` is `net_len` bytes of UTF-8, not NUL-terminated; it is copied, not kept.
///
/// Returns `AFWD_OK`; `AFWD_ERR_NULL_ARGUMENT` for a NULL `b` (or NULL `net` with a non-zero
/// length); `AFWD_ERR_INVALID_UTF8`; `AFWD_ERR_NET_INVALID`. On an error the builder is
/// unchanged.
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call. `net` is NULL
/// or points to `net_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_add_allow_ns(
    b: *mut afwd_config_builder,
    net: *const u8,
    net_len: usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: forwarded from this function's own contract.
        unsafe { with_text(b, net, net_len, |b, net| status(b.allow_ns(net))) }
    })
}

/// Adds a challenge label, as in the Corefile's `labels LABEL...`: a name whose first label is
/// one of them, at or below a zone, is a challenge name (forwarded, any type). The first call
/// replaces the default set (`_acme-challenge` and `_validation-persist`); later calls add to
/// it. While `_acme-challenge` is in the set, dns-account-01 names
/// (`_<16 base32 characters>._acme-challenge.<name>`) are challenge names too.
///
/// A label is `_` followed by ASCII letters, digits, `-` and `_`, at most 63 characters in all,
/// compared case-insensitively; no dots, no escapes. At most 16.
///
/// `label` is `label_len` bytes of UTF-8, not NUL-terminated; it is copied, not kept.
///
/// Returns `AFWD_OK`; `AFWD_ERR_NULL_ARGUMENT` for a NULL `b` (or NULL `label` with a non-zero
/// length: NULL with length 0 is the empty label); `AFWD_ERR_INVALID_UTF8`;
/// `AFWD_ERR_LABEL_EMPTY`, `AFWD_ERR_LABEL_NO_UNDERSCORE`, `AFWD_ERR_LABEL_TOO_LONG`,
/// `AFWD_ERR_LABEL_BAD_CHARACTER`, `AFWD_ERR_LABEL_DUPLICATE` (added before),
/// `AFWD_ERR_TOO_MANY_LABELS`. On an error the builder is unchanged.
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call. `label` is
/// NULL or points to `label_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_add_label(
    b: *mut afwd_config_builder,
    label: *const u8,
    label_len: usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: forwarded from this function's own contract.
        unsafe { with_text(b, label, label_len, |b, label| status(b.label(label))) }
    })
}

/// Adds a nameserver host (presentation format, e.g. `ns1.example.com`) whose A and AAAA may get
/// the public answer although the internal view knows the name: the operator's decision for a
/// self-hosted zone's nameserver that is also known inside. Any other nameserver host that the
/// prefetch finds or a reply names is asked about in the internal view first (the prefetch's
/// `AFWD_PREFETCH_INTERNAL`, the exchange's `AFWD_ACTION_INTERNAL`) and keeps its internal
/// answer when the internal view knows it. The host gets an outside answer only while the
/// prefetch or a reply names it as a nameserver. Adding a host twice is harmless.
///
/// `host` is `host_len` bytes of UTF-8, not NUL-terminated; it is copied, not kept.
///
/// Returns `AFWD_OK`; `AFWD_ERR_NULL_ARGUMENT` for a NULL `b` (or NULL `host` with a non-zero
/// length); `AFWD_ERR_INVALID_UTF8`; an `AFWD_ERR_NAME_*` code; `AFWD_ERR_PUBLIC_HOST_ROOT`;
/// `AFWD_ERR_PUBLIC_HOST_PROTECTED` (at or below a protected zone, added before or after: then
/// `afwd_config_builder_add_protected` returns it). On an error the builder is unchanged.
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call. `host` is NULL
/// or points to `host_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_add_public_host(
    b: *mut afwd_config_builder,
    host: *const u8,
    host_len: usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: forwarded from this function's own contract.
        unsafe { with_text(b, host, host_len, |b, host| status(b.public_host(host))) }
    })
}

/// Adds a hairpin line (the HTTP-01 hairpin), as in the Corefile's `hairpin NAME... TARGET...`:
/// the line's arguments separated by ASCII whitespace (e.g. the Corefile arguments joined with
/// spaces). A and AAAA questions for the NAMEs are then answered with the TARGET's addresses
/// (`AFWD_VERDICT_HAIRPIN`), unless a forwarding rule takes them.
///
/// Each NAME is a host name, or `*.zone` for every name strictly below `zone`. The IP
/// addresses at the end of the line are the TARGET; with none, the last argument is the TARGET,
/// a host name looked up through the rest of the plugin chain (`AFWD_ACTION_INTERNAL`).
/// A host name has labels of ASCII letters, digits, `-` (not first or last) and `_`, the last
/// label not all digits: a mistyped address (`10.1.2.3:443`, `[2001:db8::5]`, `10.1.2.3/32`,
/// `fe80::1%eth0`, `010.001.002.003`) is refused. Exact names win over wildcards; the longest
/// wildcard wins.
///
/// `line` is `line_len` bytes of UTF-8, not NUL-terminated; it is copied, not kept.
///
/// Returns `AFWD_OK`; `AFWD_ERR_NULL_ARGUMENT` for a NULL `b` (or NULL `line` with a non-zero
/// length: NULL with length 0 is the empty line); `AFWD_ERR_INVALID_UTF8`;
/// `AFWD_ERR_HAIRPIN_MISSING_TARGET`, `AFWD_ERR_HAIRPIN_NAME_IS_ADDRESS`,
/// `AFWD_ERR_HAIRPIN_BAD_WILDCARD`, `AFWD_ERR_HAIRPIN_TARGET_INVALID`,
/// `AFWD_ERR_HAIRPIN_DUPLICATE_NAME` (a NAME of this line or an earlier one),
/// `AFWD_ERR_HAIRPIN_TARGET_NOT_HOST_NAME`, `AFWD_ERR_HAIRPIN_NAME_NOT_HOST_NAME`,
/// `AFWD_ERR_HAIRPIN_PROTECTED` (a NAME at or below a protected zone), or an `AFWD_ERR_NAME_*`
/// code for a NAME that is not a valid domain name. On an error the builder is unchanged.
///
/// # Safety
///
/// `b` is NULL or a live builder that no other thread is using during the call. `line` is NULL
/// or points to `line_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_config_builder_add_hairpin(
    b: *mut afwd_config_builder,
    line: *const u8,
    line_len: usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: forwarded from this function's own contract.
        unsafe { with_text(b, line, line_len, |b, line| status(b.hairpin(line))) }
    })
}

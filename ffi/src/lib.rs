//! C ABI of acmeforward (`afwd_*`), in the rustls-ffi style.
//!
//! The header `ffi/include/acmeforward.h` is generated from this crate by the pinned cbindgen
//! (`scripts/ffi-header.sh generate`) and checked in; `scripts/ffi-header.sh check` fails when it
//! is stale. The contract is the "C ABI" section of `docs/ARCHITECTURE.md`.
//!
//! Conventions, shared by every entry point:
//!
//! - Opaque handles (`afwd_config_builder`, `afwd_config`, `afwd_engine`, `afwd_exchange`,
//!   `afwd_prefetch`) are boxed Rust values.
//!   Every `*_new` has a `*_free`, and `*_free(NULL)` does nothing.
//! - Inputs are pointer + length slices. A null pointer with length 0 is an empty slice; a null
//!   pointer with a non-zero length is `AFWD_ERR_NULL_ARGUMENT`.
//! - Outputs go to caller-owned buffers: a buffer that is too short gives
//!   `AFWD_ERR_BUFFER_TOO_SHORT` with the needed length in `*out_n` (so `buf = NULL, buf_len = 0`
//!   asks for the length).
//! - Every body runs inside [`boundary::ffi_boundary!`], which turns a panic into
//!   `AFWD_ERR_PANIC` (or `AFWD_VERDICT_ERROR`, `NULL`, 0, nothing).
//! - An exchange is driven poll-style: `afwd_exchange_poll` says what to do (SEND, INTERNAL,
//!   ANSWER, FAIL); the caller does the I/O (or, for INTERNAL, runs the query through the rest of
//!   its plugin chain) and reports with `afwd_exchange_reply` or `afwd_exchange_failed`.
//!   Failover, TC→TCP and the authoritative-mode discovery steps are the core's decisions.
//! - Identical questions in flight at once can share one exchange: once it is answered,
//!   `afwd_exchange_answer_for` gives each other client its own answer (ID, case, size).
//! - `afwd_engine_pass_filter` hands out a copy of the engine's pass filter, which rules out most
//!   questions without a call; `afwd_engine_pass_filter_generation` says when to take a new one.

// The exported names are the C names of the contract.
#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

// cbindgen writes the functions in declaration order (cbindgen.toml: fn.sort_by = "None"):
// the result texts first (own group, so that rustfmt keeps it first), then config, engine,
// exchange.
mod result;

mod boundary;
mod config;
mod config_names;
mod engine;
mod exchange;
mod prefetch;
mod rule;
mod slice;

#[cfg(test)]
mod classification_tests;
#[cfg(test)]
mod classify_tests;
#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod exchange_tests;
#[cfg(test)]
mod filter_tests;
#[cfg(test)]
mod hairpin_tests;
#[cfg(test)]
mod layers_tests;
#[cfg(test)]
mod metrics_tests;
#[cfg(test)]
mod null_tests;
#[cfg(test)]
mod panic_tests;
#[cfg(test)]
mod prefetch_tests;
#[cfg(test)]
mod result_tests;
#[cfg(test)]
mod share_tests;
#[cfg(test)]
mod testutil;

pub use config::{
    UpstreamModeCode, afwd_config, afwd_config_builder, afwd_config_builder_add_upstream,
    afwd_config_builder_add_upstream_tls, afwd_config_builder_add_zone, afwd_config_builder_free,
    afwd_config_builder_new, afwd_config_builder_set_discovery,
    afwd_config_builder_set_max_concurrent, afwd_config_builder_set_max_learned,
    afwd_config_builder_set_max_time_ms, afwd_config_builder_set_max_ttl,
    afwd_config_builder_set_timeout_ms, afwd_config_builder_set_upstream_mode, afwd_config_free,
    afwd_config_new, afwd_config_upstream, afwd_upstream_mode,
};
pub use config_names::{
    afwd_config_builder_add_allow_ns, afwd_config_builder_add_delegated,
    afwd_config_builder_add_hairpin, afwd_config_builder_add_label,
    afwd_config_builder_add_protected, afwd_config_builder_add_public_host,
};
pub use engine::{
    AFWD_EDNS_UDP_PAYLOAD, AFWD_HAIRPIN_MAX_ADDRS, AFWD_NO_PASS_FILTER, AFWD_REFUSAL_COUNT,
    afwd_classification, afwd_engine, afwd_engine_classify, afwd_engine_free,
    afwd_engine_learned_len, afwd_engine_new, afwd_engine_pass_filter,
    afwd_engine_pass_filter_generation, afwd_engine_refused, afwd_engine_state, afwd_pass_filter,
    afwd_refusal, afwd_refusal_label,
};
pub use exchange::{
    afwd_action, afwd_action_kind, afwd_exchange, afwd_exchange_answer_for, afwd_exchange_failed,
    afwd_exchange_free, afwd_exchange_is_authoritative, afwd_exchange_new, afwd_exchange_poll,
    afwd_exchange_reply, afwd_query_formerr,
};
pub use prefetch::{
    afwd_prefetch, afwd_prefetch_action, afwd_prefetch_action_kind, afwd_prefetch_failed,
    afwd_prefetch_free, afwd_prefetch_new, afwd_prefetch_poll, afwd_prefetch_ready,
    afwd_prefetch_reply,
};
pub use result::{ResultCode, afwd_result, afwd_result_text, afwd_verdict};
pub use rule::{
    AFWD_RULE_ANCESTOR, AFWD_RULE_CHALLENGE, AFWD_RULE_CNAME_TARGET, AFWD_RULE_DELEGATED,
    AFWD_RULE_DISCOVERY, AFWD_RULE_NONE, AFWD_RULE_NS_HOST,
};

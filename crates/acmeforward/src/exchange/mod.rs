//! One forwarded (or hairpin) query, from the client's bytes to its answer. Bottom to top: the
//! parts ([`client`], [`query`], [`validate`], [`fail_reason`], [`discovery`], [`probes`]), the
//! answers for the client ([`rewrite`], [`hairpin_answer`]), the poll-style state machine
//! ([`machine`], its next steps in `plan.rs`) and the sharing of one answer between identical
//! questions ([`share`]).

pub(crate) mod client;
pub(crate) mod discovery;
pub(crate) mod fail_reason;
pub(crate) mod hairpin_answer;
pub(crate) mod machine;
pub(crate) mod probes;
pub(crate) mod query;
pub(crate) mod rewrite;
pub(crate) mod share;
pub(crate) mod validate;

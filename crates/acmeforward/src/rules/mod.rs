//! The rules: what public data may decide ([`policy`]) and the verdict on a question from the
//! configuration ([`classify`]). They decide from configuration and state, without I/O.

pub(crate) mod classify;
pub(crate) mod policy;

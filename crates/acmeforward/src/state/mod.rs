//! The state shared by every query: what forwarded and prefetched replies taught ([`learned`],
//! its names summed up bit by bit in the [`prefilter`]), the pass filter the shim reads
//! ([`filter`]), and the [`engine`] that holds the configuration, that state and the refusal
//! counters.

pub(crate) mod engine;
pub(crate) mod filter;
pub(crate) mod learned;
pub(crate) mod prefilter;

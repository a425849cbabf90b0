//! The sans-IO core of acmeforward, a CoreDNS plugin that forwards ACME DNS-01 challenge lookups
//! (`_acme-challenge.<name>`) to external nameservers while every other name keeps its internal
//! (split-horizon) answer.
//!
//! * [`ConfigBuilder`] / [`Config`]: the validated configuration (zones, upstreams, timeout,
//!   max_ttl), built from the Corefile one setting at a time.
//! * [`Config::classify`]: the per-query hot path, allocation-free: [`Verdict::Forward`] for an
//!   `_acme-challenge` name of class IN in one of the zones, [`Verdict::Pass`] for everything else.
//! * [`Exchange`]: one forwarded query. [`Exchange::new`] builds the upstream query (fresh ID,
//!   DNS 0x20 letter case, EDNS0 reset); [`Exchange::finish`] validates an upstream reply and
//!   rewrites it for the client.
//!
//! No sockets, threads, clock or randomness of its own: the caller does the I/O and passes a random
//! word to [`Exchange::new`].
//!
//! ```
//! use acmeforward::{ConfigBuilder, Verdict};
//!
//! let mut builder = ConfigBuilder::new();
//! builder.zone("example.com")?.upstream("192.0.2.53")?;
//! let config = builder.build()?;
//! assert_eq!(config.classify(b"_acme-challenge.www.example.com.", 16, 1), Verdict::Forward);
//! assert_eq!(config.classify(b"www.example.com.", 1, 1), Verdict::Pass);
//! # Ok::<(), acmeforward::ConfigError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod classify;
mod config;
mod exchange;
mod name;
mod rewrite;
#[cfg(test)]
mod testutil;

pub use config::{
    Config, ConfigBuilder, ConfigError, DEFAULT_MAX_TTL, DEFAULT_PORT, DEFAULT_TIMEOUT,
    MAX_MAX_TTL, MAX_TIMEOUT, MIN_TIMEOUT, Verdict, Zone,
};
pub use exchange::{
    Exchange, MAX_CLIENT_UDP_PAYLOAD, MAX_CNAME_CHAIN, MAX_TCP_MESSAGE, MIN_UDP_PAYLOAD,
    QueryError, ReplyError, Transport, UPSTREAM_UDP_PAYLOAD,
};
pub use name::NameError;

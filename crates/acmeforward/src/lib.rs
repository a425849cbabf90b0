//! The sans-IO core of acmeforward, a CoreDNS plugin that forwards ACME DNS-01 challenge lookups
//! (`_acme-challenge.<name>`), and the lookups a propagation check makes around them, to external
//! nameservers while every other name keeps its internal (split-horizon) answer.
//!
//! * [`ConfigBuilder`] / [`Config`]: the validated configuration (zones, upstreams, timeout,
//!   max_ttl, discovery, delegated zones, upstream mode, max_learned), built from the Corefile one
//!   setting at a time.
//! * [`Engine`]: a configuration plus the state learned from forwarded replies, shared by every
//!   query.
//!   [`Engine::classify`] is the per-query hot path, allocation-free: [`Verdict::Forward`] when a
//!   forwarding rule matches ([`Rule`]: challenge names; SOA/NS discovery; learned nameserver
//!   hosts; delegated zones and learned CNAME targets; the learned SOA walk), class IN only;
//!   then [`Verdict::Hairpin`] for an A or AAAA question for a `hairpin` name (the HTTP-01
//!   hairpin: [`ConfigBuilder::hairpin`]).
//! * [`Exchange`]: one forwarded (or hairpin) query, a poll-style state machine.
//!   [`Exchange::poll`] gives the next [`Action`] (send a query to a server, ask the rest of the
//!   plugin chain for a hairpin target, answer the client, or fail); the caller does the I/O and
//!   reports with [`Exchange::on_reply`] or [`Exchange::on_failure`]. Failover, TC→TCP
//!   and (in [`UpstreamMode::Authoritative`]) the discovery of the zone's nameservers happen
//!   inside. Every reply is validated; the client's reply is rebuilt from validated records.
//!
//! No sockets, threads, clock or randomness of its own: the caller does the I/O, passes a random
//! word to [`Exchange::new`] and its monotonic clock as `now_ms`.
//!
//! Names: every name the API takes is in presentation format, the text form that miekg/dns and a
//! Corefile use (`\.` and `\DDD` escapes, trailing dot optional, any case), as bytes or `&str`;
//! only DNS messages (queries and replies) are in wire format. The `internals` cargo feature
//! (for the benchmarks and fuzz targets, not a stable API) exposes the learned state, which is
//! keyed by wire-form names. `examples/udp_forwarder.rs` drives an [`Exchange`] over std::net.
//!
//! ```
//! use acmeforward::{Action, ConfigBuilder, Engine, Exchange, Transport, Verdict};
//!
//! let mut builder = ConfigBuilder::new();
//! builder.zone("example.com")?.upstream("192.0.2.53")?;
//! let engine = Engine::new(builder.build()?);
//! assert_eq!(engine.classify(b"_acme-challenge.www.example.com.", 16, 1, 0), Verdict::Forward);
//! assert_eq!(engine.classify(b"www.example.com.", 1, 1, 0), Verdict::Pass);
//! // With discovery on, the SOA questions of a propagation check in the zone go out too.
//! assert_eq!(engine.classify(b"www.example.com.", 6, 1, 0), Verdict::Forward);
//!
//! // _acme-challenge.www.example.com TXT, ID 0x4242, RD.
//! let query = b"\x42\x42\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\
//! \x0f_acme-challenge\x03www\x07example\x03com\x00\x00\x10\x00\x01";
//! let mut exchange = Exchange::new(&engine, query, Transport::Udp, 0x5eed, 0).expect("query");
//! match exchange.poll() {
//!     Action::Send { server, transport, query, deadline_ms } => {
//!         assert_eq!(server, "192.0.2.53:53".parse().expect("address"));
//!         assert_eq!(transport, Transport::Udp);
//!         assert_eq!(query.len(), 60);
//!         assert_eq!(deadline_ms, 2_000, "the per-try timeout, on the caller's clock");
//!     }
//!     other => panic!("{other:?}"),
//! }
//! exchange.on_failure(2_000); // the deadline passed; no other upstream
//! assert!(matches!(exchange.poll(), Action::Fail(_)));
//! # Ok::<(), acmeforward::ConfigError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod exchange;
mod prefetch;
mod rules;
mod state;
#[cfg(test)]
mod testutil;
mod wire;

pub use config::builder::ConfigBuilder;
pub use config::error::ConfigError;
pub use config::labels::{DEFAULT_CHALLENGE_LABELS, MAX_CHALLENGE_LABELS};
pub use config::{
    Config, DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_LEARNED, DEFAULT_MAX_TIME, DEFAULT_MAX_TTL,
    DEFAULT_PORT, DEFAULT_PROTECTED, DEFAULT_TIMEOUT, MAX_MAX_CONCURRENT, MAX_MAX_LEARNED,
    MAX_MAX_TIME, MAX_MAX_TTL, MAX_TIMEOUT, MIN_MAX_LEARNED, MIN_MAX_TIME, MIN_TIMEOUT, Net,
    UpstreamMode, Zone,
};
pub use exchange::client::{QueryError, format_error_reply};
pub use exchange::discovery::{MAX_NS_ADDRS, MAX_NS_HOSTS};
pub use exchange::fail_reason::FailReason;
pub use exchange::machine::{Action, Exchange, MAX_SENDS};
pub use exchange::share::ShareError;
pub use exchange::validate::{MAX_CNAME_CHAIN, ReplyError};
pub use prefetch::{
    PREFETCH_MAX_INTERVAL_MS, PREFETCH_MIN_INTERVAL_MS, PREFETCH_RETRY_MAX_MS,
    PREFETCH_RETRY_MIN_MS, PREFETCH_STALE_MS, Prefetch, PrefetchAction, PrefetchReply,
};
pub use rules::classify::Verdict;
pub use rules::policy::Refusal;
pub use state::engine::{Classified, Engine, Rule};
pub use state::filter::{PassFilter, label_bit};
#[cfg(feature = "internals")]
pub use state::learned::{Fact, Facts, Learned};
pub use state::learned::{LEARN_MAX_TTL, LEARN_MIN_TTL};
pub use wire::name::NameError;
pub use wire::{
    MAX_TCP_MESSAGE, MAX_UPSTREAM_UDP_REPLY, MIN_UDP_PAYLOAD, Transport, UPSTREAM_UDP_PAYLOAD,
};

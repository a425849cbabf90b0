//! The prefetch: every replica resolves, through the `to` resolvers, the NS RRset of each
//! listed and delegated zone (or of the apex above it) and, in authoritative mode, the
//! addresses of those nameserver hosts, at start-up and again before the TTL runs out. What it
//! finds routes the A/AAAA questions of those hosts and the SOA/NS questions of the apex the
//! same way on every replica, whichever replica saw the earlier queries.
//!
//! A nameserver host gets its public A and AAAA only if the internal view does not know it:
//! the prefetch asks the internal view its A, then its AAAA, and a host that the internal view
//! knows (any answer but NXDOMAIN) keeps its internal answer ([`PrefetchReply::KeptInternal`]),
//! unless the operator named it with `public_hosts`. Public data never decides an internal
//! name: whoever writes a listed zone's NS RRset cannot take over an internal host by naming
//! it. Authoritative mode still uses the public addresses of every host to send its own
//! queries: that changes where acmeforward asks, not what a client gets.
//!
//! Sans-IO like [`crate::Exchange`]: [`Prefetch::poll`] says what to do (send a query, with
//! its deadline; ask the internal view; or sleep until a time); the caller does the I/O and
//! reports with [`Prefetch::on_reply`] or [`Prefetch::on_failure`]. Each lookup is an exchange of the
//! engine's own (failover, TC→TCP, every check on the reply). The refresh is bounded: each
//! zone again after 3/4 of the smallest TTL, clamped to [`PREFETCH_MIN_INTERVAL_MS`] ..=
//! [`PREFETCH_MAX_INTERVAL_MS`]; after a failure, backoff from [`PREFETCH_RETRY_MIN_MS`]
//! doubling to [`PREFETCH_RETRY_MAX_MS`], the earlier results kept until their TTL plus
//! [`PREFETCH_STALE_MS`]; at most [`MAX_NS_HOSTS`] hosts and [`MAX_NS_ADDRS`] addresses a zone.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use crate::config::{DEFAULT_PORT, UpstreamMode};
use crate::exchange::discovery::{MAX_NS_ADDRS, MAX_NS_HOSTS};
use crate::exchange::machine::{Action, Exchange};
use crate::exchange::probes::{self, InternalView};
use crate::exchange::query::SplitMix64;
use crate::exchange::validate::{ReplyError, Validated};
use crate::rules::policy::{self, Refusal};
use crate::state::engine::Engine;
use crate::state::learned::{Fact, PrefetchedZone};
use crate::wire::Transport;
use crate::wire::name::{self, name_wire};

/// The shortest time between two refreshes of a zone, in milliseconds.
pub const PREFETCH_MIN_INTERVAL_MS: u64 = 30_000;
/// The longest time between two refreshes of a zone, in milliseconds (one hour).
pub const PREFETCH_MAX_INTERVAL_MS: u64 = 3_600_000;
/// The first retry after a failed refresh, in milliseconds; doubled on each failure.
pub const PREFETCH_RETRY_MIN_MS: u64 = 1_000;
/// The longest wait between retries, in milliseconds (five minutes).
pub const PREFETCH_RETRY_MAX_MS: u64 = 300_000;
/// How long past their TTL the results of a zone stay in force while its refreshes fail, in
/// milliseconds (one hour): a short upstream outage does not change any decision.
pub const PREFETCH_STALE_MS: u64 = 3_600_000;

/// What the caller of a [`Prefetch`] does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefetchAction<'a> {
    /// Send `query` to `server` over `transport`, wait for the reply at most until
    /// `deadline_ms` (the caller's `now_ms` clock), then report it with
    /// [`Prefetch::on_reply`], or its absence with [`Prefetch::on_failure`].
    Send {
        /// Where to send it.
        server: SocketAddr,
        /// How to send it.
        transport: Transport,
        /// The query, wire format (prefix it with its length over TCP).
        query: &'a [u8],
        /// When this try is over.
        deadline_ms: u64,
    },
    /// Ask the internal view (the rest of the plugin chain) `query`, at most until
    /// `deadline_ms`, then report its reply with [`Prefetch::on_reply`], or its absence with
    /// [`Prefetch::on_failure`]: the A or AAAA of a nameserver host the prefetch found. A
    /// caller without an internal view reports a failure: the host then keeps the answer of
    /// whatever answers it instead of acmeforward, and the zone is tried again soon.
    Internal {
        /// The query, wire format.
        query: &'a [u8],
        /// When to give up waiting.
        deadline_ms: u64,
    },
    /// Nothing to do until `until_ms` (then poll again); `u64::MAX`: nothing ever (no zone to
    /// prefetch).
    Sleep {
        /// When to poll again.
        until_ms: u64,
    },
}

/// The types the internal view is asked, in turn, about a nameserver host the prefetch found.
const NS_HOST_PROBES: &[RecordType] = probes::probe_types(Fact::NsHost);

/// What a reply handed to [`Prefetch::on_reply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefetchReply {
    /// Taken; the prefetch goes on.
    Taken,
    /// The internal view's answer about a nameserver host the prefetch found (the name of the
    /// [`PrefetchAction::Internal`] query): it knows the host, so the host keeps its internal
    /// answer (counted [`Refusal::InternalName`]). The operator can give it the public answer
    /// with `public_hosts`; a caller says so in its log, once per host.
    KeptInternal,
}

/// One zone to prefetch.
#[derive(Debug, Clone)]
struct Job {
    /// Lower-cased wire form.
    zone: Box<[u8]>,
    next_at: u64,
    failures: u32,
    tried: bool,
}

/// Which lookup of a round is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// NS of the zone itself.
    ZoneNs,
    /// NS of the apex above the zone (the zone is no cut).
    ApexNs,
    /// A or AAAA of a nameserver host (authoritative mode).
    Addr,
    /// A or AAAA of a nameserver host, asked of the internal view.
    Probe,
}

/// One refresh of one zone.
#[derive(Debug, Clone)]
struct Round {
    job: usize,
    step: Step,
    exchange: Exchange,
    apex: Box<[u8]>,
    /// Every nameserver host found (authoritative mode asks their addresses).
    hosts: Vec<Box<[u8]>>,
    /// The hosts whose A and AAAA go out: the internal view does not know them, or the
    /// operator named them with `public_hosts`.
    public: Vec<Box<[u8]>>,
    /// The hosts the internal view knows: they keep its answer.
    kept: Vec<Box<[u8]>>,
    /// The hosts still to ask the internal view about, and the one being asked with the index
    /// of the type asked in [`probes::probe_types`].
    probes: VecDeque<Box<[u8]>>,
    probing: Option<(Box<[u8]>, usize)>,
    /// The internal view could not tell about a host: it is not published, and the zone is
    /// tried again soon.
    probe_failed: bool,
    lookups: VecDeque<(Box<[u8]>, RecordType)>,
    servers: Vec<SocketAddr>,
    /// The smallest TTL of the records behind the results.
    ttl: u32,
}

/// The prefetch of one engine (see the module documentation).
#[derive(Debug, Clone)]
pub struct Prefetch {
    jobs: Vec<Job>,
    round: Option<Round>,
    rng: SplitMix64,
    authoritative: bool,
}

impl Prefetch {
    /// The prefetch of `engine`'s listed and delegated zones (none with discovery off), all
    /// due at once. `random` seeds the lookups' IDs and letter case.
    pub fn new(engine: &Engine, random: u64) -> Prefetch {
        let config = engine.config();
        let mut jobs: Vec<Job> = Vec::new();
        if config.discovery() {
            for z in config.discovery_zones().iter().chain(config.delegated()) {
                if !jobs.iter().any(|j| *j.zone == *z.wire()) {
                    jobs.push(Job {
                        zone: z.wire().into(),
                        next_at: 0,
                        failures: 0,
                        tried: false,
                    });
                }
            }
        }
        Prefetch {
            jobs,
            round: None,
            rng: SplitMix64(random),
            authoritative: config.upstream_mode() == UpstreamMode::Authoritative,
        }
    }

    /// The number of zones it prefetches.
    pub fn zones(&self) -> usize {
        self.jobs.len()
    }

    /// Whether every zone was tried once (found or failed): the replica has made its first
    /// decisions the way every replica makes them.
    pub fn is_ready(&self) -> bool {
        self.jobs.iter().all(|j| j.tried)
    }

    /// What to do next at `now_ms`: a send of the running lookup, or the start of the next
    /// due refresh, or sleep until one is due.
    pub fn poll(&mut self, engine: &Engine, now_ms: u64) -> PrefetchAction<'_> {
        // Each zone starts at most one round per poll: a round that ends without a send (at a
        // clock so late that every deadline has passed) must not start again in a loop.
        let mut starts = 0;
        loop {
            if self.round.is_none() {
                let due = self
                    .jobs
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, j)| j.next_at)
                    .map(|(i, j)| (i, j.next_at));
                match due {
                    None => return PrefetchAction::Sleep { until_ms: u64::MAX },
                    Some((_, at)) if at > now_ms => return PrefetchAction::Sleep { until_ms: at },
                    Some(_) if starts >= self.jobs.len() => {
                        return PrefetchAction::Sleep {
                            until_ms: now_ms.saturating_add(PREFETCH_RETRY_MIN_MS),
                        };
                    }
                    Some((i, _)) => {
                        starts += 1;
                        self.start(engine, i, now_ms);
                    }
                }
                continue;
            }
            let Some(round) = self.round.as_mut() else {
                continue;
            };
            match round.exchange.poll() {
                Action::Send { .. } | Action::Internal(_) => break,
                Action::Answer(_) => {
                    let valid = round.exchange.take_looked_up();
                    self.advance(engine, valid.as_deref(), now_ms);
                }
                Action::Fail(_) => self.advance(engine, None, now_ms),
            }
        }
        let Some(round) = self.round.as_ref() else {
            return PrefetchAction::Sleep { until_ms: now_ms };
        };
        match round.exchange.poll() {
            Action::Send {
                server,
                transport,
                query,
                deadline_ms,
            } => PrefetchAction::Send {
                server,
                transport,
                query,
                deadline_ms,
            },
            Action::Internal(query) => PrefetchAction::Internal {
                query,
                deadline_ms: round.exchange.deadline_ms().unwrap_or(now_ms),
            },
            _ => PrefetchAction::Sleep { until_ms: now_ms },
        }
    }

    /// The reply to the last [`PrefetchAction::Send`] or [`PrefetchAction::Internal`];
    /// validated by the lookup's exchange (an invalid reply moves a send to the next resolver,
    /// and counts as no answer from the internal view). The error is for logs and metrics.
    pub fn on_reply(
        &mut self,
        engine: &Engine,
        reply: &[u8],
        now_ms: u64,
    ) -> Result<PrefetchReply, ReplyError> {
        let Some(round) = self.round.as_mut() else {
            return Err(ReplyError::ExchangeDone);
        };
        let taken = round.exchange.on_reply(engine, reply, now_ms);
        if round.step != Step::Probe || round.exchange.is_waiting() {
            return taken.map(|()| PrefetchReply::Taken);
        }
        // The internal view's answer settles this step now, so that the caller learns what
        // became of the host.
        let valid = round.exchange.take_looked_up();
        let view = probes::internal_view(valid.as_deref());
        self.advance(engine, valid.as_deref(), now_ms);
        taken?;
        Ok(match view {
            InternalView::Known => PrefetchReply::KeptInternal,
            InternalView::Unknown | InternalView::Failed => PrefetchReply::Taken,
        })
    }

    /// The last [`PrefetchAction::Send`] got no reply by its deadline (or a network error), or
    /// the last [`PrefetchAction::Internal`] none at all.
    pub fn on_failure(&mut self, now_ms: u64) {
        if let Some(round) = self.round.as_mut() {
            round.exchange.on_failure(now_ms);
        }
    }

    fn start(&mut self, engine: &Engine, job: usize, now_ms: u64) {
        let Some(zone) = self.jobs.get(job).map(|j| j.zone.clone()) else {
            return;
        };
        match Exchange::lookup(engine, &zone, RecordType::NS, self.rng.next_u64(), now_ms) {
            Some(exchange) => {
                self.round = Some(Round {
                    job,
                    step: Step::ZoneNs,
                    exchange,
                    apex: zone,
                    hosts: Vec::new(),
                    public: Vec::new(),
                    kept: Vec::new(),
                    probes: VecDeque::new(),
                    probing: None,
                    probe_failed: false,
                    lookups: VecDeque::new(),
                    servers: Vec::new(),
                    ttl: u32::MAX,
                });
            }
            None => self.finish(engine, false, now_ms),
        }
    }

    /// The running lookup ended (`valid`: its reply; `None`: it failed): the next lookup of
    /// the round, or the end of the round.
    fn advance(&mut self, engine: &Engine, valid: Option<&Validated>, now_ms: u64) {
        let Some(round) = self.round.as_mut() else {
            return;
        };
        let config = engine.config();
        match round.step {
            Step::ZoneNs | Step::ApexNs => {
                let Some(valid) = valid else {
                    return self.finish(engine, false, now_ms);
                };
                let hosts = ns_hosts(valid, &round.apex);
                if hosts.is_empty() {
                    // No NS RRset here: the zone is no cut; the SOA in the authority section
                    // names the apex above it.
                    let apex = (round.step == Step::ZoneNs)
                        .then(|| soa_above(valid, &round.apex))
                        .flatten();
                    match apex {
                        // Never the root or a TLD: a lying resolver could otherwise make a
                        // whole TLD's SOA/NS and hosts go out.
                        Some(apex)
                            if policy::has_two_labels(&apex) && !config.is_protected(&apex) =>
                        {
                            match Exchange::lookup(
                                engine,
                                &apex,
                                RecordType::NS,
                                self.rng.next_u64(),
                                now_ms,
                            ) {
                                Some(ex) => {
                                    round.step = Step::ApexNs;
                                    round.apex = apex.into();
                                    round.exchange = ex;
                                }
                                None => self.finish(engine, false, now_ms),
                            }
                        }
                        _ => self.finish(engine, false, now_ms),
                    }
                    return;
                }
                for (host, ttl) in hosts {
                    if let Err(why) = policy::ns_host_allowed(config, &host, &round.apex) {
                        engine.refuse(why);
                        continue;
                    }
                    if round.hosts.len() >= MAX_NS_HOSTS {
                        engine.refuse(Refusal::Limit);
                        continue;
                    }
                    round.ttl = round.ttl.min(ttl);
                    if probes::skips_probe(config, &host, Fact::NsHost) {
                        round.public.push(host.as_slice().into());
                    } else {
                        round.probes.push_back(host.as_slice().into());
                    }
                    round.hosts.push(host.into());
                }
                if self.authoritative {
                    for rtype in [RecordType::A, RecordType::AAAA] {
                        for h in &round.hosts {
                            round.lookups.push_back((h.clone(), rtype));
                        }
                    }
                }
            }
            Step::Addr => {
                // A host without an address of this family is no failure of the zone.
                for r in valid.map(|v| v.answers.as_slice()).unwrap_or(&[]) {
                    let ip = match &r.data {
                        RData::A(a) => IpAddr::V4(a.0),
                        RData::AAAA(a) => IpAddr::V6(a.0),
                        _ => continue,
                    };
                    if let Err(why) = policy::ns_address_allowed(config, ip) {
                        engine.refuse(why);
                        continue;
                    }
                    let addr = SocketAddr::new(ip, DEFAULT_PORT);
                    if round.servers.contains(&addr) {
                        continue;
                    }
                    if round.servers.len() >= MAX_NS_ADDRS {
                        engine.refuse(Refusal::Limit);
                        continue;
                    }
                    round.ttl = round.ttl.min(r.ttl);
                    round.servers.push(addr);
                }
            }
            Step::Probe => {
                let Some((host, asked)) = round.probing.take() else {
                    return self.finish(engine, false, now_ms);
                };
                match probes::internal_view(valid) {
                    InternalView::Unknown if asked + 1 < NS_HOST_PROBES.len() => {
                        round.probing = Some((host, asked + 1));
                    }
                    InternalView::Unknown => round.public.push(host),
                    InternalView::Known => {
                        engine.refuse(Refusal::InternalName);
                        round.kept.push(host);
                    }
                    InternalView::Failed => {
                        engine.refuse(Refusal::InternalLookupFailed);
                        round.probe_failed = true;
                    }
                }
            }
        }
        // The internal view first: which hosts a client may get the public address of.
        loop {
            let next = match round.probing.take() {
                Some(asking) => Some(asking),
                None => round.probes.pop_front().map(|h| (h, 0)),
            };
            let Some((host, asked)) = next else {
                break;
            };
            let Some(&rtype) = NS_HOST_PROBES.get(asked) else {
                continue;
            };
            let random = self.rng.next_u64();
            if let Some(ex) = Exchange::internal_lookup(engine, &host, rtype, random, now_ms) {
                round.step = Step::Probe;
                round.exchange = ex;
                round.probing = Some((host, asked));
                return;
            }
        }
        while let Some((host, rtype)) = round.lookups.pop_front() {
            if let Some(ex) = Exchange::lookup(engine, &host, rtype, self.rng.next_u64(), now_ms) {
                round.step = Step::Addr;
                round.exchange = ex;
                return;
            }
        }
        self.finish(engine, true, now_ms);
    }

    /// Ends the round: publishes what was found (`ok`) and schedules the next refresh, or
    /// keeps the earlier results and schedules a retry.
    fn finish(&mut self, engine: &Engine, ok: bool, now_ms: u64) {
        let Some(round) = self.round.take() else {
            return;
        };
        let Some(job) = self.jobs.get_mut(round.job) else {
            return;
        };
        job.tried = true;
        if ok {
            let ttl_ms = u64::from(round.ttl).saturating_mul(1000);
            if round.probe_failed {
                // Published without the hosts the internal view could not tell about; those
                // are asked again soon.
                job.failures = job.failures.saturating_add(1);
                job.next_at = now_ms.saturating_add(backoff(job.failures));
            } else {
                job.failures = 0;
                job.next_at = now_ms.saturating_add(
                    (ttl_ms / 4 * 3).clamp(PREFETCH_MIN_INTERVAL_MS, PREFETCH_MAX_INTERVAL_MS),
                );
            }
            let found = PrefetchedZone {
                apex: round.apex,
                hosts: round.public,
                kept: round.kept,
                servers: round.servers.into(),
                until: now_ms
                    .saturating_add(ttl_ms.max(PREFETCH_MIN_INTERVAL_MS))
                    .saturating_add(PREFETCH_STALE_MS),
            };
            let zone = job.zone.clone();
            engine.update(|l| l.set_prefetched(&zone, Some(found)));
        } else {
            job.failures = job.failures.saturating_add(1);
            job.next_at = now_ms.saturating_add(backoff(job.failures));
        }
    }
}

/// The wait before the next try of a zone after `failures` failed rounds in a row.
fn backoff(failures: u32) -> u64 {
    PREFETCH_RETRY_MIN_MS
        .saturating_mul(1u64 << failures.saturating_sub(1).min(20))
        .min(PREFETCH_RETRY_MAX_MS)
}

/// The NS hosts (lower-cased wire form) of `owner` in a validated reply's answer, with TTLs.
fn ns_hosts(valid: &Validated, owner: &[u8]) -> Vec<(Vec<u8>, u32)> {
    if valid.response_code != ResponseCode::NoError {
        return Vec::new();
    }
    let mut hosts: Vec<(Vec<u8>, u32)> = Vec::new();
    for r in &valid.answers {
        if let RData::NS(ns) = &r.data
            && name_wire(&r.name) == owner
        {
            let host = name_wire(&ns.0);
            if !hosts.iter().any(|(h, _)| *h == host) {
                hosts.push((host, r.ttl));
            }
        }
    }
    hosts
}

/// The apex named by the SOA of a negative reply's authority section: a strict ancestor of
/// `zone` (lower-cased wire form), not the root.
fn soa_above(valid: &Validated, zone: &[u8]) -> Option<Vec<u8>> {
    valid.authorities.iter().find_map(|r| {
        if !matches!(r.data, RData::SOA(_)) {
            return None;
        }
        let owner = name_wire(&r.name);
        name::ancestors(zone)
            .any(|a| a == owner.as_slice())
            .then_some(owner)
    })
}

#[cfg(test)]
#[path = "prefetch_tests.rs"]
mod tests;

//! The forward exchange: one client question, as a poll-style state machine (sans-IO, in the
//! quinn-proto style). [`Exchange::poll`] says what to do next (send a query to a server, ask
//! the rest of the plugin chain, answer the client, or fail); the caller does the I/O and
//! reports back with [`Exchange::on_reply`] or [`Exchange::on_failure`]. Retries, failover,
//! TC→TCP and the authoritative discovery steps are all decided here, the steps after each event
//! in `plan.rs`. Validation is below; the rewriting for the client is in `rewrite.rs`; the
//! hairpin answers in `hairpin_answer.rs`.
//!
//! The only randomness is the `random` argument of [`Exchange::new`], expanded with splitmix64:
//! every send gets a fresh ID and a fresh 0x20 letter case.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::config::UpstreamMode;
use crate::exchange::client::{Client, QueryError};
use crate::exchange::discovery::Auth;
use crate::exchange::fail_reason::FailReason;
use crate::exchange::probes::{self, Probes};
use crate::exchange::query::SplitMix64;
use crate::exchange::validate::{self, ReplyError, Sent, Validated};
use crate::rules::classify::Verdict;
use crate::rules::policy::{Refusal, RefusalCounts};
use crate::state::engine::{Classified, Engine, Rule, question_check};
use crate::wire::name;
use crate::wire::{HEADER_LEN, Transport};

#[path = "plan.rs"]
mod plan;

/// The most queries one exchange sends (all servers, retries and discovery steps together).
pub const MAX_SENDS: usize = 24;

/// What the caller does next for an [`Exchange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// Send `query` to `server` over `transport`, wait for the reply until `deadline_ms` at
    /// most, then report it with [`Exchange::on_reply`] (over UDP, every datagram from the
    /// server: one that is no reply to this query leaves the exchange waiting), or its absence
    /// with [`Exchange::on_failure`].
    Send {
        /// Where to send it.
        server: SocketAddr,
        /// How to send it.
        transport: Transport,
        /// The query, wire format (prefix it with its length over TCP).
        query: &'a [u8],
        /// When the try is over, on the caller's `now_ms` clock: the earlier of the per-try
        /// `timeout` and the exchange's `max_time`.
        deadline_ms: u64,
    },
    /// Ask the internal view (the rest of the plugin chain, the plugins after this one) this
    /// query, and report its reply with [`Exchange::on_reply`] or its absence (no reply
    /// written, an error) with [`Exchange::on_failure`]. Two uses: a hairpin target's A or
    /// AAAA; and, before a CNAME target or a nameserver host of a reply is learned, its TXT, to
    /// learn whether the internal view knows the name (it is then never learned). A caller
    /// without an internal view reports a failure: the name is then not learned.
    Internal(&'a [u8]),
    /// Done: the validated, rewritten reply for the client.
    Answer(&'a [u8]),
    /// Done: every server failed (or the send budget was spent, or a hairpin target's lookup
    /// failed); the client gets SERVFAIL.
    Fail(FailReason),
}

/// What a send asks, and of which server list.
#[derive(Debug, Clone)]
enum Ask {
    /// The client's question, to resolver `index`, RD set.
    Recursive,
    /// The client's question, to nameserver address `index`, RD clear, AA required.
    Authoritative,
    /// Discovery: SOA of the name (lower case), to resolver `index`.
    Soa(Name),
    /// Discovery: NS of the apex (lower case), to resolver `index`.
    Ns(Name),
    /// Discovery: A or AAAA of a nameserver host (lower case), to resolver `index`.
    Addr(Name, RecordType),
    /// Hairpin: the client's type (A or AAAA) of the target name (lower case), to the rest of
    /// the plugin chain ([`Action::Internal`]), RD set, no 0x20.
    Internal(Name),
    /// Before learning a name from a reply (a CNAME target or a nameserver host, lower case),
    /// or before the prefetch publishes a nameserver host: one of the types learning would
    /// forward ([`probes::probe_types`]), to the rest of the plugin chain
    /// ([`Action::Internal`]), RD set, no 0x20. Only NXDOMAIN lets it be learned.
    Probe(Name, RecordType),
}

impl Ask {
    /// Whether the send goes to the rest of the plugin chain rather than a server.
    fn is_internal(&self) -> bool {
        matches!(self, Ask::Internal(_) | Ask::Probe(..))
    }
}

/// The `server` of an [`Ask::Internal`] send: there is none.
const INTERNAL: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));

/// The send the exchange waits for a reply to.
#[derive(Debug, Clone)]
struct Pending {
    ask: Ask,
    index: usize,
    server: SocketAddr,
    transport: Transport,
    query: Vec<u8>,
    id: u16,
    /// The question section is `query[12..12 + question_len]`.
    question_len: usize,
    /// When this try is over.
    deadline_ms: u64,
}

impl Pending {
    fn question(&self) -> &[u8] {
        self.query
            .get(HEADER_LEN..HEADER_LEN + self.question_len)
            .unwrap_or(&[])
    }
}

#[derive(Debug, Clone)]
enum State {
    Waiting(Pending),
    Answered(Vec<u8>),
    Failed(FailReason),
}

/// One forwarded client question and everything needed to get it answered.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The client's query: its question, and what its reply echoes.
    pub(crate) client: Client,
    pub(crate) max_ttl: u32,
    /// Rules 1 and 4: CNAME targets in replies to the client's question are learned.
    learn_targets: bool,
    /// Rule 1: the ancestors of the client's question name are learned.
    challenge: bool,
    /// A lookup of the engine's own (the prefetch): nothing is learned, and the validated
    /// reply is kept ([`Exchange::take_looked_up`]) instead of an answer being built.
    lookup: bool,
    /// The validated reply behind the answer, once there is one: other clients' answers are
    /// built from it ([`Exchange::answer_for`]), and a lookup's caller takes it.
    validated: Option<Box<Validated>>,
    probes: Option<Box<Probes>>,
    /// The engine's counters of refused facts.
    refused: Arc<RefusalCounts>,
    /// The latest clock reading seen (new, on_reply, on_failure).
    now_ms: u64,
    /// When the whole exchange is over (`max_time` after it began).
    deadline_ms: u64,
    /// The per-try limit, milliseconds.
    timeout_ms: u64,
    resolvers: Vec<SocketAddr>,
    /// The resolvers reached over TLS (a stream): always asked over TCP. Usually empty.
    tls_resolvers: Vec<SocketAddr>,
    rng: SplitMix64,
    sends: usize,
    auth: Option<Box<Auth>>,
    last_error: Option<FailReason>,
    state: State,
}

/// Milliseconds of a duration, saturating.
fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn is_soa_or_ns(t: RecordType) -> bool {
    matches!(t, RecordType::SOA | RecordType::NS)
}

impl Exchange {
    /// Parses the client's query and plans the first send. `client` is how the query arrived
    /// (UDP unless it came over TCP; upstream sends use the same transport). The engine decides
    /// the mode: in authoritative mode, challenge and delegation questions (rules 1 and 4, other
    /// than SOA/NS) go to the zone's nameservers, everything else to the `to` resolvers.
    ///
    /// The first send has an ID and 0x20 letter case from `random` (expanded with a small PRNG),
    /// RD set (clear for a nameserver), EDNS0 kept (DO bit kept, options dropped) or added, UDP
    /// payload UPSTREAM_UDP_PAYLOAD.
    ///
    /// A hairpin question ([`crate::Verdict::Hairpin`]: A or AAAA, class IN, a `hairpin` name
    /// that no forwarding rule takes) is answered instead: with IP targets the first
    /// [`Exchange::poll`] is already the [`Action::Answer`]; with a target name it is one
    /// [`Action::Internal`] lookup, then the answer or [`FailReason::HairpinTarget`].
    pub fn new(
        engine: &Engine,
        client_query: &[u8],
        client: Transport,
        random: u64,
        now_ms: u64,
    ) -> Result<Exchange, QueryError> {
        let client = Client::parse(client_query, client)?;
        let classified = if client.qclass == DNSClass::IN {
            engine.classify_wire(&client.wire, u16::from(client.qtype), now_ms, true)
        } else {
            Classified::PASS
        };
        Ok(Exchange::start(engine, client, classified, random, now_ms))
    }

    /// [`Exchange::new`] for a question that [`Engine::classify_question`] classified: its
    /// rule is used as it is, none runs again. `client_query` must ask the question classified
    /// (name, ASCII case-insensitively, and type; class IN), and the verdict must be
    /// [`Verdict::Forward`] or [`Verdict::Hairpin`]: else [`QueryError::NotClassified`].
    pub fn classified(
        engine: &Engine,
        classified: Classified,
        client_query: &[u8],
        client: Transport,
        random: u64,
        now_ms: u64,
    ) -> Result<Exchange, QueryError> {
        let client = Client::parse(client_query, client)?;
        let asked = client.qclass == DNSClass::IN
            && classified.verdict != Verdict::Pass
            && classified.check == question_check(&client.wire, u16::from(client.qtype));
        if !asked {
            return Err(QueryError::NotClassified);
        }
        Ok(Exchange::start(engine, client, classified, random, now_ms))
    }

    /// Plans the first send (or the hairpin answer) of a parsed client question.
    fn start(
        engine: &Engine,
        client: Client,
        classified: Classified,
        random: u64,
        now_ms: u64,
    ) -> Exchange {
        let config = engine.config();
        let qtype = client.qtype;
        let rule = classified.rule;
        // Hairpin: an A or AAAA question no forwarding rule takes, for a name in the table.
        let hairpin = match classified.verdict {
            Verdict::Hairpin => config
                .hairpin()
                .target(&client.wire, u16::from(qtype))
                .cloned(),
            _ => None,
        };
        let learn_targets = rule.is_some_and(Rule::is_challenge_like);
        let authoritative = config.upstream_mode() == UpstreamMode::Authoritative
            && learn_targets
            && !is_soa_or_ns(qtype);

        let mut ex = Exchange {
            learn_targets,
            challenge: rule == Some(Rule::Challenge),
            ..Exchange::blank(engine, client, random, now_ms)
        };
        if let Some(target) = hairpin {
            ex.start_hairpin(target);
        } else if authoritative {
            let mut auth = Auth::default();
            if let Some((apex, servers)) = engine.learned_servers(&ex.client.wire, now_ms) {
                auth.apex = Name::from_labels(name::labels(&apex)).ok();
                auth.addrs = servers;
                auth.from_learned = true;
            }
            let from_learned = auth.from_learned;
            ex.auth = Some(Box::new(auth));
            if from_learned {
                ex.next_nameserver();
            } else {
                ex.start_discovery();
            }
        } else {
            ex.send_to_resolver(Ask::Recursive, 0);
        }
        ex
    }

    /// The engine's own lookup of `name` (lower-cased wire form) and `qtype` through the `to`
    /// resolvers (RD set, failover, TC→TCP, every check on the reply), for the prefetch.
    /// Nothing is learned from it; once [`Exchange::poll`] says [`Action::Answer`] (with an
    /// empty message), [`Exchange::take_looked_up`] gives the validated reply.
    pub(crate) fn lookup(
        engine: &Engine,
        name: &[u8],
        qtype: RecordType,
        random: u64,
        now_ms: u64,
    ) -> Option<Exchange> {
        let mut ex = Exchange::own_lookup(engine, name, qtype, random, now_ms)?;
        ex.send_to_resolver(Ask::Recursive, 0);
        Some(ex)
    }

    /// The prefetch's question to the internal view about a nameserver host it found:
    /// `qtype` (A or AAAA) of `name` (lower-cased wire form), as one [`Action::Internal`].
    /// Nothing is learned from it; once [`Exchange::poll`] says [`Action::Answer`] (with an
    /// empty message), [`Exchange::take_looked_up`] gives the validated reply; no usable reply
    /// ends in [`Action::Fail`].
    pub(crate) fn internal_lookup(
        engine: &Engine,
        name: &[u8],
        qtype: RecordType,
        random: u64,
        now_ms: u64,
    ) -> Option<Exchange> {
        let mut ex = Exchange::own_lookup(engine, name, qtype, random, now_ms)?;
        let asked = ex.client.name.clone();
        ex.send(Ask::Probe(asked, qtype), 0, INTERNAL, Transport::Udp);
        Some(ex)
    }

    /// An exchange of the engine's own for `qtype` of `name` (lower-cased wire form), nothing
    /// sent yet: what [`Exchange::lookup`] and [`Exchange::internal_lookup`] share.
    fn own_lookup(
        engine: &Engine,
        name: &[u8],
        qtype: RecordType,
        random: u64,
        now_ms: u64,
    ) -> Option<Exchange> {
        let client_name = Name::from_labels(name::labels(name)).ok()?;
        Some(Exchange {
            lookup: true,
            ..Exchange::blank(
                engine,
                Client::lookup(client_name, name.to_vec(), qtype),
                random,
                now_ms,
            )
        })
    }

    /// An exchange of `engine` for `client`'s question, nothing sent yet: the fields every
    /// exchange shares, for `new` and `lookup` to complete.
    fn blank(engine: &Engine, client: Client, random: u64, now_ms: u64) -> Exchange {
        let config = engine.config();
        Exchange {
            client,
            max_ttl: config.max_ttl(),
            learn_targets: false,
            challenge: false,
            lookup: false,
            validated: None,
            probes: None,
            refused: engine.refusal_counts(),
            now_ms,
            deadline_ms: now_ms.saturating_add(millis(config.max_time())),
            timeout_ms: millis(config.timeout()),
            resolvers: config.upstreams().to_vec(),
            tls_resolvers: config.tls_upstreams().to_vec(),
            rng: SplitMix64(random),
            sends: 0,
            auth: None,
            last_error: None,
            state: State::Failed(FailReason::NoNameservers),
        }
    }

    /// The validated reply of a [`Exchange::lookup`] that was answered.
    pub(crate) fn take_looked_up(&mut self) -> Option<Box<Validated>> {
        self.validated.take()
    }

    /// The validated reply behind the client's answer, once [`Exchange::poll`] says
    /// [`Action::Answer`].
    pub(crate) fn answered(&self) -> Option<&Validated> {
        match self.state {
            State::Answered(_) => self.validated.as_deref(),
            _ => None,
        }
    }

    /// What to do next: send a query, ask the rest of the plugin chain, answer the client, or
    /// fail.
    pub fn poll(&self) -> Action<'_> {
        match &self.state {
            State::Waiting(p) if p.ask.is_internal() => Action::Internal(&p.query),
            State::Waiting(p) => Action::Send {
                server: p.server,
                transport: p.transport,
                query: &p.query,
                deadline_ms: p.deadline_ms,
            },
            State::Answered(reply) => Action::Answer(reply),
            State::Failed(reason) => Action::Fail(*reason),
        }
    }

    /// Whether the exchange waits for the reply to an [`Action::Send`] or [`Action::Internal`].
    pub fn is_waiting(&self) -> bool {
        matches!(self.state, State::Waiting(_))
    }

    /// How many queries were sent so far (at most [`MAX_SENDS`]).
    pub fn sends(&self) -> usize {
        self.sends
    }

    /// Whether the client's question goes to the zone's nameservers (authoritative mode) rather
    /// than to the resolvers.
    pub fn is_authoritative(&self) -> bool {
        self.auth.is_some()
    }

    /// A reply to the last [`Action::Send`] or [`Action::Internal`]. Validated; on success the
    /// exchange learns from it (engine state) and moves on (to the answer, or the next discovery
    /// step); on error it moves to the next server (TC over UDP: the same server over TCP). The
    /// error is returned for metrics and logs only; [`ReplyError::ExchangeDone`] when no reply
    /// was awaited (nothing changes then).
    ///
    /// The reply to an [`Action::Internal`] passes the same checks (QR, ID, opcode, question
    /// byte for byte, sections, answer records on the target name and its CNAME chain); its A or
    /// AAAA records become the client's answer. Anything but a valid NOERROR reply fails the
    /// exchange ([`FailReason::HairpinTarget`]); nothing is learned from it.
    pub fn on_reply(
        &mut self,
        engine: &Engine,
        reply: &[u8],
        now_ms: u64,
    ) -> Result<(), ReplyError> {
        let State::Waiting(pending) = &self.state else {
            return Err(ReplyError::ExchangeDone);
        };
        self.now_ms = self.now_ms.max(now_ms);
        if now_ms >= pending.deadline_ms && !pending.ask.is_internal() {
            // The try is over: whatever this is, it is dropped, and the exchange moves on.
            self.on_failure(now_ms);
            return Err(ReplyError::Late);
        }
        let result = self.validate_for(pending, reply);
        if let Err(e) = result
            && e.is_unsolicited()
            && pending.transport == Transport::Udp
            && !pending.ask.is_internal()
        {
            // Not a reply to this query (forged, stale or stray): the true one may still come.
            return Err(e);
        }
        let State::Waiting(pending) =
            std::mem::replace(&mut self.state, State::Failed(FailReason::NoReply))
        else {
            return Err(ReplyError::ExchangeDone);
        };
        if let Ask::Probe(target, _) = pending.ask {
            if self.lookup {
                // The prefetch's own question: it takes the reply and decides.
                let outcome = result.map(|valid| self.validated = Some(Box::new(valid)));
                self.state = match outcome {
                    Ok(()) => State::Answered(Vec::new()),
                    Err(e) => State::Failed(FailReason::Reply(e)),
                };
                return outcome;
            }
            let view = probes::internal_view(result.as_ref().ok());
            self.probed(engine, target, view, now_ms);
            return result.map(|_| ());
        }
        match result {
            Err(e) => {
                self.last_error = Some(FailReason::Reply(e));
                if e == ReplyError::Truncated
                    && pending.transport == Transport::Udp
                    && !pending.ask.is_internal()
                {
                    self.send(pending.ask, pending.index, pending.server, Transport::Tcp);
                } else {
                    self.next_after(pending.ask, pending.index);
                }
                Err(e)
            }
            Ok(valid) => {
                self.last_error = None;
                self.learn(engine, &pending.ask, &valid, now_ms);
                self.proceed(engine, pending, valid, now_ms)
            }
        }
    }

    /// The last [`Action::Send`] got no usable reply (timeout, network error): move to the next
    /// server. After an [`Action::Internal`] (the rest of the plugin chain wrote no reply): fail.
    /// Does nothing when no reply was awaited.
    pub fn on_failure(&mut self, now_ms: u64) {
        if !self.is_waiting() {
            return;
        }
        self.now_ms = self.now_ms.max(now_ms);
        let State::Waiting(pending) =
            std::mem::replace(&mut self.state, State::Failed(FailReason::NoReply))
        else {
            return;
        };
        if matches!(pending.ask, Ask::Probe(..)) {
            if self.lookup {
                // The prefetch's own question: it sees the failure.
                return;
            }
            // The internal view could not tell: the target is not learned; the answer stands.
            self.refuse_probe(Refusal::InternalLookupFailed);
            self.next_probe();
            return;
        }
        self.last_error = Some(FailReason::NoReply);
        self.next_after(pending.ask, pending.index);
    }

    /// When the try waiting for a reply is over (`None` when none is).
    pub(crate) fn deadline_ms(&self) -> Option<u64> {
        match &self.state {
            State::Waiting(p) => Some(p.deadline_ms),
            _ => None,
        }
    }

    /// The ID of the query waiting for a reply (0 when none is).
    pub fn upstream_id(&self) -> u16 {
        match &self.state {
            State::Waiting(p) => p.id,
            _ => 0,
        }
    }

    /// The question section of the query waiting for a reply, byte for byte (name with its 0x20
    /// case, type, class); empty when none is.
    pub fn question(&self) -> &[u8] {
        match &self.state {
            State::Waiting(p) => p.question(),
            _ => &[],
        }
    }

    /// The ID of the client's query (and of the reply to it).
    pub fn client_id(&self) -> u16 {
        self.client.id
    }

    /// The largest reply the client takes over UDP: its EDNS0 size (at least 512), or 512.
    pub fn client_udp_size(&self) -> u16 {
        self.client.udp_size
    }

    /// `Some(dnssec_ok)` when the client's query had an OPT record, `None` otherwise.
    pub fn client_edns(&self) -> Option<bool> {
        self.client.edns
    }

    // ---- validation ----------------------------------------------------------------------

    /// All checks on a reply to the query waiting for one; returns the parts that go on.
    #[cfg(test)]
    pub(crate) fn validate(&self, reply: &[u8]) -> Result<Validated, ReplyError> {
        match &self.state {
            State::Waiting(p) => self.validate_for(p, reply),
            _ => Err(ReplyError::ExchangeDone),
        }
    }

    fn validate_for(&self, p: &Pending, reply: &[u8]) -> Result<Validated, ReplyError> {
        validate::validate(
            reply,
            &Sent {
                id: p.id,
                question: p.question(),
                transport: p.transport,
                authoritative: matches!(p.ask, Ask::Authoritative),
                // Only the client's own question is asked with its DO bit.
                dnssec_ok: matches!(p.ask, Ask::Recursive | Ask::Authoritative)
                    && self.client.dnssec_ok(),
            },
        )
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "machine_forgery_tests.rs"]
mod forgery_tests;

#[cfg(test)]
#[path = "machine_authoritative_tests.rs"]
mod authoritative_tests;

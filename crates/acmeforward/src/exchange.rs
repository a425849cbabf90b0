//! The forward exchange: one client question, as a poll-style state machine (sans-IO, in the
//! quinn-proto style). [`Exchange::poll`] says what to do next (send a query to a server, ask
//! the rest of the plugin chain, answer the client, or fail); the caller does the I/O and
//! reports back with [`Exchange::on_reply`] or [`Exchange::on_failure`]. Retries, failover,
//! TC→TCP and the authoritative discovery steps are all decided here. Validation is below; the
//! rewriting for the client is in `rewrite.rs`; the hairpin answers in `hairpin_answer.rs`.
//!
//! The only randomness is the `random` argument of [`Exchange::new`], expanded with splitmix64:
//! every send gets a fresh ID and a fresh 0x20 letter case.

use core::fmt;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::client::Client;
use crate::config::{DEFAULT_PORT, UpstreamMode};
use crate::engine::{Engine, Rule};
use crate::hairpin_answer;
use crate::hairpin_table::Target;
use crate::learned::Fact;
use crate::name;
use crate::policy::{self, Refusal, RefusalCounts};
use crate::rewrite;
use crate::wire::{
    FLAG_AD, FLAG_CD, FLAG_QR, FLAG_RD, FLAG_TC, HEADER_LEN, MAX_CLIENT_UDP_PAYLOAD, MAX_LABEL_LEN,
    MAX_WIRE_LEN, OPCODE_MASK, OPT_FLAG_DO, TYPE_DNAME, TYPE_OPT, Transport, UPSTREAM_UDP_PAYLOAD,
};

/// Longest CNAME chain followed in a reply (links, not counting the question name).
pub const MAX_CNAME_CHAIN: usize = 32;

/// The most queries one exchange sends (all servers, retries and discovery steps together).
pub const MAX_SENDS: usize = 24;

/// The most nameserver host names taken from one NS reply (authoritative mode).
pub const MAX_NS_HOSTS: usize = 13;

/// The most nameserver addresses one exchange collects (authoritative mode).
pub const MAX_NS_ADDRS: usize = 32;

/// The most names of one reply (CNAME targets, nameserver hosts) that the internal view is
/// asked about, and so may be learned; the rest are not learned.
pub const MAX_PROBES: usize = 8;

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

/// Why an exchange gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailReason {
    /// The last reply seen was rejected for this reason.
    Reply(ReplyError),
    /// The last send got no usable reply (timeout, network error: [`Exchange::on_failure`]).
    NoReply,
    /// [`MAX_SENDS`] queries were sent without an answer.
    SendLimit,
    /// Authoritative mode: the resolvers' replies named no zone, nameserver or address to ask.
    NoNameservers,
    /// The exchange's `max_time` ran out.
    TimeLimit,
    /// Hairpin: the lookup of the target name through the rest of the plugin chain failed (no
    /// reply, an invalid one, SERVFAIL, REFUSED, NXDOMAIN). The target is configured and must
    /// exist; a negative answer would be cached by clients as the truth about the public name.
    HairpinTarget,
}

impl FailReason {
    /// A static, operator-readable description.
    pub fn as_str(&self) -> &'static str {
        match self {
            FailReason::Reply(e) => e.as_str(),
            FailReason::NoReply => "no reply from the last server tried (timeout or network error)",
            FailReason::SendLimit => "gave up after the most queries one exchange may send",
            FailReason::NoNameservers => {
                "authoritative mode: no zone nameserver address found through the resolvers"
            }
            FailReason::TimeLimit => "gave up when the exchange's max_time ran out",
            FailReason::HairpinTarget => {
                "hairpin: the lookup of the target name through the rest of the plugin chain failed (no reply, an invalid reply, SERVFAIL, REFUSED or NXDOMAIN)"
            }
        }
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// Before learning a name from a reply (a CNAME target or a nameserver host, lower case):
    /// its TXT, to the rest of the plugin chain ([`Action::Internal`]), RD set, no 0x20. Only
    /// NXDOMAIN lets it be learned.
    Probe(Name),
}

impl Ask {
    /// Whether the send goes to the rest of the plugin chain rather than a server.
    fn is_internal(&self) -> bool {
        matches!(self, Ask::Internal(_) | Ask::Probe(_))
    }
}

/// The client's answer, held while the internal view is asked about the names of the reply
/// that could be learned.
#[derive(Debug, Clone)]
struct Probes {
    answer: Vec<u8>,
    /// Names still to ask about, with what would be learned and the TTL of its record.
    names: VecDeque<(Name, Fact, u32)>,
    /// The fact and TTL of the name being asked about.
    current: (Fact, u32),
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

/// Authoritative mode: the zone's nameservers as found so far.
#[derive(Debug, Clone, Default)]
struct Auth {
    /// The zone apex (lower case), once known.
    apex: Option<Name>,
    /// Nameserver addresses (port 53), in the order to try them.
    addrs: Vec<SocketAddr>,
    /// How many of `addrs` were tried.
    tried: usize,
    /// A/AAAA lookups still to do for nameserver hosts that came without glue.
    lookups: VecDeque<(Name, RecordType)>,
    /// The smallest TTL of the NS and address records behind `addrs`.
    ttl: u32,
    /// `addrs` came from the learned state (then a failure falls back to discovery, once).
    from_learned: bool,
    fell_back: bool,
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

/// splitmix64: expands the caller's one random word into as many as needed.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Appends the wire form of a parsed name, each octet passed through `octet`.
fn push_name(out: &mut Vec<u8>, n: &Name, mut octet: impl FnMut(u8) -> u8) {
    for label in n.iter() {
        // Hickory only holds labels of 1 ..= 63 octets.
        let label = label.get(..label.len().min(MAX_LABEL_LEN)).unwrap_or(&[]);
        out.push(label.len() as u8);
        out.extend(label.iter().map(|&b| octet(b)));
    }
    out.push(0);
}

/// Lower-cased wire form of a parsed name.
pub(crate) fn name_wire(n: &Name) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    push_name(&mut out, n, |b| b.to_ascii_lowercase());
    out
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
        let config = engine.config();
        let (qtype, qclass) = (client.qtype, client.qclass);
        let rule = if qclass == DNSClass::IN {
            engine.rule_wire(&client.wire, u16::from(qtype), now_ms)
        } else {
            None
        };
        // Hairpin: an A or AAAA question no forwarding rule takes, for a name in the
        // table.
        let hairpin = match (rule, qclass) {
            (None, DNSClass::IN) => config
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
        Ok(ex)
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
        let client_name = Name::from_labels(name::labels(name)).ok()?;
        let mut ex = Exchange {
            lookup: true,
            ..Exchange::blank(
                engine,
                Client::lookup(client_name, name.to_vec(), qtype),
                random,
                now_ms,
            )
        };
        ex.send_to_resolver(Ask::Recursive, 0);
        Some(ex)
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
        if let Ask::Probe(target) = pending.ask {
            self.probed(engine, target, result.as_ref().ok(), now_ms);
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
        if matches!(pending.ask, Ask::Probe(_)) {
            // The internal view could not tell: the target is not learned; the answer stands.
            self.refuse_probe(Refusal::InternalLookupFailed);
            self.next_probe();
            return;
        }
        self.last_error = Some(FailReason::NoReply);
        self.next_after(pending.ask, pending.index);
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

    /// The largest reply the client takes over UDP: its EDNS0 size clamped to 512..=4096, or 512.
    pub fn client_udp_size(&self) -> u16 {
        self.client.udp_size
    }

    /// `Some(dnssec_ok)` when the client's query had an OPT record, `None` otherwise.
    pub fn client_edns(&self) -> Option<bool> {
        self.client.edns
    }

    // ---- planning ------------------------------------------------------------------------

    fn fail(&mut self, reason: FailReason) {
        self.state = State::Failed(reason);
    }

    /// Fails with the last error seen, or `otherwise` when there was none.
    fn fail_last(&mut self, otherwise: FailReason) {
        let reason = self.last_error.unwrap_or(otherwise);
        self.fail(reason);
    }

    fn send_to_resolver(&mut self, ask: Ask, index: usize) {
        match self.resolvers.get(index) {
            Some(&server) => self.send(ask, index, server, self.client.transport),
            None => self.resolvers_exhausted(ask),
        }
    }

    /// Every resolver failed `ask`.
    fn resolvers_exhausted(&mut self, ask: Ask) {
        match ask {
            // A nameserver host whose address could not be found: try the rest.
            Ask::Addr(..) => self.next_nameserver(),
            _ => self.fail_last(FailReason::NoNameservers),
        }
    }

    /// The server of `ask` (number `index` of its list) failed: the next one.
    fn next_after(&mut self, ask: Ask, index: usize) {
        match ask {
            Ask::Authoritative => self.next_nameserver(),
            // There is one plugin chain: nothing else to ask.
            Ask::Internal(_) => self.fail(FailReason::HairpinTarget),
            // Handled in on_reply / on_failure; never retried.
            Ask::Probe(_) => self.next_probe(),
            other => self.send_to_resolver(other, index + 1),
        }
    }

    fn start_discovery(&mut self) {
        match Name::from_labels(name::labels(&self.client.wire)) {
            Ok(n) => self.send_to_resolver(Ask::Soa(n), 0),
            Err(_) => self.fail(FailReason::NoNameservers),
        }
    }

    /// Authoritative mode: the next nameserver address to ask, or the next address lookup, or
    /// (for learned addresses that all failed) discovery from scratch.
    fn next_nameserver(&mut self) {
        let Some(auth) = self.auth.as_deref_mut() else {
            self.fail_last(FailReason::NoNameservers);
            return;
        };
        if let Some(&server) = auth.addrs.get(auth.tried) {
            let index = auth.tried;
            auth.tried += 1;
            self.send(Ask::Authoritative, index, server, self.client.transport);
        } else if let Some((host, rtype)) = auth.lookups.pop_front() {
            self.send_to_resolver(Ask::Addr(host, rtype), 0);
        } else if auth.from_learned && !auth.fell_back {
            *auth = Auth {
                fell_back: true,
                ..Auth::default()
            };
            self.start_discovery();
        } else {
            self.fail_last(FailReason::NoNameservers);
        }
    }

    /// Hairpin: answers with IP targets at once, or asks the rest of the plugin chain for the
    /// target name's addresses.
    fn start_hairpin(&mut self, target: Target) {
        match target {
            Target::Addrs(addrs) => {
                let answer = hairpin_answer::static_answer(self, &addrs);
                let _ = self.answer_hairpin(answer);
            }
            Target::Name(target) => {
                self.send(Ask::Internal(target), 0, INTERNAL, self.client.transport);
            }
        }
    }

    /// Hairpin: builds the client's reply from the answer's records.
    fn answer_hairpin(&mut self, answer: Validated) -> Result<(), ReplyError> {
        let mut out = Vec::new();
        match rewrite::client_reply(&self.client, self.max_ttl, &answer, &mut out) {
            Ok(()) => {
                self.state = State::Answered(out);
                self.validated = Some(Box::new(answer));
                Ok(())
            }
            Err(e) => {
                self.fail(FailReason::Reply(e));
                Err(e)
            }
        }
    }

    /// Builds the query for `ask` and waits for its reply (or fails when the budget is spent).
    fn send(&mut self, ask: Ask, index: usize, server: SocketAddr, transport: Transport) {
        // Questions to the internal view about names to learn have their own bound
        // (MAX_PROBES) and never cost the client an answer already built.
        if !matches!(ask, Ask::Probe(_)) {
            if self.sends >= MAX_SENDS {
                self.fail(FailReason::SendLimit);
                return;
            }
            if !ask.is_internal() && self.now_ms >= self.deadline_ms {
                self.fail(FailReason::TimeLimit);
                return;
            }
            self.sends += 1;
        }
        let deadline_ms = self
            .now_ms
            .saturating_add(self.timeout_ms)
            .min(self.deadline_ms);
        let discovery = QueryFlags {
            rd: true,
            flags2: 0,
            dnssec_ok: false,
            mix_case: true,
        };
        let (name, qtype, qclass, flags) = match &ask {
            Ask::Recursive | Ask::Authoritative => {
                let mut flags2 = 0u8;
                if self.client.ad {
                    flags2 |= FLAG_AD;
                }
                if self.client.cd {
                    flags2 |= FLAG_CD;
                }
                let flags = QueryFlags {
                    rd: matches!(ask, Ask::Recursive),
                    flags2,
                    dnssec_ok: self.client.edns == Some(true),
                    mix_case: true,
                };
                (
                    &self.client.name,
                    self.client.qtype,
                    self.client.qclass,
                    flags,
                )
            }
            Ask::Soa(n) => (n, RecordType::SOA, DNSClass::IN, discovery),
            Ask::Ns(n) => (n, RecordType::NS, DNSClass::IN, discovery),
            Ask::Addr(n, t) => (n, *t, DNSClass::IN, discovery),
            // In-process: nothing to spoof, and plugins keep their own letter case.
            Ask::Internal(n) => (
                n,
                self.client.qtype,
                DNSClass::IN,
                QueryFlags {
                    mix_case: false,
                    ..discovery
                },
            ),
            Ask::Probe(n) => (
                n,
                RecordType::TXT,
                DNSClass::IN,
                QueryFlags {
                    mix_case: false,
                    ..discovery
                },
            ),
        };
        let (query, id, question_len) = build_query(&mut self.rng, name, qtype, qclass, flags);
        self.state = State::Waiting(Pending {
            ask,
            index,
            server,
            transport,
            query,
            id,
            question_len,
            deadline_ms,
        });
    }

    /// A validated reply to `pending`: the next step.
    fn proceed(
        &mut self,
        engine: &Engine,
        pending: Pending,
        valid: Validated,
        now_ms: u64,
    ) -> Result<(), ReplyError> {
        match pending.ask {
            Ask::Recursive if self.lookup => {
                self.validated = Some(Box::new(valid));
                self.state = State::Answered(Vec::new());
            }
            Ask::Recursive | Ask::Authoritative => {
                let mut out = Vec::new();
                if let Err(e) = rewrite::client_reply(&self.client, self.max_ttl, &valid, &mut out)
                {
                    self.last_error = Some(FailReason::Reply(e));
                    self.next_after(pending.ask, pending.index);
                    return Err(e);
                }
                if matches!(pending.ask, Ask::Authoritative) {
                    self.learn_nameservers(engine, pending.index, now_ms);
                }
                self.start_probes(engine, &valid, out, now_ms);
                self.validated = Some(Box::new(valid));
            }
            Ask::Internal(_) => {
                // NXDOMAIN (or YXDOMAIN) for a configured target: SERVFAIL, never a negative
                // answer about the public name.
                if valid.response_code != ResponseCode::NoError {
                    self.fail(FailReason::HairpinTarget);
                    return Ok(());
                }
                let answer = hairpin_answer::internal_answer(self, &valid);
                self.answer_hairpin(answer)?;
            }
            Ask::Soa(asked) => match soa_apex(&valid, &asked) {
                Some(apex) if !apex.is_root() => {
                    if let Some(auth) = self.auth.as_deref_mut() {
                        auth.apex = Some(apex.clone());
                    }
                    self.send_to_resolver(Ask::Ns(apex), 0);
                }
                Some(_) => self.fail(FailReason::NoNameservers),
                None => {
                    // No SOA at or above the name (e.g. it is a CNAME into another zone): one
                    // label up (never to the root), as the propagation checkers walk.
                    let wire = name_wire(&asked);
                    let parent = name::ancestors(&wire)
                        .next()
                        .and_then(|p| Name::from_labels(name::labels(p)).ok());
                    match parent {
                        Some(parent) => self.send_to_resolver(Ask::Soa(parent), 0),
                        None => self.fail(FailReason::NoNameservers),
                    }
                }
            },
            Ask::Ns(apex) => {
                let Some(auth) = self.auth.as_deref_mut() else {
                    self.fail(FailReason::NoNameservers);
                    return Ok(());
                };
                add_nameservers(engine, auth, &valid, &apex);
                if auth.addrs.is_empty() && auth.lookups.is_empty() {
                    self.fail(FailReason::NoNameservers);
                } else {
                    self.next_nameserver();
                }
            }
            Ask::Addr(_, rtype) => {
                if let Some(auth) = self.auth.as_deref_mut() {
                    for r in &valid.answers {
                        let ip = match (&r.data, rtype) {
                            (RData::A(a), RecordType::A) => IpAddr::V4(a.0),
                            (RData::AAAA(a), RecordType::AAAA) => IpAddr::V6(a.0),
                            _ => continue,
                        };
                        add_addr(engine, auth, ip, r.ttl);
                    }
                }
                self.next_nameserver();
            }
            // Answered in on_reply.
            Ask::Probe(_) => {}
        }
        Ok(())
    }

    /// The client's answer is ready: first ask the internal view about the names of the reply
    /// that could be learned (CNAME targets of a challenge reply, nameserver hosts that pass
    /// the rules and are not forwarded yet), then answer. A name the internal view knows is
    /// never learned: public data never decides an internal name.
    fn start_probes(&mut self, engine: &Engine, valid: &Validated, answer: Vec<u8>, now_ms: u64) {
        let config = engine.config();
        let mut names: VecDeque<(Name, Fact, u32)> = VecDeque::new();
        let add = |names: &mut VecDeque<(Name, Fact, u32)>, name: &Name, fact, ttl| {
            let name = name.to_lowercase();
            if names.iter().any(|(n, ..)| *n == name) {
                return;
            }
            if names.len() >= MAX_PROBES {
                engine.refuse(Refusal::Limit);
                return;
            }
            names.push_back((name, fact, ttl));
        };
        if self.learn_targets {
            for r in &valid.answers {
                let RData::CNAME(target) = &r.data else {
                    continue;
                };
                let wire = name_wire(&target.0);
                if let Err(why) = policy::name_allowed(config, &wire) {
                    engine.refuse(why);
                    continue;
                }
                // Forwarded already (a challenge name, a delegated zone, learned): no news.
                if engine
                    .rule_wire(&wire, u16::from(RecordType::TXT), now_ms)
                    .is_some_and(|r| {
                        matches!(r, Rule::Challenge | Rule::Delegated | Rule::CnameTarget)
                    })
                {
                    continue;
                }
                add(&mut names, &target.0, Fact::CnameTarget, r.ttl);
            }
        }
        if config.discovery() {
            for r in valid.answers.iter().chain(&valid.authorities) {
                let RData::NS(ns) = &r.data else {
                    continue;
                };
                let host = name_wire(&ns.0);
                if let Err(why) = policy::ns_host_allowed(config, &host, &name_wire(&r.name)) {
                    engine.refuse(why);
                    continue;
                }
                if engine.rule_wire(&host, u16::from(RecordType::A), now_ms) == Some(Rule::NsHost) {
                    continue;
                }
                add(&mut names, &ns.0, Fact::NsHost, r.ttl);
            }
        }
        if names.is_empty() {
            self.state = State::Answered(answer);
            return;
        }
        self.probes = Some(Box::new(Probes {
            answer,
            names,
            current: (Fact::NsHost, 0),
        }));
        self.next_probe();
    }

    /// Asks the internal view about the next name, or answers the client.
    fn next_probe(&mut self) {
        let Some(probes) = self.probes.as_deref_mut() else {
            return;
        };
        match probes.names.pop_front() {
            Some((name, fact, ttl)) => {
                probes.current = (fact, ttl);
                self.send(Ask::Probe(name), 0, INTERNAL, self.client.transport);
            }
            None => {
                let answer = std::mem::take(&mut probes.answer);
                self.probes = None;
                self.state = State::Answered(answer);
            }
        }
    }

    /// The internal view answered about `name`: NXDOMAIN (a name it does not know) lets it be
    /// learned (a CNAME target with its ancestors, for the SOA walk); anything else refuses it.
    /// Then the next probe.
    fn probed(&mut self, engine: &Engine, name: Name, valid: Option<&Validated>, now_ms: u64) {
        let (fact, ttl) = self
            .probes
            .as_deref()
            .map_or((Fact::NsHost, 0), |p| p.current);
        match valid.map(|v| v.response_code) {
            Some(ResponseCode::NXDomain) => {
                let wire = name_wire(&name);
                let ancestors = fact == Fact::CnameTarget && engine.config().discovery();
                engine.update(|l| {
                    l.learn(&wire, fact, ttl, now_ms);
                    if ancestors {
                        for a in name::ancestors(&wire) {
                            l.learn(a, Fact::Ancestor, ttl, now_ms);
                        }
                    }
                });
            }
            Some(_) => engine.refuse(Refusal::InternalName),
            None => engine.refuse(Refusal::InternalLookupFailed),
        }
        self.next_probe();
    }

    /// Counts a refused fact where the engine is not at hand.
    fn refuse_probe(&self, why: Refusal) {
        self.refused.count(why);
    }

    /// Authoritative mode, after nameserver `index` answered: learn apex → addresses (that one
    /// first), unless they came from the learned state.
    fn learn_nameservers(&self, engine: &Engine, index: usize, now_ms: u64) {
        let Some(auth) = self.auth.as_deref() else {
            return;
        };
        let Some(apex) = &auth.apex else {
            return;
        };
        if auth.from_learned || auth.addrs.is_empty() {
            return;
        }
        let mut servers = Vec::with_capacity(auth.addrs.len());
        servers.extend(auth.addrs.get(index).copied());
        servers.extend(
            auth.addrs
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != index)
                .map(|(_, a)| *a),
        );
        let apex = name_wire(apex);
        engine.update(|l| l.learn_servers(&apex, &servers, auth.ttl, now_ms));
    }

    /// Learns from a validated reply: NS targets (rule 3), CNAME targets of replies to a
    /// challenge or delegation question and their ancestors (rules 4 and 5), ancestors of a
    /// challenge name (rule 5).
    fn learn(&self, engine: &Engine, ask: &Ask, valid: &Validated, now_ms: u64) {
        if ask.is_internal() || self.lookup {
            // The rest of the plugin chain's view, or the prefetch's own lookup: nothing to
            // forward because of it.
            return;
        }
        let config = engine.config();
        let discovery = config.discovery();
        let mut facts: Vec<(Vec<u8>, Fact, u32)> = Vec::new();
        // CNAME targets and nameserver hosts are learned only after the internal view was
        // asked about them (start_probes). The ancestors of a challenge name: with zones
        // listed, the static rules already forward SOA/NS in them, and nothing above them is
        // needed.
        let about_client_name = matches!(ask, Ask::Recursive | Ask::Authoritative);
        if about_client_name && self.challenge && discovery && !config.zones_listed() {
            let ttl = valid.answers.iter().map(|r| r.ttl).max().unwrap_or(0);
            for a in name::ancestors(&self.client.wire) {
                facts.push((a.to_vec(), Fact::Ancestor, ttl));
            }
        }
        if facts.is_empty() {
            return;
        }
        engine.update(|l| {
            for (name, fact, ttl) in &facts {
                l.learn(name, *fact, *ttl, now_ms);
            }
        });
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
        // Too short to carry an ID: nothing says it is a reply to this query.
        let header: [u8; HEADER_LEN] = reply
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(ReplyError::NotAResponse)?;
        let [id_hi, id_lo, flags1, _flags2, qd_hi, qd_lo, ..] = header;
        if flags1 & FLAG_QR == 0 {
            return Err(ReplyError::NotAResponse);
        }
        if u16::from_be_bytes([id_hi, id_lo]) != p.id {
            return Err(ReplyError::IdMismatch);
        }
        if flags1 & OPCODE_MASK != 0 {
            return Err(ReplyError::OpcodeMismatch);
        }
        if u16::from_be_bytes([qd_hi, qd_lo]) != 1 {
            return Err(ReplyError::QuestionMismatch);
        }
        let question = p.question();
        if reply.get(HEADER_LEN..HEADER_LEN + question.len()) != Some(question) {
            return Err(ReplyError::QuestionMismatch);
        }
        // A truncated reply may be cut anywhere: check TC before parsing the records. A UDP
        // reply larger than any UDP payload we take is treated alike: retried over TCP.
        if flags1 & FLAG_TC != 0
            || (p.transport == Transport::Udp && reply.len() > usize::from(MAX_CLIENT_UDP_PAYLOAD))
        {
            return Err(ReplyError::Truncated);
        }

        let msg = Message::from_vec(reply).map_err(|_| ReplyError::Malformed)?;
        let Message {
            metadata,
            queries,
            answers,
            authorities,
            additionals,
            ..
        } = msg;
        match metadata.response_code {
            // YXDOMAIN: a DNAME substitution made a name that is too long (RFC 6672 §2.2).
            ResponseCode::NoError | ResponseCode::NXDomain | ResponseCode::YXDomain => {}
            _ => return Err(ReplyError::UpstreamFailure),
        }
        if matches!(p.ask, Ask::Authoritative) && !metadata.authoritative {
            return Err(ReplyError::NotAuthoritative);
        }
        let (asked, qclass) = match queries.first() {
            Some(q) => (q.name(), q.query_class()),
            None => return Err(ReplyError::QuestionMismatch),
        };

        let chain = cname_chain(asked, &answers)?;
        for record in &answers {
            if record.dns_class != qclass {
                return Err(ReplyError::ForeignRecord);
            }
            let on_chain = chain.iter().any(|n| **n == record.name);
            // A DNAME on an ancestor of a chain name rewrites it; the synthesized CNAME follows.
            let dname_above = record.record_type() == RecordType::DNAME
                && chain
                    .iter()
                    .any(|n| **n != record.name && record.name.zone_of(n));
            if !on_chain && !dname_above {
                return Err(ReplyError::ForeignRecord);
            }
            if !names_in_rdata_uncompressed(record) {
                return Err(ReplyError::Malformed);
            }
        }

        // Authority: only the SOA / NS of the zone (cut) the chain names are in; the rest is
        // dropped.
        let authorities: Vec<Record> = authorities
            .into_iter()
            .filter(|r| {
                matches!(r.record_type(), RecordType::SOA | RecordType::NS)
                    && r.dns_class == qclass
                    && chain.iter().any(|n| r.name.zone_of(n))
            })
            .collect();
        drop(chain);

        // Additional: only glue, the A/AAAA of the NS targets kept above.
        let targets: Vec<&Name> = answers
            .iter()
            .chain(&authorities)
            .filter_map(|r| match &r.data {
                RData::NS(ns) => Some(&ns.0),
                _ => None,
            })
            .collect();
        let additionals: Vec<Record> = if targets.is_empty() {
            Vec::new()
        } else {
            additionals
                .into_iter()
                .filter(|r| {
                    matches!(r.data, RData::A(_) | RData::AAAA(_))
                        && r.dns_class == qclass
                        && targets.iter().any(|t| **t == r.name)
                })
                .collect()
        };
        drop(targets);

        Ok(Validated {
            authoritative: metadata.authoritative,
            recursion_available: metadata.recursion_available,
            authentic_data: metadata.authentic_data,
            response_code: metadata.response_code,
            answers,
            authorities,
            additionals,
        })
    }
}

/// How [`build_query`] builds a query.
#[derive(Debug, Clone, Copy)]
struct QueryFlags {
    /// RD.
    rd: bool,
    /// The second flags octet: only AD and CD are kept.
    flags2: u8,
    /// The DO bit of the OPT record.
    dnssec_ok: bool,
    /// Random letter case (DNS 0x20); else the name as given.
    mix_case: bool,
}

/// Builds a query: header (fresh ID; RD as asked; AD/CD from `flags2`), the question (with random
/// letter case, DNS 0x20, when asked), an OPT record (payload UPSTREAM_UDP_PAYLOAD, DO as asked,
/// no options). Returns the query, its ID and the length of its question section.
fn build_query(
    rng: &mut SplitMix64,
    name: &Name,
    qtype: RecordType,
    qclass: DNSClass,
    flags: QueryFlags,
) -> (Vec<u8>, u16, usize) {
    let QueryFlags {
        rd,
        flags2,
        dnssec_ok,
        mix_case,
    } = flags;
    // The ID takes the low 16 bits of one word; the case bits start on a fresh word.
    let id = rng.next_u64() as u16;
    let mut q = Vec::with_capacity(HEADER_LEN + MAX_WIRE_LEN + 4 + 11);
    // Header: ID, flags, QD=1, AN=0, NS=0, AR=1.
    q.extend_from_slice(&id.to_be_bytes());
    q.push(if rd { FLAG_RD } else { 0 });
    q.push(flags2 & (FLAG_AD | FLAG_CD));
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);

    let mut bits = rng.next_u64();
    let mut bits_left = 64u32;
    push_name(&mut q, name, |b| {
        if !(mix_case && b.is_ascii_alphabetic()) {
            return b;
        }
        if bits_left == 0 {
            bits = rng.next_u64();
            bits_left = 64;
        }
        let flip = (bits & 1) as u8;
        bits >>= 1;
        bits_left -= 1;
        b ^ (flip << 5)
    });
    q.extend_from_slice(&u16::from(qtype).to_be_bytes());
    q.extend_from_slice(&u16::from(qclass).to_be_bytes());
    let question_len = q.len() - HEADER_LEN;

    // OPT: root owner, type 41, class = payload, TTL = ext-rcode 0, version 0, DO, no options.
    q.push(0);
    q.extend_from_slice(&TYPE_OPT.to_be_bytes());
    q.extend_from_slice(&UPSTREAM_UDP_PAYLOAD.to_be_bytes());
    let do_bit = if dnssec_ok { OPT_FLAG_DO } else { 0 };
    q.extend_from_slice(&[0, 0, do_bit, 0, 0, 0]);
    (q, id, question_len)
}

/// The zone apex named by an SOA reply: the owner (lower case) of an SOA record in the answer or
/// authority section at or above the asked name.
fn soa_apex(valid: &Validated, asked: &Name) -> Option<Name> {
    valid
        .answers
        .iter()
        .chain(&valid.authorities)
        .find(|r| matches!(r.data, RData::SOA(_)) && r.name.zone_of(asked))
        .map(|r| r.name.to_lowercase())
}

/// Authoritative mode: takes the NS records of `apex` from an NS reply, with their glue; hosts
/// without glue get A (then AAAA) lookups. Addresses pass the address policy.
fn add_nameservers(engine: &Engine, auth: &mut Auth, valid: &Validated, apex: &Name) {
    let mut hosts: Vec<(Name, u32)> = Vec::new();
    for r in valid.answers.iter().chain(&valid.authorities) {
        if let RData::NS(ns) = &r.data
            && r.name == *apex
            && !hosts.iter().any(|(h, _)| *h == ns.0)
            && hosts.len() < MAX_NS_HOSTS
        {
            hosts.push((ns.0.to_lowercase(), r.ttl));
        }
    }
    auth.ttl = hosts.iter().map(|(_, t)| *t).min().unwrap_or(u32::MAX);
    let mut glueless = Vec::new();
    // IPv4 glue first: a cluster without IPv6 would otherwise wait out timeouts first.
    for family_v4 in [true, false] {
        for (host, _) in &hosts {
            for r in &valid.additionals {
                let ip = match &r.data {
                    RData::A(a) if family_v4 => IpAddr::V4(a.0),
                    RData::AAAA(a) if !family_v4 => IpAddr::V6(a.0),
                    _ => continue,
                };
                if r.name == *host {
                    add_addr(engine, auth, ip, r.ttl);
                }
            }
        }
    }
    for (host, _) in &hosts {
        if !valid.additionals.iter().any(|r| r.name == *host) {
            glueless.push(host.clone());
        }
    }
    for rtype in [RecordType::A, RecordType::AAAA] {
        for host in &glueless {
            auth.lookups.push_back((host.clone(), rtype));
        }
    }
}

fn add_addr(engine: &Engine, auth: &mut Auth, ip: IpAddr, ttl: u32) {
    if let Err(why) = policy::ns_address_allowed(engine.config(), ip) {
        engine.refuse(why);
        return;
    }
    let addr = SocketAddr::new(ip, DEFAULT_PORT);
    if auth.addrs.len() < MAX_NS_ADDRS && !auth.addrs.contains(&addr) {
        auth.addrs.push(addr);
        auth.ttl = auth.ttl.min(ttl);
    }
}

/// The asked name and the CNAME targets reachable from it within `answers`.
fn cname_chain<'a>(asked: &'a Name, answers: &'a [Record]) -> Result<Vec<&'a Name>, ReplyError> {
    let mut chain: Vec<&Name> = vec![asked];
    // Follow the chain from the question name, one CNAME per name, wherever the records sit.
    let mut current = asked;
    while let Some(target) = answers.iter().find_map(|r| match &r.data {
        RData::CNAME(t) if r.name == *current => Some(&t.0),
        _ => None,
    }) {
        if chain.contains(&target) {
            // A CNAME back onto the chain: a loop no client can resolve.
            return Err(ReplyError::Malformed);
        }
        if chain.len() > MAX_CNAME_CHAIN {
            return Err(ReplyError::ForeignRecord);
        }
        chain.push(target);
        current = target;
    }
    Ok(chain)
}

/// Types from RFC 1035 whose RDATA holds domain names (which may be compressed, RFC 3597 §4) but
/// that hickory keeps as opaque bytes, with how many names each holds; plus DNAME, which some
/// old servers compress. A compressed name in opaque bytes would point at the wrong place once
/// the message is rebuilt, so such records are refused unless their names are uncompressed.
fn opaque_name_count(rtype: u16) -> Option<usize> {
    match rtype {
        3 | 4 | 7 | 8 | 9 => Some(1), // MD, MF, MB, MG, MR
        14 => Some(2),                // MINFO
        TYPE_DNAME => Some(1),
        _ => None,
    }
}

fn names_in_rdata_uncompressed(record: &Record) -> bool {
    let RData::Unknown { code, rdata } = &record.data else {
        return true;
    };
    let Some(count) = opaque_name_count(u16::from(*code)) else {
        return true;
    };
    let mut rest = rdata.anything.as_slice();
    for _ in 0..count {
        // Labels until the root; any pointer (or reserved label type) fails.
        loop {
            let Some((&len, tail)) = rest.split_first() else {
                return false;
            };
            if len == 0 {
                rest = tail;
                break;
            }
            if usize::from(len) > MAX_LABEL_LEN {
                return false;
            }
            let Some(after) = tail.get(usize::from(len)..) else {
                return false;
            };
            rest = after;
        }
    }
    rest.is_empty()
}

/// The parts of a validated reply that go on (to the client, or to the next discovery step).
#[derive(Debug, Clone)]
pub(crate) struct Validated {
    pub(crate) authoritative: bool,
    pub(crate) recursion_available: bool,
    pub(crate) authentic_data: bool,
    pub(crate) response_code: ResponseCode,
    pub(crate) answers: Vec<Record>,
    pub(crate) authorities: Vec<Record>,
    /// Glue: A/AAAA of the NS targets in `answers` and `authorities`.
    pub(crate) additionals: Vec<Record>,
}

/// Why the client's query could not be forwarded. Fieldless: each is one C result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QueryError {
    /// The query does not parse as a DNS message.
    Malformed,
    /// The message is a response (QR set), not a query.
    NotAQuery,
    /// The opcode is not QUERY.
    UnsupportedOpcode,
    /// The query does not have exactly one question.
    QuestionCount,
}

impl QueryError {
    /// A static, operator-readable description (the FFI hands it out as is).
    pub fn as_str(&self) -> &'static str {
        match self {
            QueryError::Malformed => "client query is not a well-formed DNS message",
            QueryError::NotAQuery => "client message is a response (QR set), not a query",
            QueryError::UnsupportedOpcode => "client query opcode is not QUERY",
            QueryError::QuestionCount => "client query must have exactly one question",
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for QueryError {}

/// Why a reply was not used. The exchange has already moved on (to the next server; for
/// [`ReplyError::Truncated`] over UDP, to the same server over TCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReplyError {
    /// TC set: retry over TCP (over TCP already: try the next upstream).
    Truncated,
    /// The reply does not parse (or holds a record that cannot be passed on safely).
    Malformed,
    /// QR clear: the upstream sent a query, not a response.
    NotAResponse,
    /// The reply's ID is not the upstream query's: stale or spoofed.
    IdMismatch,
    /// The reply's opcode is not QUERY.
    OpcodeMismatch,
    /// The reply's question is not byte for byte the one sent (letter case included): spoofed.
    QuestionMismatch,
    /// An answer record is not on the question name or its CNAME chain.
    ForeignRecord,
    /// SERVFAIL, REFUSED, NOTIMP, FORMERR (or another rcode unusable for an answer) from upstream.
    UpstreamFailure,
    /// Authoritative mode: the nameserver's reply does not have the AA bit set.
    NotAuthoritative,
    /// [`Exchange::on_reply`] when the exchange was not waiting for a reply: nothing changed.
    ExchangeDone,
    /// The reply came at or after its try's deadline: dropped; the exchange moved on as for
    /// a timeout.
    Late,
}

impl ReplyError {
    /// Whether the message is no reply to the query at all (too short, QR clear, another ID,
    /// opcode or question): forged, stale or stray. Over UDP such a message leaves the
    /// exchange waiting for the true reply until the try's deadline; any other error ends the
    /// try.
    pub fn is_unsolicited(&self) -> bool {
        matches!(
            self,
            ReplyError::NotAResponse
                | ReplyError::IdMismatch
                | ReplyError::OpcodeMismatch
                | ReplyError::QuestionMismatch
        )
    }

    /// A static, operator-readable description (the FFI hands it out as is).
    pub fn as_str(&self) -> &'static str {
        match self {
            ReplyError::Truncated => "upstream reply truncated (TC set): retry over TCP",
            ReplyError::Malformed => "upstream reply is not a well-formed DNS message",
            ReplyError::NotAResponse => {
                "upstream reply is not a response (QR clear, or too short for a header)"
            }
            ReplyError::IdMismatch => {
                "upstream reply ID does not match the query: stale or spoofed"
            }
            ReplyError::OpcodeMismatch => "upstream reply opcode is not QUERY",
            ReplyError::QuestionMismatch => {
                "upstream reply question differs from the one sent (name, case, type or class): spoofed or broken upstream"
            }
            ReplyError::ForeignRecord => {
                "upstream reply has an answer record outside the question name and its CNAME chain"
            }
            ReplyError::UpstreamFailure => {
                "upstream failed (SERVFAIL, REFUSED, NOTIMP or FORMERR): trying the next upstream"
            }
            ReplyError::NotAuthoritative => {
                "nameserver reply is not authoritative (AA clear): trying the next nameserver"
            }
            ReplyError::ExchangeDone => "the exchange is not waiting for a reply",
            ReplyError::Late => "upstream reply came after the try's deadline: dropped",
        }
    }
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ReplyError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    const QNAME: &str = "_acme-challenge.Www.Example.COM";

    fn new_err(q: &[u8]) -> Option<QueryError> {
        Exchange::new(&engine(30), q, Transport::Udp, 7, 0).err()
    }

    fn validate_err(ex: &Exchange, reply: &[u8]) -> Option<ReplyError> {
        ex.validate(reply).err()
    }

    // ---- Exchange::new -------------------------------------------------------------------

    #[test]
    fn new_rejects_malformed() {
        assert_eq!(new_err(&[]), Some(QueryError::Malformed));
        assert_eq!(new_err(&[0; 11]), Some(QueryError::Malformed));
        // QDCOUNT says 1 but there is no question.
        assert_eq!(
            new_err(&[0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
            Some(QueryError::Malformed)
        );
        // A question name running off the end.
        let mut q = query(1, QNAME, TYPE_TXT, None);
        q.truncate(20);
        assert_eq!(new_err(&q), Some(QueryError::Malformed));
    }

    #[test]
    fn new_rejects_responses() {
        let mut q = query(1, QNAME, TYPE_TXT, None);
        q[2] |= FLAG_QR;
        assert_eq!(new_err(&q), Some(QueryError::NotAQuery));
    }

    #[test]
    fn new_rejects_other_opcodes() {
        for opcode in [1u8, 2, 4, 5, 15] {
            let mut q = query(1, QNAME, TYPE_TXT, None);
            q[2] |= opcode << 3;
            assert_eq!(
                new_err(&q),
                Some(QueryError::UnsupportedOpcode),
                "opcode {opcode}"
            );
        }
    }

    #[test]
    fn new_requires_exactly_one_question() {
        let none = Wire {
            id: 1,
            flags: 0x0100,
            qd: vec![],
            an: vec![],
            ns: vec![],
            ar: vec![],
        };
        assert_eq!(new_err(&none.bytes()), Some(QueryError::QuestionCount));
        let two = Wire {
            id: 1,
            flags: 0x0100,
            qd: vec![
                question(QNAME, TYPE_TXT, CLASS_IN),
                question("a.example", TYPE_A, CLASS_IN),
            ],
            an: vec![],
            ns: vec![],
            ar: vec![],
        };
        assert_eq!(new_err(&two.bytes()), Some(QueryError::QuestionCount));
    }

    #[test]
    fn upstream_query_header() {
        let mut q = query(0xbeef, QNAME, TYPE_TXT, None);
        q[2] &= !FLAG_RD; // client did not ask for recursion: upstream still gets RD
        let ex = exchange(&q, 42);
        let u = &sent(&ex);
        assert_eq!(be16(u, 0), ex.upstream_id());
        assert_eq!(ex.client_id(), 0xbeef);
        assert_eq!(u[2], FLAG_RD, "QR clear, opcode QUERY, RD set");
        assert_eq!(u[3], 0);
        assert_eq!(
            [be16(u, 4), be16(u, 6), be16(u, 8), be16(u, 10)],
            [1, 0, 0, 1]
        );
    }

    #[test]
    fn upstream_id_comes_from_random() {
        let q = query(0xbeef, QNAME, TYPE_TXT, None);
        let a = exchange(&q, 1).upstream_id();
        let b = exchange(&q, 2).upstream_id();
        assert_eq!(
            a,
            exchange(&q, 1).upstream_id(),
            "deterministic in `random`"
        );
        assert_ne!(a, b);
        let mut rng = SplitMix64(1);
        assert_eq!(a, rng.next_u64() as u16);
    }

    #[test]
    fn splitmix64_reference_values() {
        // First outputs for seed 0 of the published splitmix64.
        let mut rng = SplitMix64(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn upstream_question_has_random_case_same_type_and_class() {
        let q = query(1, QNAME, 257, None);
        let ex = exchange(&q, 99);
        let sent = ex.question();
        let orig = question(QNAME, 257, CLASS_IN);
        assert_eq!(sent.len(), orig.len());
        assert!(
            sent.eq_ignore_ascii_case(&orig),
            "only letter case may differ"
        );
        assert_ne!(sent, &orig[..], "0x20: some letter case differs");
        // Non-letters (length octets, '_', '-', type and class) are untouched.
        for (s, o) in sent.iter().zip(&orig) {
            if !o.is_ascii_alphabetic() {
                assert_eq!(s, o);
            }
        }
        assert_eq!(&sent[sent.len() - 4..], &[1, 1, 0, 1]);
        // Another random word, another case pattern.
        assert_ne!(exchange(&q, 100).question(), sent);
    }

    #[test]
    fn upstream_case_uses_fresh_bits_past_64_letters() {
        // 120 letters: more than one 64-bit word of case bits.
        let long = format!("_acme-challenge.{}.{}", "a".repeat(60), "b".repeat(60));
        let ex = exchange(&query(1, &long, TYPE_TXT, None), 5);
        let sent = ex.question();
        let upper_in = |range: std::ops::Range<usize>| {
            sent[range]
                .iter()
                .filter(|b| b.is_ascii_uppercase())
                .count()
        };
        // Each 60-letter label gets a mix of cases.
        let first = 17..77;
        let second = 78..138;
        assert!((1..60).contains(&upper_in(first)));
        assert!((1..60).contains(&upper_in(second)));
    }

    #[test]
    fn opt_added_when_client_had_none() {
        let ex = exchange(&query(1, QNAME, TYPE_TXT, None), 3);
        let u = &sent(&ex);
        let opt_rr = &u[12 + ex.question().len()..];
        assert_eq!(opt_rr, &opt(UPSTREAM_UDP_PAYLOAD, false, &[])[..]);
        assert_eq!(ex.client_edns(), None);
        assert_eq!(ex.client_udp_size(), 512);
    }

    #[test]
    fn client_opt_kept_do_bit_options_dropped() {
        let opts = cookie_and_ecs();
        for dnssec_ok in [false, true] {
            let q = query(1, QNAME, TYPE_TXT, Some((4000, dnssec_ok, &opts)));
            let ex = exchange(&q, 3);
            let u = &sent(&ex);
            let opt_rr = &u[12 + ex.question().len()..];
            assert_eq!(opt_rr, &opt(UPSTREAM_UDP_PAYLOAD, dnssec_ok, &[])[..]);
            assert_eq!(ex.client_edns(), Some(dnssec_ok));
            assert_eq!(ex.client_udp_size(), 4000);
        }
    }

    #[test]
    fn client_udp_size_clamped() {
        for (advertised, want) in [
            (0u16, 512u16),
            (100, 512),
            (512, 512),
            (1232, 1232),
            (4096, 4096),
            (65535, 4096),
        ] {
            let ex = exchange(
                &query(1, QNAME, TYPE_TXT, Some((advertised, false, &[]))),
                3,
            );
            assert_eq!(ex.client_udp_size(), want, "advertised {advertised}");
        }
    }

    #[test]
    fn ad_and_cd_passed_upstream() {
        let mut q = query(1, QNAME, TYPE_TXT, None);
        q[3] |= FLAG_AD | FLAG_CD;
        let ex = exchange(&q, 3);
        assert_eq!(sent(&ex)[3], FLAG_AD | FLAG_CD);
    }

    #[test]
    fn upstream_query_parses_back() {
        let ex = exchange(&query(7, QNAME, TYPE_TXT, Some((1232, true, &[]))), 11);
        let m = Message::from_vec(&sent(&ex)).ok();
        let m = m.as_ref();
        assert_eq!(m.map(|m| m.queries.len()), Some(1));
        assert_eq!(
            m.and_then(|m| m.queries.first())
                .map(|q| q.name().to_ascii().to_lowercase()),
            Some("_acme-challenge.www.example.com.".to_string())
        );
        assert_eq!(
            m.and_then(|m| m.edns.as_ref()).map(|e| e.max_payload()),
            Some(1232)
        );
        assert_eq!(
            m.and_then(|m| m.edns.as_ref()).map(|e| e.flags().dnssec_ok),
            Some(true)
        );
    }

    // ---- header and question checks ------------------------------------------------------

    fn ex() -> Exchange {
        exchange(&query(0x1234, QNAME, TYPE_TXT, None), 0xfeed)
    }

    fn txt_answer() -> Vec<u8> {
        rr(&QNAME_PTR, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token"))
    }

    #[test]
    fn valid_reply_validates() {
        let ex = ex();
        let r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
        let v = ex.validate(&r);
        assert_eq!(v.as_ref().map(|v| v.answers.len()).ok(), Some(1));
        assert_eq!(
            v.as_ref().map(|v| v.response_code).ok(),
            Some(ResponseCode::NoError)
        );
    }

    #[test]
    fn short_reply_is_no_response() {
        let ex = ex();
        assert_eq!(validate_err(&ex, &[]), Some(ReplyError::NotAResponse));
        let r = reply(&ex, 0, vec![], vec![], vec![]);
        assert_eq!(validate_err(&ex, &r[..11]), Some(ReplyError::NotAResponse));
    }

    #[test]
    fn qr_must_be_set() {
        let ex = ex();
        let mut r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
        r[2] &= !FLAG_QR;
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::NotAResponse));
        // An echo of the query itself is not a response.
        assert_eq!(
            validate_err(&ex, &sent(&ex)),
            Some(ReplyError::NotAResponse)
        );
    }

    #[test]
    fn id_must_match() {
        let ex = ex();
        let mut r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
        r[1] ^= 1;
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::IdMismatch));
        // The client's ID is not the upstream ID.
        let mut r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
        r[..2].copy_from_slice(&ex.client_id().to_be_bytes());
        if ex.client_id() != ex.upstream_id() {
            assert_eq!(validate_err(&ex, &r), Some(ReplyError::IdMismatch));
        }
    }

    #[test]
    fn opcode_must_be_query() {
        let ex = ex();
        let mut r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
        r[2] |= 4 << 3;
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::OpcodeMismatch));
    }

    #[test]
    fn question_must_match_byte_for_byte() {
        let ex = ex();
        let good = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);

        // Letter case of any letter.
        let letters: Vec<usize> = (12..12 + ex.question().len() - 4)
            .filter(|&i| good[i].is_ascii_alphabetic())
            .collect();
        assert!(!letters.is_empty());
        for i in letters {
            let mut r = good.clone();
            r[i] ^= 0x20;
            assert_eq!(
                validate_err(&ex, &r),
                Some(ReplyError::QuestionMismatch),
                "byte {i}"
            );
        }
        // Type and class.
        let qtype_at = 12 + ex.question().len() - 4;
        for at in [qtype_at + 1, qtype_at + 3] {
            let mut r = good.clone();
            r[at] ^= 0x02;
            assert_eq!(validate_err(&ex, &r), Some(ReplyError::QuestionMismatch));
        }
        // No question, or two.
        let mut r = good.clone();
        r[5] = 0;
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::QuestionMismatch));
        let mut r = good.clone();
        r[5] = 2;
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::QuestionMismatch));
        // A reply cut inside the question.
        assert_eq!(
            validate_err(&ex, &good[..20]),
            Some(ReplyError::QuestionMismatch)
        );
        // The client's own spelling is not what was sent.
        let client_case = Wire {
            id: ex.upstream_id(),
            flags: 0x8180,
            qd: vec![question(QNAME, TYPE_TXT, CLASS_IN)],
            an: vec![txt_answer()],
            ns: vec![],
            ar: vec![],
        };
        if client_case.qd[0] != ex.question() {
            assert_eq!(
                validate_err(&ex, &client_case.bytes()),
                Some(ReplyError::QuestionMismatch)
            );
        }
    }

    #[test]
    fn truncated_checked_before_records() {
        let ex = ex();
        let mut r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
        r[2] |= FLAG_TC;
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Truncated));
        // Cut in the middle of the answer: still Truncated, not Malformed.
        let cut = r.len() - 3;
        assert_eq!(validate_err(&ex, &r[..cut]), Some(ReplyError::Truncated));
        // And with a foreign record: still Truncated.
        let foreign = rr(
            &wire_name("evil.example"),
            TYPE_A,
            CLASS_IN,
            300,
            &[192, 0, 2, 1],
        );
        let mut r = reply(&ex, 0, vec![foreign], vec![], vec![]);
        r[2] |= FLAG_TC;
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Truncated));
    }

    #[test]
    fn unparsable_sections_are_malformed() {
        let ex = ex();
        let r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
        // Answer cut short.
        assert_eq!(
            validate_err(&ex, &r[..r.len() - 2]),
            Some(ReplyError::Malformed)
        );
        // ANCOUNT larger than the records present.
        let mut more = r.clone();
        more[7] = 2;
        assert_eq!(validate_err(&ex, &more), Some(ReplyError::Malformed));
        // A bad authority record (pointer forward).
        let bad_ns = rr(
            &[0xc0, 0xff],
            TYPE_NS,
            CLASS_IN,
            1,
            &wire_name("ns.example"),
        );
        let r = reply(&ex, 0, vec![], vec![bad_ns], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
        // Two OPT records in the additional section.
        let r = reply(
            &ex,
            0,
            vec![],
            vec![],
            vec![opt(1232, false, &[]), opt(1232, false, &[])],
        );
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
    }

    #[test]
    fn failure_rcodes() {
        let ex = ex();
        // FORMERR, SERVFAIL, NOTIMP, REFUSED, and rcodes that never answer a query.
        for rcode in [1u16, 2, 4, 5, 7, 8, 9, 10, 11, 15] {
            let r = reply(&ex, rcode, vec![], vec![], vec![]);
            assert_eq!(
                validate_err(&ex, &r),
                Some(ReplyError::UpstreamFailure),
                "rcode {rcode}"
            );
        }
        // An extended rcode (BADVERS: high bits in the OPT record).
        let mut ext = opt(1232, false, &[]);
        ext[5] = 1;
        let r = reply(&ex, 0, vec![], vec![], vec![ext]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::UpstreamFailure));
    }

    #[test]
    fn usable_rcodes() {
        let ex = ex();
        for (rcode, want) in [
            (0u16, ResponseCode::NoError),
            (3, ResponseCode::NXDomain),
            (6, ResponseCode::YXDomain),
        ] {
            let r = reply(&ex, rcode, vec![], vec![], vec![]);
            assert_eq!(ex.validate(&r).map(|v| v.response_code).ok(), Some(want));
        }
    }

    // ---- answer records ------------------------------------------------------------------

    #[test]
    fn answers_on_other_names_are_foreign() {
        let ex = ex();
        for owner in [
            "evil.example",
            "www.example.com",
            "x._acme-challenge.www.example.com",
            "_acme-challenge.example.com",
        ] {
            let a = rr(&wire_name(owner), TYPE_TXT, CLASS_IN, 300, &txt_rdata("x"));
            let r = reply(&ex, 0, vec![txt_answer(), a], vec![], vec![]);
            assert_eq!(
                validate_err(&ex, &r),
                Some(ReplyError::ForeignRecord),
                "{owner}"
            );
        }
    }

    #[test]
    fn answer_owner_compared_case_insensitively() {
        let ex = ex();
        for owner in [
            QNAME.to_string(),
            QNAME.to_lowercase(),
            QNAME.to_uppercase(),
        ] {
            let a = rr(&wire_name(&owner), TYPE_TXT, CLASS_IN, 300, &txt_rdata("x"));
            let r = reply(&ex, 0, vec![a], vec![], vec![]);
            assert!(ex.validate(&r).is_ok(), "{owner}");
        }
    }

    #[test]
    fn answer_class_must_match() {
        let ex = ex();
        let a = rr(&QNAME_PTR, TYPE_TXT, CLASS_CH, 300, &txt_rdata("x"));
        let r = reply(&ex, 0, vec![a], vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::ForeignRecord));
    }

    #[test]
    fn cname_chain_followed() {
        let ex = ex();
        let a = wire_name("Target-A.example.net");
        let b = wire_name("target-b.example.org");
        let answers = vec![
            rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &a),
            rr(
                &wire_name("target-a.EXAMPLE.net"),
                TYPE_CNAME,
                CLASS_IN,
                300,
                &b,
            ),
            rr(&b, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token")),
        ];
        let r = reply(&ex, 0, answers.clone(), vec![], vec![]);
        assert_eq!(ex.validate(&r).map(|v| v.answers.len()).ok(), Some(3));

        // Out of order still links up.
        let mut shuffled = answers.clone();
        shuffled.reverse();
        let r = reply(&ex, 0, shuffled, vec![], vec![]);
        assert!(ex.validate(&r).is_ok());

        // A record on a name the chain does not reach is foreign.
        let mut extra = answers;
        extra.push(rr(
            &wire_name("target-c.example.org"),
            TYPE_TXT,
            CLASS_IN,
            300,
            &txt_rdata("x"),
        ));
        let r = reply(&ex, 0, extra, vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::ForeignRecord));
    }

    #[test]
    fn cname_from_unrelated_name_does_not_extend_chain() {
        let ex = ex();
        let answers = vec![
            rr(
                &wire_name("other.example"),
                TYPE_CNAME,
                CLASS_IN,
                300,
                &wire_name("x.example"),
            ),
            rr(&QNAME_PTR, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token")),
        ];
        let r = reply(&ex, 0, answers, vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::ForeignRecord));
    }

    #[test]
    fn cname_chain_length_capped() {
        let ex = ex();
        let mut answers = vec![rr(
            &QNAME_PTR,
            TYPE_CNAME,
            CLASS_IN,
            1,
            &wire_name("c0.example"),
        )];
        for i in 0..MAX_CNAME_CHAIN + 1 {
            answers.push(rr(
                &wire_name(&format!("c{i}.example")),
                TYPE_CNAME,
                CLASS_IN,
                1,
                &wire_name(&format!("c{}.example", i + 1)),
            ));
        }
        let r = reply(&ex, 0, answers.clone(), vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::ForeignRecord));
        answers.truncate(MAX_CNAME_CHAIN);
        let r = reply(&ex, 0, answers, vec![], vec![]);
        assert!(ex.validate(&r).is_ok());
    }

    #[test]
    fn cname_loop_is_refused() {
        let ex = ex();
        let answers = vec![
            rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 1, &wire_name("a.example")),
            rr(
                &wire_name("a.example"),
                TYPE_CNAME,
                CLASS_IN,
                1,
                &wire_name(QNAME),
            ),
        ];
        let r = reply(&ex, 0, answers, vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
        // A CNAME onto itself too.
        let answers = vec![rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 1, &wire_name(QNAME))];
        let r = reply(&ex, 0, answers, vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
    }

    #[test]
    fn dname_on_ancestor_accepted() {
        let ex = ex();
        // example.COM DNAME example.net; synthesized CNAME; the answer at the target.
        let target = wire_name("_acme-challenge.www.example.net");
        let answers = vec![
            rr(
                &wire_name("example.COM"),
                TYPE_DNAME,
                CLASS_IN,
                300,
                &wire_name("example.net"),
            ),
            rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &target),
            rr(&target, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token")),
        ];
        let r = reply(&ex, 0, answers, vec![], vec![]);
        assert_eq!(ex.validate(&r).map(|v| v.answers.len()).ok(), Some(3));
    }

    #[test]
    fn dname_elsewhere_is_foreign() {
        let ex = ex();
        for owner in [
            "example.org",
            "sub._acme-challenge.www.example.com",
            "badexample.com",
        ] {
            let d = rr(
                &wire_name(owner),
                TYPE_DNAME,
                CLASS_IN,
                300,
                &wire_name("example.net"),
            );
            let r = reply(&ex, 0, vec![d, txt_answer()], vec![], vec![]);
            assert_eq!(
                validate_err(&ex, &r),
                Some(ReplyError::ForeignRecord),
                "{owner}"
            );
        }
    }

    #[test]
    fn compressed_names_in_opaque_rdata_refused() {
        let ex = ex();
        // DNAME whose target is a pointer: cannot be re-encoded safely.
        let d = rr(
            &wire_name("example.com"),
            TYPE_DNAME,
            CLASS_IN,
            300,
            &[3, b'n', b'e', b't', 0xc0, 0x0c],
        );
        let r = reply(&ex, 0, vec![d], vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
        // MB (7) at the question name, compressed vs plain.
        let mb = rr(&QNAME_PTR, 7, CLASS_IN, 300, &[0xc0, 0x0c]);
        let r = reply(&ex, 0, vec![mb], vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
        let mb = rr(&QNAME_PTR, 7, CLASS_IN, 300, &wire_name("mail.example"));
        let r = reply(&ex, 0, vec![mb], vec![], vec![]);
        assert!(ex.validate(&r).is_ok());
        // MINFO (14) holds two names.
        let mut two = wire_name("a.example");
        two.extend(wire_name("b.example"));
        let minfo = rr(&QNAME_PTR, 14, CLASS_IN, 300, &two);
        let r = reply(&ex, 0, vec![minfo], vec![], vec![]);
        assert!(ex.validate(&r).is_ok());
        let minfo = rr(&QNAME_PTR, 14, CLASS_IN, 300, &wire_name("a.example"));
        let r = reply(&ex, 0, vec![minfo], vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
    }

    // ---- authority and additional --------------------------------------------------------

    #[test]
    fn authority_keeps_zone_soa_and_ns_only() {
        let ex = ex();
        let ns = vec![
            rr(
                &wire_name("example.com"),
                TYPE_SOA,
                CLASS_IN,
                300,
                &soa_rdata("example.com", 60),
            ),
            rr(
                &wire_name("Example.com"),
                TYPE_NS,
                CLASS_IN,
                300,
                &wire_name("ns1.example.com"),
            ),
            rr(
                &wire_name("www.example.com"),
                TYPE_NS,
                CLASS_IN,
                300,
                &wire_name("ns1.example.com"),
            ),
            // Not ancestors of the question name:
            rr(
                &wire_name("example.org"),
                TYPE_NS,
                CLASS_IN,
                300,
                &wire_name("ns1.example.org"),
            ),
            rr(
                &wire_name("evil.example.com"),
                TYPE_SOA,
                CLASS_IN,
                300,
                &soa_rdata("evil.example.com", 1),
            ),
            rr(
                &wire_name("x._acme-challenge.www.example.com"),
                TYPE_NS,
                CLASS_IN,
                300,
                &wire_name("ns.x"),
            ),
            // Not SOA or NS:
            rr(
                &wire_name("example.com"),
                TYPE_NSEC,
                CLASS_IN,
                300,
                &[0, 0, 1, 0x40],
            ),
            rr(
                &wire_name("example.com"),
                TYPE_A,
                CLASS_IN,
                300,
                &[192, 0, 2, 1],
            ),
            // Wrong class:
            rr(
                &wire_name("example.com"),
                TYPE_NS,
                CLASS_CH,
                300,
                &wire_name("ns1.example.com"),
            ),
        ];
        let r = reply(&ex, 3, vec![], ns, vec![]);
        let kept: Vec<(String, RecordType)> = ex
            .validate(&r)
            .map(|v| {
                v.authorities
                    .iter()
                    .map(|r| (r.name.to_ascii().to_lowercase(), r.record_type()))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            kept,
            vec![
                ("example.com.".to_string(), RecordType::SOA),
                ("example.com.".to_string(), RecordType::NS),
                ("www.example.com.".to_string(), RecordType::NS),
            ]
        );
    }

    #[test]
    fn authority_soa_above_cname_target_kept() {
        let ex = ex();
        let target = wire_name("token.acme-dns.example.net");
        let an = vec![rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &target)];
        let ns = vec![rr(
            &wire_name("acme-dns.example.net"),
            TYPE_SOA,
            CLASS_IN,
            300,
            &soa_rdata("acme-dns.example.net", 5),
        )];
        let r = reply(&ex, 3, an, ns, vec![]);
        assert_eq!(ex.validate(&r).map(|v| v.authorities.len()).ok(), Some(1));
    }

    #[test]
    fn record_types_hickory_refuses_in_answers_are_malformed() {
        let ex = ex();
        // OPT outside the additional section.
        let r = reply(&ex, 0, vec![opt(1232, false, &[])], vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
    }

    #[test]
    fn every_type_and_class_value_round_trips() {
        // The upstream question is rebuilt from hickory's parsed type and class: every u16 must
        // come back unchanged, or the byte-exact question check would reject honest replies.
        for v in 0..=u16::MAX {
            assert_eq!(u16::from(RecordType::from(v)), v);
            assert_eq!(u16::from(DNSClass::from(v)), v);
        }
    }

    #[test]
    fn config_and_exchange_can_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<crate::Config>();
        send_sync::<Exchange>();
    }

    #[test]
    fn errors_have_distinct_messages() {
        let q = [
            QueryError::Malformed,
            QueryError::NotAQuery,
            QueryError::UnsupportedOpcode,
            QueryError::QuestionCount,
        ];
        let r = [
            ReplyError::Truncated,
            ReplyError::Malformed,
            ReplyError::NotAResponse,
            ReplyError::IdMismatch,
            ReplyError::OpcodeMismatch,
            ReplyError::QuestionMismatch,
            ReplyError::ForeignRecord,
            ReplyError::UpstreamFailure,
            ReplyError::NotAuthoritative,
            ReplyError::ExchangeDone,
        ];
        let mut msgs: Vec<&str> = q
            .iter()
            .map(QueryError::as_str)
            .chain(r.iter().map(ReplyError::as_str))
            .collect();
        let n = msgs.len();
        msgs.sort_unstable();
        msgs.dedup();
        assert_eq!(msgs.len(), n);
        assert_eq!(
            ReplyError::IdMismatch.to_string(),
            ReplyError::IdMismatch.as_str()
        );
    }
}

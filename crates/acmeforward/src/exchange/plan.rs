//! The exchange's planning: what it does after each event. Failover from one resolver to the
//! next, the authoritative discovery steps (SOA, NS, the nameservers' addresses), the hairpin
//! answers, the questions to the internal view about names to learn, and building each send
//! within the send budget and the deadline. The types and the public face are in `machine.rs`.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use super::{Ask, Exchange, INTERNAL, MAX_SENDS, Pending, State};
use crate::config::hairpin::Target;
use crate::exchange::discovery::{self, Auth};
use crate::exchange::fail_reason::FailReason;
use crate::exchange::hairpin_answer;
use crate::exchange::probes::{self, Probes};
use crate::exchange::query::{QueryFlags, build_query};
use crate::exchange::rewrite;
use crate::exchange::validate::{ReplyError, Validated};
use crate::rules::policy::Refusal;
use crate::state::engine::Engine;
use crate::state::learned::Fact;
use crate::wire::name::{self, name_wire};
use crate::wire::{FLAG_AD, FLAG_CD, Transport};

impl Exchange {
    fn fail(&mut self, reason: FailReason) {
        self.state = State::Failed(reason);
    }

    /// Fails with the last error seen, or `otherwise` when there was none.
    fn fail_last(&mut self, otherwise: FailReason) {
        let reason = self.last_error.unwrap_or(otherwise);
        self.fail(reason);
    }

    pub(super) fn send_to_resolver(&mut self, ask: Ask, index: usize) {
        match self.resolvers.get(index) {
            Some(&server) => {
                // TLS has no datagrams: never UDP there, so its replies are judged as TCP ones.
                let transport = if self.tls_resolvers.contains(&server) {
                    Transport::Tcp
                } else {
                    self.client.transport
                };
                self.send(ask, index, server, transport)
            }
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
    pub(super) fn next_after(&mut self, ask: Ask, index: usize) {
        match ask {
            Ask::Authoritative => self.next_nameserver(),
            // There is one plugin chain: nothing else to ask.
            Ask::Internal(_) => self.fail(FailReason::HairpinTarget),
            // Handled in on_reply / on_failure; never retried.
            Ask::Probe(..) => self.next_probe(),
            other => self.send_to_resolver(other, index + 1),
        }
    }

    pub(super) fn start_discovery(&mut self) {
        match Name::from_labels(name::labels(&self.client.wire)) {
            Ok(n) => self.send_to_resolver(Ask::Soa(n), 0),
            Err(_) => self.fail(FailReason::NoNameservers),
        }
    }

    /// Authoritative mode: the next nameserver address to ask, or the next address lookup, or
    /// (for learned addresses that all failed) discovery from scratch.
    pub(super) fn next_nameserver(&mut self) {
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
    pub(super) fn start_hairpin(&mut self, target: Target) {
        match target {
            Target::Addrs(addrs) => {
                let answer = hairpin_answer::static_answer(&self.client, self.max_ttl, &addrs);
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
    pub(super) fn send(
        &mut self,
        ask: Ask,
        index: usize,
        server: SocketAddr,
        transport: Transport,
    ) {
        // Questions to the internal view about names to learn have their own bound
        // (MAX_PROBES) and never cost the client an answer already built.
        if !matches!(ask, Ask::Probe(..)) {
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
            Ask::Probe(n, t) => (
                n,
                *t,
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
    pub(super) fn proceed(
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
                if matches!(pending.ask, Ask::Authoritative)
                    && let Some(auth) = self.auth.as_deref()
                {
                    probes::learn_nameservers(engine, auth, pending.index, now_ms);
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
                let answer = hairpin_answer::internal_answer(&self.client, &valid);
                self.answer_hairpin(answer)?;
            }
            Ask::Soa(asked) => match discovery::soa_apex(&valid, &asked) {
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
                discovery::add_nameservers(engine, auth, &valid, &apex);
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
                        discovery::add_addr(engine, auth, ip, r.ttl);
                    }
                }
                self.next_nameserver();
            }
            // Answered in on_reply.
            Ask::Probe(..) => {}
        }
        Ok(())
    }

    /// The client's answer is ready: first ask the internal view about the names of the reply
    /// that could be learned (CNAME targets of a challenge reply, nameserver hosts that pass
    /// the rules and are not forwarded yet), then answer. A name the internal view knows is
    /// never learned: public data never decides an internal name.
    fn start_probes(&mut self, engine: &Engine, valid: &Validated, answer: Vec<u8>, now_ms: u64) {
        let names = probes::candidates(engine, valid, self.learn_targets, now_ms);
        if names.is_empty() {
            self.state = State::Answered(answer);
            return;
        }
        self.probes = Some(Box::new(Probes {
            answer,
            names,
            current: (Fact::NsHost, 0, 0),
        }));
        self.next_probe();
    }

    /// Asks the internal view about the next name, or answers the client.
    pub(super) fn next_probe(&mut self) {
        let Some(probes) = self.probes.as_deref_mut() else {
            return;
        };
        match probes.names.pop_front() {
            Some((name, fact, ttl)) => {
                probes.current = (fact, ttl, 1);
                let first = probes::probe_types(fact)[0];
                self.send(Ask::Probe(name, first), 0, INTERNAL, self.client.transport);
            }
            None => {
                let answer = std::mem::take(&mut probes.answer);
                self.probes = None;
                self.state = State::Answered(answer);
            }
        }
    }

    /// The internal view answered about `name` (`view`): a name it does not know for this type
    /// is asked the next of its [`probes::probe_types`]; once every type was asked (or an
    /// answer settled it) it is learned (a CNAME target with its ancestors, for the SOA walk)
    /// or refused. Then the next name.
    pub(super) fn probed(
        &mut self,
        engine: &Engine,
        name: Name,
        view: probes::InternalView,
        now_ms: u64,
    ) {
        let Some(probes) = self.probes.as_deref_mut() else {
            return;
        };
        let (fact, ttl, asked) = probes.current;
        if view == probes::InternalView::Unknown
            && let Some(&next) = probes::probe_types(fact).get(asked)
        {
            probes.current.2 += 1;
            self.send(Ask::Probe(name, next), 0, INTERNAL, self.client.transport);
            return;
        }
        probes::learn_probed(engine, &name, fact, ttl, view, now_ms);
        self.next_probe();
    }

    /// Counts a refused fact where the engine is not at hand.
    pub(super) fn refuse_probe(&self, why: Refusal) {
        self.refused.count(why);
    }

    /// Learns from a validated reply: NS targets (rule 3), CNAME targets of replies to a
    /// challenge or delegation question and their ancestors (rules 4 and 5), ancestors of a
    /// challenge name (rule 5).
    pub(super) fn learn(&self, engine: &Engine, ask: &Ask, valid: &Validated, now_ms: u64) {
        if ask.is_internal() || self.lookup {
            // The rest of the plugin chain's view, or the prefetch's own lookup: nothing to
            // forward because of it.
            return;
        }
        // CNAME targets and nameserver hosts are learned only after the internal view was
        // asked about them (start_probes).
        let about_client_name = matches!(ask, Ask::Recursive | Ask::Authoritative);
        if about_client_name && self.challenge {
            probes::learn_challenge_ancestors(engine, &self.client.wire, valid, now_ms);
        }
    }
}

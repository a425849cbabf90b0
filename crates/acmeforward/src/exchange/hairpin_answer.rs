//! The records of a hairpin answer: [`static_answer`] for IP targets, [`internal_answer`] from
//! the internal view's reply for a name target. [`crate::exchange::rewrite::client_reply`] turns them into
//! the client's reply (its ID, name and flags, TTLs capped by max_ttl), as for a forwarded
//! answer.
//!
//! A name target costs one internal lookup ([`crate::Action::Internal`]): the caller runs the
//! query through the rest of its plugin chain and hands the reply to
//! [`crate::Exchange::on_reply`], where it is validated like an upstream reply.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};

use crate::config::hairpin::Target;
use crate::exchange::client::Client;
use crate::exchange::validate::Validated;
use crate::state::engine::Engine;
use crate::wire::name;

/// The reply parts of a hairpin answer: the addresses of the asked family (A for an A question,
/// AAAA for AAAA) as records under the client's name (exact case), each with its TTL, nothing
/// else; NOERROR, AA clear, RA set (what a client of the cluster's resolver sees for a public
/// name), AD clear. No address of the asked family: NODATA.
fn answer(client: &Client, addrs: impl IntoIterator<Item = (IpAddr, u32)>) -> Validated {
    let answers = addrs
        .into_iter()
        .filter_map(|(ip, ttl)| {
            let data = match (ip, client.qtype) {
                (IpAddr::V4(v4), RecordType::A) => RData::A(A(v4)),
                (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(AAAA(v6)),
                _ => return None,
            };
            Some(Record::from_rdata(client.name.clone(), ttl, data))
        })
        .collect();
    Validated {
        authoritative: false,
        recursion_available: true,
        authentic_data: false,
        response_code: ResponseCode::NoError,
        answers,
        authorities: Vec::new(),
        additionals: Vec::new(),
    }
}

/// The answer for IP targets: their addresses of the asked family, each with TTL max_ttl.
pub(crate) fn static_answer(client: &Client, max_ttl: u32, addrs: &[IpAddr]) -> Validated {
    answer(client, addrs.iter().map(|ip| (*ip, max_ttl)))
}

/// The answer for a name target from its validated internal reply (every answer record is on
/// the target name or its CNAME chain): the addresses of the asked family, each with its own
/// TTL (capped by max_ttl when the reply is built), duplicates dropped. No CNAME: the addresses
/// go under the client's name.
pub(crate) fn internal_answer(client: &Client, valid: &Validated) -> Validated {
    let mut addrs: Vec<(IpAddr, u32)> = Vec::new();
    for r in &valid.answers {
        let ip = match &r.data {
            RData::A(a) => IpAddr::V4(a.0),
            RData::AAAA(a) => IpAddr::V6(a.0),
            _ => continue,
        };
        if !addrs.iter().any(|(have, _)| *have == ip) {
            addrs.push((ip, r.ttl));
        }
    }
    answer(client, addrs)
}

impl Engine {
    /// The answer to a hairpin question whose target is IP literals, as data, for a caller that
    /// writes the reply itself: the addresses of the asked family (A for an A question, AAAA for
    /// AAAA; none: NODATA), in the order given, and their TTL (max_ttl). The reply is the one
    /// [`crate::Exchange::new`] builds for the question (see [`static_answer`]): NOERROR, AA and
    /// AD clear, RA set, the question as asked, these records under its name; RD, CD and EDNS0
    /// as for a forwarded answer. `None` when the question is not in the table, the target is a
    /// name (looked up by an exchange), or the name does not parse. Call it for a question
    /// [`Engine::classify`] said is [`crate::Verdict::Hairpin`]: the table does not know the
    /// forwarding rules.
    pub fn hairpin_addrs(
        &self,
        qname: &[u8],
        qtype: u16,
    ) -> Option<(impl Iterator<Item = IpAddr> + '_, u32)> {
        let wire = name::scan(qname).ok()?;
        let Target::Addrs(addrs) = self.config().hairpin().target(wire.as_bytes(), qtype)? else {
            return None;
        };
        let want_v4 = qtype == u16::from(RecordType::A);
        let family = addrs
            .iter()
            .copied()
            .filter(move |ip| ip.is_ipv4() == want_v4);
        Some((family, self.config().max_ttl()))
    }
}

#[cfg(test)]
#[path = "hairpin_answer_tests.rs"]
mod tests;

//! Rewriting a validated upstream reply into the reply for the client.
//!
//! The reply is rebuilt from parsed records (hickory encodes it), never copied: no unvalidated
//! upstream byte reaches the client.

use hickory_proto::ProtoError;
use hickory_proto::op::{Edns, Message, OpCode, Query};
use hickory_proto::rr::{RData, Record};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use crate::exchange::client::Client;
use crate::exchange::validate::{ReplyError, Validated};
use crate::wire::{FLAG_TC, MAX_TCP_MESSAGE, Transport, UPSTREAM_UDP_PAYLOAD};

/// Builds the client's reply into `out` (which the caller has cleared).
pub(crate) fn client_reply(
    client: &Client,
    max_ttl: u32,
    valid: &Validated,
    out: &mut Vec<u8>,
) -> Result<(), ReplyError> {
    let limit = match client.transport {
        Transport::Udp => client.udp_size,
        Transport::Tcp => MAX_TCP_MESSAGE,
    };

    let mut msg = skeleton(client, valid);
    msg.answers = valid
        .answers
        .iter()
        .map(|r| rewrite_record(client, max_ttl, r))
        .collect();
    msg.authorities = valid
        .authorities
        .iter()
        .map(|r| rewrite_record(client, max_ttl, r))
        .collect();
    msg.additionals = valid
        .additionals
        .iter()
        .map(|r| rewrite_record(client, max_ttl, r))
        .collect();
    if encode(&msg, limit, out)? {
        return Ok(());
    }
    // Glue is optional (RFC 2181 §9): without it, before truncating.
    if !msg.additionals.is_empty() {
        msg.additionals.clear();
        out.clear();
        if encode(&msg, limit, out)? {
            return Ok(());
        }
    }

    // Does not fit: header with TC, the question, OPT if the client sent one, no records.
    let mut msg = skeleton(client, valid);
    msg.metadata.truncation = true;
    out.clear();
    if encode(&msg, limit, out)? {
        Ok(())
    } else {
        // A header, one question (at most 259 octets) and an empty OPT always fit 512 octets.
        out.clear();
        Err(ReplyError::Malformed)
    }
}

/// Encodes `msg` into `out` if all of it fits in `limit` octets; `Ok(false)` when it does not.
fn encode(msg: &Message, limit: u16, out: &mut Vec<u8>) -> Result<bool, ReplyError> {
    let mut encoder = BinEncoder::new(out);
    encoder.set_max_size(limit);
    match msg.emit(&mut encoder) {
        Ok(()) => {}
        Err(ProtoError::MaxBufferSizeExceeded(_) | ProtoError::NotAllRecordsWritten { .. }) => {
            return Ok(false);
        }
        Err(_) => return Err(ReplyError::Malformed),
    }
    // Hickory drops the records that do not fit and sets TC itself: that is not a whole reply.
    // (`msg` never has TC set here except for the deliberately truncated form.)
    let tc_set = out.get(2).is_some_and(|f| f & FLAG_TC != 0);
    Ok(!tc_set || msg.metadata.truncation)
}

/// The reply without records: header, question (client's exact name), OPT.
fn skeleton(client: &Client, valid: &Validated) -> Message {
    let mut msg = Message::response(client.id, OpCode::Query);
    let md = &mut msg.metadata;
    md.authoritative = valid.authoritative;
    // RD and CD are copied from the query (RFC 1035 §4.1.1, RFC 6840 §5.9).
    md.recursion_desired = client.rd;
    md.checking_disabled = client.cd;
    md.recursion_available = valid.recursion_available;
    // AD only to clients that said they understand it (DO or AD in the query; RFC 6840 §5.8).
    md.authentic_data = valid.authentic_data && (client.dnssec_ok() || client.ad);
    md.response_code = valid.response_code;

    let mut query = Query::query(client.name.clone(), client.qtype);
    query.set_query_class(client.qclass);
    msg.queries.push(query);

    if let Some(dnssec_ok) = client.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(UPSTREAM_UDP_PAYLOAD);
        edns.set_version(0);
        edns.set_dnssec_ok(dnssec_ok);
        msg.edns = Some(edns);
    }
    msg
}

/// Owner name in the client's case (or lower case off the question name), TTLs capped.
fn rewrite_record(client: &Client, max_ttl: u32, record: &Record) -> Record {
    let mut r = record.clone();
    r.name = if r.name == client.name {
        client.name.clone()
    } else {
        // Lower case hides the 0x20 case the upstream may have echoed into other names.
        r.name.to_lowercase()
    };
    r.ttl = r.ttl.min(max_ttl);
    // Names in record data are lower-cased too: an upstream that compresses them against the
    // question name would otherwise hand the client our random 0x20 spelling
    // (`example.com NS ns1.EXAmpLe.Com`).
    match &mut r.data {
        RData::SOA(soa) => {
            // MINIMUM is the negative-caching TTL (RFC 2308 §4).
            soa.minimum = soa.minimum.min(max_ttl);
            soa.mname = soa.mname.to_lowercase();
            soa.rname = soa.rname.to_lowercase();
        }
        RData::CNAME(target) => target.0 = target.0.to_lowercase(),
        RData::NS(ns) => ns.0 = ns.0.to_lowercase(),
        RData::PTR(ptr) => ptr.0 = ptr.0.to_lowercase(),
        RData::MX(mx) => mx.exchange = mx.exchange.to_lowercase(),
        RData::SRV(srv) => srv.target = srv.target.to_lowercase(),
        _ => {}
    }
    r
}

#[cfg(test)]
#[path = "rewrite_tests.rs"]
mod tests;

//! A small DNS forwarder over std::net that drives the sans-IO core: each UDP query is
//! classified; a query the rules take goes through an [`Exchange`] (poll, then `on_reply` or
//! `on_failure`), everything else gets REFUSED (a real server hands it to the next resolver).
//! The caller owns the clock (milliseconds since start) and the randomness (std's hasher keys).
//!
//! ```text
//! cargo run --example udp_forwarder -- 127.0.0.1:5300 192.0.2.53 example.com
//! dig @127.0.0.1 -p 5300 TXT _acme-challenge.www.example.com
//! ```
//!
//! One query at a time, no internal view (an `Internal` action is reported as a failure, so
//! nothing is learned and hairpin targets fail): an example, not a server.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use acmeforward::{Action, ConfigBuilder, Engine, Exchange, Transport, Verdict};

const REFUSED: u8 = 5;
const SERVFAIL: u8 = 2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: udp_forwarder LISTEN_ADDR:PORT UPSTREAM[:PORT] [ZONE...]");
        std::process::exit(2);
    };
    let mut builder = ConfigBuilder::new();
    builder.upstream(&upstream)?;
    for zone in args {
        builder.zone(&zone)?;
    }
    let engine = Engine::new(builder.build()?);
    let server = UdpSocket::bind(&listen)?;
    let start = Instant::now();
    let clock = || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let random = RandomState::new();
    let mut sequence = 0u64;
    let mut buf = [0u8; 4096];
    loop {
        let (len, client) = server.recv_from(&mut buf)?;
        let query = buf.get(..len).unwrap_or(&[]);
        sequence += 1;
        let reply = answer(&engine, query, random.hash_one(sequence), &clock);
        if let Some(reply) = reply {
            server.send_to(&reply, client)?;
        }
    }
}

/// The reply to one client query, or `None` when it is not worth one (no DNS header).
fn answer(engine: &Engine, query: &[u8], random: u64, clock: &dyn Fn() -> u64) -> Option<Vec<u8>> {
    let (qname, qtype, qclass) = question(query)?;
    if engine.classify(&qname, qtype, qclass, clock()) == Verdict::Pass {
        return error_reply(query, REFUSED);
    }
    let Ok(mut exchange) = Exchange::new(engine, query, Transport::Udp, random, clock()) else {
        return error_reply(query, SERVFAIL);
    };
    loop {
        match exchange.poll() {
            Action::Send {
                server,
                transport,
                query,
                deadline_ms,
            } => {
                let wait = Duration::from_millis(deadline_ms.saturating_sub(clock()).max(1));
                let query = query.to_vec();
                match transport {
                    Transport::Udp => udp_try(engine, &mut exchange, server, &query, wait, clock),
                    Transport::Tcp => match tcp_try(server, &query, wait) {
                        Ok(reply) => {
                            let _ = exchange.on_reply(engine, &reply, clock());
                        }
                        Err(_) => exchange.on_failure(clock()),
                    },
                }
            }
            // No rest of a plugin chain here: nothing knows internal names.
            Action::Internal(_) => exchange.on_failure(clock()),
            Action::Answer(reply) => return Some(reply.to_vec()),
            Action::Fail(_) => return error_reply(query, SERVFAIL),
        }
    }
}

/// One UDP try: every datagram from `server` goes to the exchange until it stops waiting for
/// this query (a forged or stray one leaves it waiting), or the try's time is up.
fn udp_try(
    engine: &Engine,
    exchange: &mut Exchange,
    server: SocketAddr,
    query: &[u8],
    wait: Duration,
    clock: &dyn Fn() -> u64,
) {
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let Ok(socket) = UdpSocket::bind(local) else {
        exchange.on_failure(clock());
        return;
    };
    if socket.send_to(query, server).is_err() {
        exchange.on_failure(clock());
        return;
    }
    let id = exchange.upstream_id();
    let until = Instant::now() + wait;
    let mut buf = [0u8; 4096];
    while exchange.is_waiting() && exchange.upstream_id() == id {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || socket.set_read_timeout(Some(left)).is_err() {
            exchange.on_failure(clock());
            return;
        }
        match socket.recv_from(&mut buf) {
            Ok((len, from)) if from == server => {
                let _ = exchange.on_reply(engine, buf.get(..len).unwrap_or(&[]), clock());
            }
            Ok(_) => {}
            Err(_) => {
                exchange.on_failure(clock());
                return;
            }
        }
    }
}

/// One TCP try: the query with its 2-byte length, and the reply read back the same way.
fn tcp_try(server: SocketAddr, query: &[u8], wait: Duration) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&server, wait)?;
    stream.set_read_timeout(Some(wait))?;
    stream.set_write_timeout(Some(wait))?;
    let len = u16::try_from(query.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    stream.write_all(&[&len.to_be_bytes()[..], query].concat())?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut reply)?;
    Ok(reply)
}

/// The question of a query: its name in presentation format (what `Engine::classify` takes),
/// type and class. `None` for a message too short or with a compressed or bad name.
fn question(query: &[u8]) -> Option<(Vec<u8>, u16, u16)> {
    let mut at = 12;
    let mut name = Vec::new();
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        for &b in query.get(at..at + len)? {
            match b {
                b'.' | b'\\' => name.extend_from_slice(&[b'\\', b]),
                0x21..=0x7e => name.push(b),
                _ => name.extend_from_slice(format!("\\{b:03}").as_bytes()),
            }
        }
        name.push(b'.');
        at += len;
    }
    if name.is_empty() {
        name.push(b'.');
    }
    let field = |i: usize| Some(u16::from_be_bytes([*query.get(i)?, *query.get(i + 1)?]));
    Some((name, field(at)?, field(at + 2)?))
}

/// A reply with `rcode` and the query's question, no records.
fn error_reply(query: &[u8], rcode: u8) -> Option<Vec<u8>> {
    question(query)?;
    // The end of the name on the wire (no compression in a question that parsed).
    let mut at = 12;
    while let Some(&len) = query.get(at) {
        at += 1 + usize::from(len);
        if len == 0 {
            break;
        }
    }
    let mut reply = query.get(..at + 4)?.to_vec();
    let flags = reply.get_mut(2..4)?;
    flags[0] = 0x80 | (flags[0] & 0x79); // QR, opcode and RD of the query
    flags[1] = rcode;
    reply.get_mut(6..12)?.fill(0); // no answer, authority or additional records
    Some(reply)
}

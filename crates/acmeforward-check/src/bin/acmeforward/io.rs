//! One lookup over std::net: a UDP query (recursion desired, EDNS0 with a 1232-byte payload),
//! two tries, and TCP when the reply is truncated. Replies that do not match the query's ID and
//! question are ignored.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use acmeforward::UPSTREAM_UDP_PAYLOAD;
use acmeforward_check::{Question, Record, Reply};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};

/// UDP tries per question, each with the whole timeout.
const UDP_TRIES: usize = 2;

/// Asks `server` the question; any failure is a [`Reply::NoReply`] that says what happened.
pub fn ask(server: SocketAddr, q: &Question, timeout: Duration) -> Reply {
    let id = random_id();
    let query = match build_query(id, q) {
        Ok(bytes) => bytes,
        Err(e) => return Reply::NoReply(format!("cannot build the query: {e}")),
    };
    let mut last = String::new();
    for _ in 0..UDP_TRIES {
        match udp(server, &query, id, q, timeout) {
            Ok(m) if m.metadata.truncation => {
                return match tcp(server, &query, id, q, timeout) {
                    Ok(m) => reply(&m),
                    Err(e) => Reply::NoReply(format!("truncated over UDP, then TCP: {e}")),
                };
            }
            Ok(m) => return reply(&m),
            Err(e) => last = e,
        }
    }
    Reply::NoReply(last)
}

fn random_id() -> u16 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish() as u16
}

fn build_query(id: u16, q: &Question) -> Result<Vec<u8>, String> {
    let name = Name::from_ascii(&q.name).map_err(|e| e.to_string())?;
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name, RecordType::from(q.qtype.code())));
    let mut edns = Edns::new();
    edns.set_max_payload(UPSTREAM_UDP_PAYLOAD);
    m.set_edns(edns);
    m.to_vec().map_err(|e| e.to_string())
}

/// A reply to our query: a response with our ID and our question (name compared ASCII
/// case-insensitively).
fn matches(m: &Message, id: u16, q: &Question) -> bool {
    m.metadata.id == id
        && m.metadata.message_type == MessageType::Response
        && m.queries.len() == 1
        && m.queries[0].query_type == RecordType::from(q.qtype.code())
        && m.queries[0].name.to_ascii().eq_ignore_ascii_case(&q.name)
}

fn udp(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    q: &Question,
    timeout: Duration,
) -> Result<Message, String> {
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().map_err(|_| "bind address")?
    } else {
        "[::]:0".parse().map_err(|_| "bind address")?
    };
    let sock = UdpSocket::bind(bind).map_err(|e| format!("UDP bind: {e}"))?;
    sock.connect(server)
        .map_err(|e| format!("UDP connect: {e}"))?;
    sock.send(query).map_err(|e| format!("UDP send: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("timeout after {timeout:?} (UDP)"));
        }
        sock.set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!("timeout after {timeout:?} (UDP)"));
            }
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                return Err("connection refused (UDP: nothing listens there)".into());
            }
            Err(e) => return Err(format!("UDP receive: {e}")),
        };
        // Anything that is not the reply to this query (a late reply to an earlier try, junk)
        // is skipped: keep waiting until the deadline.
        if let Ok(m) = Message::from_vec(&buf[..n])
            && matches(&m, id, q)
        {
            return Ok(m);
        }
    }
}

fn tcp(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    q: &Question,
    timeout: Duration,
) -> Result<Message, String> {
    let mut s =
        TcpStream::connect_timeout(&server, timeout).map_err(|e| format!("TCP connect: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let len = u16::try_from(query.len()).map_err(|_| "query too long")?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    s.write_all(&framed).map_err(|e| format!("TCP send: {e}"))?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len)
        .map_err(|e| format!("TCP receive: {e}"))?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf)
        .map_err(|e| format!("TCP receive: {e}"))?;
    let m = Message::from_vec(&buf).map_err(|e| format!("TCP reply does not parse: {e}"))?;
    if !matches(&m, id, q) {
        return Err("TCP reply does not match the query".into());
    }
    Ok(m)
}

/// The reply in the library's terms: RCODE and the answer section, TXT strings joined.
fn reply(m: &Message) -> Reply {
    let records = m
        .answers
        .iter()
        .map(|r| {
            let data = match &r.data {
                RData::TXT(txt) => txt
                    .txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<String>(),
                other => other.to_string(),
            };
            Record::new(&r.name.to_ascii(), &r.record_type().to_string(), &data)
        })
        .collect();
    Reply::Answer {
        rcode: u16::from(m.metadata.response_code),
        records,
    }
}

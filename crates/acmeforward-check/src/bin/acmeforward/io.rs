//! One lookup over std::net: a UDP query (the library builds it), two tries, and TCP when the
//! reply is truncated. Replies that do not match the query's ID and question are ignored.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use acmeforward_check::{Query, Question, Reply, reply};
use hickory_proto::op::Message;

/// UDP tries per question, each with the whole timeout.
const UDP_TRIES: usize = 2;

/// Asks `server` the question; any failure is a [`Reply::NoReply`] that says what happened.
pub fn ask(server: SocketAddr, q: &Question, timeout: Duration) -> Reply {
    let query = match Query::new(random_id(), q) {
        Ok(query) => query,
        Err(e) => return Reply::NoReply(e),
    };
    let mut last = String::new();
    for _ in 0..UDP_TRIES {
        match udp(server, &query, timeout) {
            Ok(m) if m.metadata.truncation => {
                return match tcp(server, &query, timeout) {
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

fn udp(server: SocketAddr, query: &Query, timeout: Duration) -> Result<Message, String> {
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().map_err(|_| "bind address")?
    } else {
        "[::]:0".parse().map_err(|_| "bind address")?
    };
    let sock = UdpSocket::bind(bind).map_err(|e| format!("UDP bind: {e}"))?;
    sock.connect(server)
        .map_err(|e| format!("UDP connect: {e}"))?;
    sock.send(query.bytes())
        .map_err(|e| format!("UDP send: {e}"))?;
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
            && query.answered_by(&m)
        {
            return Ok(m);
        }
    }
}

fn tcp(server: SocketAddr, query: &Query, timeout: Duration) -> Result<Message, String> {
    let mut s =
        TcpStream::connect_timeout(&server, timeout).map_err(|e| format!("TCP connect: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let len = u16::try_from(query.bytes().len()).map_err(|_| "query too long")?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(query.bytes());
    s.write_all(&framed).map_err(|e| format!("TCP send: {e}"))?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len)
        .map_err(|e| format!("TCP receive: {e}"))?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf)
        .map_err(|e| format!("TCP receive: {e}"))?;
    let m = Message::from_vec(&buf).map_err(|e| format!("TCP reply does not parse: {e}"))?;
    if !query.answered_by(&m) {
        return Err("TCP reply does not match the query".into());
    }
    Ok(m)
}

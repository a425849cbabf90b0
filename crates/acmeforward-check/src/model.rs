//! What one lookup is and what came back: questions, replies and records in the plain text form
//! the comparison and the report use (names in the form of [`crate::name`], no TTL).

use std::fmt;

use crate::name::{absolute, relative};

/// The record types the check asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Alias.
    Cname,
    /// Nameservers of a zone.
    Ns,
    /// Start of authority: its owner is the zone apex.
    Soa,
    /// Text: the challenge token.
    Txt,
}

impl QType {
    /// The type's mnemonic.
    pub fn as_str(self) -> &'static str {
        match self {
            QType::A => "A",
            QType::Aaaa => "AAAA",
            QType::Cname => "CNAME",
            QType::Ns => "NS",
            QType::Soa => "SOA",
            QType::Txt => "TXT",
        }
    }

    /// The type's number on the wire.
    pub fn code(self) -> u16 {
        match self {
            QType::A => 1,
            QType::Ns => 2,
            QType::Cname => 5,
            QType::Soa => 6,
            QType::Txt => 16,
            QType::Aaaa => 28,
        }
    }
}

impl fmt::Display for QType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One question, class IN. `name` is absolute and lower case (`www.example.com.`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Question {
    /// The owner name asked for.
    pub name: String,
    /// The type asked for.
    pub qtype: QType,
}

impl Question {
    /// A question for `name` (any case, trailing dot optional).
    pub fn new(name: &str, qtype: QType) -> Self {
        Question {
            name: absolute(name),
            qtype,
        }
    }
}

impl fmt::Display for Question {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", relative(&self.name), self.qtype)
    }
}

/// One record of an answer section. `owner` is absolute and lower case; `rtype` the mnemonic;
/// `data` the record data in presentation form, names lower case, and for TXT the strings of the
/// record joined (as cert-manager and lego join them) without quotes; other data lower case
/// (names in it compare case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Record {
    /// Owner name.
    pub owner: String,
    /// Type mnemonic (`A`, `TXT`, `CNAME`, ... or `TYPE<n>`).
    pub rtype: String,
    /// Record data.
    pub data: String,
}

impl Record {
    /// A record; `owner` any case, trailing dot optional. TXT data is kept as given; a name
    /// that is the whole data (CNAME, NS, ...) is made absolute; other data is lower-cased.
    pub fn new(owner: &str, rtype: &str, data: &str) -> Self {
        let data = match rtype {
            "TXT" => data.to_string(),
            "CNAME" | "NS" | "DNAME" | "PTR" => absolute(data),
            _ => data.to_ascii_lowercase(),
        };
        Record {
            owner: absolute(owner),
            rtype: rtype.to_string(),
            data,
        }
    }
}

impl Record {
    /// What the comparison looks at: owner, type and data, except that an SOA's data is cut to
    /// MNAME and RNAME. Its serial and timers change with every update and every cache (and
    /// acmeforward caps the MINIMUM at `max_ttl`); the clients' walk uses only the owner.
    pub fn compared(&self) -> (&str, &str, &str) {
        let data = match self.rtype.as_str() {
            "SOA" => {
                let mut end = 0;
                for (i, word) in self.data.split(' ').take(2).enumerate() {
                    end += word.len() + usize::from(i > 0);
                }
                &self.data[..end.min(self.data.len())]
            }
            _ => self.data.as_str(),
        };
        (&self.owner, &self.rtype, data)
    }
}

/// What one view gave for one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A reply: its RCODE and its answer section.
    Answer {
        /// The RCODE (0 NOERROR, 3 NXDOMAIN, ...).
        rcode: u16,
        /// The answer section.
        records: Vec<Record>,
    },
    /// No usable reply: a timeout, a network error, a reply that did not match the question.
    /// The text says which.
    NoReply(String),
}

/// RCODE 0.
pub const NOERROR: u16 = 0;
/// RCODE 2.
pub const SERVFAIL: u16 = 2;
/// RCODE 3.
pub const NXDOMAIN: u16 = 3;
/// RCODE 5.
pub const REFUSED: u16 = 5;

/// The mnemonic of an RCODE.
pub fn rcode_name(rcode: u16) -> String {
    match rcode {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        n => format!("RCODE{n}"),
    }
}

impl Reply {
    /// A NOERROR reply with these records.
    pub fn records(records: Vec<Record>) -> Self {
        Reply::Answer {
            rcode: NOERROR,
            records,
        }
    }

    /// A reply with this RCODE and no records.
    pub fn rcode(rcode: u16) -> Self {
        Reply::Answer {
            rcode,
            records: Vec::new(),
        }
    }

    /// The RCODE, if there was a reply.
    pub fn rcode_value(&self) -> Option<u16> {
        match self {
            Reply::Answer { rcode, .. } => Some(*rcode),
            Reply::NoReply(_) => None,
        }
    }

    /// The answer records (none without a reply).
    pub fn answer(&self) -> &[Record] {
        match self {
            Reply::Answer { records, .. } => records,
            Reply::NoReply(_) => &[],
        }
    }

    /// The answer records of this type owned by `owner` (absolute, lower case).
    pub fn records_of<'a>(
        &'a self,
        owner: &'a str,
        rtype: &'a str,
    ) -> impl Iterator<Item = &'a Record> {
        self.answer()
            .iter()
            .filter(move |r| r.owner == owner && r.rtype == rtype)
    }

    /// Whether two replies say the same: same RCODE and the same answer records as a set
    /// (TTL and order ignored, names compared in lower case, TXT by value). Two non-replies are
    /// never the same: nothing was compared.
    pub fn same_as(&self, other: &Reply) -> bool {
        match (self, other) {
            (Reply::Answer { rcode: a, .. }, Reply::Answer { rcode: b, .. }) => {
                a == b && self.record_set() == other.record_set()
            }
            _ => false,
        }
    }

    fn record_set(&self) -> Vec<(&str, &str, &str)> {
        let mut set: Vec<_> = self.answer().iter().map(Record::compared).collect();
        set.sort();
        set.dedup();
        set
    }
}

impl fmt::Display for Reply {
    /// `NXDOMAIN`, `NOERROR, no records`, `NOERROR: 192.0.2.1, 192.0.2.2`,
    /// `no reply (timeout after 2s)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::NoReply(why) => write!(f, "no reply ({why})"),
            Reply::Answer { rcode, records } => {
                write!(f, "{}", rcode_name(*rcode))?;
                if records.is_empty() {
                    if *rcode == NOERROR {
                        write!(f, ", no records")?;
                    }
                    return Ok(());
                }
                let mut sorted: Vec<&Record> = records.iter().collect();
                sorted.sort();
                sorted.dedup();
                write!(f, ":")?;
                for (i, r) in sorted.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    match r.rtype.as_str() {
                        "TXT" => write!(f, "{sep}{} TXT {:?}", relative(&r.owner), r.data)?,
                        _ => write!(f, "{sep}{} {} {}", relative(&r.owner), r.rtype, r.data)?,
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_compare_as_sets_without_ttl_order_or_case() {
        let a = Reply::records(vec![
            Record::new("x.example.com", "A", "192.0.2.1"),
            Record::new("x.example.com", "A", "192.0.2.2"),
        ]);
        let b = Reply::records(vec![
            Record::new("X.Example.COM.", "A", "192.0.2.2"),
            Record::new("x.example.com", "A", "192.0.2.1"),
        ]);
        assert!(a.same_as(&b));
        let c = Reply::records(vec![Record::new("x.example.com", "A", "192.0.2.1")]);
        assert!(!a.same_as(&c));
        assert!(!Reply::rcode(NXDOMAIN).same_as(&Reply::records(vec![])));
        assert!(Reply::rcode(NXDOMAIN).same_as(&Reply::rcode(NXDOMAIN)));
        assert!(!Reply::NoReply("t".into()).same_as(&Reply::NoReply("t".into())));
        let cname = Reply::records(vec![Record::new("a.example.com", "CNAME", "B.Example.net")]);
        assert_eq!(cname.answer()[0].data, "b.example.net.");
    }

    #[test]
    fn soa_compares_by_zone_mname_and_rname() {
        let soa = |data: &str| Reply::records(vec![Record::new("example.com", "SOA", data)]);
        let public = soa("ns1.example.com. hostmaster.example.com. 1 3600 900 604800 300");
        assert!(public.same_as(&soa(
            "NS1.example.com. hostmaster.example.com. 2 3600 900 604800 30"
        )));
        assert!(!public.same_as(&soa(
            "ns.internal. hostmaster.example.com. 1 3600 900 604800 300"
        )));
        assert!(!public.same_as(&soa(
            "ns1.example.com. root.example.com. 1 3600 900 604800 300"
        )));
        let other_zone = Reply::records(vec![Record::new(
            "www.example.com",
            "SOA",
            "ns1.example.com. hostmaster.example.com. 1 3600 900 604800 300",
        )]);
        assert!(!public.same_as(&other_zone));
    }

    #[test]
    fn txt_compares_by_value() {
        let a = Reply::records(vec![Record::new("_acme-challenge.x", "TXT", "tok")]);
        let b = Reply::records(vec![Record::new("_acme-challenge.x", "TXT", "Tok")]);
        assert!(!a.same_as(&b), "TXT values are case sensitive");
    }

    #[test]
    fn replies_read_plainly() {
        assert_eq!(Reply::rcode(NXDOMAIN).to_string(), "NXDOMAIN");
        assert_eq!(Reply::records(vec![]).to_string(), "NOERROR, no records");
        let r = Reply::records(vec![Record::new(
            "_acme-challenge.example.com",
            "TXT",
            "tok",
        )]);
        assert_eq!(
            r.to_string(),
            "NOERROR: _acme-challenge.example.com TXT \"tok\""
        );
        assert_eq!(
            Reply::NoReply("timeout".into()).to_string(),
            "no reply (timeout)"
        );
    }
}

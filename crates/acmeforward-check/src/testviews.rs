//! A view for the unit tests: a tiny recursive resolver over a table of records (names that
//! exist answer NOERROR, others NXDOMAIN; CNAMEs are followed for other types), with
//! per-question overrides.

use std::collections::{HashMap, HashSet};

use crate::model::{NOERROR, NXDOMAIN, QType, Question, Record, Reply};
use crate::name::{absolute, suffixes};

#[derive(Default, Clone)]
pub(crate) struct View {
    records: Vec<Record>,
    names: HashSet<String>,
    overrides: HashMap<Question, Reply>,
    /// Every question asked, in order.
    pub(crate) asked: Vec<Question>,
}

impl View {
    /// example.com as the public view has it: SOA, NS ns1 (192.0.2.53), the apex and www
    /// challenge tokens, www at 192.0.2.80.
    pub(crate) fn public_example_com() -> Self {
        let mut v = View::default();
        v.zone("example.com", "ns1.example.com", "192.0.2.53");
        v.txt("_acme-challenge.example.com", "token-apex");
        v.txt("_acme-challenge.www.example.com", "token-www");
        v.add("www.example.com", "A", "192.0.2.80");
        v
    }

    pub(crate) fn add(&mut self, owner: &str, rtype: &str, data: &str) {
        let r = Record::new(owner, rtype, data);
        // Every ancestor inside the zone exists too (empty non-terminals).
        for s in suffixes(&r.owner) {
            self.names.insert(s);
        }
        self.records.push(r);
    }

    pub(crate) fn zone(&mut self, apex: &str, ns: &str, ns_addr: &str) {
        self.add(
            apex,
            "SOA",
            &format!(
                "{} hostmaster.{} 1 3600 900 604800 300",
                absolute(ns),
                absolute(apex)
            ),
        );
        self.add(apex, "NS", ns);
        self.add(ns, "A", ns_addr);
    }

    pub(crate) fn txt(&mut self, owner: &str, value: &str) {
        self.add(owner, "TXT", value);
    }

    pub(crate) fn cname(&mut self, owner: &str, target: &str) {
        self.add(owner, "CNAME", target);
    }

    pub(crate) fn set(&mut self, q: Question, reply: Reply) {
        self.overrides.insert(q, reply);
    }

    /// Removes every record of `owner` and makes it NXDOMAIN.
    pub(crate) fn hide(&mut self, owner: &str) {
        let owner = absolute(owner);
        self.records.retain(|r| r.owner != owner);
        self.names.remove(&owner);
    }

    pub(crate) fn ask(&mut self, q: &Question) -> Reply {
        self.asked.push(q.clone());
        if let Some(r) = self.overrides.get(q) {
            return r.clone();
        }
        self.resolve(&q.name, q.qtype, 0)
    }

    fn resolve(&self, name: &str, qtype: QType, depth: usize) -> Reply {
        if !self.names.contains(name) {
            return Reply::rcode(NXDOMAIN);
        }
        let own: Vec<Record> = self
            .records
            .iter()
            .filter(|r| r.owner == name && r.rtype == qtype.as_str())
            .cloned()
            .collect();
        if !own.is_empty() || qtype == QType::Cname {
            return Reply::records(own);
        }
        if let Some(c) = self
            .records
            .iter()
            .find(|r| r.owner == name && r.rtype == "CNAME")
        {
            if depth > 8 {
                return Reply::rcode(2);
            }
            let rest = self.resolve(&c.data, qtype, depth + 1);
            let (rcode, mut records) = match rest {
                Reply::Answer { rcode, records } => (rcode, records),
                Reply::NoReply(_) => (NOERROR, Vec::new()),
            };
            records.insert(0, c.clone());
            return Reply::Answer { rcode, records };
        }
        Reply::records(Vec::new())
    }
}

//! The lookups of one view, in the order the ACME clients make them for a name:
//!
//! * lego's first question, the TXT of `_acme-challenge.NAME` through the recursive resolver;
//! * the CNAME chain of `_acme-challenge.NAME`, one CNAME question per link (cert-manager's
//!   `followCNAMEs`), and the TXT of its end when it moved;
//! * the SOA walk from that end (cert-manager's and lego's `FindZoneByFqdn`): the SOA of the
//!   name, then of each parent, until a NOERROR answer holds an SOA and no CNAME; any RCODE
//!   other than NOERROR and NXDOMAIN ends it, as it fails the clients' walk;
//! * the NS records of the zone found, and each nameserver's A and AAAA (the clients' default
//!   check asks the zone's nameservers directly);
//! * the TXT of `_validation-persist.NAME` (dns-persist-01);
//! * the A and AAAA of NAME itself: the HTTP-01 self check's target (a hint only).
//!
//! Each next question depends on the answers so far, so each view walks on its own.

use acmeforward::{DEFAULT_CHALLENGE_LABELS, MAX_CNAME_CHAIN, MAX_NS_HOSTS};

use crate::model::{NOERROR, NXDOMAIN, QType, Question, Reply};
use crate::name::{absolute, suffixes};

/// Which part of the clients' checks a lookup belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// TXT of `_acme-challenge.NAME`.
    ChallengeTxt,
    /// CNAME of `_acme-challenge.NAME`.
    ChallengeCname,
    /// CNAME of a target in the challenge's CNAME chain.
    TargetCname,
    /// TXT of the end of the challenge's CNAME chain.
    TargetTxt,
    /// One SOA question of the SOA walk.
    Soa,
    /// NS of the zone the SOA walk found.
    Ns,
    /// A or AAAA of one of the zone's nameservers.
    NsAddr,
    /// TXT of `_validation-persist.NAME`.
    Persist,
    /// A or AAAA of NAME (the HTTP-01 hairpin hint).
    Hairpin,
}

impl Step {
    /// The step's name in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::ChallengeTxt => "challenge-txt",
            Step::ChallengeCname => "challenge-cname",
            Step::TargetCname => "target-cname",
            Step::TargetTxt => "target-txt",
            Step::Soa => "soa-walk",
            Step::Ns => "zone-ns",
            Step::NsAddr => "nameserver-address",
            Step::Persist => "persist-txt",
            Step::Hairpin => "hairpin-hint",
        }
    }

    /// Whether the step is a hint: it is reported, and never changes the verdict.
    pub fn is_hint(self) -> bool {
        self == Step::Hairpin
    }
}

/// One question and what the view gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// Which part of the checks asked it.
    pub step: Step,
    /// The question.
    pub question: Question,
    /// The view's reply.
    pub reply: Reply,
}

/// How the SOA walk of a view ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoaEnd {
    /// An SOA answer: its owner, the zone apex.
    Zone(String),
    /// A reply that ends the clients' walk with an error (not NOERROR or NXDOMAIN, or none).
    Stopped {
        /// The name whose SOA question it was.
        at: String,
        /// What came back.
        reply: Reply,
    },
    /// No SOA answer up to the top-level domain.
    NoZone,
}

/// The lookups of one view and what they found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    /// Every lookup, in order.
    pub lookups: Vec<Lookup>,
    /// `_acme-challenge.NAME.`
    pub challenge: String,
    /// The end of the challenge's CNAME chain (the challenge itself without a CNAME).
    pub target: String,
    /// The SOA walk's end, from `target`.
    pub soa: SoaEnd,
}

/// `_acme-challenge.NAME.`
pub fn challenge_name(name: &str) -> String {
    absolute(&format!("{}.{}", DEFAULT_CHALLENGE_LABELS[0], name))
}

/// `_validation-persist.NAME.`
pub fn persist_name(name: &str) -> String {
    absolute(&format!("{}.{}", DEFAULT_CHALLENGE_LABELS[1], name))
}

/// Walks one view for `name`; `ask` makes one lookup.
pub fn walk(name: &str, ask: &mut dyn FnMut(&Question) -> Reply) -> Walk {
    let mut lookups = Vec::new();
    let mut lookup = |step: Step, name: &str, qtype: QType| -> Reply {
        let question = Question::new(name, qtype);
        let reply = ask(&question);
        lookups.push(Lookup {
            step,
            question,
            reply: reply.clone(),
        });
        reply
    };
    let challenge = challenge_name(name);
    lookup(Step::ChallengeTxt, &challenge, QType::Txt);

    let mut target = challenge.clone();
    let mut chain = vec![target.clone()];
    while chain.len() <= MAX_CNAME_CHAIN {
        let step = if chain.len() == 1 {
            Step::ChallengeCname
        } else {
            Step::TargetCname
        };
        let reply = lookup(step, &target, QType::Cname);
        if reply.rcode_value() != Some(NOERROR) {
            break;
        }
        let Some(next) = reply
            .records_of(&target, "CNAME")
            .next()
            .map(|r| r.data.clone())
        else {
            break;
        };
        if chain.contains(&next) {
            break;
        }
        chain.push(next.clone());
        target = next;
    }
    if target != challenge {
        lookup(Step::TargetTxt, &target, QType::Txt);
    }

    let mut soa = SoaEnd::NoZone;
    for domain in suffixes(&target) {
        let reply = lookup(Step::Soa, &domain, QType::Soa);
        match reply.rcode_value() {
            Some(NOERROR) => {
                let answer = reply.answer();
                if answer.iter().any(|r| r.rtype == "CNAME") {
                    continue;
                }
                if let Some(r) = answer.iter().find(|r| r.rtype == "SOA") {
                    soa = SoaEnd::Zone(r.owner.clone());
                    break;
                }
            }
            Some(NXDOMAIN) => {}
            _ => {
                soa = SoaEnd::Stopped { at: domain, reply };
                break;
            }
        }
    }

    if let SoaEnd::Zone(zone) = &soa {
        let reply = lookup(Step::Ns, zone, QType::Ns);
        let mut hosts: Vec<String> = reply
            .records_of(zone, "NS")
            .map(|r| r.data.clone())
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts.truncate(MAX_NS_HOSTS);
        for host in hosts {
            lookup(Step::NsAddr, &host, QType::A);
            lookup(Step::NsAddr, &host, QType::Aaaa);
        }
    }

    lookup(Step::Persist, &persist_name(name), QType::Txt);
    lookup(Step::Hairpin, name, QType::A);
    lookup(Step::Hairpin, name, QType::Aaaa);
    Walk {
        lookups,
        challenge,
        target,
        soa,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{REFUSED, Record};
    use crate::testviews::View;

    fn asked(w: &Walk) -> Vec<String> {
        w.lookups.iter().map(|l| l.question.to_string()).collect()
    }

    #[test]
    fn plain_challenge_walks_soa_ns_and_addresses() {
        let mut public = View::public_example_com();
        let w = walk("www.example.com", &mut |q| public.ask(q));
        assert_eq!(
            asked(&w),
            [
                "_acme-challenge.www.example.com TXT",
                "_acme-challenge.www.example.com CNAME",
                "_acme-challenge.www.example.com SOA",
                "www.example.com SOA",
                "example.com SOA",
                "example.com NS",
                "ns1.example.com A",
                "ns1.example.com AAAA",
                "_validation-persist.www.example.com TXT",
                "www.example.com A",
                "www.example.com AAAA",
            ]
        );
        assert_eq!(w.soa, SoaEnd::Zone("example.com.".into()));
        assert_eq!(w.target, "_acme-challenge.www.example.com.");
    }

    #[test]
    fn cname_chain_is_followed_and_its_end_walked() {
        let mut public = View::public_example_com();
        public.cname("_acme-challenge.www.example.com", "x.auth.example.net");
        public.zone("example.net", "ns1.example.net", "192.0.2.54");
        public.txt("x.auth.example.net", "tok");
        let w = walk("www.example.com", &mut |q| public.ask(q));
        let names = asked(&w);
        assert_eq!(names[1], "_acme-challenge.www.example.com CNAME");
        assert_eq!(names[2], "x.auth.example.net CNAME");
        assert_eq!(names[3], "x.auth.example.net TXT");
        assert_eq!(names[4], "x.auth.example.net SOA");
        assert_eq!(w.target, "x.auth.example.net.");
        assert_eq!(w.soa, SoaEnd::Zone("example.net.".into()));
        assert!(names.contains(&"ns1.example.net A".to_string()));
    }

    /// The walk asks for the target as its octets are: an escaped dot is no label boundary,
    /// so the SOA walk goes from the target to auth.example.net, never to `c.auth...`.
    #[test]
    fn escaped_cname_target_is_followed_and_walked_by_its_labels() {
        let mut public = View::public_example_com();
        public.cname(
            "_acme-challenge.www.example.com",
            "a\\032b\\.c.auth.example.net",
        );
        public.zone("example.net", "ns1.example.net", "192.0.2.54");
        public.txt("a\\032b\\.c.auth.example.net", "tok");
        let w = walk("www.example.com", &mut |q| public.ask(q));
        let names = asked(&w);
        assert_eq!(
            names[2..7],
            [
                "a\\032b\\.c.auth.example.net CNAME",
                "a\\032b\\.c.auth.example.net TXT",
                "a\\032b\\.c.auth.example.net SOA",
                "auth.example.net SOA",
                "example.net SOA",
            ]
        );
        assert_eq!(w.target, "a\\032b\\.c.auth.example.net.");
        assert_eq!(w.soa, SoaEnd::Zone("example.net.".into()));
    }

    #[test]
    fn cname_loop_ends() {
        let mut v = View::public_example_com();
        v.cname("_acme-challenge.example.com", "a.example.com");
        v.cname("a.example.com", "_acme-challenge.example.com");
        let w = walk("example.com", &mut |q| v.ask(q));
        let cnames = w
            .lookups
            .iter()
            .filter(|l| l.question.qtype == QType::Cname)
            .count();
        assert_eq!(cnames, 2);
    }

    #[test]
    fn refused_soa_stops_the_walk() {
        let mut v = View::default();
        v.set(
            Question::new("example.com", QType::Soa),
            Reply::rcode(REFUSED),
        );
        let w = walk("example.com", &mut |q| v.ask(q));
        assert_eq!(
            w.soa,
            SoaEnd::Stopped {
                at: "example.com.".into(),
                reply: Reply::rcode(REFUSED)
            }
        );
        assert!(!asked(&w).contains(&"com SOA".to_string()));
        assert!(!w.lookups.iter().any(|l| l.step == Step::Ns));
    }

    #[test]
    fn soa_behind_a_cname_is_skipped() {
        let mut v = View::public_example_com();
        v.set(
            Question::new("www.example.com", QType::Soa),
            Reply::records(vec![
                Record::new("www.example.com", "CNAME", "lb.example.com"),
                Record::new(
                    "example.com",
                    "SOA",
                    "ns1.example.com. h.example.com. 1 2 3 4 5",
                ),
            ]),
        );
        let w = walk("www.example.com", &mut |q| v.ask(q));
        assert!(asked(&w).contains(&"example.com SOA".to_string()));
        assert_eq!(w.soa, SoaEnd::Zone("example.com.".into()));
    }
}

//! From the comparison to a verdict, the sentence that says what differs, and the one-line fix.

use std::fmt;

use crate::compare::{Comparison, Comparisons};
use crate::model::{REFUSED, Reply};
use crate::name::{absolute, parent, relative};
use crate::walk::{SoaEnd, Step, Walk};

/// What the check found. The exit status follows from it ([`Verdict::exit_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every lookup of the DNS-01 checks gives through the resolver what the public view gives.
    Ok,
    /// The challenge name itself (its TXT or CNAME) differs: split horizon.
    ChallengeHidden,
    /// The challenge is a CNAME, and the resolver does not resolve its target as the public view.
    CnameTargetHidden,
    /// The SOA walk (the clients' zone search) differs.
    SoaWalkDiffers,
    /// The zone's NS records or its nameservers' addresses differ.
    NameserversHidden,
    /// The dns-persist-01 record `_validation-persist.NAME` differs.
    PersistHidden,
    /// The cluster resolver gave no reply.
    ResolverUnreachable,
    /// The public view gave no reply or refused: nothing to compare with.
    PublicUnreachable,
}

/// Exit status: every lookup the same.
pub const EXIT_OK: i32 = 0;
/// Exit status: a lookup differs, or the cluster resolver gave no reply.
pub const EXIT_DIFFERS: i32 = 1;
/// Exit status: the command line is wrong.
pub const EXIT_USAGE: i32 = 2;
/// Exit status: the public view could not be asked (no reply, or REFUSED).
pub const EXIT_PUBLIC_UNREACHABLE: i32 = 3;

impl Verdict {
    /// Every verdict, in the order the check gives precedence to them.
    pub const ALL: [Verdict; 8] = [
        Verdict::PublicUnreachable,
        Verdict::ResolverUnreachable,
        Verdict::ChallengeHidden,
        Verdict::CnameTargetHidden,
        Verdict::SoaWalkDiffers,
        Verdict::NameserversHidden,
        Verdict::PersistHidden,
        Verdict::Ok,
    ];

    /// The verdict's name in the output and the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::ChallengeHidden => "challenge-hidden",
            Verdict::CnameTargetHidden => "cname-target-hidden",
            Verdict::SoaWalkDiffers => "soa-walk-differs",
            Verdict::NameserversHidden => "nameservers-hidden",
            Verdict::PersistHidden => "persist-hidden",
            Verdict::ResolverUnreachable => "resolver-unreachable",
            Verdict::PublicUnreachable => "public-unreachable",
        }
    }

    /// The process exit status for this verdict.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Ok => EXIT_OK,
            Verdict::PublicUnreachable => EXIT_PUBLIC_UNREACHABLE,
            _ => EXIT_DIFFERS,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the check looked: the addresses as the user gave them (for the fix text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Servers {
    /// The cluster resolver.
    pub resolver: String,
    /// The public resolvers, in order.
    pub public: Vec<String>,
}

/// The check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The name checked, as given.
    pub name: String,
    /// Where it looked.
    pub servers: Servers,
    /// The verdict.
    pub verdict: Verdict,
    /// One sentence: what differs (or that nothing does).
    pub summary: String,
    /// The one-line fix.
    pub fix: String,
    /// The acmeforward block the fix adds, as Corefile lines ("" when the fix is not one).
    pub corefile: String,
    /// Every lookup that differs (hints left out), one sentence each.
    pub differences: Vec<String>,
    /// Hints that do not change the verdict (the HTTP-01 hairpin).
    pub hints: Vec<String>,
    /// Every lookup side by side.
    pub comparisons: Comparisons,
}

/// Judges a comparison of `name`'s lookups.
pub fn judge(name: &str, servers: Servers, comparisons: Comparisons) -> Report {
    let rows = &comparisons.rows;
    let zone = fix_zone(name, &comparisons.public_walk);
    let to = servers.public.join(" ");
    let resolver = servers.resolver.clone();
    let add_block = format!(
        "add the acmeforward block for {zone} below (to {to}) to the cluster's Corefile, in the \
         server block that answers the cluster"
    );

    let differences = rows
        .iter()
        .filter(|c| !c.equal && !c.step.is_hint())
        .map(difference)
        .collect();
    let hints = rows
        .iter()
        .filter(|c| !c.equal && c.step.is_hint() && both_answered(c) && has_address(&c.public))
        .map(|c| {
            format!(
                "{}: the cluster resolver answers {}, the public view {}: HTTP-01 self checks \
                 from inside the cluster go to the inside answer; if they fail, they may need \
                 `hairpin {} TARGET` in the acmeforward block",
                c.question,
                c.resolver,
                c.public,
                relative(&c.question.name)
            )
        })
        .collect();

    let public_failure = rows
        .iter()
        .find(|c| c.in_public_walk && public_could_not_answer(&c.public));
    let resolver_failure = rows
        .iter()
        .find(|c| !c.step.is_hint() && matches!(c.resolver, Reply::NoReply(_)));
    let first_difference = rows.iter().find(|c| !c.equal && !c.step.is_hint());

    let (verdict, summary, fix, corefile) = if let Some(c) = public_failure {
        (
            Verdict::PublicUnreachable,
            format!(
                "the public view ({to}) could not answer {}: {}; there is nothing to compare with",
                c.question, c.public
            ),
            "pass --public resolvers that answer from here (e.g. --public 1.1.1.1 --public 8.8.8.8), \
             and check that the name is right"
                .to_string(),
            String::new(),
        )
    } else if let Some(c) = resolver_failure {
        (
            Verdict::ResolverUnreachable,
            format!(
                "the cluster resolver {resolver} is unreachable: {} gave {}",
                c.question, c.resolver
            ),
            format!(
                "check --resolver (the cluster DNS Service address; the default is the first \
                 nameserver of /etc/resolv.conf), that CoreDNS runs, and the network policy \
                 between here and {resolver}"
            ),
            String::new(),
        )
    } else if let Some(c) = first_difference {
        let verdict = classify(c, rows);
        let summary = match verdict {
            Verdict::ChallengeHidden => format!(
                "the cluster resolver answers {} for {}, the public view has {}: split horizon",
                c.resolver, c.question, c.public
            ),
            Verdict::CnameTargetHidden => {
                let target = &comparisons.public_walk.target;
                // The target's TXT, when it differs, says most: it is the token.
                let c = rows
                    .iter()
                    .find(|r| r.step == Step::TargetTxt && !r.equal)
                    .unwrap_or(c);
                format!(
                    "the CNAME target {} of {} is hidden: the cluster resolver answers {} for {}, \
                     the public view {}",
                    relative(target),
                    relative(&comparisons.public_walk.challenge),
                    c.resolver,
                    c.question,
                    c.public
                )
            }
            Verdict::SoaWalkDiffers
                if comparisons.resolver_walk.soa == comparisons.public_walk.soa =>
            {
                format!(
                    "the SOA walk for {} finds the same zone, but the cluster resolver answers {} \
                     for {}, the public view {}",
                    relative(&comparisons.public_walk.target),
                    c.resolver,
                    c.question,
                    c.public
                )
            }
            Verdict::SoaWalkDiffers => format!(
                "the SOA walk for {} {} through the cluster resolver, the public view {}: \
                 the clients would look for the zone's nameservers in the wrong place",
                relative(&comparisons.public_walk.target),
                soa_end(&comparisons.resolver_walk.soa),
                soa_end(&comparisons.public_walk.soa)
            ),
            Verdict::NameserversHidden => format!(
                "the zone's nameservers are hidden: the cluster resolver answers {} for {}, the \
                 public view {}; cert-manager's default check and lego ask these nameservers \
                 directly",
                c.resolver, c.question, c.public
            ),
            Verdict::PersistHidden => format!(
                "the cluster resolver answers {} for {}, the public view has {}: the \
                 dns-persist-01 record is hidden",
                c.resolver, c.question, c.public
            ),
            _ => plain_summary(c),
        };
        let mut extra = Vec::new();
        let fix = match verdict {
            Verdict::CnameTargetHidden => {
                let target_zone = match &comparisons.public_walk.soa {
                    SoaEnd::Zone(z) => relative(z).to_string(),
                    _ => parent(&comparisons.public_walk.target),
                };
                extra.push(format!("delegated {target_zone}"));
                format!(
                    "add `delegated {target_zone}` to the acmeforward block for {zone} (below; \
                     the zone the CNAME points into)"
                )
            }
            Verdict::SoaWalkDiffers => format!(
                "{add_block}, with discovery on (the default; drop any `discovery off`): it \
                 forwards the SOA and NS questions of the walk"
            ),
            Verdict::NameserversHidden => format!(
                "{add_block}, with discovery on (the default): it forwards the NS question and \
                 the nameservers' A and AAAA; or run cert-manager with \
                 --dns01-recursive-nameservers-only"
            ),
            Verdict::PersistHidden => format!(
                "{add_block}; if the block has a `labels` line, keep `_validation-persist` in it"
            ),
            _ => add_block.clone(),
        };
        let corefile = corefile_block(&zone, &servers.public, &extra);
        (verdict, summary, fix, corefile)
    } else {
        (
            Verdict::Ok,
            "every lookup of the DNS-01 checks gives through the cluster resolver what the \
             public view gives"
                .to_string(),
            "nothing to fix".to_string(),
            String::new(),
        )
    };
    Report {
        name: name.to_string(),
        servers,
        verdict,
        summary,
        fix,
        corefile,
        differences,
        hints,
        comparisons,
    }
}

/// The acmeforward block of a fix, as Corefile lines (a block cannot be written on one line).
fn corefile_block(zone: &str, to: &[String], extra: &[String]) -> String {
    let mut out = format!("acmeforward {zone} {{\n    to {}\n", to.join(" "));
    for line in extra {
        out.push_str(&format!("    {line}\n"));
    }
    out.push_str("}\n");
    out
}

/// The verdict of the first differing lookup.
fn classify(c: &Comparison, rows: &[Comparison]) -> Verdict {
    match c.step {
        // A recursive resolver follows the CNAME for the TXT question: when the CNAME itself
        // is the same in both views, what differs is behind it.
        Step::ChallengeTxt => {
            let cname_same = rows
                .iter()
                .any(|r| r.step == Step::ChallengeCname && r.equal && has_cname(&r.public));
            if cname_same {
                Verdict::CnameTargetHidden
            } else {
                Verdict::ChallengeHidden
            }
        }
        Step::ChallengeCname => Verdict::ChallengeHidden,
        Step::TargetCname | Step::TargetTxt => Verdict::CnameTargetHidden,
        Step::Soa => Verdict::SoaWalkDiffers,
        Step::Ns | Step::NsAddr => Verdict::NameserversHidden,
        Step::Persist => Verdict::PersistHidden,
        Step::Hairpin => Verdict::Ok,
    }
}

fn plain_summary(c: &Comparison) -> String {
    format!(
        "the cluster resolver answers {} for {}, the public view {}",
        c.resolver, c.question, c.public
    )
}

fn difference(c: &Comparison) -> String {
    format!(
        "{} ({}): the cluster resolver {}, the public view {}",
        c.question,
        c.step.as_str(),
        says(&c.resolver),
        says(&c.public)
    )
}

/// "answers NXDOMAIN", "gives no reply (timeout ...)".
fn says(r: &Reply) -> String {
    match r {
        Reply::Answer { .. } => format!("answers {r}"),
        Reply::NoReply(_) => format!("gives {r}"),
    }
}

fn has_cname(r: &Reply) -> bool {
    r.answer().iter().any(|r| r.rtype == "CNAME")
}

/// The public view gives NAME an address: without one, HTTP-01 cannot validate at all, and an
/// inside answer that differs says nothing about the hairpin.
fn has_address(r: &Reply) -> bool {
    r.answer()
        .iter()
        .any(|r| r.rtype == "A" || r.rtype == "AAAA")
}

fn both_answered(c: &Comparison) -> bool {
    c.resolver.rcode_value().is_some() && c.public.rcode_value().is_some()
}

/// No reply, or REFUSED: the public view cannot serve as the reference.
fn public_could_not_answer(r: &Reply) -> bool {
    match r {
        Reply::NoReply(_) => true,
        Reply::Answer { rcode, .. } => *rcode == REFUSED,
    }
}

fn soa_end(end: &SoaEnd) -> String {
    match end {
        SoaEnd::Zone(z) => format!("finds the zone {}", relative(z)),
        SoaEnd::Stopped { at, reply } => format!("stops at {} ({reply})", relative(at)),
        SoaEnd::NoZone => "finds no SOA up to the top-level domain".to_string(),
    }
}

/// The zone to list in the fix: the public zone of the challenge when it is not a CNAME, else
/// NAME itself (a listed zone covers the names below it).
fn fix_zone(name: &str, public: &Walk) -> String {
    match &public.soa {
        SoaEnd::Zone(z) if public.target == public.challenge => relative(z).to_string(),
        _ => relative(&absolute(name)).to_string(),
    }
}

//! `acmeforward check`: the lookups that cert-manager's and lego's DNS-01 checks make for a
//! name, through the cluster resolver and a public view side by side, and a verdict with the
//! one-line fix.
//!
//! Everything here is pure: [`check`] takes the two views as functions from a [`Question`] to a
//! [`Reply`] (the binary does the socket I/O), so the unit tests feed it answers and read the
//! verdict and the text. docs/CHECK.md documents the verdicts and exit codes.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod args;
mod compare;
mod message;
mod model;
mod name;
mod render;
#[cfg(test)]
mod testviews;
mod verdict;
#[cfg(test)]
mod verdict_tests;
mod walk;

pub use args::{
    Args, Command, DEFAULT_TIMEOUT, USAGE, parse_args, parse_duration, parse_name, parse_server,
    resolv_conf_nameserver,
};
pub use compare::{Comparison, Comparisons, compare};
pub use message::{Query, reply};
pub use model::{NOERROR, NXDOMAIN, QType, Question, REFUSED, Record, Reply, SERVFAIL, rcode_name};
pub use name::{absolute, relative};
pub use render::{json, text};
pub use verdict::{
    EXIT_DIFFERS, EXIT_OK, EXIT_PUBLIC_UNREACHABLE, EXIT_USAGE, Report, Servers, Verdict, judge,
};
pub use walk::{Lookup, SoaEnd, Step, Walk, challenge_name, persist_name, walk};

/// Walks `name` through both views, compares, and judges.
pub fn check(
    name: &str,
    servers: Servers,
    resolver: &mut dyn FnMut(&Question) -> Reply,
    public: &mut dyn FnMut(&Question) -> Reply,
) -> Report {
    judge(name, servers, compare(name, resolver, public))
}

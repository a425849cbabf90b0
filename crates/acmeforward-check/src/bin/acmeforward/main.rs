//! The `acmeforward` command: `acmeforward check ...` (see docs/CHECK.md). Arguments and
//! judgement come from the library; this file and `io.rs` do the process and socket parts.

mod io;

use std::net::SocketAddr;
use std::process::ExitCode;

use acmeforward_check::{
    Command, EXIT_USAGE, Question, Reply, Servers, USAGE, check, json, parse_args,
    resolv_conf_nameserver, text,
};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(Command::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Check(a)) => a,
        Err(e) => {
            eprint!("acmeforward: {e}\n\n{USAGE}");
            return exit(EXIT_USAGE);
        }
    };
    if let Some(given) = &args.unicode_name {
        eprintln!(
            "acmeforward: checking {given} as {}, its IDNA (punycode) form",
            args.name
        );
    }
    let resolver = match args.resolver {
        Some(r) => r,
        None => match std::fs::read_to_string("/etc/resolv.conf")
            .ok()
            .as_deref()
            .and_then(resolv_conf_nameserver)
        {
            Some(r) => r,
            None => {
                eprint!(
                    "acmeforward: no nameserver in /etc/resolv.conf; give --resolver\n\n{USAGE}"
                );
                return exit(EXIT_USAGE);
            }
        },
    };
    let servers = Servers {
        resolver: resolver.to_string(),
        public: args.public.iter().map(SocketAddr::to_string).collect(),
    };
    let timeout = args.timeout;
    let mut ask_resolver = |q: &Question| io::ask(resolver, q, timeout);
    // The public resolvers in order: the first that replies speaks for the public view.
    let mut ask_public = |q: &Question| {
        let mut last = Reply::NoReply("no public resolver".into());
        for server in &args.public {
            last = match io::ask(*server, q, timeout) {
                Reply::NoReply(why) => Reply::NoReply(format!("{server}: {why}")),
                answer => return answer,
            };
        }
        last
    };
    let report = check(&args.name, servers, &mut ask_resolver, &mut ask_public);
    if args.json {
        println!("{}", json(&report));
    } else {
        print!("{}", text(&report));
    }
    exit(report.verdict.exit_code())
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

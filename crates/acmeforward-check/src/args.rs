//! The command line, durations, server addresses and /etc/resolv.conf, parsed without I/O.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use acmeforward::{DEFAULT_CHALLENGE_LABELS, DEFAULT_PORT};

/// The usage text.
pub const USAGE: &str = "\
usage: acmeforward check [--resolver ADDR[:PORT]] --public ADDR[:PORT] [--public ...] [--json] [--timeout DUR] NAME

Compares the lookups that cert-manager's and lego's DNS-01 checks make for NAME (the certificate's
domain, e.g. www.example.com) through the cluster resolver with a public view.

  --resolver ADDR[:PORT]  the cluster resolver (default: the first nameserver of /etc/resolv.conf)
  --public ADDR[:PORT]    a public resolver to compare with; repeat for more (tried in order)
  --json                  print one JSON object instead of text
  --timeout DUR           per try, e.g. 2s or 500ms (default 2s)

exit status: 0 every lookup the same, 1 something differs (or the cluster resolver gave no reply),
2 usage error, 3 the public view gave no reply or refused. See docs/CHECK.md.
";

/// The default per-try timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The parsed command line of `acmeforward check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// `--resolver`, as given (None: from /etc/resolv.conf).
    pub resolver: Option<SocketAddr>,
    /// `--public`, in order.
    pub public: Vec<SocketAddr>,
    /// `--json`.
    pub json: bool,
    /// `--timeout`.
    pub timeout: Duration,
    /// NAME, without a trailing dot or a wildcard label.
    pub name: String,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the check.
    Check(Args),
    /// Print the usage text.
    Help,
}

/// Parses the arguments after the program name (`check ...`).
pub fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("check") => {}
        Some("-h" | "--help" | "help") => return Ok(Command::Help),
        Some(other) => return Err(format!("unknown command {other:?}; the command is `check`")),
        None => return Err("no command; the command is `check`".into()),
    }
    let mut resolver = None;
    let mut public = Vec::new();
    let mut json = false;
    let mut timeout = DEFAULT_TIMEOUT;
    let mut name = None;
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |flag: &str| -> Result<String, String> {
            match inline.clone().or_else(|| it.next().cloned()) {
                Some(v) => Ok(v),
                None => Err(format!("{flag} needs a value")),
            }
        };
        match flag {
            "-h" | "--help" => return Ok(Command::Help),
            "--resolver" => resolver = Some(parse_server(&value(flag)?)?),
            "--public" => public.push(parse_server(&value(flag)?)?),
            "--timeout" => timeout = parse_duration(&value(flag)?)?,
            "--json" if inline.is_none() => json = true,
            f if f.starts_with('-') && f.len() > 1 => {
                return Err(format!("unknown option {arg:?}"));
            }
            _ => {
                if name.is_some() {
                    return Err(format!("more than one NAME ({arg:?})"));
                }
                name = Some(parse_name(arg)?);
            }
        }
    }
    if public.is_empty() {
        return Err("give at least one --public resolver to compare with".into());
    }
    let Some(name) = name else {
        return Err("no NAME (the certificate's domain, e.g. www.example.com)".into());
    };
    Ok(Command::Check(Args {
        resolver,
        public,
        json,
        timeout,
        name,
    }))
}

/// NAME: a domain name, trailing dot and a leading `*.` (wildcard certificates share the
/// parent's challenge) dropped. The challenge name itself is refused: the check adds the label.
pub fn parse_name(s: &str) -> Result<String, String> {
    let n = s.trim_end_matches('.');
    let n = n.strip_prefix("*.").unwrap_or(n);
    if n.is_empty() || n.len() > 253 {
        return Err(format!("NAME {s:?} is not a domain name"));
    }
    for label in n.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(format!("NAME {s:?} is not a domain name"));
        }
    }
    let first = n.split('.').next().unwrap_or_default().to_ascii_lowercase();
    if DEFAULT_CHALLENGE_LABELS.contains(&first.as_str()) {
        return Err(format!(
            "NAME {s:?} is a challenge name: give the certificate's domain, the check adds {first}"
        ));
    }
    Ok(n.to_string())
}

/// `2s`, `500ms`, `1m`, `1.5s`: a positive duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration {s:?} (e.g. 2s or 500ms)");
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(bad)?;
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().map_err(|_| bad())?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        _ => return Err(bad()),
    };
    let secs = value * scale;
    if !(secs > 0.0 && secs <= 3600.0) {
        return Err(format!(
            "duration {s:?} out of range (more than 0, at most 1h)"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `192.0.2.1`, `192.0.2.1:5353`, `2001:db8::1`, `[2001:db8::1]:5353`; port 53 unless given.
pub fn parse_server(s: &str) -> Result<SocketAddr, String> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    match bare.parse::<IpAddr>() {
        Ok(ip) => Ok(SocketAddr::new(ip, DEFAULT_PORT)),
        Err(_) => Err(format!(
            "bad server address {s:?} (an IP address, optionally with :PORT)"
        )),
    }
}

/// The first `nameserver` of a resolv.conf text, port 53 (a zone index after `%` is dropped).
pub fn resolv_conf_nameserver(text: &str) -> Option<SocketAddr> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            return None;
        }
        let addr = words.next()?;
        let addr = addr.split('%').next()?;
        addr.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, DEFAULT_PORT))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Command, String> {
        parse_args(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn full_command_line() {
        let got = args(&[
            "check",
            "--resolver",
            "10.96.0.10",
            "--public",
            "127.0.0.53",
            "--public=[2001:db8::1]:5353",
            "--json",
            "--timeout",
            "500ms",
            "WWW.example.com.",
        ]);
        assert_eq!(
            got,
            Ok(Command::Check(Args {
                resolver: Some("10.96.0.10:53".parse().expect("addr")),
                public: vec![
                    "127.0.0.53:53".parse().expect("addr"),
                    "[2001:db8::1]:5353".parse().expect("addr")
                ],
                json: true,
                timeout: Duration::from_millis(500),
                name: "WWW.example.com".into(),
            }))
        );
    }

    #[test]
    fn usage_errors() {
        for bad in [
            &[][..],
            &["lookup", "x.example"],
            &["check", "example.com"],
            &["check", "--public", "127.0.0.53"],
            &["check", "--public"],
            &["check", "--public", "dns.google", "example.com"],
            &[
                "check",
                "--public",
                "127.0.0.53",
                "--timeout",
                "2",
                "example.com",
            ],
            &[
                "check",
                "--public",
                "127.0.0.53",
                "--frobnicate",
                "example.com",
            ],
            &["check", "--public", "127.0.0.53", "a.example", "b.example"],
            &[
                "check",
                "--public",
                "127.0.0.53",
                "_acme-challenge.example.com",
            ],
            &["check", "--public", "127.0.0.53", "exa mple.com"],
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
        assert_eq!(args(&["check", "--help"]), Ok(Command::Help));
    }

    #[test]
    fn wildcard_name_checks_the_parent() {
        assert_eq!(parse_name("*.example.com"), Ok("example.com".into()));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        for bad in ["", "2", "s", "0s", "-1s", "2h", "1..5s", "2 s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn servers() {
        assert_eq!(
            parse_server("127.0.0.1"),
            Ok("127.0.0.1:53".parse().expect("a"))
        );
        assert_eq!(
            parse_server("127.0.0.1:5353"),
            Ok("127.0.0.1:5353".parse().expect("a"))
        );
        assert_eq!(parse_server("::1"), Ok("[::1]:53".parse().expect("a")));
        assert_eq!(parse_server("[::1]"), Ok("[::1]:53".parse().expect("a")));
        assert!(parse_server("127.0.0.1:99999").is_err());
    }

    #[test]
    fn resolv_conf() {
        let text = "# generated\nsearch default.svc.cluster.local\nnameserver fe80::1%eth0\nnameserver 10.96.0.10\n";
        assert_eq!(
            resolv_conf_nameserver(text),
            Some("[fe80::1]:53".parse().expect("a"))
        );
        assert_eq!(resolv_conf_nameserver("options ndots:5\n"), None);
        assert_eq!(
            resolv_conf_nameserver("nameserver\nnameserver 10.96.0.10"),
            Some("10.96.0.10:53".parse().expect("a"))
        );
    }
}

//! The command line, durations, server addresses and /etc/resolv.conf, parsed without I/O.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use acmeforward::{DEFAULT_CHALLENGE_LABELS, DEFAULT_PORT};
use hickory_proto::rr::Name;

/// The usage text.
pub const USAGE: &str = "\
usage: acmeforward check [--resolver ADDR[:PORT]] --public ADDR[:PORT] [--public ...] [--json] [--timeout DUR] [--] NAME

Compares the lookups that cert-manager's and lego's DNS-01 checks make for NAME (the certificate's
domain, e.g. www.example.com; a Unicode name is checked as its IDNA xn-- form) through the cluster
resolver with a public view.

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
    /// NAME, without a trailing dot or a wildcard label, in ASCII (an internationalized name in
    /// its IDNA form, `xn--` labels).
    pub name: String,
    /// NAME as given, when it was an internationalized name (`name` is then its ASCII form).
    pub unicode_name: Option<String>,
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
    let mut unicode_name = None;
    // After `--` every argument is an operand (POSIX), even one that starts with `-`.
    let mut options_ended = false;
    while let Some(arg) = it.next() {
        if options_ended || arg == "-" || !arg.starts_with('-') {
            if name.is_some() {
                return Err(format!("more than one NAME ({arg:?})"));
            }
            name = Some(parse_name(arg)?);
            if !arg.is_ascii() {
                unicode_name = Some(arg.clone());
            }
            continue;
        }
        if arg == "--" {
            options_ended = true;
            continue;
        }
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
            _ => return Err(format!("unknown option {arg:?}")),
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
        unicode_name,
    }))
}

/// NAME: a domain name, trailing dot and a leading `*.` (wildcard certificates share the
/// parent's challenge) dropped. A Unicode name becomes its IDNA (UTS #46) ASCII form, as DNS and
/// certificates carry it. The challenge name itself is refused: the check adds the label; so is
/// a name too long to ask with that label in front.
pub fn parse_name(s: &str) -> Result<String, String> {
    let ascii = if s.is_ascii() {
        s.to_string()
    } else {
        idna_ascii(s)?
    };
    let n = ascii.trim_end_matches('.');
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
    // `_validation-persist.NAME` in wire form: a length octet and the label, NAME's length
    // plus two octets (its first length octet and the root).
    let longest = DEFAULT_CHALLENGE_LABELS.iter().max_by_key(|l| l.len());
    if let Some(label) = longest
        && 1 + label.len() + n.len() + 2 > MAX_NAME_OCTETS
    {
        return Err(format!(
            "NAME {s:?} is too long: {label}.NAME would be longer than {MAX_NAME_OCTETS} octets, \
             which no DNS question can ask (NAME can have at most {} characters)",
            MAX_NAME_OCTETS - 3 - label.len()
        ));
    }
    Ok(n.to_string())
}

/// The longest domain name, in octets of wire form (RFC 1035).
const MAX_NAME_OCTETS: usize = 255;

/// The IDNA (UTS #46, STD3 rules) ASCII form of a Unicode name, or why it has none.
fn idna_ascii(s: &str) -> Result<String, String> {
    // The full stops UTS #46 reads as label separators.
    let dotted: String = s
        .chars()
        .map(|c| match c {
            '\u{3002}' | '\u{ff0e}' | '\u{ff61}' => '.',
            c => c,
        })
        .collect();
    let refuse = |why: String| {
        format!(
            "NAME {s:?} is not a domain name: IDNA (UTS #46) cannot convert it ({why}); give \
             its ASCII form, with xn-- labels for the internationalized ones"
        )
    };
    let name = Name::from_utf8(&dotted).map_err(|e| refuse(e.to_string()))?;
    let labels: Vec<&str> = name
        .iter()
        .map(|l| std::str::from_utf8(l).map_err(|e| refuse(e.to_string())))
        .collect::<Result<_, _>>()?;
    Ok(labels.join("."))
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
                unicode_name: None,
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

    /// `--` ends the options: what follows is NAME, even when it looks like an option.
    #[test]
    fn double_dash_ends_the_options() {
        let got = args(&["check", "--public", "127.0.0.53", "--", "example.com"]);
        let Ok(Command::Check(a)) = got else {
            panic!("{got:?}");
        };
        assert_eq!(a.name, "example.com");
        let got = args(&["check", "--public", "127.0.0.53", "--", "-x.example.com"]);
        let Ok(Command::Check(a)) = got else {
            panic!("{got:?}");
        };
        assert_eq!(a.name, "-x.example.com");
        // After `--`, `--json` is NAME, not the option; `--public` is NAME too, so the next
        // argument is a second NAME.
        let got = args(&["check", "--public", "127.0.0.53", "--", "--json"]);
        let Ok(Command::Check(a)) = got else {
            panic!("{got:?}");
        };
        assert_eq!((a.name.as_str(), a.json), ("--json", false));
        let err = args(&["check", "--", "--public", "127.0.0.53", "example.com"]).unwrap_err();
        assert!(err.contains("more than one NAME"), "{err}");
    }

    /// A Unicode name is checked as its IDNA (UTS #46) ASCII form, and says so.
    #[test]
    fn unicode_name_is_checked_as_punycode() {
        let got = args(&["check", "--public", "127.0.0.53", "Bücher.Example."]);
        let Ok(Command::Check(a)) = got else {
            panic!("{got:?}");
        };
        assert_eq!(a.name, "xn--bcher-kva.example");
        assert_eq!(a.unicode_name.as_deref(), Some("Bücher.Example."));
        assert_eq!(
            parse_name("*.bücher.example"),
            Ok("xn--bcher-kva.example".into())
        );
        assert_eq!(
            parse_name("例え。テスト"),
            Ok("xn--r8jz45g.xn--zckzah".into())
        );
        let Ok(Command::Check(a)) = args(&["check", "--public", "127.0.0.53", "example.com"])
        else {
            panic!("ascii name");
        };
        assert_eq!(a.unicode_name, None);
    }

    /// A name IDNA cannot convert is refused with the way out: its xn-- form.
    #[test]
    fn unconvertible_unicode_name_points_to_the_xn_form() {
        for bad in ["bü cher.example", "b\u{00a0}ü.example", "ü..example"] {
            let err = parse_name(bad).unwrap_err();
            assert!(err.contains("xn--"), "{bad}: {err}");
        }
    }

    /// The check asks `_validation-persist.NAME`: a NAME too long for that is refused up front,
    /// saying why, rather than failing a question later.
    #[test]
    fn name_too_long_for_its_challenge_names_is_refused() {
        let label = "a".repeat(63);
        let longest = format!("{label}.{label}.{label}.{}", "b".repeat(41));
        assert_eq!(longest.len(), 233);
        assert_eq!(parse_name(&longest), Ok(longest.clone()));
        let err = parse_name(&format!("{longest}b")).unwrap_err();
        assert!(
            err.contains("_validation-persist.NAME") && err.contains("233"),
            "{err}"
        );
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

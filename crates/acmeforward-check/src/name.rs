//! Domain names as the check holds them: text in RFC 1035 presentation format, absolute (one
//! trailing dot), ASCII in lower case, escaped as dig escapes (BIND's `dns_name_totext`):
//! `\.` `\\` `\"` `\(` `\)` `\;` `\@` `\$` for those characters, `\DDD` (decimal) for every
//! octet outside `!`..`~`. Each name has exactly one such text, so equal text is an equal name,
//! and any octet a label carries survives: a name read from a reply can be asked again.
//!
//! The text is read back with the core's presentation-format scanner ([`Zone::parse`]).

use acmeforward::Zone;

/// `name` in the check's form: lower case, one trailing dot ("." for the root), escaped as dig
/// escapes. A text that is not a name (an empty label, a bad escape, too long) is kept as
/// given, lower case with one trailing dot.
pub fn absolute(name: &str) -> String {
    match Zone::parse(name) {
        Ok(zone) => presentation(wire_labels(zone.wire())),
        Err(_) => {
            let n = name.trim_end_matches('.').to_ascii_lowercase();
            if n.is_empty() { ".".into() } else { n + "." }
        }
    }
}

/// `name` without its trailing dot (the root stays "."). For a name in the check's form the
/// last dot is never an escaped one.
pub fn relative(name: &str) -> &str {
    if name == "." {
        name
    } else {
        name.strip_suffix('.').unwrap_or(name)
    }
}

/// The label octets of `name` (presentation format), ASCII in lower case, the root label left
/// out; an error says why the text is not a name.
pub fn labels(name: &str) -> Result<Vec<Vec<u8>>, String> {
    let zone = Zone::parse(name).map_err(|e| format!("{name:?} is not a domain name: {e}"))?;
    Ok(wire_labels(zone.wire())
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect())
}

/// The check's form of the name with these labels (root label left out).
pub fn presentation<'a>(labels: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut out = String::new();
    for label in labels {
        for &b in label {
            let b = b.to_ascii_lowercase();
            match b {
                b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                    out.push('\\');
                    out.push(char::from(b));
                }
                b'!'..=b'~' => out.push(char::from(b)),
                _ => out.push_str(&format!("\\{b:03}")),
            }
        }
        out.push('.');
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// The name and each of its ancestors, the name first, the root left out.
pub fn suffixes(name: &str) -> Vec<String> {
    let Ok(labels) = labels(name) else {
        return Vec::new();
    };
    (0..labels.len())
        .map(|i| presentation(labels[i..].iter().map(Vec::as_slice)))
        .collect()
}

/// The parent of `name`, without its trailing dot; a top-level domain is its own (never the
/// root: a fix never names it).
pub fn parent(name: &str) -> String {
    let mut up = suffixes(name).into_iter().take(2);
    let first = up.next().unwrap_or_else(|| absolute(name));
    relative(&up.next().unwrap_or(first)).to_string()
}

/// The labels of a wire-form name (length octets, ending in the zero root label).
fn wire_labels(wire: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&len) = wire.get(i) {
        let end = i + 1 + usize::from(len);
        match wire.get(i + 1..end) {
            Some(label) if len > 0 => out.push(label),
            _ => break,
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_absolute_and_lower_case() {
        assert_eq!(absolute("WWW.Example.com"), "www.example.com.");
        assert_eq!(absolute("www.example.com."), "www.example.com.");
        assert_eq!(absolute("."), ".");
        assert_eq!(absolute(""), ".");
        assert_eq!(relative("www.example.com."), "www.example.com");
        assert_eq!(relative("."), ".");
    }

    /// One text per name: every way of writing it reads as dig writes it; an escaped dot at the
    /// end of a label is not the root's dot.
    #[test]
    fn escapes_are_canonical_and_decimal() {
        assert_eq!(absolute("a\\032b.example"), "a\\032b.example.");
        assert_eq!(absolute("a\\ b.Example"), "a\\032b.example.");
        assert_eq!(absolute("\\065\\.x.example"), "a\\.x.example.");
        assert_eq!(absolute("A\\.."), "a\\..");
        assert_eq!(relative(&absolute("a\\..")), "a\\.");
        assert_eq!(absolute("x\\255\\000\\127~!"), "x\\255\\000\\127~!.");
        assert_eq!(
            absolute("q\\\"\\\\\\;\\@\\$\\(\\)"),
            "q\\\"\\\\\\;\\@\\$\\(\\)."
        );
        assert_eq!(labels("a\\032b.x").expect("name"), [&b"a b"[..], b"x"]);
    }

    #[test]
    fn suffixes_walk_up_to_the_tld() {
        assert_eq!(
            suffixes("a.b.example.com."),
            ["a.b.example.com.", "b.example.com.", "example.com.", "com."]
        );
        assert!(suffixes(".").is_empty());
        assert_eq!(
            suffixes("x\\.y.example.net."),
            ["x\\.y.example.net.", "example.net.", "net."]
        );
        assert_eq!(parent("x\\.y.auth.example.net."), "auth.example.net");
        assert_eq!(parent("net."), "net");
    }
}

//! The report as plain text (for the operator) and as one JSON object (for scripts).

use std::fmt::Write;

use crate::compare::Comparison;
use crate::model::{Record, Reply, rcode_name};
use crate::name::relative;
use crate::verdict::Report;

/// The plain-text report: verdict, what differs, the fix, hints, then every lookup (DIFF marks
/// those that differ; the JSON report lists them as sentences too).
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "acmeforward check {}: cluster resolver {}, public view {}",
        r.name,
        r.servers.resolver,
        r.servers.public.join(", ")
    );
    let _ = writeln!(out, "verdict: {}", r.verdict);
    let _ = writeln!(out, "{}", r.summary);
    let _ = writeln!(out, "fix: {}", r.fix);
    for line in r.corefile.lines() {
        let _ = writeln!(out, "    {line}");
    }
    for h in &r.hints {
        let _ = writeln!(out, "hint: {h}");
    }
    let _ = writeln!(
        out,
        "lookups (same: the cluster resolver answers as the public view):"
    );
    for c in &r.comparisons.rows {
        let mark = if c.equal { "same" } else { "DIFF" };
        let _ = writeln!(
            out,
            "  {mark}  {:<46} resolver: {}  |  public: {}",
            c.question.to_string(),
            c.resolver,
            c.public
        );
    }
    out
}

/// The JSON report: one object.
pub fn json(r: &Report) -> String {
    let mut out = String::from("{");
    let _ = write!(out, "\"verdict\":{}", string(r.verdict.as_str()));
    let _ = write!(out, ",\"exit_code\":{}", r.verdict.exit_code());
    let _ = write!(out, ",\"name\":{}", string(&r.name));
    let _ = write!(out, ",\"resolver\":{}", string(&r.servers.resolver));
    let _ = write!(out, ",\"public\":{}", strings(&r.servers.public));
    let _ = write!(out, ",\"summary\":{}", string(&r.summary));
    let _ = write!(out, ",\"fix\":{}", string(&r.fix));
    let _ = write!(out, ",\"corefile\":{}", string(&r.corefile));
    let _ = write!(out, ",\"differences\":{}", strings(&r.differences));
    let _ = write!(out, ",\"hints\":{}", strings(&r.hints));
    out.push_str(",\"lookups\":[");
    for (i, c) in r.comparisons.rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        comparison(&mut out, c);
    }
    out.push_str("]}");
    out
}

fn comparison(out: &mut String, c: &Comparison) {
    let _ = write!(
        out,
        "{{\"step\":{},\"hint\":{},\"question\":{{\"name\":{},\"type\":{}}},\"resolver\":",
        string(c.step.as_str()),
        c.step.is_hint(),
        string(relative(&c.question.name)),
        string(c.question.qtype.as_str())
    );
    reply(out, &c.resolver);
    out.push_str(",\"public\":");
    reply(out, &c.public);
    let _ = write!(out, ",\"equal\":{}}}", c.equal);
}

fn reply(out: &mut String, r: &Reply) {
    match r {
        Reply::NoReply(why) => {
            let _ = write!(
                out,
                "{{\"rcode\":null,\"error\":{},\"records\":[]}}",
                string(why)
            );
        }
        Reply::Answer { rcode, records } => {
            let _ = write!(
                out,
                "{{\"rcode\":{},\"records\":[",
                string(&rcode_name(*rcode))
            );
            let mut sorted: Vec<&Record> = records.iter().collect();
            sorted.sort();
            sorted.dedup();
            for (i, rec) in sorted.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(
                    out,
                    "{{\"name\":{},\"type\":{},\"data\":{}}}",
                    string(relative(&rec.owner)),
                    string(&rec.rtype),
                    string(&rec.data)
                );
            }
            out.push_str("]}");
        }
    }
}

fn strings(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| string(s)).collect();
    format!("[{}]", parts.join(","))
}

/// A JSON string literal.
fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::string;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(string("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
    }
}

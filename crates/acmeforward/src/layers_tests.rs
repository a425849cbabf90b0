//! The crate's layering, checked: each module imports only modules below it, so the source
//! layout reads as the architecture and no import cycle can come back. Test code (the
//! `*_tests.rs` files, `testutil.rs`, inline `#[cfg(test)] mod` blocks) may use anything.

use std::path::Path;

/// Bottom to top. A module may import the modules of lower layers, and those listed before it
/// in its own layer; nothing above.
const LAYERS: &[(&str, &[&str])] = &[
    ("wire and name primitives", &["wire", "name"]),
    (
        "configuration",
        &[
            "config_error",
            "challenge_labels",
            "hairpin_table",
            "config",
        ],
    ),
    ("rules and the classifier", &["policy", "classify"]),
    (
        "learned and prefetched state",
        &["learned", "filter", "engine"],
    ),
    (
        "the exchange's parts",
        &[
            "client",
            "query",
            "validate",
            "fail_reason",
            "discovery",
            "probes",
        ],
    ),
    ("answers for the client", &["rewrite", "hairpin_answer"]),
    ("state machines", &["exchange", "share", "prefetch"]),
];

/// The modules in the order they may import each other.
fn order() -> Vec<&'static str> {
    LAYERS
        .iter()
        .flat_map(|(_, modules)| modules.iter().copied())
        .collect()
}

/// The `crate::` module names that the non-test code of `source` refers to (comments skipped).
fn imports(source: &str) -> Vec<String> {
    let code = match source.find("\n#[cfg(test)]\nmod ") {
        Some(end) => source.get(..end).unwrap_or(source),
        None => source,
    };
    let mut found = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = rest.get(at + "crate::".len()..).unwrap_or("");
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && !found.contains(&name) {
                found.push(name);
            }
        }
    }
    found
}

/// The imports of `module` (with `source`) that are not below it: empty when it keeps to its
/// layer. Names that are not modules of `order` (re-exports from the crate root) are ignored.
fn violations(order: &[&str], module: &str, source: &str) -> Vec<String> {
    let Some(rank) = order.iter().position(|m| *m == module) else {
        return vec![format!("{module}.rs is in no layer: add it to LAYERS")];
    };
    imports(source)
        .into_iter()
        .filter(|name| name != module)
        .filter(|name| {
            order
                .iter()
                .position(|m| m == name)
                .is_some_and(|r| r >= rank)
        })
        .map(|name| format!("{module}.rs imports {name}, which is not below it"))
        .collect()
}

fn is_test_file(module: &str) -> bool {
    module.ends_with("_tests") || module == "testutil" || module == "lib"
}

#[test]
fn every_module_imports_only_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let order = order();
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        let Some(module) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_none_or(|e| e != "rs") || is_test_file(module) {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("read");
        problems.extend(violations(&order, module, &source));
        seen.push(module.to_string());
    }
    for module in &order {
        if !seen.iter().any(|s| s == module) {
            problems.push(format!("{module} is in LAYERS but has no file"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_finds_an_upward_import() {
    let order = order();
    let upward = "use crate::name;\nuse crate::exchange::Exchange;\n";
    assert_eq!(
        violations(&order, "wire", upward),
        [
            "wire.rs imports name, which is not below it",
            "wire.rs imports exchange, which is not below it"
        ]
    );
    // Same layer, listed later: also refused.
    assert_eq!(
        violations(&order, "learned", "use crate::engine::Engine;").len(),
        1
    );
    // Downward imports, comments, re-exports from the root and test modules are fine.
    let fine = "use crate::wire::Transport;\n// see crate::exchange\nuse crate::Verdict;\n\
                #[cfg(test)]\nmod tests {\n    use crate::exchange::Exchange;\n}\n";
    assert!(violations(&order, "validate", fine).is_empty());
    assert_eq!(violations(&order, "newcomer", "").len(), 1);
}

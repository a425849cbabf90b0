//! The crate's layering, checked: each module imports only modules below it, so the source
//! layout reads as the architecture and no import cycle can come back. Each layer is a folder of
//! `src/` (the state machine of the top layer, `prefetch.rs`, sits beside them). Test code (the
//! `*_tests.rs` files, `testutil.rs`, inline `#[cfg(test)] mod` blocks) may use anything.

use std::path::Path;

/// Bottom to top: each layer's folder and its modules (paths below `crate::`, a folder's
/// `mod.rs` by the folder's name). A module may import the modules of lower layers, and those
/// listed before it in its own layer; nothing above.
const LAYERS: &[(&str, &[&str])] = &[
    ("wire", &["wire", "wire::name"]),
    (
        "config",
        &[
            "config::error",
            "config::labels",
            "config::hairpin",
            "config",
            "config::builder",
        ],
    ),
    ("rules", &["rules", "rules::policy", "rules::classify"]),
    (
        "state",
        &[
            "state",
            "state::prefilter",
            "state::learned",
            "state::filter",
            "state::engine",
        ],
    ),
    (
        "exchange",
        &[
            "exchange",
            "exchange::client",
            "exchange::query",
            "exchange::validate",
            "exchange::fail_reason",
            "exchange::discovery",
            "exchange::probes",
            "exchange::rewrite",
            "exchange::hairpin_answer",
            "exchange::machine",
            "exchange::plan",
            "exchange::share",
        ],
    ),
    ("", &["prefetch"]),
];

/// The modules in the order they may import each other.
fn order() -> Vec<&'static str> {
    LAYERS
        .iter()
        .flat_map(|(_, modules)| modules.iter().copied())
        .collect()
}

/// The `crate::` paths that the non-test code of `source` names (comment lines skipped), with
/// `use` trees expanded: `crate::a::{b::C, d}` names `a::b::C` and `a::d`.
fn imports(source: &str) -> Vec<String> {
    let code = match source.find("\n#[cfg(test)]\nmod ") {
        Some(end) => source.get(..end).unwrap_or(source),
        None => source,
    };
    let code: Vec<&str> = code
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect();
    let code = code.join("\n");
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = rest.get(at + "crate::".len()..).unwrap_or("");
        paths("", rest, &mut found);
    }
    found
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Adds to `found` the paths of the `use` tree (or plain path) at the start of `rest`, each
/// after `prefix`.
fn paths(prefix: &str, rest: &str, found: &mut Vec<String>) {
    let mut path = prefix.to_string();
    let mut rest = rest;
    let mut segments = 0;
    loop {
        let segment: String = rest.chars().take_while(|c| is_ident(*c)).collect();
        if segment.is_empty() {
            break;
        }
        if !path.is_empty() {
            path.push_str("::");
        }
        path.push_str(&segment);
        segments += 1;
        rest = rest.get(segment.len()..).unwrap_or("");
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => break,
        }
    }
    if let Some(inner) = rest.strip_prefix('{') {
        let (mut depth, mut start) = (0usize, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth > 0 => depth -= 1,
                ',' | '}' if depth == 0 => {
                    paths(&path, inner.get(start..i).unwrap_or("").trim_start(), found);
                    if c == '}' {
                        return;
                    }
                    start = i + 1;
                }
                _ => {}
            }
        }
        return;
    }
    // An empty item (after a trailing comma) names nothing.
    if segments > 0 && !found.contains(&path) {
        found.push(path);
    }
}

/// The module of `order` that `path` is in (the longest that is a prefix of it), if any.
fn module_of<'a>(order: &[&'a str], path: &str) -> Option<&'a str> {
    order
        .iter()
        .copied()
        .filter(|m| {
            path == *m
                || path
                    .strip_prefix(*m)
                    .is_some_and(|rest| rest.starts_with("::"))
        })
        .max_by_key(|m| m.len())
}

/// The imports of `module` (with `source`) that are not below it: empty when it keeps to its
/// layer. Paths in no module of `order` (re-exports from the crate root) are ignored.
fn violations(order: &[&str], module: &str, source: &str) -> Vec<String> {
    let Some(rank) = order.iter().position(|m| *m == module) else {
        return vec![format!("{module} is in no layer: add it to LAYERS")];
    };
    let mut found: Vec<String> = Vec::new();
    for path in imports(source) {
        let Some(name) = module_of(order, &path) else {
            continue;
        };
        let above = order
            .iter()
            .position(|m| *m == name)
            .is_some_and(|r| r >= rank);
        let message = format!("{module} imports {name}, which is not below it");
        if name != module && above && !found.contains(&message) {
            found.push(message);
        }
    }
    found
}

fn is_test_file(stem: &str) -> bool {
    stem.ends_with("_tests") || stem == "testutil" || stem == "lib"
}

/// The source files of `dir` and its folders, each with its module path below `crate::` (a
/// folder's `mod.rs` by the folder's name); test files left out.
fn modules(dir: &Path, prefix: &str, out: &mut Vec<(String, std::path::PathBuf)>) {
    for entry in std::fs::read_dir(dir).expect("src") {
        let path = entry.expect("entry").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let join = |name: &str| match prefix {
            "" => name.to_string(),
            _ => format!("{prefix}::{name}"),
        };
        if path.is_dir() {
            modules(&path, &join(stem), out);
        } else if path.extension().is_some_and(|e| e == "rs") && !is_test_file(stem) {
            let module = match stem {
                "mod" => prefix.to_string(),
                _ => join(stem),
            };
            out.push((module, path));
        }
    }
}

#[test]
fn every_module_imports_only_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let order = order();
    let mut problems = Vec::new();
    let mut found = Vec::new();
    modules(&src, "", &mut found);
    for (module, path) in &found {
        let source = std::fs::read_to_string(path).expect("read");
        problems.extend(violations(&order, module, &source));
    }
    for module in &order {
        if !found.iter().any(|(m, _)| m == module) {
            problems.push(format!("{module} is in LAYERS but has no file"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn each_layer_is_its_folder() {
    for (folder, modules) in LAYERS {
        for module in *modules {
            let parent = module.rsplit_once("::").map_or("", |(parent, _)| parent);
            let in_folder = match *folder {
                "" => !module.contains("::"),
                _ => *module == *folder || parent == *folder,
            };
            assert!(in_folder, "{module} is listed in the layer of {folder:?}");
        }
    }
}

#[test]
fn the_check_finds_an_upward_import() {
    let order = order();
    let upward = "use crate::wire::name;\nuse crate::exchange::machine::Exchange;\n";
    assert_eq!(
        violations(&order, "wire", upward),
        [
            "wire imports wire::name, which is not below it",
            "wire imports exchange::machine, which is not below it"
        ]
    );
    // Same layer, listed later: also refused.
    assert_eq!(
        violations(
            &order,
            "state::learned",
            "use crate::state::engine::Engine;"
        )
        .len(),
        1
    );
    // Through a `use` tree, on one line or several.
    let tree =
        "use crate::exchange::{\n    client::Client,\n    machine::{Action, Exchange},\n};\n";
    assert_eq!(
        violations(&order, "exchange::validate", tree),
        ["exchange::validate imports exchange::machine, which is not below it"]
    );
    assert_eq!(
        violations(&order, "config", "use crate::{rules::policy, wire};").len(),
        1
    );
    // The trailing comma of a `use` list names no module.
    let listed =
        "use crate::config::{\n    error::ConfigError,\n    labels::ChallengeLabels,\n};\n";
    assert!(violations(&order, "config::hairpin", listed).is_empty());
    // A folder's own module counts at its place in the order.
    assert_eq!(
        violations(&order, "config::error", "use crate::config::Zone;").len(),
        1
    );
    // Downward imports, comments, re-exports from the root and test modules are fine.
    let fine = "use crate::wire::Transport;\n// see crate::exchange::machine\nuse crate::Verdict;\n\
                use crate::exchange::{client::Client, query};\n\
                #[cfg(test)]\nmod tests {\n    use crate::exchange::machine::Exchange;\n}\n";
    assert!(violations(&order, "exchange::validate", fine).is_empty());
    assert_eq!(violations(&order, "newcomer", "").len(), 1);
}

//! The crate's layering, checked: each module imports only modules below it (the same check as
//! the core's `crates/acmeforward/tests/layers.rs`). Test code may use anything.

use std::path::Path;

/// Bottom to top: a module may import only the modules before it.
const ORDER: &[&str] = &[
    // The panic boundary, the result codes (which say what a panic returns), slices.
    "boundary",
    "result",
    "slice", // The handles, each over the one before it.
    "config",
    "config_names",
    "rule",
    "engine",
    "exchange",
    "prefetch",
];

/// The `crate::` module names that the non-test code of `source` refers to (comments skipped).
fn imports(source: &str) -> Vec<String> {
    let code = match source.find("\n#[cfg(test)]\nmod ") {
        Some(end) => source.get(..end).unwrap_or(source),
        None => source,
    };
    let mut found = Vec::new();
    for line in code.lines().map(str::trim_start) {
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

fn violations(module: &str, source: &str) -> Vec<String> {
    let Some(rank) = ORDER.iter().position(|m| *m == module) else {
        return vec![format!("{module}.rs is in no layer: add it to ORDER")];
    };
    imports(source)
        .into_iter()
        .filter(|name| name != module)
        .filter(|name| {
            ORDER
                .iter()
                .position(|m| m == name)
                .is_some_and(|r| r >= rank)
        })
        .map(|name| format!("{module}.rs imports {name}, which is not below it"))
        .collect()
}

#[test]
fn every_module_imports_only_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        let Some(module) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let test_code = module.ends_with("_tests") || module == "testutil" || module == "lib";
        if path.extension().is_none_or(|e| e != "rs") || test_code {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("read");
        problems.extend(violations(module, &source));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_finds_an_upward_import() {
    assert_eq!(
        violations("boundary", "    use crate::result::afwd_result;\n"),
        ["boundary.rs imports result, which is not below it"]
    );
    assert!(violations("exchange", "use crate::engine::afwd_engine;\n").is_empty());
    assert_eq!(violations("newcomer", "").len(), 1);
}

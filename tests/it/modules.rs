//! The library's modules import each other without cycles (issue 19): each
//! file's `crate::…`, `super::…` and `self::…` paths, outside comments and
//! its unit tests, are edges from its module to the module they name; the
//! graph must have no cycle. (The binary in `src/cli` is outside it.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`backup::read`) → the file it is in, for every library module.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                if rel != "cli" {
                    stack.push(path);
                }
                continue;
            }
            let Some(stem) = rel.strip_suffix(".rs") else {
                continue;
            };
            let name = stem.trim_end_matches("/mod").replace('/', "::");
            if name != "lib" {
                out.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

/// The code of a file without comments and without its `mod tests`.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `prefix` path in `code` (`crate::a::b::C` → `a::b::C`).
fn paths<'c>(code: &'c str, prefix: &str) -> Vec<&'c str> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        out.push(rest[..end].trim_end_matches(':'));
    }
    out
}

/// The longest module that `path` starts with (crate-root re-exports of a
/// module, as `limits` and `index`, resolved to where it lives).
fn module_of(path: &str, known: &BTreeMap<String, String>) -> Option<String> {
    let path = path
        .replacen(
            "limits",
            "model::limits",
            usize::from(path.starts_with("limits")),
        )
        .replacen(
            "index",
            "txn::index",
            usize::from(path.starts_with("index")),
        );
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|k| parts[..k].join("::"))
        .find(|m| known.contains_key(m))
}

#[test]
fn the_library_modules_have_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known = modules(&src);
    assert!(known.contains_key("store") && known.contains_key("txn::index"));
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &known {
        let code = code(text);
        // `super::` in `a::b` (a/b.rs or a/b/mod.rs alike) is `a`.
        let base = module.rsplit_once("::").map_or("", |(parent, _)| parent);
        let mut named: Vec<String> = paths(&code, "crate::")
            .into_iter()
            .map(str::to_string)
            .collect();
        let join = |a: &str, b: &str| {
            if a.is_empty() {
                b.to_string()
            } else {
                format!("{a}::{b}")
            }
        };
        named.extend(paths(&code, "super::").into_iter().map(|p| join(base, p)));
        named.extend(paths(&code, "self::").into_iter().map(|p| join(module, p)));
        for target in named.iter().filter_map(|p| module_of(p, &known)) {
            // A module's own children are part of it.
            if target != *module && !target.starts_with(&format!("{module}::")) {
                edges.entry(module).or_default().insert(target);
            }
        }
    }
    // Depth-first with an explicit stack; a grey node met again is a cycle.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1 grey, 2 black
    for start in known.keys() {
        if state.contains_key(start.as_str()) {
            continue;
        }
        let mut stack: Vec<(&str, Vec<&str>)> = vec![(start, next(&edges, start))];
        let mut trail = vec![start.as_str()];
        state.insert(start, 1);
        while let Some((node, todo)) = stack.last_mut() {
            match todo.pop() {
                Some(n) if state.get(n) == Some(&1) => {
                    let from = trail.iter().position(|t| *t == n).unwrap_or(0);
                    panic!("import cycle: {} -> {n}", trail[from..].join(" -> "));
                }
                Some(n) if state.contains_key(n) => {}
                Some(n) => {
                    state.insert(n, 1);
                    trail.push(n);
                    let more = next(&edges, n);
                    stack.push((known.get_key_value(n).map_or(n, |(k, _)| k), more));
                }
                None => {
                    state.insert(node, 2);
                    trail.pop();
                    stack.pop();
                }
            }
        }
    }
}

fn next<'e>(edges: &'e BTreeMap<&str, BTreeSet<String>>, node: &str) -> Vec<&'e str> {
    edges
        .get(node)
        .map(|t| t.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

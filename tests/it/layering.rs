//! The module layering ARCHITECTURE.md declares is the code's: no import cycle between the
//! top-level modules of `src/`, none imports a module of a higher layer, a kind file of
//! `src/quadlet/` never imports another kind's file, and the documents (README, man pages,
//! completions) name every kind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without comments and without its `#[cfg(test)] mod tests`.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names `prefix` is followed by in `code`: `crate::X`, and each `X` of
/// `use crate::{X, Y::z}`.
fn used(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices(prefix) {
        let rest = &code[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group: the first word of each comma-separated item
            // at depth 0 (nested groups belong to their item), up to the group's `}`.
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        start = false;
                        out.insert(word(&group[j..]));
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(word(rest));
        }
    }
    out.retain(|w| !w.is_empty());
    out
}

/// The top-level module of each file of `src/` (the binaries left out) -> the top-level
/// modules it imports.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        if rel.starts_with("bin/") || rel == "lib.rs" {
            continue;
        }
        let top = rel.split('/').next().unwrap().trim_end_matches(".rs");
        let text = std::fs::read_to_string(&f).unwrap();
        let mut deps = used(&code(&text), "crate::");
        deps.remove(top);
        g.entry(top.to_owned()).or_default().extend(deps);
    }
    g
}

/// ARCHITECTURE.md's layers, lowest first: the lines of the block after "## Layers".
fn layers() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let at = text
        .find("\n## Layers")
        .expect("ARCHITECTURE.md has a Layers section");
    let block = text[at..]
        .split("```")
        .nth(1)
        .expect("a ``` block of layers");
    block
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

#[test]
fn modules_import_only_lower_layers() {
    let g = graph();
    let layers = layers();
    let layer_of = |m: &str| layers.iter().position(|l| l.iter().any(|x| x == m));
    let mut bad = Vec::new();
    for (m, deps) in &g {
        let Some(lm) = layer_of(m) else {
            bad.push(format!("src/{m}: in no layer of ARCHITECTURE.md"));
            continue;
        };
        for d in deps {
            if !g.contains_key(d) {
                continue; // not a module (a macro, a crate-level item)
            }
            match layer_of(d) {
                Some(ld) if ld < lm => {}
                _ => bad.push(format!(
                    "{m} (layer {}) imports {d} (layer {})",
                    lm + 1,
                    layer_of(d).map_or(0, |l| l + 1)
                )),
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn no_import_cycle_between_modules() {
    let g = graph();
    // Depth-first search; a module met again on the current path closes a cycle.
    fn visit(
        m: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut c = path[i..].to_vec();
            c.push(m.to_owned());
            return Some(c);
        }
        if !done.insert(m.to_owned()) {
            return None;
        }
        path.push(m.to_owned());
        for d in g.get(m).into_iter().flatten() {
            if g.contains_key(d) {
                if let Some(c) = visit(d, g, path, done) {
                    return Some(c);
                }
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for m in g.keys() {
        if let Some(c) = visit(m, &g, &mut Vec::new(), &mut done) {
            panic!("import cycle: {}", c.join(" -> "));
        }
    }
}

/// The parser of this test sees through groups and comments.
#[test]
fn uses_are_read() {
    let c = code("use crate::{a::{B, C}, d};\n// crate::e\nlet x = crate::f::g();\n");
    let u: Vec<String> = used(&c, "crate::").into_iter().collect();
    assert_eq!(u, ["a", "d", "f"]);
}

#[test]
fn kind_files_never_import_each_other() {
    let dir = root().join("src/quadlet");
    let kinds: Vec<&str> = rootlet::kind::KINDS.iter().map(|k| k.extension).collect();
    let mut bad = Vec::new();
    for k in &kinds {
        let Ok(text) = std::fs::read_to_string(dir.join(format!("{k}.rs"))) else {
            continue;
        };
        let uses = used(&code(&text), "super::");
        for other in kinds.iter().filter(|o| *o != k) {
            if uses.contains(*other) {
                bad.push(format!("src/quadlet/{k}.rs uses super::{other}"));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn documents_name_every_kind() {
    // As the README writes them, and as the man pages do (`.IR name .pod`).
    for (doc, form) in [
        ("README.md", "`.{}`"),
        ("man/rootlet.unit.5", " .{}"),
        ("man/rootlet.1", " .{}"),
        ("man/rootlet-user-generator.8", " .{}"),
    ] {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        for k in rootlet::kind::KINDS {
            let named = form.replace("{}", k.extension);
            assert!(
                text.contains(&named),
                "{doc} does not name .{}",
                k.extension
            );
        }
    }
    // The completions offer the sources of every kind (`*.{container,...}`).
    for doc in ["completions/rootlet.bash", "completions/rootlet.fish"] {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        let at = text.find("*.{").expect("a glob of the source kinds") + 3;
        let list = &text[at..at + text[at..].find('}').unwrap()];
        let exts: Vec<&str> = list.split(',').collect();
        for k in rootlet::kind::KINDS {
            assert!(exts.contains(&k.extension), "{doc}: {list}");
        }
    }
    // The man page's NAME line lists them all.
    let man = std::fs::read_to_string(root().join("man/rootlet.unit.5")).unwrap();
    let name = man
        .lines()
        .find(|l| l.starts_with("rootlet.unit "))
        .unwrap();
    for k in rootlet::kind::KINDS {
        assert!(name.contains(&format!(".{}", k.extension)), "{name}");
    }
}

//! The documents match the tree: every repository path that ARCHITECTURE.md, CONTRIBUTING.md
//! or the README names in backquotes exists.

use crate::util;

/// Backquoted words that look like paths of this repository.
fn named_paths(text: &str) -> Vec<String> {
    const TOPS: &[&str] = &[
        "src/",
        "tests/",
        "scripts/",
        "units/",
        "man/",
        "contrib/",
        "generators/",
        "benches/",
        "fuzz/",
        "examples/",
        "completions/",
        ".ci/",
    ];
    let mut v = Vec::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 0 {
            continue;
        }
        // `scripts/fuzz.sh 60`, `tests/cases/NAME/` -> the path word, placeholders skipped.
        let Some(word) = part.split_whitespace().next() else {
            continue;
        };
        if TOPS.iter().any(|t| word.starts_with(t))
            && !word.contains(['*', '<', '{', '$'])
            && !word.chars().any(|c| c.is_ascii_uppercase())
        {
            v.push(word.trim_end_matches([',', '.', ':', ')']).to_owned());
        }
    }
    v
}

#[test]
fn every_path_named_in_the_docs_exists() {
    let mut missing = Vec::new();
    let mut seen = 0;
    for doc in ["ARCHITECTURE.md", "CONTRIBUTING.md", "README.md"] {
        let text = std::fs::read_to_string(util::repo().join(doc)).unwrap();
        for p in named_paths(&text) {
            seen += 1;
            if !util::repo().join(&p).exists() {
                missing.push(format!("{doc}: {p}"));
            }
        }
    }
    assert!(
        seen > 20,
        "only {seen} paths found: is the parser still right?"
    );
    assert!(
        missing.is_empty(),
        "named in the docs but not in the tree:\n{}",
        missing.join("\n")
    );
}

/// The README's Quick start is run by `tests/e2e/readme.sh`: every ```sh block there must
/// say who runs it (`<!-- readme-test: root|user|skip ... -->` on the line before it), or
/// the suite could not run it as written. Checked here too, without root or a sandbox.
#[test]
fn every_quick_start_block_says_who_runs_it() {
    let text = std::fs::read_to_string(util::repo().join("README.md")).unwrap();
    let start = text
        .find("\n## Quick start\n")
        .expect("README.md has a `## Quick start` section");
    let end = start
        + text[start..]
            .find("<!-- readme-test: end -->")
            .expect("the Quick start ends with `<!-- readme-test: end -->`");
    let lines: Vec<&str> = text[start..end].lines().collect();
    let (mut run, mut unmarked) = (0, Vec::new());
    for (i, l) in lines.iter().enumerate() {
        if !l.starts_with("```sh") {
            continue;
        }
        let before = lines[..i].iter().rev().find(|l| !l.trim().is_empty());
        match before.and_then(|b| b.strip_prefix("<!-- readme-test: ")) {
            Some(m) if m.starts_with("root -->") || m.starts_with("user -->") => run += 1,
            Some(m) if m.starts_with("skip") => {}
            _ => unmarked.push(lines.get(i + 1).copied().unwrap_or("")),
        }
    }
    assert!(
        unmarked.is_empty(),
        "Quick start blocks without a readme-test marker (first lines): {unmarked:?}"
    );
    assert!(
        run >= 4,
        "only {run} Quick start blocks are run by tests/e2e/readme.sh"
    );
}

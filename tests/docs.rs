//! The documents match the tree: every repository path that ARCHITECTURE.md, CONTRIBUTING.md
//! or the README names in backquotes exists.

mod util;

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

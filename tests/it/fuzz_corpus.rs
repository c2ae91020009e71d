//! The fuzz corpus (fuzz/corpus/TARGET/*) and any crash found (fuzz/regressions/TARGET/*)
//! replayed through the fuzz targets' own properties (`rootlet::properties`), in the normal test run.

use rootlet::properties;
use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut v = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(rd) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
        files.sort();
        v.extend(files.iter().map(|f| std::fs::read(f).unwrap()));
    }
    v
}

/// Replays one target's inputs through its property.
fn replay(target: &str, property: fn(&[u8])) {
    let all = inputs(target);
    assert!(!all.is_empty(), "no corpus for {target}");
    for data in &all {
        property(data);
    }
    eprintln!("{target}: {} inputs replayed", all.len());
}

#[test]
fn unit_parse_corpus() {
    replay("unit_parse", properties::unit_roundtrip);
}

#[test]
fn exec_split_corpus() {
    replay("exec_split", properties::exec_roundtrip);
}

#[test]
fn translate_corpus() {
    replay("translate", properties::translate_bytes);
}

//! The fuzz corpus (fuzz/corpus/TARGET/*) and any crash found (fuzz/regressions/TARGET/*)
//! replayed through the same checks as the fuzz targets, in the normal test run.

use rootlet::exec;
use rootlet::generator::{translate_all, Options, Run};
use rootlet::quadlet::{Defaults, Source, SourceKind};
use rootlet::unit::UnitFile;
use std::collections::BTreeMap;
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

#[test]
fn unit_parse_corpus() {
    let all = inputs("unit_parse");
    assert!(!all.is_empty());
    for data in &all {
        if let Ok(f) = UnitFile::parse_bytes(data) {
            let text = f.write();
            assert_eq!(UnitFile::parse(&text).unwrap().write(), text);
        }
    }
    eprintln!("unit_parse: {} inputs replayed", all.len());
}

#[test]
fn exec_split_corpus() {
    let all = inputs("exec_split");
    assert!(!all.is_empty());
    for data in &all {
        let Ok(line) = std::str::from_utf8(data) else {
            continue;
        };
        if let Ok(argv) = exec::split(line) {
            assert_eq!(exec::split(&exec::join(&argv)).unwrap(), argv, "{line:?}");
        }
    }
    eprintln!("exec_split: {} inputs replayed", all.len());
}

#[test]
fn translate_corpus() {
    let all = inputs("translate");
    assert!(!all.is_empty());
    for data in &all {
        let Some((&sel, rest)) = data.split_first() else {
            continue;
        };
        let kind = [
            SourceKind::Container,
            SourceKind::Network,
            SourceKind::Volume,
            SourceKind::Socket,
        ][usize::from(sel % 4)];
        let Ok(file) = UnitFile::parse_bytes(rest) else {
            continue;
        };
        let name = format!("fuzz.{}", kind.extension());
        let mut sources = BTreeMap::new();
        sources.insert(
            name.clone(),
            Source {
                path: PathBuf::from(format!("/src/{name}")),
                name,
                kind,
                file,
            },
        );
        let opts = Options {
            roots: vec![],
            podman: "/usr/bin/podman".into(),
            defaults: Defaults::default(),
        };
        let mut run = Run::default();
        translate_all(&sources, &opts, &mut run);
        for g in &run.units {
            assert!(!g.name.contains('/'));
            UnitFile::parse(&g.text()).unwrap();
        }
    }
    eprintln!("translate: {} inputs replayed", all.len());
}

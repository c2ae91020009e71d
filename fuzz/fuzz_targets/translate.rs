//! Bytes -> source file -> units: never panics, never names a file outside the output
//! directory, and every unit written parses back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rootlet::generator::{translate_all, Options, Run};
use rootlet::quadlet::{Defaults, Source, SourceKind};
use rootlet::unit::UnitFile;
use std::collections::BTreeMap;
use std::path::PathBuf;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let kind = match sel % 4 {
        0 => SourceKind::Container,
        1 => SourceKind::Network,
        2 => SourceKind::Volume,
        _ => SourceKind::Socket,
    };
    let Ok(file) = UnitFile::parse_bytes(rest) else { return };
    let name = format!("fuzz.{}", kind.extension());
    let mut sources = BTreeMap::new();
    sources.insert(
        name.clone(),
        Source { path: PathBuf::from(format!("/src/{name}")), name, kind, file },
    );
    let opts = Options { roots: vec![], podman: "/usr/bin/podman".into(), defaults: Defaults::default() };
    let mut run = Run::default();
    translate_all(&sources, &opts, &mut run);
    for g in &run.units {
        assert!(!g.name.contains('/'));
        for l in &g.links {
            assert!(!l.path.starts_with('/') && !l.path.split('/').any(|c| c == ".." || c == "."));
        }
        UnitFile::parse(&g.text()).expect("generated unit parses");
    }
});

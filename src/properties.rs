//! The properties that the fuzz targets (`fuzz/fuzz_targets/`), the property tests
//! (`tests/it/props.rs`) and the corpus replay (`tests/it/fuzz_corpus.rs`) all check: one
//! definition, three drivers, so they can never drift apart. Each panics when the property
//! does not hold (the drivers report the input).

// A property that does not hold panics: that is how the fuzzers and proptests see it.
#![allow(clippy::expect_used, clippy::panic)]

use crate::exec;
use crate::generator::{translate_all, Options, Run};
use crate::quadlet::{Source, SourceKind};
use crate::unit::UnitFile;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Bytes -> unit file: never panics; what parses writes back to text that parses to the
/// same text again (writing is a fixed point).
pub fn unit_roundtrip(data: &[u8]) {
    if let Ok(f) = UnitFile::parse_bytes(data) {
        let text = f.write();
        let back = UnitFile::parse(&text).expect("written unit parses");
        assert_eq!(back.write(), text, "write is not a fixed point");
    }
}

/// Command lines: splitting never panics; a split argv quoted again splits the same.
pub fn exec_roundtrip(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(argv) = exec::split(line) {
        let again = exec::split(&exec::join(&argv)).expect("joined argv splits");
        assert_eq!(again, argv, "{line:?}");
    }
}

/// The kind a fuzz input's first byte selects: its low four bits index
/// [`SourceKind::ALL`] (enum order, where a new kind is added at the end, so a byte keeps
/// its kind); the values past the last kind fold back onto the table.
pub fn kind_of_selector(sel: u8) -> SourceKind {
    let i = usize::from(sel & 0x0f);
    SourceKind::ALL[i % SourceKind::ALL.len()]
}

/// Bytes (first byte: the kind) -> source -> units: see [`translate_contained`].
pub fn translate_bytes(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if let Ok(file) = UnitFile::parse_bytes(rest) {
        translate_contained(kind_of_selector(sel), "fuzz", file);
    }
}

/// A source -> units: never panics, never names a unit or link outside the output
/// directory, and every unit written parses back.
pub fn translate_contained(kind: SourceKind, stem: &str, file: UnitFile) {
    let name = format!("{stem}.{}", kind.extension());
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
    let opts = Options::new(vec![], crate::podman::Target::Newest);
    let mut run = Run::default();
    translate_all(&sources, &opts, &mut run);
    for g in &run.units {
        assert!(
            !g.name.contains('/') && !g.name.starts_with('.'),
            "unit name {:?}",
            g.name
        );
        for l in &g.links {
            assert!(
                !l.path.starts_with('/') && !l.path.split('/').any(|c| c == ".." || c == "."),
                "link {l:?}"
            );
        }
        UnitFile::parse(&g.text()).expect("generated unit parses");
    }
}

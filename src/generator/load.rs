//! Reading sources: each file with its drop-ins, bounded, regular files only (a FIFO
//! cannot block a run), and, in directories shared by all users, only files owned by root
//! or the user and writable by no one else, judged on the file actually opened.

use crate::error::SourceError;
use crate::fsutil::read_listed;
use crate::quadlet::{self, Source, SourceKind};
use crate::search::{self, Discovery, Found, Trust};
use crate::unit::UnitFile;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Largest source file read: far beyond any real unit, small enough to never hurt.
pub const MAX_SOURCE: u64 = 16 * 1024 * 1024;

/// Read one source file with its drop-ins.
pub fn load_source(
    path: &Path,
    name: &str,
    kind: SourceKind,
    dropin_dirs: &HashMap<String, Vec<PathBuf>>,
) -> Result<Source, SourceError> {
    let f = Found {
        path: path.to_owned(),
        name: name.to_owned(),
        kind,
        trusted_uid: None,
        listed_regular: false,
    };
    load(&mut Vec::new(), &f, dropin_dirs, &HashMap::new(), false).map(|l| l.source)
}

/// Read a source found by `disc` with its drop-ins, each under its trust
/// ([`search::Trust`]), as a run reads it: for a command that reads sources of the search
/// path outside a run (`rootlet add` checks new files beside them). [`load_source`]
/// trusts the file at `path` as the caller does.
pub fn load_found_source(f: &Found, disc: &Discovery) -> Result<Source, SourceError> {
    load(
        &mut Vec::new(),
        f,
        &disc.dropin_dirs,
        &disc.shared_dropin_dirs,
        false,
    )
    .map(|l| l.source)
}

/// While a run translates a source, the lines of its k-th drop-in (from 1) are numbered
/// `k << DROPIN_SHIFT` + line, so that an error found in the merged file names the drop-in
/// and its own line ([`locate`]). Line numbers serve error messages only.
const DROPIN_SHIFT: u32 = 32;

/// Whether lines can carry a drop-in number (not on 32-bit targets: their errors name
/// the source, with the drop-in's line, as the translators report it).
const NUMBERED: bool = usize::BITS >= 64;

/// An error about a source as translated by a run: the drop-in and line it came from.
pub(super) fn locate(mut e: SourceError, dropins: &[PathBuf]) -> SourceError {
    if !NUMBERED {
        return e;
    }
    let k = e.line >> DROPIN_SHIFT;
    if let Some(p) = k.checked_sub(1).and_then(|i| dropins.get(i)) {
        e.path = p.clone();
        e.line &= (1 << DROPIN_SHIFT) - 1;
    }
    e
}

/// A source as a run read it.
pub(super) struct Loaded {
    pub source: Source,
    /// Its drop-ins, in merge order (for [`locate`]).
    pub dropins: Vec<PathBuf>,
    /// Drop-ins left out for their owner or mode: said as warnings, the unit is still made.
    pub refused: Vec<SourceError>,
}

/// A source found by `disc`, read through `buf` (one buffer per thread, not one per file).
pub(super) fn load_found(
    buf: &mut Vec<u8>,
    f: &Found,
    disc: &Discovery,
) -> Result<Loaded, SourceError> {
    load(
        buf,
        f,
        &disc.dropin_dirs,
        &disc.shared_dropin_dirs,
        NUMBERED,
    )
}

/// Read `f` and its drop-ins, each only if its trust allows the file opened
/// ([`search::Trust`]: judged as listed, and again on its `fstat`).
fn load(
    buf: &mut Vec<u8>,
    f: &Found,
    dropin_dirs: &HashMap<String, Vec<PathBuf>>,
    shared: &HashMap<PathBuf, u32>,
    number: bool,
) -> Result<Loaded, SourceError> {
    let mut parse = |p: &Path, trust: Trust, listed: bool| {
        if listed {
            read_listed(p, MAX_SOURCE, buf)
                .map_err(|e| SourceError::new(p, 0, format!("cannot read: {e}")))?;
        } else {
            (trust.read(p, MAX_SOURCE, buf)).map_err(|why| SourceError::new(p, 0, why))?;
        }
        UnitFile::parse_bytes_with(buf, &quadlet::known_key)
            .map_err(|e| SourceError::new(p, e.line(), e.message()))
    };
    let mut file = parse(&f.path, Trust::from_uid(f.trusted_uid), f.listed_regular)?;
    let found = search::list_dropins(&f.name, dropin_dirs, shared);
    if let Some(mut e) = found.error {
        e.message = format!("{}; {} not generated", e.message, f.name);
        return Err(e);
    }
    for (k, (d, trust)) in found.files.iter().enumerate() {
        let mut more = parse(d, *trust, false)?;
        if number {
            let base = (k + 1) << DROPIN_SHIFT;
            for s in &mut more.sections {
                s.line += base;
                for e in &mut s.entries {
                    e.line += base;
                }
            }
        }
        file.merge(more);
    }
    let source = Source {
        path: f.path.clone(),
        name: f.name.clone(),
        kind: f.kind,
        file,
    };
    let dropins = found.files.into_iter().map(|(p, _)| p).collect();
    Ok(Loaded {
        source,
        dropins,
        refused: found.refused,
    })
}

//! Reading sources: each file with its drop-ins, bounded, regular files only (a FIFO
//! cannot block a run), and, in directories shared by all users, only files owned by root
//! or the user and writable by no one else, judged on the file actually opened.

use crate::error::SourceError;
use crate::fsutil::{read_listed, read_regular};
use crate::quadlet::{self, Source, SourceKind};
use crate::search::{self, Discovery, Found};
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
    load(&mut Vec::new(), &f, dropin_dirs, &HashMap::new(), false).map(|(s, _)| s)
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

/// A source found by `disc`, read through `buf` (one buffer per thread, not one per file),
/// with the paths of its drop-ins, for [`locate`].
pub(super) fn load_found(
    buf: &mut Vec<u8>,
    f: &Found,
    disc: &Discovery,
) -> Result<(Source, Vec<PathBuf>), SourceError> {
    load(
        buf,
        f,
        &disc.dropin_dirs,
        &disc.shared_dropin_dirs,
        NUMBERED,
    )
}

fn load(
    buf: &mut Vec<u8>,
    f: &Found,
    dropin_dirs: &HashMap<String, Vec<PathBuf>>,
    shared: &HashMap<PathBuf, u32>,
    number: bool,
) -> Result<(Source, Vec<PathBuf>), SourceError> {
    let mut parse = |p: &Path, trusted_uid: Option<u32>, listed: bool| {
        let cannot = |e: std::io::Error| SourceError::new(p, 0, format!("cannot read: {e}"));
        if listed {
            read_listed(p, MAX_SOURCE, buf).map_err(cannot)?;
        } else {
            let meta = read_regular(p, MAX_SOURCE, buf).map_err(cannot)?;
            if let Some(why) = trusted_uid.and_then(|uid| search::untrusted(&meta, uid)) {
                return Err(SourceError::new(p, 0, why));
            }
        }
        UnitFile::parse_bytes_with(buf, &quadlet::known_key)
            .map_err(|e| SourceError::new(p, e.line(), e.message()))
    };
    let mut file = parse(&f.path, f.trusted_uid, f.listed_regular)?;
    let dropins = search::try_dropins(&f.name, dropin_dirs).map_err(|(_, mut e)| {
        e.message = format!("{}; {} not generated", e.message, f.name);
        e
    })?;
    for (k, d) in dropins.iter().enumerate() {
        let trusted = d.parent().and_then(|dir| shared.get(dir)).copied();
        let mut more = parse(d, trusted, false)?;
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
    Ok((source, dropins))
}

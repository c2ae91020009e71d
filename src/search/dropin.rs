//! The drop-ins of a source: the directory names quadlet looks for, and the files that
//! apply, each judged by its directory's trust.

use super::{Discovery, Trust};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Drop-in directory names for a source, most specific first: for `foo-bar@i.container`:
/// `foo-bar@i.container.d`, `foo-bar@.container.d`, `foo-@.container.d`,
/// `foo-.container.d`, `container.d`.
pub fn dropin_dir_names(file_name: &str) -> Vec<String> {
    let Some((stem, ext)) = file_name.rsplit_once('.') else {
        return Vec::new();
    };
    let mut v = vec![format!("{stem}.{ext}.d")];
    let (prefix, templated) = match stem.split_once('@') {
        Some((p, inst)) => {
            if !inst.is_empty() {
                v.push(format!("{p}@.{ext}.d"));
            }
            (p, true)
        }
        None => (stem, false),
    };
    let mut cut = prefix.len();
    while let Some(i) = prefix[..cut].rfind('-') {
        let p = &prefix[..=i];
        if templated {
            v.push(format!("{p}@.{ext}.d"));
        }
        v.push(format!("{p}.{ext}.d"));
        cut = i;
    }
    v.push(format!("{ext}.d"));
    v
}

/// The drop-in files of a source, in the order they apply: the first file of a name
/// wins (most specific directory, then search order), the winners sorted by name.
/// `dropin_dirs` is [`Discovery::dropin_dirs`]: only directories that exist are read.
/// Directories that cannot be read, and files refused for their owner, are left out;
/// [`Discovery::dropins`] says which.
pub fn dropins(file_name: &str, dropin_dirs: &HashMap<String, Vec<PathBuf>>) -> Vec<PathBuf> {
    list_dropins(file_name, dropin_dirs, &HashMap::new())
        .files
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// The drop-ins of one source.
#[derive(Debug, Default)]
pub struct Dropins {
    /// The files, in the order they apply, with the trust each is read with.
    pub files: Vec<(PathBuf, Trust)>,
    /// Files left out for their owner or mode ([`Trust::file`]): another user's file or
    /// link in a directory others can write must not change the user's unit, which is
    /// still made without them. A refused file takes no name from a later one.
    pub refused: Vec<crate::error::SourceError>,
    /// A drop-in directory that cannot be read, or a `.conf` name that is not UTF-8: the
    /// unit would lack part of its configuration.
    pub error: Option<crate::error::SourceError>,
}

impl Discovery {
    /// The drop-ins of the source named `file_name`, each judged by its directory's trust.
    pub fn dropins(&self, file_name: &str) -> Dropins {
        list_dropins(file_name, &self.dropin_dirs, &self.shared_dropin_dirs)
    }
}

/// [`Discovery::dropins`] from its two maps (`shared`: [`Discovery::shared_dropin_dirs`]).
pub fn list_dropins(
    file_name: &str,
    dropin_dirs: &HashMap<String, Vec<PathBuf>>,
    shared: &HashMap<PathBuf, u32>,
) -> Dropins {
    let mut out = Dropins::default();
    if dropin_dirs.is_empty() {
        return out;
    }
    let mut chosen: BTreeMap<String, (PathBuf, Trust)> = BTreeMap::new();
    for dname in dropin_dir_names(file_name) {
        for dd in dropin_dirs.get(&dname).into_iter().flatten() {
            let trust = Trust::from_uid(shared.get(dd).copied());
            for (n, path, t) in dropin_files(dd, trust, &mut out) {
                chosen.entry(n).or_insert((path, t));
            }
        }
    }
    out.files = chosen.into_values().collect();
    out
}

/// The `.conf` files of one drop-in directory listed under `trust`, each with the trust
/// it is read with; refusals and errors go to `out`.
fn dropin_files(dd: &Path, trust: Trust, out: &mut Dropins) -> Vec<(String, PathBuf, Trust)> {
    let listed = std::fs::metadata(dd).and_then(|m| Ok((m, std::fs::read_dir(dd)?)));
    let (meta, rd) = match listed {
        Ok(l) => l,
        Err(e) => {
            out.error.get_or_insert_with(|| {
                let why = format!("drop-in directory cannot be read: {e}");
                crate::error::SourceError::new(dd, 0, why)
            });
            return Vec::new();
        }
    };
    // Judged again as it is listed: the entries of a directory others can write are
    // judged one by one.
    let trust = match trust.dir(&meta) {
        Ok(t) => t,
        Err(why) => {
            let why = format!("drop-in directory {why}");
            out.refused.push(crate::error::SourceError::new(dd, 0, why));
            return Vec::new();
        }
    };
    let mut files = Vec::new();
    for e in rd.filter_map(|e| e.ok()) {
        let path = e.path();
        let name = match e.file_name().into_string() {
            Ok(n) if n.ends_with(".conf") => n,
            Ok(_) => continue,
            Err(raw) => {
                use std::os::unix::ffi::OsStrExt;
                if raw.as_bytes().ends_with(b".conf") {
                    out.error.get_or_insert_with(|| {
                        let why = "drop-in name is not valid UTF-8: not read";
                        crate::error::SourceError::new(&path, 0, why)
                    });
                }
                continue;
            }
        };
        let judged = e
            .file_type()
            .map_err(|e| format!("cannot be read: {e}"))
            .and_then(|ft| trust.file(&path, ft));
        match judged {
            Ok(t) => files.push((name, path, t)),
            Err(why) => out.refused.push(crate::error::SourceError::new(
                &path,
                0,
                format!("drop-in {why}"),
            )),
        }
    }
    // Names in one directory are unique: an unstable sort gives the same order.
    files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropin_names() {
        assert_eq!(
            dropin_dir_names("foo-bar@i.container"),
            vec![
                "foo-bar@i.container.d",
                "foo-bar@.container.d",
                "foo-@.container.d",
                "foo-.container.d",
                "container.d"
            ]
        );
        assert_eq!(
            dropin_dir_names("a-b-c.network"),
            vec![
                "a-b-c.network.d",
                "a-b-.network.d",
                "a-.network.d",
                "network.d"
            ]
        );
    }
}

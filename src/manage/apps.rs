//! The record of applications ([`Apps`], `$XDG_DATA_HOME/rootlet/apps`): which files
//! `rootlet add` wrote together, each with the hash of what it wrote, so that `rm` takes
//! them away together and never a file the user changed since ([`Member::state_in`]).

use super::{valid_app_name, valid_file_name, ManageError, MAX_INPUT};
use crate::install::manifest::Digest;
use std::collections::BTreeMap;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;

/// One file of an application, and what `add` wrote there (its content hash): a file is
/// the application's only while it still is what was written, so a file the user wrote
/// later under a former member's name is never removed with the application. `None`: an
/// entry of an older rootlet, which recorded names only (then nothing proves it; the file
/// is left alone unless named itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub file: String,
    pub digest: Option<Digest>,
}

impl Member {
    pub fn new(file: &str, data: &[u8]) -> Member {
        Member {
            file: file.to_owned(),
            digest: Some(Digest::of(data)),
        }
    }

    /// What is at `dir/file` now, compared with what `add` wrote (read with `O_NOFOLLOW`:
    /// a symlink there is not what rootlet writes).
    pub fn state_in(&self, dir: BorrowedFd<'_>) -> Held {
        let mut buf = Vec::new();
        match crate::fsutil::read_regular_at(dir, self.file.as_ref(), MAX_INPUT, &mut buf) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Held::Gone,
            Err(_) => Held::Changed,
            Ok(_) if self.digest.is_none() => Held::Unproven,
            Ok(_) if self.digest == Some(Digest::of(&buf)) => Held::Written,
            Ok(_) => Held::Changed,
        }
    }
}

/// A recorded member's file, as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// Still what `add` wrote: the application's.
    Written,
    /// Edited, replaced by another file or a symlink since: the user's, left alone.
    Changed,
    /// Recorded without a hash (an older rootlet): not provably rootlet's, left alone.
    Unproven,
    Gone,
}

/// The record of applications (sources added together by `rootlet add DIR` or a
/// `.quadlets` bundle, removed together by `rootlet rm`): application name -> its files in
/// the install directory, each with the hash of what was written. Stored as lines
/// `APP<TAB>FILE<TAB>HASH` (`HASH`: FNV-1a 64 in hex, `-`, the length).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Apps {
    pub apps: BTreeMap<String, Vec<Member>>,
}

fn render_digest(d: &Digest) -> String {
    format!("{:016x}-{}", d.fnv, d.len)
}

fn parse_digest(s: &str) -> Option<Digest> {
    let (h, l) = s.split_once('-')?;
    (h.len() == 16).then_some(())?;
    Some(Digest {
        fnv: u64::from_str_radix(h, 16).ok()?,
        len: l.parse().ok()?,
    })
}

impl Apps {
    pub fn load(path: &Path) -> Result<Apps, ManageError> {
        let mut buf = Vec::new();
        match crate::fsutil::read_regular(path, 16 * MAX_INPUT, &mut buf) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Apps::default()),
            Err(e) => return Err(ManageError::io(path, e)),
        }
        Ok(Apps::parse(&String::from_utf8_lossy(&buf)))
    }

    pub fn parse(text: &str) -> Apps {
        let mut apps: BTreeMap<String, Vec<Member>> = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(app), Some(file)) = (cols.next(), cols.next()) else {
                continue;
            };
            // A hash that does not parse proves nothing: as an entry without one.
            let digest = cols.next().and_then(parse_digest);
            if valid_app_name(app) && valid_file_name(file) {
                let v = apps.entry(app.to_owned()).or_default();
                if !v.iter().any(|m| m.file == file) {
                    v.push(Member {
                        file: file.to_owned(),
                        digest,
                    });
                }
            }
        }
        Apps { apps }
    }

    pub fn render(&self) -> String {
        let mut s = String::from(
            "# rootlet applications: APP<TAB>FILE<TAB>HASH (written by rootlet add/rm)\n",
        );
        for (app, files) in &self.apps {
            for m in files {
                match &m.digest {
                    Some(d) => s.push_str(&format!("{app}\t{}\t{}\n", m.file, render_digest(d))),
                    None => s.push_str(&format!("{app}\t{}\n", m.file)),
                }
            }
        }
        s
    }

    /// Write atomically, creating the directory. The temporaries of a writer that was
    /// killed (`.#apps.PID.N.tmp`, its process gone) go first: the record is rootlet's own
    /// file in rootlet's own directory, so any content of such a temporary is ours.
    pub fn save(&self, path: &Path) -> Result<(), ManageError> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(|e| ManageError::io(d, e))?;
            let own = path.file_name().map(|n| n.as_encoded_bytes().to_vec());
            crate::fsutil::sweep_stale_temporaries(d, |stem, _| Some(stem) == own.as_deref());
        }
        crate::fsutil::write_atomic(path, self.render().as_bytes(), 0o644, true)
            .map_err(|e| ManageError::io(path, e))
    }

    /// The application a file is recorded for.
    pub fn app_of(&self, file: &str) -> Option<&str> {
        self.member(file).map(|(a, _)| a)
    }

    /// The application a file is recorded for, and its record.
    pub fn member(&self, file: &str) -> Option<(&str, &Member)> {
        self.apps.iter().find_map(|(a, files)| {
            files
                .iter()
                .find(|m| m.file == file)
                .map(|m| (a.as_str(), m))
        })
    }

    /// Forget `file` in every application (empty applications go).
    pub fn forget(&mut self, file: &str) {
        for files in self.apps.values_mut() {
            files.retain(|m| m.file != file);
        }
        self.apps.retain(|_, f| !f.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_round_trip() {
        let mut a = Apps::default();
        a.apps.insert(
            "app".into(),
            vec![
                Member::new("a.container", b"[Container]\n"),
                Member::new("b.network", b""),
            ],
        );
        let b = Apps::parse(&a.render());
        assert_eq!(a, b);
        assert_eq!(b.app_of("b.network"), Some("app"));
        assert_eq!(Apps::parse("x\t../evil\n\tq\n").apps.len(), 0);
        // An older record (names only) reads as unproven members.
        let old = Apps::parse("app\ta.container\napp\tb.network\tgarbage\n");
        assert!(old.apps["app"].iter().all(|m| m.digest.is_none()));
        assert_eq!(Apps::parse(&old.render()), old);
    }
}

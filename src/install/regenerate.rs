//! `rootlet regenerate`: write the units of a generator run into the output directory,
//! remove those rootlet wrote before and no run produces any more, and nothing else.
//!
//! Before it changes anything a run records what it is about to write, with the content
//! hash or link target, in a pending list; the manifest is rewritten at the end with what
//! is on disk as written. After a `kill -9` anywhere, a pending path counts as rootlet's
//! only if it holds exactly what rootlet was writing there: a file the user put at that
//! path later is foreign.

use super::lock::Lock;
use super::manifest::{Base, Bases, Name};
use super::tree::{Expect, Tree};
use super::txn::{Prune, Put, Transaction};
use super::{Error, Layout};
use crate::env::UserEnv;
use crate::generator::{self, Run};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Targets that are active in a running user session: a unit newly wanted by one of them is
/// started by `regenerate`, as the next boot would.
const LIVE_TARGETS: &[&str] = &["default.target.wants", "sockets.target.wants"];

/// One unit to put in the output directory, with its install symlinks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub name: String,
    pub text: String,
    /// `(path relative to the output dir, target)`.
    pub links: Vec<(String, String)>,
}

/// The units of a generator run.
pub fn plan(run: &Run) -> Vec<Planned> {
    run.units
        .iter()
        .map(|g| Planned {
            name: g.name.clone(),
            text: g.text(),
            links: g
                .links
                .iter()
                .map(|l| (l.path.clone(), l.target.clone()))
                .collect(),
        })
        .collect()
}

/// What one regeneration changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Regenerated {
    /// Units and links written (new or changed), names relative to the output dir.
    pub written: Vec<String>,
    /// Units and links removed because no source produces them any more.
    pub removed: Vec<String>,
    /// Units not written: something rootlet did not write is at their name.
    pub foreign_units: Vec<String>,
    /// Links not made: something rootlet did not write is at their name, or their
    /// directory is not a real directory (a symlink).
    pub foreign_links: Vec<String>,
    /// Paths the manifest listed that changed since rootlet wrote them: no longer rootlet's.
    pub disowned: Vec<String>,
    /// Units newly wanted by `default.target` or `sockets.target`.
    pub new_live: Vec<String>,
    /// Manifest lines that were not valid entries (ignored).
    pub bad_lines: usize,
}

impl Regenerated {
    pub fn changed(&self) -> bool {
        !self.written.is_empty() || !self.removed.is_empty()
    }
}

/// Write `planned` into `out` (absolute), prune what the manifest `list` proves to be
/// rootlet's and `planned` no longer has, and rewrite the manifest. Never writes through
/// a link nor changes or removes anything the manifest does not prove to be rootlet's
/// (the transaction: [`super::txn`]).
pub fn apply(
    out: &Path,
    list: &Path,
    planned: &[Planned],
    lock: &Lock,
) -> Result<Regenerated, Error> {
    let bases = Bases {
        out: Some(out),
        units: None,
        state: None,
    };
    let mut r = Regenerated::default();
    let mut expect: BTreeMap<Name, Expect> = BTreeMap::new();
    let mut units: Vec<(Name, &Planned)> = Vec::new();
    for p in planned {
        let Some(name) = Name::of(&p.name).filter(|n| n.split().0.is_none()) else {
            r.foreign_units.push(p.name.clone());
            continue;
        };
        expect.insert(
            name.clone(),
            Expect::File(super::manifest::Digest::of(p.text.as_bytes())),
        );
        for (l, t) in &p.links {
            if let Some(n) = Name::of(l) {
                expect.insert(n, Expect::Link(t.as_bytes().to_vec()));
            }
        }
        units.push((name, p));
    }
    let tree = Tree::open(out)?;
    let mut txn = Transaction::begin(
        tree,
        Base::Out,
        list,
        &bases,
        expect,
        &super::legacy_generated,
    )?;
    r.bad_lines = txn.bad_lines;
    r.disowned = txn.disowned().iter().map(Name::display).collect();
    txn.lock_created(lock.created);
    for (name, p) in &units {
        match txn.put_file(name, p.text.as_bytes())? {
            Put::Foreign => {
                r.foreign_units.push(p.name.clone());
                continue;
            }
            Put::Written { .. } => r.written.push(p.name.clone()),
            Put::Unchanged => {}
        }
        for (l, target) in &p.links {
            let put = match Name::of(l) {
                Some(lname) => txn.put_link(&lname, target)?,
                None => Put::Foreign,
            };
            match put {
                Put::Foreign => r.foreign_links.push(l.clone()),
                Put::Unchanged => {}
                Put::Written { new } => {
                    r.written.push(l.clone());
                    if new && LIVE_TARGETS.iter().any(|t| l.starts_with(&format!("{t}/"))) {
                        r.new_live.push(p.name.clone());
                    }
                }
            }
        }
    }
    let done = txn.commit(Prune::Unput)?;
    r.removed = done.removed.iter().map(Name::display).collect();
    r.new_live.sort();
    r.new_live.dedup();
    Ok(r)
}

/// The outcome of generating from the user's sources into an output directory.
pub struct Outcome {
    pub run: Run,
    pub defaults_err: Option<crate::error::SourceError>,
    pub regenerated: Regenerated,
}

/// Generate from the user's search path into `out` and prune (no systemctl). A source
/// edited while a run reads the sources would be missed (the path unit's trigger merges
/// into the start job of the service that is running), so run again while the source
/// directories changed during the run, a few times at most; the changes of every round
/// count.
pub fn from_sources(layout: &Layout, out: &Path, lock: &Lock) -> Result<Outcome, Error> {
    let list = layout.generated_list_for(out);
    let mut done = Regenerated::default();
    for tries in 1.. {
        let (opts, defaults_err) = generator::Options::from_env();
        let before = fingerprint(&opts.roots);
        let run = generator::run(&opts);
        let r = apply(out, &list, &plan(&run), lock)?;
        done.written.extend(r.written);
        done.removed.extend(r.removed);
        done.new_live.extend(r.new_live);
        done.disowned.extend(r.disowned);
        done.foreign_units = r.foreign_units;
        done.foreign_links = r.foreign_links;
        done.bad_lines = r.bad_lines;
        if tries >= 5 || fingerprint(&opts.roots) == before {
            done.new_live.sort();
            done.new_live.dedup();
            return Ok(Outcome {
                run,
                defaults_err,
                regenerated: done,
            });
        }
    }
    unreachable!("the loop returns")
}

/// Names, sizes and modification times of everything in the directories walked, and of
/// the defaults file: changes when a source or drop-in is written, renamed or removed.
pub fn fingerprint(roots: &[crate::search::Root]) -> Vec<(PathBuf, u64, i128)> {
    let mut v = Vec::new();
    let mut add = |p: PathBuf| {
        if let Ok(md) = fs::symlink_metadata(&p) {
            let t = md
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i128);
            v.push((p, md.len(), t));
        }
    };
    let disc = crate::search::discover(roots);
    for d in &disc.dirs {
        if let Ok(rd) = fs::read_dir(d) {
            for e in rd.flatten() {
                add(e.path());
            }
        }
    }
    if let Some(f) = UserEnv::from_process().defaults_file() {
        add(f);
    }
    v.sort();
    v
}

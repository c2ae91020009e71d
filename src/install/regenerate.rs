//! `rootlet regenerate`: write the units of a generator run into the output directory,
//! remove those rootlet wrote before and no run produces any more, and nothing else.
//!
//! Before it changes anything a run records what it is about to write, with the content
//! hash or link target, in a pending list; the manifest is rewritten at the end with what
//! is on disk as written. After a `kill -9` anywhere, a pending path counts as rootlet's
//! only if it holds exactly what rootlet was writing there: a file the user put at that
//! path later is foreign.

use super::lock::Lock;
use super::manifest::{Base, Bases, Entry, Item, Name};
use super::tree::{self, Expect, Found, Tree};
use super::{owned_claims, pending_path, read_list, write_list, Error, Layout};
use crate::env::UserEnv;
use crate::generator::{self, Run};
use std::collections::{BTreeMap, BTreeSet};
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
/// a link nor changes or removes anything the manifest does not prove to be rootlet's.
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
    let pending = pending_path(list);
    let (old, bad1) = read_list(list, &bases)?;
    let (old_pending, bad2) = read_list(&pending, &bases)?;
    let mut r = Regenerated {
        bad_lines: bad1 + bad2,
        ..Regenerated::default()
    };
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

    let mut tree = Tree::open(out)?;
    // Record what this run may write before writing it.
    let mut plan: Vec<Entry> = Vec::new();
    let missing = tree::missing_levels(out);
    if missing > 0 {
        plan.push(Entry::Created {
            base: Base::Out,
            n: missing,
        });
    }
    if lock.created > 0 {
        plan.push(Entry::Created {
            base: Base::State,
            n: lock.created,
        });
    }
    for (name, e) in &expect {
        plan.push(match e {
            Expect::File(d) => Entry::At {
                base: Base::Out,
                name: name.clone(),
                item: Item::File(Some(*d)),
            },
            Expect::Link(t) => Entry::link(Base::Out, name.clone(), t),
        });
        if let (Some(dir), _) = name.split() {
            // Only a directory that does not exist yet can become rootlet's.
            if let Some(d) = Name::new(std::os::unix::ffi::OsStrExt::as_bytes(dir)) {
                if tree.look(&d) == Found::Nothing {
                    plan.push(Entry::dir(Base::Out, d));
                }
            }
        }
    }
    plan.extend(old_pending.iter().cloned());
    plan.sort();
    plan.dedup();
    write_list(&pending, &plan)?;

    // What the manifest (and an interrupted run's pending list) proves to be rootlet's.
    let claims: Vec<Entry> = old.iter().chain(&old_pending).cloned().collect();
    let (owned, disowned) =
        owned_claims(&tree, Base::Out, &claims, &expect, &super::legacy_generated);
    r.disowned = disowned.iter().map(Name::display).collect();

    super::sweep_temporaries(&tree, Base::Out, &old_pending);
    let created_out = tree.create()?;
    let mut rec: Vec<Entry> = Vec::new();
    let mut dirs_needed: BTreeSet<Name> = BTreeSet::new();
    for (name, p) in &units {
        let want = super::manifest::Digest::of(p.text.as_bytes());
        match tree.look(name) {
            Found::Nothing => {
                tree.write(name, p.text.as_bytes())?;
                r.written.push(p.name.clone());
            }
            Found::File(d) if owned.contains_key(name) => {
                if d != want {
                    tree.write(name, p.text.as_bytes())?;
                    r.written.push(p.name.clone());
                }
            }
            _ => {
                r.foreign_units.push(p.name.clone());
                continue;
            }
        }
        rec.push(Entry::file(Base::Out, name.clone(), p.text.as_bytes()));
        for (l, target) in &p.links {
            let Some(lname) = Name::of(l) else {
                r.foreign_links.push(l.clone());
                continue;
            };
            if let (Some(dir), _) = lname.split() {
                let dname = Name::new(std::os::unix::ffi::OsStrExt::as_bytes(dir))
                    .expect("a component of a valid name");
                match tree.ensure_subdir(dir) {
                    Ok(true) => {
                        rec.push(Entry::dir(Base::Out, dname.clone()));
                    }
                    Ok(false) => {
                        if owned.contains_key(&dname) {
                            rec.push(Entry::dir(Base::Out, dname.clone()));
                        }
                    }
                    Err(Some(e)) => return Err(e),
                    Err(None) => {
                        r.foreign_links.push(l.clone());
                        continue;
                    }
                }
                dirs_needed.insert(dname);
            }
            let was_ours = owned.contains_key(&lname);
            match tree.look(&lname) {
                Found::Nothing => {
                    tree.symlink(&lname, target)?;
                    r.written.push(l.clone());
                }
                Found::Link(t) if was_ours => {
                    if t != target.as_bytes() {
                        tree.symlink(&lname, target)?;
                        r.written.push(l.clone());
                    }
                }
                _ => {
                    r.foreign_links.push(l.clone());
                    continue;
                }
            }
            rec.push(Entry::link(Base::Out, lname, target.as_bytes()));
            if !was_ours && LIVE_TARGETS.iter().any(|t| l.starts_with(&format!("{t}/"))) {
                r.new_live.push(p.name.clone());
            }
        }
    }

    // Prune: what is rootlet's and no longer produced; then its directories, when empty.
    let kept: BTreeSet<&Name> = rec
        .iter()
        .filter_map(|e| match e {
            Entry::At { name, .. } => Some(name),
            Entry::Created { .. } => None,
        })
        .collect();
    for (name, found) in &owned {
        if kept.contains(name) || *found == Found::Dir {
            continue;
        }
        if tree.remove(name, false)? {
            r.removed.push(name.display());
        }
    }
    let mut extra_dirs = Vec::new();
    for (name, found) in &owned {
        if *found != Found::Dir || kept.contains(name) || dirs_needed.contains(name) {
            continue;
        }
        if !tree.remove(name, true)? && tree.look(name) == Found::Dir {
            // Not empty (the user's files): still rootlet's to remove once empty.
            extra_dirs.push(Entry::dir(Base::Out, name.clone()));
        }
    }
    rec.extend(extra_dirs);
    record_created(
        &mut rec,
        &old,
        &old_pending,
        &[(Base::Out, created_out), (Base::State, lock.created)],
    );
    write_list(list, &rec)?;
    super::remove_file(&pending)?;
    r.new_live.sort();
    r.new_live.dedup();
    Ok(r)
}

/// The `created BASE n` entry to keep: the largest of the manifest's, the pending
/// list's and this run's.
/// Add to `rec` the `Created` entries of each base (see [`created_entries`]); then sort and
/// deduplicate it, ready to be written as a manifest.
pub(super) fn record_created(
    rec: &mut Vec<Entry>,
    old: &[Entry],
    pending: &[Entry],
    created: &[(Base, u8)],
) {
    for &(base, n) in created {
        rec.extend(created_entries(old, pending, base, n));
    }
    rec.sort();
    rec.dedup();
}

pub(super) fn created_entries(
    old: &[Entry],
    pending: &[Entry],
    base: Base,
    now: u8,
) -> Option<Entry> {
    let n = old
        .iter()
        .chain(pending)
        .filter_map(|e| match e {
            Entry::Created { base: b, n } if *b == base => Some(*n),
            _ => None,
        })
        .chain(std::iter::once(now))
        .max()
        .unwrap_or(0);
    (n > 0).then_some(Entry::Created { base, n })
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

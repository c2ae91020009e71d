//! The manifest transaction: the one way rootlet changes a directory it records in a
//! manifest (`install --user`, `regenerate`, `uninstall --user` are its callers).
//!
//! ```text
//! Transaction::begin   read the manifest and the pending list, prove what is rootlet's
//!                      (nothing written yet: a caller may still refuse)
//! put_file / put_link  the first one writes the pending list (every name this run may
//!                      write, with its hash or target), sweeps the temporaries of an
//!                      interrupted run and creates the directory
//! commit(Prune::Unput) remove rootlet's files this run did not put (links, then files,
//!                      then directories), write the manifest, remove the pending list
//! commit(Prune::All)   remove everything rootlet's (links, then files, then
//!                      directories), then the directories it created; the caller
//!                      removes the lists last
//! ```
//!
//! Every step is recoverable: after a `kill -9` anywhere the manifest and the pending list
//! still name everything rootlet wrote, and the next run proves each name again against
//! what is on disk. What a name holds is rootlet's only while it is exactly what the lists
//! say; anything else there is the user's and stays.

use super::manifest::{Base, Bases, Digest, Entry, Item, Name};
use super::tree::{self, Expect, Found, Tree};
use super::{pending_path, read_list, remove_file, write_list, Error, Legacy};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The claims of `base` that hold: name → what is there. A link counts when the unit file
/// it points at is rootlet's too, or is not there at all (rootlet removed it, and a kill
/// came before the link went: the link, exactly as recorded, is still provably rootlet's
/// and only it can enable a later unit of that name). A link to a file that is not
/// rootlet's may be the user's `systemctl enable` of their own unit: left alone. Also
/// returns the names listed whose file changed since (no longer rootlet's).
pub fn owned_claims(
    tree: &Tree,
    base: Base,
    claims: &[Entry],
    expect: &BTreeMap<Name, Expect>,
    legacy: Legacy<'_>,
) -> (BTreeMap<Name, Found>, Vec<Name>) {
    let mut seen: BTreeMap<&Name, Found> = BTreeMap::new();
    let mut owned = BTreeMap::new();
    let mut links = Vec::new();
    let mut disowned = BTreeSet::new();
    for c in claims {
        let Entry::At {
            base: b,
            name,
            item,
        } = c
        else {
            continue;
        };
        if *b != base {
            continue;
        }
        let found = seen.entry(name).or_insert_with(|| tree.look(name)).clone();
        let unverified = matches!(item, Item::File(None) | Item::Link(None));
        if found.matches(item, expect.get(name)) || (unverified && legacy(tree, name, &found)) {
            if matches!(item, Item::Link(_)) {
                links.push((name.clone(), found));
            } else {
                owned.insert(name.clone(), found);
            }
        } else if found != Found::Nothing && !matches!(item, Item::Dir) {
            disowned.insert(name.clone());
        }
    }
    for (name, found) in links {
        let Found::Link(t) = &found else { continue };
        let target = link_target(&name, t);
        let ours = target.as_ref().is_some_and(|u| match owned.get(u) {
            Some(f) => matches!(f, Found::File(_)),
            None => tree.look(u) == Found::Nothing,
        });
        if ours {
            owned.insert(name, found);
        } else {
            disowned.insert(name);
        }
    }
    disowned.retain(|n| !owned.contains_key(n));
    (owned, disowned.into_iter().collect())
}

/// The name (in the same base) a link of rootlet's points at: `../X` from a subdirectory,
/// `X` beside it. `None` for anything else (rootlet writes no other targets).
fn link_target(link: &Name, target: &[u8]) -> Option<Name> {
    let rest = match link.split().0 {
        Some(_) => target.strip_prefix(b"../")?,
        None => target,
    };
    Name::new(rest).filter(|n| n.split().0.is_none())
}

/// Remove the temporary files an interrupted run left in `tree` (`fsutil`'s
/// `.#NAME.PID.N.tmp`, beside a name of `pending`), when provably rootlet's: the process
/// that made it is gone and it holds exactly what the pending list says was being written
/// at NAME (the content, or the link target), or nothing at all (killed before its first
/// write: an empty file of that name is rootlet's, a user keeps nothing in one). Returns
/// the names removed.
pub fn sweep_temporaries(tree: &Tree, base: Base, pending: &[Entry]) -> Vec<Name> {
    // (directory, stem of the temporary name) -> what was being written there.
    type Key = (Option<Vec<u8>>, Vec<u8>);
    let mut planned: BTreeMap<Key, Vec<&Item>> = BTreeMap::new();
    for e in pending {
        if let Entry::At {
            base: b,
            name,
            item,
        } = e
        {
            if *b == base && !matches!(item, Item::Dir) {
                let (dir, file) = name.split();
                let stem = crate::fsutil::temp_stem(file.as_bytes()).to_vec();
                let key = (dir.map(|d| d.as_bytes().to_vec()), stem);
                planned.entry(key).or_default().push(item);
            }
        }
    }
    let dirs: BTreeSet<Option<Vec<u8>>> = planned.keys().map(|(d, _)| d.clone()).collect();
    let mut removed = Vec::new();
    for dir in dirs {
        let path = match &dir {
            Some(d) => tree.path.join(OsStr::from_bytes(d)),
            None => tree.path.clone(),
        };
        let Ok(rd) = std::fs::read_dir(&path) else {
            continue;
        };
        for e in rd.flatten() {
            let f = e.file_name();
            let fb = f.as_bytes();
            let Some(stem) = crate::fsutil::stale_temp_stem(fb) else {
                continue;
            };
            let Some(items) = planned.get(&(dir.clone(), stem.to_vec())) else {
                continue;
            };
            let rel = match &dir {
                Some(d) => [d.as_slice(), b"/", fb].concat(),
                None => fb.to_vec(),
            };
            let Some(tmp) = Name::new(&rel) else { continue };
            let found = tree.look(&tmp);
            let empty = Found::File(Digest::of(b""));
            let ours = items
                .iter()
                .any(|i| found.matches(i, None) || (matches!(i, Item::File(_)) && found == empty));
            if ours && tree.remove(&tmp, false).unwrap_or(false) {
                removed.push(tmp);
            }
        }
    }
    removed
}

/// Remove the temporaries of a manifest (`.#NAME.PID.N.tmp` beside `list` and its
/// pending list) that a killed run left: its process gone, and empty or a manifest.
pub fn sweep_list_temporaries(list: &Path) {
    let Some(dir) = list.parent() else { return };
    let names: Vec<Vec<u8>> = [list.to_owned(), pending_path(list)]
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.as_bytes().to_vec()))
        .collect();
    let header = &super::manifest::render(&[]);
    crate::fsutil::sweep_stale_temporaries(dir, |stem, text| {
        names.iter().any(|n| crate::fsutil::temp_stem(n) == stem)
            && (text.is_empty() || text.starts_with(header))
    });
}

/// What a run may do with rootlet's files it does not put.
pub enum Prune<'a> {
    /// Remove them (`install`, `regenerate`) and record what was put.
    Unput,
    /// Remove everything rootlet's and the directories it created (`uninstall`); the
    /// lists are left for the caller to remove last (listed in `removed_lists`). `shared` names a file another user still claims: rootlet's claim on
    /// it ends, the file stays for that user.
    All {
        shared: &'a dyn Fn(&Name) -> bool,
        /// The home directory: never removed, nor its parents.
        home: Option<&'a Path>,
    },
}

/// What [`Transaction::put_file`] and [`Transaction::put_link`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// Written now; `new`: the name was not rootlet's before this run.
    Written { new: bool },
    /// Already exactly this.
    Unchanged,
    /// Something that is not rootlet's is there (or the link's directory is not a real
    /// directory): left alone, not recorded.
    Foreign,
}

/// What [`Transaction::commit`] did.
#[derive(Debug, Default)]
pub struct Committed {
    /// Files and links removed.
    pub removed: Vec<Name>,
    /// Subdirectories removed (rootlet made them, and they were empty).
    pub removed_subdirs: Vec<Name>,
    /// Created directories (`created BASE n`) removed (`Prune::All`).
    pub removed_dirs: Vec<PathBuf>,
    /// The lists, for the caller to remove (`Prune::All`).
    pub removed_lists: Vec<PathBuf>,
}

/// One run's change to one of rootlet's directories (see the module doc).
pub struct Transaction<'a> {
    pub tree: Tree,
    base: Base,
    list: PathBuf,
    pending: PathBuf,
    claims: Vec<Entry>,
    /// Entries of the manifest and the pending list (for `created`).
    old: Vec<Entry>,
    old_pending: Vec<Entry>,
    /// Lines of the lists that are not valid entries (ignored).
    pub bad_lines: usize,
    expect: BTreeMap<Name, Expect>,
    legacy: Legacy<'a>,
    owned: BTreeMap<Name, Found>,
    disowned: Vec<Name>,
    /// Other bases this run may create, and how many levels taking the lock created.
    also_create: Vec<(Base, PathBuf)>,
    lock_created: u8,
    started: bool,
    created: BTreeMap<Base, u8>,
    rec: Vec<Entry>,
}

impl<'a> Transaction<'a> {
    /// Read `list` (and its pending list) and prove what of `base` in `tree` is rootlet's.
    /// `expect`: every name this run may put, with what it would put there (also what
    /// proves a claim of the first manifest format; `legacy` proves the others). Changes
    /// nothing.
    pub fn begin(
        tree: Tree,
        base: Base,
        list: &Path,
        bases: &Bases<'_>,
        expect: BTreeMap<Name, Expect>,
        legacy: Legacy<'a>,
    ) -> Result<Transaction<'a>, Error> {
        let pending = pending_path(list);
        let (old, bad1) = read_list(list, bases)?;
        let (old_pending, bad2) = read_list(&pending, bases)?;
        let mut t = Transaction {
            tree,
            base,
            list: list.to_owned(),
            pending,
            claims: old.iter().chain(&old_pending).cloned().collect(),
            old,
            old_pending,
            bad_lines: bad1 + bad2,
            expect,
            legacy,
            owned: BTreeMap::new(),
            disowned: Vec::new(),
            also_create: Vec::new(),
            lock_created: 0,
            started: false,
            created: BTreeMap::new(),
            rec: Vec::new(),
        };
        t.prove();
        Ok(t)
    }

    fn prove(&mut self) {
        let (owned, disowned) = owned_claims(
            &self.tree,
            self.base,
            &self.claims,
            &self.expect,
            self.legacy,
        );
        self.owned = owned;
        self.disowned = disowned;
    }

    /// Count the claims of other lists too (`uninstall`: every list of rootlet's).
    pub fn claims_of(mut self, lists: &[PathBuf], bases: &Bases<'_>) -> Result<Self, Error> {
        for l in lists {
            if *l != self.list && *l != self.pending {
                self.claims.extend(read_list(l, bases)?.0);
            }
        }
        self.prove();
        Ok(self)
    }

    /// Whether `name` is rootlet's (proved at `begin`).
    pub fn owns(&self, name: &Name) -> bool {
        self.owned.contains_key(name)
    }

    /// Names the lists claim that changed since rootlet wrote them: no longer rootlet's.
    pub fn disowned(&self) -> &[Name] {
        &self.disowned
    }

    /// Claim `name` although no list of this transaction proves it: a file shared with
    /// another user of it whose own record proves it rootlet's (see `install::shared`).
    /// The caller has checked that it holds exactly what `expect` says.
    pub fn claim_shared(&mut self, name: &Name) {
        let found = self.tree.look(name);
        self.owned.insert(name.clone(), found);
    }

    /// Another directory this run may create (recorded as `created BASE n`).
    pub fn also_create(&mut self, base: Base, dir: &Path) {
        self.also_create.push((base, dir.to_owned()));
    }

    /// The levels taking the lock created (recorded as `created state n`).
    pub fn lock_created(&mut self, n: u8) {
        self.lock_created = n;
    }

    /// Before the first change: record everything this run may write in the pending list,
    /// sweep an interrupted run's temporaries, create the directory.
    ///
    /// Ownership is proved (at `begin`) before this, from the lists as the last run left
    /// them: a refusal then leaves nothing behind, not even a pending list, and the proof
    /// never rests on this run's own plan, which says what it may write, not what is on
    /// disk. Nothing is lost meanwhile: the pending list written here keeps the entries
    /// of an interrupted run's pending list, so every earlier claim survives a kill at any
    /// later step.
    fn start(&mut self) -> Result<(), Error> {
        if self.started {
            return Ok(());
        }
        let mut plan: Vec<Entry> = self.old_pending.clone();
        let mut levels = vec![(self.base, tree::missing_levels(&self.tree.path))];
        for (b, d) in &self.also_create {
            levels.push((*b, tree::missing_levels(d)));
        }
        levels.push((Base::State, self.lock_created));
        for (base, n) in levels {
            if n > 0 {
                plan.push(Entry::Created { base, n });
            }
        }
        for (name, e) in &self.expect {
            plan.push(match e {
                Expect::File(d) => Entry::At {
                    base: self.base,
                    name: name.clone(),
                    item: Item::File(Some(*d)),
                },
                Expect::Link(t) => Entry::link(self.base, name.clone(), t),
            });
            // Only a directory that does not exist yet can become rootlet's.
            if let Some(d) = parent_name(name) {
                if self.tree.look(&d) == Found::Nothing {
                    plan.push(Entry::dir(self.base, d));
                }
            }
        }
        plan.sort();
        plan.dedup();
        sweep_list_temporaries(&self.list);
        write_list(&self.pending, &plan)?;
        sweep_temporaries(&self.tree, self.base, &self.old_pending);
        let mut created = vec![(self.base, self.tree.create()?)];
        for (b, d) in &self.also_create {
            created.push((*b, Tree::open(d)?.create()?));
        }
        created.push((Base::State, self.lock_created));
        for (b, n) in created {
            let e = self.created.entry(b).or_default();
            *e = (*e).max(n);
        }
        self.started = true;
        Ok(())
    }

    /// Put `data` at `name` (a file in the directory itself): written when missing or
    /// rootlet's and different, recorded unless foreign.
    pub fn put_file(&mut self, name: &Name, data: &[u8]) -> Result<Put, Error> {
        self.start()?;
        let want = Digest::of(data);
        let put = match self.tree.look(name) {
            Found::Nothing => {
                self.tree.write(name, data)?;
                Put::Written { new: true }
            }
            Found::File(d) if self.owns(name) => {
                if d == want {
                    Put::Unchanged
                } else {
                    self.tree.write(name, data)?;
                    Put::Written { new: false }
                }
            }
            _ => return Ok(Put::Foreign),
        };
        self.rec.push(Entry::file(self.base, name.clone(), data));
        Ok(put)
    }

    /// Put the symlink `name -> target`, its subdirectory made when missing (then
    /// rootlet's); a subdirectory that is not a real directory makes the link foreign.
    pub fn put_link(&mut self, name: &Name, target: &str) -> Result<Put, Error> {
        self.start()?;
        if let Some(dname) = parent_name(name) {
            match self.tree.ensure_subdir(dname.as_os_str()) {
                Ok(true) => self.rec.push(Entry::dir(self.base, dname)),
                Ok(false) => {
                    if self.owns(&dname) {
                        self.rec.push(Entry::dir(self.base, dname));
                    }
                }
                Err(Some(e)) => return Err(e),
                Err(None) => return Ok(Put::Foreign),
            }
        }
        let was_ours = self.owns(name);
        let put = match self.tree.look(name) {
            Found::Nothing => {
                self.tree.symlink(name, target)?;
                Put::Written { new: !was_ours }
            }
            Found::Link(t) if was_ours => {
                if t == target.as_bytes() {
                    Put::Unchanged
                } else {
                    self.tree.symlink(name, target)?;
                    Put::Written { new: false }
                }
            }
            _ => return Ok(Put::Foreign),
        };
        self.rec
            .push(Entry::link(self.base, name.clone(), target.as_bytes()));
        Ok(put)
    }

    /// Finish: prune (see [`Prune`]), then record.
    pub fn commit(mut self, prune: Prune<'_>) -> Result<Committed, Error> {
        let mut done = Committed::default();
        let (shared, everything, home): (&dyn Fn(&Name) -> bool, bool, _) = match &prune {
            Prune::Unput => (&|_| false, false, None),
            Prune::All { shared, home } => (*shared, true, *home),
        };
        if everything {
            // Nothing is written: no pending list; an interrupted run's temporaries go.
            sweep_list_temporaries(&self.list);
            sweep_temporaries(&self.tree, self.base, &self.old_pending);
        } else {
            self.start()?;
        }
        let extra_dirs = self.remove_unput(shared, &mut done)?;
        if everything {
            self.remove_created_dirs(home, &mut done);
            // The lists stay, for the caller to remove last ([`super::Lock::release_after`]):
            // until then they name everything this removed.
            for l in [&self.pending, &self.list] {
                if l.exists() {
                    done.removed_lists.push(l.clone());
                }
            }
            return Ok(done);
        }
        self.rec.extend(extra_dirs);
        self.record()?;
        Ok(done)
    }

    /// Remove what rootlet owned and this run did not put (nor `shared` names), links
    /// first; returns the entries of the subdirectories that stay because they are not
    /// empty.
    fn remove_unput(
        &self,
        shared: &dyn Fn(&Name) -> bool,
        done: &mut Committed,
    ) -> Result<Vec<Entry>, Error> {
        let kept: BTreeSet<Name> = self
            .rec
            .iter()
            .filter_map(|e| match e {
                Entry::At { name, .. } => Some(name.clone()),
                Entry::Created { .. } => None,
            })
            .collect();
        // Links before the files they point at: a kill between the two leaves a unit
        // without its link (still rootlet's by its hash), never a link that enables
        // whatever comes to have the unit's name later.
        let link_first = |f: &Found| match f {
            Found::Link(_) => 0,
            Found::Dir => 2,
            _ => 1,
        };
        let mut order: Vec<(&Name, &Found)> = self.owned.iter().collect();
        order.sort_by_key(|(n, f)| (link_first(f), *n));
        let mut extra_dirs = Vec::new();
        for (name, found) in order {
            if kept.contains(name) || shared(name) {
                continue;
            }
            let dir = *found == Found::Dir;
            if self.tree.remove(name, dir)? {
                match dir {
                    true => done.removed_subdirs.push(name.clone()),
                    false => done.removed.push(name.clone()),
                }
            } else if dir && self.tree.look(name) == Found::Dir {
                // Not empty (the user's files): still rootlet's to remove once empty.
                extra_dirs.push(Entry::dir(self.base, name.clone()));
            }
        }
        Ok(extra_dirs)
    }

    /// Remove the directories rootlet created (`created BASE n`) that are empty, deepest
    /// first, never `home` nor its parents.
    fn remove_created_dirs(&self, home: Option<&Path>, done: &mut Committed) {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for e in &self.claims {
            if let Entry::Created { base, n } = e {
                if *base == self.base {
                    dirs.extend(tree::created_chain(&self.tree.path, *n, home));
                }
            }
        }
        dirs.sort_by_key(|d| std::cmp::Reverse((d.components().count(), d.clone())));
        dirs.dedup();
        for d in dirs {
            if std::fs::remove_dir(&d).is_ok() {
                done.removed_dirs.push(d);
            }
        }
    }

    /// Write the manifest: what this run put, with the largest `created` entry of each
    /// base; then the pending list goes.
    fn record(&mut self) -> Result<(), Error> {
        let mut rec = std::mem::take(&mut self.rec);
        for (&base, &n) in &self.created {
            rec.extend(created_entry(&self.old, &self.old_pending, base, n));
        }
        rec.sort();
        rec.dedup();
        write_list(&self.list, &rec)?;
        remove_file(&self.pending)?;
        Ok(())
    }
}

/// The directory component of a two-component name, as a name.
fn parent_name(name: &Name) -> Option<Name> {
    name.split().0.and_then(|d| Name::new(d.as_bytes()))
}

/// The `created BASE n` entry to keep: the largest of the manifest's, the pending list's
/// and this run's.
fn created_entry(old: &[Entry], pending: &[Entry], base: Base, now: u8) -> Option<Entry> {
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

#[cfg(test)]
mod tests;

//! Settling clashes: two sources must not become the same unit, nor claim the same
//! path in the output directory. Units that no other can clash with are written as they
//! are made ([`stands_alone`]); the others are settled here, after all are made.

use crate::error::SourceError;
use crate::quadlet::{self, Generated, Source, SourceKind};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// A unit made but not written yet, with the path and file name of its source.
pub(super) struct Kept {
    pub g: Generated,
    pub path: PathBuf,
    pub file: String,
    /// Its references to sources whose unit may turn out to be another's ([`risky_refs`]).
    pub refs: Vec<Ref>,
}

/// A reference of a source to another (`Pod=d.pod`), where it is made (the path and line
/// of the reference, drop-in located) and by which key.
pub(super) struct Ref {
    pub file: String,
    pub path: PathBuf,
    pub line: usize,
    pub key: String,
    /// The reference as written (`db.service` for the unit of `db.container`).
    pub named: String,
    /// Whether the unit is refused when `file` is not generated (the references of
    /// [`risky_refs`]); else (`rootlet check`'s [`dependency_refs`]) only reported.
    pub refuse: bool,
}

/// The references of `src` (its own section and `[Unit]`) to `risky` sources: those whose
/// unit may not be theirs in the end (another source may take their unit name, see
/// `contested` in `translate.rs`). A unit made from such a reference is not written at
/// once: if the source it names is not generated, it would be bound to another source's
/// unit (`BindsTo=` the winner of the name) or to nothing, and is refused instead.
pub(super) fn risky_refs(
    src: &Source,
    dropins: &[PathBuf],
    risky: &dyn Fn(&str) -> bool,
) -> Vec<Ref> {
    let mut refs = Vec::new();
    let own = src.kind.section();
    for s in (src.file.sections.iter()).filter(|s| s.name == own || s.name == "Unit") {
        for e in &s.entries {
            let words = e
                .value
                .split(|c: char| c.is_whitespace() || ",:=".contains(c));
            if let Some(w) = words.filter(|w| w.contains('.')).find(|w| risky(w)) {
                let at = super::load::locate(src.err(e.line, ""), dropins);
                refs.push(Ref {
                    file: w.to_owned(),
                    path: at.path,
                    line: at.line,
                    key: e.key.to_string(),
                    named: w.to_owned(),
                    refuse: true,
                });
            }
        }
    }
    refs
}

/// The `[Unit]` dependency keys `rootlet check` follows to sources with no unit.
const DEPENDENCY_KEYS: &[&str] = &["Requires", "Requisite", "BindsTo", "Wants", "After"];

/// For `rootlet check`: the `[Unit]` dependencies of `src` (`Requires=`, `BindsTo=`,
/// `Wants=`, `After=`) on the run's sources, named by file (`db.container`) or by unit
/// (`db.service`), and the references of its own section (`Network=n.network`), by file:
/// `file_of` gives the source's file name. Those [`risky_refs`] has
/// (`have`) are left out. A source they name that gets no unit is reported at the line of
/// the reference ([`settle`]), and the unit is still made: the generator makes it too (a
/// `Wants=` or `After=` of a missing unit is no error to systemd, and its output does not
/// depend on what `check` looks at), and it is systemd that fails to start it.
pub(super) fn dependency_refs(
    src: &Source,
    dropins: &[PathBuf],
    file_of: &dyn Fn(&str) -> Option<String>,
    have: &[Ref],
) -> Vec<Ref> {
    let mut refs = Vec::new();
    let own = src.kind.section();
    for (s, e) in (src.file.sections.iter())
        .filter(|s| s.name == own || s.name == "Unit")
        .flat_map(|s| s.entries.iter().map(move |e| (s, e)))
    {
        let words: Vec<&str> = match s.name == own {
            // `Network=db.network`, `Volume=v.volume:/data`: by file name only.
            true => (e
                .value
                .split(|c: char| c.is_whitespace() || ",:=".contains(c)))
            .filter(|w| file_of(w).is_some_and(|f| f == *w))
            .collect(),
            false if DEPENDENCY_KEYS.contains(&&*e.key) => e.value.split_whitespace().collect(),
            false => continue,
        };
        let at = super::load::locate(src.err(e.line, ""), dropins);
        for w in words {
            let Some(file) = file_of(w).filter(|f| *f != src.name) else {
                continue;
            };
            if !(have.iter().chain(&refs)).any(|r| r.file == file && r.line == at.line) {
                refs.push(Ref {
                    file,
                    path: at.path.clone(),
                    line: at.line,
                    key: e.key.to_string(),
                    named: w.to_owned(),
                    refuse: false,
                });
            }
        }
    }
    refs
}

/// Settle the units not written at once, beside those that were (`written`: names and
/// links): two sources must not become the same unit (`a-network.container`, `a.network`)
/// nor claim the same path; the first by unit name, then one named by its file name (not
/// by `ServiceName=`), then the first by file name, wins, and a unit file
/// beats any symlink of its name; a unit whose link loses is made without that link.
/// A unit that refers to a source not generated (`failed`: file names of sources that
/// failed; or one that lost its name here) is refused. Returns the winners, by name.
pub(super) fn settle(
    written: &[(String, Vec<quadlet::Link>, PathBuf)],
    kept: Vec<Kept>,
    failed: &HashSet<String>,
    errors: &mut Vec<SourceError>,
) -> Vec<Generated> {
    // path -> link target, or "" for a unit file
    let mut claimed: HashMap<&str, &str> = HashMap::new();
    // unit name -> the source of a unit written at once
    let mut sources: HashMap<&str, &PathBuf> = HashMap::new();
    for (name, links, path) in written {
        claimed.insert(name, "");
        sources.insert(name, path);
        for l in links {
            claimed.insert(&l.path, &l.target);
        }
    }
    let by = Names {
        claimed: &claimed,
        sources: &sources,
    };
    let mut kept = drop_dependents(&by, kept, failed, errors);
    let lost = by.losers(&mut kept);
    let mut named: Vec<Kept> = Vec::new();
    let mut lost = lost.into_iter().peekable();
    for (i, k) in kept.into_iter().enumerate() {
        match lost.next_if(|(j, _)| *j == i) {
            Some((_, first)) => errors.push(SourceError::new(
                &k.path,
                0,
                format!("becomes {} like {first}: skipped", k.g.name),
            )),
            None => named.push(k),
        }
    }
    link(&by, named, errors)
}

/// The winners of their names, each with the install symlinks no other unit has.
fn link(by: &Names, named: Vec<Kept>, errors: &mut Vec<SourceError>) -> Vec<Generated> {
    let (claimed, sources) = (by.claimed, by.sources);
    // Links of the winners so far, and the unit files of all of them, with the source that
    // claims each.
    let mut links: HashMap<String, (String, PathBuf)> = named
        .iter()
        .map(|k| (k.g.name.clone(), (String::new(), k.path.clone())))
        .collect();
    let mut won: Vec<Generated> = Vec::new();
    for k in named {
        // A link whose path another unit (or another unit's link) has is left out, and the
        // unit made without it, as `systemctl enable` makes the other links of a unit whose
        // `Alias=` names an existing file (and fails). quadlet removes whatever is there and
        // links it anyway: a unit file written before becomes the alias of another unit, and
        // one written after goes through the link into the other unit's file (golden cases
        // 39 and 98); skipping the whole unit, as rootlet did, lost a unit for a link.
        let mut g = k.g;
        g.links.retain(|l| {
            let other = match claimed.get(l.path.as_str()) {
                Some(t) => Some((*t, sources.get(l.path.as_str()).copied())),
                None => links.get(&l.path).map(|(t, p)| (t.as_str(), Some(p))),
            };
            let Some((target, by)) = other.filter(|(t, _)| *t != l.target) else {
                return true;
            };
            let what = if target.is_empty() {
                "the unit"
            } else {
                "a link"
            };
            let by = by.map_or_else(|| "another source".into(), |p| crate::error::show_path(p));
            errors.push(SourceError::new(
                &k.path,
                0,
                format!(
                    "install symlink {} is {what} of {by}: that link is not made ({} is \
                     generated without it)",
                    l.path, g.name
                ),
            ));
            false
        });
        for l in &g.links {
            links.insert(l.path.clone(), (l.target.clone(), k.path.clone()));
        }
        won.push(g);
    }
    won
}

/// The unit names taken by the units written at once.
struct Names<'a> {
    claimed: &'a HashMap<&'a str, &'a str>,
    sources: &'a HashMap<&'a str, &'a PathBuf>,
}

impl Names<'_> {
    /// Sort `kept` and name those that lose their unit name, by index, with whom they
    /// lose it to. Of the sources of one unit name, one named so by its file name wins over
    /// one that takes the name with `ServiceName=` (a container's is known only once it is
    /// made, after such a unit may have been written: the same rule either way); then the
    /// first by file name.
    fn losers(&self, kept: &mut [Kept]) -> Vec<(usize, String)> {
        kept.sort_by_cached_key(|k| (k.g.name.clone(), !by_file_name(k), k.file.clone()));
        let mut lost = Vec::new();
        let mut winner: Option<usize> = None;
        for (i, k) in kept.iter().enumerate() {
            let first = match winner.map(|w| &kept[w]) {
                Some(prev) if prev.g.name == k.g.name => Some(crate::error::show_path(&prev.path)),
                _ if self.claimed.contains_key(k.g.name.as_str()) => Some(
                    (self.sources.get(k.g.name.as_str()))
                        .map_or_else(|| "another source".into(), |p| crate::error::show_path(p)),
                ),
                _ => None,
            };
            match first {
                Some(first) => lost.push((i, first)),
                None => winner = Some(i),
            }
        }
        lost
    }
}

/// Refuse the units that refer to a source that is not generated (audit N11: a container
/// whose `Pod=` lost its unit name was bound to the unrelated unit that won it), until
/// none is left: a refused unit may itself be referred to.
fn drop_dependents(
    by: &Names,
    mut kept: Vec<Kept>,
    failed: &HashSet<String>,
    errors: &mut Vec<SourceError>,
) -> Vec<Kept> {
    if kept.iter().all(|k| k.refs.is_empty()) {
        return kept;
    }
    let refuses = |r: &Ref, gone: &HashMap<String, String>| r.refuse && gone.contains_key(&r.file);
    let mut refused: HashMap<String, String> = HashMap::new();
    loop {
        let mut gone: HashMap<String, String> = (failed.iter())
            .map(|f| (f.clone(), "it has errors".to_owned()))
            .chain(refused.iter().map(|(f, w)| (f.clone(), w.clone())))
            .collect();
        for (i, first) in by.losers(&mut kept) {
            let why = format!("it becomes {} like {first}", kept[i].g.name);
            gone.insert(kept[i].file.clone(), why);
        }
        let (out, stay): (Vec<Kept>, Vec<Kept>) = kept
            .into_iter()
            .partition(|k| k.refs.iter().any(|r| refuses(r, &gone)));
        kept = stay;
        if out.is_empty() {
            report_dependencies(by, &kept, &gone, errors);
            return kept;
        }
        for k in out {
            let Some(r) = k.refs.iter().find(|r| refuses(r, &gone)) else {
                continue;
            };
            errors.push(SourceError::new(
                &r.path,
                r.line,
                format!(
                    "{}: `{}` is not generated ({}): {} is not generated either",
                    r.key, r.file, gone[&r.file], k.g.name
                ),
            ));
            refused.insert(k.file, format!("{} is not generated", k.g.name));
        }
    }
}

/// `rootlet check`: each dependency of a unit made ([`dependency_refs`]) on a source that
/// gets no unit (`gone`: file name -> why) and a unit name no other takes, at the line of
/// the reference, with what systemd then does.
fn report_dependencies(
    by: &Names,
    kept: &[Kept],
    gone: &HashMap<String, String>,
    errors: &mut Vec<SourceError>,
) {
    // A unit of that name made all the same (`ServiceName=db` of another container).
    let made = |u: &str| by.claimed.contains_key(u) || kept.iter().any(|k| k.g.name == u);
    for k in kept {
        for r in k.refs.iter().filter(|r| !r.refuse) {
            let Some(why) = gone.get(&r.file).filter(|_| !made(&r.named)) else {
                continue;
            };
            let whose = match r.named == r.file {
                true => String::new(),
                false => format!("{}: ", r.file),
            };
            let then = match r.key.as_str() {
                "Wants" | "After" => format!("systemd starts {} without it", k.g.name),
                // `Network=`, `Pod=`, `Image=`...: a `Requires=` of the other's unit.
                _ => format!(
                    "systemd fails to start {}: a unit it needs does not exist",
                    k.g.name
                ),
            };
            errors.push(SourceError::new(
                &r.path,
                r.line,
                format!(
                    "{}: `{}` is not generated ({whose}{why}): {then}",
                    r.key, r.named
                ),
            ));
        }
    }
}

/// Whether the unit of `k` has the name its source's file name gives (no `ServiceName=`).
fn by_file_name(k: &Kept) -> bool {
    SourceKind::from_file_name(&k.file)
        .is_some_and(|(kind, stem)| quadlet::unit_name_for(kind, stem) == k.g.name)
}

/// Whether `g` can be written before the others are made: its source is the only one that
/// may become its unit (`claims`: see `claimants` in `translate.rs`), by the name its file
/// name gives (no `ServiceName=`); it is not an instance (a template's `DefaultInstance=`
/// link could name it); and its only symlinks are `X.wants/NAME`-like ones named after
/// itself (no `Alias=`). No other unit can then claim a path it writes.
pub(super) fn stands_alone(g: &Generated, src: &Source, claims: &HashMap<String, u32>) -> bool {
    src.kind != SourceKind::Socket
        && g.name == quadlet::unit_name_for(src.kind, src.stem())
        && claims.get(&g.name) == Some(&1)
        && !g
            .name
            .split_once('@')
            .is_some_and(|(_, i)| !i.starts_with('.'))
        && g.links
            .iter()
            .all(|l| l.path.rsplit_once('/').is_some_and(|(_, n)| n == g.name))
}

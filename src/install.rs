//! The no-root install: `rootlet install --user`, `rootlet uninstall --user` and
//! `rootlet regenerate`, the run that the installed path unit triggers.
//!
//! A user without root cannot add a generator, so rootlet generates into a directory on
//! the user unit path instead, `$XDG_DATA_HOME/systemd/user/` (default
//! `~/.local/share/systemd/user/`), and a path unit regenerates whenever a source changes.
//! That directory may hold the user's own units: rootlet writes only names it does not find
//! there, and records everything it wrote in a manifest
//! (`$XDG_DATA_HOME/rootlet/generated.list`); a later run removes what the manifest lists
//! and the new run no longer produces, and nothing else. The install itself is recorded the
//! same way (`installed.list`), directories it created included, so that uninstall leaves
//! the tree as it found it.
//!
//! Manifest format: one entry a line, `file PATH`, `link PATH` or `dir PATH`, absolute paths.

pub use crate::env::WAIT_UNIT;
use crate::env::{UserEnv, SYSTEM_USER_UNIT_DIRS, USER_GENERATOR_DIRS};
use crate::generator::{self, Run};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const PATH_UNIT: &str = "rootlet-regenerate.path";
pub const SERVICE_UNIT: &str = "rootlet-regenerate.service";
const PATH_TEMPLATE: &str = include_str!("../units/rootlet-regenerate.path.in");
const SERVICE_TEMPLATE: &str = include_str!("../units/rootlet-regenerate.service.in");
/// Written by `install --user` only when no system-wide copy of the wait unit exists:
/// the unit rootlet ships (`units/rootlet-wait-online.service.in`).
const WAIT_FALLBACK: &str = include_str!("../units/rootlet-wait-online.service.in");
/// Targets that are active in a running user session: a unit newly wanted by one of them is
/// started by `regenerate`, as the next boot would.
const LIVE_TARGETS: &[&str] = &["default.target.wants", "sockets.target.wants"];

/// Where a no-root install lives.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `$XDG_CONFIG_HOME/systemd/user`: the path and service units.
    pub unit_dir: PathBuf,
    /// `$XDG_DATA_HOME/systemd/user`: the generated units.
    pub output_dir: PathBuf,
    /// `$XDG_DATA_HOME/rootlet`: the manifests.
    pub state_dir: PathBuf,
    /// Where `rootlet` and `rootlet-wait-online` are.
    pub bindir: PathBuf,
    /// Directories to watch instead of the template's (custom `XDG_CONFIG_HOME` or
    /// `ROOTLET_UNIT_DIRS`).
    pub watch: Option<Vec<PathBuf>>,
    /// `Environment=` of the service: the variables that decided the paths at install.
    pub env: Vec<(String, String)>,
}

impl Layout {
    /// From the process environment; `bindir` defaults to the running executable's.
    pub fn from_env(bindir: Option<PathBuf>) -> Result<Layout, String> {
        let user = UserEnv::from_process();
        let home = user
            .home
            .clone()
            .ok_or("HOME is not set to an absolute path")?;
        let config_home = user.config_home.clone();
        let config = user.config_dir().unwrap_or_else(|| home.join(".config"));
        let data = user.data_dir().unwrap_or_else(|| home.join(".local/share"));
        let bindir = match bindir {
            Some(b) => b,
            None => std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(Path::to_owned))
                .ok_or("cannot find the directory of the rootlet executable")?,
        };
        let custom_config = config_home.is_some() && config != home.join(".config");
        let watch = if user.unit_dirs.is_some() || custom_config {
            let mut v: Vec<PathBuf> = user.search_roots().into_iter().map(|r| r.path).collect();
            v.push(config.join("rootlet"));
            Some(v)
        } else {
            None
        };
        let mut env = Vec::new();
        for var in [
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
            "ROOTLET_UNIT_DIRS",
            "PODMAN",
        ] {
            if let Some(v) = std::env::var_os(var) {
                env.push((var.to_owned(), v.to_string_lossy().into_owned()));
            }
        }
        Ok(Layout {
            unit_dir: config.join("systemd/user"),
            output_dir: data.join("systemd/user"),
            state_dir: data.join("rootlet"),
            bindir,
            watch,
            env,
        })
    }

    pub fn generated_list(&self) -> PathBuf {
        self.state_dir.join("generated.list")
    }

    pub fn installed_list(&self) -> PathBuf {
        self.state_dir.join("installed.list")
    }

    /// The path unit, from the template; watched directories replaced when the user's
    /// environment moved them.
    pub fn path_unit(&self) -> String {
        let text = fill(PATH_TEMPLATE, &self.bindir);
        let Some(watch) = &self.watch else {
            return text;
        };
        let mut out = String::new();
        let mut done = false;
        for line in text.lines() {
            if line.starts_with("PathChanged=") {
                if !done {
                    for w in watch {
                        out.push_str(&format!("PathChanged={}\n", escape_path(w)));
                    }
                    done = true;
                }
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// The service unit, from the template, with the install-time environment.
    pub fn service_unit(&self) -> String {
        let text = fill(SERVICE_TEMPLATE, &self.bindir);
        let mut out = String::new();
        for line in text.lines() {
            if line.starts_with("ExecStart=") {
                for (k, v) in &self.env {
                    out.push_str(&format!(
                        "Environment=\"{}={}\"\n",
                        k,
                        v.replace('%', "%%")
                            .replace('\\', "\\\\")
                            .replace('"', "\\\"")
                    ));
                }
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

fn fill(template: &str, bindir: &Path) -> String {
    template.replace("@bindir@", &escape_path(bindir))
}

/// A path as systemd reads it in a unit file: `%` doubled (paths with spaces are accepted
/// by `PathChanged=`; `ExecStart=` would need quoting, which rootlet's bindir never needs).
fn escape_path(p: &Path) -> String {
    p.to_string_lossy().replace('%', "%%")
}

// ---------------------------------------------------------------------------------------
// Manifests

/// One thing rootlet put on disk.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entry {
    File(PathBuf),
    Link(PathBuf),
    Dir(PathBuf),
}

impl Entry {
    pub fn path(&self) -> &Path {
        match self {
            Entry::File(p) | Entry::Link(p) | Entry::Dir(p) => p,
        }
    }
}

/// Read a manifest; a missing file is an empty one. Unknown lines are ignored.
pub fn read_manifest(path: &Path) -> io::Result<Vec<Entry>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter_map(|l| {
            let (kind, p) = l.split_once(' ')?;
            let p = PathBuf::from(p);
            if !p.is_absolute() {
                return None;
            }
            match kind {
                "file" => Some(Entry::File(p)),
                "link" => Some(Entry::Link(p)),
                "dir" => Some(Entry::Dir(p)),
                _ => None,
            }
        })
        .collect())
}

/// Write a manifest atomically (temporary file, then rename).
pub fn write_manifest(path: &Path, entries: &[Entry]) -> io::Result<()> {
    let mut s = String::from("# Written by rootlet: what it put on disk. Do not edit.\n");
    for e in entries {
        let (k, p) = match e {
            Entry::File(p) => ("file", p),
            Entry::Link(p) => ("link", p),
            Entry::Dir(p) => ("dir", p),
        };
        let p = p.to_string_lossy();
        if p.contains('\n') {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("path with a newline: {p:?}"),
            ));
        }
        s.push_str(&format!("{k} {p}\n"));
    }
    let tmp = path.with_extension("list.tmp");
    fs::write(&tmp, s)?;
    fs::rename(&tmp, path)
}

/// The directories `make_dirs(dir)` would create, outermost first.
fn missing_dirs(dir: &Path) -> Vec<Entry> {
    let mut v: Vec<Entry> = dir
        .ancestors()
        .take_while(|d| fs::symlink_metadata(d).is_err())
        .map(|d| Entry::Dir(d.to_owned()))
        .collect();
    v.reverse();
    v
}

/// `create_dir_all`, recording each directory it created (outermost first).
fn make_dirs(dir: &Path, created: &mut Vec<Entry>) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut d = Some(dir);
    while let Some(x) = d {
        if fs::symlink_metadata(x).is_ok() {
            break;
        }
        missing.push(x.to_owned());
        d = x.parent();
    }
    for m in missing.into_iter().rev() {
        match fs::create_dir(&m) {
            Ok(()) => created.push(Entry::Dir(m)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Remove one entry if it is still what rootlet put there: a file that is now a directory,
/// or a directory that is not empty, stays. Returns whether something was removed.
fn remove_entry(e: &Entry) -> io::Result<bool> {
    let Ok(md) = fs::symlink_metadata(e.path()) else {
        return Ok(false);
    };
    let ok = match e {
        Entry::File(_) => md.file_type().is_file(),
        Entry::Link(_) => md.file_type().is_symlink(),
        Entry::Dir(_) => md.file_type().is_dir(),
    };
    if !ok {
        return Ok(false);
    }
    let r = match e {
        Entry::Dir(p) => fs::remove_dir(p),
        _ => fs::remove_file(e.path()),
    };
    match r {
        Ok(()) => Ok(true),
        // A directory that holds something else now (ENOTEMPTY) stays.
        Err(_) if matches!(e, Entry::Dir(_)) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Remove the directories of a manifest that are empty now, deepest first.
fn remove_dirs(entries: &[Entry]) -> Vec<Entry> {
    let mut dirs: Vec<&Entry> = entries
        .iter()
        .filter(|e| matches!(e, Entry::Dir(_)))
        .collect();
    dirs.sort_by_key(|e| std::cmp::Reverse(e.path().components().count()));
    let mut kept = Vec::new();
    for d in dirs {
        if !matches!(remove_entry(d), Ok(true)) && d.path().is_dir() {
            kept.push(d.clone());
        }
    }
    kept
}

// ---------------------------------------------------------------------------------------
// Regenerate

/// What one regeneration changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Regenerated {
    /// Units and links written (new or changed), file names relative to the output dir.
    pub written: Vec<String>,
    /// Units and links removed because no source produces them any more.
    pub removed: Vec<String>,
    /// Paths left alone because rootlet did not write them (the user's own units).
    pub foreign: Vec<String>,
    /// Units newly wanted by `default.target` or `sockets.target`.
    pub new_live: Vec<String>,
}

impl Regenerated {
    pub fn changed(&self) -> bool {
        !self.written.is_empty() || !self.removed.is_empty()
    }
}

fn rel(out: &Path, p: &Path) -> String {
    p.strip_prefix(out).unwrap_or(p).display().to_string()
}

/// Write the units of `run` into `out`, prune what the manifest lists and `run` no longer
/// produces, and rewrite the manifest. Never overwrites nor removes what the manifest does
/// not list.
pub fn regenerate(run: &Run, out: &Path, manifest: &Path) -> io::Result<Regenerated> {
    let old = read_manifest(manifest)?;
    let old_set: BTreeSet<&Entry> = old.iter().collect();
    // First record everything this run may create, so that an interrupted run leaves
    // nothing behind that a later run would take for the user's own.
    let mut plan: Vec<Entry> = old.clone();
    plan.extend(missing_dirs(out));
    for g in &run.units {
        plan.push(Entry::File(out.join(&g.name)));
        for l in &g.links {
            let p = out.join(&l.path);
            if let Some(parent) = p.parent() {
                plan.extend(missing_dirs(parent));
            }
            plan.push(Entry::Link(p));
        }
    }
    plan.retain(|e| old_set.contains(e) || fs::symlink_metadata(e.path()).is_err());
    plan.sort();
    plan.dedup();
    if let Some(parent) = manifest.parent() {
        fs::create_dir_all(parent)?;
    }
    write_manifest(manifest, &plan)?;
    let mut created = Vec::new();
    make_dirs(out, &mut created)?;
    let mut r = Regenerated::default();
    let mut new: Vec<Entry> = Vec::new();
    for g in &run.units {
        let path = out.join(&g.name);
        let entry = Entry::File(path.clone());
        let text = g.text();
        match fs::symlink_metadata(&path) {
            Ok(_) if !old_set.contains(&entry) => {
                r.foreign.push(g.name.clone());
                continue;
            }
            Ok(md) if md.is_file() && fs::read(&path).is_ok_and(|b| b == text.as_bytes()) => {}
            _ => {
                fs::write(&path, &text)?;
                r.written.push(g.name.clone());
            }
        }
        new.push(entry);
        for l in &g.links {
            let p = out.join(&l.path);
            let entry = Entry::Link(p.clone());
            let existed = old_set.contains(&entry);
            match fs::symlink_metadata(&p) {
                Ok(md) if !existed || !md.file_type().is_symlink() => {
                    r.foreign.push(l.path.clone());
                    continue;
                }
                Ok(md)
                    if md.file_type().is_symlink()
                        && fs::read_link(&p).is_ok_and(|t| t == Path::new(&l.target)) => {}
                Ok(_) => {
                    fs::remove_file(&p)?;
                    std::os::unix::fs::symlink(&l.target, &p)?;
                    r.written.push(l.path.clone());
                }
                Err(_) => {
                    if let Some(parent) = p.parent() {
                        make_dirs(parent, &mut created)?;
                    }
                    std::os::unix::fs::symlink(&l.target, &p)?;
                    r.written.push(l.path.clone());
                }
            }
            if !existed
                && LIVE_TARGETS
                    .iter()
                    .any(|t| l.path.starts_with(&format!("{t}/")))
            {
                r.new_live.push(g.name.clone());
            }
            new.push(entry);
        }
    }
    let new_set: BTreeSet<&Entry> = new.iter().collect();
    for e in &old {
        if matches!(e, Entry::Dir(_)) || new_set.contains(e) {
            continue;
        }
        if remove_entry(e)? {
            r.removed.push(rel(out, e.path()));
        }
    }
    let dirs: Vec<Entry> = old
        .iter()
        .filter(|e| matches!(e, Entry::Dir(_)))
        .cloned()
        .chain(created)
        .collect();
    // The output directory itself stays while the install does (the path unit's target).
    let needed: BTreeSet<PathBuf> = new
        .iter()
        .flat_map(|e| e.path().ancestors().skip(1).map(Path::to_owned))
        .collect();
    let (keep, prune): (Vec<Entry>, Vec<Entry>) = dirs
        .into_iter()
        .partition(|d| needed.contains(d.path()) || d.path() == out);
    let kept = remove_dirs(&prune);
    let mut all: Vec<Entry> = keep.into_iter().chain(kept).collect();
    all.sort();
    all.dedup();
    all.extend(new);
    write_manifest(manifest, &all)?;
    r.new_live.sort();
    r.new_live.dedup();
    Ok(r)
}

// ---------------------------------------------------------------------------------------
// systemctl

/// The user manager, when one is reachable and wanted.
pub struct Systemctl {
    pub enabled: bool,
}

impl Systemctl {
    /// Reachable: `$XDG_RUNTIME_DIR/systemd/private` exists (the manager's own socket).
    pub fn detect(wanted: bool) -> Systemctl {
        let reachable = UserEnv::from_process().user_manager_reachable();
        Systemctl {
            enabled: wanted && reachable,
        }
    }

    /// Run `systemctl --user ARGS`; when disabled or failing, say what to run by hand.
    /// Whether `unit` is active or activating (quietly).
    pub fn is_active(&self, unit: &str) -> bool {
        self.enabled
            && Command::new("systemctl")
                .args(["--user", "is-active", "--quiet", unit])
                .status()
                .is_ok_and(|s| s.success())
    }

    pub fn run(&self, args: &[&str]) -> bool {
        let shown = format!("systemctl --user {}", args.join(" "));
        if !self.enabled {
            eprintln!("rootlet: no user manager reachable: run `{shown}` in your session");
            return false;
        }
        match Command::new("systemctl").arg("--user").args(args).status() {
            Ok(s) if s.success() => true,
            Ok(s) => {
                eprintln!("rootlet: `{shown}` failed ({s})");
                false
            }
            Err(e) => {
                eprintln!("rootlet: cannot run `{shown}`: {e}");
                false
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Commands

/// Generate from the user's search path into `out` and prune; print what happened.
/// Calls no systemctl. Returns the exit status and what changed.
fn regenerate_now(layout: &Layout, out: &Path) -> (u8, Option<Regenerated>) {
    // A source edited while a run reads the sources would be missed: the path unit's
    // trigger merges into the start job of the service that is running. So run again
    // while the source directories changed during the run (a few times at most).
    // Changes of every round count (for the reload and the units to start).
    let mut tries = 0;
    let mut done = Regenerated::default();
    let (run, defaults_err, result) = loop {
        let (opts, defaults_err) = generator::Options::from_env();
        let before = fingerprint(&opts.roots);
        let run = generator::run(&opts);
        let result = regenerate(&run, out, &layout.generated_list()).map(|r| {
            done.written.extend(r.written);
            done.removed.extend(r.removed);
            done.new_live.extend(r.new_live);
            done.foreign = r.foreign;
            done.clone()
        });
        tries += 1;
        if result.is_err() || tries >= 5 || fingerprint(&opts.roots) == before {
            break (run, defaults_err, result);
        }
    };
    let mut status = 0;
    if let Some(e) = defaults_err {
        eprintln!("rootlet: {e} (using the built-in defaults)");
        status = 1;
    }
    for e in &run.errors {
        eprintln!("rootlet: {e}");
        status = 1;
    }
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rootlet: regenerating into {}: {e}", out.display());
            return (1, None);
        }
    };
    for f in &r.foreign {
        eprintln!(
            "rootlet: {}: exists and was not written by rootlet: left alone, not generated",
            out.join(f).display()
        );
        status = 1;
    }
    eprintln!(
        "rootlet: {} unit(s) generated into {}: {} written, {} removed",
        run.units.len().saturating_sub(r.foreign.len()),
        out.display(),
        r.written.len(),
        r.removed.len()
    );
    (status, Some(r))
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

/// Reload the manager and start units newly wanted by a live target (plus `extra`).
fn reload_and_start(sc: &Systemctl, new_live: &[String], extra: &[&str]) {
    if !sc.run(&["daemon-reload"]) {
        return;
    }
    let mut args = vec!["start", "--no-block"];
    args.extend(extra);
    args.extend(new_live.iter().map(String::as_str));
    if args.len() > 2 {
        sc.run(&args);
    }
}

/// `rootlet regenerate`: generate into the output dir, prune, reload, start new units.
/// Returns the exit status.
pub fn cmd_regenerate(output: Option<PathBuf>, systemctl: bool) -> u8 {
    let layout = match Layout::from_env(None) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rootlet: {e}");
            return 1;
        }
    };
    let out = output.unwrap_or_else(|| layout.output_dir.clone());
    // The path unit's trigger is lost while this service is still active (reloading,
    // starting units): look again at the end, after a moment for bursts of writes to
    // settle, and go round while something changed.
    let roots = || generator::Options::from_env().0.roots;
    let mut status = 0;
    for _ in 0..5 {
        let before = fingerprint(&roots());
        let (st, r) = regenerate_now(&layout, &out);
        status = st;
        if let Some(r) = r.filter(|r| r.changed()) {
            reload_and_start(&Systemctl::detect(systemctl), &r.new_live, &[]);
        }
        std::thread::sleep(std::time::Duration::from_millis(150));
        if fingerprint(&roots()) == before {
            break;
        }
    }
    status
}

/// What `install` wrote: the entries of `installed.list`.
pub fn install(layout: &Layout) -> Result<Vec<Entry>, String> {
    let manifest = layout.installed_list();
    let old = read_manifest(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let old_set: BTreeSet<&Entry> = old.iter().collect();
    let mut entries: Vec<Entry> = old.clone();
    let mut files: BTreeMap<PathBuf, String> = BTreeMap::new();
    files.insert(layout.unit_dir.join(PATH_UNIT), layout.path_unit());
    files.insert(layout.unit_dir.join(SERVICE_UNIT), layout.service_unit());
    let system_wait = SYSTEM_USER_UNIT_DIRS
        .iter()
        .any(|d| Path::new(d).join(WAIT_UNIT).exists());
    if !system_wait {
        files.insert(
            layout.unit_dir.join(WAIT_UNIT),
            fill(WAIT_FALLBACK, &layout.bindir),
        );
    }
    let link = layout.unit_dir.join("default.target.wants").join(PATH_UNIT);
    let link_target = format!("../{PATH_UNIT}");
    // Refuse before writing anything when a name is taken by the user's own file.
    for p in files.keys().chain(std::iter::once(&link)) {
        let ours =
            old_set.contains(&Entry::File(p.clone())) || old_set.contains(&Entry::Link(p.clone()));
        if !ours && fs::symlink_metadata(p).is_ok() {
            return Err(format!(
                "{} exists and was not installed by rootlet: remove it first",
                p.display()
            ));
        }
    }
    let err = |p: &Path, e: io::Error| format!("{}: {e}", p.display());
    let mut created = Vec::new();
    make_dirs(&layout.state_dir, &mut created).map_err(|e| err(&layout.state_dir, e))?;
    make_dirs(&layout.output_dir, &mut created).map_err(|e| err(&layout.output_dir, e))?;
    for (p, text) in &files {
        if let Some(parent) = p.parent() {
            make_dirs(parent, &mut created).map_err(|e| err(parent, e))?;
        }
        fs::write(p, text).map_err(|e| err(p, e))?;
        entries.push(Entry::File(p.clone()));
    }
    if let Some(parent) = link.parent() {
        make_dirs(parent, &mut created).map_err(|e| err(parent, e))?;
    }
    if fs::symlink_metadata(&link).is_ok() {
        fs::remove_file(&link).map_err(|e| err(&link, e))?;
    }
    std::os::unix::fs::symlink(&link_target, &link).map_err(|e| err(&link, e))?;
    entries.push(Entry::Link(link));
    entries.extend(created);
    entries.sort();
    entries.dedup();
    write_manifest(&manifest, &entries).map_err(|e| err(&manifest, e))?;
    Ok(entries)
}

/// Remove everything the two manifests list (and the manifests), nothing else. Returns the
/// paths removed.
pub fn uninstall(layout: &Layout) -> Result<Vec<PathBuf>, String> {
    let mut removed = Vec::new();
    let mut all_dirs = Vec::new();
    for manifest in [layout.generated_list(), layout.installed_list()] {
        let entries =
            read_manifest(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
        for e in &entries {
            if matches!(e, Entry::Dir(_)) {
                all_dirs.push(e.clone());
                continue;
            }
            match remove_entry(e) {
                Ok(true) => removed.push(e.path().to_owned()),
                Ok(false) => {}
                Err(err) => return Err(format!("{}: {err}", e.path().display())),
            }
        }
        match fs::remove_file(&manifest) {
            Ok(()) => removed.push(manifest),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", manifest.display())),
        }
    }
    let kept = remove_dirs(&all_dirs);
    removed.extend(
        all_dirs
            .iter()
            .filter(|d| !kept.contains(d) && !d.path().exists())
            .map(|d| d.path().to_owned()),
    );
    Ok(removed)
}

/// `rootlet install --user`.
pub fn cmd_install(systemctl: bool) -> u8 {
    let layout = match Layout::from_env(None) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rootlet: {e}");
            return 1;
        }
    };
    if !layout.bindir.join("rootlet").exists() {
        eprintln!(
            "rootlet: warning: {} has no `rootlet`: the installed service would fail",
            layout.bindir.display()
        );
    }
    for d in USER_GENERATOR_DIRS {
        let g = Path::new(d).join("rootlet-user-generator");
        if g.exists() {
            eprintln!(
                "rootlet: note: {} is installed: the user manager already generates these \
                 units at each daemon-reload; the no-root install is not needed",
                g.display()
            );
        }
    }
    let entries = match install(&layout) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("rootlet: install: {e}");
            return 1;
        }
    };
    for e in &entries {
        if !matches!(e, Entry::Dir(_)) {
            eprintln!("rootlet: installed {}", e.path().display());
        }
    }
    let (status, r) = regenerate_now(&layout, &layout.output_dir);
    let new_live = r.map(|r| r.new_live).unwrap_or_default();
    reload_and_start(&Systemctl::detect(systemctl), &new_live, &[PATH_UNIT]);
    status
}

/// `rootlet uninstall --user`.
pub fn cmd_uninstall(systemctl: bool) -> u8 {
    let layout = match Layout::from_env(None) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rootlet: {e}");
            return 1;
        }
    };
    if !layout.installed_list().exists() && !layout.generated_list().exists() {
        eprintln!(
            "rootlet: nothing to uninstall ({} not found)",
            layout.installed_list().display()
        );
        return 0;
    }
    let sc = Systemctl::detect(systemctl);
    if sc.enabled {
        // No new trigger, then let a regeneration under way finish: stopping it would kill
        // it between writing units and recording them.
        sc.run(&["stop", PATH_UNIT]);
        for _ in 0..300 {
            if !sc.is_active(SERVICE_UNIT) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        sc.run(&["stop", SERVICE_UNIT]);
    }
    // A manifest being rewritten when a regeneration was interrupted.
    for m in [layout.generated_list(), layout.installed_list()] {
        let _ = fs::remove_file(m.with_extension("list.tmp"));
    }
    match uninstall(&layout) {
        Ok(removed) => {
            for p in removed {
                eprintln!("rootlet: removed {}", p.display());
            }
        }
        Err(e) => {
            eprintln!("rootlet: uninstall: {e}");
            return 1;
        }
    }
    sc.run(&["daemon-reload"]);
    eprintln!(
        "rootlet: running containers keep running until stopped (`systemctl --user stop NAME`)"
    );
    0
}

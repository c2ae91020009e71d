//! Day-2 commands: `rootlet print`, `rm`, `add` and `list` (what podman 5.6+'s
//! `podman quadlet print/rm/install/list` do, for rootlet users).
//!
//! One file per command's logic; they return [`Result`]s with [`ManageError`] and print
//! nothing: the `rootlet` binary prints and picks exit codes. The user manager is reached
//! over D-Bus ([`crate::user_manager`]), every call with a deadline.
//!
//! Shared here: where the user's own sources are ([`Places`]), how a name given on the
//! command line finds its source ([`resolve`]), and the record of applications
//! ([`Apps`], `$XDG_DATA_HOME/rootlet/apps`).

pub mod add;
pub mod fetch;
pub mod list;
pub mod print;
pub mod rm;

use crate::env::UserEnv;
use crate::error::{show_path, SourceError};
use crate::install::manifest::Digest;
use crate::quadlet::{self, SourceKind};
use crate::search::{self, Discovery, Found, Root};
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Everything the day-2 commands can fail with.
#[derive(Debug, Error)]
pub enum ManageError {
    #[error("{0}: no such source on the search path")]
    NotFound(String),
    #[error("{name} is ambiguous: {}", .candidates.join(", "))]
    Ambiguous {
        name: String,
        candidates: Vec<String>,
    },
    #[error("{}: not on your own search path (only files under {own} are removed)", show_path(.path))]
    NotRemovable { path: PathBuf, own: String },
    /// Under one of the user's own roots, but reached through a symlinked directory below
    /// it: the file is somewhere else (`/etc`, a shared directory), not rootlet's to change.
    #[error("{}: reached through the symlinked directory {}: not yours to remove or write (only the link itself is)", show_path(.path), show_path(.link))]
    ThroughSymlink { path: PathBuf, link: PathBuf },
    /// Units that are up or on their way, each with its state (`web.service (active/running)`).
    #[error("{} {}: stop {} first or use --force", .units.join(", "), if .units.len() == 1 { "is running" } else { "are running" }, if .units.len() == 1 { "it" } else { "them" })]
    Running { units: Vec<String> },
    /// Sources that do not translate, each `file:line: message`.
    #[error("{} problem(s) found", .0.len())]
    Invalid(Vec<SourceError>),
    #[error("{}: already exists (use --replace)", show_path(.0))]
    Exists(PathBuf),
    /// Bad input that is not a source's translation error (a name, a bundle part).
    #[error("{0}")]
    BadInput(String),
    #[error("{}: {source}", show_path(.path))]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Install(#[from] crate::install::Error),
    /// The user manager could not be asked or did not do what was asked.
    #[error("user manager: {0}")]
    Manager(String),
    #[error(transparent)]
    UserManager(#[from] crate::user_manager::Error),
    #[error("neither HOME nor XDG_CONFIG_HOME is set to an absolute path")]
    NoConfigDir,
}

impl ManageError {
    pub fn io(path: &Path, source: io::Error) -> ManageError {
        ManageError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Largest file `rootlet add` takes (a file, a bundle, a download).
pub const MAX_INPUT: u64 = 1024 * 1024;

/// Where the user's sources are and where the day-2 commands write.
#[derive(Debug, Clone)]
pub struct Places {
    pub env: UserEnv,
    /// The whole search path, as the generator reads it.
    pub roots: Vec<Root>,
    /// Where `add` writes: `$XDG_CONFIG_HOME/containers/systemd` (the first root when the
    /// unit-dirs variable replaces the search path).
    pub install_dir: PathBuf,
    /// The record of applications.
    pub apps_file: Option<PathBuf>,
    /// Called with the lock file when [`Places::lock`] has to wait for another run: the
    /// binary says so (the library prints nothing). Does nothing by default.
    pub on_lock_wait: fn(&Path),
}

impl Places {
    pub fn new(env: UserEnv) -> Result<Places, ManageError> {
        let roots = env.search_roots();
        let install_dir = if env.unit_dirs.is_some() {
            roots.first().map(|r| r.path.clone())
        } else {
            env.config_dir().map(|c| c.join("containers/systemd"))
        }
        .ok_or(ManageError::NoConfigDir)?;
        let apps_file = env.data_dir().map(|d| d.join("rootlet/apps"));
        Ok(Places {
            env,
            roots,
            install_dir,
            apps_file,
            on_lock_wait: |_| {},
        })
    }

    pub fn from_process() -> Result<Places, ManageError> {
        Places::new(UserEnv::from_process())
    }

    /// The roots that are the user's own (not shared with other users, not under /etc or
    /// /usr): the only places `rm` removes from.
    pub fn own_roots(&self) -> Vec<&Path> {
        self.roots
            .iter()
            .filter(|r| r.trusted_uid.is_none())
            .map(|r| r.path.as_path())
            .filter(|p| {
                // A root that is itself a link into /etc or /usr is not the user's either.
                let real = std::fs::canonicalize(p);
                let real = real.as_deref().unwrap_or(p);
                [*p, real]
                    .iter()
                    .all(|p| !p.starts_with("/etc") && !p.starts_with("/usr"))
            })
            .collect()
    }

    /// Whether `path` (as found on the search path) is in one of the user's own roots.
    pub fn is_own(&self, path: &Path) -> bool {
        self.own_roots().iter().any(|r| path.starts_with(r))
    }

    /// The directory holding `path`, opened, and the file's name in it: the one way every
    /// delete, rename and write of the day-2 commands reaches a file in the user's
    /// directories. The own root `path` lies in is opened as it is (the user may have made
    /// it a link); every directory below it is opened with `O_NOFOLLOW`, so a symlinked
    /// subdirectory (`system -> /etc/containers/systemd`) is never gone through. The
    /// caller then acts relative to the directory (`unlinkat`, `renameat`), which never
    /// follows the last component either.
    pub fn open_own(&self, path: &Path) -> Result<(OwnedFd, String), ManageError> {
        use std::path::Component;
        let root = self
            .own_roots()
            .into_iter()
            .filter(|r| path.starts_with(r))
            .max_by_key(|r| r.as_os_str().len())
            .ok_or_else(|| ManageError::NotRemovable {
                path: path.to_owned(),
                own: self.own_text(),
            })?;
        let rel = path.strip_prefix(root).unwrap_or(path);
        let mut parts = Vec::new();
        for c in rel.components() {
            match c.as_os_str().to_str() {
                Some(n) if matches!(c, Component::Normal(_)) => parts.push(n),
                _ => {
                    return Err(ManageError::NotRemovable {
                        path: path.to_owned(),
                        own: self.own_text(),
                    })
                }
            }
        }
        let Some(name) = parts.pop() else {
            return Err(ManageError::BadInput(format!(
                "{}: a directory of the search path, not a file",
                path.display()
            )));
        };
        let mut dir = crate::fsutil::open_dir(root).map_err(|e| ManageError::io(root, e))?;
        let mut at = root.to_owned();
        for p in parts {
            at.push(p);
            dir = crate::fsutil::open_subdir_nofollow(dir.as_fd(), p).map_err(|e| {
                // ELOOP: a symlink; ENOTDIR: a symlink to something else, or a file.
                let link = std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink());
                if link {
                    ManageError::ThroughSymlink {
                        path: path.to_owned(),
                        link: at.clone(),
                    }
                } else {
                    ManageError::io(&at, e)
                }
            })?;
        }
        Ok((dir, name.to_owned()))
    }

    /// The own roots, for messages.
    pub fn own_text(&self) -> String {
        let own: Vec<String> = self
            .own_roots()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        own.join(" and ")
    }

    pub fn discover(&self) -> Discovery {
        search::discover(&self.roots)
    }

    pub fn apps(&self) -> Result<Apps, ManageError> {
        match &self.apps_file {
            Some(p) => Apps::load(p),
            None => Ok(Apps::default()),
        }
    }

    /// The lock of rootlet's state directory (the one `install --user` and `regenerate`
    /// take), held while the applications file is read, changed and written, so that two
    /// `add`/`rm` at once lose no update. Held briefly: never while units start or stop.
    pub fn lock(&self) -> Result<Option<crate::install::Lock>, ManageError> {
        let Some(dir) = self.apps_file.as_deref().and_then(Path::parent) else {
            return Ok(None);
        };
        crate::install::Lock::acquire(
            dir,
            true,
            crate::install::lock::DEFAULT_WAIT,
            self.on_lock_wait,
        )
        .map(Some)
        .map_err(ManageError::from)
    }
}

impl Places {
    /// Under the no-root install (`install --user`: its manifest is in the state
    /// directory), generate the units now, holding `lock`, instead of leaving it to the path
    /// unit's `rootlet regenerate`, which runs some time later: a reload and a start that
    /// follow `add` or `rm` then see the units as they are. `None` without that install;
    /// else a line saying what was done, or why it could not be (the files are in place
    /// then, and the path unit's run comes later as before).
    pub fn regenerate_user_install(&self, lock: &crate::install::Lock) -> Option<String> {
        let layout = crate::install::Layout::new(&self.env, None).ok()?;
        if std::fs::symlink_metadata(layout.installed_list()).is_err()
            || lock.path().parent() != Some(layout.state_dir.as_path())
        {
            return None;
        }
        let out = &layout.output_dir;
        Some(
            match crate::install::regenerate::from_sources(&layout, out, lock) {
                Ok(o) => format!(
                    "units generated into {} (the no-root install): {} written, {} removed",
                    out.display(),
                    o.regenerated.written.len(),
                    o.regenerated.removed.len()
                ),
                Err(e) => format!(
                    "generating the units into {} failed ({e}): the path unit's \
                     `rootlet regenerate` will try again",
                    out.display()
                ),
            },
        )
    }
}

/// The unit a source becomes.
pub fn unit_of(f: &Found) -> String {
    let stem = f.name.rsplit_once('.').map_or(f.name.as_str(), |(s, _)| s);
    quadlet::unit_name_for(f.kind, stem)
}

/// The units one source makes, as the generator names them: its own unit
/// (`ServiceName=` honoured), and from its own `[Socket]` (a kind that takes one) the
/// socket ([`quadlet::socket::own_name`]) and, in proxy mode (`ProxyTo=`), the proxy's
/// service ([`quadlet::proxy::proxy_name`]). The one answer `list`, `print`, `rm` and
/// `add` give to "what does this file become": a unit named from the file name alone
/// misses a `ServiceName=`, and the service alone misses the socket that starts it again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Made {
    pub unit: String,
    pub socket: Option<String>,
    pub proxy: Option<String>,
}

impl Made {
    pub fn of(src: &quadlet::Source) -> Made {
        let unit = src.unit_name();
        let own_socket = quadlet::socket::own_section(src).is_some();
        if !own_socket {
            return Made {
                unit,
                ..Made::default()
            };
        }
        // A proxy key that does not translate makes no proxy (the source's own error
        // says why; its units are then not made at all).
        let proxied = matches!(quadlet::proxy::of(src, &unit), Ok(Some(_)));
        Made {
            socket: Some(quadlet::socket::own_name(&unit)),
            proxy: proxied.then(|| quadlet::proxy::proxy_name(&unit)),
            unit,
        }
    }

    /// A source of the search path, read with its drop-ins (a `[Socket]` may come from
    /// one); one that cannot be read makes the unit named after its file.
    pub fn of_found(f: &Found, disc: &Discovery) -> Made {
        match crate::generator::load_found_source(f, disc) {
            Ok(src) => Made::of(&src),
            Err(_) => Made {
                unit: unit_of(f),
                ..Made::default()
            },
        }
    }

    /// Every unit: the service (or the source's own unit), the socket, the proxy.
    pub fn all(&self) -> Vec<String> {
        std::iter::once(&self.unit)
            .chain(&self.socket)
            .chain(&self.proxy)
            .cloned()
            .collect()
    }
}

/// The `.socket` files of the search path, each with the service it activates (by name
/// or by `Service=`); one that activates none (`Accept=yes`) or does not read is left out.
pub fn socket_files(disc: &Discovery) -> Vec<(&Found, String)> {
    (disc.sources.iter())
        .filter(|f| f.kind == SourceKind::Socket)
        .filter_map(|f| {
            let src = crate::generator::load_found_source(f, disc).ok()?;
            let service = quadlet::socket::activated_service(&src).ok().flatten()?;
            Some((f, service))
        })
        .collect()
}

/// Find the source a command-line name means: a file name (`web.container`), a unit name
/// (`web.service`, `db-network.service`), or a bare name (`web`: the unit `web.service`
/// first, then any source called `web.*`; several are ambiguous).
pub fn resolve<'a>(disc: &'a Discovery, name: &str) -> Result<&'a Found, ManageError> {
    if let Some(f) = disc.sources.iter().find(|f| f.name == name) {
        return Ok(f);
    }
    let unit = if name.contains('.') {
        name.to_owned()
    } else {
        format!("{name}.service")
    };
    // By the units it makes (`ServiceName=`, a container's own socket and proxy).
    let by_unit: Vec<&Found> = (disc.sources.iter())
        .filter(|f| Made::of_found(f, disc).all().contains(&unit))
        .collect();
    if let [one] = by_unit.as_slice() {
        return Ok(one);
    }
    if by_unit.len() > 1 {
        return Err(ManageError::Ambiguous {
            name: name.to_owned(),
            candidates: by_unit.iter().map(|f| f.name.clone()).collect(),
        });
    }
    let by_stem: Vec<&Found> = disc
        .sources
        .iter()
        .filter(|f| f.name.rsplit_once('.').is_some_and(|(s, _)| s == name))
        .collect();
    match by_stem.as_slice() {
        [one] => Ok(one),
        [] => Err(ManageError::NotFound(name.to_owned())),
        many => Err(ManageError::Ambiguous {
            name: name.to_owned(),
            candidates: many.iter().map(|f| f.name.clone()).collect(),
        }),
    }
}

/// A file name fit to be written into the source directory: one component, not hidden,
/// printable, no whitespace.
pub fn valid_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && c != '/' && c != '\\')
}

/// An application name: what [`valid_file_name`] allows.
pub fn valid_app_name(name: &str) -> bool {
    valid_file_name(name)
}

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

/// Kinds a file name is a source of, for messages.
pub fn kind_of(name: &str) -> Option<SourceKind> {
    SourceKind::from_file_name(name).map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disc(names: &[&str]) -> Discovery {
        Discovery {
            sources: names
                .iter()
                .map(|n| Found {
                    path: PathBuf::from("/s").join(n),
                    name: n.to_string(),
                    kind: kind_of(n).unwrap(),
                    trusted_uid: None,
                    listed_regular: false,
                })
                .collect(),
            ..Discovery::default()
        }
    }

    #[test]
    fn names_resolve() {
        let d = disc(&["web.container", "web.socket", "db.network", "x.volume"]);
        assert_eq!(resolve(&d, "web").unwrap().name, "web.container");
        assert_eq!(resolve(&d, "web.service").unwrap().name, "web.container");
        assert_eq!(resolve(&d, "web.socket").unwrap().name, "web.socket");
        assert_eq!(
            resolve(&d, "db-network.service").unwrap().name,
            "db.network"
        );
        assert_eq!(resolve(&d, "db").unwrap().name, "db.network");
        assert!(matches!(resolve(&d, "nope"), Err(ManageError::NotFound(_))));
        let d = disc(&["a.network", "a.volume"]);
        assert!(matches!(
            resolve(&d, "a"),
            Err(ManageError::Ambiguous { .. })
        ));
    }

    #[test]
    fn only_the_users_own_roots_are_removable() {
        let env = UserEnv {
            uid: 7,
            home: Some("/home/u".into()),
            runtime_dir: Some("/run/user/7".into()),
            ..UserEnv::default()
        };
        let p = Places::new(env.clone()).unwrap();
        assert_eq!(
            p.install_dir,
            PathBuf::from("/home/u/.config/containers/systemd")
        );
        assert!(p.is_own(Path::new(
            "/home/u/.config/containers/systemd/a/web.container"
        )));
        assert!(p.is_own(Path::new("/run/user/7/containers/systemd/web.container")));
        assert!(!p.is_own(Path::new("/etc/containers/systemd/users/7/web.container")));
        assert!(!p.is_own(Path::new(
            "/usr/share/containers/systemd/users/web.container"
        )));
        assert!(!p.is_own(Path::new(
            "/home/u/.config/containers/systemdx/web.container"
        )));
        let p = Places::new(UserEnv {
            unit_dirs: Some("/srv/q:/etc/q".into()),
            ..env
        })
        .unwrap();
        assert_eq!(p.install_dir, PathBuf::from("/srv/q"));
        assert!(p.is_own(Path::new("/srv/q/a.container")));
        assert!(!p.is_own(Path::new("/etc/q/a.container")));
        assert!(matches!(
            Places::new(UserEnv::default()),
            Err(ManageError::NoConfigDir)
        ));
        // A root that is a link to /etc is not the user's own.
        let d = std::env::temp_dir().join(format!("rootlet-own-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::os::unix::fs::symlink("/etc", d.join("q")).unwrap();
        let p = Places::new(UserEnv {
            unit_dirs: Some(format!("{}", d.join("q").display())),
            ..UserEnv::default()
        })
        .unwrap();
        assert!(!p.is_own(&d.join("q/a.container")));
        std::fs::remove_dir_all(&d).unwrap();
    }

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

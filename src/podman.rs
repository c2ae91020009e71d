//! The version of the podman that will run the generated units, for the few translations
//! that differ between podman releases (Debian 12 ships podman 4.3.1, which has no quadlet
//! of its own and lacks flags quadlet 5.8 uses).
//!
//! The version is found lazily: every kind of source but `.socket` has an oldest podman
//! ([`KIND_SINCE`]), so the first such source asks, and the answer is kept for the rest of
//! the run; a run with only `.socket` files never starts podman. `podman --version` is run
//! with a deadline ([`crate::proc`]: a process group of its own, killed as a whole): a
//! generator runs at every `daemon-reload` and must not hang on a hung podman. When the
//! version cannot be found, the newest behaviour (quadlet 5.8's) is assumed.
//!
//! The answer is kept in the user's runtime directory ([`Lazy::cached_in`]), keyed by the
//! identity of the podman program: starting podman costs about 20 ms, more than a whole
//! run of a thousand sources, and it is the same answer at every `daemon-reload` until
//! podman is upgraded (a new file: another inode, size or time).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

mod since;
pub use since::*;

/// Overrides the detected version (`4.3.1`, or `newest`): for tests and for generating
/// units for another machine.
pub const VERSION_VAR: &str = "ROOTLET_PODMAN_VERSION";

/// How long `podman --version` may take (measured: ~16 ms on Debian 12's podman 4.3.1).
pub const DEADLINE: Duration = Duration::from_secs(3);

/// A podman release, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// The first podman with `network create --ignore` and `volume create --ignore`
    /// (4.3.1 answers `unknown flag: --ignore`).
    pub const CREATE_IGNORE: Version = Version(4, 4, 0);
    /// The first podman with `--sdnotify=healthy` (4.3.1 answers `invalid sdnotify value
    /// "healthy": must be container, conmon or ignore`).
    pub const SDNOTIFY_HEALTHY: Version = Version(5, 0, 0);
    /// The first podman with the global `--module` flag (`ContainersConfModule=`): not in
    /// `cmd/podman/root.go` at v4.6.0, there at v4.7.0.
    pub const MODULE: Version = Version(4, 7, 0);
    /// The first podman with `podman kube play`/`kube down` (4.2 has only `play kube`);
    /// its hidden `--service-container` is there (podman's own `podman-kube@.service` of
    /// 4.3.1 uses it).
    pub const KUBE: Version = Version(4, 3, 0);
    /// The first podman with `kube play --publish` (4.3.1 answers `unknown flag: --publish`).
    pub const KUBE_PUBLISH: Version = Version(4, 4, 0);
    /// The first podman with `kube down --force` (4.3.1's `kube down` has no flags).
    pub const KUBE_DOWN_FORCE: Version = Version(4, 4, 0);
    /// The first podman with `kube play --service-exit-code-propagation`.
    pub const KUBE_EXIT_CODE: Version = Version(4, 6, 0);
    /// The first podman whose `kube play`/`kube down` take several files (before: exactly
    /// one argument).
    pub const KUBE_FILES: Version = Version(5, 7, 0);
    /// The first podman whose `podman build` has `--group-add` (4.3.1 answers `unknown
    /// flag: --group-add`; the option is documented from podman 4.4.0).
    pub const BUILD_GROUP_ADD: Version = Version(4, 4, 0);
    /// The first podman with `podman artifact` (`pull`, ...): podman's release notes,
    /// 5.4.0 ("A preview of Podman's support for OCI artifacts"); 4.3.1 answers
    /// `unrecognized command `podman artifact``.
    pub const ARTIFACT: Version = Version(5, 4, 0);
    /// The first podman with `--mount type=artifact` (release notes of 5.5.0; 4.3.1
    /// answers `invalid filesystem type "artifact"`).
    pub const MOUNT_ARTIFACT: Version = Version(5, 5, 0);
    /// The first podman with `volume create --uid`/`--gid` (podman commit 1f9893817b,
    /// "volumes: add new --uid and --gid option", first tagged v5.6.0-rc1).
    pub const VOLUME_UID_GID: Version = Version(5, 6, 0);

    /// The oldest podman that runs every container, image and build unit rootlet writes
    /// (read from podman's sources by tag: README, "Older than 4.3").
    pub const V2_2: Version = Version(2, 2, 0);
    /// The first podman with `network exists` and `volume exists`, which the `.network`
    /// and `.volume` units of podman < 4.4 run (no `create --ignore` there).
    pub const V3_1: Version = Version(3, 1, 0);
    /// The first podman with `--ip6` (`cmd/podman/common/netflags.go` at v4.0.0) and a
    /// container's `.State.Health` (3.4 names it `.State.Healthcheck`), which the wait of
    /// `Notify=healthy` on podman < 5 reads.
    pub const V4_0: Version = Version(4, 0, 0);
    /// The first podman with `pod create --exit-policy`, which every `.pod` unit has
    /// (quadlet's `--exit-policy stop`): v4.2.0's `cmd/podman/pods/create.go`.
    pub const POD_EXIT_POLICY: Version = Version(4, 2, 0);
    /// The first podman with `--dns-option` (before: `--dns-opt`) and
    /// `--health-on-failure` (v4.3.0).
    pub const V4_3: Version = Version(4, 3, 0);
    /// The first podman with `network create --dns`, `image pull --decryption-key`,
    /// `--health-startup-*` (each absent from v4.3.1's `cmd/podman`, there at v4.4.0).
    pub const V4_4: Version = Version(4, 4, 0);
    /// The first podman with `network create --interface-name` (v4.5.0).
    pub const NETWORK_INTERFACE_NAME: Version = Version(4, 5, 0);
    /// The first podman with `--retry`/`--retry-delay` on `pull`, `run` and `create`
    /// (v5.0.0's `cmd/podman/images/pull.go`, `common/create.go`).
    pub const RETRY: Version = Version(5, 0, 0);
    /// The first podman with `--health-log-destination`, `--health-max-log-count` and
    /// `--health-max-log-size` (v5.3.0).
    pub const HEALTH_LOG: Version = Version(5, 3, 0);
    /// The first podman with `network create --ip-range START-END` (before: a CIDR only)
    /// and the bridge option `no_default_route` (v4.6.0).
    pub const V4_6: Version = Version(4, 6, 0);
    /// The first podman that resolves `--add-host NAME:host-gateway` (4.3.1 answers
    /// `invalid IP address in add-host: "host-gateway"`), reads `+` and `@` in
    /// `--uidmap`/`--gidmap` (4.3.1: `UID setting is malformed`) and has `--mount
    /// type=glob` (4.3.1: `invalid filesystem type "glob"`): all there at v4.7.0.
    pub const HOST_GATEWAY: Version = Version(4, 7, 0);
    /// The first podman whose `--network NAME:OPTS` passes options other than `ip`, `ip6`,
    /// `mac`, `alias` and `interface_name` to the network (4.3.1 answers `unknown bridge
    /// network option`; v5.4.0).
    pub const NETWORK_OPTIONS: Version = Version(5, 4, 0);
    /// The first podman whose `volume create --label` is a string array (before: CSV, so
    /// a label with `,` or `"` is split or refused): v4.6.0.
    pub const VOLUME_LABEL_ARRAY: Version = Version(4, 6, 0);
    /// The first podman whose `kube play --configmap` is a string array (before: CSV).
    pub const CONFIGMAP_ARRAY: Version = Version(5, 0, 0);
    /// The first podman with the bridge option `mode=unmanaged` (v5.4.0).
    pub const BRIDGE_UNMANAGED: Version = Version(5, 4, 0);
    /// The first podman with `image pull --policy` (v5.6.0's `cmd/podman/images/pull.go`).
    pub const PULL_POLICY: Version = Version(5, 6, 0);

    /// `4.3.1`, `4.3`, `5.0.0-rc1`, `podman version 4.3.1`: the first dotted number.
    pub fn parse(s: &str) -> Option<Version> {
        let word = s
            .split_whitespace()
            .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
        let mut nums = word
            .split(|c: char| !c.is_ascii_digit() && c != '.')
            .next()?
            .split('.');
        let major = nums.next()?.parse().ok()?;
        let minor = nums.next().map_or(Some(0), |n| n.parse().ok())?;
        let patch = nums
            .next()
            .filter(|n| !n.is_empty())
            .map_or(Some(0), |n| n.parse().ok())?;
        Some(Version(major, minor, patch))
    }
}

/// `v` as one field of a CSV line, as pflag's string-slice flags of older podman read
/// their value: quoted when it holds a `,` or a `"`, each `"` doubled. A podman that reads
/// the flag as a string array is given the value as it is.
pub fn csv_field(v: &str) -> std::borrow::Cow<'_, str> {
    if v.contains([',', '"']) {
        format!("\"{}\"", v.replace('"', "\"\"")).into()
    } else {
        v.into()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// A run's podman, older than some of its sources need ([`KIND_SINCE`]): said once per
/// run, before the errors that name each source refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooOld {
    /// The podman of the generated command lines (`PODMAN`).
    pub podman: String,
    pub have: Version,
    /// Whether the version was given by [`VERSION_VAR`] rather than asked of podman.
    pub pinned: bool,
    /// The kinds of the run's sources (extensions) that need a newer podman.
    pub kinds: std::collections::BTreeSet<&'static str>,
}

impl TooOld {
    /// Which of `kinds` (extensions of a run's sources) need a newer podman than `target`'s
    /// version; `None` when none does, or when the version is not known (`version`: asked
    /// only when a kind present has a minimum).
    pub fn of<'a>(
        podman: &str,
        target: &Target,
        version: &Lazy,
        kinds: impl IntoIterator<Item = &'a str>,
    ) -> Option<TooOld> {
        let rows: Vec<_> = kinds.into_iter().filter_map(kind_since).collect();
        if rows.is_empty() {
            return None;
        }
        let have = version.get()?;
        let kinds: std::collections::BTreeSet<&'static str> = (rows.into_iter())
            .filter(|r| have < r.1)
            .map(|r| r.0)
            .collect();
        (!kinds.is_empty()).then(|| TooOld {
            podman: podman.to_owned(),
            have,
            pinned: matches!(target, Target::Known(_)),
            kinds,
        })
    }

    /// [`TooOld::message`] as the error of the run's podman (its path, no line).
    pub fn error(&self) -> crate::error::SourceError {
        crate::error::SourceError::new(std::path::Path::new(&self.podman), 0, self.message())
    }

    /// `podman 3.0.0 is older than rootlet needs for .network files (3.1.0 or newer): they
    /// get no unit (each named below), the others are written`, kinds in the order of
    /// their minimum.
    pub fn message(&self) -> String {
        let mut rows: Vec<_> = (self.kinds.iter()).filter_map(|k| kind_since(k)).collect();
        rows.sort_by_key(|r| (r.1, KIND_SINCE.iter().position(|k| k.0 == r.0)));
        let needs: Vec<String> = rows
            .iter()
            .map(|(k, v, _)| format!(".{k} files ({v} or newer)"))
            .collect();
        let pinned = if self.pinned {
            format!(" ({VERSION_VAR})")
        } else {
            String::new()
        };
        format!(
            "podman {}{pinned} is older than rootlet needs for {}: they get no unit (each \
             named below), the others are written",
            self.have,
            needs.join(", ")
        )
    }
}

/// Which podman a run generates for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The newest podman: quadlet 5.8's output.
    Newest,
    /// This version, whatever is installed.
    Known(Version),
    /// Ask the podman of the generated command lines, when a source needs to know.
    Detect,
}

impl Target {
    /// From `ROOTLET_PODMAN_VERSION`: unset or empty means [`Target::Detect`]; `newest` or an
    /// unreadable value means [`Target::Newest`].
    pub fn from_env() -> Target {
        match std::env::var(VERSION_VAR) {
            Err(_) => Target::Detect,
            Ok(v) if v.is_empty() => Target::Detect,
            Ok(v) => Version::parse(&v).map_or(Target::Newest, Target::Known),
        }
    }
}

/// The version of one run, found at most once, on first use.
#[derive(Debug)]
pub struct Lazy {
    podman: String,
    target: Target,
    cache: Option<PathBuf>,
    found: OnceLock<Option<Version>>,
}

impl Lazy {
    pub fn new(podman: &str, target: Target) -> Lazy {
        Lazy {
            podman: podman.to_owned(),
            target,
            cache: None,
            found: OnceLock::new(),
        }
    }

    /// Keep the detected version in the file `cache` (see the module's comment); `None`:
    /// ask podman every run.
    pub fn cached_in(mut self, cache: Option<PathBuf>) -> Lazy {
        self.cache = cache;
        self
    }

    /// The podman version, `None` for the newest (also when it cannot be found).
    pub fn get(&self) -> Option<Version> {
        match &self.target {
            Target::Newest => None,
            Target::Known(v) => Some(*v),
            Target::Detect => {
                *(self.found).get_or_init(|| detect_cached(&self.podman, self.cache.as_deref()))
            }
        }
    }

    /// Whether the podman of this run has `feature` (the newest has everything).
    pub fn has(&self, feature: Version) -> bool {
        !matches!(self.get(), Some(v) if v < feature)
    }
}

/// [`detect`] through the file `cache`, which holds the identity of the podman program
/// it was asked of (path, device, inode, size, modification and change times) and its
/// answer. A podman upgraded or replaced is a new file, so the key changes and podman is
/// asked again. (A wrapper script's target upgraded behind it is not seen: the script's
/// own file is the key.) The cache is rootlet's own file, read bounded and never through
/// a symlink, written atomically; any failure to read or write it only costs the question.
fn detect_cached(podman: &str, cache: Option<&Path>) -> Option<Version> {
    use std::os::unix::fs::MetadataExt;
    let Some(cache) = cache.filter(|_| podman.starts_with('/')) else {
        return detect(podman, DEADLINE);
    };
    // No podman there: nothing to ask (running it would fail the same way).
    let m = std::fs::metadata(podman).ok()?;
    let key = format!(
        "{podman}\t{}:{}:{}:{}.{}:{}.{}",
        m.dev(),
        m.ino(),
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec()
    );
    let mut buf = Vec::new();
    if crate::fsutil::read_regular(cache, 4096, &mut buf).is_ok() {
        let text = String::from_utf8_lossy(&buf);
        if let Some((k, v)) = text.split_once('\n') {
            if k == key {
                if let Some(v) = Version::parse(v) {
                    return Some(v);
                }
            }
        }
    }
    let found = detect(podman, DEADLINE)?;
    // Best effort. rootlet's directory is made in the runtime directory and opened without
    // following a link there, so the answer is written only into a directory of rootlet's
    // own, never through a planted `rootlet -> elsewhere`.
    let _ = keep(cache, format!("{key}\n{found}\n").as_bytes());
    Some(found)
}

/// Write `data` as the cache file `.../DIR/NAME`: DIR created (0700) in its parent and
/// opened with `O_NOFOLLOW`, the file written atomically (a link at NAME replaced).
fn keep(cache: &Path, data: &[u8]) -> std::io::Result<()> {
    use crate::fsutil::{mkdir_at, open_dir, open_subdir_nofollow, write_atomic_at};
    use std::os::fd::AsFd;
    let invalid = || std::io::Error::from(std::io::ErrorKind::InvalidInput);
    let name = cache
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(invalid)?;
    let dir = cache.parent().ok_or_else(invalid)?;
    let (top, sub) = (
        dir.parent().ok_or_else(invalid)?,
        dir.file_name().ok_or_else(invalid)?,
    );
    let top = open_dir(top)?;
    mkdir_at(top.as_fd(), sub, 0o700)?;
    let sub = open_subdir_nofollow(top.as_fd(), sub.to_str().ok_or_else(invalid)?)?;
    write_atomic_at(sub.as_fd(), name, data, 0o600, false)
}

/// `podman --version`, at most `limit` long; `None` if it fails, hangs or says nothing
/// readable.
pub fn detect(podman: &str, limit: Duration) -> Option<Version> {
    let out = crate::proc::run(
        Command::new(podman).arg("--version"),
        &crate::proc::Limits {
            deadline: limit,
            max_out: 4096,
            max_err: 0,
        },
    )
    .ok()?;
    if !out.status.success() {
        return None;
    }
    Version::parse(&String::from_utf8_lossy(&out.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn parses_versions() {
        assert_eq!(
            Version::parse("podman version 4.3.1\n"),
            Some(Version(4, 3, 1))
        );
        assert_eq!(Version::parse("4.3"), Some(Version(4, 3, 0)));
        assert_eq!(Version::parse("5.0.0-rc1"), Some(Version(5, 0, 0)));
        assert_eq!(Version::parse("newest"), None);
        assert!(Version(4, 3, 1) < Version::CREATE_IGNORE);
        assert!(Version(4, 4, 0) >= Version::CREATE_IGNORE);
    }

    /// The kinds of a run whose minimum is above the podman's, in one message; none when
    /// the version is unknown (the newest is assumed) or only `.socket` files are there
    /// (podman is then not asked).
    #[test]
    fn too_old_names_each_kind_present_once() {
        let pinned = Target::Known(Version(3, 0, 0));
        let lazy = Lazy::new("/nonexistent/podman", pinned.clone());
        let kinds = ["container", "pod", "network", "pod", "socket", "kube"];
        let t = TooOld::of("/usr/bin/podman", &pinned, &lazy, kinds).unwrap();
        assert_eq!(
            t.error().to_string(),
            "/usr/bin/podman: podman 3.0.0 (ROOTLET_PODMAN_VERSION) is older than rootlet \
             needs for .network files (3.1.0 or newer), .pod files (4.2.0 or newer), .kube \
             files (4.3.0 or newer): they get no unit (each named below), the others are written"
        );
        assert_eq!(
            TooOld::of("p", &pinned, &lazy, ["container", "socket"]),
            None
        );
        let newest = Lazy::new("/nonexistent/podman", Target::Newest);
        assert_eq!(TooOld::of("p", &Target::Newest, &newest, kinds), None);
        let absent = Lazy::new("/nonexistent/podman", Target::Detect);
        assert_eq!(TooOld::of("p", &Target::Detect, &absent, kinds), None);
        // Each row says what needs its podman; a .pod's is the one of its `--exit-policy`.
        for (k, v, how) in KIND_SINCE {
            assert!(!how.is_empty() && *v >= Version::V2_2, "{k}");
        }
        assert_eq!(
            kind_since("pod").map(|r| r.1),
            Some(Version::POD_EXIT_POLICY)
        );
        assert_eq!(kind_since("socket"), None);
    }

    /// The version is asked once per podman program, not once per run: kept in the cache
    /// file until podman changes; a broken or planted cache file costs only the question.
    #[test]
    fn the_version_is_asked_once_per_podman_program() {
        let dir = std::env::temp_dir().join(format!("rootlet-podman-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let podman = dir.join("podman");
        let asked = dir.join("asked");
        let script = |v: &str| {
            format!(
                "#!/bin/sh\necho x >> '{}'\necho 'podman version {v}'\n",
                asked.display()
            )
        };
        crate::proc::write_test_program(&podman, &script("4.3.1"));
        // The runtime directory exists (the user manager's); rootlet's own in it is made.
        std::fs::create_dir(dir.join("run")).unwrap();
        let cache = dir.join("run/rootlet/podman-version");
        let times = || std::fs::read_to_string(&asked).map_or(0, |s| s.lines().count());
        let p = podman.to_str().unwrap();
        let get = || {
            Lazy::new(p, Target::Detect)
                .cached_in(Some(cache.clone()))
                .get()
        };
        assert_eq!(get(), Some(Version(4, 3, 1)));
        assert_eq!(get(), Some(Version(4, 3, 1)));
        assert_eq!(times(), 1, "asked again with the answer kept");
        // podman upgraded: a new file.
        std::fs::remove_file(&podman).unwrap();
        crate::proc::write_test_program(&podman, &script("5.8.2"));
        assert_eq!(get(), Some(Version(5, 8, 2)));
        assert_eq!(get(), Some(Version(5, 8, 2)));
        assert_eq!(times(), 2);
        // A broken cache: asked again, and mended.
        std::fs::write(&cache, "garbage").unwrap();
        assert_eq!(get(), Some(Version(5, 8, 2)));
        assert_eq!(times(), 3);
        // A symlink planted there is neither followed to read nor written through.
        let target = dir.join("elsewhere");
        std::fs::write(&target, "keep").unwrap();
        std::fs::remove_file(&cache).unwrap();
        std::os::unix::fs::symlink(&target, &cache).unwrap();
        assert_eq!(get(), Some(Version(5, 8, 2)));
        assert_eq!(times(), 4);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert!(!std::fs::symlink_metadata(&cache).unwrap().is_symlink());
        assert_eq!(get(), Some(Version(5, 8, 2)));
        assert_eq!(times(), 4);
        // rootlet's directory a planted link: nothing is written through it.
        let away = dir.join("away");
        std::fs::create_dir(&away).unwrap();
        std::fs::remove_dir_all(dir.join("run/rootlet")).unwrap();
        std::os::unix::fs::symlink(&away, dir.join("run/rootlet")).unwrap();
        assert_eq!(get(), Some(Version(5, 8, 2)));
        assert_eq!(std::fs::read_dir(&away).unwrap().count(), 0);
        // No podman there: nothing run, nothing kept.
        let absent = dir.join("absent/podman");
        let lazy = Lazy::new(absent.to_str().unwrap(), Target::Detect);
        assert_eq!(lazy.cached_in(Some(dir.join("other"))).get(), None);
        assert!(!dir.join("other").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_or_hung_podman_means_newest() {
        assert_eq!(detect("/nonexistent/podman", DEADLINE), None);
        let t0 = Instant::now();
        // `sleep --version` prints no podman version; a script that hangs is killed.
        let dir = std::env::temp_dir().join(format!("rootlet-podman-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hang = dir.join("podman");
        crate::proc::write_test_program(&hang, "#!/bin/sh\nsleep 600\n");
        assert_eq!(
            detect(hang.to_str().unwrap(), Duration::from_millis(300)),
            None
        );
        assert!(t0.elapsed() < Duration::from_secs(60));
        let lazy = Lazy::new(hang.to_str().unwrap(), Target::Newest);
        assert!(lazy.has(Version::SDNOTIFY_HEALTHY));
        let lazy = Lazy::new("/nonexistent", Target::Known(Version(4, 3, 1)));
        assert!(!lazy.has(Version::CREATE_IGNORE));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

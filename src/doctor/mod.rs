//! `rootlet doctor`: find, in one run, every reason rootless containers fail to start as
//! systemd user services, each with the exact fix.
//!
//! Every check reads through a root prefix ([`Env::root`], `ROOTLET_DOCTOR_ROOT`, default
//! `/`) so that tests can feed fake `/proc/sys`, `/etc`, `/sys` and `/usr` trees. The user's
//! own directories (home, `XDG_RUNTIME_DIR`, ...) come from the environment unprefixed.
//! Checks never fail: whatever cannot be read becomes a finding.
//!
//! Finding ids, in the order the checks run:
//!
//! | id | what |
//! | --- | --- |
//! | `session.user` | who is checked (a warning for root) |
//! | `session.runtime-dir` | `XDG_RUNTIME_DIR` set, existing, ours |
//! | `session.bus` | `$XDG_RUNTIME_DIR/bus` accepts connections |
//! | `session.manager` | `$XDG_RUNTIME_DIR/systemd/private` accepts connections |
//! | `linger` | `/var/lib/systemd/linger/USER` |
//! | `subid.subuid`, `subid.subgid` | at least 65536 subordinate ids |
//! | `subid.newuidmap`, `subid.newgidmap` | present, setuid root or with file capabilities |
//! | `userns.clone`, `userns.max`, `userns.apparmor` | user namespaces allowed |
//! | `cgroup.v2`, `cgroup.delegation` | unified hierarchy, cpu/memory/pids/io delegated |
//! | `ports.privileged` | a PublishPort=/Listen*=/ProxyTo= below `ip_unprivileged_port_start` |
//! | `socket.proxyd` | `systemd-socket-proxyd` there (only when a source has `ProxyTo=`) |
//! | `runtime.podman`, `runtime.network`, `runtime.pasta-apparmor` | podman, pasta/slirp4netns |
//! | `runtime.storage`, `runtime.overlay` | storage not on NFS, overlay available |
//! | `runtime.pod-infra` | catatonit for the pods' infra image (only when sources use pods) |
//! | `network-online` | something pulls the system's `network-online.target` in |
//! | `docker.*` | rootless Docker (only with a `docker.service` user unit): its state (failed, restarting), waits for the network, its program, pasta and rootlesskit, `DOCKER_HOST`, data root, ping, iptables |
//! | `rootlet.generator`, `rootlet.wait-unit`, `rootlet.sources` | rootlet installed, sources valid |

mod docker;
mod install;
mod pods;
mod ports;
pub(crate) mod runtime;
mod system;

pub use ports::{listen_port, publish_host_ports};
pub use runtime::{is_network_fs, NFS_SUPER_MAGIC};

pub use crate::env::UserEnv;
use std::fmt::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warning,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One result of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable identifier of the check (`linger`, `subid.subuid`, ...).
    pub id: &'static str,
    pub level: Level,
    /// What was found, one line.
    pub summary: String,
    /// The exact command to run or file to change; may span lines.
    pub fix: Option<String>,
}

impl Finding {
    pub fn ok(id: &'static str, summary: impl Into<String>) -> Finding {
        Finding {
            id,
            level: Level::Ok,
            summary: summary.into(),
            fix: None,
        }
    }

    pub fn warning(id: &'static str, summary: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding {
            id,
            level: Level::Warning,
            summary: summary.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn error(id: &'static str, summary: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding {
            id,
            level: Level::Error,
            summary: summary.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The environment could not be read (a test override with a bad value).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DoctorError {
    #[error("ROOTLET_DOCTOR_ROOT must be an absolute path, not `{0}`")]
    RelativeRoot(String),
    #[error("ROOTLET_DOCTOR_UID must be a number, not `{0}`")]
    BadUid(String),
}

/// Who and where: the user being checked and the tree the system files are read from.
#[derive(Debug, Clone)]
pub struct Env {
    /// Prefix of every system path (`/proc/sys`, `/etc`, `/sys`, `/var`, `/usr`, `/run`).
    pub root: PathBuf,
    pub user: String,
    pub uid: u32,
    /// The user's environment, as the generator and `install --user` read it (`home`
    /// falls back to the passwd entry's; `uid` is the one checked).
    pub user_env: UserEnv,
}

impl Env {
    /// From the process environment. Overrides for tests: `ROOTLET_DOCTOR_ROOT`,
    /// `ROOTLET_DOCTOR_USER`, `ROOTLET_DOCTOR_UID`; plus the usual `HOME`,
    /// `XDG_RUNTIME_DIR`, `XDG_CONFIG_HOME`, `XDG_DATA_HOME`, `PATH`, `ROOTLET_UNIT_DIRS`.
    pub fn from_process() -> Result<Env, DoctorError> {
        let root = match std::env::var_os("ROOTLET_DOCTOR_ROOT").filter(|r| !r.is_empty()) {
            None => PathBuf::from("/"),
            Some(r) => {
                let p = PathBuf::from(&r);
                if !p.is_absolute() {
                    return Err(DoctorError::RelativeRoot(r.to_string_lossy().into_owned()));
                }
                p
            }
        };
        let mut user_env = UserEnv::from_process();
        let uid = match std::env::var("ROOTLET_DOCTOR_UID") {
            Ok(s) => s
                .trim()
                .parse()
                .map_err(|_| DoctorError::BadUid(s.clone()))?,
            Err(_) => user_env.uid,
        };
        user_env.uid = uid;
        let passwd = read_text(&root.join("etc/passwd")).unwrap_or_default();
        let entry = passwd_entry(&passwd, uid);
        let user = std::env::var("ROOTLET_DOCTOR_USER")
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(|| entry.as_ref().map(|(n, _)| n.clone()))
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .or_else(|| std::env::var("LOGNAME").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| uid.to_string());
        if user_env.home.is_none() {
            user_env.home = entry.map(|(_, h)| h);
        }
        Ok(Env {
            root,
            user,
            uid,
            user_env,
        })
    }

    /// A system path under the root prefix.
    pub fn sys(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    /// Read a system file (under the root prefix), `None` when it cannot be read. A file
    /// under `/proc` or `/sys` is a kernel pseudo-file ([`crate::fsutil::read_pseudo`]),
    /// any other one a regular file ([`crate::fsutil::read_regular`]).
    pub fn read(&self, p: &str) -> Option<String> {
        if p.starts_with("/proc/") || p.starts_with("/sys/") {
            read_pseudo(&self.sys(p))
        } else {
            read_text(&self.sys(p))
        }
    }

    /// `$XDG_CONFIG_HOME` or `~/.config`.
    pub fn config_dir(&self) -> Option<PathBuf> {
        self.user_env.config_dir()
    }

    /// `$XDG_DATA_HOME` or `~/.local/share`.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.user_env.data_dir()
    }

    /// The source search path, system directories under the root prefix.
    fn source_roots(&self) -> Vec<crate::search::Root> {
        let mut roots = self.user_env.search_roots();
        if self.user_env.unit_dirs.is_none() {
            for r in &mut roots {
                let s = r.path.to_string_lossy().into_owned();
                if s.starts_with("/etc/") || s.starts_with("/usr/") {
                    r.path = self.sys(&s);
                }
            }
        }
        roots
    }

    /// Find a program: in `PATH`, then the usual directories under the root prefix.
    pub fn find_program(&self, name: &str) -> Option<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .user_env
            .path
            .as_ref()
            .map(|p| {
                std::env::split_paths(p)
                    .filter(|d| d.is_absolute())
                    .collect()
            })
            .unwrap_or_default();
        for d in [
            "/usr/local/bin",
            "/usr/bin",
            "/bin",
            "/usr/local/sbin",
            "/usr/sbin",
            "/sbin",
        ] {
            dirs.push(self.sys(d));
        }
        dirs.into_iter()
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    }

    /// A path under the root prefix shown as the system path it stands for.
    pub fn logical(&self, p: &Path) -> String {
        if self.root != Path::new("/") {
            if let Ok(rest) = p.strip_prefix(&self.root) {
                return format!("/{}", rest.display());
            }
        }
        p.display().to_string()
    }
}

/// `(name, home)` of the `/etc/passwd` line of `uid`.
fn passwd_entry(passwd: &str, uid: u32) -> Option<(String, PathBuf)> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid) && !f[0].is_empty() {
            Some((f[0].to_owned(), PathBuf::from(f[5])))
        } else {
            None
        }
    })
}

/// A regular file (symlinks followed) with an execute bit.
pub(crate) fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The owner of a path, following symlinks.
pub(crate) fn owner(p: &Path) -> Option<u32> {
    std::fs::metadata(p).ok().map(|m| m.uid())
}

/// Run every check.
pub fn run(env: &Env) -> Vec<Finding> {
    let mut out = Vec::new();
    system::session(env, &mut out);
    system::linger(env, &mut out);
    system::subids(env, &mut out);
    system::userns(env, &mut out);
    system::cgroups(env, &mut out);
    ports::check(env, &mut out);
    ports::proxyd(env, &mut out);
    runtime::check(env, &mut out);
    pods::check(env, &mut out);
    system::network_online(env, &mut out);
    docker::check(env, &mut out);
    install::check(env, &mut out);
    out
}

/// True when any finding is an error (the command then exits non-zero).
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.level == Level::Error)
}

/// For people: `LEVEL: summary [id]`, the fix indented beneath, a count at the end.
pub fn render_text(findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        let _ = writeln!(s, "{}: {} [{}]", f.level.as_str(), f.summary, f.id);
        if let Some(fix) = &f.fix {
            for line in fix.lines() {
                if line.is_empty() {
                    s.push('\n');
                } else {
                    let _ = writeln!(s, "    {line}");
                }
            }
        }
    }
    let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
    let _ = writeln!(
        s,
        "\n{} ok, {} warning(s), {} error(s)",
        count(Level::Ok),
        count(Level::Warning),
        count(Level::Error)
    );
    s
}

/// For machines: a JSON array of `{"id", "level", "summary", "fix"}` objects.
pub fn render_json(findings: &[Finding]) -> String {
    let mut s = String::from("[");
    for (i, f) in findings.iter().enumerate() {
        s.push_str(if i == 0 { "\n  " } else { ",\n  " });
        let _ = write!(
            s,
            "{{\"id\": {}, \"level\": {}, \"summary\": {}, \"fix\": {}}}",
            json_string(f.id),
            json_string(f.level.as_str()),
            json_string(&f.summary),
            f.fix.as_deref().map_or_else(|| "null".into(), json_string)
        );
    }
    s.push_str(if findings.is_empty() { "]\n" } else { "\n]\n" });
    s
}

/// A JSON string literal (RFC 8259): quotes, backslashes and control characters escaped.
pub fn json_string(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '\u{8}' => s.push_str("\\b"),
            '\u{c}' => s.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// The text of a file doctor looks at: a regular file only (a FIFO cannot hang doctor),
/// at most 4 MiB, UTF-8. `None` otherwise.
pub(crate) fn read_text(p: &std::path::Path) -> Option<String> {
    let mut buf = Vec::new();
    crate::fsutil::read_regular(p, 4 << 20, &mut buf).ok()?;
    String::from_utf8(buf).ok()
}

/// The text of a kernel pseudo-file doctor looks at (`/proc`, `/sys`): read until its end
/// whatever its `st_size` says ([`crate::fsutil::read_pseudo`]), at most 4 MiB, UTF-8.
/// `None` otherwise.
pub(crate) fn read_pseudo(p: &std::path::Path) -> Option<String> {
    let mut buf = Vec::new();
    crate::fsutil::read_pseudo(p, 4 << 20, &mut buf).ok()?;
    String::from_utf8(buf).ok()
}

/// True for a masked unit or generator: a symlink to /dev/null or an empty file
/// (systemd.unit(5)).
pub(crate) fn masked(p: &std::path::Path) -> bool {
    std::fs::read_link(p).is_ok_and(|t| t == std::path::Path::new("/dev/null"))
        || std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escaping() {
        assert_eq!(
            json_string("a\"b\\c\nd\te\u{1}"),
            r#""a\"b\\c\nd\te\u0001""#
        );
        assert_eq!(json_string("ünï"), "\"ünï\"");
    }

    #[test]
    fn json_array() {
        assert_eq!(render_json(&[]), "[]\n");
        let f = vec![
            Finding::ok("a", "fine"),
            Finding::error("b", "bad \"x\"", "run\nthis"),
        ];
        assert_eq!(
            render_json(&f),
            "[\n  {\"id\": \"a\", \"level\": \"ok\", \"summary\": \"fine\", \"fix\": null},\n  \
             {\"id\": \"b\", \"level\": \"error\", \"summary\": \"bad \\\"x\\\"\", \"fix\": \"run\\nthis\"}\n]\n"
        );
    }

    #[test]
    fn text_rendering() {
        let f = vec![
            Finding::ok("a", "fine"),
            Finding::warning("b", "meh", "do this\nthen that"),
        ];
        let t = render_text(&f);
        assert!(t.starts_with("ok: fine [a]\nwarning: meh [b]\n    do this\n    then that\n"));
        assert!(t.ends_with("1 ok, 1 warning(s), 0 error(s)\n"));
    }

    #[test]
    fn passwd() {
        let p = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nbad\n";
        assert_eq!(
            passwd_entry(p, 1000),
            Some(("alice".into(), "/home/alice".into()))
        );
        assert_eq!(passwd_entry(p, 7), None);
    }
}

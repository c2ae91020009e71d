//! Checks of the session, the account and the kernel: user manager and bus, linger,
//! subordinate ids, user namespaces, cgroups, and whether `network-online.target` is ever
//! pulled in.

use super::{owner, Env, Finding};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

mod cgroups;
mod network;
pub use cgroups::cgroups;
pub use network::network_online;
pub(crate) use network::resolve_in_root;

/// How to get a real login session instead of `sudo su`.
fn real_login(env: &Env) -> String {
    format!(
        "log in as {u} for real, not with `sudo su {u}` or `sudo -iu {u}` (they start no user session):\n\
         machinectl shell {u}@\n\
         or: ssh {u}@localhost",
        u = env.user
    )
}

/// Why a socket cannot be reached: its text, and whether it is there but takes no
/// connection (a hung listener, whose fix is a restart, not an install).
struct Unreachable {
    why: String,
    hung: bool,
}

/// A socket file that accepts connections: `Ok(())`, else why not.
fn socket_reachable(p: &Path) -> Result<(), Unreachable> {
    let plain = |why: String| Unreachable { why, hung: false };
    let m = std::fs::symlink_metadata(p)
        .map_err(|_| plain(format!("{} does not exist", p.display())))?;
    if !m.file_type().is_socket() {
        return Err(plain(format!("{} is not a socket", p.display())));
    }
    // Bounded (audit N5): a listener that does not accept (a hung dbus-daemon or manager)
    // made a plain connect() wait forever.
    let addr =
        rustix::net::SocketAddrUnix::new(p).map_err(|e| plain(format!("{}: {e}", p.display())))?;
    crate::user_manager::connect_unix(&addr, crate::user_manager::CONNECT_TIMEOUT)
        .map(drop)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut => Unreachable {
                why: format!(
                    "{} does not answer: it takes no connection within {} s",
                    p.display(),
                    crate::user_manager::CONNECT_TIMEOUT.as_secs()
                ),
                hung: true,
            },
            _ => plain(format!("{} refuses connections ({e})", p.display())),
        })
}

pub fn session(env: &Env, out: &mut Vec<Finding>) {
    if env.uid == 0 {
        out.push(Finding::warning(
            "session.user",
            "running as root: these checks are about the account that runs rootless containers, and root's results mean little",
            "run it as that user: machinectl shell USER@ $(command -v rootlet) doctor",
        ));
    } else {
        out.push(Finding::ok(
            "session.user",
            format!("checking {} (uid {})", env.user, env.uid),
        ));
    }
    if let Some(rt) = runtime_dir(env, out) {
        manager_and_bus(env, rt, out);
    }
}

/// `XDG_RUNTIME_DIR`, when it is set to an absolute directory of the user's (a finding
/// says so either way).
fn runtime_dir<'e>(env: &'e Env, out: &mut Vec<Finding>) -> Option<&'e Path> {
    let run_user = format!("/run/user/{}", env.uid);
    let Some(rt) = env.user_env.runtime_dir.as_deref() else {
        let hint = if env.sys(&run_user).is_dir() {
            format!("; {run_user} exists, so this shell was probably entered with `sudo su` or `sudo -iu`")
        } else {
            String::new()
        };
        out.push(Finding::error(
            "session.runtime-dir",
            format!("XDG_RUNTIME_DIR is not set: no user session, systemctl --user and podman cannot reach the user manager{hint}"),
            real_login(env),
        ));
        return None;
    };
    if !rt.is_absolute() || !rt.is_dir() {
        out.push(Finding::error(
            "session.runtime-dir",
            format!(
                "XDG_RUNTIME_DIR={} is not an existing absolute directory",
                rt.display()
            ),
            real_login(env),
        ));
        return None;
    }
    match owner(rt) {
        Some(o) if o != env.uid => {
            out.push(Finding::error(
                "session.runtime-dir",
                format!(
                    "XDG_RUNTIME_DIR={} belongs to uid {o}, not to {} (uid {}): left over from another user's session",
                    rt.display(),
                    env.user,
                    env.uid
                ),
                real_login(env),
            ));
            None
        }
        _ => {
            out.push(Finding::ok(
                "session.runtime-dir",
                format!("XDG_RUNTIME_DIR={}", rt.display()),
            ));
            Some(rt)
        }
    }
}

/// Whether the user manager's and the user bus's sockets in `rt` take connections, and
/// what to do when one does not.
fn manager_and_bus(env: &Env, rt: &Path, out: &mut Vec<Finding>) {
    let manager = socket_reachable(&rt.join("systemd/private"));
    match &manager {
        Ok(()) => out.push(Finding::ok(
            "session.manager",
            format!("user manager reachable at {}/systemd/private", rt.display()),
        )),
        Err(Unreachable { why, hung: true }) => out.push(Finding::error(
            "session.manager",
            format!("the user manager (user@{}.service) is hung: {why}", env.uid),
            format!("sudo systemctl restart user@{}.service", env.uid),
        )),
        Err(Unreachable { why, .. }) => out.push(Finding::error(
            "session.manager",
            format!(
                "the user manager (user@{}.service) is not reachable: {why}",
                env.uid
            ),
            format!(
                "{}\n\
                 or start it at boot: sudo loginctl enable-linger {}",
                real_login(env),
                env.user
            ),
        )),
    }
    match socket_reachable(&rt.join("bus")) {
        Ok(()) => out.push(Finding::ok(
            "session.bus",
            format!("user bus reachable at {}/bus", rt.display()),
        )),
        Err(Unreachable { why, hung }) => {
            let fix = if hung {
                "the bus daemon is hung: restart it (it starts again on demand):\n\
                 systemctl --user restart dbus.service   (dbus-broker.service where that runs)"
                    .to_owned()
            } else if manager.is_ok() {
                // The manager runs but no bus: the per-user bus is not installed.
                "install the per-user D-Bus and log in again:\n\
                 sudo apt install dbus-user-session   (Fedora: dbus-broker, present by default)"
                    .to_owned()
            } else {
                format!(
                    "{}\n\
                     if it persists in a real login: sudo apt install dbus-user-session",
                    real_login(env)
                )
            };
            out.push(Finding::error(
                "session.bus",
                format!("the user bus is not reachable: {why}"),
                fix,
            ));
        }
    }
}

pub fn linger(env: &Env, out: &mut Vec<Finding>) {
    let p = format!("/var/lib/systemd/linger/{}", env.user);
    if env.sys(&p).exists() {
        out.push(Finding::ok(
            "linger",
            format!("linger enabled for {} ({p}): units start at boot", env.user),
        ));
    } else {
        out.push(Finding::warning(
            "linger",
            format!(
                "linger is not enabled for {}: the user manager, and with it every container, starts only at login and stops at logout",
                env.user
            ),
            format!("sudo loginctl enable-linger {}", env.user),
        ));
    }
}

/// One line of `/etc/subuid`: `(owner, start, count)`.
fn subid_ranges(text: &str) -> Vec<(&str, u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                return None;
            }
            let mut f = l.split(':');
            let who = f.next()?;
            let start = f.next()?.trim().parse().ok()?;
            let count = f.next()?.trim().parse().ok()?;
            Some((who, start, count))
        })
        .collect()
}

/// Subordinate ids of the user (by name or uid), and a free start for a new range.
pub(crate) fn subids_of(text: &str, user: &str, uid: u32) -> (u64, u64) {
    let ranges = subid_ranges(text);
    let uid = uid.to_string();
    let total = ranges
        .iter()
        .filter(|(w, _, _)| *w == user || *w == uid)
        .fold(0u64, |t, (_, _, c)| t.saturating_add(*c));
    let end = ranges
        .iter()
        .map(|(_, s, c)| s.saturating_add(*c))
        .max()
        .unwrap_or(0);
    // The first id after every range (and after the conventional start, 100000).
    (total, end.max(100_000))
}

pub fn subids(env: &Env, out: &mut Vec<Finding>) {
    const NEEDED: u64 = 65_536;
    for (id, file, opt) in [
        ("subid.subuid", "/etc/subuid", "--add-subuids"),
        ("subid.subgid", "/etc/subgid", "--add-subgids"),
    ] {
        let text = env.read(file);
        let (total, free) = subids_of(text.as_deref().unwrap_or(""), &env.user, env.uid);
        let fix = format!(
            "sudo usermod {opt} {free}-{} {}",
            free.saturating_add(NEEDED - 1),
            env.user
        );
        if total >= NEEDED {
            out.push(Finding::ok(
                id,
                format!("{total} subordinate ids for {} in {file}", env.user),
            ));
        } else if total > 0 {
            out.push(Finding::warning(
                id,
                format!(
                    "only {total} subordinate ids for {} in {file}: images using ids up to 65535 (nobody) fail to pull",
                    env.user
                ),
                format!("{fix}\nthen: podman system migrate"),
            ));
        } else {
            let what = if text.is_none() {
                format!("{file} is missing or unreadable")
            } else {
                format!("no range for {} (or uid {}) in {file}", env.user, env.uid)
            };
            out.push(Finding::error(
                id,
                format!("{what}: rootless podman needs at least {NEEDED} subordinate ids"),
                format!("{fix}\nthen: podman system migrate"),
            ));
        }
    }
    id_mappers(env, out);
}

/// `newuidmap` and `newgidmap`: there, and able to map ids (setuid root, or file
/// capabilities).
fn id_mappers(env: &Env, out: &mut Vec<Finding>) {
    for (id, name) in [
        ("subid.newuidmap", "newuidmap"),
        ("subid.newgidmap", "newgidmap"),
    ] {
        match env.find_program(name) {
            None => out.push(Finding::error(
                id,
                format!("{name} not found: podman cannot map the subordinate ids"),
                "sudo apt install uidmap   (Fedora: sudo dnf install shadow-utils)",
            )),
            Some(p) => {
                let shown = env.logical(&p);
                let m = std::fs::metadata(&p).ok();
                let setuid_root = m.as_ref().is_some_and(|m| {
                    m.mode() & 0o4000 != 0 && (m.uid() == 0 || !is_real_root(env))
                });
                let caps =
                    rustix::fs::getxattr_query(&p, "security.capability").is_ok_and(|n| n > 0);
                if setuid_root {
                    out.push(Finding::ok(id, format!("{shown} is setuid root")));
                } else if caps {
                    out.push(Finding::ok(id, format!("{shown} has file capabilities")));
                } else {
                    let cap = if name == "newuidmap" {
                        "cap_setuid"
                    } else {
                        "cap_setgid"
                    };
                    out.push(Finding::error(
                        id,
                        format!("{shown} is neither setuid root nor has file capabilities: it cannot map ids"),
                        format!(
                            "sudo setcap {cap}=ep {shown}\n\
                             or: sudo chmod u+s {shown}"
                        ),
                    ));
                }
            }
        }
    }
}

/// True when checking the machine itself (not a fake tree): file owners are meaningful.
fn is_real_root(env: &Env) -> bool {
    env.root == Path::new("/")
}

fn sysctl(env: &Env, name: &str) -> Option<String> {
    env.read(&format!("/proc/sys/{}", name.replace('.', "/")))
        .map(|s| s.trim().to_owned())
}

fn sysctl_fix(file: &str, setting: &str) -> String {
    format!(
        "echo '{setting}' | sudo tee /etc/sysctl.d/{file}\n\
         sudo sysctl --system"
    )
}

pub fn userns(env: &Env, out: &mut Vec<Finding>) {
    match sysctl(env, "kernel.unprivileged_userns_clone").as_deref() {
        Some("0") => out.push(Finding::error(
            "userns.clone",
            "kernel.unprivileged_userns_clone=0: unprivileged user namespaces are switched off",
            sysctl_fix("90-rootlet-userns.conf", "kernel.unprivileged_userns_clone=1"),
        )),
        Some(v) => out.push(Finding::ok(
            "userns.clone",
            format!("kernel.unprivileged_userns_clone={v}"),
        )),
        None => out.push(Finding::ok(
            "userns.clone",
            "kernel.unprivileged_userns_clone does not exist (not a Debian kernel knob here): no restriction",
        )),
    }
    match sysctl(env, "user.max_user_namespaces").as_deref() {
        Some("0") => out.push(Finding::error(
            "userns.max",
            "user.max_user_namespaces=0: no user namespace can be created",
            sysctl_fix("90-rootlet-userns.conf", "user.max_user_namespaces=28633"),
        )),
        Some(v) => out.push(Finding::ok("userns.max", format!("user.max_user_namespaces={v}"))),
        None => out.push(Finding::error(
            "userns.max",
            "/proc/sys/user/max_user_namespaces does not exist: the kernel has no user namespaces (CONFIG_USER_NS)",
            "boot a kernel built with CONFIG_USER_NS=y (every distribution kernel is)",
        )),
    }
    match sysctl(env, "kernel.apparmor_restrict_unprivileged_userns").as_deref() {
        Some("1") => {
            let podman = env
                .find_program("podman")
                .map(|p| env.logical(&p))
                .unwrap_or_else(|| "/usr/bin/podman".into());
            match apparmor_userns_profile(env) {
                Some(p) => out.push(Finding::ok(
                    "userns.apparmor",
                    format!("kernel.apparmor_restrict_unprivileged_userns=1, and {p} allows podman user namespaces"),
                )),
                None => out.push(Finding::error(
                    "userns.apparmor",
                    "kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 24.04) and no AppArmor profile in /etc/apparmor.d/ gives podman the userns permission: podman fails with `cannot clone: Permission denied`",
                    format!(
                        "create /etc/apparmor.d/podman containing:\n\
                         abi <abi/4.0>,\n\
                         include <tunables/global>\n\
                         profile podman {podman} flags=(unconfined) {{\n\
                         \x20 userns,\n\
                         \x20 include if exists <local/podman>\n\
                         }}\n\
                         then: sudo apparmor_parser -r /etc/apparmor.d/podman\n\
                         (or lift the restriction for everyone: {})",
                        "echo 'kernel.apparmor_restrict_unprivileged_userns=0' | sudo tee /etc/sysctl.d/90-rootlet-userns.conf && sudo sysctl --system"
                    ),
                )),
            }
        }
        Some(v) => out.push(Finding::ok(
            "userns.apparmor",
            format!("kernel.apparmor_restrict_unprivileged_userns={v}"),
        )),
        None => out.push(Finding::ok(
            "userns.apparmor",
            "no AppArmor user-namespace restriction",
        )),
    }
}

/// A profile in `/etc/apparmor.d/` that grants `userns` to podman or its OCI runtime.
fn apparmor_userns_profile(env: &Env) -> Option<String> {
    let dir = env.sys("/etc/apparmor.d");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    names.into_iter().find_map(|p| {
        let text = super::read_text(&p)?;
        let grants = text
            .lines()
            .map(|l| l.trim())
            .any(|l| l.starts_with("userns") && !l.starts_with('#'));
        let for_podman = text.lines().any(|l| {
            let l = l.trim();
            (l.starts_with("profile") && l.contains("podman"))
                || l.starts_with("/usr/bin/podman")
                || l.starts_with("/usr/local/bin/podman")
        });
        (grants && for_podman).then(|| env.logical(&p))
    })
}

/// The entries of `dir` (those with UTF-8 names), sorted by name; none when unreadable.
fn sorted_entries(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subid_counting() {
        let t = "# comment\nalice:100000:65536\n1001:165536:1000\nbob:165536:65536\nbroken\n";
        assert_eq!(subids_of(t, "alice", 1000), (65_536, 231_072));
        assert_eq!(subids_of(t, "carol", 1001), (1000, 231_072));
        assert_eq!(subids_of(t, "dave", 5), (0, 231_072));
        assert_eq!(subids_of("", "dave", 5), (0, 100_000));
    }
}

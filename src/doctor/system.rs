//! Checks of the session, the account and the kernel: user manager and bus, linger,
//! subordinate ids, user namespaces, cgroups, and whether `network-online.target` is ever
//! pulled in.

use super::{owner, Env, Finding};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

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
        return;
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
        return;
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
            return;
        }
        _ => out.push(Finding::ok(
            "session.runtime-dir",
            format!("XDG_RUNTIME_DIR={}", rt.display()),
        )),
    }
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

/// The controllers a `Delegate=` drop-in of `user@.service` (or `user@UID.service`)
/// already asks for, with the drop-in's path: `None` when there is no such drop-in.
/// `Delegate=yes` asks for every controller.
fn delegate_drop_in(env: &Env) -> Option<(String, Vec<String>)> {
    let mut found = None;
    for dir in ["/etc/systemd/system", "/run/systemd/system"] {
        for unit in [
            "user@.service.d".to_owned(),
            format!("user@{}.service.d", env.uid),
        ] {
            for (name, path) in sorted_entries(&env.sys(&format!("{dir}/{unit}"))) {
                if !name.ends_with(".conf") {
                    continue;
                }
                let Some(text) = super::read_text(&path) else {
                    continue;
                };
                for v in text
                    .lines()
                    .filter_map(|l| l.trim().strip_prefix("Delegate="))
                {
                    let words: Vec<String> = match v.trim() {
                        "yes" | "true" | "1" | "on" => ["cpu", "cpuset", "io", "memory", "pids"]
                            .map(String::from)
                            .to_vec(),
                        v => v.split_whitespace().map(String::from).collect(),
                    };
                    found = Some((format!("{dir}/{unit}/{name}"), words));
                }
            }
        }
    }
    found
}

pub fn cgroups(env: &Env, out: &mut Vec<Finding>) {
    let Some(root) = env.read("/sys/fs/cgroup/cgroup.controllers") else {
        out.push(Finding::warning(
            "cgroup.v2",
            "cgroup v2 is not mounted at /sys/fs/cgroup (cgroup v1 or hybrid): rootless containers get no resource limits and podman 5 warns on every run",
            "add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub\n\
             sudo update-grub && sudo reboot",
        ));
        return;
    };
    out.push(Finding::ok("cgroup.v2", "cgroup v2 (unified hierarchy)"));
    let root: Vec<&str> = root.split_whitespace().collect();
    let p = format!(
        "/sys/fs/cgroup/user.slice/user-{u}.slice/user@{u}.service/cgroup.controllers",
        u = env.uid
    );
    // A lingering user manager outlives a logout: only its restart (or a reboot) applies
    // a new Delegate=.
    let restart = format!(
        "sudo systemctl daemon-reload && sudo systemctl restart user@{u}.service\n\
         (this ends the user's running services and containers; or reboot)",
        u = env.uid
    );
    let fix = format!(
        "sudo mkdir -p /etc/systemd/system/user@.service.d\n\
         printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf\n\
         {restart}"
    );
    let Some(have) = env.read(&p) else {
        out.push(Finding::warning(
            "cgroup.delegation",
            format!("{p} does not exist: user@{}.service is not running, so the delegated controllers cannot be checked", env.uid),
            format!("start the user manager (log in, or sudo loginctl enable-linger {}) and run rootlet doctor again;\nto delegate all controllers in advance:\n{fix}", env.user),
        ));
        return;
    };
    let have: Vec<&str> = have.split_whitespace().collect();
    let missing: Vec<&str> = ["cpu", "memory", "pids", "io"]
        .into_iter()
        .filter(|c| !have.contains(c))
        .collect();
    if missing.is_empty() {
        out.push(Finding::ok(
            "cgroup.delegation",
            format!(
                "controllers delegated to user@{}.service: {}",
                env.uid,
                have.join(" ")
            ),
        ));
    } else {
        let flags = |cs: &[&str]| -> String {
            cs.iter()
                .map(|c| match *c {
                    "cpu" => "--cpus",
                    "memory" => "--memory",
                    "pids" => "--pids-limit",
                    _ => "--blkio-weight",
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let summary = format!(
            "controllers not delegated to user@{}.service: {} (containers using {} fail to start)",
            env.uid,
            missing.join(" "),
            flags(&missing)
        );
        // The advice must fit the machine: a controller the root cgroup does not offer
        // (bound to a cgroup v1 hierarchy on a hybrid host, or not given to the container
        // this runs in) cannot be delegated by any drop-in, and a drop-in that is already
        // there needs a restart of the user manager, not a second copy.
        let (absent, offered): (Vec<&str>, Vec<&str>) =
            missing.iter().partition(|c| !root.contains(c));
        let mut advice = Vec::new();
        if !absent.is_empty() {
            advice.push(format!(
                "the root cgroup offers no {} controller (/sys/fs/cgroup/cgroup.controllers: {}): \
                 there is nothing to delegate, and a Delegate= drop-in does not help.\n\
                 On a hybrid host (cgroup v1 controllers beside cgroup v2) they are bound to cgroup v1: \
                 add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub, \
                 then sudo update-grub && sudo reboot.\n\
                 In a container, whatever runs the container must delegate them to it.\n\
                 Until then, leave {} out of your containers.",
                absent.join(" "),
                if root.is_empty() { "empty".to_owned() } else { root.join(" ") },
                flags(&absent)
            ));
        }
        if !offered.is_empty() {
            advice.push(match delegate_drop_in(env) {
                Some((conf, asked)) if offered.iter().all(|c| asked.iter().any(|a| a == c)) => {
                    format!(
                        "{conf} already delegates {}: it takes effect when user@{}.service starts again:\n{restart}",
                        offered.join(" "),
                        env.uid
                    )
                }
                Some((conf, asked)) => format!(
                    "{conf} delegates only {}: add the missing ones to its Delegate= line:\n\
                     Delegate=cpu cpuset io memory pids\n\
                     then: {restart}",
                    asked.join(" ")
                ),
                None => fix.clone(),
            });
        }
        let fix = advice.join("\n");
        out.push(Finding::warning("cgroup.delegation", summary, fix));
    }
}

const SYSTEM_UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// Follow symlinks inside the root prefix (absolute targets are re-rooted).
pub(crate) fn resolve_in_root(env: &Env, p: &Path) -> PathBuf {
    let mut p = p.to_owned();
    for _ in 0..16 {
        let Ok(target) = std::fs::read_link(&p) else {
            break;
        };
        p = if target.is_absolute() {
            env.sys(&target.to_string_lossy())
        } else {
            p.parent().map(|d| d.join(&target)).unwrap_or(target)
        };
    }
    p
}

/// Whether the system unit `name` is masked (a link to /dev/null or an empty file in
/// /etc/systemd/system or /run/systemd/system): it is never loaded, so it pulls nothing in.
fn unit_masked(env: &Env, name: &str) -> bool {
    ["/etc/systemd/system", "/run/systemd/system"]
        .iter()
        .any(|d| super::masked(&env.sys(d).join(name)))
}

/// Whether a unit file's text has `Wants=`/`Requires=` naming network-online.target.
fn wants_network_online(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        ["Wants=", "Requires=", "Requisite=", "BindsTo="]
            .iter()
            .any(|k| l.starts_with(k))
            && l.split(|c: char| c == '=' || c.is_whitespace())
                .any(|w| w == "network-online.target")
    })
}

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

pub fn network_online(env: &Env, out: &mut Vec<Finding>) {
    let mut pullers: Vec<String> = Vec::new();
    let mut add = |s: String| {
        if !pullers.contains(&s) {
            pullers.push(s);
        }
    };
    for dir in SYSTEM_UNIT_DIRS {
        for (name, path) in sorted_entries(&env.sys(dir)) {
            let Some(unit) = name
                .strip_suffix(".wants")
                .or_else(|| name.strip_suffix(".requires"))
            else {
                continue;
            };
            let link = path.join("network-online.target");
            if unit != "network-online.target"
                && std::fs::symlink_metadata(&link).is_ok()
                && !super::masked(&link)
                && !unit_masked(env, unit)
            {
                add(unit.to_owned());
            }
        }
    }
    // Units enabled (or written) in /etc/systemd/system that want the target themselves.
    let etc = env.sys("/etc/systemd/system");
    let mut candidates: Vec<(String, PathBuf)> = Vec::new();
    for (name, path) in sorted_entries(&etc) {
        if name.ends_with(".wants") || name.ends_with(".requires") {
            candidates.extend(sorted_entries(&path));
        } else if name.ends_with(".d") {
            let unit = name.trim_end_matches(".d").to_owned();
            for (conf, p) in sorted_entries(&path) {
                if conf.ends_with(".conf") {
                    candidates.push((unit.clone(), p));
                }
            }
        } else {
            candidates.push((name, path));
        }
    }
    for (name, path) in candidates {
        if name == "network-online.target" || super::masked(&path) || unit_masked(env, &name) {
            continue;
        }
        let real = resolve_in_root(env, &path);
        if super::read_text(&real).is_some_and(|t| wants_network_online(&t)) {
            add(name);
        }
    }
    // The only harm of a target nobody pulls in is quadlet's wait unit, which hangs 90 s:
    // where quadlet does not run (podman < 4.4 has none, or it is masked), say how
    // rootlet waits instead and warn about nothing.
    let quadlet = super::install::quadlet_in_use(env);
    if unit_masked(env, "network-online.target") {
        if !quadlet {
            out.push(Finding::ok(
                "network-online",
                "network-online.target is masked: rootlet-wait-online falls back to a default-route check",
            ));
            return;
        }
        out.push(Finding::warning(
            "network-online",
            "network-online.target is masked: nothing can pull it in; rootlet-wait-online falls back to a default-route check (fine for rootlet units), but quadlet's own podman-user-wait-network-online.service would hang 90 s at every boot",
            "sudo systemctl unmask network-online.target",
        ));
        return;
    }
    if pullers.is_empty() && !quadlet {
        out.push(Finding::ok(
            "network-online",
            "nothing pulls the system's network-online.target in: rootlet-wait-online falls back to a default-route check",
        ));
    } else if pullers.is_empty() {
        out.push(Finding::warning(
            "network-online",
            "nothing pulls the system's network-online.target in: rootlet-wait-online falls back to a default-route check (fine for rootlet units), but quadlet's own podman-user-wait-network-online.service would hang 90 s at every boot",
            "to make network-online.target meaningful (it waits for your network manager's wait-online service):\n\
             sudo systemctl add-wants multi-user.target network-online.target",
        ));
    } else {
        out.push(Finding::ok(
            "network-online",
            format!(
                "network-online.target is pulled in by {}",
                pullers.join(", ")
            ),
        ));
    }
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

    #[test]
    fn wants_parsing() {
        assert!(wants_network_online(
            "[Unit]\nWants=foo.service network-online.target\n"
        ));
        assert!(wants_network_online(
            "[Unit]\nRequires=network-online.target"
        ));
        assert!(!wants_network_online(
            "[Unit]\nAfter=network-online.target\n"
        ));
        assert!(!wants_network_online(
            "[Unit]\nWants=network-online.target.wants\n"
        ));
    }
}

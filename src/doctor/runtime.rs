//! The container runtime: podman and its version, pasta or slirp4netns (and pasta under
//! AppArmor), where container storage lives, overlay support.

use super::{Env, Finding};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// `f_type` of NFS (`NFS_SUPER_MAGIC`).
pub const NFS_SUPER_MAGIC: u64 = 0x6969;
const SMB_SUPER_MAGIC: u64 = 0x517b;
const CIFS_SUPER_MAGIC: u64 = 0xff53_4d42;
const SMB2_SUPER_MAGIC: u64 = 0xfe53_4d42;

/// The name of a network filesystem by `statfs` `f_type`, `None` for local ones.
pub fn is_network_fs(f_type: u64) -> Option<&'static str> {
    match f_type & 0xffff_ffff {
        NFS_SUPER_MAGIC => Some("NFS"),
        SMB_SUPER_MAGIC => Some("SMB"),
        CIFS_SUPER_MAGIC => Some("CIFS"),
        SMB2_SUPER_MAGIC => Some("SMB2"),
        _ => None,
    }
}

/// Run a program with arguments, at most `limit` long ([`crate::proc::run`]: its own
/// process group, killed as a whole at the limit; a background child holding the pipe
/// does not hold doctor); its stdout, or why it failed.
pub(crate) fn output(prog: &Path, args: &[&str], limit: Duration) -> Result<String, String> {
    let out = crate::proc::run(
        Command::new(prog).args(args),
        &crate::proc::Limits {
            deadline: limit,
            max_out: 64 * 1024,
            max_err: 0,
        },
    )
    .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("exited with {}", out.status))
    }
}

/// `podman version 5.4.2` -> `(5, 4, "5.4.2")`.
pub(crate) fn parse_podman_version(s: &str) -> Option<(u32, u32, String)> {
    let v = s.split_whitespace().last()?;
    let mut it = v.split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it
        .next()
        .and_then(|m| {
            m.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|d| d.parse().ok())
        })
        .unwrap_or(0);
    Some((major, minor, v.to_owned()))
}

pub fn check(env: &Env, out: &mut Vec<Finding>) {
    let podman = env.find_program("podman");
    let mut major = None;
    match &podman {
        None => out.push(Finding::error(
            "runtime.podman",
            "podman is not installed (not in PATH, /usr/bin or /usr/local/bin)",
            "sudo apt install podman   (Fedora: sudo dnf install podman)",
        )),
        Some(p) => match output(p, &["--version"], Duration::from_secs(10)) {
            Ok(text) => match parse_podman_version(text.trim()) {
                Some((ma, mi, v)) => {
                    major = Some((ma, mi));
                    out.push(Finding::ok(
                        "runtime.podman",
                        format!("podman {v} ({})", env.logical(p)),
                    ));
                }
                None => out.push(Finding::warning(
                    "runtime.podman",
                    format!(
                        "{} --version printed `{}`, not a version",
                        env.logical(p),
                        text.trim()
                    ),
                    format!(
                        "check the podman installation: {} --version",
                        env.logical(p)
                    ),
                )),
            },
            Err(why) => out.push(Finding::error(
                "runtime.podman",
                format!("{} --version failed: {why}", env.logical(p)),
                format!(
                    "run it yourself to see why: {} --version\n\
                     reinstall if broken: sudo apt install --reinstall podman",
                    env.logical(p)
                ),
            )),
        },
    }
    network(env, major, out);
    storage(env, out);
    overlay(env, out);
}

fn apparmor_enabled(env: &Env) -> bool {
    env.read("/sys/module/apparmor/parameters/enabled")
        .is_some_and(|s| s.trim_start().starts_with('Y'))
}

/// podman learned pasta in 4.4.0 (`--network pasta`): an older one, such as Debian 12's
/// 4.3.1, answers `Network=pasta` with "unable to find network with name or ID pasta".
const PASTA_SINCE: (u32, u32) = (4, 4);

fn network(env: &Env, podman: Option<(u32, u32)>, out: &mut Vec<Finding>) {
    let installed_pasta = env.find_program("pasta");
    let slirp = env.find_program("slirp4netns");
    // The advice must fit the podman that runs: pasta is no network for one older than 4.4.
    let old = podman.is_some_and(|v| v < PASTA_SINCE);
    let pasta = installed_pasta.clone().filter(|_| !old);
    let unusable = match (&installed_pasta, old) {
        (Some(p), true) => format!(
            "; pasta ({}) is installed, but podman {}.{} cannot use it (Network=pasta needs podman {}.{} or newer)",
            env.logical(p),
            podman.map_or(0, |v| v.0),
            podman.map_or(0, |v| v.1),
            PASTA_SINCE.0,
            PASTA_SINCE.1
        ),
        _ => String::new(),
    };
    match (&pasta, &slirp) {
        (None, None) => out.push(Finding::error(
            "runtime.network",
            format!("neither pasta nor slirp4netns is usable: rootless containers get no network{unusable}"),
            if old {
                "sudo apt install slirp4netns"
            } else {
                "sudo apt install passt   (pasta is in the passt package)"
            },
        )),
        (None, Some(s)) if podman.is_some_and(|(m, _)| m >= 5) => out.push(Finding::warning(
            "runtime.network",
            format!(
                "only slirp4netns ({}) is installed, but podman 5 uses pasta by default",
                env.logical(s)
            ),
            "sudo apt install passt\n\
             or keep slirp4netns: put default_rootless_network_cmd = \"slirp4netns\" under [network] in ~/.config/containers/containers.conf",
        )),
        _ => {
            let list: Vec<String> = [("pasta", &pasta), ("slirp4netns", &slirp)]
                .iter()
                .filter_map(|(n, p)| p.as_ref().map(|p| format!("{n} ({})", env.logical(p))))
                .collect();
            out.push(Finding::ok(
                "runtime.network",
                format!("{}{unusable}", list.join(", ")),
            ));
        }
    }
    if let Some(p) = &pasta {
        let link = std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
        if link && apparmor_enabled(env) {
            let target = std::fs::read_link(p)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            let shown = env.logical(p);
            let real = super::system::resolve_in_root(env, p);
            let real = env.logical(&real);
            out.push(Finding::warning(
                "runtime.pasta-apparmor",
                format!(
                    "{shown} is a symlink (to {target}) and AppArmor is enabled: AppArmor confines it by the target's profile, so pasta cannot set up the namespace (a known Debian problem)"
                ),
                format!(
                    "replace the symlink by a hard link, so the pasta profile applies:\n\
                     sudo ln -f {real} {shown}\n\
                     (or upgrade passt: Debian's current packages ship a hard link)"
                ),
            ));
        } else {
            out.push(Finding::ok(
                "runtime.pasta-apparmor",
                if link {
                    "pasta is a symlink, but AppArmor is not enabled"
                } else {
                    "pasta is not a symlink: its AppArmor profile applies"
                },
            ));
        }
    }
}

/// Where podman keeps images: `graphroot` of `~/.config/containers/storage.conf`, else
/// `$XDG_DATA_HOME/containers/storage`.
fn storage_path(env: &Env) -> Option<PathBuf> {
    let conf = env
        .config_dir()
        .and_then(|c| super::read_text(&c.join("containers/storage.conf")));
    if let Some(conf) = conf {
        for l in conf.lines() {
            let l = l.trim();
            if let Some((k, v)) = l.split_once('=') {
                if k.trim() == "graphroot" || k.trim() == "rootless_storage_path" {
                    let v = v.trim().trim_matches('"').trim_matches('\'');
                    let v = match (v.strip_prefix("$HOME"), &env.user_env.home) {
                        (Some(rest), Some(h)) => {
                            h.join(rest.trim_start_matches('/')).display().to_string()
                        }
                        _ => v.to_owned(),
                    };
                    if v.starts_with('/') {
                        return Some(PathBuf::from(v));
                    }
                }
            }
        }
    }
    env.data_dir().map(|d| d.join("containers/storage"))
}

fn storage(env: &Env, out: &mut Vec<Finding>) {
    let Some(path) = storage_path(env) else {
        out.push(Finding::warning(
            "runtime.storage",
            "neither HOME nor XDG_DATA_HOME is set: cannot tell where container storage lives",
            "run rootlet doctor from a login shell of the user",
        ));
        return;
    };
    // The storage may not exist yet: its nearest existing ancestor decides.
    let existing = path
        .ancestors()
        .find(|a| a.exists())
        .unwrap_or(Path::new("/"));
    match rustix::fs::statfs(existing) {
        Ok(st) => {
            #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
            let f_type = st.f_type as i64 as u64;
            match is_network_fs(f_type) {
                Some(fs) => out.push(Finding::error(
                    "runtime.storage",
                    format!(
                        "container storage {} is on {fs}: rootless podman cannot keep its files there (no user-namespace ownership, no overlay, no xattrs)",
                        path.display()
                    ),
                    format!(
                        "put the storage on a local disk: in ~/.config/containers/storage.conf\n\
                         [storage]\n\
                         driver = \"overlay\"\n\
                         graphroot = \"/var/tmp/containers-{u}/storage\"\n\
                         then: mkdir -p /var/tmp/containers-{u}/storage && podman system reset",
                        u = env.user
                    ),
                )),
                None => out.push(Finding::ok(
                    "runtime.storage",
                    format!("container storage {} is on a local filesystem", path.display()),
                )),
            }
        }
        Err(e) => out.push(Finding::warning(
            "runtime.storage",
            format!("cannot statfs {}: {e}", existing.display()),
            format!("check that {} is accessible", existing.display()),
        )),
    }
}

fn overlay(env: &Env, out: &mut Vec<Finding>) {
    let kernel = env.read("/proc/filesystems").is_some_and(|t| {
        t.lines()
            .any(|l| l.split_whitespace().last() == Some("overlay"))
    });
    if kernel {
        out.push(Finding::ok(
            "runtime.overlay",
            "the kernel's overlay filesystem is available",
        ));
    } else if let Some(f) = env.find_program("fuse-overlayfs") {
        out.push(Finding::ok(
            "runtime.overlay",
            format!("fuse-overlayfs ({})", env.logical(&f)),
        ));
    } else {
        out.push(Finding::warning(
            "runtime.overlay",
            "no overlay filesystem in /proc/filesystems and no fuse-overlayfs: podman falls back to the slow, disk-hungry vfs driver",
            "sudo modprobe overlay && echo overlay | sudo tee /etc/modules-load.d/overlay.conf\n\
             or: sudo apt install fuse-overlayfs",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_filesystems() {
        assert_eq!(is_network_fs(0x6969), Some("NFS"));
        assert_eq!(is_network_fs(0xff53_4d42), Some("CIFS"));
        assert_eq!(is_network_fs(0xef53), None); // ext4
        assert_eq!(is_network_fs(0x5846_5342), None); // xfs
        assert_eq!(is_network_fs(0x0102_1994), None); // tmpfs
    }

    #[test]
    fn podman_versions() {
        assert_eq!(
            parse_podman_version("podman version 5.4.2"),
            Some((5, 4, "5.4.2".into()))
        );
        assert_eq!(
            parse_podman_version("podman version 4.3.1-dev"),
            Some((4, 3, "4.3.1-dev".into()))
        );
        assert_eq!(parse_podman_version(""), None);
        assert_eq!(parse_podman_version("podman version x"), None);
    }

    #[test]
    fn real_statfs_is_local_or_known() {
        // Whatever the test machine uses for its temp dir, the call must not fail.
        let st = rustix::fs::statfs(std::env::temp_dir()).unwrap();
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
        let _ = is_network_fs(st.f_type as i64 as u64);
    }
}

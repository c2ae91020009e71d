//! Rootless Docker: checked only when the user has a `docker.service` user unit (what
//! `dockerd-rootless-setuptool.sh install` writes); silent otherwise.
//!
//! The boot race (the daemon starts before the network and rootlesskit's pasta fails) is
//! the field's most reported failure; rootlesskit 2.0–2.2 even hides it (pasta fails,
//! the daemon runs, containers have no network for good).

use super::{runtime, Env, Finding};
use crate::docker::{self, DaemonUnit};
use crate::env::WAIT_UNIT;
use std::path::{Path, PathBuf};
use std::time::Duration;

const UNIT: &str = "docker.service";

pub fn check(env: &Env, out: &mut Vec<Finding>) {
    let dirs = env.user_env.unit_search_path(|d| env.sys(d));
    let unit = match docker::find_in(&dirs, UNIT) {
        Ok(u) => u,
        Err(docker::DockerError::NotFound { .. }) => return,
        Err(e) => {
            out.push(Finding::error(
                "docker.unit",
                e.to_string(),
                "fix the unit file, or run dockerd-rootless-setuptool.sh install again",
            ));
            return;
        }
    };
    let shown = env.logical(&unit.fragment);
    out.push(Finding::ok(
        "docker.unit",
        format!("rootless Docker: {shown}"),
    ));
    state(env, out);
    wait(env, &unit, out);
    program(env, &unit, out);
    let net = unit
        .env("DOCKERD_ROOTLESS_ROOTLESSKIT_NET")
        .map(str::to_owned)
        .or_else(|| std::env::var("DOCKERD_ROOTLESS_ROOTLESSKIT_NET").ok());
    if net.as_deref() == Some("pasta") {
        pasta(env, &unit, out);
    }
    docker_host(out);
    data_root(env, out);
    ping_group_range(env, out);
    iptables(env, out);
}

/// The daemon's state, from the user manager over D-Bus: only for the real system (not a
/// fake root) and when the user's bus is there to ask.
fn state(env: &Env, out: &mut Vec<Finding>) {
    let bus = env.user_env.runtime().map(|r| r.join("bus"));
    if env.root != Path::new("/") || !bus.is_some_and(|b| b.exists()) {
        return;
    }
    let Ok(mut states) = crate::user_manager::states(&[UNIT.to_owned()]) else {
        return;
    };
    let Some(s) = states.pop() else { return };
    if s.active == "failed" {
        out.push(Finding::error(
            "docker.state",
            format!("{UNIT} failed (result {})", s.result),
            format!(
                "journalctl --user -b -u {UNIT}   (why)\n\
                 systemctl --user reset-failed {UNIT} && systemctl --user start {UNIT}\n\
                 rootlet docker enable   (so that it waits for the network at boot)"
            ),
        ));
    } else if s.sub == "auto-restart" {
        out.push(Finding::warning(
            "docker.state",
            format!("{UNIT} failed and is waiting to be restarted"),
            format!("journalctl --user -b -u {UNIT}"),
        ));
    } else if s.load == "loaded" {
        out.push(Finding::ok(
            "docker.state",
            format!("{UNIT} is {}/{}", s.active, s.sub),
        ));
    }
}

/// Whether the daemon waits for the network: rootlet's drop-in, or any drop-in of the
/// user's that wants and orders after the wait unit.
fn wait(env: &Env, unit: &DaemonUnit, out: &mut Vec<Finding>) {
    let waits = |p: &Path| {
        super::read_text(p).is_some_and(|t| {
            t.lines()
                .any(|l| l.starts_with("After=") && l.contains(WAIT_UNIT))
                || t.lines()
                    .any(|l| l.starts_with("ExecStart=") && l.contains("rootlet-wait-online"))
        })
    };
    if let Some(p) = unit
        .rootlet_dropin
        .iter()
        .chain(&unit.dropins)
        .find(|p| waits(p))
    {
        out.push(Finding::ok(
            "docker.wait",
            format!("{UNIT} waits for the network ({})", env.logical(p)),
        ));
    } else {
        out.push(Finding::warning(
            "docker.wait",
            format!(
                "{UNIT} does not wait for the network: at linger boot it can start before the \
                 network is up, and rootlesskit's network driver then fails (pasta: \"External \
                 interface not usable\") until systemd gives up"
            ),
            "rootlet docker enable",
        ));
    }
}

/// The daemon's program must exist: Debian keeps `dockerd-rootless.sh` outside `PATH`.
fn program(env: &Env, unit: &DaemonUnit, out: &mut Vec<Finding>) {
    let Some(prog) = unit.program() else {
        out.push(Finding::error(
            "docker.exec",
            format!("{UNIT} has no ExecStart="),
            "run dockerd-rootless-setuptool.sh install again",
        ));
        return;
    };
    let path = if prog.starts_with('/') {
        Some(env.sys(&prog))
    } else {
        env.find_program(&prog)
    };
    if path.as_deref().is_some_and(super::is_executable) {
        out.push(Finding::ok("docker.exec", format!("{UNIT} runs {prog}")));
    } else {
        out.push(Finding::error(
            "docker.exec",
            format!("{UNIT} runs {prog}, which does not exist or is not executable"),
            "Debian's docker.io keeps it in /usr/share/docker.io/contrib/; Docker's static \
             install in ~/bin: fix ExecStart= with `systemctl --user edit docker.service`",
        ));
    }
    if env.find_program("dockerd-rootless.sh").is_none() {
        out.push(Finding::warning(
            "docker.path",
            "dockerd-rootless.sh is not on PATH: dockerd-rootless-setuptool.sh needs it there",
            "export PATH=/usr/share/docker.io/contrib:$PATH   (Debian's docker.io)",
        ));
    }
}

/// `rootlesskit version 2.0.2` -> `(2, 0)`.
pub(crate) fn parse_rootlesskit_version(s: &str) -> Option<(u32, u32)> {
    let v = s
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut it = v.split(['.', '-', '+']).map(|p| p.parse::<u32>().ok());
    Some((it.next()??, it.next().flatten().unwrap_or(0)))
}

fn pasta(env: &Env, unit: &DaemonUnit, out: &mut Vec<Finding>) {
    let version = env
        .find_program("rootlesskit")
        .and_then(|p| runtime::output(&p, &["--version"], Duration::from_secs(10)).ok())
        .and_then(|o| parse_rootlesskit_version(&o));
    let waits = unit.rootlet_dropin.is_some();
    match version {
        None => out.push(Finding::error(
            "docker.pasta",
            "DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta, but rootlesskit is missing or gives no version",
            "install rootlesskit (>= 2) and passt",
        )),
        Some((major, minor)) if major < 2 => out.push(Finding::error(
            "docker.pasta",
            format!("DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta, but rootlesskit {major}.{minor} has no pasta driver: the daemon cannot start"),
            "use slirp4netns (remove DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta), or install rootlesskit >= 2",
        )),
        Some((2, minor)) if minor < 3 && !waits => out.push(Finding::warning(
            "docker.pasta",
            format!("rootlesskit 2.{minor} ignores pasta's failure: when the daemon starts before the network, it runs with containers cut off from the network until it is restarted, and nothing reports it"),
            "rootlet docker enable",
        )),
        Some((major, minor)) => out.push(Finding::ok(
            "docker.pasta",
            format!("pasta with rootlesskit {major}.{minor}"),
        )),
    }
    pasta_running(env, out);
}

/// The silent failure: a rootlesskit of ours running with `--net=pasta` and no pasta
/// process of ours beside it.
fn pasta_running(env: &Env, out: &mut Vec<Finding>) {
    let mut kit = false;
    let mut pasta = false;
    let Ok(rd) = std::fs::read_dir(env.sys("/proc")) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let dir = e.path();
        let uid_line = super::read_pseudo(&dir.join("status")).and_then(|s| {
            s.lines()
                .find_map(|l| {
                    l.strip_prefix("Uid:")
                        .map(|v| v.split_whitespace().next().map(str::to_owned))
                })
                .flatten()
        });
        if uid_line.as_deref() != Some(env.uid.to_string().as_str()) {
            continue;
        }
        let comm = super::read_pseudo(&dir.join("comm")).unwrap_or_default();
        match comm.trim() {
            "pasta" | "pasta.avx2" | "passt" => pasta = true,
            "rootlesskit" => {
                let mut cmdline = Vec::new();
                let _ = crate::fsutil::read_pseudo(&dir.join("cmdline"), 1 << 20, &mut cmdline);
                kit |= cmdline.split(|&b| b == 0).any(|a| a == b"--net=pasta");
            }
            _ => {}
        }
    }
    if kit && !pasta {
        out.push(Finding::error(
            "docker.pasta-running",
            "the Docker daemon runs with --net=pasta but no pasta process: its containers have no network (pasta failed at start, rootlesskit went on)",
            "systemctl --user restart docker.service\nthen, so that it does not happen at the next boot: rootlet docker enable",
        ));
    }
}

fn docker_host(out: &mut Vec<Finding>) {
    let Ok(host) = std::env::var("DOCKER_HOST") else {
        return;
    };
    let Some(path) = host.strip_prefix("unix://") else {
        return;
    };
    use std::os::unix::fs::FileTypeExt;
    if std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        out.push(Finding::ok("docker.host", format!("DOCKER_HOST={host}")));
    } else {
        out.push(Finding::error(
            "docker.host",
            format!("DOCKER_HOST={host}, but there is no socket at {path}: docker commands fail"),
            "systemctl --user start docker.service, or fix DOCKER_HOST (rootless: unix://$XDG_RUNTIME_DIR/docker.sock)",
        ));
    }
}

fn data_root(env: &Env, out: &mut Vec<Finding>) {
    let Some(dir) = env.data_dir().map(|d| d.join("docker")) else {
        return;
    };
    let probe: PathBuf = dir
        .ancestors()
        .find(|p| p.exists())
        .map(Path::to_owned)
        .unwrap_or(dir.clone());
    if let Ok(fs) = rustix::fs::statfs(&probe) {
        #[allow(clippy::unnecessary_cast)]
        if let Some(kind) = runtime::is_network_fs(fs.f_type as u64) {
            out.push(Finding::error(
                "docker.data-root",
                format!("Docker's data root {} is on {kind}: overlay2 and user namespaces do not work there", dir.display()),
                "put \"data-root\" on a local disk in ~/.config/docker/daemon.json",
            ));
        }
    }
}

fn ping_group_range(env: &Env, out: &mut Vec<Finding>) {
    let Some(text) = env.read("/proc/sys/net/ipv4/ping_group_range") else {
        return;
    };
    let mut it = text.split_whitespace().map(|w| w.parse::<u64>().ok());
    let (Some(Some(lo)), Some(Some(hi))) = (it.next(), it.next()) else {
        return;
    };
    let gid = u64::from(env.uid);
    if lo <= gid && gid <= hi {
        out.push(Finding::ok(
            "docker.ping",
            "ping works in rootless containers",
        ));
    } else {
        out.push(Finding::warning(
            "docker.ping",
            format!("net.ipv4.ping_group_range is {lo} {hi}: ping fails in rootless containers"),
            "echo 'net.ipv4.ping_group_range = 0 2147483647' | sudo tee /etc/sysctl.d/99-rootless.conf\nsudo sysctl --system",
        ));
    }
}

fn iptables(env: &Env, out: &mut Vec<Finding>) {
    if env.find_program("iptables").is_none() {
        out.push(Finding::warning(
            "docker.iptables",
            "iptables is not installed: rootless dockerd needs it (or --iptables=false)",
            "sudo apt-get install iptables",
        ));
    }
    let builtin = std::fs::read_dir(env.sys("/lib/modules"))
        .ok()
        .is_some_and(|rd| {
            rd.flatten().any(|e| {
                super::read_text(&e.path().join("modules.builtin"))
                    .is_some_and(|t| t.contains("/ip_tables.ko"))
            })
        });
    let loaded = env
        .read("/proc/modules")
        .is_some_and(|t| t.lines().any(|l| l.starts_with("ip_tables ")))
        || env.sys("/proc/net/ip_tables_names").exists();
    if !builtin && !loaded {
        out.push(Finding::warning(
            "docker.ip_tables",
            "the ip_tables module is neither loaded nor built in: dockerd-rootless-setuptool.sh refuses to install",
            "sudo modprobe ip_tables   (and add it to /etc/modules-load.d/)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootlesskit_versions() {
        assert_eq!(
            parse_rootlesskit_version("rootlesskit version 2.0.2\n"),
            Some((2, 0))
        );
        assert_eq!(
            parse_rootlesskit_version("rootlesskit version 1.1.0"),
            Some((1, 1))
        );
        assert_eq!(
            parse_rootlesskit_version("rootlesskit version 2.3.1-dev"),
            Some((2, 3))
        );
        assert_eq!(parse_rootlesskit_version("nonsense"), None);
    }
}

//! Whether anything pulls the system's `network-online.target` in (quadlet's own wait
//! unit hangs where nothing does).

use super::sorted_entries;
use crate::doctor::install::quadlet_in_use;
use crate::doctor::{masked, read_text, Env, Finding};
use std::path::{Path, PathBuf};

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
        .any(|d| masked(&env.sys(d).join(name)))
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

/// The system units that pull network-online.target in: by a link in their `.wants/` or
/// `.requires/` directory, or (enabled or written in /etc/systemd/system) by a `Wants=`
/// of their own. Masked units pull nothing in.
fn pullers(env: &Env) -> Vec<String> {
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
                && !masked(&link)
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
        if name == "network-online.target" || masked(&path) || unit_masked(env, &name) {
            continue;
        }
        let real = resolve_in_root(env, &path);
        if read_text(&real).is_some_and(|t| wants_network_online(&t)) {
            add(name);
        }
    }
    pullers
}

pub fn network_online(env: &Env, out: &mut Vec<Finding>) {
    let pullers = pullers(env);
    // The only harm of a target nobody pulls in is quadlet's wait unit, which hangs 90 s:
    // where quadlet does not run (podman < 4.4 has none, or it is masked), say how
    // rootlet waits instead and warn about nothing.
    let quadlet = quadlet_in_use(env);
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

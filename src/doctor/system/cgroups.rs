//! cgroup v2, and the controllers delegated to the user manager (podman's resource limits
//! need them), with advice that fits the machine.

use super::sorted_entries;
use crate::doctor::{read_text, Env, Finding};

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
                let Some(text) = read_text(&path) else {
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
        out.push(undelegated(env, &root, &missing, &restart, &fix));
    }
}

/// The podman flags that need the cgroup controllers `cs`.
fn limit_flags(cs: &[&str]) -> String {
    cs.iter()
        .map(|c| match *c {
            "cpu" => "--cpus",
            "memory" => "--memory",
            "pids" => "--pids-limit",
            _ => "--blkio-weight",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The warning for the controllers `missing` from the user manager's cgroup, with advice
/// that fits the machine (`root`: the root cgroup's controllers; `restart`: how to restart
/// the user manager; `fix`: the drop-in to write when there is none).
fn undelegated(env: &Env, root: &[&str], missing: &[&str], restart: &str, fix: &str) -> Finding {
    let summary = format!(
        "controllers not delegated to user@{}.service: {} (containers using {} fail to start)",
        env.uid,
        missing.join(" "),
        limit_flags(missing)
    );
    // The advice must fit the machine: a controller the root cgroup does not offer
    // (bound to a cgroup v1 hierarchy on a hybrid host, or not given to the container
    // this runs in) cannot be delegated by any drop-in, and a drop-in that is already
    // there needs a restart of the user manager, not a second copy.
    let (absent, offered): (Vec<&str>, Vec<&str>) = missing.iter().partition(|c| !root.contains(c));
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
            limit_flags(&absent)
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
            None => fix.to_owned(),
        });
    }
    let fix = advice.join("\n");
    Finding::warning("cgroup.delegation", summary, fix)
}

//! When rootlet does not reach the user manager (none is reachable, or `--no-systemctl`),
//! each command names what to run by hand: the very requests it carries out when the
//! manager is there (one `user_manager::Op` is run and shown), written so that a shell
//! reads them back word for word. Each printed command is replayed here through `sh`
//! into a `systemctl` that logs its arguments.

use crate::util::UserEnv;
use std::path::PathBuf;

const QUADLET: &str = "home/.config/containers/systemd";

/// A `systemctl` that logs its arguments ([`UserEnv::logging_program`]), says "inactive"
/// to `is-active` and succeeds otherwise. Returns the log's path.
fn logging_systemctl(e: &UserEnv) -> PathBuf {
    e.logging_program("systemctl", "[ \"$2\" = is-active ] && exit 3\nexit 0\n")
}

/// Every `systemctl ...` command between backticks in `stderr` (but a pattern, with
/// `NAME` for the user's own units).
fn printed(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|c| c.starts_with("systemctl ") && !c.ends_with(" NAME"))
        .map(str::to_owned)
        .collect()
}

/// Run `commands` through `sh` with [`logging_systemctl`] first in `PATH`; the log.
fn replay(e: &UserEnv, commands: &[String]) -> String {
    let log = logging_systemctl(e);
    let _ = std::fs::remove_file(&log);
    for c in commands {
        let o = e.cmd("sh").args(["-c", c]).output().unwrap();
        assert!(o.status.success(), "{c}: {o:?}");
    }
    std::fs::read_to_string(&log).unwrap_or_default()
}

const WEB: &str = "[Container]\nImage=localhost/web\n[Install]\nWantedBy=default.target\n";

/// `install --user` runs `daemon-reload` and starts the path unit and the units wanted;
/// with `--no-systemctl` it prints both commands (it printed only the first), and they
/// are what it runs, names with systemd's `\x2d` escapes included.
#[test]
fn install_prints_exactly_what_it_runs() {
    let ran = UserEnv::new("byhand-run");
    let shown = UserEnv::new("byhand-shown");
    for e in [&ran, &shown] {
        e.write(&format!("{QUADLET}/web.container"), WEB);
        e.write(&format!("{QUADLET}/a\\x2db.container"), WEB);
    }
    let log = logging_systemctl(&ran);
    // The install's detection of a manager: its socket is there.
    ran.write("run/bus", "");
    let o = ran.run("rootlet", &["install", "--user"]);
    assert!(o.status.success(), "{o:?}");
    let run_log = std::fs::read_to_string(log).unwrap();
    assert_eq!(
        run_log,
        "[--user] [daemon-reload] \n\
         [--user] [start] [--no-block] [--] [rootlet-regenerate.path] [a\\x2db.service] [web.service] \n"
    );

    let o = shown.run("rootlet", &["install", "--user", "--no-systemctl"]);
    assert!(o.status.success(), "{o:?}");
    // Asked not to: no claim that the manager is out of reach.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("rootlet: run `systemctl --user daemon-reload` in your session\n")
            && !err.contains("reachable"),
        "{err}"
    );
    let commands = printed(&o.stderr);
    assert_eq!(commands.len(), 2, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(replay(&shown, &commands), run_log);
}

/// `uninstall --user` without a manager names the stop of the regenerate units as well as
/// the reload (it named only the reload).
#[test]
fn uninstall_names_the_stop_and_the_reload() {
    let e = UserEnv::new("byhand-uninst");
    let o = e.run("rootlet", &["install", "--user", "--no-systemctl"]);
    assert!(o.status.success(), "{o:?}");
    let o = e.run("rootlet", &["uninstall", "--user"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        replay(&e, &printed(&o.stderr)),
        "[--user] [stop] [--] [rootlet-regenerate.path] [rootlet-regenerate.service] \n\
         [--user] [daemon-reload] \n"
    );
}

/// `add --now` without a manager names the reload and then the start of what it added
/// (it named only the reload); `rm --force` names the stop of the units it could not
/// check, then the reload.
#[test]
fn add_now_and_rm_force_name_every_step() {
    let e = UserEnv::new("byhand-manage");
    let f = e.write("in/web.container", WEB);
    let o = e.run("rootlet", &["add", "--now", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(
        replay(&e, &printed(&o.stderr)),
        "[--user] [daemon-reload] \n[--user] [start] [--] [web.service] \n"
    );
    let o = e.run("rootlet", &["rm", "--force", "web"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(
        replay(&e, &printed(&o.stderr)),
        "[--user] [stop] [--] [web.service] \n[--user] [daemon-reload] \n"
    );
}

/// `docker enable` without a manager names the reload and the restart that applies the
/// drop-in, the unit's name escaped for the shell.
#[test]
fn docker_enable_names_the_reload_and_the_restart() {
    let e = UserEnv::new("byhand-docker");
    e.write(
        "home/.config/systemd/user/docker.service",
        "[Service]\nExecStart=/bin/true\n",
    );
    let o = e.run("rootlet", &["docker", "enable"]);
    if !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("not beside") {
        crate::util::skip("rootlet-wait-online is not built beside rootlet");
        return;
    }
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        replay(&e, &printed(&o.stderr)),
        "[--user] [daemon-reload] \n[--user] [restart] [--] [docker.service] \n"
    );
}

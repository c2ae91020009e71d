//! `rootlet docker enable|disable|status` on a user's tree as Docker's setup tool leaves
//! it: the daemon's own unit kept, the drop-in and the wait unit written and taken back,
//! foreign files left alone. (At boot, in a real systemd: tests/e2e/docker.sh.)

use crate::util;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use util::UserEnv;

/// What `dockerd-rootless-setuptool.sh install` writes (moby's current tool).
const SETUP_TOOL_UNIT: &str = "[Unit]
Description=Docker Application Container Engine (Rootless)
Documentation=https://docs.docker.com/go/rootless/

[Service]
Environment=PATH=/usr/share/docker.io/contrib:/sbin:/usr/sbin:/bin:/usr/bin
ExecStart=/usr/share/docker.io/contrib/dockerd-rootless.sh --experimental
ExecReload=/bin/kill -s HUP $MAINPID
TimeoutSec=0
RestartSec=2
Restart=always
StartLimitBurst=3
StartLimitInterval=60s
LimitNOFILE=infinity
Delegate=yes
Type=notify
NotifyAccess=all
KillMode=mixed

[Install]
WantedBy=default.target
";

/// A user with the daemon's unit as the setup tool leaves it.
fn home() -> UserEnv {
    let t = UserEnv::new("docker");
    t.write_home(".config/systemd/user/docker.service", SETUP_TOOL_UNIT);
    t
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        o.status.success(),
        "{err}{}",
        String::from_utf8_lossy(&o.stdout)
    );
    err
}

/// Every file and link under `dir`, with contents.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    fn walk(base: &Path, d: &Path, m: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                m.insert(
                    rel,
                    format!("-> {}", std::fs::read_link(&p).unwrap().display()),
                );
            } else if ft.is_dir() {
                m.insert(format!("{rel}/"), String::new());
                walk(base, &p, m);
            } else {
                m.insert(rel, std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    walk(dir, dir, &mut m);
    m
}

fn dropin(t: &UserEnv) -> std::path::PathBuf {
    t.home()
        .join(".config/systemd/user/docker.service.d/50-rootlet.conf")
}

fn system_wait_unit() -> bool {
    rootlet::docker::system_wait_unit().is_some()
}

#[test]
fn enable_orders_the_daemon_after_the_wait_and_keeps_its_own_keys() {
    let t = home();
    let before = snapshot(&t.home());
    ok(&t.run("rootlet", &["docker", "enable", "--no-reload"]));
    let text = std::fs::read_to_string(dropin(&t)).unwrap();
    assert!(text.contains("Wants=rootlet-wait-online.service\nAfter=rootlet-wait-online.service\n"));
    assert!(text.contains("RestartSec=10\n"));
    // The unit's own ExecStart=, Restart=always and Type=notify are not touched.
    for key in ["ExecStart", "Restart=", "Type=", "StartLimit"] {
        assert!(
            !text.lines().any(|l| l.starts_with(key)),
            "{key} in\n{text}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(t.home().join(".config/systemd/user/docker.service")).unwrap(),
        SETUP_TOOL_UNIT
    );
    let wait = t
        .home()
        .join(".config/systemd/user/rootlet-wait-online.service");
    if system_wait_unit() {
        assert!(!wait.exists());
    } else {
        let w = std::fs::read_to_string(&wait).unwrap();
        let exec = w.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
        let bindir = util::bin("rootlet").parent().unwrap().display().to_string();
        assert!(exec.contains(&bindir), "{exec}");
        assert!(!w.contains("@bindir@"));
    }
    // Idempotent.
    let err = ok(&t.run("rootlet", &["docker", "enable", "--no-reload"]));
    assert!(err.contains("up to date"), "{err}");
    // Disable restores the tree exactly.
    ok(&t.run("rootlet", &["docker", "disable", "--no-reload"]));
    let mut after = snapshot(&t.home());
    // rootlet's (empty) state parent directory may remain; nothing else.
    after.retain(|k, _| !k.starts_with(".local/"));
    let mut before = before;
    before.retain(|k, _| !k.starts_with(".local/"));
    assert_eq!(before, after);
}

#[test]
fn exec_form_wraps_the_real_exec_start_with_its_flags() {
    let t = home();
    ok(&t.run("rootlet", &["docker", "enable", "--exec", "--no-reload"]));
    let text = std::fs::read_to_string(dropin(&t)).unwrap();
    let bindir = util::bin("rootlet").parent().unwrap().display().to_string();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ExecStart="))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], "ExecStart=");
    assert_eq!(
        lines[1],
        format!(
            "ExecStart={bindir}/rootlet-wait-online -- \
             /usr/share/docker.io/contrib/dockerd-rootless.sh --experimental"
        )
    );
    // The journal keeps the daemon's name; the unit's own TimeoutSec=0 is kept.
    assert!(
        text.contains("SyslogIdentifier=dockerd-rootless.sh\n"),
        "{text}"
    );
    assert!(!text.contains("TimeoutStartSec"), "{text}");
    // Switching back to the plain form replaces rootlet's own drop-in.
    ok(&t.run("rootlet", &["docker", "enable", "--no-reload"]));
    assert!(!std::fs::read_to_string(dropin(&t))
        .unwrap()
        .contains("ExecStart"));
}

#[test]
fn exec_form_of_a_drop_in_exec_start_and_a_daemon_in_home_bin() {
    let t = home();
    // Docker's no-package install keeps the script in ~/bin; a user's override moved it.
    t.write_home(
        ".config/systemd/user/docker.service.d/override.conf",
        "[Service]\nExecStart=\nExecStart=\"/home/u/my bin/dockerd-rootless.sh\" --iptables=false\n",
    );
    ok(&t.run("rootlet", &["docker", "enable", "--exec", "--no-reload"]));
    let text = std::fs::read_to_string(dropin(&t)).unwrap();
    assert!(
        text.contains("-- \"/home/u/my bin/dockerd-rootless.sh\" --iptables=false\n"),
        "{text}"
    );
    assert!(text.contains("SyslogIdentifier=dockerd-rootless.sh\n"));
    let o = t.run("rootlet", &["docker", "status"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("rootlet drop-in: enabled (exec form)"),
        "{out}"
    );
    assert!(out.contains("override.conf"), "{out}");
}

#[test]
fn a_foreign_drop_in_is_never_overwritten_and_a_changed_one_never_removed() {
    let t = home();
    let foreign = "[Service]\nRestartSec=30\n";
    t.write_home(
        ".config/systemd/user/docker.service.d/50-rootlet.conf",
        foreign,
    );
    let o = t.run("rootlet", &["docker", "enable", "--no-reload"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not written by rootlet"));
    assert_eq!(std::fs::read_to_string(dropin(&t)).unwrap(), foreign);
    // Disable does not touch it either.
    ok(&t.run("rootlet", &["docker", "disable", "--no-reload"]));
    assert_eq!(std::fs::read_to_string(dropin(&t)).unwrap(), foreign);

    // Ours, then edited by the user: disable leaves the edit alone.
    let t = home();
    ok(&t.run("rootlet", &["docker", "enable", "--no-reload"]));
    let edited = std::fs::read_to_string(dropin(&t)).unwrap() + "Environment=X=1\n";
    std::fs::write(dropin(&t), &edited).unwrap();
    let err = ok(&t.run("rootlet", &["docker", "disable", "--no-reload"]));
    assert!(err.contains("left alone"), "{err}");
    assert_eq!(std::fs::read_to_string(dropin(&t)).unwrap(), edited);
}

#[test]
fn a_symlink_at_the_drop_in_is_foreign() {
    let t = home();
    let target = t.write_home("dotfiles/50-rootlet.conf", "[Service]\n");
    std::fs::create_dir_all(t.home().join(".config/systemd/user/docker.service.d")).unwrap();
    std::os::unix::fs::symlink(&target, dropin(&t)).unwrap();
    let o = t.run("rootlet", &["docker", "enable", "--no-reload"]);
    assert!(!o.status.success());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "[Service]\n");
    assert!(std::fs::symlink_metadata(dropin(&t))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn no_unit_no_write() {
    let t = UserEnv::new("docker-none");
    let o = t.run("rootlet", &["docker", "enable", "--no-reload"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("dockerd-rootless-setuptool.sh install"),
        "{err}"
    );
    assert!(!t.home().join(".config").exists());
    let o = t.run("rootlet", &["docker", "enable", "--unit", "-x.service"]);
    assert_eq!(o.status.code(), Some(2));
}

/// `docker enable` and `install --user` share the user's wait unit: in either order both
/// work, and undoing one leaves what the other needs.
#[test]
fn docker_enable_and_install_user_share_the_wait_unit() {
    if system_wait_unit() {
        crate::util::skip("a system-wide wait unit exists: no user copy to share");
        return;
    }
    let wait = |t: &UserEnv| {
        t.home()
            .join(".config/systemd/user/rootlet-wait-online.service")
    };
    // install --user first, then docker enable; docker disable keeps install's unit.
    let t = home();
    ok(&t.run("rootlet", &["install", "--user", "--no-systemctl"]));
    ok(&t.run("rootlet", &["docker", "enable", "--no-reload"]));
    ok(&t.run("rootlet", &["docker", "disable", "--no-reload"]));
    assert!(
        wait(&t).exists(),
        "docker disable removed install --user's wait unit"
    );
    ok(&t.run("rootlet", &["uninstall", "--user", "--no-systemctl"]));
    assert!(!wait(&t).exists());

    // docker enable first, then install --user; uninstall keeps docker's unit.
    let t = home();
    ok(&t.run("rootlet", &["docker", "enable", "--no-reload"]));
    ok(&t.run("rootlet", &["install", "--user", "--no-systemctl"]));
    ok(&t.run("rootlet", &["uninstall", "--user", "--no-systemctl"]));
    assert!(
        wait(&t).exists(),
        "uninstall removed docker enable's wait unit"
    );
    ok(&t.run("rootlet", &["docker", "disable", "--no-reload"]));
    assert!(!wait(&t).exists());
}

/// `rootlet ARGS` in `t`, killed (SIGKILL) at the `when`-th call of the system call
/// `call` (one at a time: strace counts each system call of a set on its own).
fn killed_at(t: &UserEnv, call: &str, when: usize, args: &[&str]) -> Output {
    t.cmd("strace")
        .args([
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            &format!("trace={call}"),
        ])
        .args(["-e", &format!("inject={call}:signal=KILL:when={when}")])
        .arg(util::bin("rootlet"))
        .args(args)
        .output()
        .unwrap()
}

const WEB: &str = "[Container]\nImage=docker.io/library/nginx\n";

/// The units under `dir` that want the wait unit, and whether it is there.
fn wanting_the_wait_unit(t: &UserEnv) -> (Vec<String>, bool) {
    let mut v: Vec<String> = snapshot(&t.home())
        .into_iter()
        .filter(|(_, text)| text.contains("Wants=rootlet-wait-online.service"))
        .map(|(p, _)| p)
        .collect();
    v.sort();
    let there = t
        .home()
        .join(".config/systemd/user/rootlet-wait-online.service")
        .is_file();
    (v, there)
}

/// N12: `docker enable` and `install --user` both use the wait unit: undoing one of them,
/// in any order, keeps it while the other still wants it; undoing both leaves the home as
/// it was.
#[test]
fn n12_the_wait_unit_stays_while_any_user_wants_it_in_every_order() {
    if system_wait_unit() {
        crate::util::skip("a system-wide wait unit exists: no user copy to share");
        return;
    }
    let steps: [(&str, &[&str]); 4] = [
        ("enable", &["docker", "enable", "--no-reload"]),
        ("install", &["install", "--user", "--no-systemctl"]),
        ("disable", &["docker", "disable", "--no-reload"]),
        ("uninstall", &["uninstall", "--user", "--no-systemctl"]),
    ];
    // Every interleaving of enable→disable with install→uninstall.
    let orders: [[usize; 4]; 6] = [
        [0, 2, 1, 3],
        [0, 1, 2, 3],
        [0, 1, 3, 2],
        [1, 0, 2, 3],
        [1, 0, 3, 2],
        [1, 3, 0, 2],
    ];
    for order in orders {
        let t = home();
        t.write_home(".config/containers/systemd/web.container", WEB);
        let before = snapshot(&t.home());
        let mut names = Vec::new();
        for i in order {
            let (name, args) = steps[i];
            names.push(name);
            ok(&t.run("rootlet", args));
            let (wanting, there) = wanting_the_wait_unit(&t);
            assert!(
                wanting.is_empty() || there,
                "after {names:?}: {wanting:?} want a missing wait unit"
            );
        }
        assert_eq!(snapshot(&t.home()), before, "after {names:?}");
    }
}

/// N13: `docker enable --unit A` and `--unit B` keep one record each: disabling one takes
/// back exactly its own drop-in (never "changed since rootlet wrote it"), the other's and
/// the wait unit stay; disabling both leaves the home as it was.
#[test]
fn n13_two_units_keep_one_record_each() {
    let t = home();
    t.write_home(
        ".config/systemd/user/containerd.service",
        "[Service]\nExecStart=/usr/bin/containerd-rootless.sh\nType=notify\n",
    );
    let before = snapshot(&t.home());
    ok(&t.run("rootlet", &["docker", "enable", "--exec", "--no-reload"]));
    ok(&t.run(
        "rootlet",
        &[
            "docker",
            "enable",
            "--exec",
            "--no-reload",
            "--unit=containerd.service",
        ],
    ));
    let other = t
        .home()
        .join(".config/systemd/user/containerd.service.d/50-rootlet.conf");
    let err = ok(&t.run("rootlet", &["docker", "disable", "--no-reload"]));
    assert!(!err.contains("left alone"), "{err}");
    assert!(!dropin(&t).exists(), "{err}");
    assert!(other.is_file(), "{err}");
    let (wanting, there) = wanting_the_wait_unit(&t);
    assert!(there || system_wait_unit(), "{wanting:?}");
    let err = ok(&t.run(
        "rootlet",
        &[
            "docker",
            "disable",
            "--no-reload",
            "--unit=containerd.service",
        ],
    ));
    assert!(!err.contains("nothing of rootlet's"), "{err}");
    assert_eq!(snapshot(&t.home()), before, "{err}");
}

/// N13, records of the first layout (one for all units, `docker/50-rootlet.conf.written`):
/// taken over by the unit whose drop-in they match, so `disable` still removes it.
#[test]
fn n13_records_of_the_first_layout_are_taken_over() {
    let t = home();
    let before = snapshot(&t.home());
    ok(&t.run("rootlet", &["docker", "enable", "--no-reload"]));
    let docker = t.home().join(".local/share/rootlet/docker");
    for e in std::fs::read_dir(docker.join("docker.service")).unwrap() {
        let e = e.unwrap();
        std::fs::rename(e.path(), docker.join(e.file_name())).unwrap();
    }
    std::fs::remove_dir(docker.join("docker.service")).unwrap();
    let err = ok(&t.run("rootlet", &["docker", "disable", "--no-reload"]));
    assert!(!dropin(&t).exists(), "{err}");
    assert_eq!(snapshot(&t.home()), before, "{err}");
}

/// N18 (b): `enable` then `disable` leave no `~/.local/share/rootlet` (nor the parents
/// its lock created); (a) the empty temporary of a killed `enable` goes at the next run.
#[test]
fn n18_enable_disable_leaves_the_home_as_it_was_even_after_a_kill() {
    let t = home();
    let before = snapshot(&t.home());
    ok(&t.run("rootlet", &["docker", "enable", "--no-reload"]));
    ok(&t.run("rootlet", &["docker", "disable", "--no-reload"]));
    assert_eq!(snapshot(&t.home()), before);

    if Command::new("strace").arg("-V").output().is_err() {
        crate::util::skip("strace is not installed: cannot kill at a chosen write");
        return;
    }
    // Killed at each write in turn (an empty temporary left each time), then run again.
    for when in 1..30 {
        let o = killed_at(&t, "write", when, &["docker", "enable", "--no-reload"]);
        ok(&t.run("rootlet", &["docker", "enable", "--no-reload"]));
        ok(&t.run("rootlet", &["docker", "disable", "--no-reload"]));
        assert_eq!(snapshot(&t.home()), before, "killed at write {when}");
        if o.status.success() {
            return;
        }
    }
    panic!("enable never completed under strace");
}

/// A `kill -9` at any removal of `disable` (with `install --user` sharing the wait unit):
/// run again, it finishes; the wait unit stays for the install, and once that is undone
/// too the home is as it was.
#[test]
fn a_killed_disable_finishes_when_run_again() {
    if Command::new("strace").arg("-V").output().is_err() {
        crate::util::skip("strace is not installed: cannot kill at a chosen point");
        return;
    }
    for with_install in [false, true] {
        for call in ["unlink", "rename", "rmdir"] {
            for when in 1..40 {
                let t = home();
                t.write_home(".config/containers/systemd/web.container", WEB);
                let before = snapshot(&t.home());
                ok(&t.run("rootlet", &["docker", "enable", "--no-reload"]));
                if with_install {
                    ok(&t.run("rootlet", &["install", "--user", "--no-systemctl"]));
                }
                let disable = ["docker", "disable", "--no-reload"];
                let o = killed_at(&t, call, when, &disable);
                ok(&t.run("rootlet", &disable));
                let (wanting, there) = wanting_the_wait_unit(&t);
                assert!(
                    wanting.is_empty() || there,
                    "kill at {call} {when}: {wanting:?}"
                );
                if with_install {
                    ok(&t.run("rootlet", &["uninstall", "--user", "--no-systemctl"]));
                }
                assert_eq!(snapshot(&t.home()), before, "kill at {call} {when}");
                if o.status.success() {
                    break;
                }
            }
        }
    }
}

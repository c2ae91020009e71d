//! `rootlet install --user`, the regenerate service it installs, and `uninstall --user`, in
//! a temporary HOME (no systemd: `XDG_RUNTIME_DIR` points at an empty directory, so no user
//! manager is reachable and rootlet prints the systemctl commands instead).

use crate::util::{self, UserEnv};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Every path under `dir`, with the target of symlinks and the content of files.
fn listing(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, v: &mut Vec<String>) {
        for e in fs::read_dir(d).unwrap().map(|e| e.unwrap()) {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                v.push(format!("{rel} -> {}", fs::read_link(&p).unwrap().display()));
            } else if ft.is_dir() {
                v.push(format!("{rel}/"));
                walk(base, &p, v);
            } else {
                v.push(format!(
                    "{rel}: {}",
                    fs::read_to_string(&p).unwrap_or_default()
                ));
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "failed: {err}");
    err
}

const WEB: &str = "[Container]\nImage=localhost/web\n[Install]\nWantedBy=default.target\n";
const SOCK: &str = "[Socket]\nListenStream=127.0.0.1:8080\n[Install]\nWantedBy=sockets.target\n";
const DB: &str = "[Container]\nImage=localhost/db\n";
const QUADLET: &str = ".config/containers/systemd";
const OUT: &str = ".local/share/systemd/user";
const UNITS: &str = ".config/systemd/user";

/// Undo systemd's quoting of one unit-file value: `%%` and `$$` (rootlet writes no other
/// specifiers or variables into these units).
fn unspecify(w: &str) -> String {
    w.replace("%%", "%").replace("$$", "$")
}

/// Run the installed service's command line the way the user manager would: its
/// `Environment=` lines and `ExecStart=`, unquoted as systemd does.
fn run_service(t: &UserEnv) -> Output {
    let text = fs::read_to_string(t.home().join(UNITS).join("rootlet-regenerate.service")).unwrap();
    run_service_text(t, &text)
}

fn run_service_text(t: &UserEnv, text: &str) -> Output {
    let exec = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart= in the service");
    // The executable: only specifiers are expanded there; arguments: `$$` too.
    let words: Vec<String> = rootlet::exec::split(exec)
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                w.replace("%%", "%")
            } else {
                unspecify(w)
            }
        })
        .collect();
    let mut c = t.cmd(&words[0]);
    c.args(&words[1..]);
    for l in text.lines() {
        if let Some(v) = l.strip_prefix("Environment=") {
            let v = rootlet::exec::split(v).unwrap().remove(0);
            let (k, val) = v.split_once('=').unwrap();
            c.env(k, val.replace("%%", "%"));
        }
    }
    c.output().unwrap()
}

#[test]
fn install_writes_units_and_generates() {
    let t = UserEnv::new("inst-writes");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    t.write_home(&format!("{QUADLET}/web.socket"), SOCK);
    let err = ok(&t.run("rootlet", &["install", "--user"]));
    assert!(err.contains("systemctl --user daemon-reload"), "{err}");
    let h = t.home();
    let path = fs::read_to_string(h.join(UNITS).join("rootlet-regenerate.path")).unwrap();
    assert!(
        path.contains("PathChanged=%h/.config/containers/systemd\n"),
        "{path}"
    );
    assert!(path.contains("Unit=rootlet-regenerate.service\n"), "{path}");
    assert!(!path.contains("@bindir@"));
    let svc = fs::read_to_string(h.join(UNITS).join("rootlet-regenerate.service")).unwrap();
    let bindir = Path::new(env!("CARGO_BIN_EXE_rootlet")).parent().unwrap();
    assert!(
        svc.contains(&format!(
            "ExecStart={}/rootlet regenerate\n",
            bindir.display()
        )),
        "{svc}"
    );
    assert_eq!(
        fs::read_link(
            h.join(UNITS)
                .join("default.target.wants/rootlet-regenerate.path")
        )
        .unwrap(),
        Path::new("../rootlet-regenerate.path")
    );
    let out = h.join(OUT);
    assert!(out.join("web.service").is_file());
    assert!(out.join("web.socket").is_file());
    assert_eq!(
        fs::read_link(out.join("default.target.wants/web.service")).unwrap(),
        Path::new("../web.service")
    );
    assert_eq!(
        fs::read_link(out.join("sockets.target.wants/web.socket")).unwrap(),
        Path::new("../web.socket")
    );
    let manifest = fs::read_to_string(h.join(".local/share/rootlet/generated.list")).unwrap();
    assert!(manifest.contains("\nfile out web.service "), "{manifest}");
    assert!(
        manifest.contains("\nlink out default.target.wants/web.service ../web.service\n"),
        "{manifest}"
    );
    // Installing twice is fine and changes nothing.
    let before = listing(&h);
    ok(&t.run("rootlet", &["install", "--user"]));
    assert_eq!(before, listing(&h));
}

#[test]
fn service_regenerates_prunes_and_spares_foreign_files() {
    let t = UserEnv::new("inst-regen");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    t.write_home(&format!("{QUADLET}/db.container"), DB);
    // The user's own units in the output directory, one with a name rootlet would produce.
    t.write_home(
        &format!("{OUT}/mine.service"),
        "[Service]\nExecStart=/bin/true\n",
    );
    t.write_home(&format!("{OUT}/default.target.wants/.keep"), "");
    t.write_home(
        &format!("{OUT}/cache.service"),
        "[Service]\nExecStart=/bin/true\n",
    );
    ok(&t.run("rootlet", &["install", "--user"]));
    let out = t.home().join(OUT);
    assert!(out.join("db.service").is_file());

    // A new source, a changed one, a removed one, and one whose name is the user's.
    t.write_home(&format!("{QUADLET}/api.container"), WEB);
    t.write_home(&format!("{QUADLET}/cache.container"), DB);
    t.write_home(
        &format!("{QUADLET}/web.container"),
        "[Container]\nImage=localhost/web2\n",
    );
    fs::remove_file(t.home().join(QUADLET).join("db.container")).unwrap();
    let o = run_service(&t);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "foreign cache.service is reported: {err}"
    );
    assert!(
        err.contains("cache.service: exists and was not written by rootlet"),
        "{err}"
    );
    assert!(out.join("api.service").is_file());
    assert_eq!(
        fs::read_link(out.join("default.target.wants/api.service")).unwrap(),
        Path::new("../api.service")
    );
    assert!(fs::read_to_string(out.join("web.service"))
        .unwrap()
        .contains("localhost/web2"));
    // web lost its [Install]: its symlink goes; db is gone entirely.
    assert!(fs::symlink_metadata(out.join("default.target.wants/web.service")).is_err());
    assert!(!out.join("db.service").exists());
    // Foreign files untouched.
    assert_eq!(
        fs::read_to_string(out.join("cache.service")).unwrap(),
        "[Service]\nExecStart=/bin/true\n"
    );
    assert!(out.join("mine.service").is_file());
    assert!(out.join("default.target.wants/.keep").is_file());
}

#[test]
fn uninstall_restores_the_tree() {
    let t = UserEnv::new("inst-uninst");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    t.write_home(&format!("{QUADLET}/web.socket"), SOCK);
    t.write_home(
        &format!("{OUT}/mine.service"),
        "[Service]\nExecStart=/bin/true\n",
    );
    t.write_home(".config/rootlet/defaults.conf", "[Service]\nRestartSec=5\n");
    let before = listing(&t.home());
    ok(&t.run("rootlet", &["install", "--user"]));
    // A unit written by the user after the install, beside the generated ones.
    t.write_home(
        &format!("{UNITS}/other.service"),
        "[Service]\nExecStart=/bin/true\n",
    );
    assert_ne!(before, listing(&t.home()));
    ok(&t.run("rootlet", &["uninstall", "--user"]));
    fs::remove_file(t.home().join(UNITS).join("other.service")).unwrap();
    // Only the user's file kept ~/.config/systemd/user alive; remove it, then compare.
    let mut after = listing(&t.home());
    let leftovers = [".config/systemd/", ".config/systemd/user/"];
    after.retain(|l| !leftovers.contains(&l.as_str()));
    assert_eq!(before, after);
    // Nothing left to uninstall.
    let err = ok(&t.run("rootlet", &["uninstall", "--user"]));
    assert!(err.contains("nothing to uninstall"), "{err}");
}

#[test]
fn uninstall_exact_without_user_changes() {
    let t = UserEnv::new("inst-exact");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    let before = listing(&t.home());
    ok(&t.run("rootlet", &["install", "--user"]));
    ok(&run_service(&t));
    ok(&t.run("rootlet", &["uninstall", "--user"]));
    assert_eq!(before, listing(&t.home()));
}

#[test]
fn install_refuses_a_foreign_unit_of_its_name() {
    let t = UserEnv::new("inst-refuse");
    t.write_home(&format!("{UNITS}/rootlet-regenerate.path"), "[Path]\n");
    let before = listing(&t.home());
    let o = t.run("rootlet", &["install", "--user"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not written by rootlet"));
    assert_eq!(before, listing(&t.home()));
}

#[test]
fn custom_dirs_are_watched_and_passed_to_the_service() {
    let t = UserEnv::new("inst-custom");
    let src = t.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("web.container"), WEB).unwrap();
    let o = t
        .cmd(util::bin("rootlet"))
        .args(["install", "--user"])
        .env("ROOTLET_UNIT_DIRS", &src)
        .env("XDG_DATA_HOME", t.path().join("data"))
        .output()
        .unwrap();
    ok(&o);
    let path = fs::read_to_string(t.home().join(UNITS).join("rootlet-regenerate.path")).unwrap();
    assert!(
        path.contains(&format!("PathChanged={}\n", src.display())),
        "{path}"
    );
    assert!(!path.contains("%h/.config/containers/systemd"), "{path}");
    let svc = fs::read_to_string(t.home().join(UNITS).join("rootlet-regenerate.service")).unwrap();
    assert!(
        svc.contains(&format!(
            "Environment=\"ROOTLET_UNIT_DIRS={}\"",
            src.display()
        )),
        "{svc}"
    );
    assert!(t.path().join("data/systemd/user/web.service").is_file());
    assert!(t.path().join("data/rootlet/installed.list").is_file());
}

#[test]
fn install_needs_user() {
    let t = UserEnv::new("inst-nouser");
    let o = t.run("rootlet", &["install"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn installed_units_pass_systemd_analyze_verify() {
    let Some(sa) = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("systemd-analyze"))
        .find(|p| p.is_file())
    else {
        crate::util::skip("systemd-analyze is not installed; installed units not verified");
        return;
    };
    let t = UserEnv::new("inst-verify");
    fs::set_permissions(
        t.path().join("run"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    ok(&t.run("rootlet", &["install", "--user"]));
    let dir = t.home().join(UNITS);
    let units: Vec<PathBuf> = ["rootlet-regenerate.path", "rootlet-regenerate.service"]
        .iter()
        .map(|u| dir.join(u))
        .collect();
    let o = t
        .cmd(sa.to_str().unwrap())
        .args(["--user", "verify", "--man=no"])
        .args(&units)
        .current_dir(&dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.success() && text.trim().is_empty(),
        "systemd-analyze verify: {text}"
    );
}

#[test]
fn regenerate_without_changes_writes_nothing() {
    let t = UserEnv::new("inst-idle");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    ok(&t.run("rootlet", &["install", "--user"]));
    let before = listing(&t.home());
    let err = ok(&run_service(&t));
    assert!(err.contains("0 written, 0 removed"), "{err}");
    // Nothing changed, so no reload is asked for.
    assert!(!err.contains("daemon-reload"), "{err}");
    assert_eq!(before, listing(&t.home()));
}

#[test]
fn fingerprint_sees_edits_renames_and_dropins() {
    let t = UserEnv::new("inst-fp");
    let src = t.path().join("src");
    fs::create_dir_all(src.join("web.container.d")).unwrap();
    fs::write(src.join("web.container"), WEB).unwrap();
    let roots = [rootlet::search::Root::new(src.clone())];
    let a = rootlet::install::fingerprint(&roots);
    assert_eq!(a, rootlet::install::fingerprint(&roots));
    fs::write(src.join("web.container.d/x.conf"), "[Container]\n").unwrap();
    let b = rootlet::install::fingerprint(&roots);
    assert_ne!(a, b);
    fs::rename(src.join("web.container"), src.join("api.container")).unwrap();
    assert_ne!(b, rootlet::install::fingerprint(&roots));
}

// ---------------------------------------------------------------------------------------
// The adversarial audit of 2026-11-30: one test per finding.

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Run `script` with `sh` in a private mount namespace (mounts there vanish with it).
/// `None` (and a loud note) when not root or no `unshare`.
fn in_mount_ns(t: &UserEnv, script: &str, env: &[(&str, &std::ffi::OsStr)]) -> Option<Output> {
    if !is_root() {
        crate::util::skip("not root: cannot mount a tmpfs in a private namespace");
        return None;
    }
    let mut c = t.cmd("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c", script])
        .env("ROOTLET", env!("CARGO_BIN_EXE_rootlet"))
        .env("T", t.path());
    for (k, v) in env {
        c.env(k, v);
    }
    match c.output() {
        Ok(o) => Some(o),
        Err(e) => {
            crate::util::skip(&format!("cannot run unshare: {e}"));
            None
        }
    }
}

fn regen(t: &UserEnv) -> Output {
    t.run("rootlet", &["regenerate", "--no-systemctl"])
}

#[test]
fn f1_symlinked_unit_is_foreign() {
    let t = UserEnv::new("inst-f1");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    ok(&regen(&t));
    let out = t.home().join(OUT);
    let dot = t.path().join("dotfiles-web.service");
    fs::write(&dot, "[Unit]\nDescription=my own hand-written web\n").unwrap();
    fs::remove_file(out.join("web.service")).unwrap();
    std::os::unix::fs::symlink(&dot, out.join("web.service")).unwrap();
    // No source change, then a change: the link's target is never written.
    for round in 0..2 {
        if round == 1 {
            t.write_home(
                &format!("{QUADLET}/web.container"),
                "[Container]\nImage=localhost/web2\n",
            );
        }
        let o = regen(&t);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("web.service: exists and was not written by rootlet"),
            "{}",
            stderr(&o)
        );
        assert_eq!(
            fs::read_to_string(&dot).unwrap(),
            "[Unit]\nDescription=my own hand-written web\n"
        );
        assert_eq!(fs::read_link(out.join("web.service")).unwrap(), dot);
    }
    // Install: a symlink planted at an installed unit's name is refused, never written.
    let t = UserEnv::new("inst-f1i");
    ok(&t.run("rootlet", &["install", "--user", "--no-systemctl"]));
    let victim = t.path().join("victim15.txt");
    fs::write(&victim, "precious").unwrap();
    let svc = t.home().join(UNITS).join("rootlet-regenerate.service");
    fs::remove_file(&svc).unwrap();
    std::os::unix::fs::symlink(&victim, &svc).unwrap();
    let o = t.run("rootlet", &["install", "--user", "--no-systemctl"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not written by rootlet"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(fs::read_link(&svc).unwrap(), victim);
}

#[test]
fn f2_symlinked_temporary_and_pending_lists_are_not_written_through() {
    let t = UserEnv::new("inst-f2");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    ok(&t.run("rootlet", &["install", "--user", "--no-systemctl"]));
    let state = t.home().join(".local/share/rootlet");
    let victim = t.path().join("victim2.txt");
    fs::write(&victim, "precious2").unwrap();
    // The old fixed temporary names: never used now.
    for n in ["generated.list.tmp", "installed.list.tmp"] {
        std::os::unix::fs::symlink(&victim, state.join(n)).unwrap();
    }
    t.write_home(&format!("{QUADLET}/db.container"), DB);
    ok(&regen(&t));
    ok(&t.run("rootlet", &["install", "--user", "--no-systemctl"]));
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious2");
    assert!(t.home().join(OUT).join("db.service").is_file());
    // A symlink in place of a list rootlet writes is foreign: refused, named, untouched.
    for (n, args) in [
        ("generated.pending", &["regenerate", "--no-systemctl"][..]),
        (
            "installed.pending",
            &["install", "--user", "--no-systemctl"][..],
        ),
        ("generated.list", &["regenerate", "--no-systemctl"][..]),
    ] {
        let p = state.join(n);
        let saved = fs::read(&p).ok();
        let _ = fs::remove_file(&p);
        std::os::unix::fs::symlink(&victim, &p).unwrap();
        let o = t.run("rootlet", args);
        assert_eq!(o.status.code(), Some(1), "{n}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!(
                "{}: exists and was not written by rootlet",
                p.display()
            )),
            "{}",
            stderr(&o)
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious2");
        assert_eq!(fs::read_link(&p).unwrap(), victim);
        fs::remove_file(&p).unwrap();
        if let Some(b) = saved {
            fs::write(&p, b).unwrap();
        }
    }
    ok(&regen(&t));
}

#[test]
fn f3_manifest_entries_outside_rootlets_dirs_are_ignored() {
    let t = UserEnv::new("inst-f3");
    let state = t.home().join(".local/share/rootlet");
    fs::create_dir_all(&state).unwrap();
    let v = t.path().join("victim3a.txt");
    fs::write(&v, "important").unwrap();
    fs::create_dir(t.path().join("emptydir3")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", t.path().join("victimlink3")).unwrap();
    let hash_line = |p: &Path| {
        // A correct-looking second-format entry that climbs out with `..`.
        format!(
            "file out ../../../../{}\n",
            p.file_name().unwrap().to_string_lossy()
        )
    };
    let list = format!(
        "file {0}/victim3a.txt\nlink {0}/victimlink3\ndir {0}/emptydir3\n{1}file out /etc/passwd 0000000000000000-0\n\
         dir out ..\ncreated out 99\nfile {2}/../../../victim3a.txt\n",
        t.path().display(),
        hash_line(&v),
        t.home().join(OUT).display()
    );
    fs::write(state.join("generated.list"), &list).unwrap();
    fs::write(state.join("installed.list"), &list).unwrap();
    let o = regen(&t);
    ok(&o);
    assert!(stderr(&o).contains("0 removed"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&v).unwrap(), "important");
    assert!(t.path().join("emptydir3").is_dir());
    assert!(fs::symlink_metadata(t.path().join("victimlink3")).is_ok());
    fs::write(state.join("generated.list"), &list).unwrap();
    let o = t.run("rootlet", &["uninstall", "--user", "--no-systemctl"]);
    assert!(!stderr(&o).contains("victim"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&v).unwrap(), "important");
    assert!(t.path().join("emptydir3").is_dir());
    assert!(fs::symlink_metadata(t.path().join("victimlink3")).is_ok());
    assert!(t.home().is_dir());
}

/// Many `regenerate` runs at once over hundreds of units, in rounds that add, change and
/// remove sources: afterwards every unit is on disk as generated, listed, and updated;
/// stale ones are removed; uninstall leaves the home directory as it was.
#[test]
fn f4_concurrent_regenerates_lose_nothing() {
    const PROCS: usize = 8;
    const ROUNDS: usize = 4;
    const PER_ROUND: usize = 75;
    let t = UserEnv::new("inst-f4");
    let src = t.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let data = t.home().join("data");
    let env = |c: &mut Command| {
        c.env("ROOTLET_UNIT_DIRS", &src).env("XDG_DATA_HOME", &data);
    };
    let before = listing(&t.home());
    let mut c = t.cmd(util::bin("rootlet"));
    env(&mut c);
    ok(&c
        .args(["install", "--user", "--no-systemctl"])
        .output()
        .unwrap());
    let out = data.join("systemd/user");
    let mut live: Vec<String> = Vec::new();
    for round in 0..ROUNDS {
        for i in 0..PER_ROUND {
            let n = format!("n{round}-{i}");
            fs::write(
                src.join(format!("{n}.container")),
                format!("[Container]\nImage=localhost/{n}:r{round}\n[Install]\nWantedBy=default.target\n"),
            )
            .unwrap();
            live.push(n);
        }
        // Change every unit of the previous round, remove a third of the oldest.
        for n in live
            .iter()
            .filter(|n| n.starts_with(&format!("n{}-", round.wrapping_sub(1))))
        {
            fs::write(
                src.join(format!("{n}.container")),
                format!("[Container]\nImage=localhost/{n}:changed{round}\n"),
            )
            .unwrap();
        }
        if round >= 2 {
            let gone: Vec<String> = live
                .iter()
                .filter(|n| n.starts_with("n0-"))
                .take(25)
                .cloned()
                .collect();
            for n in &gone {
                fs::remove_file(src.join(format!("{n}.container"))).unwrap();
            }
            live.retain(|n| !gone.contains(n));
        }
        let children: Vec<_> = (0..PROCS)
            .map(|_| {
                let mut c = t.cmd(util::bin("rootlet"));
                env(&mut c);
                c.args(["regenerate", "--no-systemctl"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for ch in children {
            ok(&ch.wait_with_output().unwrap());
        }
        let manifest = fs::read_to_string(data.join("rootlet/generated.list")).unwrap();
        let units: Vec<String> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".service"))
            .collect();
        assert_eq!(units.len(), live.len(), "round {round}: units on disk");
        for n in &live {
            let text = fs::read_to_string(out.join(format!("{n}.service"))).unwrap();
            let src_text = fs::read_to_string(src.join(format!("{n}.container"))).unwrap();
            let image = src_text
                .lines()
                .find_map(|l| l.strip_prefix("Image="))
                .unwrap();
            assert!(text.contains(image), "round {round}: {n} not updated");
            assert!(
                manifest.contains(&format!("\nfile out {n}.service ")),
                "round {round}: {n} not tracked"
            );
            let wanted = src_text.contains("WantedBy");
            let link = out.join(format!("default.target.wants/{n}.service"));
            assert_eq!(
                fs::symlink_metadata(&link).is_ok(),
                wanted,
                "round {round}: {n} link"
            );
        }
        assert!(!data.join("rootlet/generated.pending").exists());
    }
    // Every source gone: every unit goes.
    for n in &live {
        fs::remove_file(src.join(format!("{n}.container"))).unwrap();
    }
    let mut c = t.cmd(util::bin("rootlet"));
    env(&mut c);
    ok(&c.args(["regenerate", "--no-systemctl"]).output().unwrap());
    assert_eq!(listing(&out), Vec::<String>::new());
    let mut c = t.cmd(util::bin("rootlet"));
    env(&mut c);
    ok(&c
        .args(["uninstall", "--user", "--no-systemctl"])
        .output()
        .unwrap());
    assert_eq!(before, listing(&t.home()));
}

/// A run killed (`kill -9`) at any point that changes the file system (each rename,
/// mkdir, symlink and unlink in turn) must leave nothing that a later run takes for its
/// own: the file the user then writes at the unit's path, and the wants link, are neither
/// overwritten nor deleted, with the source removed or kept.
#[test]
fn f5_interrupted_run_never_claims_the_users_files() {
    if Command::new("strace").arg("-V").output().is_err() {
        crate::util::skip("strace is not installed: cannot kill at a chosen point");
        return;
    }
    const CALLS: &str = "rename,renameat,renameat2,mkdir,mkdirat,symlink,symlinkat,unlink,unlinkat";
    let mine = "[Unit]\nDescription=my own web\n[Service]\nExecStart=/bin/true\n";
    let mut killed = 0;
    // One system call at a time: strace counts each call of a set on its own.
    for (keep_source, call) in [false, true]
        .into_iter()
        .flat_map(|k| CALLS.split(',').map(move |c| (k, c)))
    {
        for when in 1.. {
            let t = UserEnv::new("inst-f5");
            t.write_home(&format!("{QUADLET}/web.container"), WEB);
            if killed_at(&t, call, when, &["regenerate", "--no-systemctl"]) {
                break; // No such point any more: the run went through.
            }
            killed += 1;
            let out = t.home().join(OUT);
            // The user writes their own unit and wants link.
            t.write_home(&format!("{OUT}/web.service"), mine);
            let link = out.join("default.target.wants/web.service");
            if fs::symlink_metadata(&link).is_err() {
                t.write_home(&format!("{OUT}/default.target.wants/.keep"), "");
                std::os::unix::fs::symlink("../web.service", &link).unwrap();
            }
            if !keep_source {
                fs::remove_file(t.home().join(QUADLET).join("web.container")).unwrap();
            }
            let o = regen(&t);
            let err = stderr(&o);
            assert!(err.contains("0 removed"), "kill at {call} {when}: {err}");
            assert_eq!(
                fs::read_to_string(out.join("web.service")).unwrap(),
                mine,
                "kill at {call} {when}: {err}"
            );
            assert_eq!(
                fs::read_link(&link).unwrap(),
                Path::new("../web.service"),
                "kill at {call} {when}: {err}"
            );
            // The temporary files of the killed run are swept (provably rootlet's).
            for d in [out.clone(), out.join("default.target.wants")] {
                let names: Vec<String> = fs::read_dir(&d)
                    .map(|rd| {
                        rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                assert!(
                    !names.iter().any(|n| n.ends_with(".tmp")),
                    "kill at {call} {when}: {names:?}"
                );
            }
            assert!(when < 40, "the run never completes under strace");
        }
    }
    assert!(killed >= 4, "only {killed} kill points");
    // Killed after the unit was written: the next run adopts it (it is exactly what
    // rootlet wrote) and tracks it.
    let t = UserEnv::new("inst-f5b");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    let o = t
        .cmd("strace")
        .args([
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "trace=symlinkat,symlink",
        ])
        .args(["-e", "inject=symlinkat,symlink:signal=KILL:when=1"])
        .args([
            env!("CARGO_BIN_EXE_rootlet"),
            "regenerate",
            "--no-systemctl",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    ok(&regen(&t));
    fs::remove_file(t.home().join(QUADLET).join("web.container")).unwrap();
    let o = regen(&t);
    assert!(stderr(&o).contains("2 removed"), "{}", stderr(&o));
    assert!(!t.home().join(OUT).join("web.service").exists());
}

/// On a full disk the unit in place stays whole: never truncated, never empty.
#[test]
fn f7_full_disk_keeps_the_old_unit() {
    let t = UserEnv::new("inst-f7");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    let out = t.home().join(OUT);
    fs::create_dir_all(&out).unwrap();
    let big = format!(
        "[Container]\nImage=localhost/web\nEnvironment=X={}\n",
        "y".repeat(6000)
    );
    let script = r#"set -e
mount -t tmpfs -o size=16k tmpfs "$OUT"
"$ROOTLET" regenerate --no-systemctl
cp "$OUT/web.service" "$T/before"
dd if=/dev/zero of="$OUT/filler" bs=1k count=64 2>/dev/null || true
printf '%s' "$BIG" > "$SRC"
set +e
"$ROOTLET" regenerate --no-systemctl 2> "$T/err"
echo $? > "$T/rc"
cp "$OUT/web.service" "$T/after"
ls -a "$OUT" > "$T/ls"
"#;
    let src = t.home().join(QUADLET).join("web.container");
    let Some(o) = in_mount_ns(
        &t,
        script,
        &[
            ("OUT", out.as_os_str()),
            ("BIG", big.as_ref()),
            ("SRC", src.as_os_str()),
        ],
    ) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    let err = fs::read_to_string(t.path().join("err")).unwrap();
    assert_eq!(
        fs::read_to_string(t.path().join("rc")).unwrap().trim(),
        "1",
        "{err}"
    );
    assert!(err.contains("No space left on device"), "{err}");
    assert!(
        err.contains("web.service"),
        "the message names the unit: {err}"
    );
    let before = fs::read(t.path().join("before")).unwrap();
    assert!(before.len() > 100);
    assert_eq!(before, fs::read(t.path().join("after")).unwrap());
    let ls = fs::read_to_string(t.path().join("ls")).unwrap();
    assert!(!ls.contains(".tmp"), "no temporary file left: {ls}");
}

#[test]
fn f8_non_utf8_data_home_keeps_tracking() {
    use std::os::unix::ffi::OsStrExt;
    let t = UserEnv::new("inst-f8");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    let data = t.path().join(std::ffi::OsStr::from_bytes(b"data\xff"));
    let run = |args: &[&str]| {
        t.cmd(util::bin("rootlet"))
            .args(args)
            .env("XDG_DATA_HOME", &data)
            .output()
            .unwrap()
    };
    ok(&run(&["regenerate", "--no-systemctl"]));
    let out = data.join("systemd/user");
    assert!(out.join("web.service").is_file());
    t.write_home(
        &format!("{QUADLET}/web.container"),
        "[Container]\nImage=localhost/web2\n",
    );
    let err = ok(&run(&["regenerate", "--no-systemctl"]));
    assert!(!err.contains("not written by rootlet"), "{err}");
    assert!(fs::read_to_string(out.join("web.service"))
        .unwrap()
        .contains("localhost/web2"));
    ok(&run(&["uninstall", "--user", "--no-systemctl"]));
    assert!(!out.join("web.service").exists());
    assert!(
        !data.exists(),
        "the directories rootlet created are gone too"
    );
}

#[test]
fn f10_symlinked_wants_dir_is_foreign() {
    let t = UserEnv::new("inst-f10");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    let outside = t.path().join("outside12");
    fs::create_dir_all(&outside).unwrap();
    let out = t.home().join(OUT);
    fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("default.target.wants")).unwrap();
    let o = regen(&t);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o)
            .contains("default.target.wants/web.service: exists (or its directory is a symlink)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    assert!(out.join("web.service").is_file());
    let manifest =
        fs::read_to_string(t.home().join(".local/share/rootlet/generated.list")).unwrap();
    assert!(!manifest.contains("wants"), "{manifest}");
}

#[test]
fn i2_install_values_with_newlines_are_refused() {
    for (k, v) in [
        (
            "PODMAN",
            "/usr/bin/podman\nExecStartPre=/bin/touch /tmp/pwned17",
        ),
        ("ROOTLET_UNIT_DIRS", "/src\n[Unit]\nOnFailure=evil.service"),
    ] {
        let t = UserEnv::new("inst-i2");
        let before = listing(&t.home());
        let o = t
            .cmd(util::bin("rootlet"))
            .args(["install", "--user", "--no-systemctl"])
            .env(k, v)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(k) && stderr(&o).contains("refused"),
            "{}",
            stderr(&o)
        );
        assert_eq!(before, listing(&t.home()), "nothing written");
    }
}

/// A bindir with a space and a `$` (rootlet found through `current_exe()`): the installed
/// units run it, and systemd-analyze accepts them.
#[test]
fn i2_bindir_with_space_and_dollar_works() {
    let t = UserEnv::new("inst-i2b");
    let bin = t.path().join("my $bin %d");
    fs::create_dir_all(&bin).unwrap();
    for b in [
        env!("CARGO_BIN_EXE_rootlet"),
        env!("CARGO_BIN_EXE_rootlet-wait-online"),
    ] {
        let dst = bin.join(Path::new(b).file_name().unwrap());
        if fs::hard_link(b, &dst).is_err() {
            fs::copy(b, &dst).unwrap();
        }
    }
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    let o = t
        .cmd(bin.join("rootlet"))
        .args(["install", "--user", "--no-systemctl"])
        .output()
        .unwrap();
    ok(&o);
    let svc = fs::read_to_string(t.home().join(UNITS).join("rootlet-regenerate.service")).unwrap();
    assert!(
        svc.contains("ExecStart=\"") && svc.contains("my $bin %%d/rootlet\""),
        "{svc}"
    );
    t.write_home(&format!("{QUADLET}/db.container"), DB);
    ok(&run_service(&t));
    assert!(t.home().join(OUT).join("db.service").is_file());
    let Ok(sa) = t.cmd("systemd-analyze").arg("--version").output() else {
        crate::util::skip("systemd-analyze is not installed; units not verified");
        return;
    };
    assert!(sa.status.success());
    fs::set_permissions(
        t.path().join("run"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let dir = t.home().join(UNITS);
    let o = t
        .cmd("systemd-analyze")
        .args(["--user", "verify", "--man=no"])
        .args([
            dir.join("rootlet-regenerate.path"),
            dir.join("rootlet-regenerate.service"),
            dir.join("rootlet-wait-online.service"),
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(
        o.status.success() && text.trim().is_empty(),
        "verify: {text}"
    );
}

/// Names that begin with `-` reach `systemctl` after `--`, never as options.
#[test]
fn i3_names_starting_with_a_dash_follow_double_dash() {
    let t = UserEnv::new("inst-i3");
    let log = t.logging_program("systemctl", "");
    fs::write(t.path().join("run/bus"), "").unwrap();
    for n in ["-leading", "-M.x", "--help"] {
        t.write_home(
            &format!("{QUADLET}/{n}.container"),
            "[Container]\nImage=x\n[Install]\nWantedBy=default.target\n",
        );
    }
    ok(&t.run("rootlet", &["regenerate"]));
    let log = fs::read_to_string(&log).unwrap();
    assert!(
        log.contains(
            "[--user] [start] [--no-block] [--] [--help.service] [-M.x.service] [-leading.service]"
        ),
        "{log}"
    );
}

#[test]
fn u6_errors_name_the_manifest_and_relative_output_works() {
    let t = UserEnv::new("inst-u6");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    let state = t.home().join(".local/share/rootlet");
    fs::create_dir_all(state.join("generated.list")).unwrap();
    let o = regen(&t);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("generated.list: not a regular file"),
        "{}",
        stderr(&o)
    );
    fs::remove_dir(state.join("generated.list")).unwrap();
    // A non-UTF-8 manifest is read (its lines are bytes), not an error.
    fs::write(state.join("generated.list"), b"\xff\xfe garbage\n").unwrap();
    ok(&regen(&t));
    // `-o relative`, from the current directory.
    let cwd = t.path().join("cwd");
    fs::create_dir_all(&cwd).unwrap();
    let o = t
        .cmd(util::bin("rootlet"))
        .args(["regenerate", "--no-systemctl", "-o", "rel/out"])
        .current_dir(&cwd)
        .output()
        .unwrap();
    ok(&o);
    assert!(cwd.join("rel/out/web.service").is_file());
    // Its units are tracked apart from the output directory's: both are kept.
    assert!(t.home().join(OUT).join("web.service").is_file());
    fs::remove_file(t.home().join(QUADLET).join("web.container")).unwrap();
    let o = t
        .cmd(util::bin("rootlet"))
        .args(["regenerate", "--no-systemctl", "-o", "rel/out"])
        .current_dir(&cwd)
        .output()
        .unwrap();
    ok(&o);
    assert!(!cwd.join("rel/out/web.service").exists());
    assert!(t.home().join(OUT).join("web.service").is_file());
}

#[test]
fn u7_foreign_link_is_not_counted_as_a_foreign_unit() {
    let t = UserEnv::new("inst-u7");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    let out = t.home().join(OUT);
    fs::create_dir_all(out.join("default.target.wants")).unwrap();
    std::os::unix::fs::symlink("/dev/null", out.join("default.target.wants/web.service")).unwrap();
    let o = regen(&t);
    let err = stderr(&o);
    assert!(err.contains("1 unit(s) generated"), "{err}");
    assert!(err.contains("1 written"), "{err}");
    assert!(err.contains("link not made"), "{err}");
    assert!(!err.contains("not generated"), "{err}");
    assert_eq!(
        fs::read_link(out.join("default.target.wants/web.service")).unwrap(),
        Path::new("/dev/null")
    );
}

/// Once a system-wide wait unit exists, re-running `install --user` removes rootlet's own
/// `~/.config` copy (which would shadow it); a copy the user changed stays.
#[test]
fn u10_stale_wait_unit_copy_is_removed_once_a_system_one_exists() {
    let t = UserEnv::new("inst-u10");
    let wait = t.home().join(UNITS).join("rootlet-wait-online.service");
    let system_has_one = SYSTEM_DIRS
        .iter()
        .any(|d| Path::new(d).join("rootlet-wait-online.service").exists());
    if system_has_one {
        crate::util::skip("this machine has a system-wide rootlet-wait-online.service");
        return;
    }
    ok(&t.run("rootlet", &["install", "--user", "--no-systemctl"]));
    assert!(wait.is_file());
    let script = r#"set -e
mkdir -p /etc/xdg/systemd/user
mount -t tmpfs tmpfs /etc/xdg/systemd/user
touch /etc/xdg/systemd/user/rootlet-wait-online.service
"$ROOTLET" install --user --no-systemctl 2> "$T/err1"
cp "$T/mine" "$WAIT"
"$ROOTLET" install --user --no-systemctl 2> "$T/err2" || true
"#;
    fs::write(t.path().join("mine"), "[Service]\nExecStart=/bin/true\n").unwrap();
    let Some(o) = in_mount_ns(&t, script, &[("WAIT", wait.as_os_str())]) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    let err1 = fs::read_to_string(t.path().join("err1")).unwrap();
    assert!(
        err1.contains("removed") && err1.contains("rootlet-wait-online.service"),
        "{err1}"
    );
    assert!(
        !err1.contains(&format!("installed {}", wait.display())),
        "{err1}"
    );
    let err2 = fs::read_to_string(t.path().join("err2")).unwrap();
    assert!(err2.contains("shadows the system-wide"), "{err2}");
    // The user's own file at that name (written after) is left alone.
    assert_eq!(
        fs::read_to_string(&wait).unwrap(),
        "[Service]\nExecStart=/bin/true\n"
    );
    let list = fs::read_to_string(t.home().join(".local/share/rootlet/installed.list")).unwrap();
    assert!(!list.contains("rootlet-wait-online"), "{list}");
}
const SYSTEM_DIRS: &[&str] = rootlet::env::SYSTEM_USER_UNIT_DIRS;

/// Two runs at once: the second waits for the lock and then does its work.
#[test]
fn f4_second_run_waits_for_the_lock() {
    let t = UserEnv::new("inst-lock");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    ok(&regen(&t));
    let state = t.home().join(".local/share/rootlet");
    let lock = fs::OpenOptions::new()
        .write(true)
        .open(state.join("lock"))
        .unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    t.write_home(&format!("{QUADLET}/db.container"), DB);
    let child = t
        .cmd(util::bin("rootlet"))
        .args(["regenerate", "--no-systemctl"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(!t.home().join(OUT).join("db.service").exists(), "it waits");
    drop(lock);
    let o = child.wait_with_output().unwrap();
    let err = ok(&o);
    assert!(err.contains("another rootlet run is under way"), "{err}");
    assert!(t.home().join(OUT).join("db.service").is_file());
}

// ---------------------------------------------------------------------------------------
// Property tests of the ownership rules: the manifest round-trips any name, and
// `regenerate` never changes or deletes anything it did not write, whatever is planted in
// its output directory and whatever its manifest and pending list say (stale, corrupt,
// pointing outside).

mod props {
    use proptest::prelude::*;
    use rootlet::install::manifest::{self, Base, Bases, Digest, Entry, Item, Name};
    use rootlet::install::regenerate::{apply, Planned};
    use rootlet::install::{pending_path, Lock};
    use std::fs;
    use std::os::unix::fs::symlink;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    fn name_bytes() -> impl Strategy<Value = Vec<u8>> {
        let comp = prop::collection::vec(
            any::<u8>().prop_filter("no / nor NUL", |b| *b != b'/' && *b != 0),
            1..12,
        );
        (comp.clone(), prop::option::of(comp)).prop_map(|(a, b)| match b {
            Some(b) => [a, b"/".to_vec(), b].concat(),
            None => a,
        })
    }

    fn entry() -> impl Strategy<Value = Entry> {
        let base = prop_oneof![Just(Base::Out), Just(Base::Units), Just(Base::State)];
        prop_oneof![
            (base.clone(), name_bytes(), any::<u64>(), any::<u32>()).prop_filter_map(
                "valid name",
                |(base, n, fnv, len)| Some(Entry::At {
                    base,
                    name: Name::new(&n)?,
                    item: Item::File(Some(Digest {
                        fnv,
                        len: u64::from(len)
                    })),
                })
            ),
            (
                base.clone(),
                name_bytes(),
                prop::collection::vec(any::<u8>(), 0..20)
            )
                .prop_filter_map("valid name", |(base, n, t)| Some(Entry::link(
                    base,
                    Name::new(&n)?,
                    &t
                ))),
            (base.clone(), name_bytes()).prop_filter_map("valid name", |(base, n)| Some(
                Entry::dir(base, Name::new(&n)?)
            )),
            (base, 1u8..=16).prop_map(|(base, n)| Entry::Created { base, n }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn manifest_round_trips_any_bytes(entries in prop::collection::vec(entry(), 0..20)) {
            let bases = Bases { out: None, units: None, state: None };
            let text = manifest::render(&entries);
            let (back, bad) = manifest::parse(&text, &bases);
            prop_assert_eq!(bad, 0);
            prop_assert_eq!(back, entries);
        }

        #[test]
        fn manifest_garbage_never_escapes(text in prop::collection::vec(any::<u8>(), 0..400)) {
            let out = Path::new("/h/out");
            let bases = Bases { out: Some(out), units: None, state: None };
            let (entries, _) = manifest::parse(&text, &bases);
            for e in entries {
                if let Entry::At { name, .. } = e {
                    let p = out.join(name.as_os_str());
                    prop_assert!(p.starts_with(out));
                    prop_assert!(!p.components().any(|c| matches!(c, std::path::Component::ParentDir)));
                    prop_assert!(p.components().count() <= out.components().count() + 2);
                }
            }
        }
    }

    /// What a name in the output directory may be made into before the second run.
    #[derive(Debug, Clone)]
    enum Plant {
        Leave,
        /// A regular file of the user's (replacing rootlet's, if there was one).
        File(Vec<u8>),
        /// A symlink to the victim outside.
        LinkOut,
        /// A symlink with the target rootlet itself would use.
        LinkSame,
        /// A directory with a file in it.
        Dir,
    }

    const UNITS: &[&str] = &["a.service", "b.service", "c.socket", "-d.service"];

    fn plant() -> impl Strategy<Value = Plant> {
        prop_oneof![
            3 => Just(Plant::Leave),
            2 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Plant::File),
            1 => Just(Plant::LinkOut),
            1 => Just(Plant::LinkSame),
            1 => Just(Plant::Dir),
        ]
    }

    fn plan_strategy() -> impl Strategy<Value = Vec<Planned>> {
        prop::collection::vec((any::<bool>(), any::<bool>(), 0u8..3), UNITS.len()).prop_map(|v| {
            v.into_iter()
                .zip(UNITS)
                .filter(|((on, _, _), _)| *on)
                .map(|((_, wanted, version), n)| Planned {
                    name: (*n).to_owned(),
                    text: format!("[Unit]\nDescription={n} v{version}\n"),
                    links: if wanted {
                        vec![(format!("default.target.wants/{n}"), format!("../{n}"))]
                    } else {
                        vec![]
                    },
                })
                .collect()
        })
    }

    /// A line that may end up in a manifest: stale, corrupt, or aimed outside.
    fn bad_line() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..40),
            (0..UNITS.len(), any::<u64>()).prop_map(|(i, h)| format!(
                "file out {} {h:016x}-10",
                UNITS[i]
            )
            .into_bytes()),
            // A claim that does not describe what is there (a claim that does, target
            // and all, is rootlet's by definition).
            (0..UNITS.len()).prop_map(|i| format!(
                "link out default.target.wants/{} ../zz-{}",
                UNITS[i], UNITS[i]
            )
            .into_bytes()),
            (0..UNITS.len()).prop_map(|i| format!("link out {} /victim", UNITS[i]).into_bytes()),
            Just(b"dir out default.target.wants".to_vec()),
            Just(b"file VICTIM".to_vec()),
            Just(b"link out ../victim ../victim".to_vec()),
            Just(b"file out ../outside/victim 0000000000000000-0".to_vec()),
            Just(b"created out 16".to_vec()),
        ]
    }

    #[derive(Debug, PartialEq)]
    enum Snap {
        File(Vec<u8>),
        Link(PathBuf),
        Dir(Vec<(String, Vec<u8>)>),
    }

    fn snap(p: &Path) -> Option<Snap> {
        let md = fs::symlink_metadata(p).ok()?;
        Some(if md.file_type().is_symlink() {
            Snap::Link(fs::read_link(p).unwrap())
        } else if md.is_dir() {
            let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(p)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    let c = fs::read(e.path()).unwrap_or_default();
                    (e.file_name().to_string_lossy().into_owned(), c)
                })
                .collect();
            v.sort();
            Snap::Dir(v)
        } else {
            Snap::File(fs::read(p).unwrap())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        /// Run 1 writes units; then names are replaced by foreign things, the wants
        /// directory perhaps by a symlink, the manifest and pending list corrupted; run 2
        /// must leave every foreign thing exactly as it was, and everything outside.
        #[test]
        fn regenerate_never_changes_a_foreign_file(
            first in plan_strategy(),
            second in plan_strategy(),
            plants in prop::collection::vec(plant(), UNITS.len() * 2),
            wants_dir_link in prop::bool::weighted(0.15),
            extra in prop::collection::vec(bad_line(), 0..8),
            pending in prop::collection::vec(bad_line(), 0..4),
            truncate_manifest in any::<bool>(),
        ) {
            let t = tempfile::tempdir().unwrap();
            let out = t.path().join("out");
            let state = t.path().join("state");
            let outside = t.path().join("outside");
            fs::create_dir_all(&outside).unwrap();
            let victim = outside.join("victim");
            fs::write(&victim, "precious").unwrap();
            let list = state.join("generated.list");
            let lock = Lock::acquire(&state, true, Duration::from_secs(30), |_| {}).unwrap();
            apply(&out, &list, &first, &lock).unwrap();

            // Plant foreign things.
            let mut foreign: Vec<PathBuf> = Vec::new();
            let wants = out.join("default.target.wants");
            if wants_dir_link {
                let _ = fs::remove_dir_all(&wants);
                symlink(&outside, &wants).unwrap();
                foreign.push(wants.clone());
            }
            for (i, p) in plants.iter().enumerate() {
                let n = UNITS[i % UNITS.len()];
                let path = if i < UNITS.len() { out.join(n) } else { wants.join(n) };
                if matches!(p, Plant::Leave) || (i >= UNITS.len() && wants_dir_link) {
                    continue;
                }
                if matches!(p, Plant::LinkSame)
                    && fs::read_link(&path).is_ok_and(|t| t == Path::new(&format!("../{n}")))
                {
                    // Identical to rootlet's own link: nothing foreign to plant.
                    continue;
                }
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent).unwrap();
                }
                match fs::symlink_metadata(&path) {
                    Ok(md) if md.is_dir() => fs::remove_dir_all(&path).unwrap(),
                    Ok(_) => fs::remove_file(&path).unwrap(),
                    Err(_) => {}
                }
                match p {
                    Plant::Leave => unreachable!(),
                    Plant::File(c) => fs::write(&path, c).unwrap(),
                    Plant::LinkOut => symlink(&victim, &path).unwrap(),
                    Plant::LinkSame => symlink(format!("../{n}"), &path).unwrap(),
                    Plant::Dir => {
                        fs::create_dir(&path).unwrap();
                        fs::write(path.join("inner"), "mine").unwrap();
                    }
                }
                foreign.push(path);
            }
            // Corrupt the manifest, plant a stale pending list.
            let mut text = fs::read(&list).unwrap();
            if truncate_manifest {
                text.truncate(text.len() / 2);
            }
            for l in &extra {
                text.push(b'\n');
                let v = String::from_utf8_lossy(l).replace("VICTIM", &victim.display().to_string());
                text.extend_from_slice(v.as_bytes());
                text.push(b'\n');
            }
            fs::write(&list, &text).unwrap();
            let mut ptext = Vec::new();
            for l in &pending {
                ptext.extend_from_slice(l);
                ptext.push(b'\n');
            }
            fs::write(pending_path(&list), &ptext).unwrap();

            let before: Vec<(PathBuf, Option<Snap>)> = foreign.iter().map(|p| (p.clone(), snap(p))).collect();
            let outside_before = snap(&outside);
            let r = apply(&out, &list, &second, &lock);
            prop_assert!(r.is_ok(), "{:?}", r.err());
            for (p, s) in before {
                prop_assert_eq!(snap(&p), s, "{} changed", p.display());
            }
            prop_assert_eq!(snap(&outside), outside_before);
            prop_assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
            // What the second run wants is there as planned, or was reported.
            let r = r.unwrap();
            for p in &second {
                let path = out.join(&p.name);
                let is_planned = fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
                    && fs::read_to_string(&path).unwrap_or_default() == p.text;
                prop_assert!(is_planned || r.foreign_units.contains(&p.name), "{} neither written nor reported", p.name);
            }
            prop_assert!(!pending_path(&list).exists());
        }
    }
}

/// An install made by the first version (manifests of absolute paths, no hashes; the
/// service without a start timeout): the new version takes it over, its units are
/// rootlet's, and uninstall still restores the tree.
#[test]
fn upgrade_from_first_manifest_format() {
    let t = UserEnv::new("inst-upgrade");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    t.write_home(&format!("{QUADLET}/db.container"), DB);
    let before = listing(&t.home());
    ok(&t.run("rootlet", &["install", "--user", "--no-systemctl"]));
    let h = t.home();
    let units = h.join(UNITS);
    let out = h.join(OUT);
    // What the first version wrote.
    let svc = units.join("rootlet-regenerate.service");
    let text = fs::read_to_string(&svc).unwrap();
    let v1 = &text[..text
        .find("# A oneshot service has no start timeout")
        .unwrap()];
    fs::write(&svc, v1).unwrap();
    let dirs = |base: &Path, upto: &str| -> String {
        let mut v = Vec::new();
        let mut d = base.to_owned();
        while d != h && d.starts_with(&h) {
            v.push(format!("dir {}\n", d.display()));
            if d.ends_with(upto) {
                break;
            }
            d = d.parent().unwrap().to_owned();
        }
        v.concat()
    };
    let installed = format!(
        "# Written by rootlet: what it put on disk. Do not edit.\n\
         file {u}/rootlet-regenerate.path\nfile {u}/rootlet-regenerate.service\n\
         file {u}/rootlet-wait-online.service\nlink {u}/default.target.wants/rootlet-regenerate.path\n\
         dir {u}/default.target.wants\n{}{}{}",
        dirs(&units, ".config/systemd"),
        dirs(&out, ".local"),
        dirs(&h.join(".local/share/rootlet"), "rootlet"),
        u = units.display()
    );
    let generated = format!(
        "# Written by rootlet: what it put on disk. Do not edit.\n\
         dir {o}/default.target.wants\nfile {o}/db.service\nfile {o}/web.service\n\
         link {o}/default.target.wants/web.service\n",
        o = out.display()
    );
    let state = h.join(".local/share/rootlet");
    fs::write(state.join("installed.list"), installed).unwrap();
    fs::write(state.join("generated.list"), generated).unwrap();
    fs::remove_file(state.join("lock")).unwrap();

    let err = ok(&t.run("rootlet", &["install", "--user", "--no-systemctl"]));
    assert!(!err.contains("not written by rootlet"), "{err}");
    assert!(fs::read_to_string(&svc)
        .unwrap()
        .contains("TimeoutStartSec="));
    let list = fs::read_to_string(state.join("generated.list")).unwrap();
    assert!(list.contains("\nfile out db.service "), "{list}");
    fs::remove_file(h.join(QUADLET).join("db.container")).unwrap();
    let err = ok(&regen(&t));
    assert!(err.contains("1 removed"), "{err}");
    ok(&t.run("rootlet", &["uninstall", "--user", "--no-systemctl"]));
    let mut before = before;
    before.retain(|l| !l.starts_with(".config/containers/systemd/db.container"));
    assert_eq!(before, listing(&h));
}

/// A read-only output directory: the error names the file concerned, nothing is
/// recorded that was not written, and once writable again the next run completes.
#[test]
fn u6_read_only_output_dir_error_names_the_file() {
    let t = UserEnv::new("inst-ro");
    t.write_home(&format!("{QUADLET}/web.container"), WEB);
    let out = t.home().join(OUT);
    fs::create_dir_all(&out).unwrap();
    let script = r#"set -e
mount -t tmpfs -o ro tmpfs "$OUT"
set +e
"$ROOTLET" regenerate --no-systemctl 2> "$T/err"
echo $? > "$T/rc"
mount -o remount,rw "$OUT"
"$ROOTLET" regenerate --no-systemctl 2> "$T/err2"
echo $? > "$T/rc2"
ls -a "$OUT" > "$T/ls"
"#;
    let Some(o) = in_mount_ns(&t, script, &[("OUT", out.as_os_str())]) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    let err = fs::read_to_string(t.path().join("err")).unwrap();
    assert_eq!(fs::read_to_string(t.path().join("rc")).unwrap().trim(), "1");
    assert!(
        err.contains(&format!(
            "{}: Read-only file system",
            out.join("web.service").display()
        )),
        "{err}"
    );
    let err2 = fs::read_to_string(t.path().join("err2")).unwrap();
    assert_eq!(
        fs::read_to_string(t.path().join("rc2")).unwrap().trim(),
        "0",
        "{err2}"
    );
    assert!(err2.contains("2 written"), "{err2}");
    let ls = fs::read_to_string(t.path().join("ls")).unwrap();
    assert!(ls.contains("web.service") && !ls.contains(".tmp"), "{ls}");
}

/// `systemctl --user enable` of a generated unit makes a link in `~/.config/systemd/user`
/// (a directory rootlet installs into) to the real file in `~/.local/share/systemd/user`:
/// the user's, so regenerate and a second install keep it; when uninstall (or a removed
/// source) takes the unit away, the dangling link stays and is reported.
#[test]
fn enable_links_are_the_users_kept_and_reported() {
    let t = UserEnv::new("inst-enable");
    t.write_home(&format!("{QUADLET}/db.container"), DB);
    t.write_home(
        &format!("{QUADLET}/web@.container"),
        "[Container]\nImage=localhost/web\n[Install]\nWantedBy=default.target\n",
    );
    ok(&t.run("rootlet", &["install", "--user"]));
    let out = t.home().join(OUT);
    let wants = t.home().join(UNITS).join("default.target.wants");
    // As systemctl 252 writes them: absolute targets.
    let links = [
        ("db.service", out.join("db.service")),
        ("web@a.service", out.join("web@.service")),
    ];
    for (l, target) in &links {
        assert!(target.is_file(), "{}", target.display());
        std::os::unix::fs::symlink(target, wants.join(l)).unwrap();
    }
    let kept = |when: &str| {
        for (l, target) in &links {
            assert_eq!(
                fs::read_link(wants.join(l)).ok().as_ref(),
                Some(target),
                "{l} after {when}"
            );
        }
    };
    ok(&run_service(&t));
    ok(&t.run("rootlet", &["regenerate"]));
    kept("regenerate");
    ok(&t.run("rootlet", &["install", "--user"]));
    kept("a second install");
    // A source removed: its unit goes, the link stays, reported.
    fs::remove_file(t.home().join(QUADLET).join("db.container")).unwrap();
    let err = ok(&t.run("rootlet", &["regenerate"]));
    kept("a removed source");
    assert!(!out.join("db.service").exists());
    assert!(
        err.contains("default.target.wants/db.service")
            && err.contains("systemctl --user disable -- db.service"),
        "{err}"
    );
    assert!(!err.contains("web@a.service"), "{err}");
    let err = ok(&t.run("rootlet", &["uninstall", "--user"]));
    kept("uninstall");
    for l in ["db.service", "web@a.service"] {
        assert!(
            err.contains(&format!("systemctl --user disable -- {l}` removes it")),
            "{l}: {err}"
        );
    }
    assert_eq!(
        rootlet::install::dangling_links(&t.home().join(UNITS), &out)
            .into_iter()
            .map(|(l, _)| l)
            .collect::<Vec<_>>(),
        vec![wants.join("db.service"), wants.join("web@a.service")]
    );
}

fn have_strace() -> bool {
    if Command::new("strace").arg("-V").output().is_err() {
        crate::util::skip("strace is not installed: cannot kill at a chosen point");
        return false;
    }
    true
}

/// `rootlet ARGS`, killed (SIGKILL) at the `when`-th call of the system call `call`;
/// whether it went through instead (fewer such calls than `when`). One system call at a
/// time: strace counts each system call of a set on its own, so a set would reach only the
/// points where one of them is the first to get to `when`.
fn killed_at(t: &UserEnv, call: &str, when: usize, args: &[&str]) -> bool {
    let o = t
        .cmd("strace")
        .args([
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            &format!("trace={call}"),
        ])
        .args(["-e", &format!("inject={call}:signal=KILL:when={when}")])
        .arg(env!("CARGO_BIN_EXE_rootlet"))
        .args(args)
        .output()
        .unwrap();
    o.status.success()
}

const A_WANTED: &str =
    "[Container]\nImage=docker.io/library/nginx\n[Install]\nWantedBy=default.target\n";
const A_PLAIN: &str = "[Container]\nImage=docker.io/library/nginx\n";

/// N14: a `kill -9` at any removal while a unit and its `[Install]` link are pruned: the
/// next run removes what is left, so a later unit of that name without `[Install]` is not
/// enabled by a forgotten link, and uninstall leaves the home as it was.
#[test]
fn n14_a_kill_while_pruning_never_leaves_a_link_behind() {
    if !have_strace() {
        return;
    }
    for call in ["unlink", "unlinkat", "rmdir"] {
        for when in 1.. {
            let t = UserEnv::new("inst-n14");
            fs::create_dir_all(t.home().join(QUADLET)).unwrap();
            let before = listing(&t.home());
            let src = t.home().join(QUADLET).join("a.container");
            fs::write(&src, A_WANTED).unwrap();
            ok(&regen(&t));
            fs::remove_file(&src).unwrap();
            let through = killed_at(&t, call, when, &["regenerate", "--no-systemctl"]);
            let err = ok(&regen(&t));
            assert!(
                !err.contains("no longer rootlet's"),
                "kill at {call} {when}: {err}"
            );
            fs::write(&src, A_PLAIN).unwrap();
            ok(&regen(&t));
            let link = t.home().join(OUT).join("default.target.wants/a.service");
            assert!(
                fs::symlink_metadata(&link).is_err(),
                "kill at {call} {when}: a.service is still enabled"
            );
            fs::remove_file(&src).unwrap();
            ok(&regen(&t));
            ok(&t.run("rootlet", &["uninstall", "--user", "--no-systemctl"]));
            assert_eq!(listing(&t.home()), before, "kill at {call} {when}");
            if through {
                break;
            }
            assert!(when < 40, "the run never completes under strace");
        }
    }
}

/// N18 (a): a `kill -9` at any write of `install --user` (an empty `.#NAME.PID.N.tmp`
/// left: killed between creating a temporary file and writing it), or at any other step
/// that changes the tree: the next install sweeps what it left and keeps the user's own
/// unit, and uninstall leaves the home as it was.
#[test]
fn n18_temporaries_of_a_killed_install_are_swept() {
    if !have_strace() {
        return;
    }
    let calls = [
        "write",
        "renameat",
        "rename",
        "mkdir",
        "mkdirat",
        "symlinkat",
        "unlinkat",
        "unlink",
    ];
    for call in calls {
        for when in 1.. {
            let t = UserEnv::new("inst-n18a");
            t.write_home(&format!("{QUADLET}/a.container"), A_WANTED);
            t.write_home(
                &format!("{UNITS}/mine.service"),
                "[Service]\nExecStart=/bin/true\n",
            );
            let before = listing(&t.home());
            let install = ["install", "--user", "--no-systemctl"];
            let through = killed_at(&t, call, when, &install);
            ok(&t.run("rootlet", &install));
            let temps: Vec<String> = listing(&t.home())
                .into_iter()
                .filter(|l| l.contains("/.#") || l.starts_with(".#"))
                .collect();
            assert!(temps.is_empty(), "kill at {call} {when}: {temps:?}");
            ok(&t.run("rootlet", &["uninstall", "--user", "--no-systemctl"]));
            assert_eq!(listing(&t.home()), before, "kill at {call} {when}");
            if through {
                break;
            }
            assert!(when < 60, "the run never completes under strace");
        }
    }
}

/// A temporary of the name rootlet would use that is not what rootlet was writing (the
/// user's, or of a process still running) is never swept.
#[test]
fn n18_a_temporary_rootlet_did_not_write_stays() {
    let t = UserEnv::new("inst-n18keep");
    t.write_home(&format!("{QUADLET}/a.container"), A_WANTED);
    ok(&regen(&t));
    let out = t.home().join(OUT);
    // A dead pid (far above pid_max), and this process's own (alive).
    let dead = out.join(".#a.service.2147483000.0.tmp");
    let alive = out.join(format!(".#a.service.{}.0.tmp", std::process::id()));
    fs::write(&dead, "the user's notes\n").unwrap();
    fs::write(&alive, "").unwrap();
    // Planted as an interrupted run's pending list would have it.
    let list = t.home().join(".local/share/rootlet/generated.list");
    fs::copy(&list, list.with_extension("pending")).unwrap();
    ok(&regen(&t));
    assert!(dead.is_file() && alive.is_file());
}

/// N18 (c): a regenerate that waited for an uninstall (which removed the state directory
/// and its parents meanwhile) records the directories it makes again, so a later
/// uninstall removes them.
#[test]
fn n18_a_run_that_waited_for_an_uninstall_records_what_it_created() {
    let t = UserEnv::new("inst-n18c");
    fs::create_dir_all(t.home().join(QUADLET)).unwrap();
    let before = listing(&t.home());
    t.write_home(&format!("{QUADLET}/a.container"), A_PLAIN);
    ok(&regen(&t));
    let local = t.home().join(".local");
    let lock = fs::OpenOptions::new()
        .write(true)
        .open(local.join("share/rootlet/lock"))
        .unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let mut child = t
        .cmd(util::bin("rootlet"))
        .args(["regenerate", "--no-systemctl"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it says it waits, then do what an uninstall does meanwhile.
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("under way") {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut err, &mut line).unwrap() > 0,
            "it never waited"
        );
    }
    // Taken away in one step, as uninstall takes the state directory away (renamed, then
    // emptied): the waiting run may start over and make its chain again meanwhile, which a
    // remove_dir_all of the place itself would race with (ENOTEMPTY, seen on a loaded run).
    let gone = t.home().join(".local-taken-away");
    fs::rename(&local, &gone).unwrap();
    fs::remove_dir_all(&gone).unwrap();
    drop(lock);
    assert!(child.wait().unwrap().success());
    fs::remove_file(t.home().join(QUADLET).join("a.container")).unwrap();
    ok(&regen(&t));
    ok(&t.run("rootlet", &["uninstall", "--user", "--no-systemctl"]));
    assert_eq!(listing(&t.home()), before);
}

/// N18: a `kill -9` at any removal of `uninstall --user`: run again, it finishes, and the
/// home is as it was before the install. Once the manifests are gone a rerun has nothing
/// to uninstall; what is left then is the state directory's chain under the record of its
/// lock (or renamed away to a temporary name, the record inside), and the next run that
/// takes the lock removes it: nothing is forgotten.
#[test]
fn n18_a_killed_uninstall_finishes_when_run_again() {
    if !have_strace() {
        return;
    }
    let uninstall = ["uninstall", "--user", "--no-systemctl"];
    for call in ["unlink", "unlinkat", "rename", "rmdir"] {
        for when in 1.. {
            let t = UserEnv::new("inst-n18u");
            t.write_home(&format!("{QUADLET}/a.container"), A_WANTED);
            let before = listing(&t.home());
            ok(&t.run("rootlet", &["install", "--user", "--no-systemctl"]));
            let through = killed_at(&t, call, when, &uninstall);
            ok(&t.run("rootlet", &uninstall));
            let after = listing(&t.home());
            let extra: Vec<&String> = after.iter().filter(|l| !before.contains(l)).collect();
            assert!(
                extra
                    .iter()
                    .all(|l| l.starts_with(".local/") || l.starts_with(".#.local.")),
                "kill at {call} {when}: {after:#?}"
            );
            if !extra.is_empty() {
                // The next run that takes the lock (here a regenerate, then its uninstall).
                ok(&regen(&t));
                ok(&t.run("rootlet", &uninstall));
            }
            assert_eq!(listing(&t.home()), before, "kill at {call} {when}");
            if through {
                break;
            }
            assert!(when < 60, "the run never completes under strace");
        }
    }
}

//! `rootlet install --user`, the regenerate service it installs, and `uninstall --user`, in
//! a temporary HOME (no systemd: `XDG_RUNTIME_DIR` points at an empty directory, so no user
//! manager is reachable and rootlet prints the systemctl commands instead).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Tmp(PathBuf);

impl Tmp {
    fn new(name: &str) -> Tmp {
        let d = std::env::temp_dir().join(format!("rootlet-inst-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("home")).unwrap();
        fs::create_dir_all(d.join("run")).unwrap();
        Tmp(d)
    }
    fn home(&self) -> PathBuf {
        self.0.join("home")
    }
    fn write(&self, rel: &str, text: &str) {
        let p = self.home().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_RUNTIME_DIR", self.0.join("run"));
        c
    }
    fn rootlet(&self, args: &[&str]) -> Output {
        self.cmd(env!("CARGO_BIN_EXE_rootlet"))
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

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

/// Run the installed service's command line the way the user manager would: its
/// `Environment=` lines and `ExecStart=`.
fn run_service(t: &Tmp) -> Output {
    let text = fs::read_to_string(t.home().join(UNITS).join("rootlet-regenerate.service")).unwrap();
    let exec = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart= in the service");
    let words: Vec<&str> = exec.split_whitespace().collect();
    let mut c = t.cmd(words[0]);
    c.args(&words[1..]);
    for l in text.lines() {
        if let Some(v) = l.strip_prefix("Environment=") {
            let v = v.trim_matches('"');
            let (k, val) = v.split_once('=').unwrap();
            c.env(k, val);
        }
    }
    c.output().unwrap()
}

#[test]
fn install_writes_units_and_generates() {
    let t = Tmp::new("writes");
    t.write(&format!("{QUADLET}/web.container"), WEB);
    t.write(&format!("{QUADLET}/web.socket"), SOCK);
    let err = ok(&t.rootlet(&["install", "--user"]));
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
    assert!(manifest.contains(&format!("file {}\n", out.join("web.service").display())));
    // Installing twice is fine and changes nothing.
    let before = listing(&h);
    ok(&t.rootlet(&["install", "--user"]));
    assert_eq!(before, listing(&h));
}

#[test]
fn service_regenerates_prunes_and_spares_foreign_files() {
    let t = Tmp::new("regen");
    t.write(&format!("{QUADLET}/web.container"), WEB);
    t.write(&format!("{QUADLET}/db.container"), DB);
    // The user's own units in the output directory, one with a name rootlet would produce.
    t.write(
        &format!("{OUT}/mine.service"),
        "[Service]\nExecStart=/bin/true\n",
    );
    t.write(&format!("{OUT}/default.target.wants/.keep"), "");
    t.write(
        &format!("{OUT}/cache.service"),
        "[Service]\nExecStart=/bin/true\n",
    );
    ok(&t.rootlet(&["install", "--user"]));
    let out = t.home().join(OUT);
    assert!(out.join("db.service").is_file());

    // A new source, a changed one, a removed one, and one whose name is the user's.
    t.write(&format!("{QUADLET}/api.container"), WEB);
    t.write(&format!("{QUADLET}/cache.container"), DB);
    t.write(
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
    let t = Tmp::new("uninst");
    t.write(&format!("{QUADLET}/web.container"), WEB);
    t.write(&format!("{QUADLET}/web.socket"), SOCK);
    t.write(
        &format!("{OUT}/mine.service"),
        "[Service]\nExecStart=/bin/true\n",
    );
    t.write(".config/rootlet/defaults.conf", "[Service]\nRestartSec=5\n");
    let before = listing(&t.home());
    ok(&t.rootlet(&["install", "--user"]));
    // A unit written by the user after the install, beside the generated ones.
    t.write(
        &format!("{UNITS}/other.service"),
        "[Service]\nExecStart=/bin/true\n",
    );
    assert_ne!(before, listing(&t.home()));
    ok(&t.rootlet(&["uninstall", "--user"]));
    fs::remove_file(t.home().join(UNITS).join("other.service")).unwrap();
    // Only the user's file kept ~/.config/systemd/user alive; remove it, then compare.
    let mut after = listing(&t.home());
    let leftovers = [".config/systemd/", ".config/systemd/user/"];
    after.retain(|l| !leftovers.contains(&l.as_str()));
    assert_eq!(before, after);
    // Nothing left to uninstall.
    let err = ok(&t.rootlet(&["uninstall", "--user"]));
    assert!(err.contains("nothing to uninstall"), "{err}");
}

#[test]
fn uninstall_exact_without_user_changes() {
    let t = Tmp::new("exact");
    t.write(&format!("{QUADLET}/web.container"), WEB);
    let before = listing(&t.home());
    ok(&t.rootlet(&["install", "--user"]));
    ok(&run_service(&t));
    ok(&t.rootlet(&["uninstall", "--user"]));
    assert_eq!(before, listing(&t.home()));
}

#[test]
fn install_refuses_a_foreign_unit_of_its_name() {
    let t = Tmp::new("refuse");
    t.write(&format!("{UNITS}/rootlet-regenerate.path"), "[Path]\n");
    let before = listing(&t.home());
    let o = t.rootlet(&["install", "--user"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not installed by rootlet"));
    assert_eq!(before, listing(&t.home()));
}

#[test]
fn custom_dirs_are_watched_and_passed_to_the_service() {
    let t = Tmp::new("custom");
    let src = t.0.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("web.container"), WEB).unwrap();
    let o = t
        .cmd(env!("CARGO_BIN_EXE_rootlet"))
        .args(["install", "--user"])
        .env("ROOTLET_UNIT_DIRS", &src)
        .env("XDG_DATA_HOME", t.0.join("data"))
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
    assert!(t.0.join("data/systemd/user/web.service").is_file());
    assert!(t.0.join("data/rootlet/installed.list").is_file());
}

#[test]
fn install_needs_user() {
    let t = Tmp::new("nouser");
    let o = t.rootlet(&["install"]);
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
        eprintln!("SKIPPED LOUDLY: systemd-analyze is not installed; installed units not verified");
        return;
    };
    let t = Tmp::new("verify");
    fs::set_permissions(
        t.0.join("run"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    ok(&t.rootlet(&["install", "--user"]));
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
    let t = Tmp::new("idle");
    t.write(&format!("{QUADLET}/web.container"), WEB);
    ok(&t.rootlet(&["install", "--user"]));
    let before = listing(&t.home());
    let err = ok(&run_service(&t));
    assert!(err.contains("0 written, 0 removed"), "{err}");
    // Nothing changed, so no reload is asked for.
    assert!(!err.contains("daemon-reload"), "{err}");
    assert_eq!(before, listing(&t.home()));
}

#[test]
fn fingerprint_sees_edits_renames_and_dropins() {
    let t = Tmp::new("fp");
    let src = t.0.join("src");
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

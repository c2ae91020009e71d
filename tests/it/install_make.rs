//! `make install DESTDIR=...` and `make uninstall`: every file where it belongs, unit
//! templates filled. Uses the binaries cargo built for the tests (TARGETDIR), so no release
//! build is needed. Skips, loudly, where make is missing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, v: &mut Vec<String>) {
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.map(|e| e.unwrap()) {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, v);
            } else {
                v.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

fn make(args: &[&str], destdir: &Path) -> Option<std::process::Output> {
    let bin = Path::new(env!("CARGO_BIN_EXE_rootlet")).parent().unwrap();
    let r = Command::new("make")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--no-print-directory")
        .args(args)
        .arg(format!("DESTDIR={}", destdir.display()))
        .arg(format!("TARGETDIR={}", bin.display()))
        .output();
    match r {
        Ok(o) => Some(o),
        Err(e) => {
            crate::util::skip(&format!(
                "cannot run make ({e}): install it (apt-get install make)"
            ));
            None
        }
    }
}

fn check_prefix(prefix: &str, generators: &str, units: &str) {
    let dest: PathBuf = std::env::temp_dir().join(format!(
        "rootlet-make-{}-{}",
        std::process::id(),
        prefix.replace('/', "_")
    ));
    let _ = fs::remove_dir_all(&dest);
    let prefix_arg = format!("PREFIX={prefix}");
    let Some(o) = make(&["install", &prefix_arg], &dest) else {
        return;
    };
    assert!(
        o.status.success(),
        "make install failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let got = files(&dest);
    let p = prefix.trim_start_matches('/');
    let mut want = vec![
        format!("{p}/bin/rootlet"),
        format!("{p}/bin/rootlet-wait-online"),
        format!("{generators}/rootlet-user-generator"),
        format!("{units}/rootlet-regenerate.path"),
        format!("{units}/rootlet-regenerate.service"),
        format!("{p}/share/man/man1/rootlet.1"),
        format!("{p}/share/man/man5/rootlet.unit.5"),
        format!("{p}/share/man/man8/rootlet-user-generator.8"),
        format!("{p}/share/man/man8/rootlet-wait-online.8"),
        format!("{p}/share/bash-completion/completions/rootlet"),
        format!("{p}/share/zsh/site-functions/_rootlet"),
        format!("{p}/share/fish/vendor_completions.d/rootlet.fish"),
    ];
    // Every template of units/ is installed, whoever wrote it.
    for e in fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("units")).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(u) = n.strip_suffix(".in") {
            want.push(format!("{units}/{u}"));
        }
    }
    for w in &want {
        assert!(got.contains(w), "{w} not installed; got {got:#?}");
    }
    let unit_dir = dest.join(units);
    for f in files(&unit_dir) {
        let text = fs::read_to_string(unit_dir.join(&f)).unwrap();
        assert!(!text.contains("@bindir@"), "{f} still has @bindir@");
    }
    let svc = fs::read_to_string(unit_dir.join("rootlet-regenerate.service")).unwrap();
    assert!(
        svc.contains(&format!("ExecStart={prefix}/bin/rootlet regenerate\n")),
        "{svc}"
    );
    let Some(o) = make(&["uninstall", &prefix_arg], &dest) else {
        return;
    };
    assert!(o.status.success());
    assert_eq!(
        files(&dest),
        Vec::<String>::new(),
        "left after make uninstall"
    );
    let _ = fs::remove_dir_all(&dest);
}

#[test]
fn make_install_usr_local() {
    check_prefix(
        "/usr/local",
        "usr/local/lib/systemd/user-generators",
        "usr/local/lib/systemd/user",
    );
}

#[test]
fn make_install_usr() {
    // With PREFIX=/usr the directories come from systemd.pc, which on Debian and Fedora
    // says /usr/lib/systemd/...; the fallback is the same.
    check_prefix(
        "/usr",
        "usr/lib/systemd/user-generators",
        "usr/lib/systemd/user",
    );
}

/// Every subcommand of `rootlet --help` is completed by each shell and documented.
#[test]
fn completions_and_man_page_cover_every_subcommand() {
    let o = Command::new(env!("CARGO_BIN_EXE_rootlet"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&o.stdout).into_owned();
    let cmds: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .and_then(|s| s.split("Options:").next())
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(cmds.contains(&"install"), "{help}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in [
        "completions/rootlet.bash",
        "completions/_rootlet",
        "completions/rootlet.fish",
        "man/rootlet.1",
    ] {
        let text = fs::read_to_string(root.join(f)).unwrap();
        for c in &cmds {
            assert!(text.contains(c), "{f} does not mention `{c}`");
        }
    }
}

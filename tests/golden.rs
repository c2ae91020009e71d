//! Golden cases: `tests/cases/NAME/input/` is a source directory; the generator's output for
//! it must equal `tests/cases/NAME/expected/` byte for byte, symlinks included, and its
//! error messages must equal `tests/cases/NAME/errors` (absent: no error).
//!
//! The absolute path of the input directory is written as `/INPUT` in expected files, so
//! the cases do not depend on where the repository is checked out.
//! Optional `tests/cases/NAME/defaults.conf` is used as the user's defaults file.
//!
//! After a reviewed change: `ROOTLET_BLESS=1 cargo test --test golden` rewrites them.
//!
//! Every generated unit must also pass `systemd-analyze --user verify`.

use rootlet::generator::{self, Options};
use rootlet::quadlet::Defaults;
use rootlet::search::Root;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, PartialEq, Eq)]
enum Node {
    File(String),
    Link(String),
}

fn tree(dir: &Path) -> BTreeMap<String, Node> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.map(|e| e.unwrap()) {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                out.insert(
                    rel,
                    Node::Link(fs::read_link(&p).unwrap().to_string_lossy().into()),
                );
            } else if ft.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(rel, Node::File(fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn write_tree(dir: &Path, t: &BTreeMap<String, Node>) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap();
    for (rel, n) in t {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        match n {
            Node::File(s) => fs::write(&p, s).unwrap(),
            Node::Link(t) => std::os::unix::fs::symlink(t, &p).unwrap(),
        }
    }
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rootlet-golden-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

struct Outcome {
    tree: BTreeMap<String, Node>,
    errors: String,
}

fn run_case(case: &Path, out: &Path) -> Outcome {
    let input = case.join("input");
    let defaults = match case.join("defaults.conf") {
        p if p.exists() => Defaults::load(&p).expect("defaults.conf of the case"),
        _ => Defaults::default(),
    };
    let opts = Options {
        roots: vec![Root::new(input.clone())],
        podman: "/usr/bin/podman".into(),
        defaults,
    };
    // What the generator does (units written as they are made) ...
    let (run, written) = generator::generate(&opts, out);
    written.unwrap();
    // ... gives what `rootlet generate` does (all made, then written).
    let both = PathBuf::from(format!("{}-collected", out.display()));
    let _ = fs::remove_dir_all(&both);
    let collected = generator::run(&opts);
    generator::write(&collected, &both).unwrap();
    assert_eq!(
        tree(&both),
        tree(out),
        "{}: generate() and run()+write() differ",
        case.display()
    );
    assert_eq!(
        collected
            .errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        run.errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
    );
    let _ = fs::remove_dir_all(&both);
    let abs = input.to_string_lossy().into_owned();
    let norm = |s: &str| s.replace(&abs, "/INPUT");
    let mut t = tree(out);
    for n in t.values_mut() {
        if let Node::File(s) = n {
            *s = norm(s);
        }
    }
    let mut errors = String::new();
    for e in &run.errors {
        errors.push_str(&norm(&e.to_string()));
        errors.push('\n');
    }
    Outcome { tree: t, errors }
}

fn case_names() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input").is_dir())
        .collect();
    v.sort();
    v
}

#[test]
fn golden_cases() {
    let bless = std::env::var_os("ROOTLET_BLESS").is_some();
    let mut failures = Vec::new();
    let cases = case_names();
    assert!(
        cases.len() >= 25,
        "expected at least 25 golden cases, found {}",
        cases.len()
    );
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let out = scratch(&name);
        let got = run_case(case, &out);
        let _ = fs::remove_dir_all(&out);
        let err_file = case.join("errors");
        if bless {
            write_tree(&case.join("expected"), &got.tree);
            if got.errors.is_empty() {
                let _ = fs::remove_file(&err_file);
            } else {
                fs::write(&err_file, &got.errors).unwrap();
            }
            continue;
        }
        let want = tree(&case.join("expected"));
        let want_err = fs::read_to_string(&err_file).unwrap_or_default();
        let mut msgs = Vec::new();
        for k in want.keys().chain(got.tree.keys()) {
            match (want.get(k), got.tree.get(k)) {
                (Some(a), Some(b)) if a == b => {}
                (Some(_), None) => msgs.push(format!("  missing: {k}")),
                (None, Some(_)) => msgs.push(format!("  unexpected: {k}")),
                (Some(a), Some(b)) => msgs.push(format!(
                    "  differs: {k}\n--- expected\n{a:?}\n+++ actual\n{b:?}"
                )),
                (None, None) => unreachable!(),
            }
        }
        msgs.dedup();
        if want_err != got.errors {
            msgs.push(format!(
                "  errors differ:\n--- expected\n{want_err}+++ actual\n{}",
                got.errors
            ));
        }
        if msgs.is_empty() {
            eprintln!("ok   {name}");
        } else {
            eprintln!("FAIL {name}\n{}", msgs.join("\n"));
            failures.push(name);
        }
    }
    assert!(
        failures.is_empty(),
        "golden cases failed: {failures:?} (ROOTLET_BLESS=1 rewrites them after review)"
    );
}

/// The wait unit we ship, with the binary path filled in, so that `Wants=` resolves.
fn wait_unit() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("units/rootlet-wait-online.service.in");
    match fs::read_to_string(&p) {
        Ok(s) => s.replace("@bindir@", "/usr/bin"),
        Err(_) => "[Service]\nType=oneshot\nExecStart=/bin/true\n".into(),
    }
}

#[test]
fn generated_units_pass_systemd_analyze_verify() {
    let Ok(sa) = which("systemd-analyze") else {
        eprintln!(
            "SKIPPED LOUDLY: systemd-analyze is not installed; generated units were not verified"
        );
        return;
    };
    if !Path::new("/usr/bin/podman").exists() {
        eprintln!("SKIPPED LOUDLY: /usr/bin/podman is not installed; systemd-analyze verify would reject ExecStart=");
        return;
    }
    let runtime = scratch("runtime");
    fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let mut failures = Vec::new();
    let mut verified = 0;
    for case in case_names() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let out = scratch(&format!("verify-{name}"));
        run_case(&case, &out);
        let units: Vec<PathBuf> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file() && !p.is_symlink())
            .collect();
        if units.is_empty() {
            let _ = fs::remove_dir_all(&out);
            continue;
        }
        fs::write(out.join("rootlet-wait-online.service"), wait_unit()).unwrap();
        let o = Command::new(&sa)
            .args(["--user", "verify", "--man=no"])
            .args(&units)
            .env("XDG_RUNTIME_DIR", &runtime)
            .current_dir(&out)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if !o.status.success() || !text.trim().is_empty() {
            failures.push(format!("{name}: {}", text.trim()));
        } else {
            verified += units.len();
        }
        let _ = fs::remove_dir_all(&out);
    }
    let _ = fs::remove_dir_all(&runtime);
    eprintln!("systemd-analyze verify: {verified} units passed");
    assert!(
        failures.is_empty(),
        "systemd-analyze verify failed:\n{}",
        failures.join("\n")
    );
}

fn which(cmd: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(cmd))
        .find(|p| p.is_file())
        .ok_or(())
}

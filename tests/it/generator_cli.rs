//! The generator and `rootlet` binaries as systemd and users run them.

use crate::util::{self, UserEnv};
use std::fs;
use std::path::Path;
use std::process::Output;

/// The generator as systemd runs it for `t`'s user, the sources in `src`.
fn generator(t: &UserEnv, src: &Path, normal: &Path) -> Output {
    t.cmd(util::bin("rootlet-user-generator"))
        .arg(normal)
        .arg(normal.with_extension("early"))
        .arg(normal.with_extension("late"))
        .env("ROOTLET_UNIT_DIRS", src)
        .env("XDG_CONFIG_HOME", src.join("no-such-config"))
        .output()
        .unwrap()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    fn walk(base: &Path, d: &Path, v: &mut Vec<String>) {
        for e in fs::read_dir(d).unwrap().map(|e| e.unwrap()) {
            let p = e.path();
            v.push(p.strip_prefix(base).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, v);
            }
        }
    }
    if dir.exists() {
        walk(dir, dir, &mut v);
    }
    v.sort();
    v
}

const GOOD: &str = "[Container]\nImage=localhost/app\n[Install]\nWantedBy=default.target\n";

#[test]
fn broken_file_costs_only_itself() {
    let t = UserEnv::new("cli-broken");
    t.write("src/good.container", GOOD);
    t.write(
        "src/typo.container",
        "[Container]\nImage=x\nPublishPorts=80:80\n",
    );
    t.write("src/web.socket", "[Socket]\nListenStream=127.0.0.1:9000\n");
    t.write("src/web.container", GOOD);
    let out = t.path().join("out");
    let o = generator(&t, &t.path().join("src"), &out);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let typo = t.path().join("src/typo.container");
    assert!(
        stderr.contains(&format!(
            "{}:3: unknown key `PublishPorts` in [Container]; did you mean `PublishPort`?",
            typo.display()
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        listing(&out),
        [
            "default.target.wants",
            "default.target.wants/good.service",
            "default.target.wants/web.service",
            "good.service",
            "web.service",
            "web.socket"
        ]
    );
    let web = fs::read_to_string(out.join("web.service")).unwrap();
    assert!(
        web.contains("Requires=web.socket\nAfter=web.socket\n"),
        "{web}"
    );
    // Only NORMAL is written.
    assert!(!out.with_extension("early").exists() && !out.with_extension("late").exists());
}

#[test]
fn all_good_exits_zero_and_output_is_deterministic() {
    let t = UserEnv::new("cli-det");
    t.write("src/a.container", GOOD);
    t.write("src/n.network", "[Network]\nSubnet=10.1.0.0/24\n");
    t.write(
        "src/b.container",
        "[Container]\nImage=x\nNetwork=n.network\nEnvironment=Z=1 A=2\nLabel=b=1 a=2\n",
    );
    let (o1, o2) = (t.path().join("o1"), t.path().join("o2"));
    assert!(generator(&t, &t.path().join("src"), &o1).status.success());
    assert!(generator(&t, &t.path().join("src"), &o2).status.success());
    for f in ["a.service", "b.service", "n-network.service"] {
        assert_eq!(
            fs::read(o1.join(f)).unwrap(),
            fs::read(o2.join(f)).unwrap(),
            "{f}"
        );
    }
}

/// 10,000 sources, a tenth of them broken in one way or another, some sharing a name with a
/// network's unit, some with an alias: every good one is written exactly once with its
/// link, every bad one is named, and the output is the same on a second run.
#[test]
fn ten_thousand_files() {
    // On tmpfs when there is one: this test is about the generator, not the disk.
    let t = UserEnv::on_tmpfs("cli-many");
    let src = t.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let mut good = 0;
    for i in 0..10_000 {
        let (name, text) = match i % 10 {
            0 => (
                format!("c{i:05}.container"),
                "[Container]\nImage=\n".to_string(),
            ),
            1 if i % 100 == 1 => (format!("n{i:05}.network"), "[Network]\n".to_string()),
            2 if i % 100 == 2 => (
                // The same unit as n{i-1}.network: the container's name sorts first.
                format!("n{:05}-network.container", i - 1),
                GOOD.to_string(),
            ),
            3 if i % 100 == 3 => (
                format!("c{i:05}.container"),
                format!("{GOOD}Alias=alias{}.service\n", i / 200),
            ),
            _ => (
                format!("c{i:05}.container"),
                GOOD.replace("app", &format!("app{i}")),
            ),
        };
        // Not good: empty images, the networks. The second of each alias is made without
        // its alias.
        if i % 10 != 0 && i % 100 != 1 {
            good += 1;
        }
        fs::write(src.join(name), text).unwrap();
    }
    let out = t.path().join("out");
    let o = generator(&t, &src, &out);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    // 1,000 empty images, 100 networks that lose their name to a container, 50 aliases
    // taken by an earlier unit (whose units are still made, without them).
    assert_eq!(
        lines.len(),
        1_000 + 100 + 50,
        "{}",
        &err[..err.len().min(2000)]
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains("needs Image=")).count(),
        1_000
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains("becomes n")).count(),
        100
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("that link is not made"))
            .count(),
        50
    );
    let units = fs::read_dir(&out)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_type().unwrap().is_file())
        .count();
    assert_eq!(units, good);
    let links = fs::read_dir(out.join("default.target.wants"))
        .unwrap()
        .count();
    assert_eq!(links, good);
    let first = listing(&out);
    let again = t.path().join("again");
    generator(&t, &src, &again);
    assert_eq!(listing(&again), first);
}

#[test]
fn nothing_found_is_success() {
    let t = UserEnv::new("cli-empty");
    let o = generator(&t, &t.path().join("does-not-exist"), &t.path().join("out"));
    assert!(o.status.success());
    assert!(o.stderr.is_empty());
}

#[test]
fn usage_errors() {
    let t = UserEnv::new("cli-usage");
    let o = t.cmd(util::bin("rootlet-user-generator")).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = t
        .cmd(util::bin("rootlet-user-generator"))
        .arg("relative/dir")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn invalid_unit_names_never_escape_the_output_dir() {
    let t = UserEnv::new("cli-names");
    t.write(
        "src/ok.container",
        "[Container]\nImage=x\n[Install]\nWantedBy=../../evil.target\nAlias=../x.service\n",
    );
    t.write("src/bad name.container", GOOD);
    t.write(&format!("src/{}.network", "a".repeat(247)), "[Network]\n");
    let out = t.path().join("out");
    let o = generator(&t, &t.path().join("src"), &out);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 3, "{stderr}");
    assert!(listing(&out).is_empty(), "{:?}", listing(&out));
    assert!(listing(t.path()).iter().all(|p| !p.contains("evil")));
}

#[test]
fn podman_path_is_overridable() {
    let t = UserEnv::new("cli-podman");
    t.write("src/a.container", GOOD);
    let out = t.path().join("out");
    let o = t
        .cmd(util::bin("rootlet-user-generator"))
        .arg(&out)
        .env("ROOTLET_UNIT_DIRS", t.path().join("src"))
        .env("PODMAN", "/opt/podman/bin/podman")
        .output()
        .unwrap();
    assert!(o.status.success());
    let a = fs::read_to_string(out.join("a.service")).unwrap();
    assert!(a.contains("ExecStart=/opt/podman/bin/podman run "), "{a}");
}

#[test]
fn defaults_file_is_read_from_xdg_config_home() {
    let t = UserEnv::new("cli-defaults");
    t.write("src/a.container", GOOD);
    t.write("cfg/rootlet/defaults.conf", "[Service]\nRestartSec=42\n");
    let out = t.path().join("out");
    let o = t
        .cmd(util::bin("rootlet-user-generator"))
        .arg(&out)
        .env("ROOTLET_UNIT_DIRS", t.path().join("src"))
        .env("XDG_CONFIG_HOME", t.path().join("cfg"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let a = fs::read_to_string(out.join("a.service")).unwrap();
    assert!(
        a.contains("RestartSec=42\n") && !a.contains("RestartSec=10"),
        "{a}"
    );
}

#[test]
fn rootlet_generate_dry_run_and_check() {
    let t = UserEnv::new("cli-cli");
    t.write("src/a.container", GOOD);
    t.write("src/b.container", "[Container]\nImage=x\nVolume=./d:/d\n");
    let o = t
        .cmd(util::bin("rootlet"))
        .args(["generate", "--dry-run"])
        .arg(t.path().join("src"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.starts_with("# a.service\n# Automatically generated"),
        "{s}"
    );
    assert!(
        s.contains("# default.target.wants/a.service -> ../a.service\n"),
        "{s}"
    );
    assert!(
        s.contains(&format!("-v {}/d:/d ", t.path().join("src").display())),
        "{s}"
    );

    let o = t
        .cmd(util::bin("rootlet"))
        .arg("check")
        .arg(t.path().join("src/a.container"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    t.write("src/c.container", "[Container]\nImage=x\nNotify=maybe\n");
    let o = t
        .cmd(util::bin("rootlet"))
        .arg("check")
        .arg(t.path().join("src"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("c.container:3: Notify: `maybe` is not a boolean"),
        "{e}"
    );
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Audit F9 (and F7): the generator writes units atomically and never through a symlink
/// planted at a unit's path.
#[test]
fn generator_replaces_a_planted_symlink_and_leaves_no_temporary_file() {
    let t = UserEnv::new("cli-planted");
    t.write("src/web.container", GOOD);
    t.write("victim.txt", "precious\n");
    let normal = t.path().join("normal");
    fs::create_dir_all(&normal).unwrap();
    std::os::unix::fs::symlink(t.path().join("victim.txt"), normal.join("web.service")).unwrap();
    let o = generator(&t, &t.path().join("src"), &normal);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(t.path().join("victim.txt")).unwrap(),
        "precious\n"
    );
    let meta = fs::symlink_metadata(normal.join("web.service")).unwrap();
    assert!(meta.is_file());
    assert_eq!(
        listing(&normal),
        [
            "default.target.wants",
            "default.target.wants/web.service",
            "web.service"
        ]
    );
}

/// Audit F10: a symlinked `X.wants/` in the output must not make rootlet write outside it.
#[test]
fn a_symlinked_wants_directory_is_not_followed() {
    let t = UserEnv::new("cli-wantslink");
    t.write("src/web.container", GOOD);
    let normal = t.path().join("normal");
    let outside = t.path().join("outside");
    fs::create_dir_all(&normal).unwrap();
    fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, normal.join("default.target.wants")).unwrap();
    let o = generator(&t, &t.path().join("src"), &normal);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(listing(&outside).is_empty(), "{:?}", listing(&outside));
    assert!(
        stderr(&o).contains("default.target.wants: not a directory"),
        "{}",
        stderr(&o)
    );
}

/// Audit F9: `rootlet generate -o DIR` deleted or overwrote the user's own files there.
#[test]
fn generate_output_keeps_the_users_files() {
    let t = UserEnv::new("cli-keep");
    t.write(
        "src/web.container",
        "[Container]\nImage=x\n[Install]\nAlias=mine.service\nWantedBy=default.target\n",
    );
    t.write("out/mine.service", "[Unit]\nDescription=my own unit\n");
    t.write("out/web.service", "[Unit]\nDescription=my own web\n");
    let out = t.path().join("out");
    let src = t.path().join("src");
    let generate = || {
        t.run(
            "rootlet",
            &[
                "generate".as_ref(),
                "-o".as_ref(),
                out.as_os_str(),
                src.as_os_str(),
            ],
        )
    };
    let o = generate();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("web.service: exists and was not written by rootlet"),
        "{e}"
    );
    assert_eq!(
        fs::read_to_string(out.join("mine.service")).unwrap(),
        "[Unit]\nDescription=my own unit\n"
    );
    assert_eq!(
        fs::read_to_string(out.join("web.service")).unwrap(),
        "[Unit]\nDescription=my own web\n"
    );
    // Its own output it rewrites, run after run; the user's alias stays.
    fs::remove_file(out.join("web.service")).unwrap();
    for _ in 0..2 {
        let o = generate();
        let e = stderr(&o);
        assert!(
            e.contains("mine.service: exists and was not written by rootlet"),
            "{e}"
        );
        assert!(!e.contains("web.service:"), "{e}");
        assert!(fs::read_to_string(out.join("web.service"))
            .unwrap()
            .starts_with("# Automatically generated by rootlet"));
        assert!(
            fs::symlink_metadata(out.join("default.target.wants/web.service"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(fs::symlink_metadata(out.join("mine.service"))
            .unwrap()
            .is_file());
    }
}

/// Audit P3: `rootlet generate --dry-run | head -1` aborted on EPIPE; the generator with
/// a closed stderr must not abort either.
#[test]
fn a_closed_stdout_or_stderr_is_no_panic() {
    let t = UserEnv::new("cli-epipe");
    for i in 0..50 {
        t.write(&format!("src/u{i}.container"), GOOD);
    }
    t.write("src/bad.container", "[Container]\nImage=x\nBad=1\n");
    let mut child = t
        .cmd(util::bin("rootlet"))
        .args(["generate", "--dry-run"])
        .arg(t.path().join("src"))
        .env("XDG_CONFIG_HOME", "/nonexistent-rootlet-config")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before anything is written
    let o = child.wait_with_output().unwrap();
    let e = stderr(&o);
    assert!(!e.contains("panicked") && !e.contains("Broken pipe"), "{e}");
    assert_eq!(o.status.code(), Some(1), "{e}"); // bad.container
    let mut child = t
        .cmd(util::bin("rootlet-user-generator"))
        .arg(t.path().join("normal"))
        .env("ROOTLET_UNIT_DIRS", t.path().join("src"))
        .env("XDG_CONFIG_HOME", "/nonexistent-rootlet-config")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(t.path().join("normal/u49.service").is_file());
}

/// Audit U4: `rootlet check FILE` checked and counted the whole directory, and let
/// unknown `%` specifiers pass.
#[test]
fn check_file_checks_that_file_with_its_drop_ins() {
    let t = UserEnv::new("cli-checkfile");
    t.write("src/a.container", GOOD);
    t.write("src/b.container", GOOD);
    t.write("src/broken.container", "[Container]\nImage=x\nBad=1\n");
    let o = t.run(
        "rootlet",
        &[
            "check".as_ref(),
            t.path().join("src/a.container").as_os_str(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "rootlet: 1 unit(s) OK\n");
    // Its drop-ins are checked with it, and an error names the drop-in and its line.
    t.write(
        "src/a.container.d/x.conf",
        "[Container]\nPublishPorts=1:1\n",
    );
    let o = t.run(
        "rootlet",
        &[
            "check".as_ref(),
            t.path().join("src/a.container").as_os_str(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("a.container.d/x.conf:2: unknown key `PublishPorts`"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("broken.container"), "{}", stderr(&o));
    // Not a source file at all.
    for p in ["/etc/hostname", "/dev/null"] {
        let o = t.run("rootlet", &["check", p]);
        assert_eq!(o.status.code(), Some(1), "{p}");
        // Every kind is named, from the one table of kinds (was a hand-written list).
        let kinds: Vec<String> = (rootlet::kind::KINDS.iter())
            .map(|k| format!(".{}", k.extension))
            .collect();
        assert!(
            stderr(&o).contains(&format!("{p}: not a source file ({})", kinds.join(", "))),
            "{}",
            stderr(&o)
        );
    }
    // Specifiers systemd does not know.
    t.write(
        "src/spec.container",
        "[Container]\nImage=x\n[Service]\nEnvironment=A=%Z\n",
    );
    let o = t.run(
        "rootlet",
        &[
            "check".as_ref(),
            t.path().join("src/spec.container").as_os_str(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("spec.container:4: Environment=: `%Z` is not a systemd specifier"),
        "{}",
        stderr(&o)
    );
    t.write(
        "src/spec.container",
        "[Container]\nImage=x\nEnvironment=A=%Z\n",
    );
    let o = t.run(
        "rootlet",
        &[
            "check".as_ref(),
            t.path().join("src/spec.container").as_os_str(),
        ],
    );
    assert!(stderr(&o).contains("spec.container:3: "), "{}", stderr(&o));
    t.write(
        "src/spec.container",
        "[Container]\nImage=x\nEnvironment=A=%%Z B=%h C=%i%%\n",
    );
    let o = t.run(
        "rootlet",
        &[
            "check".as_ref(),
            t.path().join("src/spec.container").as_os_str(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // A name that is not UTF-8 is said so, not counted as OK.
    use std::os::unix::ffi::OsStrExt;
    let bad = t
        .path()
        .join(std::ffi::OsStr::from_bytes(b"src/bad\xffutf8.container"));
    fs::write(&bad, GOOD).unwrap();
    let o = t.run("rootlet", &["check".as_ref(), bad.as_os_str()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("bad\\xffutf8.container: name is not valid UTF-8"),
        "{}",
        stderr(&o)
    );
}

/// Audit U5: `generate --dry-run /nonexistent` exited 0 without a word. And the generator
/// says which files it did not translate (audit U1).
#[test]
fn missing_source_directories_and_skipped_files_are_said() {
    let t = UserEnv::new("cli-skipped");
    let o = t.run(
        "rootlet",
        &["generate", "--dry-run", "/nonexistent-rootlet"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("/nonexistent-rootlet: No such file or directory"),
        "{}",
        stderr(&o)
    );
    t.write("src/a.container", GOOD);
    use std::os::unix::ffi::OsStrExt;
    fs::write(
        t.path()
            .join(std::ffi::OsStr::from_bytes(b"src/n\xff.container")),
        GOOD,
    )
    .unwrap();
    let o = generator(&t, &t.path().join("src"), &t.path().join("normal"));
    assert!(o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("n\\xff.container: name is not valid UTF-8: skipped"),
        "{e}"
    );
}

/// clap's `suggestions`: a mistyped command gets a hint.
#[test]
fn mistyped_commands_get_a_suggestion() {
    let t = UserEnv::new("cli-mistyped");
    let o = t.run("rootlet", &["genrate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("similar subcommand") && stderr(&o).contains("'generate'"),
        "{}",
        stderr(&o)
    );
}

/// `rootlet check FILE` for a file on the search path sees what the generator sees:
/// drop-ins from the other directories of the path, and whether it is shadowed.
#[test]
fn check_file_on_the_search_path_sees_the_whole_path() {
    let t = UserEnv::new("cli-checkpath");
    t.write("a/web.container", GOOD);
    t.write("b/container.d/x.conf", "[Container]\nNotify=maybe\n");
    t.write("b/web.container", GOOD);
    t.write("b/other.container", "[Container]\nImage=x\nBad=1\n");
    let dirs = format!(
        "{}:{}",
        t.path().join("a").display(),
        t.path().join("b").display()
    );
    let check = |f: &str| {
        t.cmd(util::bin("rootlet"))
            .arg("check")
            .arg(t.path().join(f))
            .env("ROOTLET_UNIT_DIRS", &dirs)
            .env("XDG_CONFIG_HOME", "/nonexistent-rootlet-config")
            .output()
            .unwrap()
    };
    let o = check("a/web.container");
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("b/container.d/x.conf:2: Notify: `maybe` is not a boolean"),
        "{e}"
    );
    assert!(!e.contains("other.container"), "{e}");
    let o = check("b/web.container");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("b/web.container: shadowed by"),
        "{}",
        stderr(&o)
    );
}

/// New-user review P21 and issue 24 item 3: `check` lists every error of a file (not the
/// first only), says where a systemd key written in the source's section belongs, and
/// ends a failed run with a count line; the generator, run on the same files, reports
/// each file's first error and writes what it wrote before.
#[test]
fn check_lists_every_error_and_counts_them() {
    let t = UserEnv::new("cli-every-error");
    t.write(
        "src/typo.container",
        "[Container]\nImagee=x\nImage=x\nPublishPorts=80:80\nRestart=always\n",
    );
    t.write("src/good.container", GOOD);
    let o = t.run(
        "rootlet",
        &["check".as_ref(), t.path().join("src").as_os_str()],
    );
    assert_eq!(o.status.code(), Some(1));
    let (err, out) = (stderr(&o), String::from_utf8_lossy(&o.stdout).into_owned());
    let typo = t.path().join("src/typo.container");
    for (line, what) in [
        (
            2,
            "unknown key `Imagee` in [Container]; did you mean `Image`?",
        ),
        (
            4,
            "unknown key `PublishPorts` in [Container]; did you mean `PublishPort`?",
        ),
        (
            5,
            "unknown key `Restart` in [Container]; `Restart=` is a key of [Service]: did \
             you mean to write it there?",
        ),
    ] {
        assert!(
            err.contains(&format!("{}:{line}: {what}\n", typo.display())),
            "{err}"
        );
    }
    assert!(
        format!("{out}{err}").contains("rootlet: 3 error(s) in 1 file(s); 1 unit(s) OK"),
        "{out}{err}"
    );
    let o = generator(&t, &t.path().join("src"), &t.path().join("out"));
    let gen = stderr(&o);
    assert_eq!(gen.matches("typo.container:").count(), 1, "{gen}");
    assert_eq!(
        listing(&t.path().join("out")),
        [
            "default.target.wants",
            "default.target.wants/good.service",
            "good.service"
        ]
    );
}

/// Issue 26 item 4: `check` knows the ports of a container's own `[Socket]` and of its
/// proxy mode: a `[Socket]` port another source publishes, and the host port of the
/// container's loopback address in proxy mode (`quadlet::proxy::host_port`) that another
/// source binds on every address. `ListenStream=` and `ProxyTo=` on one port in one file
/// do not clash: the port inside is no host port. cad373a saw none of the clashes.
#[test]
fn check_knows_the_ports_of_a_containers_own_socket_and_proxy() {
    let t = UserEnv::new("cli-own-socket-ports");
    let b_port = rootlet::quadlet::proxy::host_port("b.service");
    let b_addr = rootlet::quadlet::proxy::address("b.service");
    t.write(
        "src/a.container",
        "[Container]\nImage=x\nPublishPort=8090:80\n",
    );
    t.write(
        "src/front.container",
        "[Container]\nImage=x\n[Socket]\nListenStream=0.0.0.0:8090\n",
    );
    t.write(
        "src/b.container",
        "[Container]\nImage=x\n[Socket]\nListenStream=127.0.0.1:8092\nProxyTo=8093\n",
    );
    t.write(
        "src/c.container",
        &format!("[Container]\nImage=x\nPublishPort={b_port}:80\n"),
    );
    t.write(
        "src/d.container",
        "[Container]\nImage=x\n[Socket]\nListenStream=8094\nProxyTo=8094\n",
    );
    let src = t.path().join("src");
    let o = t.run("rootlet", &["check".as_ref(), src.as_os_str()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let at = |f: &str| src.join(f).display().to_string();
    for want in [
        format!("{}:4: ListenStream=0.0.0.0:8090: host port 8090/tcp is bound by {}:3 too (PublishPort=8090:80)", at("front.container"), at("a.container")),
        format!("{}:3: PublishPort={b_port}:80: host port {b_port}/tcp is bound by {}:5 too (ProxyTo=8093 (published on {b_addr}:{b_port}))", at("c.container"), at("b.container")),
    ] {
        assert!(err.contains(&want), "{want}\nnot in:\n{err}");
    }
    assert_eq!(err.matches("is bound by").count(), 2, "{err}");
    // Apart, on ports of their own, they pass.
    t.write(
        "src/c.container",
        &format!("[Container]\nImage=x\nPublishPort=127.0.0.1:{b_port}:80\n"),
    );
    t.write(
        "src/a.container",
        "[Container]\nImage=x\nPublishPort=8091:80\n",
    );
    let o = t.run("rootlet", &["check".as_ref(), src.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Issue 24 item 3: what breaks when the units start, reported by `check` at the lines
/// that cause it (a dependency on a source with no unit, two sources on one host port, a
/// bind mount of a missing path, a socket with no service), while the generator writes
/// the units as before.
#[test]
fn check_reports_what_breaks_at_start() {
    let t = UserEnv::new("cli-breaks-at-start");
    t.write(
        "src/app.container",
        "[Unit]\nRequires=db.service\n[Container]\nImage=x\nPublishPort=8080:80\n\
         Volume=/nonexistent-rootlet-cli/www:/www\n",
    );
    t.write("src/db.container", "[Container]\nImage=x\nNotify=maybe\n");
    t.write("src/web.socket", "[Socket]\nListenStream=0.0.0.0:8080\n");
    let src = t.path().join("src");
    let o = t.run("rootlet", &["check".as_ref(), src.as_os_str()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let app = src.join("app.container").display().to_string();
    let web = src.join("web.socket").display().to_string();
    for want in [
        format!("{app}:2: Requires: `db.service` is not generated (db.container: it has errors): systemd fails to start app.service"),
        format!("{web}:2: ListenStream=0.0.0.0:8080: host port 8080/tcp is bound by {app}:5 too (PublishPort=8080:80)"),
        format!("{app}:6: Volume=: the host path /nonexistent-rootlet-cli/www does not exist"),
        format!("rootlet: warning: {web}: web.socket activates web.service, and no source makes it"),
    ] {
        assert!(err.contains(&want), "{want}\nnot in:\n{err}");
    }
    // A file checked alone: its dependency is translated to know it gets no unit, and its
    // own errors are not reported.
    let o = t.run(
        "rootlet",
        &["check".as_ref(), src.join("app.container").as_os_str()],
    );
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{app}:2: Requires: `db.service` is not generated")),
        "{err}"
    );
    assert!(!err.contains("db.container:3"), "{err}");
    let o = generator(&t, &src, &t.path().join("out"));
    let gen = stderr(&o);
    assert!(
        !gen.contains("host port") && !gen.contains("host path"),
        "{gen}"
    );
    assert_eq!(
        listing(&t.path().join("out")),
        ["app.service", "web.socket"]
    );
}

/// New-user review P18: `rootlet(1)` listed four kinds where `check FILE` and `add` take
/// nine. Every paragraph of the man page that lists kinds (names `.container`) names every
/// kind of `src/kind.rs`.
#[test]
fn every_kind_list_of_the_man_page_is_whole() {
    let man =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("man/rootlet.1")).unwrap();
    // `.IR .pod ,`, `( .container ", "`, not `web.container`.
    let names = |para: &str, ext: &str| {
        let dotted = format!(".{ext}");
        para.match_indices(&dotted).any(|(i, _)| {
            let before = para[..i].chars().last();
            let after = para[i + dotted.len()..].chars().next();
            before.map_or(true, |c| c.is_whitespace() || "\"(".contains(c))
                && after.map_or(true, |c| !c.is_alphanumeric())
        })
    };
    let mut lists = 0;
    for para in man.split("\n.TP\n").flat_map(|p| p.split("\n.SH ")) {
        if !names(para, "container") {
            continue;
        }
        lists += 1;
        for k in rootlet::kind::KINDS {
            assert!(
                names(para, k.extension),
                ".{} missing from the list in:\n{para}",
                k.extension
            );
        }
    }
    assert!(lists >= 3, "{lists}");
}

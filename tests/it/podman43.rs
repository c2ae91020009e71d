//! Every podman command line rootlet writes for podman 4.3.1, given to the real podman 4.3.1.
//!
//! Sources: podman v5.8.2's own quadlet cases (read at test time from
//! `../shared/reference/quadlet/upstream-v5.8.2/`, as `tests/upstream.rs` does), every golden
//! case (`tests/cases/*/input`), `examples/` and `contrib/examples/*`, all generated for
//! podman 4.3.1. Each unit's `ExecStartPre=`, `ExecStart=`, `ExecStartPost=`, `ExecReload=`,
//! `ExecStop=` and `ExecStopPost=` is split as systemd splits it, its specifiers and `$$`
//! expanded; a `/bin/sh -c` line is run with a recorder in place of podman (once with the
//! recorder succeeding, once failing, so both branches of `exists || create` are seen), and
//! every podman command it would run is taken.
//!
//! The commands run, unit by unit in their order, in a mount and network namespace of their
//! own (`unshare -m -n`, this test binary again as the inner runner): tmpfs over the host's
//! network config and storage directories, podman's `--root`/`--runroot`/`--tmpdir`/
//! `--network-config-dir` in a scratch directory, `--cgroup-manager=cgroupfs`,
//! `--events-backend=none`, a one-file image made with `podman import` standing in for every
//! container's image. `podman run` is checked as `podman create` (the same flags and
//! values less `run`'s own few, which rootlet writes as podman 4.3.1 names them), so no
//! container starts. A command may fail for a resource that is not there (an image to pull
//! with no network, a file, a secret, a pod, a network): podman's message says so. It must
//! not fail for a flag, a value or a command podman 4.3.1 does not have; a message neither
//! kind is listed as unclassified and fails the test too, so a new message gets a look.
//!
//! Runs when podman 4.3.x is installed and the process is root; otherwise it says so loudly
//! and passes, unless `ROOTLET_REQUIRE_ALL=1`, where it fails.

use crate::util;

use rootlet::generator::{self, Options};
use rootlet::podman::{Target, Version};
use rootlet::quadlet::Defaults;
use rootlet::search::Root;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// The podman version generated for and required on the machine.
const VERSION: Version = Version(4, 3, 1);
/// Set (to the scratch directory) for the inner run inside the namespaces.
const INNER: &str = "ROOTLET_PODMAN43_INNER";
/// The image standing in for every container's image.
const IMAGE: &str = "localhost/rootlet-tiny:latest";
/// The podman path units are generated with.
const PODMAN: &str = "/usr/bin/podman";
/// Units checked at the same time.
const THREADS: usize = 3;

/// Said on stderr past libtest's capture.
fn loud(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// One unit's podman commands, in the order systemd runs them.
struct Job {
    origin: String,
    cmds: Vec<Vec<String>>,
}

fn sources() -> Vec<(String, PathBuf, Option<PathBuf>)> {
    let mut v = Vec::new();
    // Where tests/it/upstream.rs reads them (`ROOTLET_UPSTREAM`, the copy scripts/test.sh
    // fetched), else ../shared.
    let fetched = std::env::var_os("ROOTLET_UPSTREAM")
        .map(|p| PathBuf::from(p).join("test/e2e/quadlet"))
        .filter(|p| p.is_dir());
    match fetched.or_else(|| util::shared_reference("quadlet/upstream-v5.8.2/test/e2e/quadlet")) {
        Some(p) => v.push(("upstream-v5.8.2".to_owned(), p, None)),
        None => loud("podman43: podman's v5.8.2 cases are not there: checked without them"),
    }
    let cases = util::repo().join("tests/cases");
    let mut names: Vec<_> = fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in names {
        let d = cases.join(&n);
        let defaults = Some(d.join("defaults.conf")).filter(|p| p.exists());
        v.push((format!("cases/{n}"), d.join("input"), defaults));
    }
    v.push(("examples".into(), util::repo().join("examples"), None));
    let contrib = util::repo().join("contrib/examples");
    for e in fs::read_dir(&contrib).unwrap().map(|e| e.unwrap()) {
        if e.file_type().unwrap().is_dir() {
            let n = e.file_name().to_string_lossy().into_owned();
            v.push((format!("contrib/examples/{n}"), e.path(), None));
        }
    }
    v
}

/// systemd's specifiers and `$$`, with values standing for a user's.
fn expand(word: &str, unit: &str, scratch: &Path) -> String {
    let base = unit.rsplit_once('.').map_or(unit, |(b, _)| b);
    let (prefix, instance) = match base.split_once('@') {
        Some((p, i)) => (p, if i.is_empty() { "inst" } else { i }),
        None => (base, ""),
    };
    let mut out = String::new();
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match c {
            '$' => {
                let mut peek = chars.clone();
                if peek.next() == Some('$') {
                    chars = peek;
                }
                out.push('$');
            }
            '%' => match chars.next() {
                Some('%') => out.push('%'),
                Some('n') => out.push_str(unit),
                Some('N') => out.push_str(base),
                Some('p' | 'P') => out.push_str(prefix),
                Some('i' | 'I') => out.push_str(instance),
                Some('j' | 'J') => out.push_str(prefix.rsplit('-').next().unwrap_or(prefix)),
                Some('h') => out.push_str("/root"),
                Some('t') => out.push_str(&scratch.join("xdg-run").to_string_lossy()),
                Some('S' | 'C' | 'L' | 'E') => out.push_str(&scratch.join("xdg").to_string_lossy()),
                Some('T') => out.push_str("/tmp"),
                Some('V') => out.push_str("/var/tmp"),
                Some('U' | 'G') => out.push('0'),
                Some('u' | 'g') => out.push_str("root"),
                Some(_) => out.push('x'),
                None => out.push('%'),
            },
            c => out.push(c),
        }
    }
    out
}

/// The podman commands of one `ExecX=` line: itself, or those its `sh -c` would run.
fn commands(line: &str, unit: &str, scratch: &Path) -> Vec<Vec<String>> {
    let line = line.trim_start_matches(['-', '@', ':', '+', '!']);
    let argv: Vec<String> = rootlet::exec::split(line)
        .unwrap_or_else(|e| panic!("{unit}: {line}: {e:?}"))
        .iter()
        .map(|w| expand(w, unit, scratch))
        .collect();
    if argv.first().is_some_and(|p| p == PODMAN) {
        return vec![argv];
    }
    if !argv.first().is_some_and(|p| p.ends_with("/sh"))
        || argv.get(1).map(String::as_str) != Some("-c")
    {
        return Vec::new();
    }
    // A script that is given no podman runs none (the proxy mode's wait for a listening
    // port reads /proc only): nothing to check, and run here it would wait for a port.
    if !argv[2..].iter().any(|w| w == PODMAN) {
        return Vec::new();
    }
    // Run the script with a recorder standing for podman, succeeding then failing.
    let rec = scratch.join("recorder");
    let mut out = Vec::new();
    for rc in ["0", "1"] {
        let dir = scratch.join("rec");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let args: Vec<&str> = argv[1..]
            .iter()
            .map(|w| {
                if w == PODMAN {
                    rec.to_str().unwrap()
                } else {
                    w
                }
            })
            .collect();
        let st = Command::new("timeout")
            .args(["20", "/bin/sh"])
            .args(&args)
            .env("REC_DIR", &dir)
            .env("REC_RC", rc)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_ne!(st.code(), Some(124), "{unit}: the shell line hangs: {line}");
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort_by_key(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .parse::<u32>()
                .unwrap()
        });
        for f in files {
            let data = fs::read(&f).unwrap();
            let mut words: Vec<String> = data
                .split(|b| *b == 0)
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            words.pop();
            words.insert(0, PODMAN.to_owned());
            if !out.contains(&words) {
                out.push(words);
            }
        }
    }
    assert!(
        !out.is_empty(),
        "{unit}: a shell line that runs no podman: {line}"
    );
    out
}

fn jobs(scratch: &Path) -> (Vec<Job>, BTreeMap<String, usize>) {
    util::write_program(
        &scratch.join("recorder"),
        "#!/bin/sh\nn=$(ls \"$REC_DIR\" | wc -l)\nprintf '%s\\0' \"$@\" > \"$REC_DIR/$n\"\nexit \"$REC_RC\"\n",
        0o755,
    );
    let mut jobs = Vec::new();
    let mut counts = BTreeMap::new();
    for (label, dir, defaults) in sources() {
        let opts = Options {
            podman: PODMAN.into(),
            defaults: defaults.map_or_else(Defaults::default, |p| Defaults::load(&p).unwrap()),
            ..Options::new(vec![Root::new(dir)], Target::Known(VERSION))
        };
        let run = generator::run(&opts);
        for u in &run.units {
            let Some(svc) = u.file.section("Service") else {
                continue;
            };
            let mut cmds = Vec::new();
            for key in [
                "ExecStartPre",
                "ExecStart",
                "ExecStartPost",
                "ExecReload",
                "ExecStop",
                "ExecStopPost",
            ] {
                for e in svc.entries.iter().filter(|e| e.key == key) {
                    for c in commands(&e.value, &u.name, scratch) {
                        cmds.push(c);
                    }
                }
            }
            *counts.entry(label.clone()).or_default() += cmds.len();
            if !cmds.is_empty() {
                jobs.push(Job {
                    origin: format!("{label}: {}", u.name),
                    cmds,
                });
            }
        }
    }
    (jobs, counts)
}

fn installed_version() -> Option<Version> {
    let out = Command::new(PODMAN).arg("--version").output().ok()?;
    Version::parse(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn podman_4_3_1_takes_every_command_rootlet_writes_for_it() {
    if std::env::var_os(INNER).is_some() {
        return;
    }
    let root = rustix::process::geteuid().is_root();
    let have = installed_version();
    let unshare = Path::new("/usr/bin/unshare").exists();
    if !root || have.map(|v| (v.0, v.1)) != Some((4, 3)) || !unshare {
        let why = format!(
            "needs root ({root}), podman 4.3.x at {PODMAN} ({have:?}) and unshare ({unshare})"
        );
        util::skip(&format!("podman43: {why}"));
        return;
    }
    let tmp = util::Tmp::new("podman43");
    let scratch = tmp.path();
    let (jobs, counts) = jobs(scratch);
    let total: usize = jobs.iter().map(|j| j.cmds.len()).sum();
    // The jobs, for the inner run: [[origin, [[word, ...], ...]], ...].
    let spec: Vec<(&str, &Vec<Vec<String>>)> =
        jobs.iter().map(|j| (j.origin.as_str(), &j.cmds)).collect();
    fs::write(scratch.join("jobs"), serde_json::to_string(&spec).unwrap()).unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["-m", "-n", "--propagation", "private", "--"])
        .arg(exe)
        .args([
            "--exact",
            "podman43::inner_run",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER, scratch)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let results = fs::read_to_string(scratch.join("results")).unwrap_or_else(|_| {
        panic!(
            "the inner run wrote no results: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut ok = 0;
    let mut absent = 0;
    let mut users_own = 0;
    let mut timed_out = 0;
    let mut bad = Vec::new();
    let results: Vec<(String, Vec<String>, i32, String)> = serde_json::from_str(&results).unwrap();
    for (origin, cmd, status, stderr) in &results {
        let cmd = rootlet::exec::join(cmd);
        // `exists` answers "no" with 1 and nothing said.
        if *status == 0 || (*status == 1 && said(stderr).is_empty() && cmd.contains(" exists ")) {
            ok += 1;
            continue;
        }
        // Killed by `timeout` on a loaded machine: podman had parsed the command (flags and
        // values are refused at once), so nothing was refused.
        if *status == 124 && said(stderr).is_empty() {
            timed_out += 1;
            continue;
        }
        match classify(origin, stderr) {
            Class::Absent => absent += 1,
            Class::UsersOwn => users_own += 1,
            c => bad.push(format!(
                "{origin}\n  $ {cmd}\n  {c:?} (exit {status}): {}",
                stderr.trim()
            )),
        }
    }
    loud(&format!(
        "podman43: {total} podman commands from {} units ({counts:?}): {ok} succeeded, {absent} failed only for an absent resource, {users_own} for the source's own flags or values, {timed_out} timed out, {} refused",
        jobs.len(),
        bad.len()
    ));
    assert_eq!(
        ok + absent + users_own + timed_out + bad.len(),
        total,
        "every command ran"
    );
    assert!(
        bad.is_empty(),
        "podman 4.3.1 refuses {} commands rootlet writes for it:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[derive(Debug, PartialEq)]
enum Class {
    /// A flag, value or command podman does not have.
    Refused,
    /// Only a resource that is not there.
    Absent,
    /// A flag or value the source passes through as written (`PodmanArgs=`, `GlobalArgs=`)
    /// or one podman 5.8 refuses too: [`USERS_OWN`].
    UsersOwn,
    /// Neither: look at it, then teach `classify`.
    Unclassified,
}

/// podman's answer: its stderr less its own log lines (`--log-level=debug` of a source).
fn said(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| {
            !l.starts_with("time=") || l.contains("level=error") || l.contains("level=fatal")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Refusals that are not podman 4.3's: of what the source itself passes through as written
/// (`PodmanArgs=`, `GlobalArgs=`, values podman 5.8 refuses too), in podman's cases and the
/// golden ones: `(where, message, why)`.
const USERS_OWN: &[(&str, &str, &str)] = &[
    ("cases/32-network-delete-on-stop", "unknown flag: --dns", "`PodmanArgs=--dns` of the case"),
    ("cases/55-podman43-quoting", "in non-quoted-field", "`PodmanArgs=--label \"note=it's \\\"quoted\\\"\"` of the case, passed as written"),
    // Not podman 4.3's: quadlet 5.8 writes the same, and podman 5.8 refuses it too.
    ("", "invalid host path, must be an absolute path", "`.build` Volume=X.volume: `podman build -v` takes host paths only (buildah's ValidateVolumeMountHostDir, v5.8.0 too)"),
    ("", "no context directory and no containerfile specified", "`.build` File= a URL and no SetWorkingDirectory=: podman 5.8's `build` needs a context too (cmd/podman/common/build.go)"),
    ("", "unknown flag: --foo", "`PodmanArgs=--foo` of podman's podmanargs cases"),
    ("", "unknown flag: --imagestore", "`GlobalArgs=--imagestore` of podman's globalargs cases (a podman 5 flag)"),
    ("", "unknown flag: --ignore", "`PodmanArgs=--ignore` of tests/cases/34-volumes"),
    ("", "names must match", "a container name with a quote (podman's quotes case): podman 5.8 refuses it too"),
    ("", "must provide a non-empty container host ip", "`PublishPort=${PORT}:${PORT}` of podman's ports case: PORT is set nowhere, so systemd passes `:`"),
    ("", "pods presently do not support network mode container", "a `.pod` with Network=container: podman 5.8 refuses it too"),
    ("", "portmappings can only be used with bridge", "a `.pod` with PublishPort= and Network=host: podman 5.8 refuses it too"),
    ("", "'--group-add keep-groups' option is not allowed", "podman 5.8 refuses keep-groups beside other groups too"),
];

/// podman 4.3.1's messages, as seen on the commands of this test.
fn classify(origin: &str, stderr: &str) -> Class {
    let s = said(stderr).to_lowercase();
    if USERS_OWN
        .iter()
        .any(|(o, m, _)| origin.contains(o) && s.contains(m))
    {
        return Class::UsersOwn;
    }
    const REFUSED: &[&str] = &[
        "unknown flag",
        "unknown shorthand flag",
        "unrecognized command",
        "invalid argument",
        "invalid option",
        "invalid ip address",
        "invalid value",
        "invalid sdnotify",
        "malformed",
        "unknown bridge network option",
        "unsupported",
        "accepts ",
        "requires at least",
        "requires exactly",
        "cannot set gateway or range without subnet",
        "must be",
    ];
    const ABSENT: &[&str] = &[
        "no such file or directory",
        "no such pod",
        "no such container",
        "no such secret",
        "no such volume",
        "no such network",
        "network not found",
        "unable to find network",
        "image not known",
        "network is unreachable",
        "context must be a directory",
        "already exists",
        "is in use",
        "already in use",
        "already used on the host or by another config",
        "only supported in rootless mode",
        "no subuid ranges found",
        "cloning \"",
        "cannot listen on the tcp port",
        "not in any subnet",
        "container state improper",
        "no command or entrypoint provided",
        "apparmor is not enabled on this system",
        "failed to initialize syslog hook",
        // `--opt o=size=` is taken; the storage here (tmpfs) has no XFS project quota: a
        // property of this machine, not a refusal of the flag.
        "does not support project quota",
    ];
    // podman 4.3 reads `--network pasta` as the name of a network: never made here, so
    // its "not found" is the refusal of the mode.
    if s.contains("network with name or id pasta") {
        return Class::Refused;
    }
    if ABSENT.iter().any(|p| s.contains(p)) {
        Class::Absent
    } else if REFUSED.iter().any(|p| s.contains(p)) {
        Class::Refused
    } else {
        Class::Unclassified
    }
}

/// The flags of one podman command (or the global ones, `path` empty) that take a value,
/// and the long name of each short one, from its `--help` (pflag's usage lines: a flag
/// with a type word after its name takes a value).
#[derive(Default)]
struct Arity {
    takes_value: std::collections::HashSet<String>,
    short: HashMap<char, String>,
}

fn arity(podman: &[String], path: &[&str]) -> Arity {
    let out = Command::new(&podman[0])
        .args(&podman[1..])
        .args(path)
        .arg("--help")
        .output()
        .unwrap();
    let re = regex::Regex::new(r"^\s+(?:-(\w), )?--([\w-]+)( \S+)?(?:\s\s|$)").unwrap();
    let mut a = Arity::default();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(c) = re.captures(l) {
            let long = c[2].to_owned();
            if let Some(s) = c.get(1) {
                a.short
                    .insert(s.as_str().chars().next().unwrap(), long.clone());
            }
            if c.get(3).is_some() {
                a.takes_value.insert(long);
            }
        }
    }
    a
}

/// The index past the flags starting at `i` (the first positional word).
fn skip_flags(argv: &[String], mut i: usize, a: &Arity) -> usize {
    while i < argv.len() && argv[i].starts_with('-') && argv[i] != "-" {
        let w = &argv[i];
        i += 1;
        if w == "--" {
            break;
        }
        let long = match w.strip_prefix("--") {
            Some(l) if l.contains('=') => continue,
            Some(l) => l.to_owned(),
            None if w.len() == 2 => match a.short.get(&w.chars().nth(1).unwrap()) {
                Some(l) => l.clone(),
                None => continue,
            },
            None => continue,
        };
        if a.takes_value.contains(&long) {
            i += 1;
        }
    }
    i
}

/// `podman run`'s flags that `podman create` has not (v4.3.1 `cmd/podman/containers/run.go`),
/// and whether each takes a value.
const RUN_ONLY: &[(&str, bool)] = &[
    ("--detach", false),
    ("-d", false),
    ("--sig-proxy", false),
    ("--rmi", false),
    ("--passwd", false),
    ("--preserve-fds", true),
    ("--detach-keys", true),
    ("--gpu", true),
];

/// Groups whose commands are two words (`network create`).
const GROUPS: &[&str] = &[
    "network",
    "volume",
    "pod",
    "image",
    "kube",
    "container",
    "artifact",
    "secret",
    "system",
    "generate",
    "play",
    "healthcheck",
    "manifest",
];

/// The command as the inner run gives it to podman: isolated, `run` as `create`, the
/// container's image the local one.
fn isolate(
    argv: &[String],
    iso: &[String],
    cache: &Mutex<HashMap<String, std::sync::Arc<Arity>>>,
) -> Vec<String> {
    let get = |path: &[&str]| {
        let key = path.join(" ");
        let mut c = cache.lock().unwrap();
        c.entry(key)
            .or_insert_with(|| std::sync::Arc::new(arity(&iso_podman(iso), path)))
            .clone()
    };
    let global = get(&[]);
    let start = skip_flags(argv, 1, &global);
    let mut end = start + 1;
    if argv
        .get(start)
        .is_some_and(|w| GROUPS.contains(&w.as_str()))
        && argv.len() > end
    {
        end += 1;
    }
    let path: Vec<&str> = argv[start..end.min(argv.len())]
        .iter()
        .map(String::as_str)
        .collect();
    let mut out: Vec<String> = argv[..end.min(argv.len())].to_vec();
    out[0] = PODMAN.to_owned();
    let mut rest: Vec<String> = argv[end.min(argv.len())..].to_vec();
    let is_run = path == ["run"] || path == ["container", "run"];
    if is_run || path == ["create"] || path == ["container", "create"] {
        if is_run {
            let n = out.len();
            out[n - 1] = "create".into();
            let mut kept = Vec::new();
            let mut it = rest.iter();
            let cmd = get(&["create"]);
            let img = skip_flags(&rest, 0, &cmd);
            let mut i = 0;
            while let Some(w) = it.next() {
                i += 1;
                if i > img {
                    kept.push(w.clone());
                    continue;
                }
                let name = w.split('=').next().unwrap_or(w);
                match RUN_ONLY.iter().find(|(f, _)| *f == name) {
                    Some((_, true)) if !w.contains('=') => {
                        it.next();
                        i += 1;
                    }
                    Some(_) => {}
                    None => kept.push(w.clone()),
                }
            }
            rest = kept;
        }
        let img = skip_flags(&rest, 0, &get(&["create"]));
        let rootfs = rest[..img].iter().any(|w| w.starts_with("--rootfs"));
        if !rootfs && img < rest.len() {
            rest[img] = IMAGE.to_owned();
        }
    }
    out.extend(iso.iter().cloned());
    out.extend(rest);
    out
}

fn iso_podman(iso: &[String]) -> Vec<String> {
    let mut v = vec![PODMAN.to_owned()];
    v.extend(iso.iter().cloned());
    v
}

/// The run inside `unshare -m -n`: only when the outer test starts it.
#[test]
fn inner_run() {
    let Some(dir) = std::env::var_os(INNER) else {
        return;
    };
    let dir = PathBuf::from(dir);
    // Nothing podman writes outside the scratch directory reaches the host.
    for d in [
        "/etc/cni/net.d",
        "/etc/containers/networks",
        "/var/lib/cni",
        "/var/lib/containers",
        "/run/containers",
        "/run/libpod",
        "/var/tmp",
    ] {
        if Path::new(d).is_dir() {
            let st = Command::new("mount")
                .args(["-t", "tmpfs", "tmpfs", d])
                .status()
                .unwrap();
            assert!(st.success(), "mount a tmpfs on {d}");
        }
    }
    let s = |p: &str| dir.join(p).to_string_lossy().into_owned();
    let iso: Vec<String> = [
        "--root",
        &s("root"),
        "--runroot",
        &s("run"),
        "--tmpdir",
        &s("tmp"),
        "--network-config-dir",
        &s("net"),
        "--cgroup-manager=cgroupfs",
        "--events-backend=none",
        "--storage-driver=vfs",
    ]
    .iter()
    .map(|w| w.to_string())
    .collect();
    fs::create_dir_all(dir.join("net")).unwrap();
    // The image: one file, and a command that is never started. `pod create` builds its
    // pause image from `catatonit` found in PATH: a script stands for it.
    fs::create_dir_all(dir.join("rootfs/etc")).unwrap();
    fs::write(dir.join("rootfs/etc/hostname"), "tiny\n").unwrap();
    fs::create_dir_all(dir.join("bin")).unwrap();
    util::write_program(&dir.join("bin/catatonit"), "#!/bin/sh\nexit 0\n", 0o755);
    let path = format!("{}:{}", s("bin"), std::env::var("PATH").unwrap_or_default());
    let st = Command::new("tar")
        .arg("-C")
        .arg(dir.join("rootfs"))
        .arg("-cf")
        .arg(dir.join("tiny.tar"))
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let out = Command::new(PODMAN)
        .args(&iso)
        .args(["import", "--change", "CMD=/bin/true"])
        .arg(dir.join("tiny.tar"))
        .arg(IMAGE)
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "podman import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jobs: Vec<(String, Vec<Vec<String>>)> =
        serde_json::from_str(&fs::read_to_string(dir.join("jobs")).unwrap()).unwrap();
    // The networks containers name and no unit creates, made first, so that a command's
    // values are checked past the network lookup. `pasta` is a mode of newer podman, never
    // made: on 4.3 it must stay "not found" (see `classify`).
    let words: Vec<&String> = jobs.iter().flat_map(|j| j.1.iter().flatten()).collect();
    let made: std::collections::HashSet<&str> = jobs
        .iter()
        .flat_map(|j| j.1.iter())
        .filter(|c| c.windows(2).any(|w| w[0] == "network" && w[1] == "create"))
        .filter_map(|c| c.last().map(String::as_str))
        .collect();
    let mut named = std::collections::BTreeSet::new();
    for (i, w) in words.iter().enumerate() {
        let v = match w.strip_prefix("--network=") {
            Some(v) => v,
            None if w.as_str() == "--network" => match words.get(i + 1) {
                Some(v) => v.as_str(),
                None => continue,
            },
            None => continue,
        };
        let name = v.split(':').next().unwrap_or(v);
        let modes = [
            "",
            "bridge",
            "host",
            "none",
            "private",
            "slirp4netns",
            "pasta",
            "container",
            "ns",
        ];
        if !modes.contains(&name) && !made.contains(name) {
            named.insert(name.to_owned());
        }
    }
    for n in &named {
        let _ = Command::new(PODMAN)
            .args(&iso)
            .args(["network", "create", n])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let next = Mutex::new(0usize);
    let results = Mutex::new(Vec::new());
    let cache = Mutex::new(HashMap::new());
    std::thread::scope(|sc| {
        for _ in 0..THREADS {
            sc.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some((origin, cmds)) = jobs.get(i) else {
                    break;
                };
                for c in cmds {
                    let argv = isolate(c, &iso, &cache);
                    let out = Command::new("timeout")
                        .arg("60")
                        .args(&argv)
                        .env("PATH", &path)
                        .env_remove("NOTIFY_SOCKET")
                        .stdin(Stdio::null())
                        .output()
                        .unwrap();
                    let rec = (
                        origin.clone(),
                        c.clone(),
                        out.status.code().unwrap_or(-1),
                        String::from_utf8_lossy(&out.stderr).into_owned(),
                    );
                    results.lock().unwrap().push(rec);
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    fs::write(
        dir.join("results"),
        serde_json::to_string(&results).unwrap(),
    )
    .unwrap();
}

/// Issue 25 item 4: below the oldest podman of a kind (`podman::KIND_SINCE`), one message
/// per run names the podman found and the minimum of each kind present, each source of
/// such a kind is refused with its file named, and the others are written. podman's
/// version comes from `podman --version` (a script here), from `ROOTLET_PODMAN_VERSION`
/// (podman is then not run), or is unknown: a podman that is absent or says nothing
/// readable gets the newest podman's units, as before (no refusal, no message).
#[test]
fn below_the_oldest_podman_one_message_per_run() {
    let t = util::Tmp::new("podman-oldest");
    let calls = t.join("calls");
    let podman = |name: &str, says: &str| {
        let p = t.join(&format!("bin/{name}"));
        let text = format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\necho '{says}'\n",
            calls.display()
        );
        util::write_program(&p, &text, 0o755);
        p
    };
    let old = podman("podman30", "podman version 3.0.0");
    let garbage = podman("garbage", "this is not a version");
    // Two directories: `rootlet check FILE FILE` checks each file's directory on its own.
    let net = t.write("a/net.network", "[Network]\n");
    let pod = t.write("b/web.pod", "[Pod]\n");
    let plain = t.write("b/plain.container", "[Container]\nImage=localhost/app\n");
    let run = |args: &[&std::ffi::OsStr], podman: &Path, pinned: Option<&str>| {
        let _ = fs::remove_file(&calls);
        let mut c = Command::new(util::bin("rootlet"));
        c.args(args)
            .env("XDG_CONFIG_HOME", t.path().join("no-config"))
            .env("PODMAN", podman)
            .env_remove("ROOTLET_UNIT_DIRS")
            .env_remove("ROOTLET_PODMAN_VERSION");
        if let Some(v) = pinned {
            c.env("ROOTLET_PODMAN_VERSION", v);
        }
        let o = c.output().unwrap();
        let asked = fs::read_to_string(&calls)
            .unwrap_or_default()
            .lines()
            .count();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            asked,
        )
    };
    let check: Vec<&std::ffi::OsStr> = vec![
        "check".as_ref(),
        net.as_os_str(),
        pod.as_os_str(),
        plain.as_os_str(),
    ];
    let head = |e: &str| {
        e.lines()
            .filter(|l| l.contains(" is older than rootlet needs"))
            .count()
    };

    // Found by asking podman: one message naming podman 3.0.0, .network 3.1.0, .pod 4.2.0.
    let (code, e, asked) = run(&check, &old, None);
    assert_eq!(code, Some(1), "{e}");
    assert_eq!(head(&e), 1, "{e}");
    let first = e.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "{}: podman 3.0.0 is older than rootlet needs for .network files (3.1.0 or newer), \
             .pod files (4.2.0 or newer): they get no unit (each named below), the others are written",
            old.display()
        ),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "{}:1: [Network]: a .network file needs podman 3.1.0",
            net.display()
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "{}:1: [Pod]: a .pod file needs podman 4.2.0",
            pod.display()
        )),
        "{e}"
    );
    assert!(!e.contains("plain.container"), "{e}");
    // The summary counts the files, not the podman.
    assert!(
        e.ends_with("rootlet: 2 error(s) in 2 file(s); 1 unit(s) OK\n"),
        "{e}"
    );
    assert!(asked >= 1, "podman was not asked");

    // Pinned: the same refusals, said so, and podman is not run.
    let (code, e, asked) = run(&check, &old, Some("3.0.0"));
    assert_eq!((code, head(&e), asked), (Some(1), 1, 0), "{e}");
    assert!(
        e.lines()
            .next()
            .unwrap()
            .contains("podman 3.0.0 (ROOTLET_PODMAN_VERSION) is older"),
        "{e}"
    );

    // `rootlet generate` and the generator: written are the units of the kinds old enough.
    let (out, b) = (t.path().join("out"), t.path().join("b"));
    let generate: Vec<&std::ffi::OsStr> = vec![
        "generate".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
        b.as_os_str(),
    ];
    let (code, e, _) = run(&generate, &old, None);
    assert_eq!((code, head(&e)), (Some(1), 1), "{e}");
    assert!(
        out.join("plain.service").exists() && !out.join("web-pod.service").exists(),
        "{e}"
    );

    // Unknown version: the newest podman's units, no refusal, as before.
    for p in [garbage.as_path(), Path::new("/nonexistent/podman")] {
        let (code, e, _) = run(&check, p, None);
        assert_eq!(
            (code, e.as_str()),
            (Some(0), "rootlet: 3 unit(s) OK\n"),
            "{}",
            p.display()
        );
    }
    // An unreadable ROOTLET_PODMAN_VERSION means the newest too (`newest` is the word).
    let (code, e, asked) = run(&check, &old, Some("newest"));
    assert_eq!(
        (code, e.as_str(), asked),
        (Some(0), "rootlet: 3 unit(s) OK\n", 0)
    );
}

//! `rootlet print|rm|add|list` run as a user runs them, with a scratch HOME and XDG
//! directories and no user manager (states unknown; the manager's side is proven in
//! tests/e2e/day2.sh).

use crate::util;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A user with a scratch home (`util::UserEnv`), for `rootlet` only.
struct Env {
    user: util::UserEnv,
}

impl Env {
    fn new() -> Env {
        Env {
            user: util::UserEnv::new("manage"),
        }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.user.path().join(rel)
    }
    fn home(&self) -> PathBuf {
        self.user.home()
    }
    /// The user's source directory.
    fn src(&self) -> PathBuf {
        self.home().join(".config/containers/systemd")
    }
    fn apps(&self) -> String {
        fs::read_to_string(self.home().join(".local/share/rootlet/apps")).unwrap_or_default()
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        self.user.write(rel, text)
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.user.cmd(util::bin("rootlet"));
        c.args(args);
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.user.run("rootlet", args)
    }
    /// Files in the source directory, sorted (hidden ones too: no temporary file may stay).
    fn sources(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.src())
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().into_string().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn failed(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stderr.clone()).unwrap()
}

const WEB: &str = "[Container]\nImage=docker.io/library/busybox\nExec=sleep 1000\n";
const BAD: &str = "[Container]\nImage=busybox\nPublishPorts=80:80\n";

#[test]
fn print_shows_the_source_with_its_dropins_by_any_name() {
    let e = Env::new();
    let src = e.src();
    e.write("home/.config/containers/systemd/web.container", WEB);
    e.write(
        "home/.config/containers/systemd/web.container.d/10-env.conf",
        "[Container]\nEnvironment=A=1\n",
    );
    let want = format!(
        "# {}\n{WEB}\n# {}\n[Container]\nEnvironment=A=1\n",
        src.join("web.container").display(),
        src.join("web.container.d/10-env.conf").display()
    );
    for name in ["web.container", "web", "web.service"] {
        assert_eq!(ok(&e.run(&["print", name])), want, "{name}");
    }
    assert_eq!(ok(&e.run(&["cat", "web"])), want);
    let unit = ok(&e.run(&["print", "--unit", "web"]));
    assert!(unit.starts_with("# web.service (from "), "{unit}");
    assert!(unit.contains("ExecStart="), "{unit}");
    assert!(unit.contains("--env A=1"), "the drop-in applies: {unit}");
    let err = failed(&e.run(&["print", "nope"]));
    assert!(err.contains("nope: no such source"), "{err}");
    // A broken source: --unit prints its errors as file:line.
    e.write("home/.config/containers/systemd/bad.container", BAD);
    let err = failed(&e.run(&["print", "--unit", "bad"]));
    assert!(err.contains("bad.container:3: unknown key"), "{err}");
    // Two sources of one name: ambiguous.
    e.write("home/.config/containers/systemd/x.network", "[Network]\n");
    e.write("home/.config/containers/systemd/x.volume", "[Volume]\n");
    let err = failed(&e.run(&["print", "x"]));
    assert!(err.contains("ambiguous"), "{err}");
}

#[test]
fn add_a_file_a_directory_and_a_bundle_then_list_and_rm() {
    let e = Env::new();
    let f = e.write("in/solo.container", WEB);
    e.write("in/shop/front.container", WEB);
    e.write("in/shop/shop.network", "[Network]\n");
    e.write("in/shop/nginx.conf", "events {}\n");
    let b = e.write(
        "in/stack.quadlets",
        "# FileName=api\n[Container]\nImage=busybox\n---\n# FileName=data.volume\n[Volume]\n",
    );
    let out = ok(&e.run(&[
        "add",
        "--no-reload",
        f.to_str().unwrap(),
        "in/shop",
        b.to_str().unwrap(),
    ]));
    assert!(out.contains(&format!("{}\n", e.src().join("solo.container").display())));
    assert_eq!(
        e.sources(),
        [
            "api.container",
            "data.volume",
            "front.container",
            "nginx.conf",
            "shop.network",
            "solo.container"
        ]
    );
    assert_eq!(
        fs::read_to_string(e.src().join("front.container")).unwrap(),
        WEB
    );
    let apps = e.apps();
    assert!(apps.contains("shop\tfront.container\t"), "{apps}");
    assert!(apps.contains("shop\tnginx.conf\t"), "{apps}");
    assert!(apps.contains("stack\tapi.container\t"), "{apps}");

    // list: every source with its unit and application; states unknown without a manager.
    let o = e.run(&["list"]);
    let table = ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("states unknown"));
    let line = table
        .lines()
        .find(|l| l.starts_with("front.container"))
        .unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        &cols[..5],
        ["front.container", "front.service", "unknown", "-", "shop"]
    );
    let line = table
        .lines()
        .find(|l| l.starts_with("shop.network"))
        .unwrap();
    assert!(line.contains("shop-network.service"), "{line}");
    assert!(!table.contains('\x1b'), "no colour off a terminal");
    let json = ok(&e.run(&["list", "--format", "json", "--filter", "name=s*"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shop.network", "solo.container"]);
    assert_eq!(v[0]["app"], "shop");
    assert_eq!(v[1]["app"], serde_json::Value::Null);
    assert_eq!(v[1]["active"], "unknown");
    let json = ok(&e.run(&["list", "--format", "json", "--filter", "name=nothing*"]));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json).unwrap(),
        serde_json::json!([])
    );
    assert_eq!(
        e.run(&["list", "--filter", "state=x"]).status.code(),
        Some(2)
    );

    // rm one member: the whole application goes; the others stay.
    let out = ok(&e.run(&["rm", "--no-reload", "front"]));
    assert_eq!(out.lines().count(), 3, "{out}");
    assert_eq!(
        e.sources(),
        ["api.container", "data.volume", "solo.container"]
    );
    assert!(!e.apps().contains("shop"));
    // rm an application by its name, or by a file of it that is no source.
    ok(&e.run(&["add", "--no-reload", "in/shop"]));
    ok(&e.run(&["rm", "--no-reload", "nginx.conf"]));
    assert_eq!(
        e.sources(),
        ["api.container", "data.volume", "solo.container"]
    );
    ok(&e.run(&["rm", "--no-reload", "stack"]));
    assert_eq!(e.sources(), ["solo.container"]);
    assert!(!e.apps().contains("stack"));
    // rm --all.
    ok(&e.run(&["rm", "--no-reload", "--all"]));
    assert!(e.sources().is_empty());
    // Nothing left to remove is fine with --all.
    ok(&e.run(&["rm", "--no-reload", "--all"]));
}

#[test]
fn a_bad_file_among_good_ones_writes_nothing() {
    let e = Env::new();
    let good = e.write("in/good.container", WEB);
    let bad = e.write("in/bad.container", BAD);
    let err = failed(&e.run(&[
        "add",
        "--no-reload",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]));
    assert!(
        err.contains(&format!("{}:3: unknown key `PublishPorts`", bad.display())),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert!(e.sources().is_empty(), "{:?}", e.sources());
    // The same in a directory: no file of the application is written.
    e.write("app/a.container", WEB);
    e.write("app/b.container", BAD);
    let err = failed(&e.run(&["add", "--no-reload", "app"]));
    assert!(err.contains("app/b.container:3: unknown key"), "{err}");
    assert!(e.sources().is_empty());
    assert_eq!(e.apps(), "");
    // Not a quadlet file, a missing file: each reported, nothing written; so for a file that
    // does not translate.
    e.write("in/notes.txt", "x");
    e.write("in/p.kube", "[Kube]\n");
    let err = failed(&e.run(&[
        "add",
        "--no-reload",
        good.to_str().unwrap(),
        "in/notes.txt",
        "in/missing.container",
    ]));
    assert!(
        err.contains("in/notes.txt: notes.txt: not a quadlet file"),
        "{err}"
    );
    assert!(err.contains("in/missing.container: "), "{err}");
    assert!(e.sources().is_empty());
    let err = failed(&e.run(&["add", "--no-reload", good.to_str().unwrap(), "in/p.kube"]));
    assert!(err.contains("p.kube:1: [Kube] needs Yaml="), "{err}");
    assert!(e.sources().is_empty());
    // A reference to a network that does not exist anywhere fails like `rootlet check`.
    let r = e.write(
        "in/ref.container",
        "[Container]\nImage=x\nNetwork=nope.network\n",
    );
    let err = failed(&e.run(&["add", "--no-reload", r.to_str().unwrap()]));
    assert!(err.contains("ref.container:3:"), "{err}");
    assert!(e.sources().is_empty());
    // ... and passes when the network is added with it.
    let n = e.write("in/nope.network", "[Network]\n");
    ok(&e.run(&[
        "add",
        "--no-reload",
        r.to_str().unwrap(),
        n.to_str().unwrap(),
    ]));
    assert_eq!(e.sources(), ["nope.network", "ref.container"]);
}

#[test]
fn a_file_that_names_files_beside_it_is_added_with_its_directory() {
    let e = Env::new();
    e.write("web/web.yml", "apiVersion: v1\nkind: Pod\n");
    e.write("web/web.kube", "[Kube]\nYaml=web.yml\n");
    e.write(
        "img/app.build",
        "[Build]\nImageTag=localhost/app\nSetWorkingDirectory=unit\n",
    );
    e.write("img/Containerfile", "FROM scratch\n");
    // Alone, each would name nothing where it lands: refused, nothing written.
    let err = failed(&e.run(&["add", "--no-reload", "web/web.kube", "img/app.build"]));
    assert!(
        err.contains("web/web.kube:2: Yaml: `web.yml` is taken from the directory of web.kube"),
        "{err}"
    );
    assert!(
        err.contains("img/app.build:3: SetWorkingDirectory: `unit`"),
        "{err}"
    );
    assert!(err.contains("rootlet add DIR"), "{err}");
    assert!(e.sources().is_empty());
    // With an absolute path it is fine alone; as a directory, its files come along.
    e.write("abs/a.kube", "[Kube]\nYaml=/srv/a.yml\n");
    ok(&e.run(&["add", "--no-reload", "abs/a.kube"]));
    ok(&e.run(&["add", "--no-reload", "web"]));
    assert_eq!(e.sources(), ["a.kube", "web.kube", "web.yml"]);
}

#[test]
fn bundles_need_a_file_name_for_every_part() {
    let e = Env::new();
    let b = e.write(
        "b.quadlets",
        "# FileName=one\n[Container]\nImage=x\n---\n[Container]\nImage=y\n",
    );
    let err = failed(&e.run(&["add", "--no-reload", b.to_str().unwrap()]));
    assert!(
        err.contains(&format!(
            "{}:5: bundle part without a `# FileName=NAME` line",
            b.display()
        )),
        "{err}"
    );
    assert!(e.sources().is_empty());
    // Errors in a part are reported at the bundle's own line numbers.
    let b = e.write(
        "c.quadlets",
        "# FileName=one\n[Container]\nImage=x\n---\n# FileName=two\n[Container]\nImage=y\nPublishPorts=1:1\n",
    );
    let err = failed(&e.run(&["add", "--no-reload", b.to_str().unwrap()]));
    assert!(
        err.contains(&format!("{}:8: unknown key", b.display())),
        "{err}"
    );
    // A name that would leave the directory.
    let b = e.write(
        "d.quadlets",
        "# FileName=../../evil.container\n[Container]\nImage=x\n",
    );
    let err = failed(&e.run(&["add", "--no-reload", b.to_str().unwrap()]));
    assert!(err.contains("not a usable file name"), "{err}");
    assert!(e.sources().is_empty());
    assert!(!e.home().join(".config/evil.container").exists());
}

#[test]
fn existing_files_are_replaced_only_with_replace() {
    let e = Env::new();
    let f = e.write("in/web.container", WEB);
    ok(&e.run(&["add", "--no-reload", f.to_str().unwrap()]));
    let changed = format!("{WEB}Environment=V=2\n");
    fs::write(&f, &changed).unwrap();
    let err = failed(&e.run(&["add", "--no-reload", f.to_str().unwrap()]));
    assert!(err.contains("already exists (use --replace)"), "{err}");
    assert_eq!(
        fs::read_to_string(e.src().join("web.container")).unwrap(),
        WEB
    );
    ok(&e.run(&["add", "--no-reload", "--replace", f.to_str().unwrap()]));
    assert_eq!(
        fs::read_to_string(e.src().join("web.container")).unwrap(),
        changed
    );
    assert_eq!(e.sources(), ["web.container"], "no temporary file left");
    // An application added again needs --replace too; the new version's missing files go.
    e.write("app/a.container", WEB);
    e.write("app/b.container", WEB);
    ok(&e.run(&["add", "--no-reload", "app"]));
    fs::remove_file(e.path("app/b.container")).unwrap();
    let err = failed(&e.run(&["add", "--no-reload", "app"]));
    assert!(err.contains("application app is already added"), "{err}");
    ok(&e.run(&["add", "--no-reload", "--replace", "app"]));
    assert_eq!(e.sources(), ["a.container", "web.container"]);
    assert_eq!(e.apps().lines().filter(|l| !l.starts_with('#')).count(), 1);
}

#[test]
fn a_symlink_at_the_destination_is_never_written_through() {
    let e = Env::new();
    let victim = e.write("victim.container", "[Container]\nImage=keep\n");
    fs::create_dir_all(e.src()).unwrap();
    std::os::unix::fs::symlink(&victim, e.src().join("web.container")).unwrap();
    let f = e.write("in/web.container", WEB);
    let err = failed(&e.run(&["add", "--no-reload", f.to_str().unwrap()]));
    assert!(err.contains("already exists"), "{err}");
    ok(&e.run(&["add", "--no-reload", "--replace", f.to_str().unwrap()]));
    assert_eq!(
        fs::read_to_string(&victim).unwrap(),
        "[Container]\nImage=keep\n"
    );
    let dest = e.src().join("web.container");
    assert!(!fs::symlink_metadata(&dest)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_to_string(&dest).unwrap(), WEB);
    // rm of a symlinked source removes the link, never its target.
    std::os::unix::fs::symlink(&victim, e.src().join("other.container")).unwrap();
    ok(&e.run(&["rm", "--no-reload", "other"]));
    assert!(victim.exists());
    assert!(fs::symlink_metadata(e.src().join("other.container")).is_err());
}

#[test]
fn rm_of_an_unknown_name_removes_nothing_unless_ignored() {
    let e = Env::new();
    e.write("home/.config/containers/systemd/web.container", WEB);
    let err = failed(&e.run(&["rm", "--no-reload", "web", "nope"]));
    assert!(err.contains("nope: no such source"), "{err}");
    assert_eq!(e.sources(), ["web.container"]);
    let o = e.run(&["rm", "--no-reload", "--ignore", "web", "nope"]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope: not found, ignored"));
    assert!(e.sources().is_empty());
    ok(&e.run(&["rm", "--no-reload", "-i", "nope"]));
    // --force without a manager: nothing can be checked or stopped; the file goes.
    e.write("home/.config/containers/systemd/db.network", "[Network]\n");
    let o = e.run(&["rm", "--no-reload", "-f", "db-network.service"]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("units not checked for running"));
    assert!(e.sources().is_empty());
    // --all leaves files that are neither sources nor part of an application.
    e.write("home/.config/containers/systemd/README", "mine\n");
    e.write("home/.config/containers/systemd/a.container", WEB);
    ok(&e.run(&["rm", "--no-reload", "-a"]));
    assert_eq!(e.sources(), ["README"]);
    // No name and no --all: a usage error.
    assert_eq!(e.run(&["rm"]).status.code(), Some(2));
}

#[test]
fn without_a_user_manager_reload_fails_loudly_but_the_files_are_in_place() {
    let e = Env::new();
    let f = e.write("in/web.container", WEB);
    let err = failed(&e.run(&["add", f.to_str().unwrap()]));
    assert!(err.contains("daemon-reload"), "{err}");
    assert_eq!(e.sources(), ["web.container"]);
    let err = failed(&e.run(&["rm", "web"]));
    assert!(err.contains("daemon-reload"), "{err}");
    assert!(e.sources().is_empty());
    // --now needs the manager too; --now with --no-reload is a usage error.
    assert_eq!(
        e.run(&["add", "--now", "--no-reload", f.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
}

/// A one-shot HTTP server on 127.0.0.1: answers `answers` connections with `reply`, then
/// stops; gives up by itself after 30 s. Returns its port and the requests it saw.
fn serve(answers: usize, reply: &'static [u8]) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    let h = std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while seen.len() < answers && Instant::now() < until {
            match l.accept() {
                Ok((mut s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    let mut req = Vec::new();
                    let mut b = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut b) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => req.extend_from_slice(&b[..n]),
                        }
                    }
                    let _ = s.write_all(reply);
                    seen.push(String::from_utf8_lossy(&req).into_owned());
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        seen
    });
    (port, h)
}

#[test]
fn add_from_http_on_loopback() {
    let e = Env::new();
    let (port, h) = serve(
        1,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n12\r\n[Container]\nImage=\r\n18\r\nbusybox\nExec=sleep 1000\n\r\n0\r\n\r\n",
    );
    let url = format!("http://127.0.0.1:{port}/q/web.container?x=1");
    ok(&e.run(&["add", "--no-reload", &url]));
    let reqs = h.join().unwrap();
    assert!(
        reqs[0].starts_with("GET /q/web.container?x=1 HTTP/1.1\r\n"),
        "{reqs:?}"
    );
    assert_eq!(
        fs::read_to_string(e.src().join("web.container")).unwrap(),
        "[Container]\nImage=busybox\nExec=sleep 1000\n"
    );
    // A bundle by URL, with Content-Length.
    let (port, h) = serve(
        1,
        b"HTTP/1.1 200 OK\r\nContent-Length: 52\r\n\r\n# FileName=n1\n[Network]\n---\n# FileName=n2\n[Network]\n",
    );
    ok(&e.run(&[
        "add",
        "--no-reload",
        &format!("http://127.0.0.1:{port}/set.quadlets"),
    ]));
    h.join().unwrap();
    assert_eq!(e.sources(), ["n1.network", "n2.network", "web.container"]);
    assert!(e.apps().contains("set\tn2.network\t"));
    // A 404 and a bad file by URL: errors, nothing written.
    let (port, h) = serve(1, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    let err = failed(&e.run(&[
        "add",
        "--no-reload",
        &format!("http://127.0.0.1:{port}/x.container"),
    ]));
    assert!(
        err.contains("the server answered HTTP/1.1 404 Not Found"),
        "{err}"
    );
    h.join().unwrap();
    let (port, h) = serve(
        1,
        b"HTTP/1.1 200 OK\r\n\r\n[Container]\nImage=x\nPublishPorts=1:1\n",
    );
    let url = format!("http://127.0.0.1:{port}/bad.container");
    let err = failed(&e.run(&["add", "--no-reload", &url]));
    assert!(err.contains(&format!("{url}:3: unknown key")), "{err}");
    h.join().unwrap();
    assert!(!e.src().join("bad.container").exists());
    // Plain http:// elsewhere than loopback is refused before any connection.
    let err = failed(&e.run(&["add", "--no-reload", "http://192.0.2.1:9/x.container"]));
    assert!(err.contains("loopback addresses only"), "{err}");
}

#[test]
fn add_from_https_goes_through_curl() {
    let e = Env::new();
    // A stand-in curl that records its arguments and prints a source (the real one would
    // need a TLS server; the plumbing is what is tested here).
    let bin = e.path("bin");
    fs::create_dir_all(&bin).unwrap();
    let log = e.path("curl.args");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nprintf '[Container]\\nImage=busybox\\n'\n",
        log.display()
    );
    let curl = bin.join("curl");
    util::write_program(&curl, &script, 0o755);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = e
        .cmd(&[
            "add",
            "--no-reload",
            "https://example.invalid/a/web.container",
        ])
        .env("PATH", &path)
        .output()
        .unwrap();
    ok(&o);
    let args = fs::read_to_string(&log).unwrap();
    assert!(args.contains("=https\n"), "only https: {args}");
    assert!(
        args.ends_with("--\nhttps://example.invalid/a/web.container\n"),
        "{args}"
    );
    assert_eq!(
        fs::read_to_string(e.src().join("web.container")).unwrap(),
        "[Container]\nImage=busybox\n"
    );
    // A failing curl: its message, nothing written.
    fs::write(
        &curl,
        "#!/bin/sh\necho 'curl: (6) Could not resolve host' >&2\nexit 6\n",
    )
    .unwrap();
    let o = e
        .cmd(&["add", "--no-reload", "https://example.invalid/b.container"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let err = failed(&o);
    assert!(
        err.contains("curl failed") && err.contains("Could not resolve host"),
        "{err}"
    );
    assert!(!e.src().join("b.container").exists());
    // A URL that names no file.
    let err = failed(&e.run(&["add", "--no-reload", "https://example.invalid/"]));
    assert!(err.contains("names no file"), "{err}");
}

#[test]
fn list_with_nothing_and_no_manager_exits_0() {
    let e = Env::new();
    let out = ok(&e.run(&["list"]));
    assert_eq!(out.lines().count(), 1, "only the header: {out}");
    assert_eq!(ok(&e.run(&["list", "--format", "json"])), "[]\n");
    // Help mentions the new commands.
    let help = ok(&e.run(&["--help"]));
    for c in ["print", "rm", "add", "list"] {
        assert!(help.contains(c), "{help}");
    }
}

/// Several `rootlet add` of different applications at once: each read-modify-write of the
/// applications file holds rootlet's lock, so none is lost.
#[test]
fn concurrent_adds_lose_no_application() {
    let e = Env::new();
    let n = 8;
    for i in 0..n {
        e.write(
            &format!("in/app{i}/svc{i}.container"),
            "[Container]\nImage=docker.io/library/busybox:1\n",
        );
    }
    let children: Vec<_> = (0..n)
        .map(|i| {
            e.cmd(&["add", "--no-reload", &format!("in/app{i}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let apps = e.apps();
    for i in 0..n {
        assert!(
            apps.contains(&format!("svc{i}.container")),
            "app{i} lost:\n{apps}"
        );
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// N2 (the class: no delete or write of the day-2 commands goes through a symlinked
/// directory below the user's own roots, or leaves them): a subdirectory of the source
/// directory that is a symlink to someone else's quadlets (`/etc/containers/systemd` on a
/// root account, a team's `/srv/quadlets`), and every command that removes: `rm NAME`,
/// `rm --all`, `rm APP`, `rm` of a service whose socket lies there, `add --replace` of an
/// application whose old member is now a symlink out.
#[test]
fn nothing_is_removed_through_a_symlinked_subdirectory() {
    let e = Env::new();
    let system = e.path("etc/containers/systemd");
    e.write("etc/containers/systemd/sysdb.container", WEB);
    e.write("etc/containers/systemd/syscache.container", WEB);
    e.write(
        "etc/containers/systemd/mine.socket",
        "[Socket]\nListenStream=127.0.0.1:8080\n",
    );
    fs::create_dir_all(e.src()).unwrap();
    std::os::unix::fs::symlink(&system, e.src().join("system")).unwrap();
    let outside = || {
        let mut v: Vec<String> = fs::read_dir(&system)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    let all = ["mine.socket", "syscache.container", "sysdb.container"];
    // rm NAME: refused, naming the link.
    let err = failed(&e.run(&["rm", "--no-reload", "sysdb"]));
    assert!(
        err.contains("reached through the symlinked directory"),
        "{err}"
    );
    assert!(
        err.contains(&e.src().join("system").display().to_string()),
        "{err}"
    );
    assert_eq!(outside(), all);
    // rm --all: the user's own files go, those behind the link stay, and it says so.
    e.write("home/.config/containers/systemd/own.container", WEB);
    let o = e.run(&["rm", "--no-reload", "--all"]);
    ok(&o);
    assert!(
        stderr(&o).contains("sysdb.container: reached through"),
        "{}",
        stderr(&o)
    );
    assert_eq!(outside(), all);
    assert_eq!(e.sources(), ["system"]);
    // rm of a service whose socket is behind the link: the service goes, the socket stays.
    e.write("home/.config/containers/systemd/mine.container", WEB);
    let o = e.run(&["rm", "--no-reload", "mine"]);
    ok(&o);
    assert!(
        stderr(&o).contains("is not yours to remove: it stays"),
        "{}",
        stderr(&o)
    );
    assert_eq!(outside(), all);
    // An application whose member was replaced by a symlink out: not the application's.
    e.write("app/a.container", WEB);
    e.write("app/b.network", "[Network]\n");
    ok(&e.run(&["add", "--no-reload", "app"]));
    fs::remove_file(e.src().join("b.network")).unwrap();
    std::os::unix::fs::symlink(system.join("sysdb.container"), e.src().join("b.network")).unwrap();
    ok(&e.run(&["rm", "--no-reload", "app"]));
    assert!(fs::symlink_metadata(e.src().join("b.network")).is_ok());
    fs::remove_file(e.src().join("b.network")).unwrap();
    ok(&e.run(&["add", "--no-reload", "app"]));
    fs::remove_file(e.path("app/b.network")).unwrap();
    fs::remove_file(e.src().join("a.container")).unwrap();
    std::os::unix::fs::symlink(system.join("sysdb.container"), e.src().join("a.container"))
        .unwrap();
    e.write("app/c.network", "[Network]\n");
    // b.network stays in the record? No: it was taken by the symlink, so the app's new
    // version (a, c) replaces the link at a.container itself, never its target.
    ok(&e.run(&["add", "--no-reload", "--replace", "app"]));
    assert_eq!(outside(), all);
    assert_eq!(
        fs::read_to_string(system.join("sysdb.container")).unwrap(),
        WEB
    );
}

/// N3: the existence check and the write are one step under the lock, and the write
/// cannot replace a file: of two `add`s of one name at once exactly one wins, and a file
/// that appears while `add` checks (a slow podman widens the window) is kept.
#[test]
fn add_without_replace_never_overwrites_even_racing() {
    let e = Env::new();
    let podman = e.path("bin/podman");
    util::write_program(
        &podman,
        "#!/bin/sh\nsleep 1\necho 'podman version 4.3.1'\n",
        0o755,
    );
    let one = e.write("in1/db.kube", "[Kube]\nYaml=/srv/one.yaml\n");
    let two = e.write("in2/db.kube", "[Kube]\nYaml=/srv/two.yaml\n");
    for round in 0..3 {
        let _ = fs::remove_file(e.src().join("db.kube"));
        let spawn = |f: &PathBuf| {
            // The slow podman is the window of the race: asked at every run, so no
            // runtime directory to keep its answer in (podman::Lazy::cached_in).
            e.cmd(&["add", "--no-reload", f.to_str().unwrap()])
                .env("PODMAN", &podman)
                .env_remove("XDG_RUNTIME_DIR")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(&one), spawn(&two));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        assert_eq!(
            [a.status.success(), b.status.success()]
                .iter()
                .filter(|x| **x)
                .count(),
            1,
            "round {round}: exactly one wins\n{}\n{}",
            stderr(&a),
            stderr(&b)
        );
        let loser = if a.status.success() { &b } else { &a };
        assert!(stderr(loser).contains("already exists") || stderr(loser).contains("appeared"));
        let winner = if a.status.success() { &one } else { &two };
        assert_eq!(
            fs::read_to_string(e.src().join("db.kube")).unwrap(),
            fs::read_to_string(winner).unwrap()
        );
        assert_eq!(e.sources(), ["db.kube"], "no temporary file left");
    }
    // The user's file, written while add checks.
    fs::remove_file(e.src().join("db.kube")).unwrap();
    let child = e
        .cmd(&["add", "--no-reload", one.to_str().unwrap()])
        .env("PODMAN", &podman)
        .env_remove("XDG_RUNTIME_DIR")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mine = "# my own\n[Kube]\nYaml=/srv/mine.yaml\n";
    fs::write(e.src().join("db.kube"), mine).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(e.src().join("db.kube")).unwrap(), mine);
    assert_eq!(e.sources(), ["db.kube"]);
}

/// N4: an application's files are its own only while they are what `add` wrote: a file
/// the user wrote later under a former member's name is neither listed as the
/// application's nor removed with it (by `rm` of a member, of the application, or by
/// `add --replace` of a new version without it).
#[test]
fn a_hand_written_file_of_a_former_members_name_is_never_the_applications() {
    let e = Env::new();
    e.write("shop/web.container", WEB);
    e.write(
        "shop/db.container",
        "[Container]\nImage=docker.io/library/postgres\n",
    );
    ok(&e.run(&["add", "--no-reload", "shop"]));
    let db = e.src().join("db.container");
    let mine = "# my own database\n[Container]\nImage=docker.io/library/mariadb\n";
    fs::remove_file(&db).unwrap();
    fs::write(&db, mine).unwrap();
    let json = ok(&e.run(&["list", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let app_of = |n: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == n)
            .unwrap()["app"]
            .clone()
    };
    assert_eq!(app_of("web.container"), "shop");
    assert_eq!(app_of("db.container"), serde_json::Value::Null);
    let o = e.run(&["rm", "--no-reload", "web"]);
    ok(&o);
    assert!(
        stderr(&o).contains("db.container: changed since"),
        "{}",
        stderr(&o)
    );
    assert_eq!(e.sources(), ["db.container"]);
    assert_eq!(fs::read_to_string(&db).unwrap(), mine);
    // The same through add --replace of a new version that lacks db.container.
    fs::remove_file(&db).unwrap();
    ok(&e.run(&["add", "--no-reload", "shop"]));
    fs::write(&db, mine).unwrap();
    fs::remove_file(e.path("shop/db.container")).unwrap();
    let o = e.run(&["add", "--no-reload", "--replace", "--force", "shop"]);
    ok(&o);
    assert_eq!(fs::read_to_string(&db).unwrap(), mine);
    // A member still as written goes with its application.
    e.write("shop/extra.network", "[Network]\n");
    ok(&e.run(&["add", "--no-reload", "--replace", "shop"]));
    ok(&e.run(&["rm", "--no-reload", "shop/"]));
    assert_eq!(e.sources(), ["db.container"]);
}

/// N15: one rule for every way a file is added: a bundle cannot bring the files a part
/// names beside it, a directory brings only its top-level files.
#[test]
fn bundles_and_directories_must_bring_the_files_their_sources_name() {
    let e = Env::new();
    let b = e.write(
        "stack.quadlets",
        "# FileName=app.kube\n[Kube]\nYaml=pod.yaml\n---\n# FileName=img.build\n[Build]\nImageTag=localhost/img\nFile=Containerfile\nSetWorkingDirectory=unit\n",
    );
    let err = failed(&e.run(&["add", "--no-reload", b.to_str().unwrap()]));
    let at = b.display().to_string();
    assert!(err.contains(&format!("{at}:3: Yaml: `pod.yaml`")), "{err}");
    assert!(
        err.contains(&format!("{at}:8: File: `Containerfile`")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{at}:9: SetWorkingDirectory: `unit`")),
        "{err}"
    );
    assert!(err.contains("bundle brings only"), "{err}");
    e.write("shop/shop.kube", "[Kube]\nYaml=k8s/pod.yaml\n");
    e.write("shop/k8s/pod.yaml", "apiVersion: v1\nkind: Pod\n");
    let err = failed(&e.run(&["add", "--no-reload", "shop"]));
    assert!(err.contains("shop.kube:2: Yaml: `k8s/pod.yaml`"), "{err}");
    assert!(err.contains("no subdirectory"), "{err}");
    assert!(e.sources().is_empty());
    // Beside it in the directory: brought, fine.
    e.write("shop/shop.kube", "[Kube]\nYaml=pod.yaml\n");
    e.write("shop/pod.yaml", "apiVersion: v1\nkind: Pod\n");
    ok(&e.run(&["add", "--no-reload", "shop"]));
    assert_eq!(e.sources(), ["pod.yaml", "shop.kube"]);
}

/// N16: a source of the same name that the generator reads first would run instead of
/// the added one: refused, naming it.
#[test]
fn add_refuses_a_file_an_earlier_directory_shadows() {
    let e = Env::new();
    let early = e.write(
        "run/containers/systemd/web.container",
        "[Container]\nImage=docker.io/library/old\n",
    );
    let f = e.write("in/web.container", WEB);
    let err = failed(&e.run(&["add", "--no-reload", f.to_str().unwrap()]));
    assert!(
        err.contains(&format!("{} is read first", early.display())),
        "{err}"
    );
    assert!(e.sources().is_empty());
    // A source of that name further down the search path does not shadow it.
    fs::remove_file(&early).unwrap();
    e.write("home/.config/containers/systemd/sub/web.container", WEB);
    ok(&e.run(&["add", "--no-reload", f.to_str().unwrap()]));
}

/// N19: a name that is both an application and a source is ambiguous: nothing removed,
/// both named, with how to pick each.
#[test]
fn rm_of_a_name_that_is_an_application_and_a_source_is_ambiguous() {
    let e = Env::new();
    e.write("web/db.container", WEB);
    e.write("single/web.container", WEB);
    ok(&e.run(&["add", "--no-reload", "web"]));
    ok(&e.run(&["add", "--no-reload", "single/web.container"]));
    let err = failed(&e.run(&["rm", "--no-reload", "web"]));
    assert!(err.contains("web is ambiguous"), "{err}");
    assert!(
        err.contains("application web (db.container; `rootlet rm web/`"),
        "{err}"
    );
    assert!(
        err.contains("source web.container (`rootlet rm web.container`"),
        "{err}"
    );
    assert_eq!(e.sources(), ["db.container", "web.container"]);
    ok(&e.run(&["rm", "--no-reload", "web/"]));
    assert_eq!(e.sources(), ["web.container"]);
    ok(&e.run(&["rm", "--no-reload", "web"]));
    assert!(e.sources().is_empty());
}

/// P9: `add --replace` does not silently take another application's file.
#[test]
fn replace_names_the_application_whose_file_it_takes() {
    let e = Env::new();
    e.write("shop/shop.container", WEB);
    e.write("shop/notes.txt", "shop notes\n");
    e.write("blog/blog.container", WEB);
    e.write("blog/notes.txt", "blog notes\n");
    ok(&e.run(&["add", "--no-reload", "shop"]));
    let err = failed(&e.run(&["add", "--no-reload", "blog"]));
    assert!(
        err.contains("already exists, a file of application shop"),
        "{err}"
    );
    let err = failed(&e.run(&["add", "--no-reload", "--replace", "blog"]));
    assert!(err.contains("belongs to application shop"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        fs::read_to_string(e.src().join("notes.txt")).unwrap(),
        "shop notes\n"
    );
    let o = e.run(&["add", "--no-reload", "--replace", "--force", "blog"]);
    ok(&o);
    assert!(
        stderr(&o).contains("notes.txt: taken from application shop"),
        "{}",
        stderr(&o)
    );
    assert!(e.apps().contains("blog\tnotes.txt\t"));
    assert!(!e.apps().contains("shop\tnotes.txt"));
}

/// P10: `list --filter app=NAME` lists an application.
#[test]
fn list_filters_by_application() {
    let e = Env::new();
    e.write("shop/front.container", WEB);
    e.write("shop/shop.network", "[Network]\n");
    e.write("in/solo.container", WEB);
    ok(&e.run(&["add", "--no-reload", "shop", "in/solo.container"]));
    let names = |filter: &str| -> Vec<String> {
        let json = ok(&e.run(&["list", "--format", "json", "--filter", filter]));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names("app=shop"), ["front.container", "shop.network"]);
    assert_eq!(names("app=sh*"), ["front.container", "shop.network"]);
    assert!(names("app=solo").is_empty());
    assert_eq!(names("name=shop*"), ["shop.network"]);
    let o = e.run(&["list", "--filter", "state=x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("app=GLOB"), "{}", stderr(&o));
}

/// P15: a source that yields no unit says why in `list`, with its `file:line`.
#[test]
fn list_says_why_a_source_has_no_unit() {
    let e = Env::new();
    let bad = e.write("home/.config/containers/systemd/typo.container", BAD);
    e.write("home/.config/containers/systemd/web.container", WEB);
    let table = ok(&e.run(&["list"]));
    let want = format!("  └ no unit: {}:3: unknown key", bad.display());
    assert!(table.contains(&want), "{table}");
    assert_eq!(table.matches("└").count(), 1, "{table}");
    let json = ok(&e.run(&["list", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v[0]["error"].as_str().unwrap().contains(":3: unknown key"));
    assert_eq!(v[1]["error"], serde_json::Value::Null);
}

/// P4: a socket goes with the service it activates (by name or by `Service=`), and `rm`
/// says so.
#[test]
fn rm_of_a_service_takes_its_socket() {
    let e = Env::new();
    let d = "home/.config/containers/systemd";
    e.write(&format!("{d}/web.container"), WEB);
    e.write(
        &format!("{d}/web.socket"),
        "[Socket]\nListenStream=127.0.0.1:8080\n",
    );
    e.write(&format!("{d}/api.container"), WEB);
    e.write(
        &format!("{d}/front.socket"),
        "[Socket]\nListenStream=127.0.0.1:8081\nService=api.container\n",
    );
    e.write(
        &format!("{d}/other.socket"),
        "[Socket]\nListenStream=127.0.0.1:8082\n",
    );
    let o = e.run(&["rm", "--no-reload", "web", "api"]);
    let out = ok(&o);
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(
        stderr(&o).contains("web.socket activates web.service: removed with it"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("front.socket activates api.service"),
        "{}",
        stderr(&o)
    );
    assert_eq!(e.sources(), ["other.socket"]);
    // A socket alone goes alone.
    e.write(&format!("{d}/other.container"), WEB);
    ok(&e.run(&["rm", "--no-reload", "other.socket"]));
    assert_eq!(e.sources(), ["other.container"]);
}

/// P3: under the no-root install, `add` generates the units before it returns (and `rm`
/// removes them), so that the reload and the start that follow find them; before, the
/// path unit's regeneration came seconds later and `add --now` failed with NoSuchUnit.
#[test]
fn under_the_no_root_install_add_and_rm_generate_before_they_return() {
    let e = Env::new();
    ok(&e.run(&["install", "--user", "--no-systemctl"]));
    let unit = e.home().join(".local/share/systemd/user/web.service");
    assert!(!unit.exists());
    let f = e.write("in/web.container", WEB);
    let o = e.run(&["add", "--no-reload", f.to_str().unwrap()]);
    ok(&o);
    assert!(unit.exists(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("units generated into"),
        "{}",
        stderr(&o)
    );
    ok(&e.run(&["rm", "--no-reload", "web"]));
    assert!(!unit.exists());
}

/// Audit N18, the same class on `add`'s paths: the temporaries a killed `add` leaves (in
/// the source directory and beside the applications record) are removed by the next one
/// when they are provably its own, and only then.
#[test]
fn temporaries_of_a_killed_add_are_swept_and_only_those() {
    let e = Env::new();
    // A pid no process has (above the kernel's default pid_max): the writer is gone.
    let gone = 4_194_301;
    let state = e.home().join(".local/share/rootlet");
    fs::create_dir_all(&state).unwrap();
    fs::create_dir_all(e.src()).unwrap();
    let stale = |dir: &Path, stem: &str, n: u32, text: &str| {
        let p = dir.join(format!(".#{stem}.{gone}.{n}.tmp"));
        fs::write(&p, text).unwrap();
        p
    };
    let empty = stale(&e.src(), "web.container", 0, "");
    let same = stale(&e.src(), "web.container", 1, WEB);
    let other = stale(&e.src(), "web.container", 2, "[Container]\nImage=mine\n");
    let unrelated = stale(&e.src(), "db.container", 3, "");
    let apps = stale(&state, "apps", 4, "# half a record");
    // A directory: an application, so the record is written too.
    e.write("in/web.container", WEB);
    ok(&e.run(&["add", "--no-reload", e.path("in").to_str().unwrap()]));
    for p in [&empty, &same, &apps] {
        assert!(!p.exists(), "{} stays", p.display());
    }
    // Not provably this add's: another content, another name.
    assert!(other.exists() && unrelated.exists());
}

/// A container with its own `[Socket]`, in proxy mode (issue 26).
const PROXIED: &str = "[Container]\nImage=docker.io/library/busybox\nExec=httpd -f -p 8080\n\n[Socket]\nListenStream=127.0.0.1:18080\nProxyTo=8080\nIdleStopSec=30s\n";

/// Issue 26: `list` shows the sockets that start a unit (a container's own `[Socket]`, a
/// `.socket` file beside it) and the proxy of proxy mode, in the table and in JSON, and
/// `name=` finds a source by them; a `ServiceName=` names the unit and its socket (the
/// unit was named after the file before).
#[test]
fn list_shows_the_sockets_and_the_proxy_of_a_source() {
    let e = Env::new();
    let d = "home/.config/containers/systemd";
    e.write(&format!("{d}/web.container"), PROXIED);
    e.write(&format!("{d}/api.container"), WEB);
    e.write(
        &format!("{d}/api.socket"),
        "[Socket]\nListenStream=127.0.0.1:18081\n",
    );
    e.write(
        &format!("{d}/named.container"),
        "[Container]\nImage=x\nServiceName=svc\n",
    );
    e.write(
        &format!("{d}/named.container.d/s.conf"),
        "[Socket]\nListenStream=127.0.0.1:18082\n",
    );
    e.write(&format!("{d}/lone.container"), WEB);
    let table = ok(&e.run(&["list"]));
    let row = |name: &str| -> Vec<String> {
        let l = table.lines().find(|l| l.starts_with(name)).unwrap();
        l.split("  ")
            .filter(|c| !c.is_empty())
            .map(|c| c.trim().to_owned())
            .collect()
    };
    assert!(table.starts_with("NAME "), "{table}");
    assert_eq!(
        table
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["NAME", "UNIT", "STATE", "SOCKET", "APPLICATION", "PATH"]
    );
    assert_eq!(
        row("web.container")[..4],
        [
            "web.container",
            "web.service",
            "unknown",
            "web.socket unknown, web-proxy.service unknown"
        ],
        "{table}"
    );
    assert_eq!(
        row("api.container")[..4],
        [
            "api.container",
            "api.service",
            "unknown",
            "api.socket unknown"
        ]
    );
    assert_eq!(
        row("api.socket")[..4],
        ["api.socket", "api.socket", "unknown", "-"]
    );
    // The socket comes from a drop-in; the unit and the socket are named by ServiceName=.
    assert_eq!(
        row("named.container")[..4],
        [
            "named.container",
            "svc.service",
            "unknown",
            "svc.socket unknown"
        ]
    );
    assert_eq!(
        row("lone.container")[..4],
        ["lone.container", "lone.service", "unknown", "-"]
    );

    let json = ok(&e.run(&["list", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let by = |name: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap()
            .clone()
    };
    let web = by("web.container");
    assert_eq!(web["sockets"][0]["unit"], "web.socket");
    assert_eq!(web["sockets"][0]["status"], "unknown");
    assert_eq!(web["sockets"].as_array().unwrap().len(), 1);
    assert_eq!(web["proxy"]["unit"], "web-proxy.service");
    for k in ["load", "active", "sub", "result", "status", "last_log"] {
        assert!(web["proxy"].get(k).is_some(), "{k}: {web}");
        assert!(web["sockets"][0].get(k).is_some(), "{k}: {web}");
    }
    assert_eq!(by("api.container")["sockets"][0]["unit"], "api.socket");
    assert_eq!(by("api.container")["proxy"], serde_json::Value::Null);
    assert_eq!(by("lone.container")["sockets"], serde_json::json!([]));
    assert_eq!(by("named.container")["unit"], "svc.service");

    // name= matches the units a source comes with.
    let json = ok(&e.run(&["list", "--format", "json", "--filter", "name=web-proxy.*"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{json}");
    assert_eq!(v[0]["name"], "web.container");
}

/// Issue 26: `print --unit` shows every unit a file makes (the service, its socket, the
/// proxy), and any of them names the file (it found only the service before).
#[test]
fn print_unit_shows_every_unit_made_from_the_file() {
    let e = Env::new();
    let web = e.write("home/.config/containers/systemd/web.container", PROXIED);
    for name in ["web", "web.container", "web.socket", "web-proxy.service"] {
        let out = ok(&e.run(&["print", "--unit", name]));
        let heads: Vec<&str> = out.lines().filter(|l| l.starts_with("# web")).collect();
        let from = format!("(from {})", web.display());
        assert_eq!(
            heads,
            [
                format!("# web.service {from}"),
                format!("# web.socket {from}"),
                format!("# web-proxy.service {from}"),
            ],
            "{name}: {out}"
        );
        assert!(
            out.contains("# sockets.target.wants/web.socket -> ../web.socket"),
            "{out}"
        );
        assert!(
            out.contains("systemd-socket-proxyd --exit-idle-time=30s"),
            "{out}"
        );
        // The source itself, by the same names.
        let src = ok(&e.run(&["print", name]));
        assert_eq!(src, format!("# {}\n{PROXIED}", web.display()));
    }
}

/// Issue 26: a `[Socket]` section and a `.socket` file for the same service is an error
/// naming both files; `add` refuses it however the two come (the socket file added beside
/// a container already there, the container beside a socket file there, both in one
/// directory or one bundle), writes nothing, and names each file as given (before, the
/// `.socket` added after the container was taken, and the container lost its units).
#[test]
fn add_refuses_a_socket_file_beside_a_container_with_its_own_socket() {
    let e = Env::new();
    let own = "[Container]\nImage=x\n\n[Socket]\nListenStream=127.0.0.1:18083\n";
    let sock = "[Socket]\nListenStream=127.0.0.1:18084\n";
    let c = e.write("in/api.container", own);
    let s = e.write("in/api.socket", sock);
    let clash = "[Socket] makes api.socket for api.service, and";
    // The container first, then the socket file.
    ok(&e.run(&["add", "--no-reload", c.to_str().unwrap()]));
    let err = failed(&e.run(&["add", "--no-reload", s.to_str().unwrap()]));
    let there = e.src().join("api.container");
    assert!(
        err.contains(&format!(
            "{}:4: {clash} {}:1 activates api.service too",
            there.display(),
            s.display()
        )),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(e.sources(), ["api.container"]);
    // The socket file first, then the container.
    ok(&e.run(&["rm", "--no-reload", "api"]));
    ok(&e.run(&["add", "--no-reload", s.to_str().unwrap()]));
    let err = failed(&e.run(&["add", "--no-reload", c.to_str().unwrap()]));
    let there = e.src().join("api.socket");
    assert!(
        err.contains(&format!(
            "{}:4: {clash} {}:1 activates",
            c.display(),
            there.display()
        )),
        "{err}"
    );
    assert_eq!(e.sources(), ["api.socket"]);
    ok(&e.run(&["rm", "--no-reload", "api.socket"]));
    // Both in one directory: named as given.
    e.write("app/api.container", own);
    e.write("app/api.socket", sock);
    let err = failed(&e.run(&["add", "--no-reload", "app"]));
    assert!(
        err.contains(&format!(
            "app/api.container:4: {clash} app/api.socket:1 activates"
        )),
        "{err}"
    );
    assert!(e.sources().is_empty(), "{:?}", e.sources());
    // Both in one bundle: at the bundle's own lines.
    let b = e.write(
        "b.quadlets",
        &format!("# FileName=api.container\n{own}---\n# FileName=api.socket\n{sock}"),
    );
    let err = failed(&e.run(&["add", "--no-reload", b.to_str().unwrap()]));
    let b = b.display();
    assert!(
        err.contains(&format!("{b}:5: {clash} {b}:9 activates")),
        "{err}"
    );
    assert!(e.sources().is_empty(), "{:?}", e.sources());
    assert_eq!(e.apps(), "");
}

/// Issue 26: `add` of a directory with a container in proxy mode and one with a socket
/// file beside it works, `rm` of the container removes the source (its socket and proxy
/// are generated from it) and the `.socket` file beside the other.
#[test]
fn add_and_rm_of_sources_with_sockets() {
    let e = Env::new();
    e.write("app/web.container", PROXIED);
    e.write("app/db.container", WEB);
    e.write("app/db.socket", "[Socket]\nListenStream=127.0.0.1:18085\n");
    ok(&e.run(&["add", "--no-reload", "app"]));
    assert_eq!(e.sources(), ["db.container", "db.socket", "web.container"]);
    let o = e.run(&["rm", "--no-reload", "web.socket"]);
    ok(&o);
    // `web.socket` names the container it comes from, which goes with its application.
    assert!(e.sources().is_empty(), "{:?}", e.sources());
}

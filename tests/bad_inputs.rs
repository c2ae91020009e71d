//! A corpus of bad inputs, made at run time where it cannot be a checked-in file (huge,
//! binary, symlink loops, other owners). Each has its expected message, and the good file
//! beside it is always generated.

use rootlet::generator::{self, Options};
use rootlet::quadlet::Defaults;
use rootlet::search::Root;
use std::fs;
use std::path::{Path, PathBuf};

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("rootlet-bad-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        fs::write(
            d.join("good.container"),
            "[Container]\nImage=localhost/good\n",
        )
        .unwrap();
        Dir(d)
    }
    fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn run(roots: Vec<Root>) -> generator::Run {
    generator::run(&Options {
        roots,
        podman: "/usr/bin/podman".into(),
        defaults: Defaults::default(),
    })
}

/// Run over `dir`, assert `good.service` was generated and return the error lines.
fn errors_of(dir: &Path) -> Vec<String> {
    let r = run(vec![Root::new(dir.to_owned())]);
    assert!(
        r.units.iter().any(|u| u.name == "good.service"),
        "good.service missing; errors: {:?}",
        r.errors
    );
    r.errors.iter().map(|e| e.to_string()).collect()
}

fn expect_one(dir: &Dir, file: &Path, want: &str) {
    let errs = errors_of(&dir.0);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let prefix = file.display().to_string();
    assert!(
        errs[0].starts_with(&prefix) && errs[0].contains(want),
        "want `{want}` for {prefix}, got {errs:?}"
    );
}

#[test]
fn truncated_file() {
    let d = Dir::new("truncated");
    let f = d.file("t.container", b"[Container]\nImage=x\n[Serv");
    expect_one(&d, &f, ":3: invalid section header `[Serv`");
}

#[test]
fn binary_garbage() {
    let d = Dir::new("binary");
    let mut data = b"[Container]\nImage=x\n".to_vec();
    data.extend((128..=255u8).cycle().take(4096));
    let f = d.file("b.container", &data);
    expect_one(&d, &f, ":3: not valid UTF-8");
    fs::remove_file(&f).unwrap();
    // Control characters are valid UTF-8, but refused (systemd splits lines at NUL).
    let mut data = b"[Container]\nImage=x\n".to_vec();
    data.extend(0..10u8);
    let f = d.file("c.container", &data);
    expect_one(&d, &f, ":3: a NUL byte is not allowed");
}

#[test]
fn huge_line_and_huge_file() {
    let d = Dir::new("huge");
    let mut line = b"[Container]\nImage=x\nLabel=a=".to_vec();
    line.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    let f = d.file("line.container", &line);
    expect_one(&d, &f, ":3: longer than 1048576 bytes");
    fs::remove_file(&f).unwrap();
    // 17 MiB of valid lines: refused as a whole, quickly, without reading it all.
    let mut big = b"[Container]\nImage=x\n".to_vec();
    big.extend(
        std::iter::repeat_n(b"# comment line\n".as_slice(), 17 * 1024 * 1024 / 15).flatten(),
    );
    let f = d.file("big.container", &big);
    expect_one(&d, &f, ": cannot read: larger than 16777216 bytes");
}

#[test]
fn key_before_any_section() {
    let d = Dir::new("nosection");
    let f = d.file("k.container", b"Image=x\n[Container]\n");
    expect_one(&d, &f, ":1: assignment `Image=x` outside of any [Section]");
}

#[test]
fn unknown_sections_and_keys() {
    let d = Dir::new("unknown");
    let f = d.file("s.container", b"[Contaner]\nImage=x\n");
    expect_one(
        &d,
        &f,
        ":1: unknown section [Contaner]; did you mean [Container]?",
    );
    fs::remove_file(&f).unwrap();
    let f = d.file("k.container", b"[Container]\nImage=x\nEnviroment=A=1\n");
    expect_one(
        &d,
        &f,
        ":3: unknown key `Enviroment` in [Container]; did you mean `Environment`?",
    );
    fs::remove_file(&f).unwrap();
    let f = d.file(
        "q.socket",
        b"[Socket]\nListenStream=1\n[Service]\nExecStart=/bin/true\n",
    );
    expect_one(&d, &f, ":3: unknown section [Service] in a .socket file");
}

#[test]
fn invalid_unit_names() {
    let d = Dir::new("names");
    let f = d.file(".container", b"[Container]\nImage=x\n");
    expect_one(&d, &f, "`.service` is not a valid systemd unit name");
    fs::remove_file(&f).unwrap();
    let f = d.file("sp ace.container", b"[Container]\nImage=x\n");
    expect_one(&d, &f, "`sp ace.service` is not a valid systemd unit name");
    fs::remove_file(&f).unwrap();
    let long = format!("{}.network", "n".repeat(247));
    let f = d.file(&long, b"[Network]\n");
    expect_one(&d, &f, "-network.service` is not a valid systemd unit name");
    fs::remove_file(&f).unwrap();
    let f = d.file(
        "w.container",
        b"[Container]\nImage=x\n[Install]\nWantedBy=a/b.target\n",
    );
    expect_one(
        &d,
        &f,
        ":4: WantedBy: `a/b.target` is not a valid unit name",
    );
}

#[test]
fn symlink_loops_in_the_search_path() {
    let d = Dir::new("loops");
    std::os::unix::fs::symlink(&d.0, d.0.join("loop")).unwrap();
    std::os::unix::fs::symlink("self", d.0.join("self")).unwrap();
    fs::create_dir(d.0.join("sub")).unwrap();
    std::os::unix::fs::symlink("..", d.0.join("sub/up")).unwrap();
    let r = run(vec![Root::new(d.0.clone()), Root::new(d.0.join("loop"))]);
    assert_eq!(r.units.len(), 1);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
}

#[test]
fn unreadable_and_special_files() {
    let d = Dir::new("special");
    std::os::unix::fs::symlink("/nonexistent/target", d.0.join("dangling.container")).unwrap();
    // A FIFO would block a reader forever: it must be skipped, not opened.
    let fifo = d.0.join("fifo.container");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: plain libc call with a valid NUL-terminated path.
    assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o644) }, 0);
    let errs = errors_of(&d.0);
    assert!(errs.is_empty(), "{errs:?}");
}

extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

#[test]
fn files_of_other_users_in_shared_directories() {
    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("SKIPPED LOUDLY: needs root to chown a file to another user");
        return;
    }
    let d = Dir::new("owners");
    let f = d.file("theirs.container", b"[Container]\nImage=x\n");
    std::os::unix::fs::chown(&f, Some(4242), Some(4242)).unwrap();
    let shared = Root {
        path: d.0.clone(),
        skip_numeric_subdirs: false,
        trusted_uid: Some(1000),
    };
    let r = run(vec![shared]);
    assert!(r.units.iter().any(|u| u.name == "good.service"));
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert!(r.errors[0]
        .to_string()
        .contains("owned by uid 4242, neither root nor you"));
    // In the user's own directories any owner is fine (they are the user's to manage).
    let r = run(vec![Root::new(d.0.clone())]);
    assert_eq!(r.units.len(), 2);
}

#[test]
fn conflicting_names_across_directories() {
    let a = Dir::new("conflict-a");
    let b = Dir::new("conflict-b");
    a.file("app.container", b"[Container]\nImage=localhost/a\n");
    b.file("app.container", b"[Container]\nImage=localhost/b\n");
    let r = run(vec![Root::new(a.0.clone()), Root::new(b.0.clone())]);
    let app = r.units.iter().find(|u| u.name == "app.service").unwrap();
    assert!(app.text().contains("localhost/a\n"));
    assert!(
        r.notes.iter().any(|n| n.contains("shadowed by")),
        "{:?}",
        r.notes
    );
    // Two sources that become the same unit.
    a.file("x-network.container", b"[Container]\nImage=x\n");
    a.file("x.network", b"[Network]\n");
    let errs = errors_of(&a.0);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("becomes x-network.service like"),
        "{errs:?}"
    );
}

#[test]
fn references_to_missing_sources() {
    let d = Dir::new("refs");
    let f = d.file(
        "n.container",
        b"[Container]\nImage=x\nNetwork=missing.network\n",
    );
    expect_one(
        &d,
        &f,
        ":3: Network: `missing.network` names no .network file",
    );
}

//! A corpus of bad inputs, made at run time where it cannot be a checked-in file (huge,
//! binary, symlink loops, other owners). Each has its expected message, and the good file
//! beside it is always generated.

use crate::util::UserEnv;
use rootlet::generator::{self, Options};
use rootlet::quadlet::Defaults;
use rootlet::search::Root;
use std::fs;
use std::path::Path;

/// A user ([`UserEnv`]) whose source directory, the search root of these runs, holds
/// `good.container`: generated whatever else is there.
fn user(name: &str) -> UserEnv {
    let d = UserEnv::new(&format!("bad-{name}"));
    d.write_source("good.container", "[Container]\nImage=localhost/good\n");
    d
}

fn run(roots: Vec<Root>) -> generator::Run {
    generator::run(&Options::new(roots, rootlet::podman::Target::Newest))
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

fn expect_one(dir: &UserEnv, file: &Path, want: &str) {
    let errs = errors_of(&dir.sources());
    assert_eq!(errs.len(), 1, "{errs:?}");
    let prefix = file.display().to_string();
    assert!(
        errs[0].starts_with(&prefix) && errs[0].contains(want),
        "want `{want}` for {prefix}, got {errs:?}"
    );
}

#[test]
fn truncated_file() {
    let d = user("truncated");
    let f = d.write_source("t.container", b"[Container]\nImage=x\n[Serv");
    expect_one(&d, &f, ":3: invalid section header `[Serv`");
}

#[test]
fn binary_garbage() {
    let d = user("binary");
    let mut data = b"[Container]\nImage=x\n".to_vec();
    data.extend((128..=255u8).cycle().take(4096));
    let f = d.write_source("b.container", &data);
    expect_one(&d, &f, ":3: not valid UTF-8");
    fs::remove_file(&f).unwrap();
    // Control characters are valid UTF-8, but refused (systemd splits lines at NUL).
    let mut data = b"[Container]\nImage=x\n".to_vec();
    data.extend(0..10u8);
    let f = d.write_source("c.container", &data);
    expect_one(&d, &f, ":3: a NUL byte is not allowed");
}

#[test]
fn huge_line_and_huge_file() {
    let d = user("huge");
    let mut line = b"[Container]\nImage=x\nLabel=a=".to_vec();
    line.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    let f = d.write_source("line.container", &line);
    expect_one(&d, &f, ":3: longer than 1048576 bytes");
    fs::remove_file(&f).unwrap();
    // 17 MiB of valid lines: refused as a whole, quickly, without reading it all.
    let mut big = b"[Container]\nImage=x\n".to_vec();
    big.extend(
        std::iter::repeat_n(b"# comment line\n".as_slice(), 17 * 1024 * 1024 / 15).flatten(),
    );
    let f = d.write_source("big.container", &big);
    expect_one(&d, &f, ": cannot read: larger than 16777216 bytes");
}

#[test]
fn key_before_any_section() {
    let d = user("nosection");
    let f = d.write_source("k.container", b"Image=x\n[Container]\n");
    expect_one(&d, &f, ":1: assignment `Image=x` outside of any [Section]");
}

#[test]
fn unknown_sections_and_keys() {
    let d = user("unknown");
    let f = d.write_source("s.container", b"[Contaner]\nImage=x\n");
    expect_one(
        &d,
        &f,
        ":1: unknown section [Contaner]; did you mean [Container]?",
    );
    fs::remove_file(&f).unwrap();
    let f = d.write_source("k.container", b"[Container]\nImage=x\nEnviroment=A=1\n");
    expect_one(
        &d,
        &f,
        ":3: unknown key `Enviroment` in [Container]; did you mean `Environment`?",
    );
    fs::remove_file(&f).unwrap();
    let f = d.write_source(
        "q.socket",
        b"[Socket]\nListenStream=1\n[Service]\nExecStart=/bin/true\n",
    );
    expect_one(&d, &f, ":3: unknown section [Service] in a .socket file");
}

#[test]
fn invalid_unit_names() {
    let d = user("names");
    let f = d.write_source(".container", b"[Container]\nImage=x\n");
    expect_one(&d, &f, "`.service` is not a valid systemd unit name");
    fs::remove_file(&f).unwrap();
    let f = d.write_source("sp ace.container", b"[Container]\nImage=x\n");
    expect_one(&d, &f, "`sp ace.service` is not a valid systemd unit name");
    fs::remove_file(&f).unwrap();
    let long = format!("{}.network", "n".repeat(247));
    let f = d.write_source(&long, b"[Network]\n");
    expect_one(&d, &f, "-network.service` is not a valid systemd unit name");
    fs::remove_file(&f).unwrap();
    let f = d.write_source(
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
    let d = user("loops");
    std::os::unix::fs::symlink(d.sources(), d.sources().join("loop")).unwrap();
    std::os::unix::fs::symlink("self", d.sources().join("self")).unwrap();
    fs::create_dir(d.sources().join("sub")).unwrap();
    std::os::unix::fs::symlink("..", d.sources().join("sub/up")).unwrap();
    let r = run(vec![
        Root::new(d.sources()),
        Root::new(d.sources().join("loop")),
    ]);
    assert_eq!(r.units.len(), 1);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
}

#[test]
fn unreadable_and_special_files() {
    let d = user("special");
    std::os::unix::fs::symlink(
        "/nonexistent/target",
        d.sources().join("dangling.container"),
    )
    .unwrap();
    // A FIFO would block a reader forever: it must be skipped, not opened.
    let fifo = d.sources().join("fifo.container");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: plain libc call with a valid NUL-terminated path.
    assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o644) }, 0);
    let errs = errors_of(&d.sources());
    assert!(errs.is_empty(), "{errs:?}");
    // Skipped, but not silently.
    let r = run(vec![Root::new(d.sources())]);
    let notes = r.notes.join("\n");
    assert!(
        notes.contains("dangling.container: symlink that cannot be followed"),
        "{notes}"
    );
    assert!(
        notes.contains("fifo.container: not a regular file: skipped"),
        "{notes}"
    );
}

extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

#[test]
fn files_of_other_users_in_shared_directories() {
    if rustix::process::geteuid().as_raw() != 0 {
        crate::util::skip("needs root to chown a file to another user");
        return;
    }
    let d = user("owners");
    let f = d.write_source("theirs.container", b"[Container]\nImage=x\n");
    std::os::unix::fs::chown(&f, Some(4242), Some(4242)).unwrap();
    let shared = Root {
        path: d.sources(),
        skip_numeric_subdirs: false,
        trusted_uid: Some(1000),
    };
    let r = run(vec![shared]);
    assert!(r.units.iter().any(|u| u.name == "good.service"));
    // Said as a warning: another user's file must not fail the user's run (audit N1).
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0]
        .to_string()
        .contains("owned by uid 4242, neither root nor you"));
    // In the user's own directories any owner is fine (they are the user's to manage).
    let r = run(vec![Root::new(d.sources())]);
    assert_eq!(r.units.len(), 2);
}

#[test]
fn conflicting_names_across_directories() {
    let a = user("conflict-a");
    let b = user("conflict-b");
    a.write_source("app.container", b"[Container]\nImage=localhost/a\n");
    b.write_source("app.container", b"[Container]\nImage=localhost/b\n");
    let r = run(vec![Root::new(a.sources()), Root::new(b.sources())]);
    let app = r.units.iter().find(|u| u.name == "app.service").unwrap();
    assert!(app.text().contains("localhost/a\n"));
    assert!(
        r.notes.iter().any(|n| n.contains("shadowed by")),
        "{:?}",
        r.notes
    );
    // Two sources that become the same unit.
    a.write_source("x-network.container", b"[Container]\nImage=x\n");
    a.write_source("x.network", b"[Network]\n");
    let errs = errors_of(&a.sources());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("becomes x-network.service like"),
        "{errs:?}"
    );
}

#[test]
fn references_to_missing_sources() {
    let d = user("refs");
    let f = d.write_source(
        "n.container",
        b"[Container]\nImage=x\nNetwork=missing.network\n",
    );
    expect_one(
        &d,
        &f,
        ":3: Network: `missing.network` names no .network file",
    );
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: plain libc call with a valid NUL-terminated path.
    assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// Run `f` on a thread; fail (instead of hanging the test suite) after `secs`.
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs))
        .expect("hung: a FIFO was opened for reading")
}

/// Audit H1: a FIFO as a drop-in or as the defaults file blocked every reader forever.
#[test]
fn fifo_dropin_and_fifo_defaults_do_not_hang() {
    let d = user("fifo-dropin");
    let web = d.write_source("web.container", b"[Container]\nImage=x\n");
    fs::create_dir(d.sources().join("web.container.d")).unwrap();
    let fifo = d.sources().join("web.container.d/10-fifo.conf");
    mkfifo(&fifo);
    let dir = d.sources();
    let errs = within(60, move || errors_of(&dir));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(&fifo.display().to_string()) && errs[0].contains("not a regular file"),
        "{errs:?} (source {})",
        web.display()
    );
    let defaults = d.sources().join("defaults.conf");
    mkfifo(&defaults);
    let e = within(60, move || Defaults::load(&defaults)).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
}

/// Audit I1: a bare CR in a key or a NUL in a value of a pass-through section reached the
/// unit, where systemd splits the line and reads an injected `[Service]` section.
#[test]
fn control_characters_in_pass_through_sections_are_refused() {
    let d = user("inject");
    let nul = d.write_source(
        "nulval.container",
        b"[Container]\nImage=docker.io/library/nginx\n[X-Foo]\nA=1\x00[Service]\x00KillMode=none\n",
    );
    let errs = errors_of(&d.sources());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(&format!("{}:4: a NUL byte", nul.display())),
        "{errs:?}"
    );
    fs::remove_file(&nul).unwrap();
    let cr = d.write_source(
        "crkey.container",
        b"[Container]\nImage=docker.io/library/nginx\n[X-Foo]\nA\r[Service]\rKillMode\r=none\n",
    );
    expect_one(&d, &cr, ":4: a carriage return");
    fs::remove_file(&cr).unwrap();
    // In a drop-in, and in [Unit], too.
    d.write_source("web.container", b"[Container]\nImage=x\n");
    let dropin = d.write_source(
        "web.container.d/a.conf",
        b"[Unit]\nDescription=x\x00[Service]\n",
    );
    expect_one(&d, &dropin, ":2: a NUL byte");
}

/// Audit U8: a newline in a file name made one message two lines (a forged log line).
#[test]
fn newlines_in_file_names_are_escaped_in_messages() {
    let d = user("nl");
    d.write_source("nl\nfake: line.container", b"[Container]\nImage=x\nBad=1\n");
    let errs = errors_of(&d.sources());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(!errs[0].contains('\n'), "{errs:?}");
    assert!(errs[0].contains("nl\\nfake: line.container:"), "{errs:?}");
}

/// Audit U1, U2, U3: names that are not UTF-8, directories too deep or unreadable were
/// skipped without a word.
#[test]
fn every_skipped_file_gets_a_note() {
    use std::os::unix::ffi::OsStrExt;
    let d = user("notes");
    let bad = std::ffi::OsStr::from_bytes(b"bad\xffutf8.container");
    fs::write(d.sources().join(bad), "[Container]\nImage=x\n").unwrap();
    let mut deep = d.sources();
    for i in 0..40 {
        deep = deep.join(format!("d{i}"));
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("deep40.container"), "[Container]\nImage=x\n").unwrap();
    let r = run(vec![Root::new(d.sources())]);
    assert_eq!(r.units.len(), 1, "{:?}", r.errors);
    let notes = r.notes.join("\n");
    assert!(
        notes.contains("bad\\xffutf8.container: name is not valid UTF-8: skipped"),
        "{notes}"
    );
    assert!(notes.contains("more than 32 directories below"), "{notes}");
    // A root that is not a directory cannot be searched: said so.
    let r = run(vec![Root::new(d.sources().join("good.container"))]);
    assert!(
        r.notes.iter().any(|n| n.contains("cannot be searched")),
        "{:?}",
        r.notes
    );
    // A drop-in directory that cannot be read fails its unit, loudly.
    let mut dirs = std::collections::HashMap::new();
    dirs.insert(
        "web.container.d".to_owned(),
        vec![d.sources().join("good.container")],
    );
    let found = rootlet::search::list_dropins("web.container", &dirs, &Default::default());
    let e = found.error.unwrap();
    assert!(
        e.to_string().contains("drop-in directory cannot be read"),
        "{e}"
    );
}

/// Audit F6: in a shared directory, drop-ins (and their directories), symlinks and
/// group- or world-writable files of others were read.
#[test]
fn shared_directories_trust_drop_ins_and_links_no_more_than_sources() {
    use std::os::unix::fs::{chown, symlink, PermissionsExt};
    if rustix::process::geteuid().as_raw() != 0 {
        crate::util::skip("needs root to chown files to another user");
        return;
    }
    let shared_root = |d: &UserEnv| Root {
        path: d.sources(),
        skip_numeric_subdirs: false,
        trusted_uid: Some(1000),
    };
    // A drop-in directory of another user: refused, and not merged into our unit.
    let own = user("own-f6");
    own.write_source(
        "web.container",
        b"[Container]\nImage=docker.io/library/nginx\n",
    );
    let d = user("shared-f6");
    let evil = d.write_source(
        "container.d/zz-evil.conf",
        b"[Service]\nExecStartPre=/bin/sh -c \"id > /tmp/owned\"\n",
    );
    chown(d.sources().join("container.d"), Some(4242), Some(4242)).unwrap();
    let r = run(vec![Root::new(own.sources()), shared_root(&d)]);
    let web = r.units.iter().find(|u| u.name == "web.service").unwrap();
    assert!(!web.text().contains("owned"), "{}", web.text());
    assert!(
        r.warnings
            .iter()
            .any(|e| e.path == d.sources().join("container.d")
                && e.to_string().contains("owned by uid 4242")),
        "{:?}",
        r.warnings
    );
    // The directory is root's, the drop-in another user's: left out (audit N1: it used
    // to cost the unit), said once as a warning.
    chown(d.sources().join("container.d"), Some(0), Some(0)).unwrap();
    chown(&evil, Some(4242), Some(4242)).unwrap();
    let r = run(vec![Root::new(own.sources()), shared_root(&d)]);
    let web = r.units.iter().find(|u| u.name == "web.service").unwrap();
    assert!(!web.text().contains("owned"), "{}", web.text());
    assert!(
        r.warnings
            .iter()
            .any(|e| e.path == evil && e.to_string().contains("owned by uid 4242")),
        "{:?}",
        r.warnings
    );
    // Root's, but writable by anyone: left out too.
    chown(&evil, Some(0), Some(0)).unwrap();
    fs::set_permissions(&evil, fs::Permissions::from_mode(0o666)).unwrap();
    let r = run(vec![Root::new(own.sources()), shared_root(&d)]);
    let web = r.units.iter().find(|u| u.name == "web.service").unwrap();
    assert!(!web.text().contains("owned"), "{}", web.text());
    assert!(
        r.warnings
            .iter()
            .any(|e| e.to_string().contains("writable by other users")),
        "{:?}",
        r.warnings
    );
    fs::remove_file(&evil).unwrap();
    // Another user's symlink to a root-only file: not followed, nothing of it echoed.
    let secret = d.write_source("secret/secret.txt", b"TOPSECRET-first-line\n");
    let leak = d.sources().join("leak.container");
    symlink(&secret, &leak).unwrap();
    rustix::fs::chownat(
        rustix::fs::CWD,
        &leak,
        Some(rustix::process::Uid::from_raw(4242)),
        None,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
    let r = run(vec![shared_root(&d)]);
    let all = format!("{:?} {:?}", r.errors, r.warnings);
    assert!(!all.contains("TOPSECRET"), "{all}");
    assert!(
        r.warnings
            .iter()
            .any(|e| e.path == leak && e.to_string().contains("owned by uid 4242")),
        "{all}"
    );
}

/// Audit H2 (the limit of a generated line): many small lines must not make one unit
/// line longer than systemd reads, with `check` saying OK.
#[test]
fn generated_lines_longer_than_systemd_reads_are_refused() {
    let d = user("longline");
    let mut data = b"[Container]\nImage=x\n".to_vec();
    for i in 0..100_000 {
        data.extend(format!("Label=l{i}=v\n").as_bytes());
    }
    let f = d.write_source("labels.container", &data);
    expect_one(&d, &f, "longer than systemd reads");
}

/// Anything reached through a symlink, in the user's own directories too, is read only
/// when it is root's or the user's and no one else can change it.
#[test]
fn files_reached_through_symlinks_must_be_root_or_yours() {
    use std::os::unix::fs::{chown, symlink};
    if rustix::process::geteuid().as_raw() != 0 {
        crate::util::skip("needs root to chown files to another user");
        return;
    }
    let d = user("own-links");
    let elsewhere = user("elsewhere");
    let theirs = elsewhere.write_source("theirs.container", b"[Container]\nImage=x\n");
    chown(&theirs, Some(4242), Some(4242)).unwrap();
    let mine = elsewhere.write_source("mine.container", b"[Container]\nImage=x\n");
    symlink(&theirs, d.sources().join("theirs.container")).unwrap();
    symlink(&mine, d.sources().join("mine.container")).unwrap();
    fs::create_dir(elsewhere.sources().join("team")).unwrap();
    let team = elsewhere.write_source("team/team.container", b"[Container]\nImage=x\n");
    chown(&team, Some(4242), Some(4242)).unwrap();
    symlink(elsewhere.sources().join("team"), d.sources().join("team")).unwrap();
    let r = run(vec![Root::new(d.sources())]);
    let mut names: Vec<_> = r.units.iter().map(|u| u.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["good.service", "mine.service"], "{:?}", r.warnings);
    let refused: Vec<_> = (r.warnings.iter())
        .filter(|w| w.to_string().contains("neither root nor you"))
        .collect();
    assert_eq!(refused.len(), 2, "{:?}", r.warnings);
    assert!(refused
        .iter()
        .all(|e| e.to_string().contains("owned by uid 4242")));
}

/// A symlink's own owner, not its target's (`lchown`).
fn lchown(p: &Path, uid: u32) {
    rustix::fs::chownat(
        rustix::fs::CWD,
        p,
        Some(rustix::process::Uid::from_raw(uid)),
        Some(rustix::process::Gid::from_raw(uid)),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// Audit N1: in a sticky drop-in directory others can write (`container.d`, mode 1777, in
/// a shared directory or the user's own), another user M's drop-in must not touch the
/// victim's units: a symlink of M's to a root-owned unit file or to a file the victim
/// owns, M's own file, M's link to a root-only file (never echoed). Each is left out with
/// a warning naming it and its owner, and the victim's unit is still made without it.
/// `rootlet print`/`add`/`doctor`'s list of drop-ins (`search::dropins`) leaves them out too.
#[test]
fn another_users_drop_ins_in_a_sticky_directory_are_left_out() {
    use std::os::unix::fs::{chown, symlink, PermissionsExt};
    if rustix::process::geteuid().as_raw() != 0 {
        crate::util::skip("needs root to chown files to another user");
        return;
    }
    const VICTIM: u32 = 64101;
    const M: u32 = 64102;
    let own = user("n1-own");
    own.write_source(
        "web.container",
        b"[Container]\nImage=docker.io/library/nginx\n",
    );
    let elsewhere = user("n1-elsewhere");
    let root_unit = elsewhere.write_source(
        "podman-auto-update.service",
        b"[Unit]\nDescription=root's\n[Service]\nType=oneshot\nExecStart=/usr/bin/podman auto-update\n[Install]\nWantedBy=default.target\n",
    );
    let notes = elsewhere.write_source(
        "notes.txt",
        b"[Service]\nExecStartPre=/bin/sh -c \"id > /tmp/owned-by-M\"\n",
    );
    chown(&notes, Some(VICTIM), Some(VICTIM)).unwrap();
    let secret = elsewhere.write_source("secret", b"TOPSECRET:$6$hash\n");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    for (shared, tag) in [(true, "shared"), (false, "own")] {
        let d = user(&format!("n1-sticky-{tag}"));
        let dd = d.sources().join("container.d");
        fs::create_dir(&dd).unwrap();
        fs::set_permissions(&dd, fs::Permissions::from_mode(0o1777)).unwrap();
        let root = if shared {
            Root::shared(d.sources(), VICTIM, false)
        } else {
            Root::new(d.sources())
        };
        let zz = dd.join("zz.conf");
        for target in [&root_unit, &notes, &secret] {
            symlink(target, &zz).unwrap();
            lchown(&zz, M);
            let r = run(vec![Root::new(own.sources()), root.clone()]);
            let all = format!("{:?} {:?}", r.errors, r.warnings);
            let web = r.units.iter().find(|u| u.name == "web.service");
            let web = web.unwrap_or_else(|| panic!("{tag}: web.service not made: {all}"));
            for bad in [
                "oneshot",
                "auto-update",
                "owned-by-M",
                "WantedBy",
                "TOPSECRET",
            ] {
                assert!(!web.text().contains(bad), "{tag}: {}", web.text());
            }
            assert!(web.links.is_empty(), "{tag}: {:?}", web.links);
            assert!(!all.contains("TOPSECRET"), "{tag}: {all}");
            assert_eq!(r.warnings.len(), 1, "{tag}: {all}");
            let w = r.warnings[0].to_string();
            assert!(w.starts_with(&zz.display().to_string()), "{w}");
            assert!(w.contains(&format!("owned by uid {M}")), "{w}");
            assert!(rootlet::search::dropins("web.container", &{
                let disc = rootlet::search::discover(std::slice::from_ref(&root));
                disc.dropin_dirs
            })
            .is_empty());
            fs::remove_file(&zz).unwrap();
        }
        // M's regular file: left out, the unit still made.
        fs::write(&zz, "[Unit]\nDescription=x\n").unwrap();
        chown(&zz, Some(M), Some(M)).unwrap();
        let r = run(vec![Root::new(own.sources()), root.clone()]);
        let web = r.units.iter().find(|u| u.name == "web.service");
        assert!(
            web.is_some_and(|w| !w.text().contains("Description=x")),
            "{tag}: {:?}",
            r.errors
        );
        assert!(r.errors.is_empty(), "{tag}: {:?}", r.errors);
        assert!(r.warnings[0]
            .to_string()
            .contains(&format!("owned by uid {M}")));
        // The victim's own drop-in there is read.
        chown(&zz, Some(VICTIM), Some(VICTIM)).unwrap();
        if shared {
            let r = run(vec![Root::new(own.sources()), root.clone()]);
            let web = r.units.iter().find(|u| u.name == "web.service").unwrap();
            assert!(web.text().contains("Description=x"), "{}", web.text());
            assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        }
    }
}

/// Audit N1's class, outside a run: a source of the search path read by another command
/// (`rootlet add` checks new files beside them) is read under its trust, as a run reads
/// it: another user's file in a shared directory is refused, and nothing of it is shown.
#[test]
fn sources_read_outside_a_run_keep_their_trust() {
    use std::os::unix::fs::chown;
    if rustix::process::geteuid().as_raw() != 0 {
        crate::util::skip("needs root to chown files to another user");
        return;
    }
    let d = user("n1-outside");
    let theirs = d.write_source("theirs.container", b"TOPSECRET first line\n");
    chown(&theirs, Some(64102), Some(64102)).unwrap();
    let disc = rootlet::search::discover(&[Root::shared(d.sources(), 64101, false)]);
    // Refused as listed already: no command sees it among the sources.
    assert!(disc.sources.iter().all(|f| f.path != theirs));
    assert!(disc.refused.iter().any(|e| e.path == theirs));
    // Read anyway (a list made before it was put there): refused on the file opened.
    let f = &rootlet::search::Found {
        path: theirs.clone(),
        name: "theirs.container".into(),
        kind: rootlet::quadlet::SourceKind::Container,
        trusted_uid: Some(64101),
        listed_regular: false,
    };
    let e = generator::load_found_source(f, &disc)
        .unwrap_err()
        .to_string();
    assert!(e.contains("owned by uid 64102"), "{e}");
    assert!(!e.contains("TOPSECRET"), "{e}");
    let good = disc
        .sources
        .iter()
        .find(|f| f.name == "good.container")
        .unwrap();
    assert!(generator::load_found_source(good, &disc).is_ok());
}

/// Audit N1's class: a directory of the user's own search path that others can write is
/// judged like a shared one: not sticky, it is not read (anyone could swap its files);
/// sticky, its entries are judged one by one (root's and the user's are read).
#[test]
fn directories_others_can_write_are_judged_like_shared_ones() {
    use std::os::unix::fs::PermissionsExt;
    let d = user("n1-writable");
    let open = d.write_source("open/open.container", b"[Container]\nImage=localhost/x\n");
    let sticky = d.write_source(
        "sticky/sticky.container",
        b"[Container]\nImage=localhost/x\n",
    );
    let mode = |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    mode(open.parent().unwrap(), 0o777);
    mode(sticky.parent().unwrap(), 0o1777);
    let r = run(vec![Root::new(d.sources())]);
    let mut names: Vec<_> = r.units.iter().map(|u| u.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        ["good.service", "sticky.service"],
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings.iter().any(|w| w.path == open.parent().unwrap()
            && w.to_string().contains("writable by other users")),
        "{:?}",
        r.warnings
    );
    assert!(r.errors.is_empty(), "{:?}", r.errors);
}

use super::*;
use std::fs;

fn n(s: &str) -> Name {
    Name::of(s).unwrap()
}

struct Run<'a> {
    files: &'a [(&'a str, &'a str)],
    links: &'a [(&'a str, &'a str)],
}

/// One run over `out` recorded in `list`: puts `run`, and commits unless `stop_after`
/// (the number of puts after which it stops, as a `kill -9` between two steps would).
fn run(out: &Path, list: &Path, r: &Run<'_>, stop_after: Option<usize>) -> Vec<Name> {
    let bases = Bases {
        out: Some(out),
        units: None,
        state: None,
    };
    let mut expect = BTreeMap::new();
    for (f, text) in r.files {
        expect.insert(n(f), Expect::File(Digest::of(text.as_bytes())));
    }
    for (l, t) in r.links {
        expect.insert(n(l), Expect::Link(t.as_bytes().to_vec()));
    }
    let no_legacy = |_: &Tree, _: &Name, _: &Found| false;
    let mut t = Transaction::begin(
        Tree::open(out).unwrap(),
        Base::Out,
        list,
        &bases,
        expect,
        &no_legacy,
    )
    .unwrap();
    let mut steps = 0;
    for (f, text) in r.files {
        if stop_after == Some(steps) {
            return Vec::new();
        }
        t.put_file(&n(f), text.as_bytes()).unwrap();
        steps += 1;
    }
    for (l, target) in r.links {
        if stop_after == Some(steps) {
            return Vec::new();
        }
        t.put_link(&n(l), target).unwrap();
        steps += 1;
    }
    if stop_after == Some(steps) {
        return Vec::new();
    }
    t.commit(Prune::Unput).unwrap().removed
}

/// Every path under `dir`, with link targets and file contents.
fn listing(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for e in walkdir(dir) {
        let rel = e.strip_prefix(dir).unwrap().display().to_string();
        let m = fs::symlink_metadata(&e).unwrap();
        if m.file_type().is_symlink() {
            v.push(format!("{rel} -> {}", fs::read_link(&e).unwrap().display()));
        } else if m.is_dir() {
            v.push(format!("{rel}/"));
        } else {
            v.push(format!("{rel}: {}", fs::read_to_string(&e).unwrap()));
        }
    }
    v.sort();
    v
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            v.extend(walkdir(&p));
        }
        v.push(p);
    }
    v
}

/// The transaction alone, stopped after every step of a run that changes a unit,
/// adds one with a link and drops another: the user then writes their own file at
/// every path the stopped run had not reached; the next (complete) run keeps every one
/// of them and leaves nothing of rootlet's it does not record.
#[test]
fn a_run_stopped_after_any_step_loses_nothing_and_forgets_nothing() {
    let first = Run {
        files: &[("a.service", "a1"), ("b.service", "b1")],
        links: &[("default.target.wants/b.service", "../b.service")],
    };
    let second = Run {
        files: &[("a.service", "a2"), ("c.service", "c1")],
        links: &[
            ("default.target.wants/c.service", "../c.service"),
            ("sockets.target.wants/c.service", "../c.service"),
        ],
    };
    let last = Run {
        files: &[("d.service", "d1")],
        links: &[],
    };
    let mine = "the user's own";
    for stop in 0..=4 {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let list = tmp.path().join("state/generated.list");
        fs::create_dir_all(list.parent().unwrap()).unwrap();
        run(&out, &list, &first, None);
        run(&out, &list, &second, Some(stop));
        // The user's files at the paths the stopped run did not write.
        let mut users = Vec::new();
        for name in ["c.service", "sockets.target.wants/c.service"] {
            let p = out.join(name);
            if fs::symlink_metadata(&p).is_err() && p.parent().unwrap().is_dir() {
                fs::write(&p, mine).unwrap();
                users.push(format!("{name}: {mine}"));
            }
        }
        run(&out, &list, &last, None);
        let mut want = vec!["d.service: d1".to_owned()];
        want.extend(users.iter().cloned());
        let dirs: Vec<String> = users
            .iter()
            .filter_map(|u| u.split_once('/').map(|(d, _)| format!("{d}/")))
            .collect();
        want.extend(dirs);
        want.sort();
        assert_eq!(listing(&out), want, "stopped after {stop} steps");
        assert!(!list.with_extension("pending").exists());
        let text = fs::read_to_string(&list).unwrap();
        assert!(
            text.contains("d.service") && !text.contains("a.service"),
            "{text}"
        );
    }
}

/// N14 at the level of the proof: a recorded link whose unit rootlet removed (a kill
/// came before the link went) is still rootlet's; one to the user's unit is not.
#[test]
fn a_link_to_a_missing_unit_is_still_rootlets() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    fs::create_dir(out.join("default.target.wants")).unwrap();
    for u in ["a", "b"] {
        std::os::unix::fs::symlink(
            format!("../{u}.service"),
            out.join(format!("default.target.wants/{u}.service")),
        )
        .unwrap();
    }
    fs::write(out.join("b.service"), "the user's own").unwrap();
    let claims: Vec<Entry> = ["a", "b"]
        .iter()
        .flat_map(|u| {
            [
                Entry::file(Base::Out, n(&format!("{u}.service")), b"rootlet's"),
                Entry::link(
                    Base::Out,
                    n(&format!("default.target.wants/{u}.service")),
                    format!("../{u}.service").as_bytes(),
                ),
            ]
        })
        .collect();
    let tree = Tree::open(out).unwrap();
    let no_legacy = |_: &Tree, _: &Name, _: &Found| false;
    let (owned, disowned) = owned_claims(&tree, Base::Out, &claims, &BTreeMap::new(), &no_legacy);
    assert!(owned.contains_key(&n("default.target.wants/a.service")));
    assert!(!owned.contains_key(&n("default.target.wants/b.service")));
    assert!(disowned.contains(&n("default.target.wants/b.service")));
}

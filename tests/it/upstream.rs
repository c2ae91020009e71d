//! The measuring stick: podman's own quadlet test cases, run through rootlet. Two sets:
//! v5.8.2's (the released quadlet rootlet matches) and podman's main branch after it
//! (commit c6580b4a52, 2026-05-19: the behaviour the next release will carry), each with
//! its own [`Set::deliberate`] list and its own floor of passing cases.
//!
//! The cases are read at test time from `../shared/reference/quadlet/upstream-v5.8.2/`
//! and `.../upstream-main-2026-05-19/` (relative to the repository; `ROOTLET_UPSTREAM`
//! and `ROOTLET_UPSTREAM_MAIN` override them) and never copied into the repository.
//! Without them the test says so loudly and passes; under `ROOTLET_REQUIRE_ALL=1` (the full
//! run as root) it fails, unless `scripts/test.sh` found no copy and could fetch none (a
//! bare clone with no network): it then sets `ROOTLET_UPSTREAM_ABSENT=1` (and
//! `ROOTLET_UPSTREAM_MAIN_ABSENT=1`) and the tests say `NOT RUN`.
//!
//! What is read, as `test/e2e/quadlet_test.go` does it:
//! - the case list: every `Entry(...)` of its `DescribeTable`s whose file is a
//!   `.container`, `.network`, `.volume`, `.image`, `.build`, `.pod`, `.kube` or `.artifact` (success, expected warning, expected error,
//!   ServiceName and "with dependencies" tables), with the companion files the table gives
//!   (`X.d/` and the template's `X@.d/` drop-in directories, dependency files);
//! - each case's `## assert-*` lines, split like go-shellwords, `\n`/`\t` applied, `!`
//!   inverting, evaluated on rootlet's unit as quadlet_test.go evaluates quadlet's.
//!
//! Rules applied to every case alike (rootlet's documented behaviour, not per case):
//! - `rootlet-wait-online.service` stands for quadlet's wait unit
//!   (`podman-user-wait-network-online.service`);
//! - where rootlet does not wait at all (a `.network`/`.volume` oneshot that pulls nothing,
//!   a container with only `Network=none` whose image cannot need a pull), an expected
//!   wait unit in `Wants=`/`After=` is not required;
//! - rootlet words its own messages (`file:line: Key: ...`): an expected error or warning
//!   (`assert-stderr-contains`, the tables' message) is met by an error (a warning) that
//!   names the case's file, with the case's unit absent (present);
//! - rootlet's restart defaults are extra keys no case asserts on.
//!
//! Every case must pass or be in its set's deliberate list (which mirrors README's
//! "Migrating from quadlet"); a listed case that passes fails the test too, so the list
//! stays true.
//!
//! The evaluator is checked against the reference: `ROOTLET_UPSTREAM_QUADLET=/path/to/quadlet`
//! (5.8.x, see `scripts/compare-quadlet.py`) runs quadlet instead of rootlet on every case
//! of v5.8.2's set, `ROOTLET_UPSTREAM_MAIN_QUADLET` (a quadlet built from podman's main
//! branch) on main's, with its messages checked word for word, and every case must pass.

use rootlet::generator::{self, Options};
use rootlet::search::Root;
use rootlet::unit::UnitFile;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One set of podman's cases.
struct Set {
    /// What the summary calls it.
    name: &'static str,
    /// Its directory under `../shared/reference/quadlet/`.
    dir: &'static str,
    /// The variable that overrides that directory.
    var: &'static str,
    /// The variable naming a reference quadlet to calibrate the evaluator with.
    reference: &'static str,
    /// Cases rootlet handles differently on purpose: case file -> reason (README,
    /// "Migrating from quadlet").
    deliberate: &'static [(&'static str, &'static str)],
    /// At least this many cases pass.
    floor: usize,
    /// The podman rootlet is told the units are for: the one of that quadlet.
    podman: rootlet::podman::Target,
}

/// podman v5.8.2's cases.
const V5_8_2: Set = Set {
    name: "v5.8.2",
    dir: "upstream-v5.8.2",
    var: "ROOTLET_UPSTREAM",
    reference: "ROOTLET_UPSTREAM_QUADLET",
    deliberate: DELIBERATE,
    floor: 287,
    podman: rootlet::podman::Target::Known(rootlet::podman::Version(5, 8, 2)),
};

/// podman's main branch after v5.8.2 (commit c6580b4a52, 2026-05-19). Its changes are
/// rootlet's too (an anonymous `Mount=` volume, `UID=`/`GID=` and `Options=` without
/// `Device=` in a `.volume`, a user's `Restart=` in a `.pod`, no template container
/// started by a pod, `/usr/share/containers/systemd/users`), and none of them breaks a
/// v5.8.2 case: both sets have the same deliberate differences.
const MAIN: Set = Set {
    name: "main c6580b4a52",
    dir: "upstream-main-2026-05-19",
    var: "ROOTLET_UPSTREAM_MAIN",
    reference: "ROOTLET_UPSTREAM_MAIN_QUADLET",
    deliberate: DELIBERATE,
    floor: 290,
    // The next podman: what rootlet knows of is all there.
    podman: rootlet::podman::Target::Newest,
};

/// The cases rootlet handles differently on purpose, in both sets.
const DELIBERATE: &[(&str, &str)] = &[
    ("install.container", "`Alias=in/a/dir/alias3.service` is not a unit name systemd loads (a symlink in a subdirectory): rootlet refuses it, naming the key"),
    ("mount.container", "`RequiresMountsFor=` of a path with spaces is written `\"/a b\"`: systemd 252 removes quotes there but applies no C escapes, so quadlet's `\"/a\\x20b\"` would name `/ax20b` (every other assertion of the case, its `.image`/`.volume`/`.artifact` mounts and main's anonymous volume included, passes)"),
    ("line-continuation-whitespace.container", "rootlet reads unit syntax as systemd 252 does: a `\\` followed by spaces at the end of a line is no continuation (quadlet trims the spaces first), so the next line is refused"),
    ("dependent.container", CLASH),
    ("dependent.volume", CLASH),
    ("dependent.network", CLASH),
    ("dependent.pod", CLASH),
    ("dependent.image", CLASH),
    ("dependent.build", CLASH),
    ("dependent.kube", CLASH),
];

const CLASH: &str = "its companion files hold basic.container beside basic.kube, which quadlet 5.8 both writes to basic.service (the one written last silently wins, and quadlet exits cleanly): rootlet keeps the first by file name, basic.container's, and refuses basic.kube with an error naming both files; every assertion about the case's own unit passes";

/// Where quadlet's wait unit is expected.
const QUADLET_WAIT: &str = "podman-user-wait-network-online.service";

fn upstream_dir(set: &Set) -> PathBuf {
    match std::env::var_os(set.var) {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/reference/quadlet")
            .join(set.dir),
    }
}

/// Said on stderr past libtest's capture, so that a skip or the count is seen.
fn loud(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

#[derive(Debug, Clone)]
enum Table {
    Success,
    Warning(String),
    Error(String),
    ServiceName(String),
    Deps(Vec<String>),
}

#[derive(Debug)]
struct Case {
    file: String,
    table: Table,
}

/// The Go string literals (`"..."`) of `s`, unescaped.
fn go_strings(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '"' {
            continue;
        }
        let mut lit = String::new();
        while let Some(c) = it.next() {
            match c {
                '"' => break,
                '\\' => match it.next() {
                    Some('n') => lit.push('\n'),
                    Some('t') => lit.push('\t'),
                    Some(o) => lit.push(o),
                    None => {}
                },
                c => lit.push(c),
            }
        }
        out.push(lit);
    }
    out
}

/// The text of every `Entry(...)` in `chunk` (parentheses balanced outside strings).
fn entries(chunk: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = chunk;
    while let Some(i) = rest.find("Entry(") {
        let body = &rest[i + "Entry(".len()..];
        let (mut depth, mut in_str, mut esc, mut end) = (1usize, false, false, body.len());
        for (j, c) in body.char_indices() {
            if in_str {
                match (esc, c) {
                    (true, _) => esc = false,
                    (false, '\\') => esc = true,
                    (false, '"') => in_str = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_str = true,
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = j;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push(&body[..end]);
        rest = &body[end..];
    }
    out
}

fn load_cases(go: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for chunk in go.split("DescribeTable(").skip(1) {
        let title = go_strings(chunk.lines().next().unwrap_or(""))
            .into_iter()
            .next()
            .unwrap_or_default();
        for e in entries(chunk) {
            let s = go_strings(e);
            let [_, file, rest @ ..] = s.as_slice() else {
                continue;
            };
            if ![
                ".container",
                ".network",
                ".volume",
                ".image",
                ".build",
                ".pod",
                ".kube",
                ".artifact",
            ]
            .iter()
            .any(|x| file.ends_with(x))
            {
                continue;
            }
            let arg = rest.first().cloned().unwrap_or_default();
            let table = match title.as_str() {
                "Running success quadlet test case" => Table::Success,
                "Running expected warning quadlet test case" => Table::Warning(arg),
                "Running expected error quadlet test case" => Table::Error(arg),
                "Running success quadlet with ServiceName test case" => Table::ServiceName(arg),
                "Running quadlet success test case with dependencies" => Table::Deps(rest.to_vec()),
                t => panic!("quadlet_test.go: unknown table {t:?}: update tests/it/upstream.rs"),
            };
            cases.push(Case {
                file: file.clone(),
                table,
            });
        }
    }
    cases
}

/// go-shellwords' split of an assertion line (backslash escapes outside single quotes).
fn shellwords(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut sq, mut dq, mut esc, mut has) = (false, false, false, false);
    for c in line.chars() {
        if esc {
            cur.push(c);
            esc = false;
            has = true;
            continue;
        }
        match c {
            '\\' if !sq => esc = true,
            '\'' if !dq => {
                sq = !sq;
                has = true;
            }
            '"' if !sq => {
                dq = !dq;
                has = true;
            }
            c if c.is_whitespace() && !sq && !dq => {
                if has {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            c => {
                cur.push(c);
                has = true;
            }
        }
    }
    if has {
        out.push(cur);
    }
    out
}

/// quadlet_test.go's `calcServiceName`.
fn service_name(file: &str) -> String {
    let (stem, ext) = file.rsplit_once('.').unwrap();
    match ext {
        "volume" | "network" | "image" | "build" | "artifact" | "pod" => {
            format!("{stem}-{ext}.service")
        }
        _ => format!("{stem}.service"),
    }
}

/// quadlet's parser.UnitFile lookups over rootlet's unit.
struct Unit {
    file: UnitFile,
    dir: PathBuf,
}

impl Unit {
    fn raw(&self, group: &str, key: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for s in self.file.sections.iter().filter(|s| s.name == group) {
            for e in s.entries.iter().filter(|e| e.key == key) {
                if e.value.is_empty() {
                    out.clear();
                } else {
                    out.push(&*e.value);
                }
            }
        }
        out
    }

    fn all(&self, group: &str, key: &str) -> Vec<String> {
        self.raw(group, key).iter().map(|v| v.to_string()).collect()
    }

    fn last(&self, group: &str, key: &str) -> Option<String> {
        self.file
            .sections
            .iter()
            .filter(|s| s.name == group)
            .flat_map(|s| s.entries.iter().filter(|e| e.key == key))
            .last()
            .map(|e| e.value.to_string())
    }

    fn last_args(&self, key: &str) -> Vec<String> {
        match self.last("Service", key) {
            Some(v) => rootlet::exec::split(&v)
                .unwrap_or_else(|_| v.split_whitespace().map(str::to_owned).collect()),
            None => Vec::new(),
        }
    }
}

fn re_match(pat: &str, s: &str) -> bool {
    regex::Regex::new(pat).is_ok_and(|r| r.is_match(s))
}

fn find_sublist(full: &[String], sub: &[String], regex: bool) -> Option<usize> {
    if sub.is_empty() || sub.len() > full.len() {
        return None;
    }
    (0..=full.len() - sub.len()).find(|&i| {
        sub.iter().enumerate().all(|(j, s)| {
            if regex {
                re_match(s, &full[i + j])
            } else {
                *s == full[i + j]
            }
        })
    })
}

/// Go's encoding/csv reading one record with separator `sep`, each field cut at `=`.
fn csv_map(s: &str, sep: char) -> Option<Vec<(String, String)>> {
    let mut fields = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut f = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        f.push('"');
                    }
                    '"' => break,
                    c => f.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(f);
                    break;
                }
                Some(c) if c == sep => fields.push(f),
                Some(_) => return None,
            }
        } else {
            let mut end = true;
            for c in chars.by_ref() {
                if c == sep {
                    end = false;
                    break;
                }
                if c == '"' {
                    return None; // a bare quote
                }
                f.push(c);
            }
            fields.push(f);
            if end {
                break;
            }
        }
    }
    // A Go map: a later field of the same key replaces the earlier one.
    let m: std::collections::BTreeMap<String, String> = fields
        .into_iter()
        .map(|f| match f.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (f, String::new()),
        })
        .collect();
    Some(m.into_iter().collect())
}

fn key_val(args: &[String], unit: &Unit, key: &str, regex: bool, global: bool) -> bool {
    let mut podman = unit.last_args(key);
    let mut args = args;
    if global {
        let Some(i) = find_sublist(&podman, &args[..1], false) else {
            return false;
        };
        podman.truncate(i);
        args = &args[1..];
    }
    if args.len() < 3 {
        return false;
    }
    let sep = args[1].chars().next().unwrap_or(',');
    let Some(want) = csv_map(&args[2], sep) else {
        return false;
    };
    let mut at = 0;
    while let Some(i) = find_sublist(&podman[at.min(podman.len())..], &args[..1], false) {
        at += i;
        let Some(Some(have)) = podman.get(at + 1).map(|v| csv_map(v, sep)) else {
            return false;
        };
        let same = want.len() == have.len()
            && want.iter().all(|(k, v)| {
                have.iter().find(|(hk, _)| hk == k).is_some_and(|(_, hv)| {
                    if regex {
                        re_match(v, hv)
                    } else {
                        v == hv
                    }
                })
            });
        if same {
            return true;
        }
        at += 2;
        if at > podman.len() {
            break;
        }
    }
    false
}

fn podman_args(args: &[String], unit: &Unit, key: &str, regex: bool, global: bool) -> bool {
    let mut podman = unit.last_args(key);
    let mut args = args;
    if global {
        let Some(i) = find_sublist(&podman, &args[..1.min(args.len())], false) else {
            return false;
        };
        podman.truncate(i);
        args = &args[1..];
    }
    find_sublist(&podman, args, regex).is_some()
}

fn final_args(args: &[String], unit: &Unit, key: &str, regex: bool) -> bool {
    let podman = unit.last_args(key);
    if podman.len() < args.len() {
        return false;
    }
    let at = podman.len() - args.len();
    args.iter().enumerate().all(|(j, s)| {
        if regex {
            re_match(s, &podman[at + j])
        } else {
            *s == podman[at + j]
        }
    })
}

/// Whether rootlet's unit deliberately has no wait at all: a network or volume created
/// without pulling, or a container with only `Network=none` whose image cannot need a
/// pull.
fn waits_nowhere(unit: &Unit) -> bool {
    if unit.all("Unit", "Wants").iter().any(|w| w == QUADLET_WAIT) {
        return false;
    }
    let a = unit.last_args("ExecStart");
    let has = |w: &[&str]| {
        let w: Vec<String> = w.iter().map(|s| s.to_string()).collect();
        find_sublist(&a, &w, false).is_some()
    };
    let creates = has(&["network", "create"]) || has(&["volume", "create"]);
    let pulls = a.iter().any(|w| w.starts_with("image="));
    let runs = has(&["run"]);
    let nets: Vec<&String> = a
        .iter()
        .zip(a.iter().skip(1))
        .filter(|(f, _)| *f == "--network")
        .map(|(_, n)| n)
        .collect();
    let offline = !nets.is_empty() && nets.iter().all(|n| *n == "none");
    let no_pull = has(&["--rootfs"]) || has(&["--pull", "never"]);
    (creates && !pulls) || (runs && offline && no_pull)
}

/// Expected values of a `Wants=`/`After=` assertion, without quadlet's wait unit where
/// rootlet deliberately does not wait.
fn expected_deps<'a>(group: &str, key: &str, values: &'a [String], unit: &Unit) -> &'a [String] {
    let wait_key = group == "Unit" && (key == "Wants" || key == "After");
    match values.first() {
        Some(v) if wait_key && re_match(v, QUADLET_WAIT) && waits_nowhere(unit) => &values[1..],
        _ => values,
    }
}

/// One `## assert-*` line; `Err` says why it failed.
fn check(words: &[String], unit: Option<&Unit>, messages: &str) -> Result<(), String> {
    let mut op = words[0].as_str();
    let args: Vec<String> = words[1..]
        .iter()
        .map(|a| a.replace("\\n", "\n").replace("\\t", "\t"))
        .collect();
    let invert = op.starts_with('!');
    if invert {
        op = &op[1..];
    }
    if op == "assert-failed" {
        return Ok(());
    }
    let ok = if op == "assert-stderr-contains" {
        !messages.is_empty()
    } else {
        let Some(u) = unit else {
            return Err("no unit to check".into());
        };
        let a = &args;
        let (g, k) = (
            a.first().map_or("", String::as_str),
            a.get(1).map_or("", String::as_str),
        );
        match op {
            "assert-key-is" | "assert-key-is-regex" => {
                let want = expected_deps(g, k, &a[2..], u);
                let have = u.all(g, k);
                have.len() == want.len()
                    && have.iter().zip(want).all(|(h, w)| {
                        if op == "assert-key-is" {
                            h == w
                        } else {
                            re_match(w, h)
                        }
                    })
            }
            "assert-has-key" => u.all(g, k).contains(&a[2]),
            // podman main's: some value of the key contains the text.
            "assert-key-contains" => u.all(g, k).iter().any(|v| v.contains(&a[2])),
            "assert-key-not-contains" => !u.all(g, k).iter().any(|v| v.contains(&a[2])),
            "assert-key-is-empty" => u.all(g, k).is_empty(),
            "assert-last-key-contains" => u.last(g, k).is_some_and(|v| v.contains(&a[2])),
            "assert-last-key-not-contains" => !u.last(g, k).is_some_and(|v| v.contains(&a[2])),
            "assert-last-key-is-regex" => u.last(g, k).is_some_and(|v| re_match(&a[2], &v)),
            "assert-symlink" => {
                fs::read_link(u.dir.join(&a[0])).is_ok_and(|t| t.to_string_lossy() == a[1].as_str())
            }
            _ => {
                // assert-podman-{,pre-,stop-,stop-post-,reload-}{,global-,final-}args
                // {,-key-val}{,-regex}
                let (cmd, rest) = match op
                    .strip_prefix("assert-podman-")
                    .and_then(|r| r.split_once("args"))
                {
                    Some((c, r)) => (c.trim_end_matches('-'), r),
                    None => return Err(format!("unsupported assertion {op}")),
                };
                let (cmd, global, fin) = match cmd.strip_suffix("global") {
                    Some(c) => (c.trim_end_matches('-'), true, false),
                    None => match cmd.strip_suffix("final") {
                        Some(c) => (c.trim_end_matches('-'), false, true),
                        None => (cmd, false, false),
                    },
                };
                let key = match cmd {
                    "" => "ExecStart",
                    "pre" => "ExecStartPre",
                    "stop" => "ExecStop",
                    "stop-post" => "ExecStopPost",
                    "reload" => "ExecReload",
                    _ => return Err(format!("unsupported assertion {op}")),
                };
                let regex = rest.ends_with("-regex");
                let kv = rest.starts_with("-key-val");
                if fin {
                    final_args(a, u, key, regex)
                } else if kv {
                    key_val(a, u, key, regex, global)
                } else {
                    podman_args(a, u, key, regex, global)
                }
            }
        }
    };
    if ok != invert {
        Ok(())
    } else {
        Err(format!("failed: {}", words.join(" ")))
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Copy the case's file, its drop-in directories (and the template's) and the dependency
/// files its table names into `quadlet`; the case file's text.
fn stage(cases_dir: &Path, case: &Case, quadlet: &Path) -> String {
    let data = fs::read_to_string(cases_dir.join(&case.file)).unwrap();
    fs::create_dir_all(quadlet).unwrap();
    fs::write(quadlet.join(&case.file), &data).unwrap();
    let mut dropins = vec![format!("{}.d", case.file)];
    if let Some((stem, ext)) = case.file.rsplit_once('.') {
        if let Some((p, i)) = stem.split_once('@') {
            if !i.is_empty() {
                dropins.push(format!("{p}@.{ext}.d"));
            }
        }
    }
    for d in dropins {
        if cases_dir.join(&d).is_dir() {
            copy_dir(&cases_dir.join(&d), &quadlet.join(&d));
        }
    }
    if let Table::Deps(deps) = &case.table {
        for d in deps {
            fs::copy(cases_dir.join(d), quadlet.join(d)).unwrap();
        }
    }
    data
}

/// The generator's run over `quadlet` into `generated`, for `podman`.
fn generate(quadlet: &Path, generated: &Path, podman: &rootlet::podman::Target) -> generator::Run {
    let opts = Options {
        podman: PODMAN.into(),
        ..Options::new(vec![Root::new(quadlet.to_owned())], podman.clone())
    };
    let (run, written) = generator::generate(&opts, generated);
    written.unwrap();
    run
}

/// The podman path of the generated units.
const PODMAN: &str = "/usr/bin/podman";

/// Run one case: `Ok` or the reasons it failed.
fn run_case(
    cases_dir: &Path,
    case: &Case,
    scratch: &Path,
    reference: Option<&std::ffi::OsStr>,
    podman: &rootlet::podman::Target,
) -> Result<(), Vec<String>> {
    let quadlet = scratch.join("quadlet");
    let generated = scratch.join("generated");
    let data = stage(cases_dir, case, &quadlet);
    let checks: Vec<Vec<String>> = data
        .lines()
        .filter_map(|l| l.strip_prefix("##"))
        .map(shellwords)
        .filter(|w| !w.is_empty())
        .collect();
    // (errors of the run, errors of the case's file, warnings of the case's file)
    let (errors, my_errors, my_warnings): (Vec<String>, usize, Vec<String>) = match reference {
        // Calibration: the reference quadlet itself, judged by the same evaluator (with
        // its own messages checked word for word).
        Some(q) => {
            fs::create_dir_all(&generated).unwrap();
            let o = std::process::Command::new(q)
                .args(["-user", "-no-kmsg-log"])
                .arg(&generated)
                .env("QUADLET_UNIT_DIRS", &quadlet)
                .output()
                .expect("the reference quadlet runs");
            let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
            let failed = !o.status.success();
            let errs: Vec<String> = if failed {
                vec![stderr.clone()]
            } else {
                Vec::new()
            };
            (errs, usize::from(failed), vec![stderr])
        }
        None => {
            let run = generate(&quadlet, &generated, podman);
            let mine = |p: &Path| p.file_name().is_some_and(|n| n == case.file.as_str());
            (
                run.errors.iter().map(|e| e.to_string()).collect(),
                run.errors.iter().filter(|e| mine(&e.path)).count(),
                run.warnings
                    .iter()
                    .filter(|w| mine(&w.path))
                    .map(|w| w.to_string())
                    .collect(),
            )
        }
    };
    let expect_fail =
        checks.iter().any(|c| c[0] == "assert-failed") || matches!(case.table, Table::Error(_));
    let mut why = Vec::new();
    let strict = reference.is_some();
    let said = |m: &str, all: &[String]| all.iter().any(|x| x.contains(m));
    match &case.table {
        Table::Error(m) if my_errors == 0 || (strict && !said(m, &errors)) => {
            why.push(format!("quadlet fails it ({m}); no such error"))
        }
        Table::Error(_) => {}
        Table::Warning(m)
            if my_warnings.iter().all(|w| w.is_empty()) || (strict && !said(m, &my_warnings)) =>
        {
            why.push(format!("quadlet warns ({m}); no such warning"))
        }
        _ if !errors.is_empty() => why.push(format!("errors: {}", errors.join("; "))),
        _ => {}
    }
    let name = match &case.table {
        Table::ServiceName(n) => format!("{n}.service"),
        _ => service_name(&case.file),
    };
    let path = generated.join(&name);
    let unit = match fs::read_to_string(&path) {
        Ok(text) if !expect_fail => {
            let text = text.replace("rootlet-wait-online.service", QUADLET_WAIT);
            Some(Unit {
                file: UnitFile::parse(&text).expect("rootlet's own output parses"),
                dir: generated.clone(),
            })
        }
        Ok(_) => {
            why.push(format!("{name} generated; quadlet generates none"));
            None
        }
        Err(_) if expect_fail => None,
        Err(_) => {
            why.push(format!("no {name} generated"));
            None
        }
    };
    let messages = if expect_fail {
        errors.join("\n")
    } else {
        my_warnings.join("\n")
    };
    for c in &checks {
        // The reference's own words are checked as quadlet_test.go checks them.
        if strict && c[0] == "assert-stderr-contains" {
            if !messages.contains(c.get(1).map_or("", String::as_str)) {
                why.push(format!("failed: {}", c.join(" ")));
            }
            continue;
        }
        if let Err(e) = check(c, unit.as_ref(), &messages) {
            why.push(e);
        }
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why)
    }
}

/// The directory of `set`'s case files and its cases; `None` (said loudly) when they are
/// not there.
fn read_set(set: &Set) -> Option<(PathBuf, Vec<Case>)> {
    let up = upstream_dir(set);
    let go = up.join("test/e2e/quadlet_test.go");
    let Ok(text) = fs::read_to_string(&go) else {
        // (scripts/test.sh sets `ROOTLET_UPSTREAM_ABSENT=1` when it could get no copy.)
        crate::util::skip_absent(
            &format!("{}_ABSENT", set.var),
            &format!(
                "podman {}'s quadlet cases are not at {} (set {}); \
             tests/it/upstream.rs measured nothing of them",
                set.name,
                up.display(),
                set.var
            ),
        );
        return None;
    };
    let cases = load_cases(&text);
    assert!(cases.len() > 100, "only {} cases read", cases.len());
    Some((up.join("test/e2e/quadlet"), cases))
}

/// Run every case of `set`: each passes or is deliberate, and at least the floor pass.
fn run_set(set: &Set) {
    let Some((cases_dir, cases)) = read_set(set) else {
        return;
    };
    let tmp = std::env::temp_dir().join(format!(
        "podman-e2e-rootlet-{}-{}",
        set.dir,
        std::process::id()
    ));
    let (mut passed, mut deliberate) = (0, 0);
    let mut problems = Vec::new();
    let verbose = std::env::var_os("ROOTLET_UPSTREAM_VERBOSE").is_some();
    // A reference quadlet runs instead of rootlet: every case must pass, which checks
    // this evaluator itself.
    let reference = std::env::var_os(set.reference);
    let calibrating = reference.is_some();
    if calibrating {
        loud(&format!(
            "calibration: evaluating the reference quadlet ({}), not rootlet",
            set.reference
        ));
    }
    for (i, case) in cases.iter().enumerate() {
        let scratch = tmp.join(format!("subtest-{i}"));
        let r = run_case(
            &cases_dir,
            case,
            &scratch,
            reference.as_deref(),
            &set.podman,
        );
        let listed = set
            .deliberate
            .iter()
            .find(|(c, _)| *c == case.file)
            .filter(|_| !calibrating);
        match (r, listed) {
            (Ok(()), None) => passed += 1,
            (Ok(()), Some(_)) => problems.push(format!(
                "{}: passes but is listed as deliberate: remove it (and from README)",
                case.file
            )),
            (Err(why), Some((_, reason))) => {
                deliberate += 1;
                if verbose {
                    loud(&format!(
                        "deliberate {} ({reason}): {}",
                        case.file,
                        why.join(" | ")
                    ));
                }
            }
            (Err(why), None) => problems.push(format!("{}: {}", case.file, why.join(" | "))),
        }
    }
    let _ = fs::remove_dir_all(&tmp);
    let summary = format!(
        "upstream quadlet {} cases (.container/.network/.volume/.image/.build/.pod/.kube/.artifact): {} cases, {passed} passed, \
         {deliberate} deliberate, {} failing",
        set.name,
        cases.len(),
        problems.len()
    );
    loud(&summary);
    if verbose {
        for p in &problems {
            loud(&format!("FAIL {p}"));
        }
    }
    assert!(problems.is_empty(), "{summary}\n{}", problems.join("\n"));
    assert!(
        passed >= set.floor,
        "{summary}: fewer than the floor of {}",
        set.floor
    );
}

#[test]
fn upstream_quadlet_cases() {
    run_set(&V5_8_2);
}

#[test]
fn upstream_main_quadlet_cases() {
    run_set(&MAIN);
}

/// The row of the one version table (`podman::KEY_SINCE`, `VALUE_SINCE`, `KIND_SINCE`) a
/// refusal names (`KEY: WHAT needs podman V or newer ..., podman is ...`, from
/// `Context::require`), as `kind key (V)`; `Err` with the message for any other.
fn version_row(e: &rootlet::error::SourceError) -> Result<String, String> {
    use rootlet::podman::{key_since, kind_since, Version, VALUE_SINCE};
    let kind = e.path.extension().and_then(|x| x.to_str()).unwrap_or("");
    let m = e.message.as_str();
    let other = || Err(e.to_string());
    let Some((key, rest)) = m.split_once(": ") else {
        return other();
    };
    let Some(need) = (rest.split_once(" needs podman "))
        .and_then(|(_, v)| v.split_once(" or newer"))
        .and_then(|(v, _)| Version::parse(v))
    else {
        return other();
    };
    if key
        .strip_prefix('[')
        .and_then(|k| k.strip_suffix(']'))
        .is_some()
    {
        return match kind_since(kind) {
            Some(r) if r.1 == need => Ok(format!(".{kind} ({need})")),
            _ => other(),
        };
    }
    if key_since(kind, key).is_some_and(|r| r.2 == need) {
        return Ok(format!("{kind} {key}= ({need})"));
    }
    if let Some(r) = (VALUE_SINCE.iter())
        .find(|r| r.0 == kind && r.1 == key && r.3 == need && rest.contains(r.4))
    {
        return Ok(format!("{kind} {key}={} ({need})", r.4));
    }
    match NOT_A_ROW.iter().find(|r| r.0 == kind && r.1 == key) {
        Some(r) => Ok(format!("{kind} {key}= {} ({need})", r.2)),
        None => other(),
    }
}

/// Version refusals that are no row of the table, and why: a row says which key, or which
/// value of one key, needs which podman; this is neither.
const NOT_A_ROW: &[(&str, &str, &str)] = &[(
    "kube",
    "Yaml",
    "with several files (how many values a key has)",
)];

/// Issue 25's census: every v5.8.2 case generated for podman 4.3.1
/// (`ROOTLET_PODMAN_VERSION=4.3.1`). A case's unit is either written, or refused only by a
/// row of the one version table; what rootlet also refuses for podman 5.8.2 (upstream's own
/// expected errors, the deliberate differences) is counted apart and is no refusal of
/// 4.3.1's. The census (cases, generated, refused by row) is printed.
#[test]
fn upstream_cases_on_podman_4_3_1() {
    use rootlet::podman::{Target, Version};
    let Some((cases_dir, cases)) = read_set(&V5_8_2) else {
        return;
    };
    let old = Target::Known(Version(4, 3, 1));
    let tmp = crate::util::Tmp::new("upstream-podman431");
    let (mut generated, mut as_newest) = (0, 0);
    let mut rows: std::collections::BTreeMap<String, usize> = Default::default();
    let mut problems = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let scratch = tmp.path().join(format!("case-{i}"));
        let quadlet = scratch.join("quadlet");
        stage(&cases_dir, case, &quadlet);
        let unit = match &case.table {
            Table::ServiceName(n) => format!("{n}.service"),
            _ => service_name(&case.file),
        };
        let newest = generate(&quadlet, &scratch.join("newest"), &V5_8_2.podman);
        let run = generate(&quadlet, &scratch.join("old"), &old);
        let made = |d: &str| scratch.join(d).join(&unit).exists();
        // What 4.3.1 refuses and 5.8.2 does not (the run's one podman message aside).
        let said: Vec<String> = newest.errors.iter().map(ToString::to_string).collect();
        let new_errors: Vec<_> = (run.errors.iter())
            .filter(|e| e.path != Path::new(PODMAN) && !said.contains(&e.to_string()))
            .collect();
        let mut named = Vec::new();
        for e in &new_errors {
            match version_row(e) {
                Ok(r) => named.push(r),
                Err(m) => problems.push(format!("{}: refused for another reason: {m}", case.file)),
            }
        }
        match (made("old"), made("newest")) {
            (true, _) => generated += 1,
            (false, false) => as_newest += 1,
            (false, true) if named.is_empty() => {
                problems.push(format!("{}: no unit, and no version row named", case.file))
            }
            (false, true) => {
                named.sort();
                named.dedup();
                if std::env::var_os("ROOTLET_UPSTREAM_VERBOSE").is_some() {
                    loud(&format!("refused {}: {}", case.file, named.join(", ")));
                }
                for r in named {
                    *rows.entry(r).or_default() += 1;
                }
            }
        }
    }
    let refused = cases.len() - generated - as_newest;
    let by_row: Vec<String> = rows.iter().map(|(r, n)| format!("{r}: {n}")).collect();
    loud(&format!(
        "podman v5.8.2's cases for podman 4.3.1: {} cases, {generated} generated, {refused} \
         refused by the version table, {as_newest} refused as for podman 5.8.2 (upstream's \
         expected errors, deliberate); by row: {}",
        cases.len(),
        by_row.join(", ")
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A clone with no `../shared` and no network: under `ROOTLET_REQUIRE_ALL=1` the tests of
/// podman's cases fail, unless `scripts/test.sh` said it could get no copy
/// (`ROOTLET_UPSTREAM_ABSENT=1`): then they say `NOT RUN` and pass. Run in a child test
/// process, with the loader pointed at a missing directory.
#[test]
fn missing_cases_fail_the_full_run_unless_test_sh_could_get_none() {
    if std::env::var_os("ROOTLET_UPSTREAM_CHILD").is_some() {
        return;
    }
    let tmp = crate::util::Tmp::new("upstream-absent");
    let run = |absent: bool| {
        let mut c = std::process::Command::new(std::env::current_exe().unwrap());
        c.args(["--exact", "upstream::upstream_quadlet_cases", "--nocapture"])
            .env("ROOTLET_UPSTREAM_CHILD", "1")
            .env("ROOTLET_REQUIRE_ALL", "1")
            .env("ROOTLET_UPSTREAM", tmp.path().join("missing"))
            .env_remove("ROOTLET_UPSTREAM_ABSENT");
        if absent {
            c.env("ROOTLET_UPSTREAM_ABSENT", "1");
        }
        let o = c.output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (ok, err) = run(true);
    assert!(
        ok && err.contains("!! NOT RUN (ROOTLET_UPSTREAM_ABSENT=1"),
        "{err}"
    );
    let (ok, err) = run(false);
    assert!(
        !ok && err.contains("ROOTLET_REQUIRE_ALL=1 forbids a skip"),
        "{err}"
    );
}

#[test]
fn shellwords_and_csv_like_go() {
    assert_eq!(
        shellwords(r#" assert-podman-args --env "FOO4=foo\\nfoo" 'a b\'"#),
        ["assert-podman-args", "--env", "FOO4=foo\\nfoo", "a b\\"]
    );
    assert_eq!(
        csv_map(r#"type=bind,source=/tmp,"dst=/path,1""#, ','),
        Some(vec![
            ("dst".into(), "/path,1".into()),
            ("source".into(), "/tmp".into()),
            ("type".into(), "bind".into()),
        ])
    );
    assert_eq!(csv_map(r#"a"b"#, ','), None);
    assert_eq!(
        go_strings(r#"Entry("x \"y\"", "a.container", []string{"b.network"})"#),
        ["x \"y\"", "a.container", "b.network"]
    );
}

/// `RequiresMountsFor=` of a bind source with a space reaches systemd as that one path
/// (systemd 252 removes quotes there but applies no C escapes: quadlet's `\x20` would be
/// read as `x20`). Needs `systemd-analyze`; says so loudly without it.
#[test]
fn requires_mounts_for_reaches_systemd_as_one_path() {
    let tmp = std::env::temp_dir().join(format!("rootlet-rmf-{}", std::process::id()));
    let src = tmp.join("src");
    let out = tmp.join("out");
    fs::create_dir_all(&src).unwrap();
    fs::write(
        src.join("b.container"),
        "[Container]\nImage=docker.io/x\nVolume=/srv/with space/d\"q:/a\nMount=\"type=bind,source=./rel dir/,destination=/b\"\n",
    )
    .unwrap();
    let opts = Options::new(
        vec![Root::new(src.clone())],
        rootlet::podman::Target::Newest,
    );
    let (run, written) = generator::generate(&opts, &out);
    written.unwrap();
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let dump = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(out.join("b.service"))
        .env("SYSTEMD_LOG_LEVEL", "debug")
        .output();
    let _ = fs::remove_dir_all(&tmp);
    let Ok(dump) = dump else {
        crate::util::skip("no systemd-analyze; RequiresMountsFor= quoting not checked");
        return;
    };
    let text =
        String::from_utf8_lossy(&dump.stderr).into_owned() + &String::from_utf8_lossy(&dump.stdout);
    for want in [
        "RequiresMountsFor: /srv/with space/d\"q ".to_owned(),
        format!("RequiresMountsFor: {}/rel dir ", src.display()),
    ] {
        assert!(
            text.contains(want.trim_end()),
            "systemd did not read `{want}`:\n{text}"
        );
    }
}

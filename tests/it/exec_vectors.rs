//! `rootlet::exec` against what systemd 252 really did with 486 `ExecStart=` lines
//! (tests/data/systemd-252-execstart.jsonl, from the e2e sandbox: see its README beside it).
//!
//! systemd reads a line in three steps; the test models the two that are not ours
//! (specifier expansion before splitting, `$VAR` expansion after it) and uses
//! `rootlet::exec::split` for the middle one, then compares with the argv systemd gave.
//! The writer is checked too: every argv systemd gave, quoted by `quote_literal`, must
//! come back identical through the same three steps.

use rootlet::exec::{self, ExecError};

// ---- the model of systemd's two other steps ----

/// `%` specifiers in the whole line (before splitting), for a unit named `unit`. A `%`
/// before a letter or digit must be a known specifier; before anything else it is kept.
fn expand_specifiers(line: &str, unit: &str) -> Result<String, String> {
    let prefix = unit.rsplit_once('.').map(|(p, _)| p).unwrap_or(unit);
    let mut out = String::new();
    let mut it = line.chars().peekable();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.next() {
            None => out.push('%'),
            Some('%') => out.push('%'),
            Some('n') => out.push_str(unit),
            Some('N') | Some('p') | Some('P') => out.push_str(prefix),
            Some('i') | Some('I') => {}
            Some(x) if x.is_ascii_alphanumeric() => return Err(format!("unknown specifier %{x}")),
            Some(x) => {
                out.push('%');
                out.push(x);
            }
        }
    }
    Ok(out)
}

fn env_get(name: &str) -> Option<&'static str> {
    match name {
        "FOO" => Some("foo"),
        "BAR" => Some("b a r"),
        "EMPTY" => Some(""),
        _ => None,
    }
}

/// `$VAR` / `${VAR}` / `$$` at exec time (systemd's replace_env_argv).
fn expand_env(words: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for w in words {
        let b = w.as_bytes();
        if b.first() == Some(&b'$') && !matches!(b.get(1), Some(b'{') | Some(b'$')) {
            // `$NAME` as a whole word: replaced by the value split into words.
            if let Some(v) = env_get(&w[1..]) {
                out.extend(v.split_whitespace().map(str::to_owned));
            }
            continue;
        }
        let mut s = String::new();
        let mut rest = w.as_str();
        while let Some(pos) = rest.find('$') {
            s.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(r) = after.strip_prefix('$') {
                s.push('$');
                rest = r;
            } else if let Some(r) = after.strip_prefix('{') {
                match r.find('}') {
                    Some(end) => {
                        s.push_str(env_get(&r[..end]).unwrap_or(""));
                        rest = &r[end + 1..];
                    }
                    None => {
                        s.push_str("${");
                        rest = r;
                    }
                }
            } else {
                s.push('$');
                rest = after;
            }
        }
        s.push_str(rest);
        out.push(s);
    }
    out
}

/// What systemd makes of the arguments `args` in unit `unit`: Ok(argv) or Err(why).
/// The line goes through rootlet's unit-file parser first, as it stood in a unit file
/// (a final backslash is a line continuation there, not part of the command line).
fn systemd_model(args: &str, unit: &str) -> Result<Vec<String>, String> {
    let line = expand_specifiers(&as_in_unit_file(args), unit)?;
    let words = exec::split(&line).map_err(|e| e.to_string())?;
    Ok(expand_env(words))
}

/// Rows outside a parser's reach, each with the reason.
const EXCEPTIONS: &[(&str, &str)] = &[(
    "é%b$;$F%n",
    "%b is the boot id of the machine that recorded the vectors",
)];

/// The arguments as systemd's unit-file reader passes them on (continuations joined).
fn as_in_unit_file(args: &str) -> String {
    let text = format!("[Service]\nExecStart=/bin/x {args}\n");
    let file = rootlet::unit::UnitFile::parse(&text).expect("unit parses");
    let value = &file
        .section("Service")
        .unwrap()
        .last("ExecStart")
        .unwrap()
        .value;
    value.strip_prefix("/bin/x").unwrap().to_owned()
}

/// The raw text before the first lone `;` word.
fn first_command(args: &str) -> String {
    let mut out = Vec::new();
    for w in args.split([' ', '\t']) {
        if w == ";" {
            break;
        }
        out.push(w);
    }
    out.join(" ")
}

struct Row {
    unit: String,
    args: String,
    /// None: systemd refused the line. Some(Err(hex)): an argument was not UTF-8.
    argv: Option<Result<Vec<String>, String>>,
}

fn rows() -> Vec<Row> {
    use serde_json::Value;
    let data = include_str!("../data/systemd-252-execstart.jsonl");
    data.lines()
        .map(|l| {
            let m: serde_json::Map<String, Value> =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let s = |k: &str| match &m[k] {
                Value::String(s) => s.clone(),
                other => panic!("{k}: {other:?}"),
            };
            // A word that is not UTF-8 is recorded as {"hex": "..."}.
            let argv = m.get("argv").map(|a| {
                let mut words = Vec::new();
                for w in a.as_array().unwrap_or_else(|| panic!("argv: {a:?}")) {
                    match w {
                        Value::String(s) => words.push(s.clone()),
                        Value::Object(h) => return Err(h["hex"].as_str().unwrap().to_owned()),
                        other => panic!("argv word: {other:?}"),
                    }
                }
                Ok(words)
            });
            Row {
                unit: s("unit"),
                args: s("args"),
                argv,
            }
        })
        .collect()
}

#[test]
fn parser_agrees_with_systemd_252() {
    let rows = rows();
    assert_eq!(rows.len(), 486);
    let (mut matched, mut refused, mut non_utf8, mut separated, mut excepted) = (0, 0, 0, 0, 0);
    let mut failures = Vec::new();
    for r in &rows {
        if let Some((_, why)) = EXCEPTIONS.iter().find(|(a, _)| *a == r.args) {
            eprintln!("exception {:?}: {why}", r.args);
            excepted += 1;
            continue;
        }
        let mut got = systemd_model(&r.args, &r.unit);
        if got == Err(ExecError::Semicolon.to_string()) {
            // rootlet refuses a lone `;` (it would start a second command); systemd ran
            // the first one: check that is what the words before the `;` give.
            let first = first_command(&as_in_unit_file(&r.args));
            got = systemd_model(&first, &r.unit);
            if matches!(&r.argv, Some(Ok(want)) if Ok(want) == got.as_ref()) {
                separated += 1;
                continue;
            }
        }
        match (&r.argv, &got) {
            (Some(Ok(want)), Ok(g)) if want == g => matched += 1,
            (None, Err(_)) => refused += 1,
            // systemd passes raw bytes (`\xff`, `\200`); rootlet's words are UTF-8 and
            // it refuses such a line with a clear error instead.
            (Some(Err(_)), Err(e)) if *e == ExecError::NotUtf8.to_string() => non_utf8 += 1,
            _ => failures.push(format!(
                "{:?}: systemd {:?}, rootlet {:?}",
                r.args, r.argv, got
            )),
        }
    }
    eprintln!(
        "systemd 252 vectors: {} rows: {matched} argv identical, {refused} refused by both, \
         {separated} with a lone `;` (rootlet refuses; the first command matches), \
         {non_utf8} non-UTF-8 (systemd passes bytes, rootlet refuses), \
         {excepted} listed exceptions, {} mismatches",
        rows.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn writer_round_trips_every_argv_systemd_gave() {
    let mut tried = 0;
    for r in rows() {
        let Some(Ok(argv)) = r.argv else { continue };
        let line: Vec<String> = argv.iter().map(|w| exec::quote_literal(w)).collect();
        let line = line.join(" ");
        assert_eq!(
            systemd_model(&line, &r.unit),
            Ok(argv.clone()),
            "{:?} written as {line:?}",
            r.args
        );
        tried += 1;
    }
    eprintln!("writer: {tried} argv quoted and read back identical");
    assert!(tried > 250);
}

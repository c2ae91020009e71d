//! Writes source files whose `Exec=` and `Environment=` carry random strings (spaces,
//! quotes, backslashes, `%`, `$`, `;`, newlines, control characters, non-ASCII), quoted
//! the way a user who means them literally writes them, and the argv each should produce.
//! `tests/e2e/quoting.sh` runs the generated units in a real systemd.
//!
//! Usage: quoting-cases DIR COUNT [SEED]
//! Writes DIR/src/qNNNNN.container and DIR/expected/qNNNNN (one hex-encoded word a line:
//! the argv after the image, then the environment words). The argv is what quadlet's
//! syntax means: an empty word ends `Exec=`'s list there (rootlet warns about it).

// A test-data writer run by a test script: it stops at the first error and prints its
// usage; Cargo.toml's lints are for the library.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::disallowed_methods
)]

use std::fmt::Write as _;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic, no dependency.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const ALPHABET: &[char] = &[
    ' ', '\t', '\n', '"', '\'', '\\', '%', '$', ';', '{', '}', '#', '=', '\u{1}', '\u{7f}', 'é',
    '漢', '😀', 'a', 'b', 'z', '0', '9', '-', '/', '.', ':', '*', '?', '&', '|', '`',
];

fn word(r: &mut Rng) -> String {
    let len = r.below(10);
    (0..len)
        .map(|_| ALPHABET[r.below(ALPHABET.len() as u64) as usize])
        .collect()
}

fn hex(s: &str) -> String {
    s.bytes().fold(String::new(), |mut o, b| {
        let _ = write!(o, "{b:02x}");
        o
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: quoting-cases DIR COUNT [SEED]");
        std::process::exit(2);
    }
    let dir = std::path::Path::new(&args[1]);
    let count: usize = args[2].parse().expect("COUNT");
    let mut r = Rng(args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0x5eed) | 1);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join("expected")).unwrap();
    for i in 0..count {
        let n = 1 + r.below(5) as usize;
        let argv: Vec<String> = (0..n).map(|_| word(&mut r)).collect();
        let env_val = word(&mut r);
        let exec: Vec<String> = argv
            .iter()
            // A lone `;` is written `";"`: quadlet's `Exec=` syntax has no `\;` escape
            // (systemd's has; quadlet drops a value with an escape it does not know).
            .map(|w| match w.as_str() {
                ";" => "\";\"".to_owned(),
                _ => rootlet::exec::quote_literal(w),
            })
            .collect();
        let env = rootlet::exec::quote_literal(&format!("V={env_val}"));
        let src = format!(
            "[Quadlet]\nDefaultDependencies=false\n\n[Container]\nImage=img\nExec={}\nEnvironment={env}\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nRestart=no\n",
            exec.join(" ")
        );
        std::fs::write(dir.join(format!("src/q{i:05}.container")), src).unwrap();
        let mut exp = String::new();
        // quadlet's `Exec=` ends at an empty word (`""`): the words after it are dropped.
        // rootlet reads quadlet's files the same way (and warns); so does the expectation.
        for w in argv.iter().take_while(|w| !w.is_empty()) {
            exp.push_str(&hex(w));
            exp.push('\n');
        }
        exp.push_str("--\n");
        exp.push_str(&hex(&format!("V={env_val}")));
        exp.push('\n');
        std::fs::write(dir.join(format!("expected/q{i:05}")), exp).unwrap();
    }
}

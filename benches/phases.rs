//! Where a generator run spends its time, phase by phase, on one thread: `cargo bench
//! --bench phases [-- FILES [ROUNDS]]` (default 1,000 files, 20 rounds).
//!
//! It writes FILES `.container` sources like `scripts/bench-generator.py`'s into a
//! temporary directory and reports, per source file, the median over ROUNDS of: finding
//! the sources, reading and parsing them, translating them, and rendering the unit text.
//! Writing is left out (that is the file system's cost; the whole-run benchmark beside
//! quadlet is `scripts/bench-generator.py`). Numbers are CPU time of this code alone, so
//! they are stable enough to compare two versions of a change.

// A measurement run by hand: it stops at the first error and prints its table;
// Cargo.toml's lints are for the library.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::disallowed_methods
)]

use rootlet::generator;
use rootlet::quadlet::{self, Context, Defaults, Source};
use rootlet::search::{self, Root};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

const TEMPLATE: &str = "[Unit]
Description=Benchmark container {i}

[Container]
Image=docker.io/library/nginx:1.27
PublishPort={port}:80
Environment=INDEX={i} \"GREETING=hello world\"
Volume=%h/data/{i}:/data:Z
Label=app=bench tier=web
Exec=/usr/sbin/nginx -g \"daemon off;\"

[Install]
WantedBy=default.target
";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let files: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);

    let base = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("rootlet-phases-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    for i in 0..files {
        let text = TEMPLATE
            .replace("{i}", &i.to_string())
            .replace("{port}", &(10000 + i % 50000).to_string());
        std::fs::write(dir.join(format!("c{i:05}.container")), text).expect("source file");
    }
    let roots = [Root::new(dir.clone())];
    let defaults = Defaults::default();
    let no_sockets = BTreeMap::new();
    let no_pods = BTreeMap::new();

    let (mut t_find, mut t_load, mut t_translate, mut t_render) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        let disc = black_box(search::discover(&roots));
        t_find.push(t.elapsed());

        let t = Instant::now();
        let mut sources: BTreeMap<String, Source> = BTreeMap::new();
        for f in &disc.sources {
            let s = generator::load_source(&f.path, &f.name, f.kind, &disc.dropin_dirs)
                .expect("benchmark sources parse");
            sources.insert(f.name.clone(), s);
        }
        t_load.push(t.elapsed());

        let refs: BTreeMap<String, &Source> = sources.iter().map(|(n, s)| (n.clone(), s)).collect();
        let newest = rootlet::podman::Lazy::new("/usr/bin/podman", rootlet::podman::Target::Newest);
        let ctx = Context {
            podman: "/usr/bin/podman",
            podman_version: &newest,
            defaults: &defaults,
            sources: &refs,
            sockets_for: &no_sockets,
            load: None,
            pod_members: &no_pods,
        };
        let t = Instant::now();
        let units: Vec<_> = sources
            .values()
            .map(|s| quadlet::translate(s, &ctx).expect("benchmark sources translate"))
            .collect();
        t_translate.push(t.elapsed());

        let t = Instant::now();
        let mut text = String::new();
        for g in &units {
            text.clear();
            g.text_into(&mut text);
            black_box(&text);
        }
        t_render.push(t.elapsed());
    }
    let _ = std::fs::remove_dir_all(&dir);

    let per_file = |v: Vec<Duration>| median(v).as_secs_f64() * 1e6 / files as f64;
    let rows = [
        ("find sources", per_file(t_find)),
        ("read + parse", per_file(t_load)),
        ("translate", per_file(t_translate)),
        ("render text", per_file(t_render)),
    ];
    println!("generator phases, one thread, {files} files, median of {rounds} rounds");
    let mut total = 0.0;
    for (name, us) in rows {
        total += us;
        println!("  {name:<14} {us:7.2} us per file");
    }
    println!("  {:<14} {total:7.2} us per file", "sum");
}

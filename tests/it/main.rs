//! rootlet's integration tests, in one test binary (as ripgrep does): one link step of the
//! library instead of one per file. Each file is a module; run one with a filter, e.g.
//! `cargo test --test it golden::` or `cargo test --test it wait_online::`.
//! Shared fixtures live in `util`. The data the tests read stays beside this folder:
//! `tests/cases/`, `tests/data/`, `tests/doctor-fixtures/`, `tests/wait_support/`,
//! `tests/closed_pipe_support/` and the shell suites in `tests/e2e/`.

// Test code: an unwrap or a panic is the failed assertion, printing is the report, and
// fixtures write files and run programs directly. Cargo.toml's lints are for the library.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::disallowed_methods
)]

mod bad_inputs;
mod by_hand;
mod closed_pipe;
mod docker;
mod docs;
mod doctor;
mod doctor_docker;
mod doctor_props;
mod exec_roundtrip;
mod exec_vectors;
mod fuzz_corpus;
mod generator_cli;
mod golden;
mod install_make;
mod install_user;
mod layering;
mod manage;
mod planted;
mod podman43;
mod props;
mod upstream;
mod util;
mod wait_online;

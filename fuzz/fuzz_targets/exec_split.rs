//! Command lines: see `rootlet::properties::exec_roundtrip`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rootlet::properties::exec_roundtrip(data));

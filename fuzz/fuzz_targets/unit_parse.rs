//! Bytes -> unit file: see `rootlet::properties::unit_roundtrip`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rootlet::properties::unit_roundtrip(data));

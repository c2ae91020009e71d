//! Bytes -> source file -> units: see `rootlet::properties::translate_bytes`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rootlet::properties::translate_bytes(data));

//! Bytes -> unit file: never panics; what parses writes back to text that parses the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rootlet::unit::UnitFile;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = UnitFile::parse_bytes(data) {
        let text = f.write();
        let back = UnitFile::parse(&text).expect("written unit parses");
        assert_eq!(back.write(), text, "write is not a fixed point");
    }
});

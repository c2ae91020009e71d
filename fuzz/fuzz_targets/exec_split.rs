//! Command lines: splitting never panics; a split argv quoted again splits the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rootlet::exec;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    if let Ok(argv) = exec::split(line) {
        let again = exec::split(&exec::join(&argv)).expect("joined argv splits");
        assert_eq!(again, argv);
    }
});

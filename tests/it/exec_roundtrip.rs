//! Random argv through the writer and back: `split(join(argv)) == argv` for every string
//! of the characters that matter (spaces, quotes, backslashes, `%`, `$`, `;`, newlines,
//! control characters, non-ASCII), and `split` never panics on any input.

use proptest::prelude::*;
use rootlet::exec;

fn word() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just(' '),
            Just('\t'),
            Just('\n'),
            Just('\r'),
            Just('"'),
            Just('\''),
            Just('\\'),
            Just('%'),
            Just('$'),
            Just(';'),
            Just('{'),
            Just('}'),
            Just('#'),
            Just('\u{1}'),
            Just('\u{7f}'),
            Just('\u{85}'),
            Just('é'),
            Just('漢'),
            Just('😀'),
            prop::char::range('a', 'z'),
            prop::char::range('0', '9'),
        ],
        0..12,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn join_then_split_is_identity(argv in prop::collection::vec(word(), 0..6)) {
        let line = exec::join(&argv);
        prop_assert_eq!(exec::split(&line), Ok(argv.clone()), "line {:?}", line);
        // The written line survives the unit-file reader too (no continuation, no trim).
        let unit = format!("[Service]\nExecStart=/bin/x {line}\n");
        let f = rootlet::unit::UnitFile::parse(&unit).unwrap();
        let v = &f.section("Service").unwrap().last("ExecStart").unwrap().value;
        prop_assert_eq!(exec::split(v.strip_prefix("/bin/x").unwrap()), Ok(argv));
    }

    #[test]
    fn literal_quoting_doubles_percent_and_dollar(w in word()) {
        let q = exec::quote_literal(&w);
        let back = exec::split(&q).unwrap();
        prop_assert_eq!(back.len(), 1);
        prop_assert_eq!(back[0].replace("%%", "%").replace("$$", "$"), w);
    }

    #[test]
    fn split_never_panics(s in "\\PC{0,64}") {
        rootlet::properties::exec_roundtrip(s.as_bytes());
    }
}

//! Properties over random inputs: the unit-file writer and parser agree, and no input makes
//! the parser or the whole translation panic or name a unit outside its directory.

use proptest::prelude::*;
use rootlet::properties;
use rootlet::quadlet::SourceKind;
use rootlet::unit::{Section, UnitFile};

/// `[X]` for every section a source of any kind may have.
fn sections() -> Vec<String> {
    let mut s: Vec<String> = rootlet::kind::KINDS
        .iter()
        .flat_map(|k| k.sections.iter().map(|s| format!("[{s}]")))
        .collect();
    s.sort();
    s.dedup();
    s
}

fn key() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_-]{0,12}"
}

/// Values as a parser can produce them: one line, no surrounding whitespace, never ending
/// in an odd number of backslashes.
fn value() -> impl Strategy<Value = String> {
    "[ -~\u{e9}\u{4e2d}\t]{0,40}".prop_map(|v| {
        let mut v = v.trim().to_owned();
        if v.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1 {
            v.push('\\');
        }
        v
    })
}

fn unit_file() -> impl Strategy<Value = UnitFile> {
    prop::collection::vec(
        (
            "[A-Za-z][A-Za-z0-9 -]{0,10}",
            prop::collection::vec((key(), value()), 0..8),
        ),
        0..5,
    )
    .prop_map(|secs| {
        let mut f = UnitFile::default();
        for (name, entries) in secs {
            let name = name.trim().to_owned();
            let s: &mut Section = f.section_mut(&name);
            for (k, v) in entries {
                s.add(k, v);
            }
        }
        f
    })
}

fn strip_lines(f: &UnitFile) -> Vec<(String, Vec<(String, String)>)> {
    f.sections
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.entries
                    .iter()
                    .map(|e| (e.key.to_string(), e.value.to_string()))
                    .collect(),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn write_then_parse_is_identity(f in unit_file()) {
        let text = f.write();
        let back = UnitFile::parse(&text).expect("written text parses");
        prop_assert_eq!(strip_lines(&back), strip_lines(&f));
        // Deterministic: writing again gives the same bytes.
        prop_assert_eq!(back.write(), text);
    }

    #[test]
    fn parser_never_panics(data in prop::collection::vec(any::<u8>(), 0..512)) {
        properties::unit_roundtrip(&data);
    }

    #[test]
    fn parser_never_panics_on_unit_like_text(lines in prop::collection::vec("[\\[\\]=A-Za-z#; \\\\\"'%$\n\t]{0,30}", 0..20)) {
        let _ = UnitFile::parse(&lines.join("\n"));
    }

    #[test]
    fn translation_never_panics_nor_escapes(
        body in prop::collection::vec(prop_oneof![
            // Every section of every kind (the kind table's), and the common ones.
            prop::sample::select(sections()),
            Just("Image=localhost/x".to_owned()), Just("ListenStream=80".to_owned()), Just("Artifact=quay.io/a/b".to_owned()),
            ("(Image|Exec|Environment|Label|Volume|Network|PublishPort|PodmanArgs|User|Group|Notify|WantedBy|Alias|RequiredBy|DefaultInstance|Type|KillMode|Service|Accept|Mount|Subnet|Gateway|Driver|DefaultDependencies|HealthCmd|AutoUpdate|Restart|Yaml|ConfigMap|SetWorkingDirectory|KubeDownForce|ExitCodePropagation)", "[ -~]{0,24}")
                .prop_map(|(k, v)| format!("{k}={v}")),
        ], 0..14),
        stem in "[a-z@.-]{1,8}",
        kind in prop::sample::select(SourceKind::ALL.to_vec()),
    ) {
        let text = body.join("\n");
        let Ok(file) = UnitFile::parse(&text) else { return Ok(()) };
        properties::translate_contained(kind, &stem, file);
    }
}

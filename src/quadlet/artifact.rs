//! `X.artifact` -> `X-artifact.service`: a oneshot `podman artifact pull` that stays
//! active (quadlet 5.8's `ConvertArtifact`, experimental there), and
//! `Mount=type=artifact,source=X.artifact` in containers resolved to the artifact it pulls
//! (quadlet's `handleStorageSource`).
//!
//! `podman artifact` came with podman 5.4.0 and `--mount type=artifact` with 5.5.0: on an
//! older podman both are refused, naming the version, rather than written for a podman
//! that would fail at start.

use super::flags::{self, Flag};
use super::options;
use super::values::last;
use super::{Context, Generated, Source, SourceKind};
use crate::error::SourceError;
use crate::unit::{Entry, Index};

/// The keys of quadlet 5.8's `[Artifact]` and their flags, in the order of the argv
/// (quadlet 5.8 walks a Go map for the valued ones; rootlet's order is this one, sorted by
/// key, always).
pub(crate) const FLAGS: &[Flag] = &[
    Flag::Other(flags::COMMON),
    Flag::Other(&["Artifact"]),
    Flag::Str("AuthFile", "--authfile"),
    Flag::Str("CertDir", "--cert-dir"),
    Flag::Str("Creds", "--creds"),
    Flag::Str("DecryptionKey", "--decryption-key"),
    Flag::Str("Retry", "--retry"),
    Flag::Str("RetryDelay", "--retry-delay"),
    Flag::Bool("Quiet", "--quiet"),
    Flag::Bool("TLSVerify", "--tls-verify"),
];

/// The artifact a `.artifact` source pulls (`Artifact=`), if it names one. It is also
/// the name other sources use for it (quadlet's `ResourceName`).
fn pulled<'a>(sec: &Index<'a>) -> Option<(&'a Entry, &'a str)> {
    last(sec, "Artifact")
}

/// The name other sources use for the artifact of `X.artifact`: its `Artifact=`.
pub fn artifact_name(src: &Source) -> Option<String> {
    let sec = src.own();
    pulled(&sec).map(|(_, v)| v.to_owned())
}

/// Translate a `.artifact` source.
pub fn translate(src: &Source, ctx: &Context, name: String) -> Result<Generated, SourceError> {
    let sec = src.own();
    let Some((e, artifact)) = pulled(&sec) else {
        let line = src.file.section("Artifact").map_or(0, |s| s.line);
        return Err(src.err(line, "[Artifact] needs Artifact= (the artifact to pull)"));
    };
    let warnings = Vec::from_iter(options::short_name_warning(
        src,
        e,
        artifact,
        SourceKind::Artifact,
    ));
    let pull = super::service::Pull {
        command: ["artifact", "pull"],
        flags: FLAGS,
        what: artifact,
    };
    super::service::pull_unit(src, ctx, &sec, pull, warnings, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit::UnitFile;

    fn source(text: &str) -> Source {
        Source {
            path: "/q/x.artifact".into(),
            name: "x.artifact".into(),
            kind: super::super::SourceKind::Artifact,
            file: UnitFile::parse(text).unwrap(),
        }
    }

    #[test]
    fn artifact_name_is_the_artifact() {
        let s = source("[Artifact]\nArtifact=\"quay.io/a/b:t\"\n");
        assert_eq!(artifact_name(&s).as_deref(), Some("quay.io/a/b:t"));
        assert_eq!(artifact_name(&source("[Artifact]\nArtifact=\n")), None);
        assert_eq!(artifact_name(&source("[Artifact]\nRetry=3\n")), None);
    }

    /// podman is asked its version once for the run, and a podman 4.3.1 refuses a
    /// `.artifact` and an artifact mount, naming the version that has what is needed.
    #[test]
    fn version_asked_once_and_artifacts_refused() {
        use crate::podman::{Lazy, Target};
        use std::collections::BTreeMap;
        let dir = std::env::temp_dir().join(format!("rootlet-artifact-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let calls = dir.join("calls");
        let podman = dir.join("podman");
        crate::proc::write_test_program(
            &podman,
            &format!(
                "#!/bin/sh\necho \"$@\" >> '{}'\necho 'podman version 4.3.1'\n",
                calls.display()
            ),
        );
        let podman = podman.to_str().unwrap();
        let src = |name: &str, kind, text: &str| Source {
            path: format!("/q/{name}").into(),
            name: name.to_owned(),
            kind,
            file: UnitFile::parse(text).unwrap(),
        };
        use super::super::SourceKind::{Artifact, Container};
        let art = src(
            "m.artifact",
            Artifact,
            "[Artifact]\nArtifact=quay.io/a/m:1\n",
        );
        let plain = src(
            "p.container",
            Container,
            "[Container]\nImage=quay.io/a/b\nMount=type=image,source=quay.io/a/c,dst=/c\n",
        );
        let mounts = src(
            "c.container",
            Container,
            "[Container]\nImage=quay.io/a/b\nMount=type=artifact,source=m.artifact,dst=/m\n",
        );
        let sources: BTreeMap<String, &Source> = [(art.name.clone(), &art)].into();
        let (defaults, none) = (super::super::Defaults::default(), BTreeMap::new());
        let lazy = Lazy::new(podman, Target::Detect);
        let ctx = Context {
            podman,
            podman_version: &lazy,
            defaults: &defaults,
            sources: &sources,
            sockets_for: &none,
            pod_members: &none,
            load: None,
        };
        // Every container needs podman 2.2 (`podman::KIND_SINCE`): asked for the first.
        super::super::translate(&plain, &ctx).unwrap();
        assert_eq!(std::fs::read_to_string(&calls).unwrap(), "--version\n");
        let e = super::super::translate(&mounts, &ctx)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/q/c.container:3: Mount: `type=artifact` needs podman 5.5.0 or newer"),
            "{e}"
        );
        let e = super::super::translate(&art, &ctx).unwrap_err().to_string();
        assert!(
            e.starts_with("/q/m.artifact:1: [Artifact]: a .artifact file needs podman 5.4.0"),
            "{e}"
        );
        // Asked once for the run.
        assert_eq!(std::fs::read_to_string(&calls).unwrap(), "--version\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn short_names_warned() {
        let s = source("[Artifact]\nArtifact=x\n");
        let e = &s.file.sections[0].entries[0];
        for (name, warned) in [
            ("team/model:1", true),
            ("model", true),
            ("quay.io/team/model:1", false),
            ("localhost/model", false),
            ("127.0.0.1:5000/model", false),
        ] {
            let w = options::short_name_warning(&s, e, name, SourceKind::Artifact);
            assert_eq!(w.is_some(), warned, "{name}");
        }
    }
}

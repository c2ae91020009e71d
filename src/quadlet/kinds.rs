//! How each source kind is translated, one row each: its keys, what it makes that other
//! sources name ([`Resource`]), its translate function. What a kind *is* (extension,
//! sections, unit name, role) is its row of [`crate::kind::KINDS`].
//!
//! Adding a kind (say `.pod`): a new file `pod.rs` with its key list and `translate`,
//! its variant in [`SourceKind`] and its row in [`crate::kind::KINDS`], and its row here
//! (both in enum order). This is the only file of `quadlet` that names every kind.

use super::flags::{self, Flag};
use super::refs::Resource;
use super::{Context, Generated, KeySet, Source, SourceKind};
use crate::error::SourceError;
use std::sync::OnceLock;

/// How one kind of source is translated (what it *is* is its row of [`crate::kind::KINDS`]).
pub struct Translation {
    pub kind: SourceKind,
    /// The keys of the kind's section and how each becomes podman arguments (the keys are
    /// checked before translation; unknown ones are errors).
    pub(crate) flags: &'static [Flag],
    /// What such a source makes that other sources name (`Image=X.image`), read by
    /// `refs.rs`; `None` for a kind nothing refers to by a resource.
    pub resource: Option<Resource>,
    /// Source -> unit; `name` is [`Source::unit_name`].
    pub translate: fn(&Source, &Context, String) -> Result<Generated, SourceError>,
}

impl Translation {
    /// The keys of the kind's section, from its flag table: sorted, each once.
    pub(crate) fn keys(&self) -> &'static [&'static str] {
        static KEYS: OnceLock<Vec<Vec<&'static str>>> = OnceLock::new();
        &KEYS.get_or_init(|| {
            TRANSLATIONS
                .iter()
                .map(|k| flags::keys_of(&[k.flags]))
                .collect()
        })[self.kind as usize]
    }

    /// [`Translation::keys`], sorted once per process for lookups.
    pub(crate) fn key_set(&self) -> &'static KeySet {
        static SETS: OnceLock<Vec<KeySet>> = OnceLock::new();
        &SETS.get_or_init(|| {
            TRANSLATIONS
                .iter()
                .map(|k| KeySet::new(k.keys().iter().copied()))
                .collect()
        })[self.kind as usize]
    }
}

/// The kinds, in [`SourceKind`] order.
pub static TRANSLATIONS: &[Translation] = &[
    Translation {
        kind: SourceKind::Container,
        flags: super::container::FLAGS,
        resource: Some(Resource {
            name: super::container::resource_name,
            lacking: "",
        }),
        translate: super::container::translate,
    },
    Translation {
        kind: SourceKind::Network,
        flags: super::network::FLAGS,
        resource: Some(Resource {
            name: |s| Some(super::network::network_name(s)),
            lacking: "",
        }),
        translate: super::network::translate,
    },
    Translation {
        kind: SourceKind::Volume,
        flags: super::volume::FLAGS,
        resource: Some(Resource {
            name: |s| Some(super::volume::volume_name(s)),
            lacking: "",
        }),
        translate: super::volume::translate,
    },
    Translation {
        kind: SourceKind::Socket,
        flags: &[],
        resource: None,
        translate: |src, _ctx, name| super::socket::translate(src, name),
    },
    Translation {
        kind: SourceKind::Image,
        flags: super::image::FLAGS,
        resource: Some(Resource {
            name: super::image::image_name,
            lacking: "no image (it has no Image=)",
        }),
        translate: super::image::translate,
    },
    Translation {
        kind: SourceKind::Pod,
        flags: super::pod::FLAGS,
        resource: Some(Resource {
            name: |s| Some(super::pod::pod_name(s)),
            lacking: "",
        }),
        translate: super::pod::translate,
    },
    Translation {
        kind: SourceKind::Build,
        flags: super::build::FLAGS,
        resource: Some(Resource {
            name: super::build::image_name,
            lacking: "no image (it has no ImageTag=)",
        }),
        translate: super::build::translate,
    },
    Translation {
        kind: SourceKind::Kube,
        flags: super::kube::FLAGS,
        resource: None,
        translate: super::kube::translate,
    },
    Translation {
        kind: SourceKind::Artifact,
        flags: super::artifact::FLAGS,
        resource: Some(Resource {
            name: super::artifact::artifact_name,
            lacking: "no artifact (it has no Artifact=)",
        }),
        translate: super::artifact::translate,
    },
];

/// The translation of `kind`.
pub fn of(kind: SourceKind) -> &'static Translation {
    // The table is in enum order (checked by a test).
    &TRANSLATIONS[kind as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_in_enum_order() {
        for (i, k) in TRANSLATIONS.iter().enumerate() {
            assert_eq!(k.kind as usize, i);
        }
        assert_eq!(TRANSLATIONS.len(), SourceKind::ALL.len());
    }

    /// The smallest source of each kind that translates.
    fn minimal(kind: SourceKind) -> &'static str {
        match kind {
            SourceKind::Container => "[Container]\nImage=quay.io/a/b\n",
            SourceKind::Network => "[Network]\n",
            SourceKind::Volume => "[Volume]\n",
            SourceKind::Socket => "[Socket]\nListenStream=80\n",
            SourceKind::Image => "[Image]\nImage=quay.io/a/b\n",
            SourceKind::Pod => "[Pod]\n",
            SourceKind::Build => "[Build]\nImageTag=localhost/x\nSetWorkingDirectory=unit\n",
            SourceKind::Kube => "[Kube]\nYaml=/k.yml\n",
            SourceKind::Artifact => "[Artifact]\nArtifact=quay.io/a/b\n",
        }
    }

    /// `text` as `x.KIND` in a run of its own: (the name other sources use for it, the unit
    /// name and text without the copy of the source's section; warnings) or the error.
    fn translate(kind: SourceKind, text: &str) -> Result<(String, Vec<String>), String> {
        use std::collections::BTreeMap;
        let src = Source {
            path: format!("/q/x.{}", kind.extension()).into(),
            name: format!("x.{}", kind.extension()),
            kind,
            file: crate::unit::UnitFile::parse(text).unwrap(),
        };
        let (defaults, none) = (super::super::Defaults::default(), BTreeMap::new());
        let newest = crate::podman::Lazy::new("/usr/bin/podman", crate::podman::Target::Newest);
        let ctx = Context {
            podman: "/usr/bin/podman",
            podman_version: &newest,
            defaults: &defaults,
            sources: &BTreeMap::new(),
            sockets_for: &none,
            load: None,
            pod_members: &none,
        };
        let mut g = super::super::translate(&src, &ctx).map_err(|e| e.to_string())?;
        // The source's own section is copied as `[X-Kind]`: not what the key did.
        g.file.sections.retain(|s| !s.name.starts_with("X-"));
        let w = g.warnings.iter().map(ToString::to_string).collect();
        // What other sources name it by is part of what it makes (`ImageTag=` of an image).
        let resource = of(kind).resource.as_ref().and_then(|r| (r.name)(&src));
        Ok((format!("{resource:?}\n{}\n{}", g.name, g.text()), w))
    }

    /// No key is accepted and then ignored: every key of every flag table, set to some
    /// value, changes the unit (or its name), or is refused or warned about by name.
    #[test]
    fn every_key_of_every_table_is_read() {
        const VALUES: &[&str] = &["yes", "x", "1", "a=b", "/x:/y", "registry", "all"];
        // Keys that are read only along with another one.
        let companion = |key: &str| match key {
            "RemapUidSize" => "RemapUsers=auto\n",
            _ => "",
        };
        let mut ignored = Vec::new();
        for t in TRANSLATIONS {
            let base = minimal(t.kind);
            let before = translate(t.kind, base).unwrap_or_else(|e| panic!("{base}: {e}"));
            for key in t.keys() {
                let read = VALUES.iter().any(|v| {
                    let text = format!("{base}{}{key}={v}\n", companion(key));
                    match translate(t.kind, &text) {
                        Err(e) => e.contains(key),
                        Ok((unit, w)) => unit != before.0 || w.iter().any(|w| w.contains(key)),
                    }
                });
                if !read {
                    ignored.push(format!("{}: {key}", t.kind.extension()));
                }
            }
        }
        assert!(ignored.is_empty(), "keys without effect: {ignored:?}");
    }
}

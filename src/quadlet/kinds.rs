//! How each source kind is translated, one row each: its keys, what it makes that other
//! sources name ([`Resource`]), its translate function. What a kind *is* (extension,
//! sections, unit name, role) is its row of [`crate::kind::KINDS`].
//!
//! Adding a kind (say `.pod`): a new file `pod.rs` with its key list and `translate`,
//! its variant in [`SourceKind`] and its row in [`crate::kind::KINDS`], and its row here
//! (both in enum order). This is the only file of `quadlet` that names every kind.

use super::refs::Resource;
use super::{Context, Generated, KeySet, Source, SourceKind};
use crate::error::SourceError;
use std::sync::OnceLock;

/// How one kind of source is translated (what it *is* is its row of [`crate::kind::KINDS`]).
pub struct Translation {
    pub kind: SourceKind,
    /// The keys of `section` (checked before translation; unknown ones are errors).
    pub keys: &'static [&'static str],
    /// What such a source makes that other sources name (`Image=X.image`), read by
    /// [`refs`](super::refs); `None` for a kind nothing refers to by a resource.
    pub resource: Option<Resource>,
    /// Source -> unit; `name` is [`Source::unit_name`].
    pub translate: fn(&Source, &Context, String) -> Result<Generated, SourceError>,
}

impl Translation {
    /// `keys`, sorted once per process for lookups.
    pub(crate) fn key_set(&self) -> &'static KeySet {
        static SETS: OnceLock<Vec<KeySet>> = OnceLock::new();
        &SETS.get_or_init(|| {
            TRANSLATIONS
                .iter()
                .map(|k| KeySet::new(k.keys.iter().copied()))
                .collect()
        })[self.kind as usize]
    }
}

/// The kinds, in [`SourceKind`] order.
pub static TRANSLATIONS: &[Translation] = &[
    Translation {
        kind: SourceKind::Container,
        keys: super::container::KEYS,
        resource: Some(Resource {
            name: super::container::resource_name,
            lacking: "",
        }),
        translate: super::container::translate,
    },
    Translation {
        kind: SourceKind::Network,
        keys: super::network::KEYS,
        resource: Some(Resource {
            name: |s| Some(super::network::network_name(s)),
            lacking: "",
        }),
        translate: super::network::translate,
    },
    Translation {
        kind: SourceKind::Volume,
        keys: super::volume::KEYS,
        resource: Some(Resource {
            name: |s| Some(super::volume::volume_name(s)),
            lacking: "",
        }),
        translate: super::volume::translate,
    },
    Translation {
        kind: SourceKind::Socket,
        keys: &[],
        resource: None,
        translate: |src, _ctx, name| super::socket::translate(src, name),
    },
    Translation {
        kind: SourceKind::Image,
        keys: super::image::KEYS,
        resource: Some(Resource {
            name: super::image::image_name,
            lacking: "no image (it has no Image=)",
        }),
        translate: super::image::translate,
    },
    Translation {
        kind: SourceKind::Pod,
        keys: super::pod::KEYS,
        resource: Some(Resource {
            name: |s| Some(super::pod::pod_name(s)),
            lacking: "",
        }),
        translate: super::pod::translate,
    },
    Translation {
        kind: SourceKind::Build,
        keys: super::build::KEYS,
        resource: Some(Resource {
            name: super::build::image_name,
            lacking: "no image (it has no ImageTag=)",
        }),
        translate: super::build::translate,
    },
    Translation {
        kind: SourceKind::Kube,
        keys: super::kube::KEYS,
        resource: None,
        translate: super::kube::translate,
    },
    Translation {
        kind: SourceKind::Artifact,
        keys: super::artifact::KEYS,
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
}

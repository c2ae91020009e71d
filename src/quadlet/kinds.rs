//! The source kinds rootlet translates, one row each.
//!
//! Adding a kind (say `.pod`): a new file `pod.rs` with its key list and `translate`,
//! its variant in [`SourceKind`] and its row in [`KINDS`] (in enum order). Nothing else
//! matches on the kind: file names, sections, unit names, key checks and the dispatch
//! of the translation all come from this table.

use super::refs::Resource;
use super::{Context, Generated, KeySet, Source, SourceKind};
use crate::error::SourceError;
use std::sync::OnceLock;

/// Everything about one kind of source.
pub struct KindInfo {
    pub kind: SourceKind,
    /// File extension (`container` for `X.container`).
    pub extension: &'static str,
    /// The section of the kind's own keys (`[Container]`).
    pub section: &'static str,
    /// Every section such a source may have (besides `X-*` ones).
    pub sections: &'static [&'static str],
    /// Unit name: `X` + `unit_infix` + `.` + `unit_type`; a template keeps its `@` after
    /// the infix (`X@.network` -> `X-network@.service`).
    pub unit_infix: &'static str,
    pub unit_type: &'static str,
    /// `ServiceName=` in the kind's section names the unit (quadlet 5.8).
    pub service_name: bool,
    /// The keys of `section` (checked before translation; unknown ones are errors).
    pub keys: &'static [&'static str],
    /// What such a source makes that other sources name (`Image=X.image`), read by
    /// [`refs`](super::refs); `None` for a kind nothing refers to by a resource.
    pub resource: Option<Resource>,
    /// Source -> unit; `name` is [`Source::unit_name`].
    pub translate: fn(&Source, &Context, String) -> Result<Generated, SourceError>,
}

impl KindInfo {
    /// `keys`, sorted once per process for lookups.
    pub(crate) fn key_set(&self) -> &'static KeySet {
        static SETS: OnceLock<Vec<KeySet>> = OnceLock::new();
        &SETS.get_or_init(|| {
            KINDS
                .iter()
                .map(|k| KeySet::new(k.keys.iter().copied()))
                .collect()
        })[self.kind as usize]
    }
}

/// The kinds, in [`SourceKind`] order.
pub static KINDS: &[KindInfo] = &[
    KindInfo {
        kind: SourceKind::Container,
        extension: "container",
        section: "Container",
        sections: &["Unit", "Service", "Install", "Quadlet", "Container"],
        unit_infix: "",
        unit_type: "service",
        service_name: true,
        keys: super::container::KEYS,
        resource: Some(Resource {
            name: super::container::resource_name,
            lacking: "",
        }),
        translate: super::container::translate,
    },
    KindInfo {
        kind: SourceKind::Network,
        extension: "network",
        section: "Network",
        sections: &["Unit", "Service", "Install", "Quadlet", "Network"],
        unit_infix: "-network",
        unit_type: "service",
        service_name: true,
        keys: super::network::KEYS,
        resource: Some(Resource {
            name: |s| Some(super::network::network_name(s)),
            lacking: "",
        }),
        translate: super::network::translate,
    },
    KindInfo {
        kind: SourceKind::Volume,
        extension: "volume",
        section: "Volume",
        sections: &["Unit", "Service", "Install", "Quadlet", "Volume"],
        unit_infix: "-volume",
        unit_type: "service",
        service_name: true,
        keys: super::volume::KEYS,
        resource: Some(Resource {
            name: |s| Some(super::volume::volume_name(s)),
            lacking: "",
        }),
        translate: super::volume::translate,
    },
    KindInfo {
        kind: SourceKind::Socket,
        extension: "socket",
        section: "Socket",
        sections: &["Unit", "Socket", "Install"],
        unit_infix: "",
        unit_type: "socket",
        service_name: false,
        keys: &[],
        resource: None,
        translate: |src, _ctx, name| super::socket::translate(src, name),
    },
    KindInfo {
        kind: SourceKind::Image,
        extension: "image",
        section: "Image",
        sections: &["Unit", "Service", "Install", "Quadlet", "Image"],
        unit_infix: "-image",
        unit_type: "service",
        service_name: true,
        keys: super::image::KEYS,
        resource: Some(Resource {
            name: super::image::image_name,
            lacking: "no image (it has no Image=)",
        }),
        translate: super::image::translate,
    },
    KindInfo {
        kind: SourceKind::Pod,
        extension: "pod",
        section: "Pod",
        sections: &["Unit", "Service", "Install", "Quadlet", "Pod"],
        unit_infix: "-pod",
        unit_type: "service",
        service_name: true,
        keys: super::pod::KEYS,
        resource: Some(Resource {
            name: |s| Some(super::pod::pod_name(s)),
            lacking: "",
        }),
        translate: super::pod::translate,
    },
    KindInfo {
        kind: SourceKind::Build,
        extension: "build",
        section: "Build",
        sections: &["Unit", "Service", "Install", "Quadlet", "Build"],
        unit_infix: "-build",
        unit_type: "service",
        service_name: true,
        keys: super::build::KEYS,
        resource: Some(Resource {
            name: super::build::image_name,
            lacking: "no image (it has no ImageTag=)",
        }),
        translate: super::build::translate,
    },
    KindInfo {
        kind: SourceKind::Kube,
        extension: "kube",
        section: "Kube",
        sections: &["Unit", "Service", "Install", "Quadlet", "Kube"],
        unit_infix: "",
        unit_type: "service",
        service_name: true,
        keys: super::kube::KEYS,
        resource: None,
        translate: super::kube::translate,
    },
    KindInfo {
        kind: SourceKind::Artifact,
        extension: "artifact",
        section: "Artifact",
        sections: &["Unit", "Service", "Install", "Quadlet", "Artifact"],
        unit_infix: "-artifact",
        unit_type: "service",
        service_name: true,
        keys: super::artifact::KEYS,
        resource: Some(Resource {
            name: super::artifact::artifact_name,
            lacking: "no artifact (it has no Artifact=)",
        }),
        translate: super::artifact::translate,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_in_enum_order() {
        for (i, k) in KINDS.iter().enumerate() {
            assert_eq!(k.kind as usize, i, "{}", k.extension);
            assert!(k.sections.contains(&k.section));
        }
    }
}

//! The kinds of source file rootlet reads, and what each is, one row each ([`KINDS`]):
//! extension, sections, unit-name rule, role in a run, the keys that bind ports. A leaf:
//! it imports nothing of the crate, so the search path walk ([`crate::search`]) knows
//! the kinds without the translation ([`crate::quadlet`], whose own table `kinds.rs`
//! holds the keys and translate function of each kind).
//!
//! Every list of the kinds (help texts, `rootlet add`'s bundles, the fuzz selector, the
//! proptests, `rootlet doctor`'s ports) is derived from this table.

/// Kinds of source files rootlet reads, in [`KINDS`] order. A new kind goes at the end
/// (the fuzz selector's map keeps the old kinds where they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    Container,
    Network,
    Volume,
    Socket,
    Image,
    Pod,
    Build,
    Kube,
    Artifact,
}

/// How a generator run treats a kind of source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Other sources refer to it (`Network=db.network`): read before the others are
    /// translated. Its unit name may be a container's (`a.network`, `a-network.container`).
    Referenced,
    /// Activates services: translated first, so that a service is wired to exactly the
    /// sockets that were generated for it.
    Activator,
    /// Nothing refers to it: read by the thread that translates it, and written at once
    /// when no other unit can clash with it.
    Leaf,
}

/// What a kind of source is.
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
    /// Its role in a generator run.
    pub role: Role,
    /// Keys of `section` that bind host ports (`rootlet doctor`'s port check).
    pub port_keys: &'static [&'static str],
}

/// The kinds, in [`SourceKind`] order.
pub static KINDS: &[KindInfo] = &[
    KindInfo {
        kind: SourceKind::Container,
        extension: "container",
        section: "Container",
        // [Socket]: the socket that activates it, in one file (`quadlet::own_socket`).
        sections: &[
            "Unit",
            "Service",
            "Install",
            "Quadlet",
            "Container",
            "Socket",
        ],
        unit_infix: "",
        unit_type: "service",
        service_name: true,
        // Read first only when `rootlet check` takes some files of a run with pods
        // (`generator/translate.rs`, `read_first`).
        role: Role::Leaf,
        port_keys: &["PublishPort"],
    },
    // Containers name them (`Network=`, `Volume=`, `Image=`, `Pod=`, `Mount=`): read first.
    KindInfo {
        kind: SourceKind::Network,
        extension: "network",
        section: "Network",
        sections: &["Unit", "Service", "Install", "Quadlet", "Network"],
        unit_infix: "-network",
        unit_type: "service",
        service_name: true,
        role: Role::Referenced,
        port_keys: &[],
    },
    KindInfo {
        kind: SourceKind::Volume,
        extension: "volume",
        section: "Volume",
        sections: &["Unit", "Service", "Install", "Quadlet", "Volume"],
        unit_infix: "-volume",
        unit_type: "service",
        service_name: true,
        role: Role::Referenced,
        port_keys: &[],
    },
    KindInfo {
        kind: SourceKind::Socket,
        extension: "socket",
        section: "Socket",
        sections: &["Unit", "Socket", "Install"],
        unit_infix: "",
        unit_type: "socket",
        service_name: false,
        role: Role::Activator,
        port_keys: &["ListenStream", "ListenDatagram"],
    },
    KindInfo {
        kind: SourceKind::Image,
        extension: "image",
        section: "Image",
        sections: &["Unit", "Service", "Install", "Quadlet", "Image"],
        unit_infix: "-image",
        unit_type: "service",
        service_name: true,
        role: Role::Referenced,
        port_keys: &[],
    },
    // A pod is translated last (its unit wants its containers).
    KindInfo {
        kind: SourceKind::Pod,
        extension: "pod",
        section: "Pod",
        // [Socket]: in proxy mode only (`quadlet::socket::check_kind`).
        sections: &["Unit", "Service", "Install", "Quadlet", "Pod", "Socket"],
        unit_infix: "-pod",
        unit_type: "service",
        service_name: true,
        role: Role::Referenced,
        port_keys: &["PublishPort"],
    },
    KindInfo {
        kind: SourceKind::Build,
        extension: "build",
        section: "Build",
        sections: &["Unit", "Service", "Install", "Quadlet", "Build"],
        unit_infix: "-build",
        unit_type: "service",
        service_name: true,
        role: Role::Referenced,
        port_keys: &[],
    },
    // A `.kube`'s unit may be a container's (`a.kube`, `a.container`) or, with
    // `ServiceName=`, any name: known before the containers are written.
    KindInfo {
        kind: SourceKind::Kube,
        extension: "kube",
        section: "Kube",
        // [Socket]: refused, saying why (`quadlet::socket::check_kind`).
        sections: &["Unit", "Service", "Install", "Quadlet", "Kube", "Socket"],
        unit_infix: "",
        unit_type: "service",
        service_name: true,
        role: Role::Referenced,
        port_keys: &["PublishPort"],
    },
    KindInfo {
        kind: SourceKind::Artifact,
        extension: "artifact",
        section: "Artifact",
        sections: &["Unit", "Service", "Install", "Quadlet", "Artifact"],
        unit_infix: "-artifact",
        unit_type: "service",
        service_name: true,
        role: Role::Referenced,
        port_keys: &[],
    },
];

impl SourceKind {
    /// Every kind, in enum (and [`KINDS`]) order.
    pub const ALL: [SourceKind; 9] = [
        SourceKind::Container,
        SourceKind::Network,
        SourceKind::Volume,
        SourceKind::Socket,
        SourceKind::Image,
        SourceKind::Pod,
        SourceKind::Build,
        SourceKind::Kube,
        SourceKind::Artifact,
    ];

    /// Its row of [`KINDS`].
    pub fn info(self) -> &'static KindInfo {
        // The table is in enum order (checked by a test).
        &KINDS[self as usize]
    }

    /// The kind of a file name and its stem (`web.container` -> `Container`, `web`).
    pub fn from_file_name(name: &str) -> Option<(SourceKind, &str)> {
        let (stem, ext) = name.rsplit_once('.')?;
        let k = KINDS.iter().find(|k| k.extension == ext)?;
        Some((k.kind, stem))
    }

    pub fn extension(self) -> &'static str {
        self.info().extension
    }

    /// The section that holds the kind's own keys.
    pub fn section(self) -> &'static str {
        self.info().section
    }

    /// The kind whose section is `section` (`Container` -> `Container`).
    pub fn from_section(section: &str) -> Option<SourceKind> {
        KINDS.iter().find(|k| k.section == section).map(|k| k.kind)
    }
}

/// `X.container` -> `X.service`, `X.network` -> `X-network.service`, `X.socket` -> `X.socket`;
/// templates keep their `@` (`X@.network` -> `X-network@.service`).
pub fn unit_name_for(kind: SourceKind, stem: &str) -> String {
    let info = kind.info();
    let parts: &[&str] = match (info.unit_infix, stem.split_once('@')) {
        ("", _) => &[stem, ".", info.unit_type],
        (infix, Some((p, i))) => &[p, infix, "@", i, ".", info.unit_type],
        (infix, None) => &[stem, infix, ".", info.unit_type],
    };
    // One allocation (`format!` costs more on this hot path).
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// The extensions of every kind for people, quadlet's first and `.socket` last:
/// `.container, .network, ... .artifact` + `last` + `.socket` (`last`: " or ", " and ").
pub fn extension_list(last: &str) -> String {
    let mut exts: Vec<&str> = KINDS
        .iter()
        .filter(|k| k.kind != SourceKind::Socket)
        .map(|k| k.extension)
        .collect();
    exts.push(SourceKind::Socket.extension());
    let mut out = String::new();
    for (i, e) in exts.iter().enumerate() {
        if i + 1 == exts.len() {
            out.push_str(last);
        } else if i > 0 {
            out.push_str(", ");
        }
        out.push('.');
        out.push_str(e);
    }
    out
}

/// The sections of every kind for people: `[Container], [Network], ... or [Socket]`.
pub fn section_list(last: &str) -> String {
    let n = KINDS.len();
    let mut out = String::new();
    for (i, k) in KINDS.iter().enumerate() {
        if i + 1 == n {
            out.push_str(last);
        } else if i > 0 {
            out.push_str(", ");
        }
        out.push('[');
        out.push_str(k.section);
        out.push(']');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_in_enum_order() {
        assert_eq!(KINDS.len(), SourceKind::ALL.len());
        for (i, k) in KINDS.iter().enumerate() {
            assert_eq!(k.kind as usize, i, "{}", k.extension);
            assert_eq!(SourceKind::ALL[i], k.kind);
            assert!(k.sections.contains(&k.section));
            assert_eq!(SourceKind::from_section(k.section), Some(k.kind));
        }
    }

    #[test]
    fn unit_names_and_lists() {
        assert_eq!(unit_name_for(SourceKind::Container, "web"), "web.service");
        assert_eq!(
            unit_name_for(SourceKind::Network, "n@"),
            "n-network@.service"
        );
        assert_eq!(
            unit_name_for(SourceKind::Volume, "v@i"),
            "v-volume@i.service"
        );
        assert_eq!(
            extension_list(" or "),
            ".container, .network, .volume, .image, .pod, .build, .kube, .artifact or .socket"
        );
        assert!(section_list(" or ").ends_with(", [Kube] or [Artifact]"));
    }
}

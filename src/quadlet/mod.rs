//! Translation of quadlet-compatible sources (all eight types of quadlet 5.8: `.container`,
//! `.network`, `.volume`, `.image`, `.build`, `.pod`, `.kube`, `.artifact`) and of
//! `.socket` files into systemd user units, with quadlet 5.8's semantics.
//!
//! Each kind has one row in [`KINDS`] (`kinds.rs`: extension, sections, unit-name rule,
//! key set, translate fn) and one file with its translation; `values.rs` reads values the
//! way quadlet's parser does. Sections the translation does not own (`[Unit]`,
//! `[Service]`, `[Install]`, ...) pass through; the source section itself is kept as
//! `[X-Container]`, `[X-Network]`, ... `[X-Artifact]`, as quadlet does.

pub mod artifact;
pub mod build;
pub mod container;
pub mod defaults;
pub mod image;
mod install;
mod keys;
mod kinds;
pub mod kube;
pub mod network;
pub(crate) mod options;
mod paths;
pub mod pod;
pub(crate) mod refs;
mod service;
pub mod socket;
pub mod values;
pub mod volume;

use crate::error::SourceError;
use crate::unit::{valid_unit_name, Entry, UnitFile};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub use defaults::Defaults;
pub use keys::known_key;
pub(crate) use keys::KeySet;
pub use kinds::{KindInfo, KINDS};

/// The unit the generated services want and order after (from `units/`).
pub use crate::env::WAIT_UNIT;

/// Kinds of source files rootlet reads. Each has one row in [`KINDS`] (`kinds.rs`), which
/// says everything else about it: extension, section, unit name, keys, translation.
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

impl SourceKind {
    /// Its row of [`KINDS`].
    pub fn info(self) -> &'static KindInfo {
        // The table is in enum order (checked by a test).
        &KINDS[self as usize]
    }

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
}

/// One parsed source file.
#[derive(Debug, Clone)]
pub struct Source {
    /// Where it was read from (as found on the search path, not canonicalised).
    pub path: PathBuf,
    /// File name, e.g. `web.container`.
    pub name: String,
    pub kind: SourceKind,
    pub file: UnitFile,
}

impl Source {
    /// The file name without its extension.
    pub fn stem(&self) -> &str {
        self.name
            .rsplit_once('.')
            .map(|(s, _)| s)
            .unwrap_or(&self.name)
    }

    /// The name of the unit this source becomes: `ServiceName=` + `.service` if the
    /// source's section sets it (quadlet 5.8), else [`unit_name_for`] its file name.
    pub fn unit_name(&self) -> String {
        if self.kind.info().service_name {
            let own = self
                .file
                .sections
                .iter()
                .filter(|s| s.name == self.kind.section())
                .flat_map(|s| s.entries.iter().rev().find(|e| e.key == "ServiceName"))
                .last();
            if let Some(e) = own {
                return concat(&[values::unquote(&e.value), ".service"]);
            }
        }
        unit_name_for(self.kind, self.stem())
    }

    pub fn err(&self, line: usize, msg: impl Into<String>) -> SourceError {
        SourceError::new(&self.path, line, msg)
    }
}

/// `X.container` -> `X.service`, `X.network` -> `X-network.service`, `X.socket` -> `X.socket`;
/// templates keep their `@` (`X@.network` -> `X-network@.service`).
pub fn unit_name_for(kind: SourceKind, stem: &str) -> String {
    let info = kind.info();
    match (info.unit_infix, stem.split_once('@')) {
        ("", _) => concat(&[stem, ".", info.unit_type]),
        (infix, Some((p, i))) => concat(&[p, infix, "@", i, ".", info.unit_type]),
        (infix, None) => concat(&[stem, infix, ".", info.unit_type]),
    }
}

/// The parts, joined, in one allocation (`format!` costs more on hot paths).
pub(crate) fn concat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// One symlink in the output directory: `path` (relative) -> `target`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Link {
    pub path: String,
    pub target: String,
}

/// A generated unit with the install symlinks that point at it.
#[derive(Debug, Clone)]
pub struct Generated {
    pub name: String,
    pub file: UnitFile,
    pub links: Vec<Link>,
    /// What quadlet warns about in the source: reported, the unit is still made.
    pub warnings: Vec<SourceError>,
}

impl Generated {
    /// The unit text, with rootlet's header.
    pub fn text(&self) -> String {
        let mut out = String::with_capacity(2048);
        self.text_into(&mut out);
        out
    }

    /// [`Generated::text`] appended to `out`.
    pub fn text_into(&self, out: &mut String) {
        out.push_str("# Automatically generated by rootlet-user-generator\n#\n");
        self.file.write_into(out);
    }
}

/// Reads a source of the run by file name (see [`Context::load`]).
pub type LoadSource<'a> = &'a (dyn Fn(&str) -> Option<Result<Source, SourceError>> + Sync);

/// What a translation may look up: the other sources of this run and the settings.
pub struct Context<'a> {
    pub podman: &'a str,
    /// The version of `podman`, found only if a source asks.
    pub podman_version: &'a crate::podman::Lazy,
    pub defaults: &'a Defaults,
    /// Sources by file name (`db.network`), for references between them (networks,
    /// volumes and sockets at least: containers may be missing, see `load`).
    pub sources: &'a BTreeMap<String, &'a Source>,
    /// Socket units that activate a given generated service: service name -> socket names.
    pub sockets_for: &'a BTreeMap<String, Vec<String>>,
    /// Reads a source of this run by file name when `sources` does not hold it (the
    /// generator reads containers only in the thread that translates them): `None` when
    /// there is no such source. Used for the rare references to containers
    /// (`Network=db.container`, `Requires=db.container`).
    pub load: Option<LoadSource<'a>>,
    /// The containers that start with each pod ([`pod::members`]): `.pod` file name ->
    /// container units. The generator fills it only when the run has `.pod` files.
    pub pod_members: &'a BTreeMap<String, Vec<String>>,
}

/// A podman feature a source uses, for [`Context::require`]: `what` needs it, `how` (the
/// podman command or flag, may be empty), `instead` (the way out, may be empty).
pub(crate) struct Feature<'a> {
    pub version: crate::podman::Version,
    pub what: &'a str,
    pub how: &'a str,
    pub instead: &'a str,
}

impl Context<'_> {
    /// `Err` naming `e` of `src` when the podman of this run is older than `f.version`:
    /// `KEY: WHAT needs podman V or newer (HOW), podman is V': INSTEAD`. podman is asked
    /// its version only here, when a source uses the feature: the one podman version gate.
    pub(crate) fn require(&self, src: &Source, e: &Entry, f: Feature) -> Result<(), SourceError> {
        let need = f.version;
        match self.podman_version.get() {
            Some(have) if have < need => {
                let how = if f.how.is_empty() {
                    String::new()
                } else {
                    concat(&[" (", f.how, ")"])
                };
                let instead = if f.instead.is_empty() {
                    String::new()
                } else {
                    concat(&[": ", f.instead])
                };
                Err(src.err(
                    e.line,
                    format!(
                        "{}: {} needs podman {need} or newer{how}, podman is {have}{instead}",
                        e.key, f.what
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The source `name` of this run, if there is one (read now if need be).
    pub(crate) fn find(
        &self,
        name: &str,
    ) -> Option<Result<std::borrow::Cow<'_, Source>, SourceError>> {
        if let Some(s) = self.sources.get(name) {
            return Some(Ok(std::borrow::Cow::Borrowed(*s)));
        }
        Some((self.load?)(name)?.map(std::borrow::Cow::Owned))
    }
}

/// Translate one source. Errors name the file and line; nothing is produced on error.
pub fn translate(src: &Source, ctx: &Context) -> Result<Generated, SourceError> {
    check_sections(src)?;
    let name = src.unit_name();
    if !valid_unit_name(&name) {
        return Err(src.err(0, format!("`{name}` is not a valid systemd unit name")));
    }
    let mut g = (src.kind.info().translate)(src, ctx, name)?;
    g.links = install::links(src, &g.name, &src.file)?;
    if src.kind != SourceKind::Socket {
        service_key_warnings(src, &mut g.warnings);
    }
    Ok(g)
}

/// quadlet 5.8 warns about `[Service]` keys that break podman's rootless set-up.
fn service_key_warnings(src: &Source, warnings: &mut Vec<SourceError>) {
    for s in src.file.sections.iter().filter(|s| s.name == "Service") {
        for e in &s.entries {
            if matches!(&*e.key, "User" | "Group" | "DynamicUser") {
                warnings.push(src.err(
                    e.line,
                    format!(
                        "{}= in [Service] is not supported by podman (quadlet warns too): use at your own risk",
                        e.key
                    ),
                ));
            }
        }
    }
}

/// `[Quadlet]` is ours; rootlet rejects the source-section keys of other kinds.
fn check_sections(src: &Source) -> Result<(), SourceError> {
    let info = src.kind.info();
    let allowed = info.sections;
    for s in &src.file.sections {
        if !allowed.contains(&s.name.as_str()) && !s.name.starts_with("X-") {
            let hint = match crate::error::suggest(&s.name, allowed) {
                Some(k) => format!("; did you mean [{k}]?"),
                None => format!(
                    " in a .{} file (allowed: {}, and X-* sections)",
                    src.kind.extension(),
                    allowed
                        .iter()
                        .map(|a| format!("[{a}]"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            };
            return Err(src.err(s.line, format!("unknown section [{}]{hint}", s.name)));
        }
        if s.name == "Quadlet" {
            for e in &s.entries {
                if e.key != "DefaultDependencies" {
                    return Err(unknown_key(src, "Quadlet", e, &["DefaultDependencies"]));
                }
            }
        }
        if s.name == info.section && src.kind != SourceKind::Socket {
            let known = info.key_set();
            for e in &s.entries {
                if known.get(&e.key).is_none() {
                    return Err(unknown_key(src, info.section, e, info.keys));
                }
            }
        }
    }
    Ok(())
}

/// `[Quadlet] DefaultDependencies=` (default true).
pub fn default_dependencies(src: &Source) -> Result<bool, SourceError> {
    match src
        .file
        .section("Quadlet")
        .and_then(|s| s.last("DefaultDependencies"))
    {
        Some(e) => values::boolean(src, e),
        None => Ok(true),
    }
}

pub(crate) fn unknown_key(src: &Source, section: &str, e: &Entry, known: &[&str]) -> SourceError {
    let hint = match crate::error::suggest(&e.key, known) {
        Some(k) => format!("; did you mean `{k}`?"),
        None => String::new(),
    };
    src.err(
        e.line,
        format!("unknown key `{}` in [{section}]{hint}", e.key),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Translate `files` (name, text) as one run; `(unit name -> unit text, warnings,
    /// errors)`.
    fn run(files: &[(&str, &str)]) -> (BTreeMap<String, String>, Vec<String>, Vec<String>) {
        let sources: Vec<Source> = files
            .iter()
            .map(|(name, text)| {
                let (kind, _) = SourceKind::from_file_name(name).unwrap();
                Source {
                    path: PathBuf::from(format!("/q/{name}")),
                    name: (*name).to_owned(),
                    kind,
                    file: UnitFile::parse(text).unwrap(),
                }
            })
            .collect();
        let by_name: BTreeMap<String, &Source> =
            sources.iter().map(|s| (s.name.clone(), s)).collect();
        let defaults = Defaults::default();
        let none = BTreeMap::new();
        let newest = crate::podman::Lazy::new("/usr/bin/podman", crate::podman::Target::Newest);
        let members = pod::members(sources.iter(), Vec::new());
        let ctx = Context {
            podman: "/usr/bin/podman",
            podman_version: &newest,
            defaults: &defaults,
            sources: &by_name,
            sockets_for: &none,
            load: None,
            pod_members: &members,
        };
        let (mut units, mut warnings, mut errors) = (BTreeMap::new(), Vec::new(), Vec::new());
        for s in &sources {
            match translate(s, &ctx) {
                Ok(g) => {
                    warnings.extend(g.warnings.iter().map(ToString::to_string));
                    units.insert(g.name.clone(), g.text());
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        (units, warnings, errors)
    }

    #[test]
    fn warnings_where_quadlet_warns() {
        let (units, warnings, errors) = run(&[
            (
                "a.container",
                "[Container]\nImage=shortname\nExec=/bin/echo \\q\nLabel=x=1 bad=\\q\n[Service]\nUser=me\n",
            ),
            ("b.volume", "[Volume]\n[Service]\nDynamicUser=yes\n"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        let has = |w: &str| warnings.iter().any(|x| x.contains(w));
        assert!(has(
            "/q/a.container:2: Image: `shortname` is not a fully qualified"
        ));
        assert!(has("/q/a.container:3: Exec: unsupported escape char"));
        assert!(has("/q/a.container:4: Label: unsupported escape char"));
        assert!(has("/q/a.container:6: User= in [Service]"));
        assert!(has("/q/b.volume:3: DynamicUser= in [Service]"));
        // The unit is still made, without what could not be read.
        let a = &units["a.service"];
        assert!(a.contains("-d shortname\n"), "{a}");
        assert!(!a.contains("--label"), "{a}");
    }

    #[test]
    fn unclosed_quote_is_taken_as_closed_with_a_warning() {
        let (units, warnings, _) = run(&[(
            "a.container",
            "[Container]\nImage=docker.io/x\nExec=/bin/sh -c \"echo hi\n",
        )]);
        assert!(units["a.service"].contains(r#"docker.io/x /bin/sh -c "echo hi""#));
        assert!(warnings.iter().any(|w| w.contains("unbalanced \" quote")));
    }

    #[test]
    fn references_to_untranslated_kinds_and_missing_sources_are_errors() {
        let (_, _, errors) = run(&[
            (
                "a.container",
                "[Unit]\nAfter=x.kube\n[Container]\nImage=docker.io/x\n",
            ),
            (
                "b.container",
                "[Unit]\nWants=gone.network\n[Container]\nImage=docker.io/x\n",
            ),
            ("c.volume", "[Volume]\nDriver=image\nImage=x.build\n"),
        ]);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("/q/a.container:2: After: `x.kube` names no .kube file"));
        assert!(errors[1].starts_with("/q/b.container:2: Wants: `gone.network` names no .network"));
        assert!(errors[2].starts_with("/q/c.volume:3: Image: `x.build` names no .build file"));
    }

    #[test]
    fn known_keys_are_shared_not_allocated() {
        use std::borrow::Cow;
        let f = UnitFile::parse_bytes_with(
            b"[Container]\nImage=x\nPublishPort=1:1\nMyOwnKey=y\n[Install]\nWantedBy=a\n",
            &known_key,
        )
        .unwrap();
        let borrowed: Vec<bool> = f
            .sections
            .iter()
            .flat_map(|s| &s.entries)
            .map(|e| matches!(e.key, Cow::Borrowed(_)))
            .collect();
        assert_eq!(borrowed, [true, true, false, true]);
        assert_eq!(known_key("Image"), Some("Image"));
        assert_eq!(known_key("image"), None);
    }

    #[test]
    fn unit_names() {
        assert_eq!(unit_name_for(SourceKind::Container, "web"), "web.service");
        assert_eq!(
            unit_name_for(SourceKind::Network, "net"),
            "net-network.service"
        );
        assert_eq!(
            unit_name_for(SourceKind::Network, "n@"),
            "n-network@.service"
        );
    }
}

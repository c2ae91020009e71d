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
mod health;
pub mod image;
mod kinds;
pub mod kube;
pub mod network;
pub mod pod;
pub mod socket;
pub mod values;
pub mod volume;

use crate::error::SourceError;
use crate::unit::{Entry, Section, UnitFile};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use defaults::Defaults;
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
        // A kind with a row but still listed as unsupported is not read yet.
        if UNSUPPORTED_EXTENSIONS.contains(&ext) {
            return None;
        }
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

/// Extensions quadlet reads that rootlet does not translate (yet): reported, not dropped
/// silently; a reference to one of them is an error. Empty: rootlet translates all eight
/// types of quadlet 5.8; a type a later quadlet adds goes here until it is translated.
pub const UNSUPPORTED_EXTENSIONS: &[&str] = &[];

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

/// The name quadlet gives the unit of a source of a kind rootlet does not translate
/// (`X.pod` -> `X-pod.service`), for messages.
fn foreign_unit_name(ext: &str, stem: &str) -> String {
    match ext {
        "kube" => concat(&[stem, ".service"]),
        _ => concat(&[stem, "-", ext, ".service"]),
    }
}

/// `[Unit]` keys that name other units.
const DEP_KEYS: &[&str] = &[
    "Wants",
    "Requires",
    "Requisite",
    "BindsTo",
    "PartOf",
    "Upholds",
    "Conflicts",
    "Before",
    "After",
    "OnFailure",
    "OnSuccess",
    "PropagatesReloadTo",
    "ReloadPropagatedFrom",
    "PropagatesStopTo",
    "StopPropagatedFrom",
    "JoinsNamespaceOf",
];

/// Keys of `[Unit]`, `[Service]` and `[Install]` that sources commonly hold or rootlet
/// writes, besides those of the source kinds' own sections.
const COMMON_KEYS: &[&str] = &[
    "Description",
    "Documentation",
    "SourcePath",
    "RequiresMountsFor",
    "StartLimitIntervalSec",
    "StartLimitBurst",
    "Type",
    "Restart",
    "RestartSec",
    "TimeoutStartSec",
    "TimeoutStopSec",
    "Environment",
    "ExecStartPre",
    "ExecStartPost",
    "ExecReload",
    "KillMode",
    "Delegate",
    "NotifyAccess",
    "SyslogIdentifier",
    "WantedBy",
    "RequiredBy",
    "UpheldBy",
    "Alias",
    "DefaultInstance",
    "DefaultDependencies",
    "Service",
    "Accept",
];

/// The static copy of `key` if it is one translation reads or writes: sources parsed with
/// it ([`UnitFile::parse_bytes_with`]) share those keys instead of allocating each.
pub fn known_key(key: &str) -> Option<&'static str> {
    static KNOWN: std::sync::OnceLock<KeySet> = std::sync::OnceLock::new();
    KNOWN
        .get_or_init(|| {
            KeySet::new(
                KINDS
                    .iter()
                    .flat_map(|k| k.keys.iter().copied())
                    .chain(socket::LISTEN_KEYS.iter().copied())
                    .chain(DEP_KEYS.iter().copied())
                    .chain(COMMON_KEYS.iter().copied()),
            )
        })
        .get(key)
}

/// A fixed set of key names, sorted once for binary search (by length first, so that most
/// comparisons end before the bytes are looked at).
pub(crate) struct KeySet(Vec<&'static str>);

impl KeySet {
    pub(crate) fn new(keys: impl IntoIterator<Item = &'static str>) -> KeySet {
        let mut k: Vec<&'static str> = keys.into_iter().collect();
        k.sort_unstable_by_key(|k| (k.len(), *k));
        k.dedup();
        KeySet(k)
    }

    /// The set's own copy of `key`, if it has it.
    pub(crate) fn get(&self, key: &str) -> Option<&'static str> {
        let i = self
            .0
            .binary_search_by_key(&(key.len(), key), |k| (k.len(), *k))
            .ok()?;
        Some(self.0[i])
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

const UNIT_NAME_MAX: usize = 255;

fn valid_name_chars(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_' | b'.' | b'\\'))
}

/// Whether systemd would accept `name` as a unit name (plain, template or instance).
pub fn valid_unit_name(name: &str) -> bool {
    // A leading dot would make a hidden file that no one finds by listing the directory.
    if name.is_empty() || name.len() > UNIT_NAME_MAX || name.starts_with('.') {
        return false;
    }
    let Some((stem, suffix)) = name.rsplit_once('.') else {
        return false;
    };
    if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    match stem.split_once('@') {
        None => !stem.is_empty() && valid_name_chars(stem),
        Some((prefix, inst)) => {
            !prefix.is_empty()
                && valid_name_chars(prefix)
                && !inst.contains('@')
                && valid_name_chars(inst)
        }
    }
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

impl Context<'_> {
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
    g.links = install_links(src, &g.name, &src.file)?;
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
                if let Some((_, why)) = info.refused.iter().find(|(k, _)| *k == e.key) {
                    return Err(src.err(e.line, *why));
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

/// Start a generated unit from the source: all sections copied, the source section and
/// `[Quadlet]` renamed `[X-Kind]` / `[X-Quadlet]` (systemd ignores `X-` sections).
pub(crate) fn base_unit(src: &Source) -> UnitFile {
    let own = src.kind.section();
    let mut out = UnitFile::default();
    for s in &src.file.sections {
        let mut s = s.clone();
        if s.name == own || s.name == "Quadlet" {
            s.name = format!("X-{}", s.name);
        }
        if s.name == "Install" {
            // systemd 252 does not know UpheldBy= in [Install]: the symlink says it.
            s.entries.retain(|e| e.key != "UpheldBy");
        }
        out.sections.push(s);
    }
    out
}

/// The start of every generated service: [`base_unit`], the wait unit (unless
/// `[Quadlet] DefaultDependencies=false` or `wait` is false: see [`needs_network`]),
/// `SourcePath=` and `RequiresMountsFor=%t/containers`.
pub(crate) fn service_unit(src: &Source, wait: bool) -> Result<UnitFile, SourceError> {
    let mut file = base_unit(src);
    let wait = wait && default_dependencies(src)?;
    let unit = file.section_mut("Unit");
    if wait {
        prepend(unit, &[("Wants", WAIT_UNIT), ("After", WAIT_UNIT)]);
    }
    unit.add(
        "SourcePath",
        container::escape_specifiers(&src.path.to_string_lossy()),
    );
    unit.add("RequiresMountsFor", "%t/containers");
    Ok(file)
}

/// Whether a unit must wait for the network: `uses` says whether anything it does may
/// reach the network. rootlet's rule (README, "Waiting where the network is needed"): a
/// container waits unless nothing in it can reach the network: only `Network=none`,
/// and an image that cannot need a pull (`Rootfs=`, `Pull=never`); `Network=none` alone
/// still pulls, and a `Rootfs=` container with a network needs the interface podman's
/// rootless network (pasta, slirp4netns) attaches to. A network or volume oneshot does
/// local work and waits only when it pulls an image (`[Volume] Driver=image`).
pub(crate) fn needs_network(uses: bool) -> bool {
    uses
}

/// The end of every generated service: restart defaults, references to other sources
/// named by their units, sections in order.
pub(crate) fn finish(
    src: &Source,
    ctx: &Context,
    mut file: UnitFile,
    name: String,
    mut warnings: Vec<SourceError>,
) -> Result<Generated, SourceError> {
    for (line, why) in ctx.defaults.apply(&mut file) {
        warnings.push(src.err(line, why));
    }
    translate_references(src, ctx, &mut file)?;
    order_sections(&mut file);
    Ok(Generated {
        name,
        file,
        links: Vec::new(),
        warnings,
    })
}

/// What a oneshot service that creates a podman resource (`podman network create`,
/// `podman volume create`) is made of.
pub(crate) struct Oneshot {
    /// The command: `argv[0]` is written literally, the rest as the source wrote it.
    pub argv: Vec<String>,
    pub stop_post: Option<Vec<String>>,
    /// It pulls an image ([`needs_network`]).
    pub pulls: bool,
    /// `Requires=`/`After=` units (a `.volume`'s `Image=X.image`), `RequiresMountsFor=`
    /// paths.
    pub deps: Vec<String>,
    pub mounts_for: Vec<String>,
    pub warnings: Vec<SourceError>,
}

/// A oneshot service that creates a podman resource and stays active.
pub(crate) fn oneshot_create(
    src: &Source,
    ctx: &Context,
    o: Oneshot,
    name: String,
) -> Result<Generated, SourceError> {
    oneshot_create_with(src, ctx, o, name, true)
}

/// [`oneshot_create`]; `remain`: it stays active after its command (`RemainAfterExit=yes`
/// unless the source says otherwise). A `.build` does not (quadlet's), so every start of a
/// unit that requires it runs it again.
pub(crate) fn oneshot_create_with(
    src: &Source,
    ctx: &Context,
    o: Oneshot,
    name: String,
    remain: bool,
) -> Result<Generated, SourceError> {
    let mut file = service_unit(src, needs_network(o.pulls))?;
    let unit = file.section_mut("Unit");
    for p in &o.mounts_for {
        unit.add("RequiresMountsFor", mount_path_value(p));
    }
    for d in &o.deps {
        unit.add("Requires", d.clone());
        unit.add("After", d.clone());
    }
    let svc = file.section_mut("Service");
    svc.add(
        "ExecStart",
        crate::exec::command_line(
            o.argv.first().map_or(ctx.podman, String::as_str),
            o.argv.get(1..).unwrap_or(&[]),
        ),
    );
    if let Some(s) = o.stop_post {
        svc.add(
            "ExecStopPost",
            crate::exec::command_line(ctx.podman, s.get(1..).unwrap_or(&[])),
        );
    }
    for (k, v) in [
        ("Type", "oneshot"),
        ("RemainAfterExit", "yes"),
        ("SyslogIdentifier", "%N"),
    ] {
        if !svc.has(k) && (remain || k != "RemainAfterExit") {
            svc.add(k, v);
        }
    }
    finish(src, ctx, file, name, o.warnings)
}

/// What a oneshot `podman X pull` (an `.image`'s, an `.artifact`'s) is made of: the
/// subcommand, the source's flag tables ([`values::flags`]) and what it pulls.
pub(crate) struct Pull<'a> {
    pub command: [&'static str; 2],
    pub strings: &'a [(&'a str, &'a str)],
    pub bools: &'a [(&'a str, &'a str)],
    pub what: &'a str,
}

/// A oneshot service that pulls and stays active; it waits for the network, as a
/// container does.
pub(crate) fn pull_unit(
    src: &Source,
    ctx: &Context,
    sec: &crate::unit::Index,
    p: Pull,
    mut warnings: Vec<SourceError>,
    name: String,
) -> Result<Generated, SourceError> {
    let mut a = vec![ctx.podman.to_owned()];
    a.extend(values::global_args(src, ctx, sec, &mut warnings)?);
    a.extend(p.command.map(str::to_owned));
    values::flags(src, sec, p.strings, p.bools, &mut a)?;
    a.extend(values::podman_args(src, sec, &mut warnings));
    a.push(p.what.to_owned());
    oneshot_create(
        src,
        ctx,
        Oneshot {
            argv: a,
            stop_post: None,
            pulls: true,
            deps: Vec::new(),
            mounts_for: Vec::new(),
            warnings,
        },
        name,
    )
}

/// A `RequiresMountsFor=` value systemd reads as this one path. systemd 252 splits the
/// value into words with quotes removed but no C escapes (quadlet's `\x20` would become
/// `x20`), so a path with whitespace, quotes or backslashes is double-quoted with `\\`
/// and `\"` (which newer systemd, applying C escapes, reads the same way). `%` is left
/// as it is: the paths come from the source, where it already is a specifier or `%%`.
pub(crate) fn mount_path_value(p: &str) -> String {
    if !p
        .bytes()
        .any(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'\\'))
    {
        return p.to_owned();
    }
    let mut out = String::with_capacity(p.len() + 4);
    out.push('"');
    for c in p.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Insert entries at the front of a section (quadlet prepends its Wants/After pair so that
/// a user's `After=` reset later in `[Unit]` still clears it).
pub(crate) fn prepend(section: &mut Section, entries: &[(&'static str, &str)]) {
    let new: Vec<Entry> = entries
        .iter()
        .map(|(k, v)| Entry {
            key: (*k).into(),
            value: (*v).to_owned(),
            line: 0,
        })
        .collect();
    section.entries.splice(0..0, new);
}

/// Put `[Unit]` first and `[Service]` right after it (for readability); the others keep
/// their order.
pub(crate) fn order_sections(file: &mut UnitFile) {
    let rank = |n: &str| match n {
        "Unit" => 0,
        "Service" | "Socket" => 1,
        _ => 2,
    };
    file.sections.sort_by_key(|s| rank(&s.name));
}

/// The words of an `[Install]` list entry, split as quadlet splits them (`LookupAllStrv`).
fn install_words(src: &Source, e: &Entry) -> Result<Vec<String>, SourceError> {
    values::split(&e.value, values::Split::Strv)
        .map_err(|why| src.err(e.line, format!("{}: {why}", e.key)))
}

/// The `[Install]` section becomes symlinks: generated units cannot be enabled.
fn install_links(src: &Source, unit: &str, file: &UnitFile) -> Result<Vec<Link>, SourceError> {
    let Some(install) = file.section("Install") else {
        return Ok(Vec::new());
    };
    let mut links = Vec::new();
    // A template (`X@.service`) is linked as an instance: `[Install] DefaultInstance=`
    // names it, as `systemctl enable` does; without one nothing is linked.
    let link_name = match unit.split_once("@.") {
        Some((prefix, suffix)) => {
            let Some(e) = install
                .last("DefaultInstance")
                .filter(|e| !e.value.is_empty())
            else {
                return Ok(Vec::new());
            };
            let name = format!("{prefix}@{}.{suffix}", e.value);
            if !valid_unit_name(&name) {
                return Err(src.err(
                    e.line,
                    format!("DefaultInstance: `{name}` is not a valid unit name"),
                ));
            }
            name
        }
        None => unit.to_owned(),
    };
    for (key, dir_suffix) in [
        ("WantedBy", ".wants"),
        ("RequiredBy", ".requires"),
        ("UpheldBy", ".upholds"),
    ] {
        for e in install.list(key) {
            for target in install_words(src, e)? {
                if !valid_unit_name(&target) {
                    return Err(src.err(
                        e.line,
                        format!("{key}: `{target}` is not a valid unit name"),
                    ));
                }
                links.push(Link {
                    path: concat(&[&target, dir_suffix, "/", &link_name]),
                    target: concat(&["../", unit]),
                });
            }
        }
    }
    let suffix = unit.rsplit_once('.').map(|(_, s)| s).unwrap_or("");
    for e in install.list("Alias") {
        for alias in install_words(src, e)? {
            if !valid_unit_name(&alias) || !alias.ends_with(&format!(".{suffix}")) {
                return Err(src.err(
                    e.line,
                    format!("Alias: `{alias}` is not a valid .{suffix} unit name"),
                ));
            }
            links.push(Link {
                path: alias,
                target: unit.to_owned(),
            });
        }
    }
    links.sort();
    links.dedup();
    Ok(links)
}

/// Absolute host path for a user-written path: relative ones are taken against the source
/// file's directory and cleaned (`./src/` -> `DIR/src`), as quadlet does; `%` specifiers
/// and `~` are left to systemd/podman.
pub(crate) fn host_path(src: &Source, p: &str) -> String {
    if p.starts_with('/') || (p.starts_with('%') && !p.starts_with("%%")) || p.starts_with('~') {
        return p.to_owned();
    }
    let dir = src.path.parent().unwrap_or(Path::new("/"));
    // The directory is literal text: a `%` in it must not read as a specifier.
    let dir = dir.to_string_lossy().replace('%', "%%");
    clean_path(&concat(&[&dir, "/", p]))
}

/// Lexical clean of an absolute path (Go's `filepath.Clean`): no `//`, `.`, `..` or
/// trailing `/`.
pub(crate) fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = String::with_capacity(p.len());
    for c in &parts {
        out.push('/');
        out.push_str(c);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// `KEY=X.ext` in `src` naming a source that makes something other sources use (an image,
/// a build's image, an artifact): what `name_of` reads from it, and its unit (to be
/// required and ordered after). `Ok(None)` when `value` names no `.ext` file; an error
/// naming the key when the file is missing, unreadable or names nothing (`nothing`: what
/// it lacks, "no image (it has no Image=)"), where quadlet would pass text to podman.
pub(crate) fn resolve_source(
    src: &Source,
    ctx: &Context,
    e: &Entry,
    value: &str,
    kind: SourceKind,
    name_of: fn(&Source) -> Option<String>,
    nothing: &str,
) -> Result<Option<(String, String)>, SourceError> {
    let ext = kind.extension();
    if !value.rsplit_once('.').is_some_and(|(_, x)| x == ext) {
        return Ok(None);
    }
    let found = match ctx.find(value) {
        Some(Ok(s)) => s,
        Some(Err(err)) => {
            return Err(src.err(
                e.line,
                format!("{}: `{value}` cannot be read: {err}", e.key),
            ))
        }
        None => {
            return Err(src.err(
                e.line,
                format!(
                    "{}: `{value}` names no .{ext} file on the search path",
                    e.key
                ),
            ))
        }
    };
    match name_of(&found) {
        Some(name) => Ok(Some((name, found.unit_name()))),
        None => Err(src.err(e.line, format!("{}: `{value}` names {nothing}", e.key))),
    }
}

/// The unit of a referenced source file (`db.container`, `net.network`) for `key` of
/// `e`: the source must exist in this run, and be of a kind rootlet translates. `Ok(None)`
/// when `word` names no source file at all (a plain unit name).
pub(crate) fn reference_unit(
    src: &Source,
    ctx: &Context,
    e: &Entry,
    word: &str,
) -> Result<Option<String>, SourceError> {
    let Some((stem, ext)) = word.rsplit_once('.') else {
        return Ok(None);
    };
    if UNSUPPORTED_EXTENSIONS.contains(&ext) {
        return Err(src.err(
            e.line,
            format!(
                "{}: `{word}` is a .{ext} file, which rootlet does not translate yet (quadlet would use {}); \
                 name a unit instead",
                e.key,
                foreign_unit_name(ext, stem)
            ),
        ));
    }
    match SourceKind::from_file_name(word) {
        Some((k, _)) if k != SourceKind::Socket => match ctx.find(word) {
            Some(Ok(s)) => Ok(Some(s.unit_name())),
            // It exists (its own error is reported with it): named by the file-name rule.
            Some(Err(_)) => Ok(Some(unit_name_for(k, stem))),
            None => Err(src.err(
                e.line,
                format!(
                    "{}: `{word}` names no .{} file on the search path",
                    e.key,
                    k.extension()
                ),
            )),
        },
        _ => Ok(None),
    }
}

/// `[Unit]` dependencies on other sources (`Requires=db.container`, `After=net.network`)
/// name the units those sources become; a source that does not exist is an error, as in
/// quadlet 5.8, and so is one of a kind rootlet does not translate.
pub(crate) fn translate_references(
    src: &Source,
    ctx: &Context,
    file: &mut UnitFile,
) -> Result<(), SourceError> {
    let Some(unit) = file.sections.iter_mut().find(|s| s.name == "Unit") else {
        return Ok(());
    };
    for e in unit
        .entries
        .iter_mut()
        .filter(|e| DEP_KEYS.contains(&&*e.key))
    {
        // Most values name plain units: nothing to look up.
        if !e.value.contains('.')
            || !e.value.split_whitespace().any(|w| {
                w.rsplit_once('.').is_some_and(|(_, x)| {
                    UNSUPPORTED_EXTENSIONS.contains(&x)
                        || matches!(SourceKind::from_file_name(w), Some((k, _)) if k != SourceKind::Socket)
                })
            })
        {
            continue;
        }
        let mut mapped: Vec<String> = Vec::new();
        for w in e.value.split_whitespace() {
            mapped.push(reference_unit(src, ctx, e, w)?.unwrap_or_else(|| w.to_owned()));
        }
        e.value = mapped.join(" ");
    }
    Ok(())
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
        assert!(valid_unit_name("web.service"));
        assert!(valid_unit_name("a@.service"));
        assert!(valid_unit_name("a@b.service"));
        assert!(!valid_unit_name("@b.service"));
        assert!(!valid_unit_name("a b.service"));
        assert!(!valid_unit_name("../x.service"));
        assert!(!valid_unit_name(".service"));
        assert!(!valid_unit_name(&format!("{}.service", "a".repeat(250))));
    }
}

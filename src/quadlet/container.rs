//! `X.container` -> `X.service`: `podman run` the way quadlet 5.8 does (its
//! `ConvertContainer`, argument for argument and in its order), plus rootlet's wait unit,
//! restart defaults and socket wiring.

use super::values::{self, boolean, last, single, unquote, Split};
use super::{host_path, Context, Generated, Source};
use crate::error::SourceError;
use crate::exec;
use crate::unit::{Entry, Index};
use std::borrow::Cow;

/// Every key of quadlet 5.8's `[Container]` (deprecated ones included).
pub(crate) const KEYS: &[&str] = &[
    "AddCapability",
    "AddDevice",
    "AddHost",
    "Annotation",
    "AppArmor",
    "AutoUpdate",
    "CgroupsMode",
    "ContainerName",
    "ContainersConfModule",
    "DNS",
    "DNSOption",
    "DNSSearch",
    "DropCapability",
    "Entrypoint",
    "Environment",
    "EnvironmentFile",
    "EnvironmentHost",
    "Exec",
    "ExposeHostPort",
    "GIDMap",
    "GlobalArgs",
    "Group",
    "GroupAdd",
    "HealthCmd",
    "HealthInterval",
    "HealthLogDestination",
    "HealthMaxLogCount",
    "HealthMaxLogSize",
    "HealthOnFailure",
    "HealthRetries",
    "HealthStartPeriod",
    "HealthStartupCmd",
    "HealthStartupInterval",
    "HealthStartupRetries",
    "HealthStartupSuccess",
    "HealthStartupTimeout",
    "HealthTimeout",
    "HostName",
    "HttpProxy",
    "IP",
    "IP6",
    "Image",
    "Label",
    "LogDriver",
    "LogOpt",
    "Mask",
    "Memory",
    "Mount",
    "Network",
    "NetworkAlias",
    "NoNewPrivileges",
    "Notify",
    "PidsLimit",
    "Pod",
    "PodmanArgs",
    "PublishPort",
    "Pull",
    "ReadOnly",
    "ReadOnlyTmpfs",
    "ReloadCmd",
    "ReloadSignal",
    "RemapGid",
    "RemapUid",
    "RemapUidSize",
    "RemapUsers",
    "Retry",
    "RetryDelay",
    "Rootfs",
    "RunInit",
    "SeccompProfile",
    "Secret",
    "SecurityLabelDisable",
    "SecurityLabelFileType",
    "SecurityLabelLevel",
    "SecurityLabelNested",
    "SecurityLabelType",
    "ServiceName",
    "ShmSize",
    "StartWithPod",
    "StopSignal",
    "StopTimeout",
    "SubGIDMap",
    "SubUIDMap",
    "Sysctl",
    "Timezone",
    "Tmpfs",
    "UIDMap",
    "Ulimit",
    "Unmask",
    "User",
    "UserNS",
    "VolatileTmp",
    "Volume",
    "WorkingDir",
];

/// Keys of quadlet's `[Container]` that rootlet refuses with a reason.
pub(crate) const REFUSED: &[(&str, &str)] = &[];

/// Single-valued keys written `FLAG VALUE` when set and not empty (quadlet's
/// `lookupAndAddString`; quadlet's order among them is a Go map's, so any fixed one is
/// as good).
const STRINGS: &[(&str, &str)] = &[
    ("Timezone", "--tz"),
    ("PidsLimit", "--pids-limit"),
    ("ShmSize", "--shm-size"),
    ("WorkingDir", "--workdir"),
    ("IP", "--ip"),
    ("IP6", "--ip6"),
    ("HostName", "--hostname"),
    ("StopSignal", "--stop-signal"),
    ("StopTimeout", "--stop-timeout"),
    ("Pull", "--pull"),
    ("Memory", "--memory"),
    ("Retry", "--retry"),
    ("RetryDelay", "--retry-delay"),
];

/// Repeatable keys written `FLAG VALUE` for each value as it is (`lookupAndAddAllStrings`).
const ALL_STRINGS: &[(&str, &str)] = &[
    ("NetworkAlias", "--network-alias"),
    ("Ulimit", "--ulimit"),
    ("DNS", "--dns"),
    ("DNSOption", "--dns-option"),
    ("DNSSearch", "--dns-search"),
    ("GroupAdd", "--group-add"),
    ("AddHost", "--add-host"),
    ("Tmpfs", "--tmpfs"),
];

/// Booleans written `FLAG` or `FLAG=false` when set (`lookupAndAddBoolean`).
const BOOLS: &[(&str, &str)] = &[
    ("RunInit", "--init"),
    ("EnvironmentHost", "--env-host"),
    ("HttpProxy", "--http-proxy"),
    ("ReadOnlyTmpfs", "--read-only-tmpfs"),
];

/// `Health*=` keys and their `--health-*` flags, in quadlet's order.
const HEALTH: &[(&str, &str)] = &[
    ("HealthCmd", "--health-cmd"),
    ("HealthInterval", "--health-interval"),
    ("HealthOnFailure", "--health-on-failure"),
    ("HealthLogDestination", "--health-log-destination"),
    ("HealthMaxLogCount", "--health-max-log-count"),
    ("HealthMaxLogSize", "--health-max-log-size"),
    ("HealthRetries", "--health-retries"),
    ("HealthStartPeriod", "--health-start-period"),
    ("HealthTimeout", "--health-timeout"),
    ("HealthStartupCmd", "--health-startup-cmd"),
    ("HealthStartupInterval", "--health-startup-interval"),
    ("HealthStartupRetries", "--health-startup-retries"),
    ("HealthStartupSuccess", "--health-startup-success"),
    ("HealthStartupTimeout", "--health-startup-timeout"),
];

/// What translating `[Container]` (or `[Pod]`) gives besides the argv.
#[derive(Default)]
pub(crate) struct Extra {
    /// `Requires=`/`After=` units (networks, volumes, containers whose network is used).
    pub deps: Vec<String>,
    /// Host paths of bind mounts (for `RequiresMountsFor=`).
    pub mounts_for: Vec<String>,
    /// The unit of the pod the container joins (`BindsTo=`, `After=`).
    pub pod: Option<String>,
    pub warnings: Vec<SourceError>,
}

pub(crate) type Argv<'a> = Vec<Cow<'a, str>>;

pub(crate) fn push<'a>(a: &mut Argv<'a>, flag: &'static str, v: impl Into<Cow<'a, str>>) {
    a.push(flag.into());
    a.push(v.into());
}

/// The default container name of a source: `ContainerName=` or `systemd-%N`
/// (`systemd-%p_%i` for templates and their instances).
fn container_name<'a>(src: &'a Source, sec: &Index<'a>) -> Cow<'a, str> {
    match last(sec, "ContainerName") {
        Some((_, v)) => v.into(),
        None if src.stem().contains('@') => "systemd-%p_%i".into(),
        None => "systemd-%N".into(),
    }
}

/// The image or `--rootfs` path. `X.image` is the image that source pulls, `X.build` the
/// one it builds (its unit becomes a dependency).
fn image<'a>(
    src: &'a Source,
    sec: &Index<'a>,
    ctx: &Context,
    x: &mut Extra,
) -> Result<Argv<'a>, SourceError> {
    let image = last(sec, "Image");
    let rootfs = last(sec, "Rootfs");
    match (image, rootfs) {
        (None, None) => Err(src.err(
            src.file.section("Container").map_or(0, |s| s.line),
            "[Container] needs Image= or Rootfs=",
        )),
        (Some(_), Some((e, _))) => Err(src.err(e.line, "Image= and Rootfs= exclude each other")),
        (Some((e, i)), None) => match super::build::resolve_image(src, ctx, e, i)? {
            Some((name, unit)) => {
                x.deps.push(unit);
                Ok(vec![name.into()])
            }
            None => Ok(vec![i.into()]),
        },
        // As written, as quadlet passes it (a relative path is podman's, from the
        // service's working directory, and may end in `:O`).
        (None, Some((_, r))) => Ok(vec!["--rootfs".into(), r.into()]),
    }
}

/// quadlet 5.8's warning for an image name podman must resolve through short-name
/// aliases (no registry): `shortname`, `library/fedora`.
pub(crate) fn short_name_warning(src: &Source, e: &Entry, image: &str) -> Option<SourceError> {
    let id = image.len() == 64 && image.bytes().all(|b| b.is_ascii_hexdigit());
    let qualified = match image.split_once('/') {
        Some((domain, _)) => domain.contains(['.', ':']) || domain == "localhost",
        None => false,
    };
    (!id && !qualified && !image.ends_with(".image") && !image.ends_with(".build")).then(|| {
        src.err(
            e.line,
            format!(
                "{}: `{image}` is not a fully qualified image name: podman resolves it through \
                 short-name aliases (slower, and not safe); see podman-pull(1)",
                e.key
            ),
        )
    })
}

/// `Network=`: `X.network` is the network of that source, `X.container` joins that
/// container's network (`container:NAME`); both become dependencies. (Also a `.build`'s and a `.kube`'s.)
pub(crate) fn networks<'a>(
    src: &'a Source,
    sec: &Index<'a>,
    ctx: &Context,
    a: &mut Argv<'a>,
    x: &mut Extra,
) -> Result<(), SourceError> {
    for e in sec.list("Network") {
        let v = e.value.as_str();
        let (name, opts) = match v.split_once(':') {
            Some((n, o)) => (n, Some(o)),
            None => (v, None),
        };
        let arg: Cow<'a, str> = if name.ends_with(".network") {
            let Some(net) = ctx.sources.get(name) else {
                return Err(src.err(
                    e.line,
                    format!("Network: `{name}` names no .network file on the search path"),
                ));
            };
            x.deps.push(net.unit_name());
            let real = super::network::network_name(net);
            match opts {
                Some(o) => super::concat(&[&real, ":", o]).into(),
                None => real.into(),
            }
        } else if name.ends_with(".container") {
            if opts.is_some() {
                return Err(src.err(
                    e.line,
                    format!("Network: `{v}`: options are not supported when joining another container's network"),
                ));
            }
            let other = match ctx.find(name) {
                Some(Ok(s)) => s,
                Some(Err(err)) => {
                    return Err(src.err(e.line, format!("Network: `{name}` cannot be read: {err}")))
                }
                None => {
                    return Err(src.err(
                        e.line,
                        format!("Network: `{name}` names no .container file on the search path"),
                    ))
                }
            };
            let unit = other.unit_name();
            let other_sec = other.file.section("Container").map(Index::new);
            let cname = match other_sec.as_ref() {
                Some(s) => container_name(&other, s).into_owned(),
                None => "systemd-%N".to_owned(),
            };
            let resolved = cname.replace("%N", unit.strip_suffix(".service").unwrap_or(&unit));
            if resolved.contains('%') {
                return Err(src.err(
                    e.line,
                    format!(
                        "Network: the container name of `{name}` ({cname}) depends on its instance: set ContainerName= in it"
                    ),
                ));
            }
            x.deps.push(unit);
            super::concat(&["container:", &resolved]).into()
        } else {
            if let Some((_, ext)) = name.rsplit_once('.') {
                if super::UNSUPPORTED_EXTENSIONS.contains(&ext) {
                    return Err(src.err(
                        e.line,
                        format!("Network: `{name}` is a .{ext} file, which rootlet does not translate yet"),
                    ));
                }
            }
            v.into()
        };
        push(a, "--network", arg);
    }
    Ok(())
}

/// A storage source of `Volume=` or `Mount=` (quadlet's `handleStorageSource`): relative
/// host paths made absolute, host paths need their mount (`RequiresMountsFor=`), `X.volume`
/// is that source's volume (a dependency).
fn storage_source(
    src: &Source,
    e: &Entry,
    ctx: &Context,
    source: &str,
    x: &mut Extra,
) -> Result<String, SourceError> {
    if source.is_empty() {
        return Err(src.err(e.line, format!("{}: source cannot be empty", e.key)));
    }
    let source = if source.starts_with('.') {
        host_path(src, source)
    } else {
        source.to_owned()
    };
    if source.starts_with('/') {
        x.mounts_for.push(super::clean_path(&source));
        return Ok(source);
    }
    if let Some((_, ext)) = source.rsplit_once('.') {
        if ext == "volume" {
            let vol = match ctx.sources.get(&source) {
                Some(v) => v,
                None => {
                    return Err(src.err(
                        e.line,
                        format!(
                            "{}: `{source}` names no .volume file on the search path",
                            e.key
                        ),
                    ))
                }
            };
            x.deps.push(vol.unit_name());
            return Ok(super::volume::volume_name(vol));
        }
        if ext == "image" {
            // quadlet passes it to podman as a volume's name: surely not what was meant.
            return Err(src.err(
                e.line,
                format!(
                    "{}: `{source}` is a .image file, which only Mount=type=image takes",
                    e.key
                ),
            ));
        }
        if ext == "build" {
            // quadlet passes it to podman as a volume's name: surely not what was meant.
            return Err(src.err(
                e.line,
                format!(
                    "{}: `{source}` is a .build file, which only Image= takes (name the image it builds, its ImageTag=)",
                    e.key
                ),
            ));
        }
        if ext == "artifact" {
            // quadlet passes the artifact's name as a volume's or a path: surely not meant.
            return Err(src.err(
                e.line,
                format!(
                    "{}: `{source}` is a .artifact file, which only Mount=type=artifact takes",
                    e.key
                ),
            ));
        }
    }
    Ok(source)
}

/// `Volume=[SOURCE:]DEST[:OPTIONS]` (also a `.build`'s).
pub(crate) fn volume(
    src: &Source,
    e: &Entry,
    ctx: &Context,
    x: &mut Extra,
) -> Result<String, SourceError> {
    let mut parts = e.value.splitn(3, ':');
    let first = parts.next().unwrap_or("");
    let Some(dest) = parts.next() else {
        return Ok(first.to_owned()); // anonymous volume: DEST only
    };
    if first.is_empty() {
        return Ok(dest.to_owned());
    }
    let source = storage_source(src, e, ctx, first, x)?;
    Ok(match parts.next() {
        Some(o) => super::concat(&[&source, ":", dest, ":", o]),
        None => super::concat(&[&source, ":", dest]),
    })
}

/// One CSV record as Go's encoding/csv reads it (quoted fields, `""` for a quote).
fn csv_fields(s: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut f = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("extraneous or missing \" in quoted-field"),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        f.push('"');
                    }
                    Some('"') => break,
                    Some(c) => f.push(c),
                }
            }
            out.push(f);
            match chars.next() {
                None => return Ok(out),
                Some(',') => {}
                Some(_) => return Err("extraneous or missing \" in quoted-field"),
            }
        } else {
            let mut more = false;
            for c in chars.by_ref() {
                match c {
                    ',' => {
                        more = true;
                        break;
                    }
                    '"' => return Err("bare \" in non-quoted-field"),
                    c => f.push(c),
                }
            }
            out.push(f);
            if !more {
                return Ok(out);
            }
        }
    }
}

/// Go's encoding/csv writing one record.
fn csv_record(fields: &[String]) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let quote = f.contains([',', '"', '\r', '\n']) || f.starts_with([' ', '\t']);
        if quote {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out
}

/// `Mount=type=...,source=...,...` (quadlet's `resolveContainerMountParams`): for the
/// types with a source, the source resolved like `Volume=`'s and written `source=`, the
/// type first.
fn mount(
    src: &Source,
    e: &Entry,
    m: &str,
    ctx: &Context,
    x: &mut Extra,
) -> Result<String, SourceError> {
    let fields = csv_fields(m).map_err(|why| src.err(e.line, format!("Mount: `{m}`: {why}")))?;
    let mut kind: Option<String> = None;
    let mut tokens = Vec::with_capacity(fields.len() + 1);
    for f in fields {
        match f.split('=').collect::<Vec<_>>().as_slice() {
            ["type", t] if kind.is_none() => kind = Some((*t).to_owned()),
            _ => tokens.push(f),
        }
    }
    let kind = kind.unwrap_or_else(|| "volume".into());
    if !matches!(
        kind.as_str(),
        "volume" | "bind" | "glob" | "image" | "artifact"
    ) {
        return Ok(m.to_owned());
    }
    let mut at = None;
    for (i, t) in tokens.iter().enumerate() {
        let (k, v) = match t.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (t.as_str(), None),
        };
        if k == "source" || k == "src" {
            if v.is_none() {
                return Err(src.err(e.line, format!("Mount: `{m}`: source has no value")));
            }
            at = Some(i);
        }
    }
    let original = at.map_or(String::new(), |i| {
        tokens[i].split_once('=').map_or("", |(_, v)| v).to_owned()
    });
    // An image mount's `X.image` is the image that source pulls (quadlet 5.8), an
    // artifact mount's `X.artifact` the artifact.
    if kind == "artifact" {
        super::artifact::check_mount(src, ctx, e)?;
    }
    let pulled = match kind.as_str() {
        "image" => super::image::resolve(src, ctx, e, &original)?,
        "artifact" => super::artifact::resolve(src, ctx, e, &original)?,
        _ => None,
    };
    let resolved = match pulled {
        Some((name, unit)) => {
            x.deps.push(unit);
            name
        }
        None => storage_source(src, e, ctx, &original, x)?,
    };
    if let Some(i) = at {
        tokens[i] = super::concat(&["source=", &resolved]);
    }
    tokens.insert(0, super::concat(&["type=", &kind]));
    Ok(csv_record(&tokens))
}

/// `UserNS=`, `UIDMap=`, ... and the deprecated `RemapUsers=` family (quadlet's
/// `handleUserMappings`); `manual`: whether `RemapUsers=manual` is allowed (not in a
/// `.kube` file, as in quadlet).
pub(crate) fn user_mappings<'a>(
    src: &'a Source,
    sec: &Index<'a>,
    a: &mut Argv<'a>,
    x: &mut Extra,
    manual: bool,
) -> Result<(), SourceError> {
    let strv =
        |k: &str, x: &mut Extra| values::all_words(src, sec.list(k), Split::Strv, &mut x.warnings);
    let mut explicit = false;
    if let Some((_, v)) = last(sec, "UserNS") {
        push(a, "--userns", v);
        explicit = true;
    }
    for (key, flag) in [("UIDMap", "--uidmap"), ("GIDMap", "--gidmap")] {
        for m in strv(key, x) {
            push(a, flag, m);
            explicit = true;
        }
    }
    for (key, flag) in [("SubUIDMap", "--subuidname"), ("SubGIDMap", "--subgidname")] {
        if let Some((_, v)) = last(sec, key) {
            push(a, flag, v);
            explicit = true;
        }
    }
    let remap = sec.last("RemapUsers");
    let line = |k: &str| sec.last(k).map_or(0, |e| e.line);
    if explicit {
        if remap.is_some() || sec.last("RemapUid").is_some() || sec.last("RemapGid").is_some() {
            let l = line("RemapUsers")
                .max(line("RemapUid"))
                .max(line("RemapGid"));
            return Err(src.err(
                l,
                "the deprecated RemapUsers=/RemapUid=/RemapGid= are set along with UserNS=, UIDMap=, GIDMap=, SubUIDMap= or SubGIDMap=",
            ));
        }
        return Ok(());
    }
    let uids = strv("RemapUid", x);
    let gids = strv("RemapGid", x);
    match remap.map(|e| (e, e.value.as_str())) {
        None | Some((_, "")) => {
            if !uids.is_empty() || !gids.is_empty() {
                let k = if uids.is_empty() {
                    "RemapGid"
                } else {
                    "RemapUid"
                };
                return Err(src.err(line(k), format!("{k}= needs RemapUsers=")));
            }
        }
        Some((e, "manual")) if !manual => {
            return Err(src.err(
                e.line,
                format!(
                    "RemapUsers=manual is not supported in a .{} file: use UserNS=",
                    src.kind.extension()
                ),
            ))
        }
        Some((_, "manual")) => {
            for u in uids {
                push(a, "--uidmap", u);
            }
            for g in gids {
                push(a, "--gidmap", g);
            }
        }
        Some((_, "auto")) => {
            let mut opts: Vec<String> = uids.iter().map(|u| format!("uidmapping={u}")).collect();
            opts.extend(gids.iter().map(|g| format!("gidmapping={g}")));
            if let Some((e, v)) = last(sec, "RemapUidSize") {
                match v.parse::<u32>() {
                    Ok(0) => {}
                    Ok(n) => opts.push(format!("size={n}")),
                    Err(_) => {
                        return Err(src.err(e.line, format!("RemapUidSize: `{v}` is not a number")))
                    }
                }
            }
            push(a, "--userns", userns("auto", &opts));
        }
        Some((e, "keep-id")) => {
            let mut opts = Vec::new();
            for (list, key, name) in [(&uids, "RemapUid", "uid"), (&gids, "RemapGid", "gid")] {
                match list.as_slice() {
                    [] => {}
                    [one] => opts.push(format!("{name}={one}")),
                    _ => {
                        return Err(src.err(
                            line(key),
                            format!("RemapUsers=keep-id takes a single {key}="),
                        ))
                    }
                }
            }
            let _ = e;
            push(a, "--userns", userns("keep-id", &opts));
        }
        Some((e, v)) => {
            return Err(src.err(
                e.line,
                format!("RemapUsers: `{v}` is none of manual, auto, keep-id"),
            ))
        }
    }
    Ok(())
}

fn userns(kind: &str, opts: &[String]) -> String {
    if opts.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}:{}", opts.join(","))
    }
}

/// `AddDevice=`: a leading `-` makes the device optional: left out when its host path
/// does not exist (checked when the generator runs, as quadlet does).
fn device(d: &str) -> Option<&str> {
    match d.strip_prefix('-') {
        Some(rest) => {
            let host = rest.split(':').next().unwrap_or(rest);
            std::path::Path::new(host).exists().then_some(rest)
        }
        None => Some(d),
    }
}

/// The whole `podman run` argv (before quoting), the container name and the rest.
struct Run<'a> {
    argv: Argv<'a>,
    name: Cow<'a, str>,
    global: Vec<String>,
    /// Nothing in it needs the network before it starts (see `needs_network`).
    offline: bool,
    extra: Extra,
}

fn run_argv<'a>(
    src: &'a Source,
    sec: &Index<'a>,
    ctx: &Context,
    podman: &'a str,
    oneshot: bool,
) -> Result<Run<'a>, SourceError> {
    let mut x = Extra::default();
    let img = image(src, sec, ctx, &mut x)?;
    if let Some((e, i)) = last(sec, "Image") {
        x.warnings.extend(short_name_warning(src, e, i));
    }
    let name = container_name(src, sec);
    let global = values::global_args(src, ctx, sec, &mut x.warnings)?;
    let mut a: Argv<'a> = Vec::with_capacity(48);
    a.push(podman.into());
    a.extend(global.iter().cloned().map(Cow::Owned));
    a.push("run".into());
    push(&mut a, "--name", name.clone());
    a.push("--replace".into());
    a.push("--rm".into());
    if let Some(e) = sec.last("LogDriver") {
        push(&mut a, "--log-driver", unquote(&e.value));
    }
    for o in values::all_words(src, sec.list("LogOpt"), Split::Strv, &mut x.warnings) {
        push(&mut a, "--log-opt", o);
    }
    match last(sec, "CgroupsMode") {
        Some((_, v)) => push(&mut a, "--cgroups", v),
        None => a.push("--cgroups=split".into()),
    }
    // An empty Entrypoint= is meaningful: it clears the image's entrypoint.
    if let Some(e) = sec.last("Entrypoint") {
        a.push(super::concat(&["--entrypoint=", unquote(&e.value)]).into());
    }
    for (key, flag) in STRINGS {
        if let Some((_, v)) = last(sec, key) {
            push(&mut a, flag, v);
        }
    }
    for (key, flag) in ALL_STRINGS {
        for e in sec.list(key) {
            push(&mut a, flag, e.value.as_str());
        }
    }
    for (key, flag) in BOOLS {
        if let Some(e) = sec.last(key) {
            a.push(if boolean(src, e)? {
                (*flag).into()
            } else {
                super::concat(&[flag, "=false"]).into()
            });
        }
    }
    networks(src, sec, ctx, &mut a, &mut x)?;
    if !oneshot {
        let notify = match sec.last("Notify") {
            Some(e) if unquote(&e.value).eq_ignore_ascii_case("healthy") => {
                // No fallback: `--sdnotify=container` would report ready before the
                // container is healthy, which is what `Notify=healthy` is written to avoid.
                if let Some(v) = ctx
                    .podman_version
                    .get()
                    .filter(|v| *v < crate::podman::Version::SDNOTIFY_HEALTHY)
                {
                    return Err(src.err(
                        e.line,
                        format!(
                            "Notify=healthy needs podman {} or newer (`--sdnotify=healthy`), \
                             podman is {v}: remove Notify= (HealthCmd= still runs the health check; \
                             the unit is then ready once the container has started)",
                            crate::podman::Version::SDNOTIFY_HEALTHY
                        ),
                    ));
                }
                "--sdnotify=healthy"
            }
            Some(e) if boolean(src, e)? => "--sdnotify=container",
            _ => "--sdnotify=conmon",
        };
        a.push(notify.into());
        a.push("-d".into());
    }
    let flag = |k: &str| -> Result<bool, SourceError> {
        sec.last(k).map_or(Ok(false), |e| boolean(src, e))
    };
    if flag("NoNewPrivileges")? {
        a.push("--security-opt=no-new-privileges".into());
    }
    if flag("SecurityLabelDisable")? {
        push(&mut a, "--security-opt", "label=disable");
    }
    if flag("SecurityLabelNested")? {
        push(&mut a, "--security-opt", "label=nested");
    }
    for (key, prefix) in [
        ("SecurityLabelType", "label=type:"),
        ("SecurityLabelFileType", "label=filetype:"),
        ("SecurityLabelLevel", "label=level:"),
        ("AppArmor", "apparmor="),
    ] {
        if let Some((_, v)) = last(sec, key) {
            push(&mut a, "--security-opt", super::concat(&[prefix, v]));
        }
    }
    for d in values::all_words(src, sec.list("AddDevice"), Split::Strv, &mut x.warnings) {
        if let Some(d) = device(&d) {
            push(&mut a, "--device", d.to_owned());
        }
    }
    if let Some(e) = sec.last("SeccompProfile") {
        push(
            &mut a,
            "--security-opt",
            super::concat(&["seccomp=", unquote(&e.value)]),
        );
    }
    for (key, flag) in [
        ("DropCapability", "--cap-drop"),
        ("AddCapability", "--cap-add"),
    ] {
        for c in values::all_words(src, sec.list(key), Split::Strv, &mut x.warnings) {
            push(&mut a, flag, c.to_ascii_lowercase());
        }
    }
    for s in values::all_words(src, sec.list("Sysctl"), Split::Strv, &mut x.warnings) {
        push(&mut a, "--sysctl", s);
    }
    let read_only = match sec.last("ReadOnly") {
        Some(e) => {
            let b = boolean(src, e)?;
            a.push(
                if b {
                    "--read-only"
                } else {
                    "--read-only=false"
                }
                .into(),
            );
            b
        }
        None => false,
    };
    if flag("VolatileTmp")? && !read_only {
        push(&mut a, "--tmpfs", "/tmp:rw,size=512M,mode=1777");
    }
    let user = last(sec, "User").map(|(e, _)| single(src, e)).transpose()?;
    let group = last(sec, "Group")
        .map(|(e, _)| single(src, e))
        .transpose()?;
    match (user, group) {
        (None, None) => {}
        (Some(u), None) => push(&mut a, "--user", u),
        (Some(u), Some(g)) => push(&mut a, "--user", super::concat(&[&u, ":", &g])),
        (None, Some(_)) => {
            let line = sec.last("Group").map_or(0, |e| e.line);
            return Err(src.err(line, "Group= needs User= as well"));
        }
    }
    user_mappings(src, sec, &mut a, &mut x, true)?;
    for e in sec.list("Volume") {
        let v = volume(src, e, ctx, &mut x)?;
        push(&mut a, "-v", v);
    }
    if let Some((e, v)) = last(sec, "AutoUpdate") {
        if !matches!(v, "registry" | "local") {
            return Err(src.err(
                e.line,
                format!("AutoUpdate: `{v}` is neither `registry` nor `local`"),
            ));
        }
        push(
            &mut a,
            "--label",
            super::concat(&["io.containers.autoupdate=", v]),
        );
    }
    for e in sec.list("ExposeHostPort") {
        let p = e.value.trim();
        if !port_range(p) {
            return Err(src.err(
                e.line,
                format!("ExposeHostPort: `{p}` is not a port or range (PORT[-PORT][/tcp|/udp])"),
            ));
        }
        push(&mut a, "--expose", p);
    }
    for e in sec.list("PublishPort") {
        push(&mut a, "--publish", single(src, e)?);
    }
    for (key, flag) in [
        ("Environment", "--env"),
        ("Label", "--label"),
        ("Annotation", "--annotation"),
    ] {
        let kv = values::key_values(src, sec.list(key), &mut x.warnings);
        values::push_key_values(&mut a, flag, &kv);
    }
    for (key, prefix) in [("Mask", "mask="), ("Unmask", "unmask=")] {
        for m in values::all_words(src, sec.list(key), Split::Args, &mut x.warnings) {
            push(&mut a, "--security-opt", super::concat(&[prefix, &m]));
        }
    }
    for f in values::all_words(
        src,
        sec.list("EnvironmentFile"),
        Split::Args,
        &mut x.warnings,
    ) {
        push(&mut a, "--env-file", host_path(src, &f));
    }
    for s in values::all_words(src, sec.list("Secret"), Split::Args, &mut x.warnings) {
        push(&mut a, "--secret", s);
    }
    for e in sec.list("Mount") {
        match values::split(&e.value, Split::Args) {
            Ok(ms) => {
                for m in ms {
                    let m = mount(src, e, &m, ctx, &mut x)?;
                    push(&mut a, "--mount", m);
                }
            }
            Err(why) => x
                .warnings
                .push(src.err(e.line, format!("Mount: {why}: `{}` ignored", e.value))),
        }
    }
    for (key, flag) in HEALTH {
        if let Some((_, v)) = last(sec, key) {
            push(&mut a, flag, v);
        }
    }
    if let Some((pod, unit)) = super::pod::join(src, sec, ctx)? {
        super::pod::member_warnings(src, sec, &mut x.warnings);
        push(&mut a, "--pod", pod);
        x.pod = Some(unit);
    }
    a.extend(
        values::podman_args(src, sec, &mut x.warnings)
            .into_iter()
            .map(Cow::Owned),
    );
    // Offline: no network to reach (only `Network=none`) and no image to pull.
    let nets = sec.list("Network");
    let no_net = !nets.is_empty() && nets.iter().all(|e| unquote(&e.value) == "none");
    let no_pull = matches!(img.first().map(|s| &**s), Some("--rootfs"))
        || last(sec, "Pull").is_some_and(|(_, v)| v == "never");
    let offline = no_net && no_pull;
    a.extend(img);
    if let Some(e) = sec.last("Exec") {
        match values::split_full(&e.value, Split::Args) {
            Ok((w, dropped)) => {
                x.warnings.extend(values::unbalanced_warning(src, e));
                if dropped {
                    x.warnings.push(values::dropped_warning(src, e));
                }
                a.extend(w.into_iter().map(Cow::Owned))
            }
            Err(why) => x.warnings.push(src.err(
                e.line,
                format!("Exec: {why}: the command is ignored (quadlet does the same)"),
            )),
        }
    }
    Ok(Run {
        argv: a,
        name,
        global,
        offline,
        extra: x,
    })
}

/// `ExposeHostPort=`: `PORT[-PORT][/tcp|/udp]`, as quadlet checks it.
fn port_range(p: &str) -> bool {
    let p = p
        .strip_suffix("/tcp")
        .or_else(|| p.strip_suffix("/udp"))
        .unwrap_or(p);
    let num = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match p.split_once('-') {
        Some((a, b)) => num(a) && num(b),
        None => num(p),
    }
}

/// `ReloadCmd=` (`podman exec NAME CMD...`) or `ReloadSignal=` (`podman kill --signal SIG
/// NAME`): `ExecReload=`.
fn reload(
    src: &Source,
    sec: &Index,
    podman: &str,
    global: &[String],
    name: &str,
    warnings: &mut Vec<SourceError>,
) -> Result<Option<String>, SourceError> {
    let signal = last(sec, "ReloadSignal");
    let cmd = match sec.last("ReloadCmd") {
        Some(e) => match values::split(&e.value, Split::Args) {
            Ok(w) if !w.is_empty() => Some((e, w)),
            Ok(_) => None,
            Err(why) => {
                warnings.push(src.err(
                    e.line,
                    format!("ReloadCmd: {why}: the command is ignored (quadlet does the same)"),
                ));
                None
            }
        },
        None => None,
    };
    let mut argv: Vec<&str> = global.iter().map(String::as_str).collect();
    match (cmd, signal) {
        (None, None) => return Ok(None),
        (Some((e, _)), Some(_)) => {
            return Err(src.err(e.line, "ReloadCmd= and ReloadSignal= exclude each other"))
        }
        (Some((_, w)), None) => {
            argv.extend(["exec", name]);
            let line = exec::command_line(podman, &argv);
            let mut out = line;
            for word in &w {
                out.push(' ');
                exec::push_word(&mut out, word);
            }
            return Ok(Some(out));
        }
        (None, Some((_, sig))) => argv.extend(["kill", "--signal", sig, name]),
    }
    Ok(Some(exec::command_line(podman, &argv)))
}

/// Translate a `.container` source.
/// `name` is the unit's ([`Source::unit_name`]).
pub fn translate(src: &Source, ctx: &Context, name: String) -> Result<Generated, SourceError> {
    let Some(sec) = src.file.section("Container") else {
        return Err(src.err(0, "no [Container] section"));
    };
    let sec = Index::new(sec);

    // [Service] keys the user may set, checked as quadlet does.
    let svc_user = src.file.section("Service");
    let svc_last = |k: &str| svc_user.and_then(|s| s.last(k));
    let oneshot = match svc_last("Type") {
        None => false,
        Some(e) => match e.value.as_str() {
            "notify" => false,
            "oneshot" => true,
            v => {
                return Err(src.err(
                    e.line,
                    format!("Type: `{v}` is not allowed for a container (use notify or oneshot)"),
                ))
            }
        },
    };
    if let Some(e) = svc_last("KillMode") {
        if e.value != "mixed" && e.value != "control-group" {
            return Err(src.err(
                e.line,
                format!(
                    "KillMode: `{}` is not allowed for a container (use mixed or control-group)",
                    e.value
                ),
            ));
        }
    }

    let podman = ctx.podman;
    let mut run = run_argv(src, &sec, ctx, podman, oneshot)?;
    let reload = reload(
        src,
        &sec,
        podman,
        &run.global,
        &run.name,
        &mut run.extra.warnings,
    )?;
    let mut file = super::service_unit(src, super::needs_network(!run.offline))?;

    let unit = file.section_mut("Unit");
    for p in &run.extra.mounts_for {
        unit.add("RequiresMountsFor", super::mount_path_value(p));
    }
    // One pair per reference, as quadlet writes them (a repeated one is harmless).
    for dep in &run.extra.deps {
        unit.add("Requires", dep.clone());
        unit.add("After", dep.clone());
    }
    if let Some(pod) = &run.extra.pod {
        unit.add("BindsTo", pod.clone());
        unit.add("After", pod.clone());
    }
    if let Some(socks) = ctx.sockets_for.get(&name) {
        for s in socks {
            unit.add("Requires", s.clone());
            unit.add("After", s.clone());
        }
    }

    // Stopped by name (quadlet 5.6+): no cid file, so no stale one can block a restart.
    let mut stop: Vec<&str> = run.global.iter().map(String::as_str).collect();
    stop.extend(["rm", "-v", "-f", "-i", &run.name]);
    let stop = exec::command_line(podman, &stop);
    let svc = file.section_mut("Service");
    svc.add("Environment", "PODMAN_SYSTEMD_UNIT=%n");
    if !svc.has("KillMode") {
        svc.add("KillMode", "mixed");
    }
    // ExecStop for a clean stop; ExecStopPost also when conmon was killed.
    let stop_post = super::concat(&["-", &stop]);
    svc.add("ExecStop", stop);
    svc.add("ExecStopPost", stop_post);
    if let Some(r) = reload {
        svc.add("ExecReload", r);
    }
    if !svc.has("Delegate") {
        svc.add("Delegate", "yes");
    }
    if !svc.has("Type") {
        svc.add("Type", "notify");
    }
    if !oneshot && !svc.has("NotifyAccess") {
        svc.add("NotifyAccess", "all");
    }
    if !svc.has("SyslogIdentifier") {
        svc.add("SyslogIdentifier", "%N");
    }
    svc.add("ExecStart", exec::command_line(podman, &run.argv[1..]));

    super::finish(
        src,
        ctx,
        file,
        name,
        std::mem::take(&mut run.extra.warnings),
    )
}

/// `%` -> `%%`, for computed paths in settings where systemd expands specifiers.
pub(crate) fn escape_specifiers(s: &str) -> String {
    s.replace('%', "%%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_like_go() {
        assert_eq!(
            csv_fields(r#"type=bind,src=/tmp,"dst=/path,1""#).unwrap(),
            ["type=bind", "src=/tmp", "dst=/path,1"]
        );
        assert!(csv_fields(r#"a"b"#).is_err());
        assert_eq!(
            csv_record(&["type=bind".into(), "source=/a b".into(), "dst=/p,1".into()]),
            r#"type=bind,source=/a b,"dst=/p,1""#
        );
    }

    #[test]
    fn ports() {
        assert!(port_range("80"));
        assert!(port_range("80-90/udp"));
        assert!(!port_range("80-"));
        assert!(!port_range("http"));
    }
}

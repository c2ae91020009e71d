//! The podman options several kinds share (quadlet's `handleX` family): `Network=`,
//! `Volume=`, `Mount=`, the user mappings, `Pod=`, the short-name warning, and the
//! [`Flag::Custom`](super::flags::Flag::Custom) handlers of them ([`handle`]). A kind file
//! takes them from here, never from another kind's file; references to other sources go
//! through [`refs`].

use super::flags::{push, Args, Argv, Extra};
use super::paths::{clean_path, host_path};
use super::values::{self, last, Split};
use super::{concat, refs, Context, Source, SourceKind};
use crate::error::SourceError;
use crate::unit::{Entry, Index};
use std::borrow::Cow;

mod mount;
pub(crate) use mount::mount;

/// The keys of quadlet's user mappings ([`user_mappings`]), deprecated ones included.
pub(crate) const USER_MAPPINGS: &[&str] = &[
    "GIDMap",
    "RemapGid",
    "RemapUid",
    "RemapUidSize",
    "RemapUsers",
    "SubGIDMap",
    "SubUIDMap",
    "UIDMap",
    "UserNS",
];

/// [`Flag::Custom`] handlers several kinds share.
pub(crate) mod handle {
    use super::*;

    /// `Network=` ([`networks`]).
    pub(crate) fn network(r: &mut Args) -> Result<(), SourceError> {
        networks(r.src, r.sec, r.ctx, &mut r.a, &mut r.x)
    }

    /// `Volume=`: `-v` each ([`volume`]).
    pub(crate) fn volumes(r: &mut Args) -> Result<(), SourceError> {
        for e in r.sec.list("Volume") {
            let v = volume(r.src, e, r.ctx, &mut r.x)?;
            push(&mut r.a, "-v", v);
        }
        Ok(())
    }

    /// `PublishPort=`: `--publish` each, a single value.
    pub(crate) fn publish(r: &mut Args) -> Result<(), SourceError> {
        for e in r.sec.list("PublishPort") {
            push(&mut r.a, "--publish", values::single(r.src, e)?);
        }
        Ok(())
    }

    /// `LogDriver=`: `--log-driver` (an empty one too).
    pub(crate) fn log_driver(r: &mut Args) -> Result<(), SourceError> {
        if let Some(e) = r.sec.last("LogDriver") {
            push(&mut r.a, "--log-driver", values::unquote(&e.value));
        }
        Ok(())
    }

    /// `LogOpt=`: `--log-opt` each word.
    pub(crate) fn log_opt(r: &mut Args) -> Result<(), SourceError> {
        r.words("LogOpt", Split::Strv, "--log-opt");
        Ok(())
    }

    /// The user mappings ([`user_mappings`]), `RemapUsers=manual` allowed.
    pub(crate) fn mappings(r: &mut Args) -> Result<(), SourceError> {
        user_mappings(r, true)
    }

    /// `KEY=` lists of `K=V` (`Label=`, `Environment=`, ...): `FLAG K=V` each, the last
    /// value of a `K` winning.
    pub(crate) fn key_values(
        r: &mut Args,
        key: &str,
        flag: &'static str,
    ) -> Result<(), SourceError> {
        let kv = values::key_values(r.src, r.sec.list(key), &mut r.x.warnings);
        values::push_key_values(&mut r.a, flag, kv);
        Ok(())
    }
}

/// Whether an image or artifact name names its registry (`quay.io/a/b`, `localhost/b`,
/// `host:5000/b`).
fn qualified(name: &str) -> bool {
    match name.split_once('/') {
        Some((domain, _)) => domain.contains(['.', ':']) || domain == "localhost",
        None => false,
    }
}

/// The warning for a name that does not name its registry, in `e` of `src`: an image
/// (`kind` [`SourceKind::Image`]) podman must resolve through short-name aliases
/// (`shortname`, `library/fedora`), as quadlet 5.8 warns; an artifact
/// ([`SourceKind::Artifact`]), which podman-systemd.unit(5) at 5.8 requires fully
/// qualified and quadlet does not check. The unit is still made.
pub(crate) fn short_name_warning(
    src: &Source,
    e: &Entry,
    name: &str,
    kind: SourceKind,
) -> Option<SourceError> {
    if qualified(name) {
        return None;
    }
    let msg = if kind == SourceKind::Artifact {
        format!(
            "{}: `{name}` is not a fully qualified artifact name, which \
             podman-systemd.unit(5) requires (name its registry: quay.io/...)",
            e.key
        )
    } else {
        let id = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
        if id || name.ends_with(".image") || name.ends_with(".build") {
            return None;
        }
        format!(
            "{}: `{name}` is not a fully qualified image name: podman resolves it through \
             short-name aliases (slower, and not safe); see podman-pull(1)",
            e.key
        )
    };
    Some(src.err(e.line, msg))
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
        let v = &*e.value;
        let (name, opts) = match v.split_once(':') {
            Some((n, o)) => (n, Some(o)),
            None => (v, None),
        };
        let arg: Cow<'a, str> = if let Some((real, unit)) =
            refs::resolve(src, ctx, e, name, &[SourceKind::Network])?
        {
            x.deps.push(unit);
            match opts {
                Some(o) => concat(&[&real, ":", o]).into(),
                None => real.into(),
            }
        } else if name.ends_with(".container") {
            if opts.is_some() {
                return Err(src.err(
                    e.line,
                    format!("Network: `{v}`: options are not supported when joining another container's network"),
                ));
            }
            let (cname, unit) = refs::named(src, ctx, e, name, SourceKind::Container)?;
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
            concat(&["container:", &resolved]).into()
        } else {
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
        x.mounts_for.push(clean_path(&source));
        return Ok(source);
    }
    if let Some((name, unit)) = refs::resolve(src, ctx, e, &source, &[SourceKind::Volume])? {
        x.deps.push(unit);
        return Ok(name);
    }
    refs::misplaced(
        src,
        e,
        &source,
        &[SourceKind::Image, SourceKind::Build, SourceKind::Artifact],
    )?;
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
        Some(o) => concat(&[&source, ":", dest, ":", o]),
        None => concat(&[&source, ":", dest]),
    })
}

/// `UserNS=`, `UIDMap=`, ... and the deprecated `RemapUsers=` family (quadlet's
/// `handleUserMappings`); `manual`: whether `RemapUsers=manual` is allowed (not in a
/// `.kube` file, as in quadlet).
pub(crate) fn user_mappings(r: &mut Args, manual: bool) -> Result<(), SourceError> {
    let (src, sec) = (r.src, r.sec);
    let mut explicit = false;
    if let Some((_, v)) = last(sec, "UserNS") {
        push(&mut r.a, "--userns", v);
        explicit = true;
    }
    for (key, flag) in [("UIDMap", "--uidmap"), ("GIDMap", "--gidmap")] {
        for m in r.all_words(key, Split::Strv) {
            push(&mut r.a, flag, m);
            explicit = true;
        }
    }
    for (key, flag) in [("SubUIDMap", "--subuidname"), ("SubGIDMap", "--subgidname")] {
        if let Some((_, v)) = last(sec, key) {
            push(&mut r.a, flag, v);
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
    remap_users(r, manual)
}

/// The deprecated `RemapUsers=` family (none of `UserNS=`, `UIDMap=`, ... is set):
/// `RemapUsers=manual` gives `--uidmap`/`--gidmap`, `auto` and `keep-id` a `--userns`
/// with options.
fn remap_users(r: &mut Args, manual: bool) -> Result<(), SourceError> {
    let (src, sec) = (r.src, r.sec);
    let remap = sec.last("RemapUsers");
    let line = |k: &str| sec.last(k).map_or(0, |e| e.line);
    let uids = r.all_words("RemapUid", Split::Strv);
    let gids = r.all_words("RemapGid", Split::Strv);
    match remap.map(|e| (e, &*e.value)) {
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
                push(&mut r.a, "--uidmap", u);
            }
            for g in gids {
                push(&mut r.a, "--gidmap", g);
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
            push(&mut r.a, "--userns", userns("auto", &opts));
        }
        Some((_, "keep-id")) => {
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
            push(&mut r.a, "--userns", userns("keep-id", &opts));
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

/// `Pod=` of a container (and its `StartWithPod=`, checked here): the pod's name for
/// `--pod` and the unit the container is bound to. `Ok(None)` without `Pod=`. A template
/// pod (`X@.pod`) is joined by a template container, each instance the pod of its own.
pub(crate) fn pod(
    src: &Source,
    sec: &Index,
    ctx: &Context,
) -> Result<Option<(String, String)>, SourceError> {
    if let Some(e) = sec.last("StartWithPod") {
        values::boolean(src, e)?;
    }
    let Some((e, value)) = last(sec, "Pod") else {
        return Ok(None);
    };
    let Some((name, unit)) = refs::resolve(src, ctx, e, value, &[SourceKind::Pod])? else {
        return Err(src.err(
            e.line,
            format!(
                "Pod: `{value}` is not a .pod file: a container joins only a pod made by a .pod source (quadlet refuses it too)"
            ),
        ));
    };
    let pod_stem = value.rsplit_once('.').map_or(value, |(s, _)| s);
    match pod_stem.split_once('@') {
        // A template pod: the one of this container's instance.
        Some((_, "")) => {
            if !src.stem().contains('@') {
                return Err(src.err(
                    e.line,
                    format!(
                        "Pod: `{value}` is a template: only a template container (`NAME@.container`) joins it, each instance the pod of its own instance"
                    ),
                ));
            }
            let unit = match unit.split_once("@.") {
                Some((p, t)) => concat(&[p, "@%i.", t]),
                None => unit,
            };
            Ok(Some((name, unit)))
        }
        // An instance file (`X@a.pod`): its `%i` is `a`, not this container's instance.
        Some((_, inst)) => Ok(Some((name.replace("%i", inst), unit))),
        None => Ok(Some((name, unit))),
    }
}

/// Warnings for a container in a pod that shares the pod's network (no `Network=` of its
/// own): podman refuses its published ports and host entries (`published or exposed ports
/// must be defined when the pod is created`, podman 4.3 to 5.8); they belong in the `.pod`.
pub(crate) fn pod_member_warnings(src: &Source, sec: &Index, warnings: &mut Vec<SourceError>) {
    if !sec.list("Network").is_empty() {
        return;
    }
    for key in ["PublishPort", "AddHost"] {
        if let Some(e) = sec.list(key).first() {
            warnings.push(src.err(
                e.line,
                format!(
                    "{}: a container in a pod shares the pod's network: podman refuses {}= here when it starts; set it in the .pod",
                    e.key, e.key
                ),
            ));
        }
    }
}

//! `X.volume` -> `X-volume.service`: a oneshot `podman volume create --ignore`
//! (quadlet 5.8's `ConvertVolume`, with `UID=`/`GID=` and `Options=` without `Device=` of
//! podman's main branch after 5.8.2); on podman < 4.4 the same command run only when the
//! volume is missing (`service::create_if_missing`).

use super::flags::{self, push, Args, Extra, Flag};
use super::options::{self, handle};
use super::service::Oneshot;
use super::values::{self, boolean, last, unquote};
use super::{refs, Context, Generated, Source, SourceKind};
use crate::error::SourceError;
use crate::unit::Index;
use std::borrow::Cow;

/// The keys of quadlet 5.8's `[Volume]` and their flags, in the order of `podman volume
/// create`'s argv.
pub(crate) const FLAGS: &[Flag] = &[
    Flag::Other(flags::COMMON),
    Flag::Other(&["VolumeName"]),
    Flag::Custom(&["UID", "GID"], owner),
    Flag::Custom(&["Driver"], |r| {
        if let Some(d) = driver(r.sec) {
            push(&mut r.a, "--driver", d);
        }
        Ok(())
    }),
    Flag::Custom(&["Image"], image),
    Flag::Custom(
        &["Copy", "Device", "Group", "Options", "Type", "User"],
        local,
    ),
    Flag::Custom(&["Label"], |r| {
        let at = r.a.len();
        handle::key_values(r, "Label", "--label")?;
        flags::as_csv(r, at, crate::podman::Version::VOLUME_LABEL_ARRAY);
        Ok(())
    }),
];

/// `Driver=`, unquoted (an empty one too).
fn driver<'a>(sec: &Index<'a>) -> Option<&'a str> {
    sec.last("Driver").map(|e| unquote(&e.value))
}

/// `UID=`/`GID=` (quadlet after 5.8): `--uid`/`--gid`, the owner podman gives the
/// volume, whatever its driver. Refused on a podman without these flags (`podman::KEY_SINCE`,
/// gated before this), and when not a number (quadlet passes any value on, and podman
/// fails at start).
fn owner(r: &mut Args) -> Result<(), SourceError> {
    for (key, flag) in [("UID", "--uid"), ("GID", "--gid")] {
        let Some((e, v)) = last(r.sec, key) else {
            continue;
        };
        if v.parse::<u32>().is_err() {
            return Err(r.src.err(e.line, format!("{key}: `{v}` is not a number")));
        }
        push(&mut r.a, flag, v.to_owned());
    }
    Ok(())
}

/// `Image=` of the image driver (`--opt image=NAME`; `X.image`/`X.build`: the image that
/// source pulls or builds, after its unit). The image may have to be pulled: such a
/// volume waits for the network.
fn image(r: &mut Args) -> Result<(), SourceError> {
    let (src, sec) = (r.src, r.sec);
    if driver(sec) != Some("image") {
        return match sec.last("Image").filter(|e| !e.value.is_empty()) {
            Some(e) => Err(src.err(e.line, "Image= needs Driver=image")),
            None => Ok(()),
        };
    }
    let Some((e, image)) = last(sec, "Image") else {
        let line = sec.last("Driver").map_or(0, |e| e.line);
        return Err(src.err(line, "Driver=image needs Image="));
    };
    r.x.warnings.extend(options::short_name_warning(
        src,
        e,
        image,
        SourceKind::Image,
    ));
    let image = match refs::image(src, r.ctx, e, image)? {
        Some((name, unit)) => {
            r.x.deps.push(unit);
            name
        }
        None => image.to_owned(),
    };
    push(&mut r.a, "--opt", super::concat(&["image=", &image]));
    Ok(())
}

/// The options of a volume of another driver: `Copy=`, `Device=`, `Type=` (a bind
/// source must be mounted before the volume is made), and `o=` of `User=`, `Group=` and
/// `Options=`. `Options=` needs no `Device=` (quadlet after 5.8; quadlet 5.8 refuses it):
/// the flag is the same `--opt o=` every podman takes, so no podman version is needed.
fn local(r: &mut Args) -> Result<(), SourceError> {
    let (src, sec) = (r.src, r.sec);
    if driver(sec) == Some("image") {
        return Ok(());
    }
    let mut o: Vec<String> = Vec::new();
    if let Some(u) = id(src, sec, "User")? {
        o.push(format!("uid={u}"));
    }
    if let Some(g) = id(src, sec, "Group")? {
        o.push(format!("gid={g}"));
    }
    if let Some(e) = sec.last("Copy") {
        let copy = if boolean(src, e)? { "copy" } else { "nocopy" };
        push(&mut r.a, "--opt", copy);
    }
    let device = last(sec, "Device");
    if let Some((_, d)) = device {
        push(&mut r.a, "--opt", super::concat(&["device=", d]));
    }
    if let Some((e, t)) = last(sec, "Type") {
        let Some((_, d)) = device else {
            return Err(src.err(e.line, "Type= needs Device="));
        };
        push(&mut r.a, "--opt", super::concat(&["type=", t]));
        if t == "bind" {
            r.x.mounts_for.push(d.to_owned());
        }
    }
    if let Some((_, m)) = last(sec, "Options") {
        o.push(m.to_owned());
    }
    if !o.is_empty() {
        push(&mut r.a, "--opt", super::concat(&["o=", &o.join(",")]));
    }
    Ok(())
}

/// The podman volume name of a `.volume` source: `VolumeName=` or `systemd-X`
/// (`systemd-X-%i` for templates).
pub fn volume_name(src: &Source) -> String {
    super::refs::podman_name(src, "VolumeName")
}

/// `User=`/`Group=` of a volume: a number or `root` (quadlet reads any name or bad number
/// as 0, which is right only for `root`; rootlet refuses the others).
fn id(src: &Source, sec: &Index, key: &str) -> Result<Option<u32>, SourceError> {
    let Some(e) = sec.last(key) else {
        return Ok(None);
    };
    let v = unquote(&e.value);
    if v == "root" {
        return Ok(Some(0));
    }
    v.parse::<u32>().map(Some).map_err(|_| {
        src.err(
            e.line,
            format!(
                "{key}: `{v}` is not a numeric {} (quadlet 5.8 would silently use 0)",
                if key == "User" { "uid" } else { "gid" }
            ),
        )
    })
}

/// Translate a `.volume` source.
pub fn translate(src: &Source, ctx: &Context, name: String) -> Result<Generated, SourceError> {
    let sec = src.own();
    let mut warnings = Vec::new();
    let mut a = vec![ctx.podman.to_owned()];
    a.extend(values::global_args(src, ctx, &sec, &mut warnings)?);
    let globals = a.len() - 1;
    let ignore = ctx
        .podman_version
        .has(crate::podman::Version::CREATE_IGNORE);
    a.extend(["volume", "create"].map(str::to_owned));
    if ignore {
        a.push("--ignore".to_owned());
    }
    let mut r = Args {
        src,
        sec: &sec,
        ctx,
        a: a.into_iter().map(Cow::Owned).collect(),
        x: Extra {
            warnings,
            ..Extra::default()
        },
    };
    flags::apply(FLAGS, &mut r)?;
    let mut a: Vec<String> = r.a.into_iter().map(Cow::into_owned).collect();
    let Extra {
        mut warnings,
        deps,
        mounts_for,
        ..
    } = r.x;
    let pulls = driver(&sec) == Some("image");
    a.extend(values::podman_args(src, &sec, &mut warnings));
    a.push(volume_name(src));
    if !ignore {
        // podman < 4.4: no `--ignore`.
        a = super::service::create_if_missing(a, "volume", globals);
    }
    super::service::oneshot(
        src,
        ctx,
        Oneshot {
            argv: a,
            stop_post: None,
            pulls,
            remain: true,
            deps,
            mounts_for,
            warnings,
        },
        name,
    )
}

//! `X.volume` -> `X-volume.service`: a oneshot `podman volume create --ignore`
//! (quadlet 5.8's `ConvertVolume`); on podman < 4.4 the same command run only when the
//! volume is missing (`options::create_if_missing`).

use super::service::Oneshot;
use super::values::{self, boolean, last, unquote};
use super::{Context, Generated, Source};
use crate::error::SourceError;
use crate::unit::Index;

/// Every key of quadlet 5.8's `[Volume]`.
pub(crate) const KEYS: &[&str] = &[
    "ContainersConfModule",
    "Copy",
    "Device",
    "Driver",
    "GlobalArgs",
    "Group",
    "Image",
    "Label",
    "Options",
    "PodmanArgs",
    "ServiceName",
    "Type",
    "User",
    "VolumeName",
];

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
    let empty = crate::unit::Section::new("Volume");
    let sec = Index::new(src.file.section("Volume").unwrap_or(&empty));
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
    let driver = sec.last("Driver").map(|e| unquote(&e.value));
    if let Some(d) = driver {
        a.extend(["--driver".to_owned(), d.to_owned()]);
    }
    let mut mounts_for = Vec::new();
    let mut deps = Vec::new();
    let mut pulls = false;
    // `o=` mount options, or `image=` for the image driver.
    let mut opts = String::new();
    if driver == Some("image") {
        let Some((e, image)) = last(&sec, "Image") else {
            let line = sec.last("Driver").map_or(0, |e| e.line);
            return Err(src.err(line, "Driver=image needs Image="));
        };
        warnings.extend(super::options::short_name_warning(
            src,
            e,
            image,
            super::SourceKind::Image,
        ));
        // The image may have to be pulled: this one waits for the network.
        pulls = true;
        // `X.image`/`X.build`: the image that source pulls or builds, after its unit.
        let image = match super::refs::image(src, ctx, e, image)? {
            Some((name, unit)) => {
                deps.push(unit);
                name
            }
            None => image.to_owned(),
        };
        opts = super::concat(&["image=", &image]);
    } else {
        if let Some(e) = sec.last("Image").filter(|e| !e.value.is_empty()) {
            return Err(src.err(e.line, "Image= needs Driver=image"));
        }
        let mut o: Vec<String> = Vec::new();
        if let Some(u) = id(src, &sec, "User")? {
            o.push(format!("uid={u}"));
        }
        if let Some(g) = id(src, &sec, "Group")? {
            o.push(format!("gid={g}"));
        }
        if let Some(e) = sec.last("Copy") {
            let copy = if boolean(src, e)? { "copy" } else { "nocopy" };
            a.extend(["--opt".to_owned(), copy.to_owned()]);
        }
        let device = last(&sec, "Device");
        if let Some((_, d)) = device {
            a.extend(["--opt".to_owned(), super::concat(&["device=", d])]);
        }
        if let Some((e, t)) = last(&sec, "Type") {
            let Some((_, d)) = device else {
                return Err(src.err(e.line, "Type= needs Device="));
            };
            a.extend(["--opt".to_owned(), super::concat(&["type=", t])]);
            if t == "bind" {
                // The bind source must be mounted before the volume is made.
                mounts_for.push(d.to_owned());
            }
        }
        if let Some((e, m)) = last(&sec, "Options") {
            if device.is_none() {
                return Err(src.err(e.line, "Options= needs Device="));
            }
            o.push(m.to_owned());
        }
        if !o.is_empty() {
            opts = super::concat(&["o=", &o.join(",")]);
        }
    }
    if !opts.is_empty() {
        a.extend(["--opt".to_owned(), opts]);
    }
    let kv = values::key_values(src, sec.list("Label"), &mut warnings);
    for (k, v) in kv {
        a.push("--label".to_owned());
        a.push(match v {
            Some(v) => super::concat(&[&k, "=", &v]),
            None => k,
        });
    }
    a.extend(values::podman_args(src, &sec, &mut warnings));
    a.push(volume_name(src));
    if !ignore {
        // podman < 4.4: no `--ignore`.
        a = super::options::create_if_missing(a, "volume", globals);
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

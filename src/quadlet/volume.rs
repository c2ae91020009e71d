//! `X.volume` -> `X-volume.service`: a oneshot `podman volume create --ignore`.

use super::values::{boolean, key_values, single};
use super::{unknown_key, Context, Generated, Source};
use crate::error::SourceError;
use std::collections::BTreeMap;

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
    "Type",
    "User",
    "VolumeName",
];

/// The `[Volume]` section, typed.
#[derive(Debug, Clone, Default)]
pub struct Volume {
    pub name: String,
    pub copy: bool,
    pub device: Option<String>,
    pub fs_type: Option<String>,
    pub driver: Option<String>,
    pub image: Option<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub options: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub podman_args: Vec<String>,
    pub global_args: Vec<String>,
}

/// The podman volume name of a `.volume` source: `VolumeName=` or `systemd-X`.
pub fn volume_name(src: &Source) -> String {
    src.file
        .section("Volume")
        .and_then(|s| s.last("VolumeName"))
        .filter(|e| !e.value.is_empty())
        .map(|e| e.value.clone())
        .unwrap_or_else(|| format!("systemd-{}", src.stem()))
}

impl Volume {
    pub fn from_source(src: &Source) -> Result<Volume, SourceError> {
        let empty = crate::unit::Section::new("Volume");
        let sec = src.file.section("Volume").unwrap_or(&empty);
        for e in &sec.entries {
            if !KEYS.contains(&&*e.key) {
                return Err(unknown_key(src, "Volume", e, KEYS));
            }
        }
        let one = |k: &str| -> Result<Option<String>, SourceError> {
            sec.last(k)
                .filter(|e| !e.value.is_empty())
                .map(|e| single(src, e))
                .transpose()
        };
        let mut v = Volume {
            name: volume_name(src),
            copy: sec
                .last("Copy")
                .map(|e| boolean(src, e))
                .unwrap_or(Ok(true))?,
            device: one("Device")?,
            fs_type: one("Type")?,
            driver: one("Driver")?,
            image: one("Image")?,
            user: one("User")?,
            group: one("Group")?,
            options: sec
                .last("Options")
                .filter(|e| !e.value.is_empty())
                .map(|e| e.value.clone()),
            labels: key_values(src, sec.list("Label"))?,
            ..Volume::default()
        };
        if v.driver.as_deref() == Some("image") && v.image.is_none() {
            let line = sec.last("Driver").map(|e| e.line).unwrap_or(0);
            return Err(src.err(line, "Driver=image needs Image="));
        }
        if v.image.is_some() && v.driver.as_deref() != Some("image") {
            let line = sec.last("Image").map(|e| e.line).unwrap_or(0);
            return Err(src.err(line, "Image= needs Driver=image"));
        }
        (v.podman_args, v.global_args) =
            super::values::extra_args(src, &crate::unit::Index::new(sec))?;
        Ok(v)
    }

    pub fn create_argv(&self, podman: &str) -> Vec<String> {
        let mut a = vec![podman.to_owned()];
        a.extend(self.global_args.iter().cloned());
        a.extend(["volume".into(), "create".into(), "--ignore".into()]);
        if let Some(d) = &self.driver {
            a.extend(["--driver".into(), d.clone()]);
        }
        if let Some(i) = &self.image {
            a.extend(["--opt".into(), format!("image={i}")]);
        }
        if !self.copy {
            a.extend(["--opt".into(), "nocopy".into()]);
        }
        if let Some(d) = &self.device {
            a.extend(["--opt".into(), format!("device={d}")]);
        }
        if let Some(t) = &self.fs_type {
            a.extend(["--opt".into(), format!("type={t}")]);
        }
        let mut o: Vec<String> = Vec::new();
        if let Some(u) = &self.user {
            o.push(format!("uid={u}"));
        }
        if let Some(g) = &self.group {
            o.push(format!("gid={g}"));
        }
        if let Some(opts) = &self.options {
            o.push(opts.clone());
        }
        if !o.is_empty() {
            a.extend(["--opt".into(), format!("o={}", o.join(","))]);
        }
        for (k, v) in &self.labels {
            a.extend(["--label".into(), format!("{k}={v}")]);
        }
        a.extend(self.podman_args.iter().cloned());
        a.push(self.name.clone());
        a
    }
}

/// Translate a `.volume` source.
pub fn translate(src: &Source, ctx: &Context, name: String) -> Result<Generated, SourceError> {
    let v = Volume::from_source(src)?;
    super::oneshot_create(src, ctx, &v.create_argv(ctx.podman), None, name)
}

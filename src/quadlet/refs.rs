//! References between sources: `Image=X.image`, `Image=X.build`, `Volume=X.volume:/d`,
//! `Network=X.network`, `Network=X.container`, `Pod=X.pod`,
//! `Mount=type=artifact,source=X.artifact`, `Requires=X.container`. Every one is looked
//! up here (podman's `unitsInfoMap`): the source must be on the search path of the run,
//! and what the reference stands for is the source's resource (its `resource` column in
//! [`TRANSLATIONS`](super::TRANSLATIONS): the image an `.image` pulls, the network a `.network`
//! makes, ...) and its unit, to be required and ordered after. A kind file never looks
//! at another kind's source itself.

use super::values::unquote;
use super::{concat, Context, Source, SourceKind};
use crate::error::SourceError;
use crate::unit::{Entry, UnitFile};
use std::borrow::Cow;

/// What a source makes that other sources name, and how to read its name.
pub struct Resource {
    /// The name other sources use for it (podman's): `None` when the source names none.
    pub name: fn(&Source) -> Option<String>,
    /// What the source lacks when `name` gives `None` ("no image (it has no Image=)").
    pub lacking: &'static str,
}

/// The error for `KEY=value` naming a `.ext` file the run does not have.
fn missing(src: &Source, e: &Entry, value: &str, kind: SourceKind) -> SourceError {
    src.err(
        e.line,
        format!(
            "{}: `{value}` names no .{} file on the search path",
            e.key,
            kind.extension()
        ),
    )
}

/// The source `value` (a file name of `kind`) that `e` of `src` names, read now if need
/// be; an error naming the key when it is missing or cannot be read.
pub(crate) fn source<'c>(
    src: &Source,
    ctx: &'c Context,
    e: &Entry,
    value: &str,
    kind: SourceKind,
) -> Result<Cow<'c, Source>, SourceError> {
    match ctx.find(value) {
        Some(Ok(s)) => Ok(s),
        Some(Err(err)) => Err(src.err(
            e.line,
            format!("{}: `{value}` cannot be read: {err}", e.key),
        )),
        None => Err(missing(src, e, value, kind)),
    }
}

/// `KEY=value` in `src` naming a source of one of the `accepted` kinds: the name of what
/// that source makes (its [`Resource`]) and its unit. `Ok(None)` when `value` names no
/// file of those kinds; an error naming the key when the file is missing, unreadable or
/// names nothing, where quadlet would pass text to podman.
pub(crate) fn resolve(
    src: &Source,
    ctx: &Context,
    e: &Entry,
    value: &str,
    accepted: &[SourceKind],
) -> Result<Option<(String, String)>, SourceError> {
    match SourceKind::from_file_name(value) {
        Some((kind, _)) if accepted.contains(&kind) => named(src, ctx, e, value, kind).map(Some),
        _ => Ok(None),
    }
}

/// [`resolve`] for a `value` known to be a file name of `kind`.
pub(crate) fn named(
    src: &Source,
    ctx: &Context,
    e: &Entry,
    value: &str,
    kind: SourceKind,
) -> Result<(String, String), SourceError> {
    let found = source(src, ctx, e, value, kind)?;
    let resource = super::kinds::of(kind).resource.as_ref();
    match resource.and_then(|r| (r.name)(&found)) {
        Some(name) => Ok((name, found.unit_name())),
        None => Err(src.err(
            e.line,
            format!(
                "{}: `{value}` names {}",
                e.key,
                resource.map_or("nothing other sources use", |r| r.lacking)
            ),
        )),
    }
}

/// An `Image=` that may name an `X.image` or an `X.build` source (quadlet's
/// `handleImageSource`): the image and the unit that makes it.
pub(crate) fn image(
    src: &Source,
    ctx: &Context,
    e: &Entry,
    value: &str,
) -> Result<Option<(String, String)>, SourceError> {
    misplaced(src, e, value, &[SourceKind::Artifact])?;
    resolve(src, ctx, e, value, &[SourceKind::Image, SourceKind::Build])
}

/// An error when `value` of `e` names a source of one of the `refused` kinds, which this
/// key does not take (quadlet passes the file name to podman as a name: surely not what
/// was meant).
pub(crate) fn misplaced(
    src: &Source,
    e: &Entry,
    value: &str,
    refused: &[SourceKind],
) -> Result<(), SourceError> {
    let Some((kind, _)) = SourceKind::from_file_name(value).filter(|(k, _)| refused.contains(k))
    else {
        return Ok(());
    };
    let taken_by = match kind {
        SourceKind::Image => "which only Mount=type=image takes",
        SourceKind::Build => "which only Image= takes (name the image it builds, its ImageTag=)",
        SourceKind::Artifact => "which only Mount=type=artifact takes",
        _ => "which this key does not take",
    };
    Err(src.err(
        e.line,
        format!(
            "{}: `{value}` is a .{} file, {taken_by}",
            e.key,
            kind.extension()
        ),
    ))
}

/// The podman name of what a `.network`, `.volume` or `.pod` source makes: `KEY=`
/// (`NetworkName=`, `VolumeName=`, `PodName=`) or `systemd-X`; templates (`X@.network`)
/// and their instances name one per instance, `systemd-X-%i` (quadlet 5.7+).
pub(crate) fn podman_name(src: &Source, key: &str) -> String {
    let section = src.kind.section();
    let own = src
        .file
        .sections
        .iter()
        .filter(|s| s.name == section)
        .flat_map(|s| s.entries.iter().rev().find(|e| e.key == key))
        .last()
        .map(|e| unquote(&e.value))
        .filter(|v| !v.is_empty());
    match own {
        Some(v) => v.to_owned(),
        None => match src.stem().split_once('@') {
            Some((p, _)) => concat(&["systemd-", p, "-%i"]),
            None => concat(&["systemd-", src.stem()]),
        },
    }
}

/// The unit of a referenced source file (`db.container`, `net.network`) for `key` of
/// `e`: the source must exist in this run. `Ok(None)` when `word` names no source file
/// at all (a plain unit name) or a `.socket` (a unit of that name).
pub(crate) fn dependency(
    src: &Source,
    ctx: &Context,
    e: &Entry,
    word: &str,
) -> Result<Option<String>, SourceError> {
    match SourceKind::from_file_name(word) {
        Some((k, stem)) if k != SourceKind::Socket => match ctx.find(word) {
            Some(Ok(s)) => Ok(Some(s.unit_name())),
            // It exists (its own error is reported with it): named by the file-name rule.
            Some(Err(_)) => Ok(Some(super::unit_name_for(k, stem))),
            None => Err(missing(src, e, word, k)),
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
        .filter(|e| super::keys::DEP_KEYS.contains(&&*e.key))
    {
        // Most values name plain units: nothing to look up.
        if !e.value.contains('.')
            || !e.value.split_whitespace().any(|w| {
                matches!(SourceKind::from_file_name(w), Some((k, _)) if k != SourceKind::Socket)
            })
        {
            continue;
        }
        let mut mapped: Vec<String> = Vec::new();
        for w in e.value.split_whitespace() {
            mapped.push(dependency(src, ctx, e, w)?.unwrap_or_else(|| w.to_owned()));
        }
        e.value = mapped.join(" ").into();
    }
    Ok(())
}

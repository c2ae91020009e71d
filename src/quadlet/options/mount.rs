//! `Mount=` (quadlet's `resolveContainerMountParams`): the value read and written back as
//! Go's encoding/csv does, its source resolved like `Volume=`'s.

use super::storage_source;
use crate::error::SourceError;
use crate::quadlet::flags::Extra;
use crate::quadlet::{concat, refs, Context, Source, SourceKind};
use crate::unit::Entry;

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
pub(crate) fn mount(
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
    if original.is_empty() {
        // No source: an anonymous volume (quadlet after 5.8; every podman rootlet runs
        // makes one for `--mount type=volume` without a source, so no version gate).
        // Other types need one. podman refuses a mount without a destination at start:
        // said here instead, which also keeps quadlet 5.8's error for `Mount=/a:/b`.
        if kind != "volume" {
            return Err(src.err(
                e.line,
                format!("Mount: `{m}`: source parameter is required for mount type {kind}"),
            ));
        }
        let dest = tokens.iter().any(|t| {
            matches!(
                t.split_once('=').map_or(t.as_str(), |(k, _)| k),
                "destination" | "dst" | "target"
            )
        });
        if !dest {
            return Err(src.err(
                e.line,
                format!("Mount: `{m}`: no source, and no destination for an anonymous volume"),
            ));
        }
        tokens.insert(0, concat(&["type=", &kind]));
        return Ok(csv_record(&tokens));
    }
    // An image mount's `X.image` is the image that source pulls (quadlet 5.8), an
    // artifact mount's `X.artifact` the artifact.
    let pulled = match kind.as_str() {
        "image" => refs::resolve(src, ctx, e, &original, &[SourceKind::Image])?,
        "artifact" => refs::resolve(src, ctx, e, &original, &[SourceKind::Artifact])?,
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
        tokens[i] = concat(&["source=", &resolved]);
    }
    tokens.insert(0, concat(&["type=", &kind]));
    Ok(csv_record(&tokens))
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
}

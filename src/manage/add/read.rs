//! Reading what `rootlet add` is given, before anything is checked or written: a source
//! file, a directory (one application) or a `.quadlets` bundle ([`read_path`]), or a
//! file's bytes ([`from_bytes`]).

use super::{bad, Incoming, Input};
use crate::error::SourceError;
use crate::manage::{kind_of, valid_app_name, valid_file_name, MAX_INPUT};
use crate::quadlet::SourceKind;
use std::path::{Path, PathBuf};

/// Every kind's extension, for messages (from [`crate::kind::KINDS`]).
fn kinds() -> String {
    crate::kind::extension_list(", ")
}

/// Check a name given to a source file (a file's own name, a `FileName=`, a URL's last
/// segment).
fn check_source_name(name: &str, origin: &Path, line: usize) -> Result<(), SourceError> {
    if !valid_file_name(name) {
        return Err(bad(
            origin,
            line,
            format!("{name:?}: not a usable file name"),
        ));
    }
    if kind_of(name).is_some() {
        return Ok(());
    }
    Err(bad(
        origin,
        line,
        format!(
            "{name}: not a quadlet file ({} or a .quadlets bundle)",
            kinds()
        ),
    ))
}

/// Read `path`: a source file, a `.quadlets` bundle, or a directory (an application of
/// its top-level files: sources checked, other files copied along as they are).
pub fn read_path(path: &Path) -> Result<Input, Vec<SourceError>> {
    let meta = std::fs::metadata(path).map_err(|e| vec![bad(path, 0, e.to_string())])?;
    if meta.is_dir() {
        return read_dir(path);
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| vec![bad(path, 0, "no usable file name")])?;
    let data = read(path)?;
    from_bytes(name, data, path)
}

fn read(path: &Path) -> Result<Vec<u8>, Vec<SourceError>> {
    let mut buf = Vec::new();
    crate::fsutil::read_regular(path, MAX_INPUT, &mut buf)
        .map_err(|e| vec![bad(path, 0, format!("cannot read: {e}"))])?;
    Ok(buf)
}

fn read_dir(dir: &Path) -> Result<Input, Vec<SourceError>> {
    let app = std::fs::canonicalize(dir)
        .ok()
        .and_then(|d| {
            d.components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(n) => n.to_str().map(str::to_owned),
                    _ => None,
                })
                .next_back()
        })
        .filter(|a| valid_app_name(a))
        .ok_or_else(|| vec![bad(dir, 0, "a directory without a usable name")])?;
    let rd = std::fs::read_dir(dir).map_err(|e| vec![bad(dir, 0, e.to_string())])?;
    let mut entries: Vec<(String, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .collect();
    entries.sort();
    let mut input = Input {
        app: Some(app),
        origin: dir.to_owned(),
        from_dir: true,
        ..Input::default()
    };
    let mut errors = Vec::new();
    for (name, path) in entries {
        if name.starts_with('.') {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            input
                .notes
                .push(format!("{}: dangling symlink, skipped", path.display()));
            continue;
        };
        if meta.is_dir() {
            input
                .notes
                .push(format!("{}: a directory, skipped", path.display()));
            continue;
        }
        if name.ends_with(".quadlets") {
            errors.push(bad(
                &path,
                0,
                "a .quadlets bundle inside a directory: add it on its own",
            ));
            continue;
        }
        if kind_of(&name).is_some() {
            if let Err(e) = check_source_name(&name, &path, 0) {
                errors.push(e);
                continue;
            }
        } else if !valid_file_name(&name) {
            errors.push(bad(&path, 0, "not a usable file name"));
            continue;
        }
        match read(&path) {
            Ok(data) => input.files.push(Incoming {
                name,
                data,
                origin: path,
                line_offset: 0,
            }),
            Err(e) => errors.extend(e),
        }
    }
    if input.files.iter().all(|f| kind_of(&f.name).is_none()) && errors.is_empty() {
        errors.push(bad(dir, 0, format!("no quadlet file ({}) in it", kinds())));
    }
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(errors)
    }
}

/// A file's content under `name` (a `.quadlets` bundle is split into its parts, one
/// application named after it); `origin` is for messages.
pub fn from_bytes(name: &str, data: Vec<u8>, origin: &Path) -> Result<Input, Vec<SourceError>> {
    if let Some(stem) = name.strip_suffix(".quadlets") {
        if !valid_app_name(stem) {
            return Err(vec![bad(origin, 0, "a bundle without a usable name")]);
        }
        let text = String::from_utf8(data).map_err(|_| vec![bad(origin, 0, "not UTF-8")])?;
        return Ok(Input {
            app: Some(stem.to_owned()),
            origin: origin.to_owned(),
            files: split_bundle(&text, origin)?,
            notes: Vec::new(),
            from_dir: false,
        });
    }
    check_source_name(name, origin, 0).map_err(|e| vec![e])?;
    Ok(Input {
        app: None,
        origin: origin.to_owned(),
        files: vec![Incoming {
            name: name.to_owned(),
            data,
            origin: origin.to_owned(),
            line_offset: 0,
        }],
        notes: Vec::new(),
        from_dir: false,
    })
}

/// The kind a bundle part is, from its first section (`[Container]` -> `container`).
fn kind_from_section(part: &str) -> Option<SourceKind> {
    let first = part
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))?;
    SourceKind::from_section(&first[1..first.len() - 1])
}

/// Split a `.quadlets` bundle: parts separated by lines `---`, each with a line
/// `# FileName=NAME` (NAME with its extension, or without it: then the part's first
/// section gives it, as podman does).
pub fn split_bundle(text: &str, origin: &Path) -> Result<Vec<Incoming>, Vec<SourceError>> {
    let mut parts: Vec<(usize, Vec<&str>)> = vec![(0, Vec::new())];
    for (i, line) in text.lines().enumerate() {
        if line.trim_end() == "---" {
            parts.push((i + 1, Vec::new()));
        } else if let Some((_, v)) = parts.last_mut() {
            v.push(line);
        }
    }
    let mut files: Vec<Incoming> = Vec::new();
    let mut errors = Vec::new();
    for (offset, lines) in parts {
        if lines.iter().all(|l| l.trim().is_empty()) {
            continue;
        }
        let body = lines.join("\n") + "\n";
        let first_line = offset + 1 + lines.iter().take_while(|l| l.trim().is_empty()).count();
        let named = lines.iter().enumerate().find_map(|(i, l)| {
            let l = l.trim();
            let rest = l.strip_prefix('#').or_else(|| l.strip_prefix(';'))?;
            let v = rest.trim_start().strip_prefix("FileName=")?;
            Some((i, v.trim().to_owned()))
        });
        let Some((at, mut name)) = named else {
            errors.push(bad(
                origin,
                first_line,
                "bundle part without a `# FileName=NAME` line",
            ));
            continue;
        };
        if kind_of(&name).is_none() && !name.contains('.') {
            match kind_from_section(&body) {
                Some(k) => name = format!("{name}.{}", k.extension()),
                None => {
                    errors.push(bad(
                        origin,
                        offset + at + 1,
                        format!(
                            "FileName={name}: no extension, and no {} section to tell the kind",
                            crate::kind::section_list(" or ")
                        ),
                    ));
                    continue;
                }
            }
        }
        if let Err(e) = check_source_name(&name, origin, offset + at + 1) {
            errors.push(e);
            continue;
        }
        if files.iter().any(|f| f.name == name) {
            errors.push(bad(
                origin,
                offset + at + 1,
                format!("{name} twice in the bundle"),
            ));
            continue;
        }
        files.push(Incoming {
            name,
            data: body.into_bytes(),
            origin: origin.to_owned(),
            line_offset: offset,
        });
    }
    if files.is_empty() && errors.is_empty() {
        errors.push(bad(origin, 0, "an empty bundle"));
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_split() {
        let text =
            "# FileName=web\n[Container]\nImage=x\n---\n# FileName=db.network\n[Network]\n---\n";
        let v = split_bundle(text, Path::new("a.quadlets")).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].name, "web.container");
        assert_eq!(v[1].name, "db.network");
        assert_eq!(v[1].line_offset, 4);
        let e = split_bundle(
            "[Container]\nImage=x\n---\n# FileName=b.volume\n[Volume]\n",
            Path::new("b.quadlets"),
        )
        .unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 1);
        let e = split_bundle("# FileName=../x.container\n", Path::new("c.quadlets")).unwrap_err();
        assert_eq!(e[0].line, 1);
    }

    /// Every kind's section tells a bundle part's kind (`[Artifact]` was refused).
    #[test]
    fn bundle_part_kind_from_every_section() {
        for k in crate::kind::KINDS {
            let text = format!("# FileName=x\n[{}]\n", k.section);
            let v = split_bundle(&text, Path::new("a.quadlets")).unwrap();
            assert_eq!(v[0].name, format!("x.{}", k.extension));
        }
    }
}

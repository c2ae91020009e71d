//! `X.build` -> `X-build.service`: a oneshot `podman build` (quadlet 5.8's
//! `ConvertBuild`), and `Image=X.build` in containers and volumes resolved to the image it
//! builds, its first `ImageTag=` (quadlet's `handleImageSource`).
//!
//! As in quadlet, the unit does not stay active after the build (no `RemainAfterExit=`):
//! every start of a unit that requires it builds again, which podman's layer cache makes
//! quick when nothing changed.

use super::flags::{self, Args, Extra, Flag};
use super::options::handle;
use super::service::Oneshot;
use super::values::{self, last, unquote, Split};
use super::{Context, Generated, Source};
use crate::error::SourceError;
use crate::unit::{Entry, Index};
use std::borrow::Cow;

/// The keys of quadlet 5.8's `[Build]` and their flags, in the order of `podman build`'s
/// argv (quadlet's; among the `Str` rows it is a Go map's, rootlet's is this one, sorted
/// by key).
pub(crate) const FLAGS: &[Flag] = &[
    Flag::Other(flags::COMMON),
    Flag::Other(&["File", "SetWorkingDirectory"]),
    // `--pull=VALUE` in one word (podman issue #24599: `--pull VALUE` reads VALUE as the
    // context).
    Flag::Custom(&["Pull"], |r| {
        if let Some((_, p)) = last(r.sec, "Pull") {
            r.a.push(super::concat(&["--pull=", p]).into());
        }
        Ok(())
    }),
    Flag::Str("Arch", "--arch"),
    Flag::Str("AuthFile", "--authfile"),
    Flag::Str("IgnoreFile", "--ignorefile"),
    Flag::Str("Retry", "--retry"),
    Flag::Str("RetryDelay", "--retry-delay"),
    Flag::Str("Target", "--target"),
    Flag::Str("Variant", "--variant"),
    Flag::Bool("ForceRM", "--force-rm"),
    Flag::Bool("TLSVerify", "--tls-verify"),
    Flag::Custom(&["ImageTag"], |r| {
        for (_, t) in tags(r.sec) {
            flags::push(&mut r.a, "--tag", t);
        }
        Ok(())
    }),
    Flag::All("DNS", "--dns"),
    Flag::All("DNSOption", "--dns-option"),
    Flag::All("DNSSearch", "--dns-search"),
    Flag::All("GroupAdd", "--group-add"),
    // `KEY=VALUE` lists, split like a command line (the last value of a key wins).
    Flag::Custom(&["Annotation"], |r| {
        handle::key_values(r, "Annotation", "--annotation")
    }),
    Flag::Custom(&["BuildArg"], |r| {
        handle::key_values(r, "BuildArg", "--build-arg")
    }),
    Flag::Custom(&["Environment"], |r| {
        handle::key_values(r, "Environment", "--env")
    }),
    Flag::Custom(&["Label"], |r| handle::key_values(r, "Label", "--label")),
    Flag::Custom(&["Network"], handle::network),
    Flag::Custom(&["Secret"], |r| {
        r.words("Secret", Split::Args, "--secret");
        Ok(())
    }),
    Flag::Custom(&["Volume"], handle::volumes),
];

/// The image names of a `.build` source (`ImageTag=`, each unquoted), in order.
fn tags<'a>(sec: &Index<'a>) -> Vec<(&'a Entry, &'a str)> {
    sec.list("ImageTag")
        .iter()
        .map(|e| (*e, unquote(&e.value)))
        .collect()
}

/// The name other sources use for the image of `X.build`: its first `ImageTag=`
/// (quadlet's `GetBuiltImageName`).
pub fn image_name(src: &Source) -> Option<String> {
    let sec = src.own();
    tags(&sec)
        .first()
        .map(|(_, v)| (*v).to_owned())
        .filter(|v| !v.is_empty())
}

/// A remote build context or Containerfile, which `podman build` fetches itself (quadlet's
/// `isURL`, read as its manual says: `http(s)://`, `git://`, `github.com/`).
fn is_url(s: &str) -> bool {
    ["http://", "https://", "git://", "github.com/"]
        .iter()
        .any(|p| s.starts_with(p))
}

/// A path quadlet does not make absolute: absolute, a `%` specifier, or a URL.
fn anchored(p: &str) -> bool {
    p.starts_with('/') || (p.starts_with('%') && !p.starts_with("%%")) || is_url(p)
}

/// The directory of a path as Go's `filepath.Dir` gives it (the path is already clean).
fn parent(p: &str) -> String {
    match p.rfind('/') {
        Some(0) => "/".to_owned(),
        Some(i) => p[..i].to_owned(),
        None => ".".to_owned(),
    }
}

/// `SetWorkingDirectory=` (quadlet's `handleSetWorkingDirectory`): the build context
/// passed to podman, if it is one, and the unit's `WorkingDirectory=` to add, if any.
fn working_directory(
    src: &Source,
    sec: &Index,
    file: Option<(&Entry, &str)>,
    user_wd: bool,
) -> Result<(Option<String>, Option<String>), SourceError> {
    let Some((e, v)) = last(sec, "SetWorkingDirectory") else {
        return Ok((None, None));
    };
    let (relative_to, context) = match v.to_ascii_lowercase().as_str() {
        "yaml" => return Err(src.err(
            e.line,
            "SetWorkingDirectory: `yaml` is only for .kube files (use unit, file, a path or a URL)",
        )),
        "file" => {
            let Some((_, f)) = file else {
                return Err(src.err(
                    e.line,
                    "SetWorkingDirectory=file needs File= (the Containerfile whose directory is the context)",
                ));
            };
            if is_url(f) {
                // quadlet would make a directory of the URL's text.
                return Err(src.err(
                    e.line,
                    format!("SetWorkingDirectory=file: File= is a URL (`{f}`), which has no directory on this host: set SetWorkingDirectory= to the context"),
                ));
            }
            (Some(f), None)
        }
        "unit" => (Some(""), None),
        _ if v.starts_with('/') => (None, Some(v)),
        _ => (Some(""), Some(v)),
    };
    if let Some(rel) = relative_to {
        if !context.is_some_and(is_url) {
            // A WorkingDirectory= of the user's own wins (and replaces a relative context).
            if user_wd {
                return Ok((None, None));
            }
            // quadlet's `getAbsolutePath`: a `%` specifier or an absolute path as it is,
            // anything else (`~` included) taken against the source's directory.
            let dir = src.path.parent().unwrap_or(std::path::Path::new("/"));
            let dir = super::paths::clean_path(&dir.to_string_lossy().replace('%', "%%"));
            let wd = if rel.is_empty() {
                dir
            } else if rel.starts_with('/') {
                parent(&super::paths::clean_path(rel))
            } else if anchored(rel) {
                parent(rel)
            } else {
                parent(&super::paths::clean_path(&super::concat(&[&dir, "/", rel])))
            };
            return Ok((context.map(str::to_owned), Some(wd)));
        }
    }
    Ok((context.map(str::to_owned), None))
}

/// `ImageTag=`: at least one, none empty.
fn check_tags(src: &Source, sec: &Index, section_line: usize) -> Result<(), SourceError> {
    let tags = tags(sec);
    if tags.is_empty() {
        return Err(src.err(
            section_line,
            "[Build] needs ImageTag= (the name of the image it builds)",
        ));
    }
    match tags.iter().find(|(_, v)| v.is_empty()) {
        Some((e, _)) => Err(src.err(e.line, "ImageTag: an empty name (\"\")")),
        None => Ok(()),
    }
}

/// A relative `File=` (or none) without a directory to take it from.
fn relative_file(src: &Source, file: Option<(&Entry, &str)>, section_line: usize) -> SourceError {
    let (line, f) = file.map_or((section_line, ""), |(e, f)| (e.line, f));
    src.err(
        line,
        format!("File: `{f}` is a relative path: it needs SetWorkingDirectory= (unit, file, or the context directory)"),
    )
}

/// The source's own `[Service] WorkingDirectory=`, if it sets one.
fn own_working_directory(src: &Source) -> Option<String> {
    src.file
        .sections
        .iter()
        .filter(|s| s.name == "Service")
        .rev()
        .find_map(|s| s.last("WorkingDirectory"))
        .map(|e| unquote(&e.value).to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether nothing in the build can reach the network, but for a remote context: no pull
/// (`Pull=never`) and no network for RUN steps (only `Network=none`).
fn local_only(sec: &Index) -> bool {
    let nets = sec.list("Network");
    let no_net = !nets.is_empty() && nets.iter().all(|e| unquote(&e.value) == "none");
    let no_pull = last(sec, "Pull").is_some_and(|(_, p)| {
        p.trim().eq_ignore_ascii_case("never") || p.trim().eq_ignore_ascii_case("false")
    });
    no_net && no_pull
}

/// Translate a `.build` source.
pub fn translate(src: &Source, ctx: &Context, name: String) -> Result<Generated, SourceError> {
    let sec = src.own();
    let section_line = src.file.section("Build").map_or(0, |s| s.line);
    check_tags(src, &sec, section_line)?;
    let mut r = Args {
        src,
        sec: &sec,
        ctx,
        a: vec![ctx.podman.into()],
        x: Extra::default(),
    };
    let global = values::global_args(src, ctx, &sec, &mut r.x.warnings)?;
    r.a.extend(global.into_iter().map(Cow::Owned));
    r.a.push("build".into());
    flags::apply(FLAGS, &mut r)?;
    let (mut a, mut x) = (r.a, r.x);

    let file = last(&sec, "File");
    let user_wd = own_working_directory(src);
    let (context, added_wd) = working_directory(src, &sec, file, user_wd.is_some())?;
    let wd = user_wd.or_else(|| added_wd.clone());
    if wd.is_none() && file.is_none() && context.is_none() {
        return Err(src.err(
            section_line,
            "[Build] needs File= (the Containerfile) or SetWorkingDirectory= (the build context)",
        ));
    }
    if let Some((_, f)) = file {
        a.extend(["--file".into(), f.into()]);
    }
    a.extend(
        values::podman_args(src, &sec, &mut x.warnings)
            .into_iter()
            .map(Cow::Owned),
    );
    // The context is the last argument.
    match (&context, file) {
        (Some(c), _) => a.push(c.clone().into()),
        (None, Some((_, f))) if anchored(f) => {}
        (None, f) => match &wd {
            Some(w) => a.push(w.clone().into()),
            None => return Err(relative_file(src, f, section_line)),
        },
    }

    let remote = context.as_deref().is_some_and(is_url) || file.is_some_and(|(_, f)| is_url(f));
    let offline = !remote && local_only(&sec);

    let mut g = super::service::oneshot(
        src,
        ctx,
        Oneshot {
            argv: a.into_iter().map(Cow::into_owned).collect(),
            stop_post: None,
            pulls: !offline,
            remain: false,
            deps: x.deps,
            mounts_for: x.mounts_for,
            warnings: x.warnings,
        },
        name,
    )?;
    if let Some(w) = added_wd {
        let svc = g.file.section_mut("Service");
        // Before ExecStart=, where quadlet writes it.
        let at = svc
            .entries
            .iter()
            .position(|e| e.key == "ExecStart")
            .unwrap_or(svc.entries.len());
        let wd = Entry {
            key: "WorkingDirectory".into(),
            value: w.into(),
            line: 0,
        };
        svc.entries.insert(at, wd);
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit::UnitFile;
    use std::collections::BTreeMap;

    /// The `[Service]` `WorkingDirectory=` and `ExecStart=` of `/q/b/x.build`, or the error.
    fn unit(text: &str) -> Result<(Option<String>, String), String> {
        let src = Source {
            path: "/q/b/x.build".into(),
            name: "x.build".into(),
            kind: super::super::SourceKind::Build,
            file: UnitFile::parse(text).unwrap(),
        };
        let sources = BTreeMap::new();
        let sockets = BTreeMap::new();
        let defaults = super::super::Defaults::default();
        let v = crate::podman::Lazy::new("/usr/bin/podman", crate::podman::Target::Newest);
        let ctx = Context {
            podman: "/usr/bin/podman",
            podman_version: &v,
            defaults: &defaults,
            sources: &sources,
            sockets_for: &sockets,
            pod_members: &sockets,
            load: None,
        };
        let g = translate(&src, &ctx, "x-build.service".into()).map_err(|e| e.to_string())?;
        let svc = g.file.section("Service").unwrap();
        Ok((
            svc.last("WorkingDirectory").map(|e| e.value.to_string()),
            svc.last("ExecStart").unwrap().value.to_string(),
        ))
    }

    #[test]
    fn working_directory_like_quadlet() {
        let wd = |t: &str| unit(t).unwrap().0;
        let t = "[Build]\nImageTag=localhost/x\nSetWorkingDirectory=file\nFile=";
        assert_eq!(
            wd(&format!("{t}../c/Containerfile\n")).as_deref(),
            Some("/q/c")
        );
        assert_eq!(wd(&format!("{t}~\n")).as_deref(), Some("/q/b"));
        assert_eq!(
            wd(&format!("{t}//srv//app/Cf\n")).as_deref(),
            Some("/srv/app")
        );
        assert_eq!(wd(&format!("{t}%h/x/Cf\n")).as_deref(), Some("%h/x"));
        // A relative context is taken in the unit's directory; an absolute one is not.
        let (w, cmd) = unit("[Build]\nImageTag=localhost/x\nSetWorkingDirectory=src\n").unwrap();
        assert_eq!(w.as_deref(), Some("/q/b"));
        assert!(cmd.ends_with(" src"), "{cmd}");
        let (w, cmd) = unit("[Build]\nImageTag=localhost/x\nSetWorkingDirectory=/c\n").unwrap();
        assert_eq!(w, None);
        assert!(cmd.ends_with(" /c"), "{cmd}");
        // The user's WorkingDirectory= wins, and is the context.
        let (w, cmd) = unit(
            "[Build]\nImageTag=localhost/x\nSetWorkingDirectory=src\n[Service]\nWorkingDirectory=/w\n",
        )
        .unwrap();
        assert_eq!(w.as_deref(), Some("/w"));
        assert!(cmd.ends_with("--tag localhost/x /w"), "{cmd}");
        let e = unit("[Build]\nImageTag=localhost/x\nFile=Containerfile\n").unwrap_err();
        assert!(
            e.contains("x.build:3: File: `Containerfile` is a relative path"),
            "{e}"
        );
    }

    #[test]
    fn urls_and_parents() {
        assert!(is_url("https://x/y.git"));
        assert!(is_url("git://git@h/r"));
        assert!(is_url("github.com/containers/PodmanHello.git"));
        assert!(!is_url("httpdir"));
        assert!(!is_url("./github.com/x"));
        assert_eq!(parent("/a/b/Containerfile"), "/a/b");
        assert_eq!(parent("/Containerfile"), "/");
        assert_eq!(parent("%h/x/Containerfile"), "%h/x");
        assert!(anchored("%h/x"));
        assert!(!anchored("%%x"));
        assert!(!anchored("Containerfile"));
    }
}

//! Bind-mount sources that do not exist on the host, for `rootlet check` ([`host_paths`]).

use crate::error::SourceError;
use crate::quadlet::Source;

/// `rootlet check` only: each bind-mount source (`Volume=/srv/www:/usr/share/nginx/html`,
/// `Mount=type=bind,source=/srv/www,...`) that does not exist on the host. podman does
/// not create it: the container fails to start (`statfs /srv/www: no such file or
/// directory`), and systemd restarts it until it gives up. An error of `check`; the
/// generator still makes the unit, as quadlet does: the directory may be made before the
/// unit starts, and the generator runs at boot, when a mount may not be there yet. Only
/// absolute paths, and `%h/...` (the home of the user who runs `check`, as of the user
/// manager that starts the unit); other specifiers and paths relative to the source are
/// not looked at.
pub(in crate::generator) fn host_paths(src: &Source) -> Vec<SourceError> {
    let own = src.kind.section();
    let home = crate::env::var_abs("HOME");
    let mut out = Vec::new();
    for s in src.file.sections.iter().filter(|s| s.name == own) {
        for e in &s.entries {
            let path = match &*e.key {
                "Volume" => e.value.split(':').next().filter(|p| p.contains('/')),
                "Mount" => bind_source(&e.value),
                _ => None,
            };
            let Some(path) = path else { continue };
            let host = match path.strip_prefix("%h/") {
                Some(rest) => match &home {
                    Some(h) => h.join(rest),
                    None => continue,
                },
                None if path.starts_with('/') => std::path::PathBuf::from(path),
                None => continue,
            };
            if host.to_str().map_or(true, |h| h.contains('%')) || host.exists() {
                continue;
            }
            out.push(src.err(
                e.line,
                format!(
                    "{}=: the host path {} does not exist: podman fails to start the \
                     container (\"statfs: no such file or directory\"); create it (the unit \
                     is generated all the same)",
                    e.key,
                    crate::error::show_path(&host)
                ),
            ));
        }
    }
    out
}

/// The `source=` (or `src=`) of a `Mount=type=bind,...` value.
fn bind_source(value: &str) -> Option<&str> {
    let opts = || value.split(',').filter_map(|o| o.trim().split_once('='));
    if !opts().any(|(k, v)| k == "type" && v == "bind") {
        return None;
    }
    opts()
        .find(|(k, _)| *k == "source" || *k == "src")
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::check::tests::source;

    #[test]
    fn bind_sources_that_do_not_exist() {
        let src = source(
            "a.container",
            "[Container]\nImage=x\nVolume=/nonexistent-rootlet/a:/a\nVolume=/tmp:/t\n\
             Volume=data:/d\nVolume=/nonexistent-rootlet/%i:/i\n\
             Mount=type=bind,src=/nonexistent-rootlet/b,dst=/b\n\
             Mount=type=volume,source=/nonexistent-rootlet/c,destination=/c\n\
             Volume=./rel:/r\n",
        );
        let lines: Vec<usize> = host_paths(&src).iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 7]);
        assert!(host_paths(&src)[0]
            .message
            .contains("the host path /nonexistent-rootlet/a does not exist"));
    }
}

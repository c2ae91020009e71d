//! Pods: podman gives every pod an infra container, whose image it builds locally from
//! `catatonit` (Debian's podman 4.3 and later do, unless `infra_image` is set in
//! containers.conf). Without catatonit every `podman pod create` fails, so every `.pod`
//! unit and the containers bound to it. Checked only when the user's sources use pods.

use super::{Env, Finding};
use crate::quadlet::SourceKind;
use crate::search;
use crate::unit::UnitFile;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where podman looks for its helper programs (containers.conf's default
/// `helper_binaries_dir`), before `PATH`.
const HELPER_DIRS: &[&str] = &[
    "/usr/local/libexec/podman",
    "/usr/local/lib/podman",
    "/usr/libexec/podman",
    "/usr/lib/podman",
];

/// Whether a source uses pods: a `.pod`, or a container with `Pod=` (in the file or a
/// drop-in). Unreadable files are skipped: `rootlet.sources` reports them.
fn uses_pods(
    path: &Path,
    name: &str,
    kind: SourceKind,
    dropin_dirs: &HashMap<String, Vec<PathBuf>>,
) -> bool {
    match kind {
        SourceKind::Pod => return true,
        SourceKind::Container => {}
        _ => return false,
    }
    let mut files = vec![path.to_owned()];
    files.extend(search::dropins(name, dropin_dirs));
    files.iter().any(|f| {
        let mut data = Vec::new();
        crate::fsutil::read_regular(f, crate::generator::MAX_SOURCE, &mut data)
            .ok()
            .and_then(|_| UnitFile::parse_bytes(&data).ok())
            .is_some_and(|u| {
                u.sections
                    .iter()
                    .filter(|s| s.name == "Container")
                    .any(|s| {
                        s.entries
                            .iter()
                            .any(|e| e.key == "Pod" && !e.value.is_empty())
                    })
            })
    })
}

/// catatonit where podman finds it, if anywhere.
fn catatonit(env: &Env) -> Option<PathBuf> {
    HELPER_DIRS
        .iter()
        .map(|d| env.sys(d).join("catatonit"))
        .find(|p| super::is_executable(p))
        .or_else(|| env.find_program("catatonit"))
}

pub fn check(env: &Env, out: &mut Vec<Finding>) {
    let disc = search::discover(&env.source_roots());
    let users: Vec<&str> = disc
        .sources
        .iter()
        .filter(|f| uses_pods(&f.path, &f.name, f.kind, &disc.dropin_dirs))
        .map(|f| f.name.as_str())
        .collect();
    if users.is_empty() {
        return;
    }
    let named = match users.as_slice() {
        [one] => (*one).to_owned(),
        [first, rest @ ..] => format!("{first} and {} more", rest.len()),
        [] => String::new(),
    };
    match catatonit(env) {
        Some(p) => out.push(Finding::ok(
            "runtime.pod-infra",
            format!(
                "pods ({named}): catatonit for their infra image at {}",
                env.logical(&p)
            ),
        )),
        None => out.push(Finding::warning(
            "runtime.pod-infra",
            format!(
                "pods ({named}), but catatonit is not installed: podman builds each pod's infra image from it, so `podman pod create` fails and with it the pod's unit and its containers"
            ),
            "sudo apt install catatonit\n\
             or use a ready-made infra image: put infra_image = \"IMAGE\" under [engine] in ~/.config/containers/containers.conf",
        )),
    }
}

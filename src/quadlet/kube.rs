//! `X.kube` -> `X.service`: `podman kube play --replace --service-container=true` of the
//! `Yaml=` files, `podman kube down` of them after the service stops (quadlet 5.8's
//! `ConvertKube`, argument for argument). `Type=notify` with `NotifyAccess=all`: podman
//! sends `READY=1` with `MAINPID=` of the service container's conmon once the pods run.
//!
//! Its unit is named like a container's (`X.kube` and `X.container` are both
//! `X.service`): the generator settles that clash like any other. It waits for the network
//! (`kube play` pulls the images the YAML names).
//!
//! Flags older podmans lack (Debian 12 ships 4.3.1): left out where podman's behaviour
//! without them is what the key asks (`KubeDownForce=false`, `ExitCodePropagation=none`),
//! refused with the version needed otherwise.

use super::container::{self, Argv, Extra};
use super::values::{self, boolean, last, single, unquote, Split};
use super::{host_path, Context, Generated, Source};
use crate::error::SourceError;
use crate::exec;
use crate::podman::Version;
use crate::unit::{Entry, Index, Section};
use std::borrow::Cow;

/// Every key of quadlet 5.8's `[Kube]` (the deprecated `Remap*` ones included).
pub(crate) const KEYS: &[&str] = &[
    "AutoUpdate",
    "ConfigMap",
    "ContainersConfModule",
    "ExitCodePropagation",
    "GlobalArgs",
    "KubeDownForce",
    "LogDriver",
    "LogOpt",
    "Network",
    "PodmanArgs",
    "PublishPort",
    "RemapGid",
    "RemapUid",
    "RemapUidSize",
    "RemapUsers",
    "ServiceName",
    "SetWorkingDirectory",
    "UserNS",
    "Yaml",
];

/// `Err` naming `e` when the podman of this run is older than `need` (asked only here,
/// when a source uses the feature).
fn needs(
    src: &Source,
    ctx: &Context,
    e: &Entry,
    need: Version,
    what: &str,
    instead: &str,
) -> Result<(), SourceError> {
    match ctx.podman_version.get() {
        Some(have) if have < need => Err(src.err(
            e.line,
            format!(
                "{}: {what} needs podman {need} or newer, podman is {have}: {instead}",
                e.key
            ),
        )),
        _ => Ok(()),
    }
}

/// Whether the podman of this run is older than `v`.
fn older(ctx: &Context, v: Version) -> bool {
    !ctx.podman_version.has(v)
}

/// Set `key` in `sec`: the last assignment gets `value`, or one is added (quadlet's `Set`).
fn set(sec: &mut Section, key: &'static str, value: &str) {
    match sec.entries.iter_mut().rev().find(|e| e.key == key) {
        Some(e) => value.clone_into(&mut e.value),
        None => sec.add(key, value),
    }
}

/// The directory of a path (Go's `filepath.Dir` of an absolute path; `None` for a path
/// without a directory, as a lone specifier).
fn dir_of(p: &str) -> Option<&str> {
    match p.rsplit_once('/') {
        Some(("", _)) => Some("/"),
        Some((d, _)) => Some(d),
        None => None,
    }
}

/// `SetWorkingDirectory=`: `WorkingDirectory=` of the YAML file's or the source's
/// directory, unless `[Service]` sets one (quadlet's `handleSetWorkingDirectory`).
fn working_directory(
    src: &Source,
    sec: &Index,
    yamls: &[String],
) -> Result<Option<String>, SourceError> {
    let Some((e, v)) = last(sec, "SetWorkingDirectory") else {
        return Ok(None);
    };
    let file = match v.to_ascii_lowercase().as_str() {
        "yaml" => match yamls {
            [one] => one.clone(),
            _ => return Err(src.err(
                e.line,
                "SetWorkingDirectory=yaml is only supported when a single Yaml key is provided \
                     (use SetWorkingDirectory=unit, or WorkingDirectory= in [Service])",
            )),
        },
        "unit" => container::escape_specifiers(&src.path.to_string_lossy()),
        _ => {
            return Err(src.err(
                e.line,
                format!("SetWorkingDirectory: `{v}` is neither `yaml` nor `unit`"),
            ))
        }
    };
    let own = src
        .file
        .section("Service")
        .and_then(|s| s.last("WorkingDirectory"))
        .is_some_and(|w| !unquote(&w.value).is_empty());
    if own {
        return Ok(None);
    }
    match dir_of(&file) {
        Some(d) => Ok(Some(d.to_owned())),
        None => Err(src.err(
            e.line,
            format!("SetWorkingDirectory: the directory of `{file}` is not known"),
        )),
    }
}

/// Translate a `.kube` source.
pub fn translate(src: &Source, ctx: &Context, name: String) -> Result<Generated, SourceError> {
    let empty = Section::new("Kube");
    let section = src.file.section("Kube");
    let sec = Index::new(section.unwrap_or(&empty));
    let mut x = Extra::default();

    let yaml_entries = sec.list("Yaml");
    let yamls: Vec<String> = values::all_words(src, yaml_entries, Split::Strv, &mut x.warnings)
        .iter()
        .map(|p| host_path(src, p))
        .collect();
    let Some(first_yaml) = yaml_entries.first() else {
        return Err(src.err(
            section.map_or(0, |s| s.line),
            "[Kube] needs Yaml= (the Kubernetes YAML file to play)",
        ));
    };
    if yamls.is_empty() {
        return Err(src.err(first_yaml.line, "Yaml: no file named"));
    }
    if let Some(have) = ctx.podman_version.get().filter(|v| *v < Version::KUBE) {
        return Err(src.err(
            first_yaml.line,
            format!(
                "a .kube file needs podman {} or newer (`podman kube play`, `kube down`), podman is {have}",
                Version::KUBE
            ),
        ));
    }
    if yamls.len() > 1 {
        let e = yaml_entries.last().copied().unwrap_or(first_yaml);
        needs(
            src,
            ctx,
            e,
            Version::KUBE_FILES,
            "more than one YAML file (`podman kube play FILE FILE...`)",
            "one .kube file per YAML file, or one YAML file with several documents (`---`)",
        )?;
    }

    // [Service] keys the user may set, checked as quadlet does.
    let svc_user = src.file.section("Service");
    let svc_last = |k: &str| svc_user.and_then(|s| s.last(k));
    if let Some(e) = svc_last("KillMode") {
        if e.value != "mixed" && e.value != "control-group" {
            return Err(src.err(
                e.line,
                format!(
                    "KillMode: `{}` is not allowed for a .kube file (use mixed or control-group)",
                    e.value
                ),
            ));
        }
    }
    let oneshot = match svc_last("Type") {
        None => false,
        Some(e) => match e.value.as_str() {
            "notify" => false,
            "oneshot" => true,
            v => {
                return Err(src.err(
                    e.line,
                    format!("Type: `{v}` is not allowed for a .kube file (use notify or oneshot)"),
                ))
            }
        },
    };

    let podman = ctx.podman;
    let global = values::global_args(src, ctx, &sec, &mut x.warnings)?;
    let mut a: Argv = Vec::with_capacity(16);
    a.extend(global.iter().cloned().map(Cow::Owned));
    a.extend(["kube", "play", "--replace", "--service-container=true"].map(Cow::from));
    if let Some((e, v)) = last(&sec, "ExitCodePropagation") {
        if !matches!(v, "all" | "any" | "none") {
            return Err(src.err(
                e.line,
                format!("ExitCodePropagation: `{v}` is none of all, any, none"),
            ));
        }
        // `none` is what podman without the flag does.
        if !(v == "none" && older(ctx, Version::KUBE_EXIT_CODE)) {
            needs(
                src,
                ctx,
                e,
                Version::KUBE_EXIT_CODE,
                "`--service-exit-code-propagation`",
                "leave it out (the service then exits 0 whatever its containers do)",
            )?;
            a.push(super::concat(&["--service-exit-code-propagation=", v]).into());
        }
    }
    if let Some(e) = sec.last("LogDriver") {
        a.extend(["--log-driver".into(), unquote(&e.value).into()]);
    }
    for o in values::all_words(src, sec.list("LogOpt"), Split::Strv, &mut x.warnings) {
        a.extend(["--log-opt".into(), o.into()]);
    }
    container::user_mappings(src, &sec, &mut a, &mut x, false)?;
    container::networks(src, &sec, ctx, &mut a, &mut x)?;
    for e in sec.list("AutoUpdate") {
        let words = match values::split(&e.value, Split::Strv) {
            Ok(w) => w,
            Err(why) => return Err(src.err(e.line, format!("AutoUpdate: {why}"))),
        };
        for u in words {
            let (who, how) = match u.split_once('/') {
                Some((c, t)) => (Some(c), t),
                None => (None, u.as_str()),
            };
            if !values::auto_update_policy(how) {
                return Err(src.err(
                    e.line,
                    format!(
                        "AutoUpdate: `{u}` is neither `registry` nor `local` (nor CONTAINER/registry, CONTAINER/local)"
                    ),
                ));
            }
            a.push(
                match who {
                    Some(c) => {
                        super::concat(&["--annotation=io.containers.autoupdate/", c, "=", how])
                    }
                    None => super::concat(&["--annotation=io.containers.autoupdate=", how]),
                }
                .into(),
            );
        }
    }
    for c in values::all_words(src, sec.list("ConfigMap"), Split::Strv, &mut x.warnings) {
        a.extend(["--configmap".into(), host_path(src, &c).into()]);
    }
    let ports = sec.list("PublishPort");
    if let Some(e) = ports.first() {
        needs(
            src,
            ctx,
            e,
            Version::KUBE_PUBLISH,
            "`kube play --publish`",
            "publish the port in the YAML file (`hostPort:` beside `containerPort:`)",
        )?;
    }
    for e in ports {
        a.extend(["--publish".into(), single(src, e)?.into()]);
    }
    a.extend(
        values::podman_args(src, &sec, &mut x.warnings)
            .into_iter()
            .map(Cow::Owned),
    );
    a.extend(yamls.iter().map(|y| Cow::Borrowed(y.as_str())));

    let mut down: Vec<&str> = global.iter().map(String::as_str).collect();
    down.extend(["kube", "down"]);
    if let Some(e) = sec.last("KubeDownForce") {
        if boolean(src, e)? {
            needs(
                src,
                ctx,
                e,
                Version::KUBE_DOWN_FORCE,
                "`kube down --force`",
                "remove the volumes with `podman volume rm` (or leave KubeDownForce= out)",
            )?;
            down.push("--force");
        } else if !older(ctx, Version::KUBE_DOWN_FORCE) {
            // Without the flag, podman keeps the volumes too.
            down.push("--force=false");
        }
    }
    down.extend(yamls.iter().map(String::as_str));

    let workdir = working_directory(src, &sec, &yamls)?;

    // `kube play` pulls the images the YAML names: it waits for the network.
    let mut file = super::service_unit(src, super::needs_network(true))?;
    let unit = file.section_mut("Unit");
    for dep in &x.deps {
        unit.add("Requires", dep.clone());
        unit.add("After", dep.clone());
    }
    let svc = file.section_mut("Service");
    if !svc.has("KillMode") {
        svc.add("KillMode", "mixed");
    }
    // So that `podman auto-update` finds the unit to restart.
    svc.add("Environment", "PODMAN_SYSTEMD_UNIT=%n");
    if !oneshot {
        // Set, not defaulted, as quadlet does: the notification comes from podman's
        // service container, never from the main process alone.
        set(svc, "Type", "notify");
        set(svc, "NotifyAccess", "all");
    }
    if !svc.has("SyslogIdentifier") {
        svc.add("SyslogIdentifier", "%N");
    }
    let argv: Vec<&str> = a.iter().map(|s| &**s).collect();
    svc.add("ExecStart", exec::command_line(podman, &argv));
    // ExecStopPost: the pods are removed also when the start failed half-way.
    svc.add("ExecStopPost", exec::command_line(podman, &down));
    if let Some(d) = workdir {
        svc.add("WorkingDirectory", d);
    }
    super::finish(src, ctx, file, name, x.warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories() {
        assert_eq!(dir_of("/a/b.yml"), Some("/a"));
        assert_eq!(dir_of("/b.yml"), Some("/"));
        assert_eq!(dir_of("%h/b.yml"), Some("%h"));
        assert_eq!(dir_of("%h"), None);
    }

    #[test]
    fn set_replaces_the_last_or_adds() {
        let mut s = Section::new("Service");
        s.add("NotifyAccess", "main");
        s.add("NotifyAccess", "none");
        set(&mut s, "NotifyAccess", "all");
        set(&mut s, "Type", "notify");
        let v: Vec<(&str, &str)> = s
            .entries
            .iter()
            .map(|e| (&*e.key, e.value.as_str()))
            .collect();
        assert_eq!(
            v,
            [
                ("NotifyAccess", "main"),
                ("NotifyAccess", "all"),
                ("Type", "notify")
            ]
        );
    }
}

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

use super::flags::{self, push, Args, Extra, Flag};
use super::options::{self, handle};
use super::paths::host_path;
use super::values::{self, boolean, last, unquote, Split};
use super::{Context, Feature, Generated, Source};
use crate::error::SourceError;
use crate::exec;
use crate::podman::Version;
use crate::unit::{Index, Section};
use std::borrow::Cow;

/// The keys of quadlet 5.8's `[Kube]` (the deprecated `Remap*` ones included) and their
/// flags, in the order of `podman kube play`'s argv (quadlet's).
pub(crate) const FLAGS: &[Flag] = &[
    Flag::Other(flags::COMMON),
    // Read by `translate`: the files to play, `kube down`, `WorkingDirectory=`.
    Flag::Other(&["KubeDownForce", "SetWorkingDirectory", "Yaml"]),
    Flag::Custom(&["ExitCodePropagation"], exit_code),
    Flag::Custom(&["LogDriver"], handle::log_driver),
    Flag::Custom(&["LogOpt"], handle::log_opt),
    // No `RemapUsers=manual` in a .kube file (quadlet refuses it too).
    Flag::Custom(
        &[
            "RemapGid",
            "RemapUid",
            "RemapUidSize",
            "RemapUsers",
            "UserNS",
        ],
        |r| options::user_mappings(r, false),
    ),
    Flag::Custom(&["Network"], handle::network),
    Flag::Custom(&["AutoUpdate"], auto_update),
    Flag::Custom(&["ConfigMap"], |r| {
        let (maps, at) = (r.all_words("ConfigMap", Split::Strv), r.a.len());
        for c in maps {
            push(&mut r.a, "--configmap", host_path(r.src, &c));
        }
        flags::as_csv(r, at, Version::CONFIGMAP_ARRAY);
        Ok(())
    }),
    // (`kube play --publish` needs podman 4.4: `podman::KEY_SINCE`.)
    Flag::Custom(&["PublishPort"], handle::publish),
];

/// `ExitCodePropagation=`: `--service-exit-code-propagation=`, left out for `none` on a
/// podman without the flag (what it does anyway).
fn exit_code(r: &mut Args) -> Result<(), SourceError> {
    let Some((e, v)) = last(r.sec, "ExitCodePropagation") else {
        return Ok(());
    };
    if !matches!(v, "all" | "any" | "none") {
        return Err(r.src.err(
            e.line,
            format!("ExitCodePropagation: `{v}` is none of all, any, none"),
        ));
    }
    // `all`/`any` need podman 4.6 (`podman::VALUE_SINCE`, gated before this).
    if v != "none" || r.ctx.podman_version.has(Version::KUBE_EXIT_CODE) {
        r.a.push(super::concat(&["--service-exit-code-propagation=", v]).into());
    }
    Ok(())
}

/// `AutoUpdate=`: `registry`/`local` for every container, or `CONTAINER/registry`,
/// `CONTAINER/local` for one: the annotations `podman auto-update` reads.
fn auto_update(r: &mut Args) -> Result<(), SourceError> {
    for e in r.sec.list("AutoUpdate") {
        let words = match values::split(&e.value, Split::Strv) {
            Ok(w) => w,
            Err(why) => return Err(r.src.err(e.line, format!("AutoUpdate: {why}"))),
        };
        for u in words {
            let (who, how) = match u.split_once('/') {
                Some((c, t)) => (Some(c), t),
                None => (None, u.as_str()),
            };
            if !values::auto_update_policy(how) {
                return Err(r.src.err(
                    e.line,
                    format!(
                        "AutoUpdate: `{u}` is neither `registry` nor `local` (nor CONTAINER/registry, CONTAINER/local)"
                    ),
                ));
            }
            r.a.push(
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
    Ok(())
}

/// Set `key` in `sec`: the last assignment gets `value`, or one is added (quadlet's `Set`).
fn set(sec: &mut Section, key: &'static str, value: &'static str) {
    match sec.entries.iter_mut().rev().find(|e| e.key == key) {
        Some(e) => e.value = value.into(),
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
        "unit" => crate::unit::escape_specifiers(&src.path.to_string_lossy()),
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

/// `Yaml=`: the files to play, made absolute (at least one; several need podman 5.7).
fn yaml_files(
    src: &Source,
    sec: &Index,
    ctx: &Context,
    warnings: &mut Vec<SourceError>,
) -> Result<Vec<String>, SourceError> {
    let yaml_entries = sec.list("Yaml");
    let yamls: Vec<String> = values::all_words(src, yaml_entries, Split::Strv, warnings)
        .iter()
        .map(|p| host_path(src, p))
        .collect();
    let Some(first_yaml) = yaml_entries.first() else {
        return Err(src.err(
            src.file.section("Kube").map_or(0, |s| s.line),
            "[Kube] needs Yaml= (the Kubernetes YAML file to play)",
        ));
    };
    if yamls.is_empty() {
        return Err(src.err(first_yaml.line, "Yaml: no file named"));
    }
    if yamls.len() > 1 {
        let e = yaml_entries.last().copied().unwrap_or(first_yaml);
        ctx.require(
            src,
            e,
            Feature {
                version: Version::KUBE_FILES,
                what: "more than one YAML file (`podman kube play FILE FILE...`)",
                how: "",
                instead:
                    "one .kube file per YAML file, or one YAML file with several documents (`---`)",
            },
        )?;
    }
    Ok(yamls)
}

/// `podman kube down` of the files (`KubeDownForce=`: `--force`, which podman 4.4 added;
/// without it podman keeps the volumes, as `--force=false` says where podman has it).
fn down<'v>(
    src: &Source,
    sec: &Index,
    ctx: &Context,
    global: &'v [String],
    yamls: &'v [String],
) -> Result<Vec<&'v str>, SourceError> {
    let mut down: Vec<&str> = global.iter().map(String::as_str).collect();
    down.extend(["kube", "down"]);
    if let Some(e) = sec.last("KubeDownForce") {
        // `true` needs podman 4.4 (`podman::VALUE_SINCE`).
        ctx.gate(src, e)?;
        if boolean(src, e)? {
            down.push("--force");
        } else if ctx.podman_version.has(Version::KUBE_DOWN_FORCE) {
            // Without the flag, podman keeps the volumes too.
            down.push("--force=false");
        }
    }
    down.extend(yamls.iter().map(String::as_str));
    Ok(down)
}

/// Translate a `.kube` source.
pub fn translate(src: &Source, ctx: &Context, name: String) -> Result<Generated, SourceError> {
    let sec = src.own();
    let mut x = Extra::default();

    let yamls = yaml_files(src, &sec, ctx, &mut x.warnings)?;

    // [Service] keys the user may set, checked as quadlet does.
    super::service::check_kill_mode(src, "a .kube file")?;
    let oneshot = super::service::service_type(src, "a .kube file")?;

    let podman = ctx.podman;
    let global = values::global_args(src, ctx, &sec, &mut x.warnings)?;
    let mut r = Args {
        src,
        sec: &sec,
        ctx,
        a: Vec::with_capacity(16),
        x,
    };
    r.a.extend(global.iter().cloned().map(Cow::Owned));
    r.a.extend(["kube", "play", "--replace", "--service-container=true"].map(Cow::from));
    flags::apply(FLAGS, &mut r)?;
    let Args { mut a, mut x, .. } = r;
    a.extend(
        values::podman_args(src, &sec, &mut x.warnings)
            .into_iter()
            .map(Cow::Owned),
    );
    a.extend(yamls.iter().map(|y| Cow::Borrowed(y.as_str())));

    let down = down(src, &sec, ctx, &global, &yamls)?;

    let workdir = working_directory(src, &sec, &yamls)?;

    // `kube play` pulls the images the YAML names: it waits for the network.
    let mut file = super::service::service_unit(src, true)?;
    let unit = file.section_mut("Unit");
    for dep in &x.deps {
        unit.add("Requires", dep.clone());
        unit.add("After", dep.clone());
    }
    let svc = file.section_mut("Service");
    super::service::default(svc, "KillMode", "mixed");
    // So that `podman auto-update` finds the unit to restart.
    svc.add("Environment", "PODMAN_SYSTEMD_UNIT=%n");
    if !oneshot {
        // Set, not defaulted, as quadlet does: the notification comes from podman's
        // service container, never from the main process alone.
        set(svc, "Type", "notify");
        set(svc, "NotifyAccess", "all");
    }
    super::service::default(svc, "SyslogIdentifier", "%N");
    let argv: Vec<&str> = a.iter().map(|s| &**s).collect();
    svc.add("ExecStart", exec::command_line(podman, &argv));
    // ExecStopPost: the pods are removed also when the start failed half-way.
    svc.add("ExecStopPost", exec::command_line(podman, &down));
    if let Some(d) = workdir {
        svc.add("WorkingDirectory", d);
    }
    super::service::finish(src, ctx, file, name, x.warnings)
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
        let v: Vec<(&str, &str)> = s.entries.iter().map(|e| (&*e.key, &*e.value)).collect();
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

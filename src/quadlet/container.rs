//! `X.container` -> `X.service`: `podman run` the way quadlet does, plus rootlet's wait
//! unit, restart defaults and socket wiring.

use super::values::{boolean, key_values, single, words};
use super::{host_path, unknown_key, Context, Generated, Source, SourceKind};
use crate::error::SourceError;
use crate::exec;
use crate::unit::{Entry, Index};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// How a simple key becomes podman arguments. Flags are written as two words
/// (`--flag VALUE`), the form quadlet writes, so that argv compare equal.
#[derive(Clone, Copy)]
enum Kind {
    /// Last value wins: `FLAG PREFIXVALUE`.
    One(&'static str, &'static str),
    /// Every value (repeatable key, empty value resets): `FLAG PREFIXVALUE` each.
    Many(&'static str, &'static str),
    /// Every whitespace-separated word of every value: `FLAG WORD` each.
    Words(&'static str),
    /// Boolean: these words when true.
    Flag(&'static str),
    /// Boolean written either way, as quadlet does: `FLAG` or `FLAG=false`.
    Bool(&'static str),
}

use Kind::{Bool, Flag, Many, One, Words};

/// Keys of `[Container]` that map to podman arguments one to one, in output order.
const SIMPLE: &[(&str, Kind)] = &[
    ("CgroupsMode", One("--cgroups", "")),
    ("UserNS", One("--userns", "")),
    ("UIDMap", Many("--uidmap", "")),
    ("GIDMap", Many("--gidmap", "")),
    ("SubUIDMap", One("--subuidname", "")),
    ("SubGIDMap", One("--subgidname", "")),
    ("RunInit", Bool("--init")),
    ("LogDriver", One("--log-driver", "")),
    ("LogOpt", Many("--log-opt", "")),
    ("Pull", One("--pull", "")),
    ("HostName", One("--hostname", "")),
    ("Timezone", One("--tz", "")),
    ("StopSignal", One("--stop-signal", "")),
    ("StopTimeout", One("--stop-timeout", "")),
    ("PidsLimit", One("--pids-limit", "")),
    ("ShmSize", One("--shm-size", "")),
    ("ReadOnly", Bool("--read-only")),
    ("ReadOnlyTmpfs", Bool("--read-only-tmpfs")),
    ("NoNewPrivileges", Flag("--security-opt=no-new-privileges")),
    ("SeccompProfile", One("--security-opt", "seccomp=")),
    ("SecurityLabelDisable", Flag("--security-opt label=disable")),
    ("SecurityLabelNested", Flag("--security-opt label=nested")),
    ("SecurityLabelType", One("--security-opt", "label=type:")),
    (
        "SecurityLabelFileType",
        One("--security-opt", "label=filetype:"),
    ),
    ("SecurityLabelLevel", One("--security-opt", "label=level:")),
    ("Mask", Many("--security-opt", "mask=")),
    ("Unmask", Many("--security-opt", "unmask=")),
    ("AddCapability", Words("--cap-add")),
    ("DropCapability", Words("--cap-drop")),
    ("AddDevice", Many("--device", "")),
    ("AddHost", Many("--add-host", "")),
    ("DNS", Many("--dns", "")),
    ("DNSOption", Many("--dns-option", "")),
    ("DNSSearch", Many("--dns-search", "")),
    ("IP", One("--ip", "")),
    ("IP6", One("--ip6", "")),
    ("NetworkAlias", Many("--network-alias", "")),
    ("ExposeHostPort", Many("--expose", "")),
    ("GroupAdd", Many("--group-add", "")),
    ("Secret", Many("--secret", "")),
    ("Sysctl", Words("--sysctl")),
    ("Tmpfs", Many("--tmpfs", "")),
    ("Ulimit", Many("--ulimit", "")),
    ("HealthCmd", One("--health-cmd", "")),
    ("HealthInterval", One("--health-interval", "")),
    ("HealthLogDestination", One("--health-log-destination", "")),
    ("HealthMaxLogCount", One("--health-max-log-count", "")),
    ("HealthMaxLogSize", One("--health-max-log-size", "")),
    ("HealthOnFailure", One("--health-on-failure", "")),
    ("HealthRetries", One("--health-retries", "")),
    ("HealthStartPeriod", One("--health-start-period", "")),
    ("HealthStartupCmd", One("--health-startup-cmd", "")),
    (
        "HealthStartupInterval",
        One("--health-startup-interval", ""),
    ),
    ("HealthStartupRetries", One("--health-startup-retries", "")),
    ("HealthStartupSuccess", One("--health-startup-success", "")),
    ("HealthStartupTimeout", One("--health-startup-timeout", "")),
    ("HealthTimeout", One("--health-timeout", "")),
];

/// Keys with their own handling below.
const SPECIAL: &[&str] = &[
    "Image",
    "Rootfs",
    "ContainerName",
    "Exec",
    "Entrypoint",
    "Environment",
    "EnvironmentFile",
    "EnvironmentHost",
    "PublishPort",
    "Volume",
    "Mount",
    "Network",
    "Label",
    "Annotation",
    "PodmanArgs",
    "GlobalArgs",
    "ContainersConfModule",
    "User",
    "Group",
    "WorkingDir",
    "AutoUpdate",
    "Notify",
];

/// Keys of quadlet's manual that rootlet refuses with a reason instead of ignoring them.
const NOT_YET: &[(&str, &str)] = &[
    (
        "Pod",
        "Pod= needs .pod files, which rootlet does not translate yet",
    ),
    (
        "StartWithPod",
        "StartWithPod= needs .pod files, which rootlet does not translate yet",
    ),
];

pub(crate) fn all_keys() -> Vec<&'static str> {
    SIMPLE
        .iter()
        .map(|(k, _)| *k)
        .chain(SPECIAL.iter().copied())
        .chain(NOT_YET.iter().map(|(k, _)| *k))
        .collect()
}

/// [`all_keys`], sorted once per process.
fn known_keys() -> &'static super::KeySet {
    static KNOWN: std::sync::OnceLock<super::KeySet> = std::sync::OnceLock::new();
    KNOWN.get_or_init(|| super::KeySet::new(all_keys()))
}

/// `Notify=`: who tells systemd the service is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Notify {
    /// conmon, once the container runs (default).
    #[default]
    Conmon,
    /// the program in the container, through `NOTIFY_SOCKET`.
    Container,
    /// podman, once the health check passes.
    Healthy,
}

/// The `[Container]` section, typed. Repeatable keys are lists in file order.
#[derive(Debug, Clone, Default)]
pub struct Container {
    pub image: Option<String>,
    pub rootfs: Option<String>,
    pub name: Option<String>,
    pub exec: Vec<String>,
    pub entrypoint: Option<String>,
    pub environment: BTreeMap<String, String>,
    pub environment_files: Vec<String>,
    /// `EnvironmentHost=`, written either way when set.
    pub environment_host: Option<bool>,
    pub publish_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub mounts: Vec<String>,
    /// `(podman network argument, unit it needs)`.
    pub networks: Vec<(String, Option<String>)>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub podman_args: Vec<String>,
    pub global_args: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub notify: Notify,
    /// Arguments from the one-to-one keys, in table order.
    pub simple: Vec<String>,
    /// Host paths of bind mounts (for `RequiresMountsFor=`).
    pub bind_sources: Vec<String>,
    /// Units of the `.volume` sources used (for `Requires=`/`After=`).
    pub deps: Vec<String>,
}

impl Container {
    /// Read and check `[Container]`.
    pub fn from_source(src: &Source, ctx: &Context) -> Result<Container, SourceError> {
        let Some(sec) = src.file.section("Container") else {
            return Err(src.err(0, "no [Container] section"));
        };
        let known = known_keys();
        for e in &sec.entries {
            if known.get(&e.key).is_none() {
                return Err(unknown_key(src, "Container", e, &all_keys()));
            }
            if let Some((_, why)) = NOT_YET.iter().find(|(k, _)| *k == e.key) {
                return Err(src.err(e.line, *why));
            }
        }
        let sec_line = sec.line;
        let sec = Index::new(sec);
        let values = |k: &str| sec.list(k).iter().copied();
        let mut c = Container::default();
        let last = |k: &str| sec.last(k).filter(|e| !e.value.is_empty());

        c.image = last("Image").map(|e| e.value.clone());
        c.rootfs = last("Rootfs").map(|e| host_path(src, &e.value));
        match (&c.image, &c.rootfs) {
            (None, None) => {
                return Err(src.err(sec_line, "[Container] needs Image= or Rootfs="));
            }
            (Some(_), Some(_)) => {
                let e = sec.last("Rootfs").map(|e| e.line).unwrap_or(sec_line);
                return Err(src.err(e, "Image= and Rootfs= exclude each other"));
            }
            _ => {}
        }
        if let Some(e) = last("ContainerName") {
            c.name = Some(single(src, e)?);
        }
        if let Some(e) = last("Exec") {
            c.exec = words(src, e)?;
        }
        c.entrypoint = last("Entrypoint").map(|e| e.value.clone());
        c.environment = key_values(src, values("Environment"))?;
        c.environment_files = values("EnvironmentFile")
            .map(|e| host_path(src, &e.value))
            .collect();
        if let Some(e) = sec.last("EnvironmentHost") {
            c.environment_host = Some(boolean(src, e)?);
        }
        for e in values("PublishPort") {
            c.publish_ports.push(single(src, e)?);
        }
        for e in values("Volume") {
            let v = volume(src, e, ctx, &mut c.bind_sources, &mut c.deps)?;
            c.volumes.push(v);
        }
        for e in values("Mount") {
            let m = mount(src, e, ctx, &mut c.deps)?;
            c.mounts.push(m);
        }
        for e in values("Network") {
            c.networks.push(network(src, e, ctx)?);
        }
        c.labels = key_values(src, values("Label"))?;
        c.annotations = key_values(src, values("Annotation"))?;
        if let Some(e) = last("AutoUpdate") {
            match e.value.as_str() {
                "registry" | "local" => {
                    c.labels
                        .insert("io.containers.autoupdate".into(), e.value.clone());
                }
                v => {
                    return Err(src.err(
                        e.line,
                        format!("AutoUpdate: `{v}` is neither `registry` nor `local`"),
                    ))
                }
            }
        }
        (c.podman_args, c.global_args) = super::values::extra_args(src, &sec)?;
        let user = last("User").map(|e| single(src, e)).transpose()?;
        let group = last("Group").map(|e| single(src, e)).transpose()?;
        c.user = match (user, group) {
            (None, None) => None,
            (Some(u), None) => Some(u),
            (Some(u), Some(g)) => Some(format!("{u}:{g}")),
            (None, Some(_)) => {
                let line = sec.last("Group").map(|e| e.line).unwrap_or(0);
                return Err(src.err(line, "Group= needs User= as well"));
            }
        };
        c.working_dir = last("WorkingDir").map(|e| e.value.clone());
        if let Some(e) = last("Notify") {
            c.notify = if e.value == "healthy" {
                Notify::Healthy
            } else if boolean(src, e)? {
                Notify::Container
            } else {
                Notify::Conmon
            };
        }
        if c.notify == Notify::Healthy && last("HealthCmd").is_none() {
            let line = sec.last("Notify").map(|e| e.line).unwrap_or(0);
            return Err(src.err(line, "Notify=healthy needs HealthCmd="));
        }
        // The one-to-one keys present, in table order (not all 58 looked up).
        let mut present: Vec<usize> = sec
            .keys()
            .filter_map(|e| SIMPLE.iter().position(|(k, _)| *k == e.key))
            .collect();
        present.sort_unstable();
        for i in present {
            let (key, kind) = SIMPLE[i];
            simple(src, &sec, key, kind, &mut c.simple)?;
        }
        Ok(c)
    }

    /// `podman [global] run ... IMAGE [EXEC...]` as an argv (before quoting).
    pub fn run_argv<'a>(
        &'a self,
        podman: &'a str,
        container_name: &'a str,
        oneshot: bool,
    ) -> Vec<Cow<'a, str>> {
        let mut a: Vec<Cow<'a, str>> = Vec::with_capacity(32 + 2 * self.environment.len());
        a.push(podman.into());
        a.extend(self.global_args.iter().map(|s| s.as_str().into()));
        a.push("run".into());
        a.push("--name".into());
        a.push(container_name.into());
        a.push("--cidfile=%t/%N.cid".into());
        a.push("--replace".into());
        a.push("--rm".into());
        if !self.simple.iter().any(|s| s == "--cgroups") {
            a.push("--cgroups=split".into());
        }
        if !oneshot {
            a.push(
                match self.notify {
                    Notify::Conmon => "--sdnotify=conmon",
                    Notify::Container => "--sdnotify=container",
                    Notify::Healthy => "--sdnotify=healthy",
                }
                .into(),
            );
            a.push("-d".into());
        }
        if let Some(u) = &self.user {
            a.push("--user".into());
            a.push(u.as_str().into());
        }
        if let Some(w) = &self.working_dir {
            a.push("--workdir".into());
            a.push(w.as_str().into());
        }
        if let Some(ep) = &self.entrypoint {
            a.push("--entrypoint".into());
            a.push(ep.as_str().into());
        }
        a.extend(self.simple.iter().map(|s| s.as_str().into()));
        match self.environment_host {
            Some(true) => a.push("--env-host".into()),
            Some(false) => a.push("--env-host=false".into()),
            None => {}
        }
        for (k, v) in &self.environment {
            a.push("--env".into());
            a.push(super::concat(&[k, "=", v]).into());
        }
        for f in &self.environment_files {
            a.push("--env-file".into());
            a.push(f.as_str().into());
        }
        for p in &self.publish_ports {
            a.push("--publish".into());
            a.push(p.as_str().into());
        }
        for v in &self.volumes {
            a.push("-v".into());
            a.push(v.as_str().into());
        }
        for m in &self.mounts {
            a.push("--mount".into());
            a.push(m.as_str().into());
        }
        for (n, _) in &self.networks {
            a.push("--network".into());
            a.push(n.as_str().into());
        }
        for (k, v) in &self.labels {
            a.push("--label".into());
            a.push(super::concat(&[k, "=", v]).into());
        }
        for (k, v) in &self.annotations {
            a.push("--annotation".into());
            a.push(super::concat(&[k, "=", v]).into());
        }
        a.extend(self.podman_args.iter().map(|s| s.as_str().into()));
        match (&self.image, &self.rootfs) {
            (Some(i), _) => a.push(i.as_str().into()),
            (None, Some(r)) => {
                a.push("--rootfs".into());
                a.push(r.as_str().into());
            }
            (None, None) => {}
        }
        a.extend(self.exec.iter().map(|s| s.as_str().into()));
        a
    }
}

fn simple(
    src: &Source,
    sec: &Index,
    key: &str,
    kind: Kind,
    out: &mut Vec<String>,
) -> Result<(), SourceError> {
    let mut pair = |flag: &str, v: String| {
        out.push(flag.to_owned());
        out.push(v);
    };
    match kind {
        One(flag, prefix) => {
            if let Some(e) = sec.last(key).filter(|e| !e.value.is_empty()) {
                pair(flag, format!("{prefix}{}", e.value));
            }
        }
        Many(flag, prefix) => {
            for e in sec.list(key) {
                pair(flag, format!("{prefix}{}", e.value));
            }
        }
        Words(flag) => {
            for e in sec.list(key) {
                for w in words(src, e)? {
                    let w = if flag.starts_with("--cap-") {
                        w.to_ascii_lowercase()
                    } else {
                        w
                    };
                    pair(flag, w);
                }
            }
        }
        Flag(flag) => {
            if let Some(e) = sec.last(key) {
                if boolean(src, e)? {
                    out.extend(flag.split(' ').map(str::to_owned));
                }
            }
        }
        Bool(flag) => {
            if let Some(e) = sec.last(key) {
                out.push(if boolean(src, e)? {
                    flag.to_owned()
                } else {
                    format!("{flag}=false")
                });
            }
        }
    }
    Ok(())
}

/// `Volume=[SOURCE:]DEST[:OPTIONS]`: relative host sources are made absolute, `X.volume`
/// names the volume of that source file (and its service becomes a dependency).
fn volume(
    src: &Source,
    e: &Entry,
    ctx: &Context,
    binds: &mut Vec<String>,
    deps: &mut Vec<String>,
) -> Result<String, SourceError> {
    let v = &e.value;
    let Some((source, rest)) = v.split_once(':') else {
        return Ok(v.clone()); // anonymous volume: DEST only
    };
    if source.ends_with(".volume") {
        let (name, unit) = volume_ref(src, e, ctx, source)?;
        deps.push(unit);
        return Ok(format!("{name}:{rest}"));
    }
    if source.starts_with('.') || source.starts_with('/') {
        let abs = host_path(src, source);
        binds.push(abs.clone());
        return Ok(format!("{abs}:{rest}"));
    }
    Ok(v.clone())
}

/// The podman name and the unit of the `.volume` source `file`.
fn volume_ref(
    src: &Source,
    e: &Entry,
    ctx: &Context,
    file: &str,
) -> Result<(String, String), SourceError> {
    match ctx
        .sources
        .get(file)
        .filter(|s| s.kind == SourceKind::Volume)
    {
        Some(vol) => Ok((super::volume::volume_name(vol), vol.unit_name())),
        None => Err(src.err(
            e.line,
            format!(
                "{}: `{file}` names no .volume file on the search path",
                e.key
            ),
        )),
    }
}

/// `Mount=type=volume,source=X.volume,...`: the volume of that source file.
fn mount(
    src: &Source,
    e: &Entry,
    ctx: &Context,
    deps: &mut Vec<String>,
) -> Result<String, SourceError> {
    let mut parts: Vec<String> = Vec::new();
    for p in e.value.split(',') {
        match p.split_once('=') {
            Some((k @ ("source" | "src"), v)) if v.ends_with(".volume") => {
                let (name, unit) = volume_ref(src, e, ctx, v)?;
                deps.push(unit);
                parts.push(format!("{k}={name}"));
            }
            _ => parts.push(p.to_owned()),
        }
    }
    Ok(parts.join(","))
}

/// `Network=NAME[:OPTIONS]`; `X.network` is the network of the source file `X.network`.
fn network(
    src: &Source,
    e: &Entry,
    ctx: &Context,
) -> Result<(String, Option<String>), SourceError> {
    let (name, opts) = match e.value.split_once(':') {
        Some((n, o)) => (n, Some(o)),
        None => (e.value.as_str(), None),
    };
    if !name.ends_with(".network") {
        return Ok((e.value.clone(), None));
    }
    let Some(net) = ctx.sources.get(name) else {
        return Err(src.err(
            e.line,
            format!("Network: `{name}` names no .network file on the search path"),
        ));
    };
    let real = super::network::network_name(net);
    let arg = match opts {
        Some(o) => format!("{real}:{o}"),
        None => real,
    };
    Ok((arg, Some(net.unit_name())))
}

/// Translate a `.container` source.
/// `name` is the unit's ([`Source::unit_name`]).
pub fn translate(src: &Source, ctx: &Context, name: String) -> Result<Generated, SourceError> {
    let c = Container::from_source(src, ctx)?;
    // A container without a network (`Network=none`: a socket-activated one, say) has
    // nothing to wait for: it starts at once, also before the network is up.
    let offline = !c.networks.is_empty() && c.networks.iter().all(|(n, _)| n == "none");
    let mut file = super::service_unit(src, !offline)?;

    // [Service] keys the user may set, checked as quadlet does (`file` has the source's
    // [Service] as it is).
    let svc_user = src.file.section("Service");
    let svc_last = |k: &str| svc_user.and_then(|s| s.last(k));
    let oneshot = match svc_last("Type") {
        None => false,
        Some(e) => match e.value.as_str() {
            "notify" => false,
            "oneshot" => true,
            v => {
                return Err(src.err(
                    e.line,
                    format!("Type: `{v}` is not allowed for a container (use notify or oneshot)"),
                ))
            }
        },
    };
    if let Some(e) = svc_last("KillMode") {
        if e.value != "mixed" && e.value != "control-group" {
            return Err(src.err(
                e.line,
                format!(
                    "KillMode: `{}` is not allowed for a container (use mixed or control-group)",
                    e.value
                ),
            ));
        }
    }

    let container_name = c.name.clone().unwrap_or_else(|| {
        if src.stem().contains('@') {
            "systemd-%p_%i".into()
        } else {
            "systemd-%N".into()
        }
    });
    let podman = ctx.podman;
    let argv = c.run_argv(podman, &container_name, oneshot);

    let unit = file.section_mut("Unit");
    for b in &c.bind_sources {
        unit.add("RequiresMountsFor", b.clone());
    }
    let deps = c.networks.iter().filter_map(|(_, d)| d.as_ref());
    let mut seen = Vec::new();
    for dep in c.deps.iter().chain(deps) {
        if !seen.contains(&dep) {
            seen.push(dep);
            unit.add("Requires", dep.clone());
            unit.add("After", dep.clone());
        }
    }
    if let Some(socks) = ctx.sockets_for.get(&name) {
        for s in socks {
            unit.add("Requires", s.clone());
            unit.add("After", s.clone());
        }
    }

    let podman_q = exec::quote_literal(podman);
    let stop = format!("{podman_q} rm -v -f -i --cidfile=%t/%N.cid");
    let svc = file.section_mut("Service");
    svc.add("Environment", "PODMAN_SYSTEMD_UNIT=%n");
    if !svc.has("KillMode") {
        svc.add("KillMode", "mixed");
    }
    svc.add("ExecStop", stop.clone());
    svc.add("ExecStopPost", format!("-{stop}"));
    // podman < 4.4 leaves the cid file behind when the container is already gone (`--rm`
    // after a failure), and the restart then fails: "container id file exists".
    svc.add("ExecStopPost", "-rm -f %t/%N.cid");
    if !svc.has("Delegate") {
        svc.add("Delegate", "yes");
    }
    if !svc.has("Type") {
        svc.add("Type", "notify");
    }
    if !oneshot && !svc.has("NotifyAccess") {
        svc.add("NotifyAccess", "all");
    }
    if !svc.has("SyslogIdentifier") {
        svc.add("SyslogIdentifier", "%N");
    }
    svc.add("ExecStart", exec::command_line(podman, &argv[1..]));

    Ok(super::finish(src, ctx, file, name))
}

/// `%` -> `%%`, for computed paths in settings where systemd expands specifiers.
pub(crate) fn escape_specifiers(s: &str) -> String {
    s.replace('%', "%%")
}

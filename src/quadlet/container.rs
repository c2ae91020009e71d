//! `X.container` -> `X.service`: `podman run` the way quadlet 5.8 does (its
//! `ConvertContainer`, argument for argument and in its order), plus rootlet's wait unit,
//! restart defaults and socket wiring.

use super::options::{self, push, Argv, Extra};
use super::paths::host_path;
use super::values::{self, boolean, last, single, unquote, Split};
use super::{concat, refs, Context, Feature, Generated, Source, SourceKind};
use crate::error::SourceError;
use crate::exec;
use crate::unit::Index;
use std::borrow::Cow;

/// Every key of quadlet 5.8's `[Container]` (deprecated ones included).
pub(crate) const KEYS: &[&str] = &[
    "AddCapability",
    "AddDevice",
    "AddHost",
    "Annotation",
    "AppArmor",
    "AutoUpdate",
    "CgroupsMode",
    "ContainerName",
    "ContainersConfModule",
    "DNS",
    "DNSOption",
    "DNSSearch",
    "DropCapability",
    "Entrypoint",
    "Environment",
    "EnvironmentFile",
    "EnvironmentHost",
    "Exec",
    "ExposeHostPort",
    "GIDMap",
    "GlobalArgs",
    "Group",
    "GroupAdd",
    "HealthCmd",
    "HealthInterval",
    "HealthLogDestination",
    "HealthMaxLogCount",
    "HealthMaxLogSize",
    "HealthOnFailure",
    "HealthRetries",
    "HealthStartPeriod",
    "HealthStartupCmd",
    "HealthStartupInterval",
    "HealthStartupRetries",
    "HealthStartupSuccess",
    "HealthStartupTimeout",
    "HealthTimeout",
    "HostName",
    "HttpProxy",
    "IP",
    "IP6",
    "Image",
    "Label",
    "LogDriver",
    "LogOpt",
    "Mask",
    "Memory",
    "Mount",
    "Network",
    "NetworkAlias",
    "NoNewPrivileges",
    "Notify",
    "PidsLimit",
    "Pod",
    "PodmanArgs",
    "PublishPort",
    "Pull",
    "ReadOnly",
    "ReadOnlyTmpfs",
    "ReloadCmd",
    "ReloadSignal",
    "RemapGid",
    "RemapUid",
    "RemapUidSize",
    "RemapUsers",
    "Retry",
    "RetryDelay",
    "Rootfs",
    "RunInit",
    "SeccompProfile",
    "Secret",
    "SecurityLabelDisable",
    "SecurityLabelFileType",
    "SecurityLabelLevel",
    "SecurityLabelNested",
    "SecurityLabelType",
    "ServiceName",
    "ShmSize",
    "StartWithPod",
    "StopSignal",
    "StopTimeout",
    "SubGIDMap",
    "SubUIDMap",
    "Sysctl",
    "Timezone",
    "Tmpfs",
    "UIDMap",
    "Ulimit",
    "Unmask",
    "User",
    "UserNS",
    "VolatileTmp",
    "Volume",
    "WorkingDir",
];

/// Single-valued keys written `FLAG VALUE` when set and not empty (quadlet's
/// `lookupAndAddString`; quadlet's order among them is a Go map's, so any fixed one is
/// as good).
const STRINGS: &[(&str, &str)] = &[
    ("Timezone", "--tz"),
    ("PidsLimit", "--pids-limit"),
    ("ShmSize", "--shm-size"),
    ("WorkingDir", "--workdir"),
    ("IP", "--ip"),
    ("IP6", "--ip6"),
    ("HostName", "--hostname"),
    ("StopSignal", "--stop-signal"),
    ("StopTimeout", "--stop-timeout"),
    ("Pull", "--pull"),
    ("Memory", "--memory"),
    ("Retry", "--retry"),
    ("RetryDelay", "--retry-delay"),
];

/// Repeatable keys written `FLAG VALUE` for each value as it is (`lookupAndAddAllStrings`).
const ALL_STRINGS: &[(&str, &str)] = &[
    ("NetworkAlias", "--network-alias"),
    ("Ulimit", "--ulimit"),
    ("DNS", "--dns"),
    ("DNSOption", "--dns-option"),
    ("DNSSearch", "--dns-search"),
    ("GroupAdd", "--group-add"),
    ("AddHost", "--add-host"),
    ("Tmpfs", "--tmpfs"),
];

/// Booleans written `FLAG` or `FLAG=false` when set (`lookupAndAddBoolean`).
const BOOLS: &[(&str, &str)] = &[
    ("RunInit", "--init"),
    ("EnvironmentHost", "--env-host"),
    ("HttpProxy", "--http-proxy"),
    ("ReadOnlyTmpfs", "--read-only-tmpfs"),
];

/// `Health*=` keys and their `--health-*` flags, in quadlet's order.
const HEALTH: &[(&str, &str)] = &[
    ("HealthCmd", "--health-cmd"),
    ("HealthInterval", "--health-interval"),
    ("HealthOnFailure", "--health-on-failure"),
    ("HealthLogDestination", "--health-log-destination"),
    ("HealthMaxLogCount", "--health-max-log-count"),
    ("HealthMaxLogSize", "--health-max-log-size"),
    ("HealthRetries", "--health-retries"),
    ("HealthStartPeriod", "--health-start-period"),
    ("HealthTimeout", "--health-timeout"),
    ("HealthStartupCmd", "--health-startup-cmd"),
    ("HealthStartupInterval", "--health-startup-interval"),
    ("HealthStartupRetries", "--health-startup-retries"),
    ("HealthStartupSuccess", "--health-startup-success"),
    ("HealthStartupTimeout", "--health-startup-timeout"),
];

/// The default container name of a source: `ContainerName=` or `systemd-%N`
/// (`systemd-%p_%i` for templates and their instances).
fn container_name<'a>(src: &'a Source, sec: &Index<'a>) -> Cow<'a, str> {
    match last(sec, "ContainerName") {
        Some((_, v)) => v.into(),
        None if src.stem().contains('@') => "systemd-%p_%i".into(),
        None => "systemd-%N".into(),
    }
}

/// The name other sources use for the container of a `.container` source
/// (`Network=X.container`): its container name, specifiers and all.
pub(crate) fn resource_name(src: &Source) -> Option<String> {
    Some(match src.file.section("Container") {
        Some(s) => container_name(src, &Index::new(s)).into_owned(),
        None => "systemd-%N".to_owned(),
    })
}

/// The image or `--rootfs` path. `X.image` is the image that source pulls, `X.build` the
/// one it builds (its unit becomes a dependency).
fn image<'a>(
    src: &'a Source,
    sec: &Index<'a>,
    ctx: &Context,
    x: &mut Extra,
) -> Result<Argv<'a>, SourceError> {
    let image = last(sec, "Image");
    let rootfs = last(sec, "Rootfs");
    match (image, rootfs) {
        (None, None) => Err(src.err(
            src.file.section("Container").map_or(0, |s| s.line),
            "[Container] needs Image= or Rootfs=",
        )),
        (Some(_), Some((e, _))) => Err(src.err(e.line, "Image= and Rootfs= exclude each other")),
        (Some((e, i)), None) => match refs::image(src, ctx, e, i)? {
            Some((name, unit)) => {
                x.deps.push(unit);
                Ok(vec![name.into()])
            }
            None => Ok(vec![i.into()]),
        },
        // As written, as quadlet passes it (a relative path is podman's, from the
        // service's working directory, and may end in `:O`).
        (None, Some((_, r))) => Ok(vec!["--rootfs".into(), r.into()]),
    }
}

/// `AddDevice=`: a leading `-` makes the device optional: left out when its host path
/// does not exist (checked when the generator runs, as quadlet does).
fn device(d: &str) -> Option<&str> {
    match d.strip_prefix('-') {
        Some(rest) => {
            let host = rest.split(':').next().unwrap_or(rest);
            std::path::Path::new(host).exists().then_some(rest)
        }
        None => Some(d),
    }
}

/// The whole `podman run` argv (before quoting), the container name and the rest.
struct Run<'a> {
    argv: Argv<'a>,
    name: Cow<'a, str>,
    global: Vec<String>,
    /// Nothing in it needs the network before it starts (see `service::service_unit`).
    offline: bool,
    extra: Extra,
}

fn run_argv<'a>(
    src: &'a Source,
    sec: &Index<'a>,
    ctx: &Context,
    podman: &'a str,
    oneshot: bool,
) -> Result<Run<'a>, SourceError> {
    let mut x = Extra::default();
    let img = image(src, sec, ctx, &mut x)?;
    if let Some((e, i)) = last(sec, "Image") {
        x.warnings
            .extend(options::short_name_warning(src, e, i, SourceKind::Image));
    }
    let name = container_name(src, sec);
    let global = values::global_args(src, ctx, sec, &mut x.warnings)?;
    let mut a: Argv<'a> = Vec::with_capacity(48);
    a.push(podman.into());
    a.extend(global.iter().cloned().map(Cow::Owned));
    a.push("run".into());
    push(&mut a, "--name", name.clone());
    a.push("--replace".into());
    a.push("--rm".into());
    if let Some(e) = sec.last("LogDriver") {
        push(&mut a, "--log-driver", unquote(&e.value));
    }
    for o in values::all_words(src, sec.list("LogOpt"), Split::Strv, &mut x.warnings) {
        push(&mut a, "--log-opt", o);
    }
    match last(sec, "CgroupsMode") {
        Some((_, v)) => push(&mut a, "--cgroups", v),
        None => a.push("--cgroups=split".into()),
    }
    // An empty Entrypoint= is meaningful: it clears the image's entrypoint.
    if let Some(e) = sec.last("Entrypoint") {
        a.push(concat(&["--entrypoint=", unquote(&e.value)]).into());
    }
    for (key, flag) in STRINGS {
        if let Some((_, v)) = last(sec, key) {
            push(&mut a, flag, v);
        }
    }
    for (key, flag) in ALL_STRINGS {
        for e in sec.list(key) {
            push(&mut a, flag, e.value.as_str());
        }
    }
    for (key, flag) in BOOLS {
        if let Some(e) = sec.last(key) {
            a.push(if boolean(src, e)? {
                (*flag).into()
            } else {
                concat(&[flag, "=false"]).into()
            });
        }
    }
    options::networks(src, sec, ctx, &mut a, &mut x)?;
    if !oneshot {
        let notify = match sec.last("Notify") {
            Some(e) if unquote(&e.value).eq_ignore_ascii_case("healthy") => {
                // No fallback: `--sdnotify=container` would report ready before the
                // container is healthy, which is what `Notify=healthy` is written to avoid.
                ctx.require(
                    src,
                    e,
                    Feature {
                        version: crate::podman::Version::SDNOTIFY_HEALTHY,
                        what: "healthy",
                        how: "`--sdnotify=healthy`",
                        instead: "use Notify=yes, or HealthCmd= without Notify=",
                    },
                )?;
                "--sdnotify=healthy"
            }
            Some(e) if boolean(src, e)? => "--sdnotify=container",
            _ => "--sdnotify=conmon",
        };
        a.push(notify.into());
        a.push("-d".into());
    }
    let flag = |k: &str| -> Result<bool, SourceError> {
        sec.last(k).map_or(Ok(false), |e| boolean(src, e))
    };
    if flag("NoNewPrivileges")? {
        a.push("--security-opt=no-new-privileges".into());
    }
    if flag("SecurityLabelDisable")? {
        push(&mut a, "--security-opt", "label=disable");
    }
    if flag("SecurityLabelNested")? {
        push(&mut a, "--security-opt", "label=nested");
    }
    for (key, prefix) in [
        ("SecurityLabelType", "label=type:"),
        ("SecurityLabelFileType", "label=filetype:"),
        ("SecurityLabelLevel", "label=level:"),
        ("AppArmor", "apparmor="),
    ] {
        if let Some((_, v)) = last(sec, key) {
            push(&mut a, "--security-opt", concat(&[prefix, v]));
        }
    }
    for d in values::all_words(src, sec.list("AddDevice"), Split::Strv, &mut x.warnings) {
        if let Some(d) = device(&d) {
            push(&mut a, "--device", d.to_owned());
        }
    }
    if let Some(e) = sec.last("SeccompProfile") {
        push(
            &mut a,
            "--security-opt",
            concat(&["seccomp=", unquote(&e.value)]),
        );
    }
    for (key, flag) in [
        ("DropCapability", "--cap-drop"),
        ("AddCapability", "--cap-add"),
    ] {
        for c in values::all_words(src, sec.list(key), Split::Strv, &mut x.warnings) {
            push(&mut a, flag, c.to_ascii_lowercase());
        }
    }
    for s in values::all_words(src, sec.list("Sysctl"), Split::Strv, &mut x.warnings) {
        push(&mut a, "--sysctl", s);
    }
    let read_only = match sec.last("ReadOnly") {
        Some(e) => {
            let b = boolean(src, e)?;
            a.push(
                if b {
                    "--read-only"
                } else {
                    "--read-only=false"
                }
                .into(),
            );
            b
        }
        None => false,
    };
    if flag("VolatileTmp")? && !read_only {
        push(&mut a, "--tmpfs", "/tmp:rw,size=512M,mode=1777");
    }
    let user = last(sec, "User").map(|(e, _)| single(src, e)).transpose()?;
    let group = last(sec, "Group")
        .map(|(e, _)| single(src, e))
        .transpose()?;
    match (user, group) {
        (None, None) => {}
        (Some(u), None) => push(&mut a, "--user", u),
        (Some(u), Some(g)) => push(&mut a, "--user", concat(&[&u, ":", &g])),
        (None, Some(_)) => {
            let line = sec.last("Group").map_or(0, |e| e.line);
            return Err(src.err(line, "Group= needs User= as well"));
        }
    }
    options::user_mappings(src, sec, &mut a, &mut x, true)?;
    for e in sec.list("Volume") {
        let v = options::volume(src, e, ctx, &mut x)?;
        push(&mut a, "-v", v);
    }
    if let Some((e, v)) = last(sec, "AutoUpdate") {
        if !matches!(v, "registry" | "local") {
            return Err(src.err(
                e.line,
                format!("AutoUpdate: `{v}` is neither `registry` nor `local`"),
            ));
        }
        push(&mut a, "--label", concat(&["io.containers.autoupdate=", v]));
    }
    for e in sec.list("ExposeHostPort") {
        let p = e.value.trim();
        if !port_range(p) {
            return Err(src.err(
                e.line,
                format!("ExposeHostPort: `{p}` is not a port or range (PORT[-PORT][/tcp|/udp])"),
            ));
        }
        push(&mut a, "--expose", p);
    }
    for e in sec.list("PublishPort") {
        push(&mut a, "--publish", single(src, e)?);
    }
    for (key, flag) in [
        ("Environment", "--env"),
        ("Label", "--label"),
        ("Annotation", "--annotation"),
    ] {
        let kv = values::key_values(src, sec.list(key), &mut x.warnings);
        values::push_key_values(&mut a, flag, &kv);
    }
    for (key, prefix) in [("Mask", "mask="), ("Unmask", "unmask=")] {
        for m in values::all_words(src, sec.list(key), Split::Args, &mut x.warnings) {
            push(&mut a, "--security-opt", concat(&[prefix, &m]));
        }
    }
    for f in values::all_words(
        src,
        sec.list("EnvironmentFile"),
        Split::Args,
        &mut x.warnings,
    ) {
        push(&mut a, "--env-file", host_path(src, &f));
    }
    for s in values::all_words(src, sec.list("Secret"), Split::Args, &mut x.warnings) {
        push(&mut a, "--secret", s);
    }
    for e in sec.list("Mount") {
        match values::split(&e.value, Split::Args) {
            Ok(ms) => {
                for m in ms {
                    let m = options::mount(src, e, &m, ctx, &mut x)?;
                    push(&mut a, "--mount", m);
                }
            }
            Err(why) => x
                .warnings
                .push(src.err(e.line, format!("Mount: {why}: `{}` ignored", e.value))),
        }
    }
    for (key, flag) in HEALTH {
        if let Some((_, v)) = last(sec, key) {
            push(&mut a, flag, v);
        }
    }
    if let Some((pod, unit)) = options::pod(src, sec, ctx)? {
        options::pod_member_warnings(src, sec, &mut x.warnings);
        push(&mut a, "--pod", pod);
        x.pod = Some(unit);
    }
    a.extend(
        values::podman_args(src, sec, &mut x.warnings)
            .into_iter()
            .map(Cow::Owned),
    );
    // Offline: no network to reach (only `Network=none`) and no image to pull.
    let nets = sec.list("Network");
    let no_net = !nets.is_empty() && nets.iter().all(|e| unquote(&e.value) == "none");
    let no_pull = matches!(img.first().map(|s| &**s), Some("--rootfs"))
        || last(sec, "Pull").is_some_and(|(_, v)| v == "never");
    let offline = no_net && no_pull;
    a.extend(img);
    if let Some(e) = sec.last("Exec") {
        match values::split_full(&e.value, Split::Args) {
            Ok((w, dropped)) => {
                x.warnings.extend(values::unbalanced_warning(src, e));
                if dropped {
                    x.warnings.push(values::dropped_warning(src, e));
                }
                a.extend(w.into_iter().map(Cow::Owned))
            }
            Err(why) => x.warnings.push(src.err(
                e.line,
                format!("Exec: {why}: the command is ignored (quadlet does the same)"),
            )),
        }
    }
    Ok(Run {
        argv: a,
        name,
        global,
        offline,
        extra: x,
    })
}

/// `ExposeHostPort=`: `PORT[-PORT][/tcp|/udp]`, as quadlet checks it.
fn port_range(p: &str) -> bool {
    let p = p
        .strip_suffix("/tcp")
        .or_else(|| p.strip_suffix("/udp"))
        .unwrap_or(p);
    let num = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match p.split_once('-') {
        Some((a, b)) => num(a) && num(b),
        None => num(p),
    }
}

/// `ReloadCmd=` (`podman exec NAME CMD...`) or `ReloadSignal=` (`podman kill --signal SIG
/// NAME`): `ExecReload=`.
fn reload(
    src: &Source,
    sec: &Index,
    podman: &str,
    global: &[String],
    name: &str,
    warnings: &mut Vec<SourceError>,
) -> Result<Option<String>, SourceError> {
    let signal = last(sec, "ReloadSignal");
    let cmd = match sec.last("ReloadCmd") {
        Some(e) => match values::split(&e.value, Split::Args) {
            Ok(w) if !w.is_empty() => Some((e, w)),
            Ok(_) => None,
            Err(why) => {
                warnings.push(src.err(
                    e.line,
                    format!("ReloadCmd: {why}: the command is ignored (quadlet does the same)"),
                ));
                None
            }
        },
        None => None,
    };
    let mut argv: Vec<&str> = global.iter().map(String::as_str).collect();
    match (cmd, signal) {
        (None, None) => return Ok(None),
        (Some((e, _)), Some(_)) => {
            return Err(src.err(e.line, "ReloadCmd= and ReloadSignal= exclude each other"))
        }
        (Some((_, w)), None) => {
            argv.extend(["exec", name]);
            let line = exec::command_line(podman, &argv);
            let mut out = line;
            for word in &w {
                out.push(' ');
                exec::push_word(&mut out, word);
            }
            return Ok(Some(out));
        }
        (None, Some((_, sig))) => argv.extend(["kill", "--signal", sig, name]),
    }
    Ok(Some(exec::command_line(podman, &argv)))
}

/// Translate a `.container` source.
/// `name` is the unit's ([`Source::unit_name`]).
pub fn translate(src: &Source, ctx: &Context, name: String) -> Result<Generated, SourceError> {
    let Some(sec) = src.file.section("Container") else {
        return Err(src.err(0, "no [Container] section"));
    };
    let sec = Index::new(sec);

    // [Service] keys the user may set, checked as quadlet does.
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

    let podman = ctx.podman;
    let mut run = run_argv(src, &sec, ctx, podman, oneshot)?;
    let reload = reload(
        src,
        &sec,
        podman,
        &run.global,
        &run.name,
        &mut run.extra.warnings,
    )?;
    let mut file = super::service::service_unit(src, !run.offline)?;

    let unit = file.section_mut("Unit");
    for p in &run.extra.mounts_for {
        unit.add("RequiresMountsFor", super::service::mount_path_value(p));
    }
    // One pair per reference, as quadlet writes them (a repeated one is harmless).
    for dep in &run.extra.deps {
        unit.add("Requires", dep.clone());
        unit.add("After", dep.clone());
    }
    if let Some(pod) = &run.extra.pod {
        unit.add("BindsTo", pod.clone());
        unit.add("After", pod.clone());
    }
    if let Some(socks) = ctx.sockets_for.get(&name) {
        for s in socks {
            unit.add("Requires", s.clone());
            unit.add("After", s.clone());
        }
    }

    // Stopped by name (quadlet 5.6+): no cid file, so no stale one can block a restart.
    let mut stop: Vec<&str> = run.global.iter().map(String::as_str).collect();
    stop.extend(["rm", "-v", "-f", "-i", &run.name]);
    let stop = exec::command_line(podman, &stop);
    let svc = file.section_mut("Service");
    svc.add("Environment", "PODMAN_SYSTEMD_UNIT=%n");
    if !svc.has("KillMode") {
        svc.add("KillMode", "mixed");
    }
    // ExecStop for a clean stop; ExecStopPost also when conmon was killed.
    let stop_post = concat(&["-", &stop]);
    svc.add("ExecStop", stop);
    svc.add("ExecStopPost", stop_post);
    if let Some(r) = reload {
        svc.add("ExecReload", r);
    }
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
    svc.add("ExecStart", exec::command_line(podman, &run.argv[1..]));

    super::service::finish(
        src,
        ctx,
        file,
        name,
        std::mem::take(&mut run.extra.warnings),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert!(port_range("80"));
        assert!(port_range("80-90/udp"));
        assert!(!port_range("80-"));
        assert!(!port_range("http"));
    }
}

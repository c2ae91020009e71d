//! `X.container` -> `X.service`: `podman run` the way quadlet 5.8 does (its
//! `ConvertContainer`, argument for argument and in its order), plus rootlet's wait unit,
//! restart defaults and socket wiring.

use super::flags::{self, push, Args, Argv, Extra, Flag};
use super::options::{self, handle};
use super::paths::host_path;
use super::values::{self, boolean, last, single, unquote, Split};
use super::{concat, refs, Context, Generated, Source, SourceKind};
use crate::error::SourceError;
use crate::exec;
use crate::unit::Index;
use std::borrow::Cow;

/// The keys of quadlet 5.8's `[Container]` (deprecated ones included) and their flags, in
/// the order of `podman run`'s argv after `--rm` (quadlet's `ConvertContainer`, argument
/// for argument; among the `Str` rows quadlet's order is a Go map's, so any fixed one is
/// as good).
pub(crate) const FLAGS: &[Flag] = &[
    Flag::Other(flags::COMMON),
    // Read by `run_argv` and `translate` themselves: the name, the image (last in the
    // argv), the command, `ExecReload=`.
    Flag::Other(&[
        "ContainerName",
        "Exec",
        "Image",
        "ReloadCmd",
        "ReloadSignal",
        "Rootfs",
    ]),
    Flag::Custom(&["LogDriver"], handle::log_driver),
    Flag::Custom(&["LogOpt"], handle::log_opt),
    Flag::Custom(&["CgroupsMode"], |r| {
        match last(r.sec, "CgroupsMode") {
            Some((_, v)) => push(&mut r.a, "--cgroups", v),
            None => r.a.push("--cgroups=split".into()),
        }
        Ok(())
    }),
    // An empty Entrypoint= is meaningful: it clears the image's entrypoint.
    Flag::Custom(&["Entrypoint"], |r| {
        if let Some(e) = r.sec.last("Entrypoint") {
            r.a.push(concat(&["--entrypoint=", unquote(&e.value)]).into());
        }
        Ok(())
    }),
    Flag::Str("Timezone", "--tz"),
    Flag::Str("PidsLimit", "--pids-limit"),
    Flag::Str("ShmSize", "--shm-size"),
    Flag::Str("WorkingDir", "--workdir"),
    Flag::Str("IP", "--ip"),
    Flag::Str("IP6", "--ip6"),
    Flag::Str("HostName", "--hostname"),
    Flag::Str("StopSignal", "--stop-signal"),
    Flag::Str("StopTimeout", "--stop-timeout"),
    Flag::Str("Pull", "--pull"),
    Flag::Str("Memory", "--memory"),
    Flag::Str("Retry", "--retry"),
    Flag::Str("RetryDelay", "--retry-delay"),
    Flag::All("NetworkAlias", "--network-alias"),
    Flag::All("Ulimit", "--ulimit"),
    Flag::All("DNS", "--dns"),
    Flag::All("DNSOption", "--dns-option"),
    Flag::All("DNSSearch", "--dns-search"),
    Flag::All("GroupAdd", "--group-add"),
    Flag::All("AddHost", "--add-host"),
    Flag::All("Tmpfs", "--tmpfs"),
    Flag::Bool("RunInit", "--init"),
    Flag::Bool("EnvironmentHost", "--env-host"),
    Flag::Bool("HttpProxy", "--http-proxy"),
    Flag::Bool("ReadOnlyTmpfs", "--read-only-tmpfs"),
    Flag::Custom(&["Network"], handle::network),
    Flag::Custom(&["Notify"], notify),
    Flag::Custom(&["NoNewPrivileges"], |r| {
        if r.flag("NoNewPrivileges")? {
            r.a.push("--security-opt=no-new-privileges".into());
        }
        Ok(())
    }),
    Flag::Custom(&["SecurityLabelDisable"], |r| {
        if r.flag("SecurityLabelDisable")? {
            push(&mut r.a, "--security-opt", "label=disable");
        }
        Ok(())
    }),
    Flag::Custom(&["SecurityLabelNested"], |r| {
        if r.flag("SecurityLabelNested")? {
            push(&mut r.a, "--security-opt", "label=nested");
        }
        Ok(())
    }),
    Flag::Prefixed("SecurityLabelType", "--security-opt", "label=type:"),
    Flag::Prefixed("SecurityLabelFileType", "--security-opt", "label=filetype:"),
    Flag::Prefixed("SecurityLabelLevel", "--security-opt", "label=level:"),
    Flag::Prefixed("AppArmor", "--security-opt", "apparmor="),
    Flag::Custom(&["AddDevice"], |r| {
        let devices = r.all_words("AddDevice", Split::Strv);
        for d in devices {
            if let Some(d) = device(&d) {
                push(&mut r.a, "--device", d.to_owned());
            }
        }
        Ok(())
    }),
    Flag::Custom(&["SeccompProfile"], |r| {
        if let Some(e) = r.sec.last("SeccompProfile") {
            let v = concat(&["seccomp=", unquote(&e.value)]);
            push(&mut r.a, "--security-opt", v);
        }
        Ok(())
    }),
    Flag::Custom(&["DropCapability", "AddCapability"], |r| {
        for (key, flag) in [
            ("DropCapability", "--cap-drop"),
            ("AddCapability", "--cap-add"),
        ] {
            let caps = r.all_words(key, Split::Strv);
            for c in caps {
                push(&mut r.a, flag, c.to_ascii_lowercase());
            }
        }
        Ok(())
    }),
    Flag::Custom(&["Sysctl"], |r| {
        r.words("Sysctl", Split::Strv, "--sysctl");
        Ok(())
    }),
    Flag::Custom(&["ReadOnly", "VolatileTmp"], read_only),
    Flag::Custom(&["User", "Group"], user),
    Flag::Custom(options::USER_MAPPINGS, handle::mappings),
    Flag::Custom(&["Volume"], handle::volumes),
    Flag::Custom(&["AutoUpdate"], auto_update),
    Flag::Custom(&["ExposeHostPort"], |r| {
        for e in r.sec.list("ExposeHostPort") {
            let p = e.value.trim();
            if !port_range(p) {
                return Err(r.src.err(
                    e.line,
                    format!(
                        "ExposeHostPort: `{p}` is not a port or range (PORT[-PORT][/tcp|/udp])"
                    ),
                ));
            }
            push(&mut r.a, "--expose", p);
        }
        Ok(())
    }),
    Flag::Custom(&["PublishPort"], handle::publish),
    Flag::Custom(&["Environment"], |r| {
        handle::key_values(r, "Environment", "--env")
    }),
    Flag::Custom(&["Label"], |r| handle::key_values(r, "Label", "--label")),
    Flag::Custom(&["Annotation"], |r| {
        handle::key_values(r, "Annotation", "--annotation")
    }),
    Flag::Custom(&["Mask", "Unmask"], |r| {
        for (key, prefix) in [("Mask", "mask="), ("Unmask", "unmask=")] {
            let masks = r.all_words(key, Split::Args);
            for m in masks {
                push(&mut r.a, "--security-opt", concat(&[prefix, &m]));
            }
        }
        Ok(())
    }),
    Flag::Custom(&["EnvironmentFile"], |r| {
        let files = r.all_words("EnvironmentFile", Split::Args);
        for f in files {
            push(&mut r.a, "--env-file", host_path(r.src, &f));
        }
        Ok(())
    }),
    Flag::Custom(&["Secret"], |r| {
        r.words("Secret", Split::Args, "--secret");
        Ok(())
    }),
    Flag::Custom(&["Mount"], mounts),
    Flag::Str("HealthCmd", "--health-cmd"),
    Flag::Str("HealthInterval", "--health-interval"),
    Flag::Str("HealthOnFailure", "--health-on-failure"),
    Flag::Str("HealthLogDestination", "--health-log-destination"),
    Flag::Str("HealthMaxLogCount", "--health-max-log-count"),
    Flag::Str("HealthMaxLogSize", "--health-max-log-size"),
    Flag::Str("HealthRetries", "--health-retries"),
    Flag::Str("HealthStartPeriod", "--health-start-period"),
    Flag::Str("HealthTimeout", "--health-timeout"),
    Flag::Str("HealthStartupCmd", "--health-startup-cmd"),
    Flag::Str("HealthStartupInterval", "--health-startup-interval"),
    Flag::Str("HealthStartupRetries", "--health-startup-retries"),
    Flag::Str("HealthStartupSuccess", "--health-startup-success"),
    Flag::Str("HealthStartupTimeout", "--health-startup-timeout"),
    Flag::Custom(&["Pod", "StartWithPod"], |r| {
        if let Some((pod, unit)) = options::pod(r.src, r.sec, r.ctx)? {
            options::pod_member_warnings(r.src, r.sec, &mut r.x.warnings);
            push(&mut r.a, "--pod", pod);
            r.x.pod = Some(unit);
        }
        Ok(())
    }),
];

/// Whether the container's service is a oneshot (`[Service] Type=oneshot`, checked by
/// [`translate`]), whose command runs in the foreground.
fn oneshot(src: &Source) -> bool {
    src.file
        .section("Service")
        .and_then(|s| s.last("Type"))
        .is_some_and(|e| e.value == "oneshot")
}

/// `Notify=`: how the container tells systemd it is ready, and `-d` (not for a oneshot).
fn notify(r: &mut Args) -> Result<(), SourceError> {
    if oneshot(r.src) {
        return Ok(());
    }
    let notify = match r.sec.last("Notify") {
        // Before podman 5.0 rootlet waits for healthy itself (`health::add_wait`).
        Some(e) if super::health::is_healthy(&e.value) => {
            super::health::sdnotify(r.ctx.podman_version)
        }
        Some(e) if boolean(r.src, e)? => "--sdnotify=container",
        _ => "--sdnotify=conmon",
    };
    r.a.push(notify.into());
    r.a.push("-d".into());
    Ok(())
}

/// `ReadOnly=` and `VolatileTmp=` (a tmpfs `/tmp`, unless the container is read-only).
fn read_only(r: &mut Args) -> Result<(), SourceError> {
    let read_only = match r.sec.last("ReadOnly") {
        Some(e) => {
            let b = boolean(r.src, e)?;
            r.a.push(
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
    if r.flag("VolatileTmp")? && !read_only {
        push(&mut r.a, "--tmpfs", "/tmp:rw,size=512M,mode=1777");
    }
    Ok(())
}

/// `User=` and `Group=`: `--user USER[:GROUP]`.
fn user(r: &mut Args) -> Result<(), SourceError> {
    let (src, sec) = (r.src, r.sec);
    let user = last(sec, "User").map(|(e, _)| single(src, e)).transpose()?;
    let group = last(sec, "Group")
        .map(|(e, _)| single(src, e))
        .transpose()?;
    match (user, group) {
        (None, None) => {}
        (Some(u), None) => push(&mut r.a, "--user", u),
        (Some(u), Some(g)) => push(&mut r.a, "--user", concat(&[&u, ":", &g])),
        (None, Some(_)) => {
            let line = sec.last("Group").map_or(0, |e| e.line);
            return Err(src.err(line, "Group= needs User= as well"));
        }
    }
    Ok(())
}

/// `AutoUpdate=`: the label `podman auto-update` reads.
fn auto_update(r: &mut Args) -> Result<(), SourceError> {
    if let Some((e, v)) = last(r.sec, "AutoUpdate") {
        if !values::auto_update_policy(v) {
            return Err(r.src.err(
                e.line,
                format!("AutoUpdate: `{v}` is neither `registry` nor `local`"),
            ));
        }
        push(
            &mut r.a,
            "--label",
            concat(&["io.containers.autoupdate=", v]),
        );
    }
    Ok(())
}

/// `Mount=`: `--mount` each ([`options::mount`]); a value that cannot be split is left out
/// with a warning.
fn mounts(r: &mut Args) -> Result<(), SourceError> {
    for e in r.sec.list("Mount") {
        match values::split(&e.value, Split::Args) {
            Ok(ms) => {
                for m in ms {
                    let m = options::mount(r.src, e, &m, r.ctx, &mut r.x)?;
                    push(&mut r.a, "--mount", m);
                }
            }
            Err(why) => r.x.warnings.push(
                r.src
                    .err(e.line, format!("Mount: {why}: `{}` ignored", e.value)),
            ),
        }
    }
    Ok(())
}

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
) -> Result<Run<'a>, SourceError> {
    let mut x = Extra::default();
    let img = image(src, sec, ctx, &mut x)?;
    if let Some((e, i)) = last(sec, "Image") {
        x.warnings
            .extend(options::short_name_warning(src, e, i, SourceKind::Image));
    }
    let name = container_name(src, sec);
    let global = values::global_args(src, ctx, sec, &mut x.warnings)?;
    let mut r = Args {
        src,
        sec,
        ctx,
        a: Vec::with_capacity(48),
        x,
    };
    r.a.push(podman.into());
    r.a.extend(global.iter().cloned().map(Cow::Owned));
    r.a.push("run".into());
    push(&mut r.a, "--name", name.clone());
    r.a.push("--replace".into());
    r.a.push("--rm".into());
    flags::apply(FLAGS, &mut r)?;
    let Args { mut a, mut x, .. } = r;
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
    let oneshot = super::service::service_type(src, "a container")?;
    super::service::check_kill_mode(src, "a container")?;

    let podman = ctx.podman;
    let mut run = run_argv(src, &sec, ctx, podman)?;
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
    for s in ctx.sockets_of(src, &name) {
        unit.add("Requires", s.clone());
        unit.add("After", s);
    }

    // Stopped by name (quadlet 5.6+): no cid file, so no stale one can block a restart.
    let mut stop: Vec<&str> = run.global.iter().map(String::as_str).collect();
    stop.extend(["rm", "-v", "-f", "-i", &run.name]);
    let stop = exec::command_line(podman, &stop);
    let svc = file.section_mut("Service");
    svc.add("Environment", "PODMAN_SYSTEMD_UNIT=%n");
    super::service::default(svc, "KillMode", "mixed");
    // ExecStop for a clean stop; ExecStopPost also when conmon was killed.
    let stop_post = concat(&["-", &stop]);
    svc.add("ExecStop", stop);
    svc.add("ExecStopPost", stop_post);
    if let Some(r) = reload {
        svc.add("ExecReload", r);
    }
    super::service::default(svc, "Delegate", "yes");
    super::service::default(svc, "Type", "notify");
    if !oneshot && !svc.has("NotifyAccess") {
        svc.add("NotifyAccess", "all");
    }
    super::service::default(svc, "SyslogIdentifier", "%N");
    svc.add("ExecStart", exec::command_line(podman, &run.argv[1..]));
    let notify = sec.last("Notify").filter(|_| !oneshot);
    let version = ctx.podman_version;
    super::health::add_wait(svc, version, notify, podman, &run.global, &run.name);

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

//! `X.pod` -> `X-pod.service`: `podman pod create` before `podman pod start`, a forking
//! service that follows the pod's infra container (quadlet 5.8's `ConvertPod`), and
//! `Pod=X.pod` in a `.container` resolved to that pod (quadlet's `handlePod`).
//!
//! A pod's unit wants (and is ordered before) every container that starts with it
//! (`StartWithPod=`, default true); a member container is bound to the pod's unit
//! (`BindsTo=`, `After=`). The members are found by [`members`], over the containers of
//! the run: the generator reads containers before the others are translated only when
//! the run has `.pod` files (`src/generator/translate.rs`).
//!
//! Templates: `X@.pod` names one pod per instance, `systemd-X-%i` (as quadlet 5.7+ names
//! the network and volume of a template; quadlet 5.8 would name the pod `systemd-X@`,
//! which podman refuses), and a template container `C@.container` with `Pod=X@.pod`
//! joins the pod of its own instance.

use super::flags::{self, Args, Extra, Flag};
use super::options::{self, handle};
use super::values::{self, boolean, last, unquote};
use super::{Context, Generated, Source, SourceKind};
use crate::error::SourceError;
use crate::exec;
use crate::unit::Index;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The keys of quadlet 5.8's `[Pod]` and their flags, in the order of `podman pod create`'s
/// argv after `--exit-policy` (quadlet's order; among the `Str` rows it is a Go map's,
/// rootlet's is this one).
pub(crate) const FLAGS: &[Flag] = &[
    Flag::Other(flags::COMMON),
    Flag::Other(&["PodName", "StopTimeout"]),
    Flag::Custom(&["ExitPolicy"], |r| {
        let policy = last(r.sec, "ExitPolicy").map_or("stop", |(_, v)| v);
        r.a.push(policy.into());
        Ok(())
    }),
    Flag::Custom(options::USER_MAPPINGS, handle::mappings),
    Flag::Custom(&["PublishPort"], handle::publish),
    Flag::Custom(&["Label"], |r| handle::key_values(r, "Label", "--label")),
    Flag::Custom(&["Network"], handle::network),
    Flag::Str("IP", "--ip"),
    Flag::Str("IP6", "--ip6"),
    Flag::Str("ShmSize", "--shm-size"),
    Flag::All("NetworkAlias", "--network-alias"),
    Flag::All("DNS", "--dns"),
    Flag::All("DNSOption", "--dns-option"),
    Flag::All("DNSSearch", "--dns-search"),
    Flag::All("AddHost", "--add-host"),
    Flag::All("HostName", "--hostname"),
    Flag::Custom(&["Volume"], handle::volumes),
];

/// The podman name of the pod of a `.pod` source: `PodName=`, else `systemd-X`; a
/// template and its instances name one pod per instance, `systemd-X-%i`.
pub fn pod_name(src: &Source) -> String {
    super::refs::podman_name(src, "PodName")
}

/// Whether a source's stem is a template's (`X@`) or an instance's (`X@i`).
fn template_parts(stem: &str) -> Option<(&str, &str)> {
    stem.split_once('@')
}

/// The pod a container starts with: (`.pod` file name, the container's unit) when its
/// `Pod=` names a `.pod` file and its `StartWithPod=` is not false. A container whose
/// `StartWithPod=` is no boolean starts with none (its own translation fails on it).
pub fn member_of(s: &Source) -> Option<(String, String)> {
    if s.kind != SourceKind::Container {
        return None;
    }
    let mut pod = None;
    let mut start = Some(true);
    for sec in s.file.sections.iter().filter(|x| x.name == "Container") {
        for e in &sec.entries {
            match &*e.key {
                "Pod" => pod = Some(unquote(&e.value)),
                "StartWithPod" => start = boolean(s, e).ok(),
                _ => {}
            }
        }
    }
    match (pod, start) {
        (Some(p), Some(true)) if p.ends_with(".pod") => Some((p.to_owned(), s.unit_name())),
        _ => None,
    }
}

/// The containers that start with each pod: `.pod` file name -> their units, sorted; from
/// the containers among `sources` ([`member_of`]) and the pairs already known (`more`).
pub fn members<'s>(
    sources: impl Iterator<Item = &'s Source>,
    more: Vec<(String, String)>,
) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (pod, unit) in sources.filter_map(member_of).chain(more) {
        out.entry(pod).or_default().push(unit);
    }
    for units in out.values_mut() {
        units.sort();
        units.dedup();
    }
    out
}

/// `StopTimeout=` (seconds, default 10) as `podman pod stop`'s `--time=`.
fn stop_time(src: &Source, sec: &Index) -> Result<String, SourceError> {
    let stop_timeout = last(sec, "StopTimeout").map_or("10", |(_, v)| v);
    if let Some((e, v)) = last(sec, "StopTimeout") {
        if !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(src.err(
                e.line,
                format!("StopTimeout: `{v}` is not a number of seconds"),
            ));
        }
    }
    Ok(super::concat(&["--time=", stop_timeout]))
}

/// Translate a `.pod` source.
pub fn translate(src: &Source, ctx: &Context, name: String) -> Result<Generated, SourceError> {
    let sec = src.own();
    let mut x = Extra::default();
    let pod = pod_name(src);
    let global = values::global_args(src, ctx, &sec, &mut x.warnings)?;
    let podman = ctx.podman;
    let cmd = |rest: &[&str]| -> String {
        let mut a: Vec<&str> = global.iter().map(String::as_str).collect();
        a.extend_from_slice(rest);
        exec::command_line(podman, &a)
    };

    let mut r = Args {
        src,
        sec: &sec,
        ctx,
        a: global.iter().map(|g| Cow::Borrowed(g.as_str())).collect(),
        x,
    };
    r.a.extend(
        [
            "pod",
            "create",
            "--infra-conmon-pidfile=%t/%N.pid",
            "--replace",
            "--exit-policy",
        ]
        .map(Cow::Borrowed),
    );
    flags::apply(FLAGS, &mut r)?;
    let (mut a, mut x) = (r.a, r.x);
    flags::push(&mut a, "--infra-name", super::concat(&[&pod, "-infra"]));
    flags::push(&mut a, "--name", pod.as_str());
    a.extend(
        values::podman_args(src, &sec, &mut x.warnings)
            .into_iter()
            .map(Cow::Owned),
    );
    let create = exec::command_line(podman, &a);

    let time = stop_time(src, &sec)?;

    let mut file = super::service::service_unit(src, true)?;
    let unit = file.section_mut("Unit");
    for p in &x.mounts_for {
        unit.add("RequiresMountsFor", super::service::mount_path_value(p));
    }
    for c in starting(src, ctx) {
        unit.add("Wants", c.clone());
        unit.add("Before", c);
    }
    for dep in &x.deps {
        unit.add("Requires", dep.clone());
        unit.add("After", dep.clone());
    }

    let svc = file.section_mut("Service");
    super::service::default(svc, "SyslogIdentifier", "%N");
    svc.add("ExecStart", cmd(&["pod", "start", &pod]));
    svc.add("ExecStop", cmd(&["pod", "stop", "--ignore", &time, &pod]));
    svc.add(
        "ExecStopPost",
        cmd(&["pod", "rm", "--ignore", "--force", &pod]),
    );
    svc.add("ExecStartPre", create);
    svc.add("Environment", "PODMAN_SYSTEMD_UNIT=%n");
    // The service follows the infra container's conmon, as quadlet sets it (a source's
    // own Type=/PIDFile= would break it).
    svc.entries
        .retain(|e| e.key != "Type" && e.key != "PIDFile");
    svc.add("Type", "forking");
    svc.add("PIDFile", "%t/%N.pid");
    super::service::finish(src, ctx, file, name, x.warnings)
}

/// The units of the containers that start with this pod (see [`members`]). For a
/// template pod, a template container starts as the same instance (`C@%i.service`);
/// a template container cannot be started by a plain pod (it has no instance).
fn starting(src: &Source, ctx: &Context) -> Vec<String> {
    let Some(units) = ctx.pod_members.get(&src.name) else {
        return Vec::new();
    };
    let template = matches!(template_parts(src.stem()), Some((_, "")));
    units
        .iter()
        .filter_map(|u| match u.split_once("@.") {
            Some((p, t)) if template => Some(super::concat(&[p, "@%i.", t])),
            Some(_) => None,
            None => Some(u.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit::UnitFile;

    fn source(name: &str, text: &str) -> Source {
        let (kind, _) = SourceKind::from_file_name(name).unwrap();
        Source {
            path: format!("/q/{name}").into(),
            name: name.into(),
            kind,
            file: UnitFile::parse(text).unwrap(),
        }
    }

    #[test]
    fn members_are_the_containers_that_start_with_the_pod() {
        let s = [
            source("b.container", "[Container]\nImage=x\nPod=p.pod\n"),
            source(
                "a.container",
                "[Container]\nImage=x\nPod=p.pod\nStartWithPod=yes\n",
            ),
            source(
                "c.container",
                "[Container]\nImage=x\nPod=p.pod\nStartWithPod=no\n",
            ),
            source(
                "d.container",
                "[Container]\nImage=x\nPod=p.pod\nStartWithPod=maybe\n",
            ),
            source(
                "e.container",
                "[Container]\nImage=x\nPod=\"q.pod\"\nServiceName=eee\n",
            ),
            source("f.container", "[Container]\nImage=x\nPod=not-quadlet\n"),
            source("p.pod", "[Pod]\n"),
        ];
        let m = members(s.iter(), Vec::new());
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m["p.pod"], ["a.service", "b.service"]);
        assert_eq!(m["q.pod"], ["eee.service"]);
    }

    /// Translate `files` as one run: unit name -> (text, warnings).
    fn run(files: &[(&str, &str)]) -> BTreeMap<String, (String, Vec<String>)> {
        let sources: Vec<Source> = files.iter().map(|(n, t)| source(n, t)).collect();
        let by_name: BTreeMap<String, &Source> =
            sources.iter().map(|s| (s.name.clone(), s)).collect();
        let defaults = super::super::Defaults::default();
        let none = BTreeMap::new();
        let newest = crate::podman::Lazy::new("/usr/bin/podman", crate::podman::Target::Newest);
        let m = members(sources.iter(), Vec::new());
        let ctx = Context {
            podman: "/usr/bin/podman",
            podman_version: &newest,
            defaults: &defaults,
            sources: &by_name,
            sockets_for: &none,
            load: None,
            pod_members: &m,
        };
        sources
            .iter()
            .map(|s| {
                let g = super::super::translate(s, &ctx).unwrap();
                let w = g.warnings.iter().map(ToString::to_string).collect();
                (g.name.clone(), (g.text(), w))
            })
            .collect()
    }

    #[test]
    fn members_sharing_the_network_are_warned_about_ports_and_hosts() {
        let u = run(&[
            ("p.pod", "[Pod]\n"),
            (
                "a.container",
                "[Container]\nImage=docker.io/x\nPod=p.pod\nPublishPort=80:80\nAddHost=h:10.0.0.1\n",
            ),
            (
                "b.container",
                "[Container]\nImage=docker.io/x\nPod=p.pod\nNetwork=host\nPublishPort=80:80\n",
            ),
        ]);
        let (text, w) = &u["a.service"];
        assert!(text.contains(" --pod systemd-p "), "{text}");
        assert!(
            text.contains("\nBindsTo=p-pod.service\nAfter=p-pod.service\n"),
            "{text}"
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("/q/a.container:4: PublishPort: a container in a pod"));
        assert!(w[1].starts_with("/q/a.container:5: AddHost:"));
        assert!(u["b.service"].1.is_empty(), "{:?}", u["b.service"].1);
        let (pod, _) = &u["p-pod.service"];
        assert!(pod.contains("Wants=a.service\nBefore=a.service\nWants=b.service\n"));
    }

    #[test]
    fn pod_names() {
        assert_eq!(pod_name(&source("a.pod", "[Pod]\n")), "systemd-a");
        assert_eq!(pod_name(&source("a.pod", "[Pod]\nPodName=x\n")), "x");
        assert_eq!(pod_name(&source("a@.pod", "[Pod]\n")), "systemd-a-%i");
        assert_eq!(pod_name(&source("a@b.pod", "[Pod]\n")), "systemd-a-%i");
    }
}

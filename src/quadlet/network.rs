//! `X.network` -> `X-network.service`: a oneshot `podman network create --ignore`
//! (quadlet 5.8's `ConvertNetwork`); on podman < 4.4, which has no `--ignore`, the same
//! command run only when the network is missing (`options::create_if_missing`).

use super::service::Oneshot;
use super::values::{self, boolean, last};
use super::{Context, Generated, Source};
use crate::error::SourceError;
use crate::podman::Version;
use crate::unit::Index;

/// Every key of quadlet 5.8's `[Network]`.
pub(crate) const KEYS: &[&str] = &[
    "ContainersConfModule",
    "DisableDNS",
    "DNS",
    "Driver",
    "Gateway",
    "GlobalArgs",
    "Internal",
    "InterfaceName",
    "IPAMDriver",
    "IPRange",
    "IPv6",
    "Label",
    "NetworkDeleteOnStop",
    "NetworkName",
    "Options",
    "PodmanArgs",
    "ServiceName",
    "Subnet",
];

/// The podman network name of a `.network` source.
pub fn network_name(src: &Source) -> String {
    super::refs::podman_name(src, "NetworkName")
}

/// Translate a `.network` source.
pub fn translate(src: &Source, ctx: &Context, name: String) -> Result<Generated, SourceError> {
    let empty = crate::unit::Section::new("Network");
    let sec = Index::new(src.file.section("Network").unwrap_or(&empty));
    let mut warnings = Vec::new();
    let net = network_name(src);
    let global = values::global_args(src, ctx, &sec, &mut warnings)?;
    let base = |rest: &[&str]| -> Vec<String> {
        let mut a = vec![ctx.podman.to_owned()];
        a.extend(global.iter().cloned());
        a.extend(rest.iter().map(|s| (*s).to_owned()));
        a
    };
    let stop_post = match sec.last("NetworkDeleteOnStop") {
        Some(e) if boolean(src, e)? => Some(base(&["network", "rm", &net])),
        _ => None,
    };
    let ignore = ctx.podman_version.has(Version::CREATE_IGNORE);
    let mut a = base(&["network", "create"]);
    if ignore {
        a.push("--ignore".to_owned());
    }
    for (key, flag) in [
        ("DisableDNS", "--disable-dns"),
        ("Internal", "--internal"),
        ("IPv6", "--ipv6"),
    ] {
        if let Some(e) = sec.last(key) {
            a.push(if boolean(src, e)? {
                flag.to_owned()
            } else {
                super::concat(&[flag, "=false"])
            });
        }
    }
    for (key, flag) in [
        ("Driver", "--driver"),
        ("IPAMDriver", "--ipam-driver"),
        ("InterfaceName", "--interface-name"),
    ] {
        if let Some((_, v)) = last(&sec, key) {
            a.extend([flag.to_owned(), v.to_owned()]);
        }
    }
    for e in sec.list("DNS") {
        a.extend(["--dns".to_owned(), e.value.clone()]);
    }
    let subnets = sec.list("Subnet");
    let gateways = sec.list("Gateway");
    let ranges = sec.list("IPRange");
    for (key, list) in [("Gateway", gateways), ("IPRange", ranges)] {
        if list.len() > subnets.len() {
            return Err(src.err(
                list[subnets.len()].line,
                format!(
                    "{key}= needs a Subnet= of its own ({} {key}, {} Subnet)",
                    list.len(),
                    subnets.len()
                ),
            ));
        }
    }
    for (i, s) in subnets.iter().enumerate() {
        a.extend(["--subnet".to_owned(), s.value.clone()]);
        if let Some(g) = gateways.get(i) {
            a.extend(["--gateway".to_owned(), g.value.clone()]);
        }
        if let Some(r) = ranges.get(i) {
            a.extend(["--ip-range".to_owned(), r.value.clone()]);
        }
    }
    for (key, flag) in [("Options", "--opt"), ("Label", "--label")] {
        let kv = values::key_values(src, sec.list(key), &mut warnings);
        for (k, v) in kv {
            a.push(flag.to_owned());
            a.push(match v {
                Some(v) => super::concat(&[&k, "=", &v]),
                None => k,
            });
        }
    }
    a.extend(values::podman_args(src, &sec, &mut warnings));
    a.push(net);
    if !ignore {
        a = super::options::create_if_missing(a, "network", global.len());
    }
    super::service::oneshot(
        src,
        ctx,
        Oneshot {
            argv: a,
            stop_post,
            // Creating a network is local work: nothing to wait for.
            pulls: false,
            remain: true,
            deps: Vec::new(),
            mounts_for: Vec::new(),
            warnings,
        },
        name,
    )
}

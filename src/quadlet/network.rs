//! `X.network` -> `X-network.service`: a oneshot `podman network create --ignore`
//! (quadlet 5.8's `ConvertNetwork`); on podman < 4.4, which has no `--ignore`, the same
//! command run only when the network is missing (`service::create_if_missing`).

use super::flags::{self, push, Args, Extra, Flag};
use super::options::handle;
use super::service::Oneshot;
use super::values::{self, boolean};
use super::{Context, Generated, Source};
use crate::error::SourceError;
use crate::podman::Version;
use std::borrow::Cow;

/// The keys of quadlet 5.8's `[Network]` and their flags, in the order of `podman network
/// create`'s argv.
pub(crate) const FLAGS: &[Flag] = &[
    Flag::Other(flags::COMMON),
    Flag::Other(&["NetworkDeleteOnStop", "NetworkName"]),
    Flag::Bool("DisableDNS", "--disable-dns"),
    Flag::Bool("Internal", "--internal"),
    Flag::Bool("IPv6", "--ipv6"),
    Flag::Str("Driver", "--driver"),
    Flag::Str("IPAMDriver", "--ipam-driver"),
    Flag::Str("InterfaceName", "--interface-name"),
    Flag::All("DNS", "--dns"),
    Flag::Custom(&["Subnet", "Gateway", "IPRange"], subnets),
    Flag::Custom(&["Options"], |r| handle::key_values(r, "Options", "--opt")),
    Flag::Custom(&["Label"], |r| handle::key_values(r, "Label", "--label")),
];

/// `Subnet=`, each with the `Gateway=` and `IPRange=` of the same rank.
fn subnets(r: &mut Args) -> Result<(), SourceError> {
    let subnets = r.sec.list("Subnet");
    let gateways = r.sec.list("Gateway");
    let ranges = r.sec.list("IPRange");
    for (key, list) in [("Gateway", gateways), ("IPRange", ranges)] {
        if list.len() > subnets.len() {
            return Err(r.src.err(
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
        push(&mut r.a, "--subnet", s.value.as_str());
        if let Some(g) = gateways.get(i) {
            push(&mut r.a, "--gateway", g.value.as_str());
        }
        if let Some(x) = ranges.get(i) {
            push(&mut r.a, "--ip-range", x.value.as_str());
        }
    }
    Ok(())
}

/// The podman network name of a `.network` source.
pub fn network_name(src: &Source) -> String {
    super::refs::podman_name(src, "NetworkName")
}

/// Translate a `.network` source.
pub fn translate(src: &Source, ctx: &Context, name: String) -> Result<Generated, SourceError> {
    let sec = src.own();
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
    let mut r = Args {
        src,
        sec: &sec,
        ctx,
        a: base(&["network", "create"])
            .into_iter()
            .map(Cow::Owned)
            .collect(),
        x: Extra {
            warnings,
            ..Extra::default()
        },
    };
    if ignore {
        r.a.push("--ignore".into());
    }
    flags::apply(FLAGS, &mut r)?;
    let mut a: Vec<String> = r.a.into_iter().map(Cow::into_owned).collect();
    let mut warnings = r.x.warnings;
    a.extend(values::podman_args(src, &sec, &mut warnings));
    a.push(net);
    if !ignore {
        a = super::service::create_if_missing(a, "network", global.len());
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

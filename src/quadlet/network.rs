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
use crate::unit::Entry;
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
        push(&mut r.a, "--subnet", &*s.value);
        if let Some(g) = gateways.get(i) {
            push(&mut r.a, "--gateway", &*g.value);
        }
        if let Some(x) = ranges.get(i) {
            let range = ip_range(r, x)?;
            push(&mut r.a, "--ip-range", range);
        }
    }
    Ok(())
}

/// `IPRange=START-END` is podman 4.6's; before it, `--ip-range` takes a CIDR block only,
/// whose leases run from the block's first address after its base to its last
/// (`FirstIPInSubnet`/`LastIPInSubnet` of `cmd/podman/networks/create.go`, both versions). A
/// range that is exactly such a span is written as its block (the same leases); another
/// is refused naming the version.
fn ip_range<'v>(r: &Args, e: &'v Entry) -> Result<Cow<'v, str>, SourceError> {
    let v = &*e.value;
    let Some((from, to)) = v.split_once('-') else {
        return Ok(Cow::Borrowed(v));
    };
    if r.ctx.podman_version.has(Version::V4_6) {
        return Ok(Cow::Borrowed(v));
    }
    if let Some(cidr) = one_block(from.trim(), to.trim()) {
        return Ok(Cow::Owned(cidr));
    }
    r.ctx.require(
        r.src,
        e,
        super::Feature {
            version: Version::V4_6,
            what: "a range that is not the leases of one CIDR block",
            how: "`network create --ip-range START-END`",
            instead: "give a CIDR block (`10.0.0.128/25` leases 10.0.0.129-10.0.0.255)",
        },
    )?;
    Ok(Cow::Borrowed(v))
}

/// The CIDR block whose leases are exactly `from`-`to` (the base is the address before
/// `from`), if there is one; blocks of fewer than 4 addresses are left out.
fn one_block(from: &str, to: &str) -> Option<String> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let (a, b, v4) = match (from.parse::<IpAddr>().ok()?, to.parse::<IpAddr>().ok()?) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(b)), true)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), false),
        _ => return None,
    };
    let base = a.checked_sub(1)?;
    let n = b.checked_sub(base)?.checked_add(1)?;
    if !n.is_power_of_two() || n < 4 || base % n != 0 {
        return None;
    }
    let bits = if v4 { 32 } else { 128 };
    let prefix = bits - n.trailing_zeros();
    Some(if v4 {
        format!("{}/{prefix}", Ipv4Addr::from(u32::try_from(base).ok()?))
    } else {
        format!("{}/{prefix}", Ipv6Addr::from(base))
    })
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

#[cfg(test)]
mod tests {
    use super::one_block;
    use crate::kind::SourceKind;

    #[test]
    fn a_range_is_a_block_only_when_its_leases_are_the_same() {
        let b = |f, t| one_block(f, t);
        assert_eq!(
            b("10.0.0.129", "10.0.0.255").as_deref(),
            Some("10.0.0.128/25")
        );
        assert_eq!(b("10.0.0.1", "10.0.0.255").as_deref(), Some("10.0.0.0/24"));
        assert_eq!(
            b("fd00::101", "fd00::1ff").as_deref(),
            Some("fd00::100/120")
        );
        // One address more or less, a base that is not aligned, a block too small, mixed
        // families, a backwards range.
        assert_eq!(b("10.0.0.128", "10.0.0.255"), None);
        assert_eq!(b("10.0.0.129", "10.0.0.254"), None);
        assert_eq!(b("10.0.0.65", "10.0.0.191"), None);
        assert_eq!(b("10.0.0.1", "10.0.0.1"), None);
        assert_eq!(b("10.0.0.1", "fd00::ff"), None);
        assert_eq!(b("10.0.0.255", "10.0.0.1"), None);
        assert_eq!(b("0.0.0.0", "0.0.0.3"), None);
    }

    /// Every row of the version tables names a key its kind has (a misspelt row would
    /// gate nothing).
    #[test]
    fn version_rows_name_real_keys() {
        let rows = crate::podman::KEY_SINCE
            .iter()
            .map(|r| (r.0, r.1))
            .chain(crate::podman::VALUE_SINCE.iter().map(|r| (r.0, r.1)));
        // `*`: every kind that runs podman (those with a minimum podman).
        let runs_podman = |k: &SourceKind| crate::podman::kind_since(k.extension()).is_some();
        for (kind, key) in rows {
            let kinds: Vec<&SourceKind> = (SourceKind::ALL.iter())
                .filter(|k| k.extension() == kind || (kind == "*" && runs_podman(k)))
                .collect();
            assert!(!kinds.is_empty(), "no kind {kind}");
            for k in kinds {
                assert!(
                    crate::quadlet::kinds::of(*k).keys().contains(&key),
                    "{kind} has no key {key}"
                );
            }
        }
        for (kind, ..) in crate::podman::KIND_SINCE {
            assert!(
                SourceKind::ALL.iter().any(|k| k.extension() == *kind),
                "{kind}"
            );
        }
    }
}

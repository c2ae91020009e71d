//! `X.network` -> `X-network.service`: a oneshot `podman network create --ignore`.

use super::values::{boolean, key_values, single};
use super::{unknown_key, Context, Generated, Source};
use crate::error::SourceError;
use crate::exec;
use std::collections::BTreeMap;

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
    "Subnet",
];

/// The `[Network]` section, typed.
#[derive(Debug, Clone, Default)]
pub struct Network {
    pub name: String,
    pub disable_dns: Option<bool>,
    pub dns: Vec<String>,
    pub driver: Option<String>,
    pub subnets: Vec<String>,
    pub gateways: Vec<String>,
    pub ip_ranges: Vec<String>,
    pub internal: Option<bool>,
    pub interface_name: Option<String>,
    pub ipam_driver: Option<String>,
    pub ipv6: Option<bool>,
    pub labels: BTreeMap<String, String>,
    pub options: Vec<String>,
    pub podman_args: Vec<String>,
    pub global_args: Vec<String>,
    pub delete_on_stop: bool,
}

/// The podman network name of a `.network` source: `NetworkName=` or `systemd-X`.
pub fn network_name(src: &Source) -> String {
    src.file
        .section("Network")
        .and_then(|s| s.last("NetworkName"))
        .filter(|e| !e.value.is_empty())
        .map(|e| e.value.clone())
        .unwrap_or_else(|| format!("systemd-{}", src.stem()))
}

impl Network {
    pub fn from_source(src: &Source) -> Result<Network, SourceError> {
        let empty = crate::unit::Section::new("Network");
        let sec = src.file.section("Network").unwrap_or(&empty);
        for e in &sec.entries {
            if !KEYS.contains(&&*e.key) {
                return Err(unknown_key(src, "Network", e, KEYS));
            }
        }
        let flag = |k: &str| -> Result<bool, SourceError> {
            sec.last(k).map(|e| boolean(src, e)).unwrap_or(Ok(false))
        };
        // Set either way: quadlet writes `--flag=false` for an explicit false.
        let tristate = |k: &str| -> Result<Option<bool>, SourceError> {
            sec.last(k).map(|e| boolean(src, e)).transpose()
        };
        let list =
            |k: &str| -> Vec<String> { sec.list(k).iter().map(|e| e.value.clone()).collect() };
        let one = |k: &str| -> Result<Option<String>, SourceError> {
            sec.last(k)
                .filter(|e| !e.value.is_empty())
                .map(|e| single(src, e))
                .transpose()
        };
        let mut n = Network {
            name: network_name(src),
            disable_dns: tristate("DisableDNS")?,
            dns: list("DNS"),
            driver: one("Driver")?,
            subnets: list("Subnet"),
            gateways: list("Gateway"),
            ip_ranges: list("IPRange"),
            internal: tristate("Internal")?,
            interface_name: one("InterfaceName")?,
            ipam_driver: one("IPAMDriver")?,
            ipv6: tristate("IPv6")?,
            labels: key_values(src, sec.list("Label"))?,
            options: list("Options"),
            delete_on_stop: flag("NetworkDeleteOnStop")?,
            ..Network::default()
        };
        for (key, count) in [
            ("Gateway", n.gateways.len()),
            ("IPRange", n.ip_ranges.len()),
        ] {
            if count > n.subnets.len() {
                let line = sec.last(key).map(|e| e.line).unwrap_or(0);
                return Err(src.err(
                    line,
                    format!(
                        "{key}= needs a Subnet= of its own ({count} {key}, {} Subnet)",
                        n.subnets.len()
                    ),
                ));
            }
        }
        (n.podman_args, n.global_args) =
            super::values::extra_args(src, &crate::unit::Index::new(sec))?;
        Ok(n)
    }

    pub fn create_argv(&self, podman: &str) -> Vec<String> {
        let mut a = vec![podman.to_owned()];
        a.extend(self.global_args.iter().cloned());
        a.extend(["network".into(), "create".into(), "--ignore".into()]);
        if let Some(b) = self.disable_dns {
            a.push(if b {
                "--disable-dns".into()
            } else {
                "--disable-dns=false".into()
            });
        }
        for d in &self.dns {
            a.push("--dns".into());
            a.push(d.clone());
        }
        if let Some(d) = &self.driver {
            a.push("--driver".into());
            a.push(d.clone());
        }
        if let Some(i) = &self.interface_name {
            a.push("--interface-name".into());
            a.push(i.clone());
        }
        for (i, s) in self.subnets.iter().enumerate() {
            a.push("--subnet".into());
            a.push(s.clone());
            if let Some(g) = self.gateways.get(i) {
                a.push("--gateway".into());
                a.push(g.clone());
            }
            if let Some(r) = self.ip_ranges.get(i) {
                a.push("--ip-range".into());
                a.push(r.clone());
            }
        }
        if let Some(b) = self.internal {
            a.push(if b {
                "--internal".into()
            } else {
                "--internal=false".into()
            });
        }
        if let Some(d) = &self.ipam_driver {
            a.push("--ipam-driver".into());
            a.push(d.clone());
        }
        if let Some(b) = self.ipv6 {
            a.push(if b {
                "--ipv6".into()
            } else {
                "--ipv6=false".into()
            });
        }
        for o in &self.options {
            a.push("--opt".into());
            a.push(o.clone());
        }
        for (k, v) in &self.labels {
            a.push("--label".into());
            a.push(format!("{k}={v}"));
        }
        a.extend(self.podman_args.iter().cloned());
        a.push(self.name.clone());
        a
    }
}

/// Translate a `.network` source.
pub fn translate(src: &Source, ctx: &Context, name: String) -> Result<Generated, SourceError> {
    let n = Network::from_source(src)?;
    let stop = n.delete_on_stop.then(|| {
        format!(
            "{} network rm {}",
            exec::quote_literal(ctx.podman),
            exec::quote_word(&n.name)
        )
    });
    super::oneshot_create(src, ctx, &n.create_argv(ctx.podman), stop, name)
}

//! The keys and values of a source that need a newer podman than some release: the
//! version table ([`KEY_SINCE`], [`VALUE_SINCE`]) and the predicates that pick the values.

use super::Version;

/// The oldest podman whose units of a kind rootlet writes: `(kind, first podman, the
/// podman command or flag every unit of the kind runs that needs it)`, read from podman's
/// sources by tag (README, "Older than 4.3"; golden case `134-podman344-oldest`). A
/// source of a kind whose row names a newer podman than the run's gets no unit: the one
/// gate (`quadlet::translate`) refuses it with its file named, and the run says once which
/// kinds need which podman ([`super::TooOld`]). A `.socket` runs no podman: no row.
pub const KIND_SINCE: &[(&str, Version, &str)] = &[
    (
        "container",
        Version::V2_2,
        "`podman run` as quadlet 5.8 writes it",
    ),
    (
        "image",
        Version::V2_2,
        "`podman image pull` as quadlet 5.8 writes it",
    ),
    (
        "build",
        Version::V2_2,
        "`podman build` as quadlet 5.8 writes it",
    ),
    ("network", Version::V3_1, "`network exists`"),
    ("volume", Version::V3_1, "`volume exists`"),
    (
        "pod",
        Version::POD_EXIT_POLICY,
        "`pod create --exit-policy`",
    ),
    ("kube", Version::KUBE, "`podman kube play`, `kube down`"),
    ("artifact", Version::ARTIFACT, "`podman artifact pull`"),
];

/// The row of [`KIND_SINCE`] of a kind (extension without the dot).
pub fn kind_since(kind: &str) -> Option<&'static (&'static str, Version, &'static str)> {
    KIND_SINCE.iter().find(|r| r.0 == kind)
}

/// Keys whose flag a podman before the given version does not have, by kind (extension
/// without the dot, `*` for every kind): `(kind, key, first podman, what the key is, the
/// way out)`. Read by
/// the one interpreter of the flag tables (`quadlet::flags::apply`), which refuses the key
/// through the one version gate when it is set; keys whose every value works on old podman
/// and those of which only some values need a newer one are gated where they are handled.
pub const KEY_SINCE: &[(&str, &str, Version, &str, &str)] = &[
    (
        "*",
        "ContainersConfModule",
        Version::MODULE,
        "a module (`podman --module`)",
        "name a whole containers.conf with CONTAINERS_CONF= in [Service] Environment= instead",
    ),
    (
        "volume",
        "UID",
        Version::VOLUME_UID_GID,
        "a volume's owner (`podman volume create --uid`/`--gid`)",
        "set User=/Group= (`--opt o=uid=N,gid=N`), which every podman takes",
    ),
    (
        "volume",
        "GID",
        Version::VOLUME_UID_GID,
        "a volume's owner (`podman volume create --uid`/`--gid`)",
        "set User=/Group= (`--opt o=uid=N,gid=N`), which every podman takes",
    ),
    (
        "build",
        "GroupAdd",
        Version::BUILD_GROUP_ADD,
        "a group for the build (`podman build --group-add`)",
        "",
    ),
    (
        "kube",
        "PublishPort",
        Version::KUBE_PUBLISH,
        "`kube play --publish`",
        "publish the port in the YAML file (`hostPort:` beside `containerPort:`)",
    ),
    (
        "network",
        "DNS",
        Version::V4_4,
        "a network's DNS server (`network create --dns`)",
        "set DNS= in each .container on the network instead",
    ),
    (
        "network",
        "InterfaceName",
        Version::NETWORK_INTERFACE_NAME,
        "a bridge's name (`network create --interface-name`)",
        "leave it out: podman names the bridge itself",
    ),
    (
        "container",
        "Retry",
        Version::RETRY,
        "a pull retry count (`podman run --retry`)",
        "leave it out: podman 4.3 retries a pull 3 times",
    ),
    (
        "container",
        "RetryDelay",
        Version::RETRY,
        "a pull retry delay (`podman run --retry-delay`)",
        "leave it out",
    ),
    (
        "container",
        "HealthStartupCmd",
        Version::V4_4,
        "a startup health check (`--health-startup-cmd`)",
        "leave it out, or use HealthStartPeriod=",
    ),
    (
        "container",
        "HealthStartupInterval",
        Version::V4_4,
        "a startup health check (`--health-startup-interval`)",
        "",
    ),
    (
        "container",
        "HealthStartupRetries",
        Version::V4_4,
        "a startup health check (`--health-startup-retries`)",
        "",
    ),
    (
        "container",
        "HealthStartupSuccess",
        Version::V4_4,
        "a startup health check (`--health-startup-success`)",
        "",
    ),
    (
        "container",
        "HealthStartupTimeout",
        Version::V4_4,
        "a startup health check (`--health-startup-timeout`)",
        "",
    ),
    (
        "container",
        "HealthLogDestination",
        Version::HEALTH_LOG,
        "a health log destination (`--health-log-destination`)",
        "leave it out: podman 4.3 keeps the log in the container's state",
    ),
    (
        "container",
        "HealthMaxLogCount",
        Version::HEALTH_LOG,
        "a health log length (`--health-max-log-count`)",
        "leave it out",
    ),
    (
        "container",
        "HealthMaxLogSize",
        Version::HEALTH_LOG,
        "a health log size (`--health-max-log-size`)",
        "leave it out",
    ),
    (
        "container",
        "IP6",
        Version::V4_0,
        "an IPv6 address (`--ip6`)",
        "",
    ),
    ("pod", "IP6", Version::V4_0, "an IPv6 address (`--ip6`)", ""),
    (
        "container",
        "DNSOption",
        Version::V4_3,
        "a DNS option (`--dns-option`)",
        "use PodmanArgs=--dns-opt=OPTION instead",
    ),
    (
        "pod",
        "DNSOption",
        Version::V4_3,
        "a DNS option (`--dns-option`)",
        "use PodmanArgs=--dns-opt=OPTION instead",
    ),
    (
        "build",
        "DNSOption",
        Version::V4_3,
        "a DNS option (`--dns-option`)",
        "use PodmanArgs=--dns-opt=OPTION instead",
    ),
    (
        "container",
        "HealthOnFailure",
        Version::V4_3,
        "a health failure action (`--health-on-failure`)",
        "",
    ),
    (
        "image",
        "DecryptionKey",
        Version::V4_4,
        "a decryption key (`image pull --decryption-key`)",
        "",
    ),
    (
        "image",
        "Policy",
        Version::PULL_POLICY,
        "a pull policy (`image pull --policy`)",
        "leave it out: the service pulls every time it starts",
    ),
    (
        "image",
        "Retry",
        Version::RETRY,
        "a pull retry count (`image pull --retry`)",
        "leave it out: podman 4.3 retries a pull 3 times",
    ),
    (
        "image",
        "RetryDelay",
        Version::RETRY,
        "a pull retry delay (`image pull --retry-delay`)",
        "leave it out",
    ),
];

/// Values of keys a podman before the given version refuses: `(kind, key, whether a value
/// needs it, first podman, what the value is, the way out)`, read where [`KEY_SINCE`] is.
pub type ValueSince = (
    &'static str,
    &'static str,
    fn(&str) -> bool,
    Version,
    &'static str,
    &'static str,
);

/// See [`ValueSince`].
pub const VALUE_SINCE: &[ValueSince] = &[
    (
        "kube",
        "KubeDownForce",
        |v| matches!(v.to_ascii_lowercase().as_str(), "1" | "yes" | "true" | "on"),
        Version::KUBE_DOWN_FORCE,
        "`kube down --force`",
        "remove the volumes with `podman volume rm` (or leave KubeDownForce= out)",
    ),
    (
        "container",
        "Mount",
        artifact_mount,
        Version::MOUNT_ARTIFACT,
        "`type=artifact`",
        "",
    ),
    (
        "kube",
        "ExitCodePropagation",
        |v| matches!(v, "all" | "any"),
        Version::KUBE_EXIT_CODE,
        "`--service-exit-code-propagation`",
        "leave it out (the service then exits 0 whatever its containers do)",
    ),
    (
        "network",
        "Options",
        no_default_route,
        Version::V4_6,
        "the bridge option `no_default_route`",
        "",
    ),
    (
        "network",
        "Options",
        unmanaged,
        Version::BRIDGE_UNMANAGED,
        "the bridge option `mode=unmanaged`",
        "",
    ),
    (
        "container",
        "AddHost",
        host_gateway,
        Version::HOST_GATEWAY,
        "`host-gateway`",
        "name the host's address instead",
    ),
    (
        "pod",
        "AddHost",
        host_gateway,
        Version::HOST_GATEWAY,
        "`host-gateway`",
        "name the host's address instead",
    ),
    (
        "container",
        "Network",
        pasta,
        Version::V4_4,
        "`pasta`",
        "use slirp4netns instead",
    ),
    (
        "pod",
        "Network",
        pasta,
        Version::V4_4,
        "`pasta`",
        "use slirp4netns instead",
    ),
    (
        "build",
        "Network",
        pasta,
        Version::V4_4,
        "`pasta`",
        "use slirp4netns instead",
    ),
    (
        "kube",
        "Network",
        pasta,
        Version::V4_4,
        "`pasta`",
        "use slirp4netns instead",
    ),
    (
        "container",
        "Network",
        network_option,
        Version::NETWORK_OPTIONS,
        "a network option other than ip, ip6, mac, alias and interface_name",
        "",
    ),
    (
        "pod",
        "Network",
        network_option,
        Version::NETWORK_OPTIONS,
        "a network option other than ip, ip6, mac, alias and interface_name",
        "",
    ),
    (
        "build",
        "Network",
        network_option,
        Version::NETWORK_OPTIONS,
        "a network option other than ip, ip6, mac, alias and interface_name",
        "",
    ),
    (
        "kube",
        "Network",
        network_option,
        Version::NETWORK_OPTIONS,
        "a network option other than ip, ip6, mac, alias and interface_name",
        "",
    ),
    (
        "container",
        "UIDMap",
        relative_map,
        Version::HOST_GATEWAY,
        "a mapping with `+` or `@`",
        "give the IDs of the user namespace as numbers",
    ),
    (
        "container",
        "GIDMap",
        relative_map,
        Version::HOST_GATEWAY,
        "a mapping with `+` or `@`",
        "give the IDs of the user namespace as numbers",
    ),
    (
        "pod",
        "UIDMap",
        relative_map,
        Version::HOST_GATEWAY,
        "a mapping with `+` or `@`",
        "give the IDs of the user namespace as numbers",
    ),
    (
        "pod",
        "GIDMap",
        relative_map,
        Version::HOST_GATEWAY,
        "a mapping with `+` or `@`",
        "give the IDs of the user namespace as numbers",
    ),
    (
        "container",
        "Mount",
        glob_mount,
        Version::HOST_GATEWAY,
        "`type=glob`",
        "mount each file with type=bind",
    ),
    (
        "container",
        "Notify",
        healthy,
        Version::V4_0,
        "`healthy` (rootlet's wait reads the container's `.State.Health`)",
        "remove Notify= (the unit is then ready once the container has started)",
    ),
];

/// `K=V` words of a `KEY=` value.
fn words(v: &str) -> impl Iterator<Item = (&str, &str)> {
    v.split_whitespace()
        .map(|w| w.trim_matches('"'))
        .map(|w| w.split_once('=').unwrap_or((w, "")))
}

fn no_default_route(v: &str) -> bool {
    words(v).any(|(k, _)| k == "no_default_route")
}

fn unmanaged(v: &str) -> bool {
    words(v).any(|(k, v)| k == "mode" && v == "unmanaged")
}

fn host_gateway(v: &str) -> bool {
    v.split_whitespace().any(|w| w.ends_with(":host-gateway"))
}

fn healthy(v: &str) -> bool {
    v.trim_matches('"').eq_ignore_ascii_case("healthy")
}

fn pasta(v: &str) -> bool {
    let v = v.trim_matches('"');
    v == "pasta" || v.starts_with("pasta:")
}

/// `NAME:opt=v,...` with an option v4.3.1's `parseBridgeNetworkOptions` does not know
/// (`pkg/specgen/namespaces.go`; v5.4.0 passes any other to the network driver).
fn network_option(v: &str) -> bool {
    let v = v.trim_matches('"');
    match v.split_once(':') {
        Some(("container" | "ns" | "slirp4netns" | "pasta", _)) | None => false,
        Some((_, opts)) => opts.split(',').any(|o| {
            let k = o.split_once('=').map_or(o, |(k, _)| k);
            !["ip", "ip6", "mac", "alias", "interface_name"].contains(&k)
        }),
    }
}

/// `+` (relative to the parent namespace) and `@` (host IDs): podman 4.7's
/// `ParseIDMapping`.
fn relative_map(v: &str) -> bool {
    v.contains(['+', '@'])
}

fn artifact_mount(v: &str) -> bool {
    v.split(',').any(|o| o.trim_matches('"') == "type=artifact")
}

fn glob_mount(v: &str) -> bool {
    v.split(',').any(|o| o.trim_matches('"') == "type=glob")
}

/// The row of [`VALUE_SINCE`] that `value` of `key` of a source of `kind` needs.
pub fn value_since(kind: &str, key: &str, value: &str) -> Option<&'static ValueSince> {
    VALUE_SINCE
        .iter()
        .find(|r| r.0 == kind && r.1 == key && (r.2)(value))
}

/// The row of [`KEY_SINCE`] of `key` of a source of `kind`.
pub fn key_since(
    kind: &str,
    key: &str,
) -> Option<&'static (
    &'static str,
    &'static str,
    Version,
    &'static str,
    &'static str,
)> {
    KEY_SINCE
        .iter()
        .find(|r| (r.0 == kind || r.0 == "*") && r.1 == key)
}

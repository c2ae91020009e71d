//! Key names: the `[Unit]` keys that name other units, the common keys of the sections
//! rootlet does not own, and the set of every key translation reads (shared, not
//! allocated, by the parser: [`known_key`]).

use super::{socket, TRANSLATIONS};

/// `[Unit]` keys that name other units.
pub(crate) const DEP_KEYS: &[&str] = &[
    "Wants",
    "Requires",
    "Requisite",
    "BindsTo",
    "PartOf",
    "Upholds",
    "Conflicts",
    "Before",
    "After",
    "OnFailure",
    "OnSuccess",
    "PropagatesReloadTo",
    "ReloadPropagatedFrom",
    "PropagatesStopTo",
    "StopPropagatedFrom",
    "JoinsNamespaceOf",
];

/// The systemd section of keys commonly written in a source's own section by mistake
/// (`Restart=` in `[Container]`): its "unknown key" error says where the key belongs.
/// Keys the kind's own section has too (`Environment=`, `User=`) never get there.
pub(crate) fn systemd_section_of(key: &str) -> Option<&'static str> {
    const UNIT: &[&str] = &[
        "Description",
        "Documentation",
        "StartLimitIntervalSec",
        "StartLimitBurst",
        "RequiresMountsFor",
        "ConditionPathExists",
        "AssertPathExists",
    ];
    const SERVICE: &[&str] = &[
        "Type",
        "Restart",
        "RestartSec",
        "RestartSteps",
        "RestartMaxDelaySec",
        "TimeoutSec",
        "TimeoutStartSec",
        "TimeoutStopSec",
        "ExecStartPre",
        "ExecStartPost",
        "ExecStop",
        "ExecStopPost",
        "ExecReload",
        "KillMode",
        "KillSignal",
        "RemainAfterExit",
        "SuccessExitStatus",
        "RestartPreventExitStatus",
        "EnvironmentFile",
        "WorkingDirectory",
        "Slice",
        "LimitNOFILE",
        "MemoryMax",
        "CPUQuota",
        "Nice",
    ];
    const INSTALL: &[&str] = &["WantedBy", "RequiredBy", "UpheldBy", "Alias", "Also"];
    if DEP_KEYS.contains(&key) || UNIT.contains(&key) {
        Some("Unit")
    } else if SERVICE.contains(&key) {
        Some("Service")
    } else if INSTALL.contains(&key) {
        Some("Install")
    } else {
        None
    }
}

/// Keys of `[Unit]`, `[Service]` and `[Install]` that sources commonly hold or rootlet
/// writes, besides those of the source kinds' own sections.
const COMMON_KEYS: &[&str] = &[
    "Description",
    "Documentation",
    "SourcePath",
    "RequiresMountsFor",
    "StartLimitIntervalSec",
    "StartLimitBurst",
    "Type",
    "Restart",
    "RestartSec",
    "TimeoutStartSec",
    "TimeoutStopSec",
    "Environment",
    "ExecStartPre",
    "ExecStartPost",
    "ExecReload",
    "KillMode",
    "Delegate",
    "NotifyAccess",
    "SyslogIdentifier",
    "WantedBy",
    "RequiredBy",
    "UpheldBy",
    "Alias",
    "DefaultInstance",
    "DefaultDependencies",
    "Service",
    "Accept",
];

/// The static copy of `key` if it is one translation reads or writes: sources parsed with
/// it ([`crate::unit::UnitFile::parse_bytes_with`]) share those keys instead of allocating each.
pub fn known_key(key: &str) -> Option<&'static str> {
    static KNOWN: std::sync::OnceLock<KeySet> = std::sync::OnceLock::new();
    KNOWN
        .get_or_init(|| {
            KeySet::new(
                TRANSLATIONS
                    .iter()
                    .flat_map(|k| k.keys().iter().copied())
                    .chain(socket::LISTEN_KEYS.iter().copied())
                    .chain(DEP_KEYS.iter().copied())
                    .chain(COMMON_KEYS.iter().copied()),
            )
        })
        .get(key)
}

/// A fixed set of key names, sorted once for binary search (by length first, so that most
/// comparisons end before the bytes are looked at).
pub(crate) struct KeySet(Vec<&'static str>);

impl KeySet {
    pub(crate) fn new(keys: impl IntoIterator<Item = &'static str>) -> KeySet {
        let mut k: Vec<&'static str> = keys.into_iter().collect();
        k.sort_unstable_by_key(|k| (k.len(), *k));
        k.dedup();
        KeySet(k)
    }

    /// The set's own copy of `key`, if it has it.
    pub(crate) fn get(&self, key: &str) -> Option<&'static str> {
        let i = self
            .0
            .binary_search_by_key(&(key.len(), key), |k| (k.len(), *k))
            .ok()?;
        Some(self.0[i])
    }
}

#[cfg(test)]
mod tests {
    /// New-user review P21: `Restart=` in `[Container]` is a `[Service]` key.
    #[test]
    fn systemd_keys_written_in_a_sources_section_say_where_they_belong() {
        let of = super::systemd_section_of;
        assert_eq!(of("Restart"), Some("Service"));
        assert_eq!(of("Requires"), Some("Unit"));
        assert_eq!(of("WantedBy"), Some("Install"));
        assert_eq!(of("Imagee"), None);
    }
}

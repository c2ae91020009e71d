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

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

/// A fixed set of key names, hashed once into an open-addressing table: the parser asks it
/// for every key of every source, and a hash and one comparison beat a binary search of
/// several hundred names (measured: 2.4% of a generator run's user time before).
pub(crate) struct KeySet {
    keys: Vec<&'static str>,
    /// Indexes into `keys` plus one, 0 for an empty slot; a power of two long, at most a
    /// quarter full, so a probe ends after a slot or two (and always at an empty one).
    slots: Vec<u32>,
}

/// FNV-1a: short keys, no adversary (a source's keys only choose which slot is probed).
fn hash(key: &str) -> usize {
    key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) as usize
}

impl KeySet {
    pub(crate) fn new(keys: impl IntoIterator<Item = &'static str>) -> KeySet {
        let mut keys: Vec<&'static str> = keys.into_iter().collect();
        keys.sort_unstable();
        keys.dedup();
        let mut slots = vec![0u32; (keys.len() * 4).next_power_of_two().max(8)];
        let mask = slots.len() - 1;
        for (i, k) in keys.iter().enumerate() {
            let mut at = hash(k) & mask;
            while slots[at] != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = u32::try_from(i + 1).unwrap_or(u32::MAX);
        }
        KeySet { keys, slots }
    }

    /// The set's own copy of `key`, if it has it.
    pub(crate) fn get(&self, key: &str) -> Option<&'static str> {
        let mask = self.slots.len() - 1;
        let mut at = hash(key) & mask;
        loop {
            let k = *self.keys.get((self.slots[at] as usize).checked_sub(1)?)?;
            if k == key {
                return Some(k);
            }
            at = (at + 1) & mask;
        }
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

    /// The hashed set finds each of its keys (its own copy) and nothing else.
    #[test]
    fn a_key_set_has_exactly_its_keys() {
        let keys = ["Image", "Exec", "Volume", "Label", "PublishPort", "A", "Ab"];
        let set = super::KeySet::new(keys.iter().copied().chain(keys.iter().copied()));
        for k in keys {
            assert_eq!(set.get(String::from(k).as_str()), Some(k));
        }
        for k in ["", "image", "Imag", "Images", "B", "ExecX", "é"] {
            assert_eq!(set.get(k), None, "{k}");
        }
        assert_eq!(super::KeySet::new([]).get("Image"), None);
        assert_eq!(super::known_key("Image"), Some("Image"));
        assert_eq!(super::known_key("NoSuchKey"), None);
    }
}

//! The flag tables: how each key of a kind's own section becomes podman arguments
//! ([`Flag`], one table per kind, which is also the kind's key list), the one interpreter
//! of the tables ([`apply`]), and the argv being built ([`Args`]). The handlers several
//! kinds share are in [`options::handle`](super::options::handle).

use super::values::{self, boolean, last, Split};
use super::{concat, Context, Source};
use crate::error::SourceError;
use crate::unit::{Entry, Index};
use std::borrow::Cow;

/// What translating `[Container]` (or `[Pod]`) gives besides the argv.
#[derive(Default)]
pub(crate) struct Extra {
    /// `Requires=`/`After=` units (networks, volumes, containers whose network is used).
    pub deps: Vec<String>,
    /// Host paths of bind mounts (for `RequiresMountsFor=`).
    pub mounts_for: Vec<String>,
    /// The unit of the pod the container joins (`BindsTo=`, `After=`).
    pub pod: Option<String>,
    pub warnings: Vec<SourceError>,
}

pub(crate) type Argv<'a> = Vec<Cow<'a, str>>;

pub(crate) fn push<'a>(a: &mut Argv<'a>, flag: &'static str, v: impl Into<Cow<'a, str>>) {
    a.push(flag.into());
    a.push(v.into());
}

/// How a key of a kind's own section becomes podman arguments: one row of the kind's
/// flag table, which is also its key list (`kinds.rs`). [`apply`] reads the rows in
/// order, so a table is also the order of the argv.
pub(crate) enum Flag {
    /// `KEY=v`, the last one, unquoted, if not empty: `FLAG v` (quadlet's
    /// `lookupAndAddString`).
    Str(&'static str, &'static str),
    /// Every `KEY=v`, as written: `FLAG v` each (`lookupAndAddAllStrings`).
    All(&'static str, &'static str),
    /// `KEY=` a boolean: `FLAG` or `FLAG=false` (`lookupAndAddBoolean`).
    Bool(&'static str, &'static str),
    /// `KEY=v`, the last one, unquoted, if not empty: `FLAG PREFIXv`.
    Prefixed(&'static str, &'static str, &'static str),
    /// Keys a handler turns into arguments at this point of the argv.
    Custom(&'static [&'static str], Handler),
    /// Keys the kind reads outside the argv's flags (its image, its unit's name, ...).
    Other(&'static [&'static str]),
}

/// The keys every quadlet kind has, read by [`values::global_args`],
/// [`values::podman_args`] and [`Source::unit_name`].
pub(crate) const COMMON: &[&str] = &[
    "ContainersConfModule",
    "GlobalArgs",
    "PodmanArgs",
    "ServiceName",
];

/// A [`Flag::Custom`] handler.
pub(crate) type Handler = fn(&mut Args) -> Result<(), SourceError>;

impl Flag {
    /// The keys of this row.
    pub(crate) fn keys(&self) -> &[&'static str] {
        match self {
            Flag::Str(k, _) | Flag::All(k, _) | Flag::Bool(k, _) | Flag::Prefixed(k, _, _) => {
                std::slice::from_ref(k)
            }
            Flag::Custom(keys, _) | Flag::Other(keys) => keys,
        }
    }
}

/// What the handlers of a flag table work on: the source, its own section, the run, and
/// the argv and [`Extra`] being built.
pub(crate) struct Args<'a, 's> {
    pub src: &'a Source,
    pub sec: &'s Index<'a>,
    pub ctx: &'s Context<'s>,
    pub a: Argv<'a>,
    pub x: Extra,
}

impl<'a> Args<'a, '_> {
    /// `FLAG v` for each word of every `KEY=` (split as `mode` says; a value that cannot be
    /// split is left out with a warning).
    pub(crate) fn words(&mut self, key: &str, mode: Split, flag: &'static str) {
        for w in self.all_words(key, mode) {
            push(&mut self.a, flag, w);
        }
    }

    /// The words of every `KEY=` (split as `mode` says; a value that cannot be split is
    /// left out with a warning).
    pub(crate) fn all_words(&mut self, key: &str, mode: Split) -> Vec<String> {
        values::all_words(self.src, self.sec.list(key), mode, &mut self.x.warnings)
    }

    /// Whether the boolean `KEY=` is set and true.
    pub(crate) fn flag(&self, key: &str) -> Result<bool, SourceError> {
        self.sec
            .last(key)
            .map_or(Ok(false), |e| boolean(self.src, e))
    }
}

/// The rows of `table` onto `r.a`, in order (the one interpreter of the flag tables).
pub(crate) fn apply(table: &[Flag], r: &mut Args) -> Result<(), SourceError> {
    for f in table {
        match *f {
            Flag::Str(key, flag) => {
                if let Some((e, v)) = last(r.sec, key) {
                    gate(r, e)?;
                    push(&mut r.a, flag, v);
                }
            }
            Flag::All(key, flag) => {
                for e in r.sec.list(key) {
                    gate(r, e)?;
                    push(&mut r.a, flag, &*e.value);
                }
            }
            Flag::Bool(key, flag) => {
                if let Some(e) = r.sec.last(key) {
                    r.a.push(if boolean(r.src, e)? {
                        flag.into()
                    } else {
                        concat(&[flag, "=false"]).into()
                    });
                }
            }
            Flag::Prefixed(key, flag, prefix) => {
                if let Some((_, v)) = last(r.sec, key) {
                    push(&mut r.a, flag, concat(&[prefix, v]));
                }
            }
            Flag::Custom(keys, handler) => {
                for k in keys {
                    for e in r.sec.list(k) {
                        gate(r, e)?;
                    }
                }
                handler(r)?
            }
            Flag::Other(_) => {}
        }
    }
    Ok(())
}

/// Refuse `e` when the podman of this run lacks its key's flag ([`crate::podman::KEY_SINCE`])
/// or refuses its value ([`crate::podman::VALUE_SINCE`]).
fn gate(r: &Args, e: &Entry) -> Result<(), SourceError> {
    r.ctx.gate(r.src, e)
}

/// The values pushed onto `r.a` since `at` (each after its flag) as CSV fields
/// ([`crate::podman::csv_field`]) when the podman of this run is older than `since`: its
/// flag reads the value as a CSV line, so `a,b` would be two values and a `"` an error.
/// The quoted field reads back as the value itself.
pub(crate) fn as_csv(r: &mut Args, at: usize, since: crate::podman::Version) {
    let odd = |w: &Cow<str>| w.contains([',', '"']);
    if !r.a[at..].iter().skip(1).step_by(2).any(odd) || r.ctx.podman_version.has(since) {
        return;
    }
    for i in (at + 1..r.a.len()).step_by(2) {
        let field = crate::podman::csv_field(&r.a[i]).into_owned();
        r.a[i] = field.into();
    }
}

/// Every key of `tables`, sorted, each once.
pub(crate) fn keys_of(tables: &[&[Flag]]) -> Vec<&'static str> {
    let mut k: Vec<&'static str> = tables
        .iter()
        .flat_map(|t| t.iter())
        .flat_map(|f| f.keys().iter().copied())
        .collect();
    k.sort_unstable();
    k.dedup();
    k
}

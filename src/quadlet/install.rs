//! A source's `[Install]` section becomes symlinks in the output directory: generated
//! units cannot be enabled with `systemctl enable`.

use super::{concat, values, Link, Source};
use crate::error::SourceError;
use crate::unit::{valid_unit_name, Entry, UnitFile};

/// The words of an `[Install]` list entry, split as quadlet splits them (`LookupAllStrv`).
fn install_words(src: &Source, e: &Entry) -> Result<Vec<String>, SourceError> {
    values::split(&e.value, values::Split::Strv)
        .map_err(|why| src.err(e.line, format!("{}: {why}", e.key)))
}

/// The `[Install]` section becomes symlinks: generated units cannot be enabled.
pub(crate) fn links(src: &Source, unit: &str, file: &UnitFile) -> Result<Vec<Link>, SourceError> {
    let Some(install) = file.section("Install") else {
        return Ok(Vec::new());
    };
    let mut links = Vec::new();
    // A template (`X@.service`) is linked as an instance: `[Install] DefaultInstance=`
    // names it, as `systemctl enable` does; without one nothing is linked.
    let link_name = match unit.split_once("@.") {
        Some((prefix, suffix)) => {
            let Some(e) = install
                .last("DefaultInstance")
                .filter(|e| !e.value.is_empty())
            else {
                return Ok(Vec::new());
            };
            let name = format!("{prefix}@{}.{suffix}", e.value);
            if !valid_unit_name(&name) {
                return Err(src.err(
                    e.line,
                    format!("DefaultInstance: `{name}` is not a valid unit name"),
                ));
            }
            name
        }
        None => unit.to_owned(),
    };
    for (key, dir_suffix) in [
        ("WantedBy", ".wants"),
        ("RequiredBy", ".requires"),
        ("UpheldBy", ".upholds"),
    ] {
        for e in install.list(key) {
            for target in install_words(src, e)? {
                if !valid_unit_name(&target) {
                    return Err(src.err(
                        e.line,
                        format!("{key}: `{target}` is not a valid unit name"),
                    ));
                }
                links.push(Link {
                    path: concat(&[&target, dir_suffix, "/", &link_name]),
                    target: concat(&["../", unit]),
                });
            }
        }
    }
    let suffix = unit.rsplit_once('.').map(|(_, s)| s).unwrap_or("");
    for e in install.list("Alias") {
        for alias in install_words(src, e)? {
            if !valid_unit_name(&alias) || !alias.ends_with(&format!(".{suffix}")) {
                return Err(src.err(
                    e.line,
                    format!("Alias: `{alias}` is not a valid .{suffix} unit name"),
                ));
            }
            links.push(Link {
                path: alias,
                target: unit.to_owned(),
            });
        }
    }
    links.sort();
    links.dedup();
    Ok(links)
}

//! `rootlet print NAME` (alias `cat`): a source with its drop-ins, each under a
//! `# /path/to/file` header as `systemctl cat` shows them; `--unit`: every unit it becomes
//! (a container's own `[Socket]` makes the socket and, in proxy mode, the proxy's service
//! too), translated in memory as `rootlet generate --dry-run` does.

use super::{resolve, Made, ManageError, Places};
use crate::generator::{self, Options};

/// The text to print for `NAME`.
pub fn source(places: &Places, name: &str) -> Result<String, ManageError> {
    let disc = places.discover();
    let found = resolve(&disc, name)?;
    let mut files = vec![found.path.clone()];
    files.extend(crate::search::dropins(&found.name, &disc.dropin_dirs));
    let mut out = String::new();
    let mut buf = Vec::new();
    for (i, p) in files.iter().enumerate() {
        crate::fsutil::read_regular(p, generator::MAX_SOURCE, &mut buf)
            .map_err(|e| ManageError::io(p, e))?;
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("# {}\n", crate::error::show_path(p)));
        out.push_str(&String::from_utf8_lossy(&buf));
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// The units `NAME`'s source becomes ([`Made`]: its own, then the socket and the proxy its
/// `[Socket]` makes), each under a `# UNIT (from PATH)` header and with its install
/// symlinks as `# PATH -> TARGET`, or the source's errors.
pub fn unit(places: &Places, opts: &Options, name: &str) -> Result<String, ManageError> {
    let disc = places.discover();
    let found = resolve(&disc, name)?;
    let made = Made::of_found(found, &disc);
    let run = generator::run(opts);
    let dropin_dirs = crate::search::dropin_dir_names(&found.name);
    let errors: Vec<_> = run
        .errors
        .iter()
        .filter(|e| {
            e.path == found.path
                || e.path
                    .parent()
                    .and_then(|d| d.file_name())
                    .and_then(|d| d.to_str())
                    .is_some_and(|d| dropin_dirs.iter().any(|n| n == d))
        })
        .cloned()
        .collect();
    let mut s = String::new();
    for unit in made.all() {
        let Some(g) = run.units.iter().find(|g| g.name == unit) else {
            continue;
        };
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(&format!(
            "# {} (from {})\n{}",
            g.name,
            crate::error::show_path(&found.path),
            g.text()
        ));
        for l in &g.links {
            s.push_str(&format!("# {} -> {}\n", l.path, l.target));
        }
    }
    if !s.is_empty() {
        return Ok(s);
    }
    if errors.is_empty() {
        // A unit named otherwise, or lost to another source of its name.
        return Err(ManageError::BadInput(format!(
            "{}: yields no unit named {}",
            crate::error::show_path(&found.path),
            made.unit
        )));
    }
    Err(ManageError::Invalid(errors))
}

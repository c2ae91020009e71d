//! Checks of a generated unit against what systemd would refuse when it loads it: a line
//! longer than systemd reads, and (for `rootlet check`) a `%` specifier systemd does not
//! know, which makes it fail to load the unit or ignore the setting.

use crate::error::SourceError;
use crate::quadlet::{Generated, Source};
use crate::unit::MAX_LINE;

/// No line of the unit may be longer than systemd reads (`LONG_LINE_MAX`): a source of
/// many small lines (`Label=` x 700,000) could make one `ExecStart=` of megabytes.
pub(super) fn unit_lines(src: &Source, g: &Generated) -> Result<(), SourceError> {
    for s in &g.file.sections {
        for e in &s.entries {
            let len = e.key.len() + 1 + e.value.len();
            if len > MAX_LINE {
                return Err(src.err(
                    e.line,
                    format!(
                        "the generated {}= line of [{}] would be {len} bytes, longer than \
                         systemd reads ({MAX_LINE})",
                        e.key, s.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The specifiers of systemd.unit(5) (systemd 252 and later), and `%%`.
const SPECIFIERS: &str = "aAbBCdDEfgGhHiIjJlLmMnNopPqsStTuUvVwWyY%";

/// Every `%X` with an unknown `X` in the sections systemd reads (not `[X-*]`): systemd
/// fails to resolve it ("Failed to resolve unit specifiers").
pub(super) fn specifiers(src: &Source, g: &Generated) -> Result<(), SourceError> {
    for s in g.file.sections.iter().filter(|s| !s.name.starts_with("X-")) {
        for e in &s.entries {
            let mut chars = e.value.chars();
            while let Some(c) = chars.next() {
                if c != '%' {
                    continue;
                }
                match chars.next() {
                    Some(x) if SPECIFIERS.contains(x) => {}
                    // A final lone `%` is kept as it is by systemd.
                    None => {}
                    Some(x) => {
                        let shown: String = x.escape_default().collect();
                        // A value built in code (line 0) is blamed on the source line it
                        // came from.
                        let spec = format!("%{x}");
                        let line = match e.line {
                            0 => src
                                .file
                                .sections
                                .iter()
                                .flat_map(|s| &s.entries)
                                .find(|e| e.value.contains(&spec))
                                .map_or(0, |e| e.line),
                            l => l,
                        };
                        return Err(src.err(
                            line,
                            format!(
                                "{}=: `%{shown}` is not a systemd specifier: systemd would \
                                 fail to resolve it (write `%%` for a literal %)",
                                e.key
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

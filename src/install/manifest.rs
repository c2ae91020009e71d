//! Manifests: what rootlet put on disk, the proof that a path is rootlet's.
//!
//! One entry a line, every name relative to one of rootlet's own directories (a [`Base`]),
//! stored as bytes with `\xHH` escapes (any file name round-trips, UTF-8 or not):
//!
//! ```text
//! # rootlet manifest 2 ...
//! file out web.service 1f0c...-812         content hash (FNV-1a 64) and length
//! link out default.target.wants/web.service ../web.service
//! dir out default.target.wants
//! created units 2                          the base and 1 parent were created by rootlet
//! ```
//!
//! A name is one or two components (`X.service`, `X.target.wants/X.service`), never `.`,
//! `..`, empty or absolute; any other line is ignored, so a corrupt manifest can never
//! point outside rootlet's directories. A listed path is rootlet's only while it still is
//! what rootlet wrote: a regular file of the recorded hash, or a symlink to the recorded
//! target (`Owned`). Manifests of the first format (`file /absolute/path`) are read as
//! unverified claims: such a path is rootlet's only if it holds exactly what rootlet would
//! write there now.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Content hash of a file rootlet wrote: FNV-1a 64 and the length. It tells rootlet's
/// own output from a file edited or replaced since (an accident, not an adversary: the
/// manifest is the user's own file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest {
    pub fnv: u64,
    pub len: u64,
}

impl Digest {
    pub fn of(data: &[u8]) -> Digest {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in data {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Digest {
            fnv: h,
            len: data.len() as u64,
        }
    }

    fn render(&self) -> String {
        format!("{:016x}-{}", self.fnv, self.len)
    }

    fn parse(s: &[u8]) -> Option<Digest> {
        let s = std::str::from_utf8(s).ok()?;
        let (h, l) = s.split_once('-')?;
        if h.len() != 16 {
            return None;
        }
        Some(Digest {
            fnv: u64::from_str_radix(h, 16).ok()?,
            len: l.parse().ok()?,
        })
    }
}

/// One of rootlet's own directories: every entry is relative to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Base {
    /// The output directory of the generated units.
    Out,
    /// `$XDG_CONFIG_HOME/systemd/user`: the installed units.
    Units,
    /// `$XDG_DATA_HOME/rootlet`: manifests and the lock.
    State,
}

impl Base {
    pub const ALL: [Base; 3] = [Base::Out, Base::Units, Base::State];

    fn keyword(self) -> &'static str {
        match self {
            Base::Out => "out",
            Base::Units => "units",
            Base::State => "state",
        }
    }

    fn parse(s: &[u8]) -> Option<Base> {
        Base::ALL.into_iter().find(|b| b.keyword().as_bytes() == s)
    }
}

/// A name relative to a [`Base`]: one or two components, none of them empty, `.` or
/// `..`, no NUL, at most 255 bytes each. Only such names can be built.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Vec<u8>);

impl Name {
    pub fn new(bytes: &[u8]) -> Option<Name> {
        let parts: Vec<&[u8]> = bytes.split(|&b| b == b'/').collect();
        let ok = (1..=2).contains(&parts.len())
            && parts.iter().all(|p| {
                !p.is_empty() && *p != b"." && *p != b".." && p.len() <= 255 && !p.contains(&0)
            });
        ok.then(|| Name(bytes.to_vec()))
    }

    pub fn of(s: &str) -> Option<Name> {
        Name::new(s.as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn as_os_str(&self) -> &OsStr {
        OsStr::from_bytes(&self.0)
    }

    /// The directory component and the file name (`None` for a name in the base itself).
    pub fn split(&self) -> (Option<&OsStr>, &OsStr) {
        match self.0.iter().position(|&b| b == b'/') {
            Some(i) => (
                Some(OsStr::from_bytes(&self.0[..i])),
                OsStr::from_bytes(&self.0[i + 1..]),
            ),
            None => (None, OsStr::from_bytes(&self.0)),
        }
    }

    /// For messages: the name with non-printable bytes escaped.
    pub fn display(&self) -> String {
        String::from_utf8_lossy(&escape(&self.0)).into_owned()
    }
}

/// What rootlet put at a name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Item {
    /// A regular file; `None`: a claim of the first manifest format, without a hash.
    File(Option<Digest>),
    /// A symlink; `None`: a claim without the target.
    Link(Option<Vec<u8>>),
    /// A directory it created.
    Dir,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entry {
    /// `base/name`.
    At { base: Base, name: Name, item: Item },
    /// rootlet created the base directory and the `n - 1` directories above it.
    Created { base: Base, n: u8 },
}

impl Entry {
    pub fn file(base: Base, name: Name, data: &[u8]) -> Entry {
        Entry::At {
            base,
            name,
            item: Item::File(Some(Digest::of(data))),
        }
    }

    pub fn link(base: Base, name: Name, target: &[u8]) -> Entry {
        Entry::At {
            base,
            name,
            item: Item::Link(Some(target.to_vec())),
        }
    }

    pub fn dir(base: Base, name: Name) -> Entry {
        Entry::At {
            base,
            name,
            item: Item::Dir,
        }
    }
}

/// The directories the entries are relative to (used to read first-format manifests).
pub struct Bases<'a> {
    pub out: Option<&'a Path>,
    pub units: Option<&'a Path>,
    pub state: Option<&'a Path>,
}

impl Bases<'_> {
    fn get(&self, b: Base) -> Option<&Path> {
        match b {
            Base::Out => self.out,
            Base::Units => self.units,
            Base::State => self.state,
        }
    }
}

/// `\` and any byte outside `!`..`~` as `\xHH`: one word, one line, any bytes.
pub fn escape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if b == b'\\' || !(0x21..=0x7e).contains(&b) {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

/// The inverse of [`escape`]; `None` for anything [`escape`] would not produce.
pub fn unescape(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'\\' {
            if s.get(i + 1) != Some(&b'x') || i + 4 > s.len() {
                return None;
            }
            let hex = std::str::from_utf8(&s[i + 2..i + 4]).ok()?;
            let v = u8::from_str_radix(hex, 16).ok()?;
            if v != b'\\' && (0x21..=0x7e).contains(&v) {
                return None;
            }
            out.push(v);
            i += 4;
        } else if (0x21..=0x7e).contains(&b) {
            out.push(b);
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

/// The manifest's text.
pub fn render(entries: &[Entry]) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(
        b"# rootlet manifest 2: what rootlet put on disk, relative to its own directories \
          (out, units, state). Do not edit.\n",
    );
    for e in entries {
        match e {
            Entry::At { base, name, item } => {
                let (kind, extra) = match item {
                    Item::File(Some(d)) => ("file", Some(d.render().into_bytes())),
                    Item::Link(Some(t)) => ("link", Some(escape(t))),
                    Item::Dir => ("dir", None),
                    // Claims without proof are never written back.
                    Item::File(None) | Item::Link(None) => continue,
                };
                s.extend_from_slice(kind.as_bytes());
                s.push(b' ');
                s.extend_from_slice(base.keyword().as_bytes());
                s.push(b' ');
                s.extend_from_slice(&escape(name.as_bytes()));
                if let Some(x) = extra {
                    s.push(b' ');
                    s.extend_from_slice(&x);
                }
                s.push(b'\n');
            }
            Entry::Created { base, n } => {
                let mut line = String::new();
                let _ = writeln!(line, "created {} {n}", base.keyword());
                s.extend_from_slice(line.as_bytes());
            }
        }
    }
    s
}

/// Parse a manifest. Lines that are not valid entries are counted and ignored, never
/// guessed at.
pub fn parse(text: &[u8], bases: &Bases<'_>) -> (Vec<Entry>, usize) {
    let mut entries = Vec::new();
    let mut bad = 0;
    for line in text.split(|&b| b == b'\n') {
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        match parse_line(line, bases) {
            Some(mut e) => entries.append(&mut e),
            None => bad += 1,
        }
    }
    (entries, bad)
}

fn parse_line(line: &[u8], bases: &Bases<'_>) -> Option<Vec<Entry>> {
    let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    match words.as_slice() {
        [b"created", base, n] => {
            let n: u8 = std::str::from_utf8(n).ok()?.parse().ok()?;
            (1..=16).contains(&n).then_some(())?;
            Some(vec![Entry::Created {
                base: Base::parse(base)?,
                n,
            }])
        }
        [kind, base, name, rest @ ..] if !kind.starts_with(b"/") => {
            let base = Base::parse(base)?;
            let name = Name::new(&unescape(name)?)?;
            let item = match (*kind, rest) {
                (b"file", [d]) => Item::File(Some(Digest::parse(d)?)),
                (b"link", [t]) => Item::Link(Some(unescape(t)?)),
                (b"dir", []) => Item::Dir,
                _ => return None,
            };
            Some(vec![Entry::At { base, name, item }])
        }
        // The first format: `KIND /absolute/path` (the path may hold spaces).
        [kind, _, ..] => {
            let path = Path::new(OsStr::from_bytes(&line[kind.len() + 1..]));
            legacy(kind, path, bases)
        }
        _ => None,
    }
}

/// A first-format line as relative entries: only paths inside a base (or directories
/// that are a base or above one) are kept.
fn legacy(kind: &[u8], path: &Path, bases: &Bases<'_>) -> Option<Vec<Entry>> {
    if !path.is_absolute() || path.components().any(|c| c.as_os_str() == "..") {
        return None;
    }
    let mut v = Vec::new();
    for base in Base::ALL {
        let Some(b) = bases.get(base) else { continue };
        if let Ok(rel) = path.strip_prefix(b) {
            if rel.as_os_str().is_empty() {
                if kind == b"dir" {
                    v.push(Entry::Created { base, n: 1 });
                }
                continue;
            }
            let name = Name::new(rel.as_os_str().as_bytes())?;
            let item = match kind {
                b"file" => Item::File(None),
                b"link" => Item::Link(None),
                b"dir" => Item::Dir,
                _ => return None,
            };
            v.push(Entry::At { base, name, item });
        } else if kind == b"dir" {
            if let Ok(rel) = b.strip_prefix(path) {
                let n = rel.components().count() + 1;
                if n <= 16 && path.parent().is_some() {
                    v.push(Entry::Created { base, n: n as u8 });
                }
            }
        }
    }
    (!v.is_empty()).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_round_trips() {
        for s in [&b"web.service"[..], b"a b\\c\xff\n", b"", b"\\x41"] {
            assert_eq!(unescape(&escape(s)).unwrap(), s);
        }
        assert!(unescape(b"\\x41").is_none(), "only one spelling");
        assert!(unescape(b"a b").is_none());
    }

    #[test]
    fn names_stay_inside() {
        for bad in [
            &b""[..],
            b"/etc/passwd",
            b"..",
            b"a/../b",
            b"a/b/c",
            b"./a",
            b"a//b",
            b"a/",
        ] {
            assert!(Name::new(bad).is_none(), "{bad:?}");
        }
        assert!(Name::new(b"default.target.wants/web.service").is_some());
        assert!(Name::new(b"\xffweb.service").is_some());
    }

    #[test]
    fn legacy_lines_map_into_bases() {
        let out = Path::new("/h/.local/share/systemd/user");
        let bases = Bases {
            out: Some(out),
            units: None,
            state: None,
        };
        let text = b"file /h/.local/share/systemd/user/web.service\nfile /etc/passwd\nx\n\
                     dir /h/.local/share/systemd\nlink /h/.local/share/systemd/user/x/../y\n";
        let (e, bad) = parse(text, &bases);
        assert_eq!(bad, 3);
        assert_eq!(
            e,
            vec![
                Entry::At {
                    base: Base::Out,
                    name: Name::of("web.service").unwrap(),
                    item: Item::File(None)
                },
                Entry::Created {
                    base: Base::Out,
                    n: 2
                }
            ]
        );
    }
}

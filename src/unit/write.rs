//! Writing a unit file in systemd syntax: deterministic, and safe whatever a value holds
//! (a control character is never written, a trailing backslash never continues a line).

use super::{ends_escaped, UnitFile};

impl UnitFile {
    /// Write the file in systemd syntax: deterministic, one blank line between sections.
    ///
    /// Values never contain a newline (the parser cannot produce one and the translator
    /// quotes command lines); should one appear it is written as a continuation-safe space.
    pub fn write(&self) -> String {
        let mut out = String::with_capacity(1024);
        self.write_into(&mut out);
        out
    }

    /// [`UnitFile::write`] into an existing buffer.
    pub fn write_into(&self, out: &mut String) {
        // Keys and values are copied as they are; one scan of the text then tells whether
        // any of them held a control character (almost never: the parser refuses them) by
        // counting more than the line ends written, and only then is it written again,
        // replacing them. (One scan of the whole text instead of one per key and value:
        // the scans were most of rendering's time.)
        let start = out.len();
        let line_ends = self.render(out, String::push_str);
        if count_controls(&out.as_bytes()[start..]) != line_ends {
            out.truncate(start);
            self.render(out, push_line_safe);
        }
    }

    /// The sections onto `out`, each key and value by `push`; the number of lines written.
    fn render(&self, out: &mut String, push: fn(&mut String, &str)) -> usize {
        let mut lines = 0;
        for (i, s) in self.sections.iter().enumerate() {
            if i > 0 {
                out.push('\n');
                lines += 1;
            }
            out.push('[');
            out.push_str(&s.name);
            out.push_str("]\n");
            lines += 1;
            for e in &s.entries {
                push(out, &e.key);
                out.push('=');
                push(out, &e.value);
                // A value ending in an odd number of backslashes would read back as a
                // continuation; the parser never yields one, but code-built values might.
                if ends_escaped(&e.value) {
                    out.push('\\');
                }
                out.push('\n');
                lines += 1;
            }
        }
        lines
    }
}

/// How many bytes of `b` are ASCII control characters other than TAB (so line ends
/// count), eight bytes at a time.
fn count_controls(b: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = !HIGH;
    // The high bit of each byte of `y` that is 0 (exact: no carry crosses a byte).
    let zero = |y: u64| !(((y & LOW7).wrapping_add(LOW7)) | y | LOW7);
    let bad = |c: &u8| (*c < 0x20 && *c != b'\t') || *c == 0x7f;
    let mut words = b.chunks_exact(8);
    let mut n = 0;
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let x = u64::from_le_bytes(a);
        // Bytes under 0x20 (exact: each byte of `x | HIGH` is at least 0x80, so the
        // subtraction borrows within it), less TAB, plus DEL.
        let below = !(x | HIGH).wrapping_sub(ONES * 0x20) & !x & HIGH;
        let m = (below & !zero(x ^ (ONES * b'\t' as u64))) | zero(x ^ (ONES * 0x7f));
        n += m.count_ones() as usize;
    }
    n + words.remainder().iter().filter(|c| bad(c)).count()
}

/// `s` with every ASCII control character but TAB written as a space: the parser never
/// yields one, but code-built keys and values (paths) might, and systemd would end the
/// line at a CR or NUL.
fn push_line_safe(out: &mut String, s: &str) {
    let bad = |c: char| c.is_ascii_control() && c != '\t';
    // Bytes, not chars: an ASCII control byte is never part of a multi-byte character.
    if s.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        out.extend(s.chars().map(|c| if bad(c) { ' ' } else { c }));
    } else {
        out.push_str(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The eight-at-a-time count of control characters is the byte-by-byte one, for every
    /// byte value at every position of a word and in the tail.
    #[test]
    fn control_characters_are_counted_exactly() {
        let naive = |b: &[u8]| {
            b.iter()
                .filter(|&&c| (c < 0x20 && c != b'\t') || c == 0x7f)
                .count()
        };
        for c in 0..=255u8 {
            for len in [1, 7, 8, 9, 16, 23] {
                for at in 0..len {
                    let mut b = vec![b'a'; len];
                    b[at] = c;
                    // Neighbours that sit next to the edges of the tricks: TAB, DEL, 0x80, 0x20.
                    if at + 1 < len {
                        b[at + 1] = [b'\t', 0x7f, 0x80, 0x20, 0x1f, 0xff][usize::from(c) % 6];
                    }
                    assert_eq!(super::count_controls(&b), naive(&b), "{b:?}");
                }
            }
        }
    }

    /// A key or value with a control character in it is written the safe way (replaced by a
    /// space), as before the fast path: the same text either way.
    #[test]
    fn rendering_replaces_control_characters_in_keys_and_values() {
        let mut f = UnitFile::default();
        let s = f.section_mut("Service");
        s.add("Environment", "A=1\rB=2");
        s.add("Bad\nKey", "v\u{7f}\t");
        s.add("Fine", "x\\");
        let mut fast = String::from("head\n");
        f.write_into(&mut fast);
        let mut safe = String::from("head\n");
        f.render(&mut safe, push_line_safe);
        assert_eq!(fast, safe);
        assert_eq!(
            fast,
            "head\n[Service]\nEnvironment=A=1 B=2\nBad Key=v \t\nFine=x\\\\\n"
        );
    }
}

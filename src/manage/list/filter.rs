//! `rootlet list --filter`: `name=GLOB` and `app=GLOB` ([`Filter`]), and the shell-like
//! globs they match with ([`glob_match`]).

use super::Entry;
use crate::manage::ManageError;

/// A `--filter`: `name=GLOB` matches the file name or the unit name; `app=GLOB` the
/// application (`app=shop`: what `rootlet add ~/src/shop/` added).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Name(String),
    App(String),
}

impl Filter {
    pub(super) fn matches(&self, e: &Entry) -> bool {
        match self {
            Filter::Name(g) => glob_match(g, &e.name) || e.units().any(|u| glob_match(g, u)),
            Filter::App(g) => e.app.as_deref().is_some_and(|a| glob_match(g, a)),
        }
    }
}

pub fn parse_filter(f: &str) -> Result<Filter, ManageError> {
    match f.split_once('=') {
        Some(("name", glob)) => Ok(Filter::Name(glob.to_owned())),
        Some(("app", glob)) => Ok(Filter::App(glob.to_owned())),
        _ => Err(ManageError::BadInput(format!(
            "--filter {f}: name=GLOB (file or unit name) or app=GLOB (application)"
        ))),
    }
}

/// Shell-like glob: `*`, `?`, `[abc]`/`[a-z]`/`[!a]`, `\x`.
pub fn glob_match(pat: &str, s: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let s: Vec<char> = s.chars().collect();
    // Iterative with one backtrack point per `*` (linear-ish, no recursion blow-up).
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        let step = if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, si));
                    pi += 1;
                    continue;
                }
                '?' => Some(pi + 1),
                '[' => class(&p, pi, s[si]),
                '\\' if pi + 1 < p.len() => (p[pi + 1] == s[si]).then_some(pi + 2),
                c => (c == s[si]).then_some(pi + 1),
            }
        } else {
            None
        };
        match step {
            Some(next) => {
                pi = next;
                si += 1;
            }
            None => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Match `c` against the class starting at `p[at] == '['`: the index after it if it
/// matches; an unclosed `[` is a literal.
fn class(p: &[char], at: usize, c: char) -> Option<usize> {
    let mut i = at + 1;
    let negate = i < p.len() && (p[i] == '!' || p[i] == '^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() && (p[i] != ']' || first) {
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    if i >= p.len() {
        return (c == '[').then_some(at + 1); // no closing ']': a literal '['
    }
    (matched != negate).then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("web*", "web.container"));
        assert!(glob_match("*.container", "web.container"));
        assert!(!glob_match("*.network", "web.container"));
        assert!(glob_match("w?b.*", "web.x"));
        assert!(glob_match("[vw]eb*", "web"));
        assert!(!glob_match("[!w]eb*", "web"));
        assert!(glob_match("a[", "a["));
        assert!(glob_match("*", ""));
        assert!(!glob_match("", "a"));
        assert!(!glob_match("*a*a*a*a*b", &"a".repeat(40)));
    }
}

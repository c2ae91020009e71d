//! systemd command-line syntax: split an `ExecStart=`-style line into argv the way
//! systemd 252 does, and quote an argv so that systemd parses it back exactly.

use thiserror::Error;

/// Why a command line could not be split.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExecError {
    #[error("unbalanced quoting")]
    UnbalancedQuotes,
    #[error("invalid escape sequence")]
    BadEscape,
}

/// Split a command line into words: quotes, C escapes. `%` specifiers and `$VAR`
/// references are kept verbatim (they are systemd's to expand).
/// STUB: replaced by the full implementation.
pub fn split(line: &str) -> Result<Vec<String>, ExecError> {
    Ok(line.split_whitespace().map(str::to_owned).collect())
}

/// Quote one word so that systemd's parser yields exactly `word`, with `%` and `$`
/// written by the user passed through as specifiers / variable references.
/// STUB: replaced by the full implementation.
pub fn quote_word(word: &str) -> String {
    if word.is_empty()
        || word.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '\\')
    {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        word.to_owned()
    }
}

/// Quote one word so that it reaches the program literally (`%` -> `%%`, `$` -> `$$`).
/// STUB: replaced by the full implementation.
pub fn quote_literal(word: &str) -> String {
    quote_word(&word.replace('%', "%%").replace('$', "$$"))
}

/// Quote a whole argv, words separated by single spaces.
pub fn join(argv: &[String]) -> String {
    argv.iter()
        .map(|w| quote_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

//! `X.pod`: not translated yet (its extension is still in
//! [`super::UNSUPPORTED_EXTENSIONS`], so no source of this kind reaches [`translate`]).

use super::{Context, Generated, Source};
use crate::error::SourceError;

/// Every key of quadlet 5.8's `[Pod]`.
pub(crate) const KEYS: &[&str] = &[];

/// Translate a `.pod` source.
pub fn translate(src: &Source, _ctx: &Context, _name: String) -> Result<Generated, SourceError> {
    Err(src.err(0, ".pod files are not translated yet"))
}

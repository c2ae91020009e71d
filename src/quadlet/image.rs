//! `X.image` -> `X-image.service`: a oneshot `podman image pull` that stays active
//! (quadlet 5.8's `ConvertImage`), and `Image=X.image` in other sources resolved to the
//! image it pulls (quadlet's `handleImageSource`).

use super::flags::{self, Flag};
use super::options;
use super::values::last;
use super::{Context, Generated, Source, SourceKind};
use crate::error::SourceError;
use crate::unit::{Entry, Index};

/// The keys of quadlet 5.8's `[Image]` and their flags, in the order of the argv. quadlet
/// 5.8 walks a Go map for the valued ones, so its order changes from run to run; rootlet's
/// is this one (sorted by key), always.
pub(crate) const FLAGS: &[Flag] = &[
    Flag::Other(flags::COMMON),
    Flag::Other(&["Image", "ImageTag"]),
    Flag::Str("Arch", "--arch"),
    Flag::Str("AuthFile", "--authfile"),
    Flag::Str("CertDir", "--cert-dir"),
    Flag::Str("Creds", "--creds"),
    Flag::Str("DecryptionKey", "--decryption-key"),
    Flag::Str("OS", "--os"),
    Flag::Str("Policy", "--policy"),
    Flag::Str("Retry", "--retry"),
    Flag::Str("RetryDelay", "--retry-delay"),
    Flag::Str("Variant", "--variant"),
    Flag::Bool("AllTags", "--all-tags"),
    Flag::Bool("TLSVerify", "--tls-verify"),
];

/// The image a `.image` source pulls (`Image=`), if it names one.
fn pulled<'a>(sec: &Index<'a>) -> Option<(&'a Entry, &'a str)> {
    last(sec, "Image")
}

/// The name other sources use for the image of `X.image`: `ImageTag=` if set, else
/// `Image=` (quadlet's `ResourceName`).
pub fn image_name(src: &Source) -> Option<String> {
    let sec = src.own();
    last(&sec, "ImageTag")
        .or_else(|| pulled(&sec))
        .map(|(_, v)| v.to_owned())
}

/// Translate a `.image` source.
pub fn translate(src: &Source, ctx: &Context, name: String) -> Result<Generated, SourceError> {
    let sec = src.own();
    let Some((e, image)) = pulled(&sec) else {
        let line = src.file.section("Image").map_or(0, |s| s.line);
        return Err(src.err(line, "[Image] needs Image= (the image to pull)"));
    };
    let warnings = Vec::from_iter(options::short_name_warning(
        src,
        e,
        image,
        SourceKind::Image,
    ));
    let pull = super::service::Pull {
        command: ["image", "pull"],
        flags: FLAGS,
        what: image,
    };
    super::service::pull_unit(src, ctx, &sec, pull, warnings, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit::UnitFile;

    fn source(text: &str) -> Source {
        Source {
            path: "/q/x.image".into(),
            name: "x.image".into(),
            kind: super::super::SourceKind::Image,
            file: UnitFile::parse(text).unwrap(),
        }
    }

    #[test]
    fn image_name_is_the_tag_else_the_image() {
        let s = source("[Image]\nImage=quay.io/a/b\nImageTag=quay.io/a/b:t\n");
        assert_eq!(image_name(&s).as_deref(), Some("quay.io/a/b:t"));
        let s = source("[Image]\nImage=\"quay.io/a/b\"\nImageTag=\n");
        assert_eq!(image_name(&s).as_deref(), Some("quay.io/a/b"));
        assert_eq!(image_name(&source("[Image]\nArch=arm64\n")), None);
    }
}

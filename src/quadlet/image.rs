//! `X.image` -> `X-image.service`: a oneshot `podman image pull` that stays active
//! (quadlet 5.8's `ConvertImage`), and `Image=X.image` in other sources resolved to the
//! image it pulls (quadlet's `handleImageSource`).

use super::values::last;
use super::{options, Context, Generated, Source, SourceKind};
use crate::error::SourceError;
use crate::unit::{Entry, Index};

/// Every key of quadlet 5.8's `[Image]`.
pub(crate) const KEYS: &[&str] = &[
    "AllTags",
    "Arch",
    "AuthFile",
    "CertDir",
    "ContainersConfModule",
    "Creds",
    "DecryptionKey",
    "GlobalArgs",
    "Image",
    "ImageTag",
    "OS",
    "PodmanArgs",
    "Policy",
    "Retry",
    "RetryDelay",
    "ServiceName",
    "TLSVerify",
    "Variant",
];

/// Keys with a value, and their flag. quadlet 5.8 walks a Go map, so its order changes
/// from run to run; rootlet's is this one (sorted by key), always.
const STRINGS: &[(&str, &str)] = &[
    ("Arch", "--arch"),
    ("AuthFile", "--authfile"),
    ("CertDir", "--cert-dir"),
    ("Creds", "--creds"),
    ("DecryptionKey", "--decryption-key"),
    ("OS", "--os"),
    ("Policy", "--policy"),
    ("Retry", "--retry"),
    ("RetryDelay", "--retry-delay"),
    ("Variant", "--variant"),
];

/// Boolean keys: `--flag` or `--flag=false`.
const BOOLS: &[(&str, &str)] = &[("AllTags", "--all-tags"), ("TLSVerify", "--tls-verify")];

/// The image a `.image` source pulls (`Image=`), if it names one.
fn pulled<'a>(sec: &Index<'a>) -> Option<(&'a Entry, &'a str)> {
    last(sec, "Image")
}

/// The name other sources use for the image of `X.image`: `ImageTag=` if set, else
/// `Image=` (quadlet's `ResourceName`).
pub fn image_name(src: &Source) -> Option<String> {
    let empty = crate::unit::Section::new("Image");
    let sec = Index::new(src.file.section("Image").unwrap_or(&empty));
    last(&sec, "ImageTag")
        .or_else(|| pulled(&sec))
        .map(|(_, v)| v.to_owned())
}

/// Translate a `.image` source.
pub fn translate(src: &Source, ctx: &Context, name: String) -> Result<Generated, SourceError> {
    let empty = crate::unit::Section::new("Image");
    let sec = Index::new(src.file.section("Image").unwrap_or(&empty));
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
        strings: STRINGS,
        bools: BOOLS,
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

//! What a source is called and what it makes: the units of a source ([`Made`]), the
//! source a name given on the command line means ([`resolve`]), and the names fit to be
//! written into the source directory ([`valid_file_name`]).

use super::ManageError;
use crate::quadlet::{self, SourceKind};
use crate::search::{Discovery, Found};

/// The unit a source becomes.
pub fn unit_of(f: &Found) -> String {
    let stem = f.name.rsplit_once('.').map_or(f.name.as_str(), |(s, _)| s);
    quadlet::unit_name_for(f.kind, stem)
}

/// The units one source makes, as the generator names them: its own unit
/// (`ServiceName=` honoured), and from its own `[Socket]` (a kind that takes one) the
/// socket ([`quadlet::socket::own_name`]) and, in proxy mode (`ProxyTo=`), the proxy's
/// service ([`quadlet::proxy::proxy_name`]). The one answer `list`, `print`, `rm` and
/// `add` give to "what does this file become": a unit named from the file name alone
/// misses a `ServiceName=`, and the service alone misses the socket that starts it again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Made {
    pub unit: String,
    pub socket: Option<String>,
    pub proxy: Option<String>,
}

impl Made {
    pub fn of(src: &quadlet::Source) -> Made {
        let unit = src.unit_name();
        let own_socket = quadlet::socket::own_section(src).is_some();
        if !own_socket {
            return Made {
                unit,
                ..Made::default()
            };
        }
        // A proxy key that does not translate makes no proxy (the source's own error
        // says why; its units are then not made at all).
        let proxied = matches!(quadlet::proxy::of(src, &unit), Ok(Some(_)));
        Made {
            socket: Some(quadlet::socket::own_name(&unit)),
            proxy: proxied.then(|| quadlet::proxy::proxy_name(&unit)),
            unit,
        }
    }

    /// A source of the search path, read with its drop-ins (a `[Socket]` may come from
    /// one); one that cannot be read makes the unit named after its file.
    pub fn of_found(f: &Found, disc: &Discovery) -> Made {
        match crate::generator::load_found_source(f, disc) {
            Ok(src) => Made::of(&src),
            Err(_) => Made {
                unit: unit_of(f),
                ..Made::default()
            },
        }
    }

    /// Every unit: the service (or the source's own unit), the socket, the proxy.
    pub fn all(&self) -> Vec<String> {
        std::iter::once(&self.unit)
            .chain(&self.socket)
            .chain(&self.proxy)
            .cloned()
            .collect()
    }
}

/// The `.socket` files of the search path, each with the service it activates (by name
/// or by `Service=`); one that activates none (`Accept=yes`) or does not read is left out.
pub fn socket_files(disc: &Discovery) -> Vec<(&Found, String)> {
    (disc.sources.iter())
        .filter(|f| f.kind == SourceKind::Socket)
        .filter_map(|f| {
            let src = crate::generator::load_found_source(f, disc).ok()?;
            let service = quadlet::socket::activated_service(&src).ok().flatten()?;
            Some((f, service))
        })
        .collect()
}

/// Find the source a command-line name means: a file name (`web.container`), a unit name
/// (`web.service`, `db-network.service`), or a bare name (`web`: the unit `web.service`
/// first, then any source called `web.*`; several are ambiguous).
pub fn resolve<'a>(disc: &'a Discovery, name: &str) -> Result<&'a Found, ManageError> {
    if let Some(f) = disc.sources.iter().find(|f| f.name == name) {
        return Ok(f);
    }
    let unit = if name.contains('.') {
        name.to_owned()
    } else {
        format!("{name}.service")
    };
    // By the units it makes (`ServiceName=`, a container's own socket and proxy).
    let by_unit: Vec<&Found> = (disc.sources.iter())
        .filter(|f| Made::of_found(f, disc).all().contains(&unit))
        .collect();
    if let [one] = by_unit.as_slice() {
        return Ok(one);
    }
    if by_unit.len() > 1 {
        return Err(ManageError::Ambiguous {
            name: name.to_owned(),
            candidates: by_unit.iter().map(|f| f.name.clone()).collect(),
        });
    }
    let by_stem: Vec<&Found> = disc
        .sources
        .iter()
        .filter(|f| f.name.rsplit_once('.').is_some_and(|(s, _)| s == name))
        .collect();
    match by_stem.as_slice() {
        [one] => Ok(one),
        [] => Err(ManageError::NotFound(name.to_owned())),
        many => Err(ManageError::Ambiguous {
            name: name.to_owned(),
            candidates: many.iter().map(|f| f.name.clone()).collect(),
        }),
    }
}

/// A file name fit to be written into the source directory: one component, not hidden,
/// printable, no whitespace.
pub fn valid_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && c != '/' && c != '\\')
}

/// An application name: what [`valid_file_name`] allows.
pub fn valid_app_name(name: &str) -> bool {
    valid_file_name(name)
}

/// Kinds a file name is a source of, for messages.
pub fn kind_of(name: &str) -> Option<SourceKind> {
    SourceKind::from_file_name(name).map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn disc(names: &[&str]) -> Discovery {
        Discovery {
            sources: names
                .iter()
                .map(|n| Found {
                    path: PathBuf::from("/s").join(n),
                    name: n.to_string(),
                    kind: kind_of(n).unwrap(),
                    trusted_uid: None,
                    listed_regular: false,
                })
                .collect(),
            ..Discovery::default()
        }
    }

    #[test]
    fn names_resolve() {
        let d = disc(&["web.container", "web.socket", "db.network", "x.volume"]);
        assert_eq!(resolve(&d, "web").unwrap().name, "web.container");
        assert_eq!(resolve(&d, "web.service").unwrap().name, "web.container");
        assert_eq!(resolve(&d, "web.socket").unwrap().name, "web.socket");
        assert_eq!(
            resolve(&d, "db-network.service").unwrap().name,
            "db.network"
        );
        assert_eq!(resolve(&d, "db").unwrap().name, "db.network");
        assert!(matches!(resolve(&d, "nope"), Err(ManageError::NotFound(_))));
        let d = disc(&["a.network", "a.volume"]);
        assert!(matches!(
            resolve(&d, "a"),
            Err(ManageError::Ambiguous { .. })
        ));
    }
}

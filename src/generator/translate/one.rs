//! One source translated by one of a run's threads: read if need be, translated with the
//! checks of what systemd would refuse ([`translate_one`]), and written at once when
//! nothing can clash with it ([`Translator::one`]).

use super::{Job, Known, Outcome, Plan};
use crate::error::SourceError;
use crate::generator::check;
use crate::generator::load::{load_found, locate};
use crate::generator::settle::{dependency_refs, risky_refs, stands_alone, Kept};
use crate::quadlet::{self, Context, Generated, Source};
use std::path::{Path, PathBuf};

/// What one job came to: its outcome, its warnings (for the sources reported on), and the
/// pod it starts with, for a container read by the job.
pub(super) struct Done {
    pub(super) outcome: Outcome,
    /// The units of the source's own `[Socket]`, if it has one (the socket, and in proxy
    /// mode the proxy).
    pub(super) socket: Vec<Outcome>,
    pub(super) warnings: Vec<SourceError>,
    /// Errors `rootlet check` reports besides the outcome's (for the sources reported on).
    pub(super) errors: Vec<SourceError>,
    /// `rootlet check`: the host ports the source binds.
    pub(super) binds: Vec<check::Bind>,
    pub(super) member: Option<(String, String)>,
}

/// Translates one job at a time, with what every job of a run shares.
pub(super) struct Translator<'a> {
    pub(super) plan: &'a Plan<'a>,
    pub(super) known: &'a Known<'a>,
    has_pods: bool,
}

impl<'a> Translator<'a> {
    pub(super) fn new(plan: &'a Plan<'a>, known: &'a Known<'a>, has_pods: bool) -> Self {
        Translator {
            plan,
            known,
            has_pods,
        }
    }

    /// One thread's buffers: the bytes of a source read, the text of a unit written.
    pub(super) fn buffers() -> (Vec<u8>, String) {
        (Vec::with_capacity(8192), String::with_capacity(4096))
    }

    /// Whether a reference names a source whose unit may be another's: one of
    /// [`Known::contested`], or any container (its `ServiceName=` is not known yet).
    fn risky(&self, w: &str) -> bool {
        let (known, disc) = (self.known, self.plan.disc);
        known.contested.contains(w)
            || (w.ends_with(".container")
                && (known.sources.contains_key(w)
                    || (disc.sources)
                        .binary_search_by(|f| f.name.as_str().cmp(w))
                        .is_ok()))
    }

    /// Read (if need be), translate and, when it stands alone, write one source.
    pub(super) fn one(
        &self,
        (buf, text): &mut (Vec<u8>, String),
        job: &Job,
        ctx: &Context,
    ) -> Done {
        let loaded;
        let (src, dropins, mut warnings) = match job {
            Job::Parsed(s) => (*s, self.known.dropins_of(&s.name), Vec::new()),
            Job::Load(f) => match load_found(buf, f, self.plan.disc) {
                Ok(mut l) => {
                    let refused = std::mem::take(&mut l.refused);
                    loaded = l;
                    (&loaded.source, &loaded.dropins[..], refused)
                }
                Err(e) => return Done::failed(e, &f.path, None),
            },
        };
        // The pod this container starts with, read from the source as it is at hand.
        let member = match job {
            Job::Load(_) if self.has_pods => quadlet::pod::member_of(src),
            _ => None,
        };
        let (mut g, sock) = match translate_one(src, ctx, self.plan.strict, dropins) {
            Ok(made) => made,
            Err((e, later)) => {
                let mut done = Done::failed(e, &src.path, member);
                if self.plan.wanted(&src.path) {
                    done.errors = later;
                }
                return done;
            }
        };
        let (mut errors, mut binds) = (Vec::new(), Vec::new());
        if self.plan.wanted(&src.path) {
            warnings.append(&mut g.warnings);
            if self.plan.strict {
                errors = check::host_paths(src)
                    .into_iter()
                    .map(|e| locate(e, dropins))
                    .collect();
                binds = check::binds(src, dropins);
            }
        } else {
            warnings.clear();
        }
        // A socket from the source's own [Socket] is settled with the others, as the
        // sockets of `.socket` files are (`wire_sockets`).
        let socket = sock.into_iter().map(|g| {
            Outcome::Kept(Kept {
                g,
                path: src.path.clone(),
                file: src.name.clone(),
                refs: Vec::new(),
            })
        });
        let socket = socket.collect();
        let outcome = self.place(g, src, dropins, text);
        Done {
            outcome,
            socket,
            warnings,
            errors,
            binds,
            member,
        }
    }
}

impl Translator<'_> {
    /// A unit made: written at once when nothing can clash with it, else kept to be
    /// settled with the others.
    fn place(&self, g: Generated, src: &Source, dropins: &[PathBuf], text: &mut String) -> Outcome {
        let mut refs = risky_refs(src, dropins, &|w| self.risky(w));
        if self.plan.strict {
            let file_of = |w: &str| self.known.files.get(w).cloned();
            refs.extend(dependency_refs(src, dropins, &file_of, &refs));
        }
        match self.plan.out {
            Some(out) if refs.is_empty() && stands_alone(&g, src, &self.known.claims) => {
                match out.write(&g, text) {
                    Ok(()) => Outcome::Written(g.name, g.links, src.path.clone()),
                    Err(e) => Outcome::WriteFailed(e),
                }
            }
            _ => Outcome::Kept(Kept {
                g,
                path: src.path.clone(),
                file: src.name.clone(),
                refs,
            }),
        }
    }
}

impl Done {
    pub(super) fn failed(e: SourceError, path: &Path, member: Option<(String, String)>) -> Done {
        Done {
            outcome: Outcome::Failed(e, path.to_owned()),
            socket: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
            binds: Vec::new(),
            member,
        }
    }
}

/// Translate one source, and check what systemd would refuse in the result: its unit, and
/// the socket unit its own `[Socket]` section makes ([`quadlet::own_socket`]); a broken
/// `[Socket]` costs the file both. An error names the drop-in it comes from, if any
/// (`dropins`: the source's, in merge order). With `strict` (`rootlet check`), the error
/// comes with the file's later errors ([`check::later_errors`]).
pub(super) fn translate_one(
    src: &Source,
    ctx: &Context,
    strict: bool,
    dropins: &[PathBuf],
) -> Result<(Generated, Vec<Generated>), (SourceError, Vec<SourceError>)> {
    let check = |src: &Source, g: &Generated| -> Result<(), SourceError> {
        check::reserved(src, g)?;
        check::unit_lines(src, g)?;
        if strict {
            check::specifiers(src, g)?;
        }
        Ok(())
    };
    let checked = |src: &Source| -> Result<(Generated, Vec<Generated>), SourceError> {
        let g = quadlet::translate(src, ctx)?;
        check(src, &g)?;
        let sock = quadlet::own_socket(src, ctx, &g.name)?;
        sock.iter().try_for_each(|s| check(src, s))?;
        Ok((g, sock))
    };
    checked(src).map_err(|e| {
        let later = match strict {
            true => check::later_errors(src, &e, &|s| checked(s).map(|(g, _)| g)),
            false => Vec::new(),
        };
        let later = later.into_iter().map(|e| locate(e, dropins)).collect();
        (locate(e, dropins), later)
    })
}

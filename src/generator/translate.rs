//! Translating a run's sources: which are read first, which translated first, which by
//! the thread that reads them ([`role`], the one table a new kind of source is added
//! to), and the collection of what became of each.

use super::load::{load_found, locate};
use super::output::Output;
use super::par::par_map_with;
use super::settle::{settle, stands_alone, Kept};
use super::{Options, Run};
use crate::error::SourceError;
use crate::quadlet::{self, socket, Context, Generated, Source, SourceKind};
use crate::search::{self, Found};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

/// How a run treats a kind of source (its `role` column in [`crate::kind::KINDS`]).
pub(super) use crate::kind::Role;

/// The table: each kind of source and its [`Role`].
pub(super) fn role(kind: SourceKind) -> Role {
    kind.info().role
}

/// Whether a source of `kind` is read before the others are translated. A pod's unit
/// wants the containers that name it (`Pod=`): a whole run learns them while it translates
/// the containers, each read by the thread that translates it, and translates the pods
/// last; a run over some files only (`pods_checked`) reads the containers first.
fn read_first(kind: SourceKind, pods_checked: bool) -> bool {
    role(kind) != Role::Leaf || (pods_checked && kind == SourceKind::Container)
}

/// A source to translate: already parsed, or to be read by the thread that translates it.
enum Job<'a> {
    Parsed(&'a Source),
    Load(&'a Found),
}

/// What became of one source (whose path each variant carries, for `only`).
enum Outcome {
    /// Written at once; what it claimed in the output directory.
    Written(String, Vec<quadlet::Link>, PathBuf),
    /// To be settled with the others (and written then, if it wins).
    Kept(Kept),
    Failed(SourceError, PathBuf),
    WriteFailed(io::Error),
}

/// The sources of a run: those to read (`disc`) and those already parsed (`parsed`).
/// With `only`, just the sources at those paths are translated and reported on (the
/// others are read when they could be referred to), as `rootlet check FILE` needs.
pub(super) struct Plan<'a> {
    pub disc: &'a search::Discovery,
    pub parsed: &'a [&'a Source],
    pub opts: &'a Options,
    pub out: Option<&'a Output>,
    pub only: Option<&'a HashSet<PathBuf>>,
    /// Also check `%` specifiers ([`super::check::specifiers`]).
    pub strict: bool,
}

impl Plan<'_> {
    fn wanted(&self, p: &Path) -> bool {
        match self.only {
            Some(o) => o.contains(p),
            None => true,
        }
    }

    /// (kind, file name) of every source of the run.
    fn all(&self) -> impl Iterator<Item = (SourceKind, &str)> {
        self.disc
            .sources
            .iter()
            .map(|f| (f.kind, f.name.as_str()))
            .chain(self.parsed.iter().map(|s| (s.kind, s.name.as_str())))
    }
}

fn unit_of((kind, name): (SourceKind, &str)) -> String {
    quadlet::unit_name_for(kind, name.rsplit_once('.').map_or(name, |(s, _)| s))
}

/// The whole run; the result of writing, when `plan.out` is set.
pub(super) fn process(plan: &Plan) -> (Run, io::Result<()>) {
    let disc = plan.disc;
    let mut run = Run::default();
    match plan.only {
        None => {
            run.notes = disc.notes.clone();
            run.errors = disc.errors.clone();
        }
        Some(only) => {
            // Only what is said about those files.
            let shown: Vec<String> = only
                .iter()
                .map(|p| format!("{}: ", crate::error::show_path(p)))
                .collect();
            run.notes = (disc.notes.iter())
                .filter(|n| shown.iter().any(|s| n.starts_with(s)))
                .cloned()
                .collect();
            run.errors = (disc.errors.iter())
                .filter(|e| only.contains(&e.path))
                .cloned()
                .collect();
        }
    }
    let has_pods = plan.all().any(|(k, _)| k == SourceKind::Pod);
    // A pod's unit wants the containers that name it. A whole run learns them as it
    // translates the containers, and translates the pods last; a run that translates only
    // some files (`rootlet check FILE`) reads every container first to know them.
    let pods_checked = has_pods && plan.only.is_some();
    // Sources other units refer to (and sockets) are read first; the others are read by
    // the thread that translates them.
    let first: Vec<&Found> = disc
        .sources
        .iter()
        .filter(|f| read_first(f.kind, pods_checked))
        .collect();
    let loaded = par_map_with(
        &first,
        || Vec::with_capacity(8192),
        |buf, f| load_found(buf, f, disc).map_err(|e| (e, f.path.clone())),
    );
    let mut owned: Vec<(Source, Vec<PathBuf>)> = Vec::new();
    let mut outcomes: Vec<Outcome> = Vec::new();
    for r in loaded {
        match r {
            Ok(s) => owned.push(s),
            Err((e, p)) => outcomes.push(Outcome::Failed(e, p)),
        }
    }
    let mut sources: BTreeMap<String, &Source> = BTreeMap::new();
    // Drop-ins of the sources read here, by file name (for errors: [`locate`]).
    let mut dropins: HashMap<&str, &[PathBuf]> = HashMap::new();
    for (s, d) in &owned {
        dropins.insert(&s.name, d);
    }
    for s in owned
        .iter()
        .map(|(s, _)| s)
        .chain(plan.parsed.iter().copied())
    {
        sources.insert(s.name.clone(), s);
    }
    let claims = claimants(plan, &sources);
    let no_sockets = BTreeMap::new();
    // Containers are read by the thread that translates them; the rare reference to one
    // (`Network=db.container`) reads it again here.
    let load = |name: &str| -> Option<Result<Source, SourceError>> {
        let i = disc
            .sources
            .binary_search_by(|f| f.name.as_str().cmp(name))
            .ok()?;
        let mut buf = Vec::new();
        Some(load_found(&mut buf, &disc.sources[i], disc).map(|(s, _)| s))
    };
    let version = crate::podman::Lazy::new(&plan.opts.podman, plan.opts.podman_version.clone());
    let no_members = BTreeMap::new();
    let ctx0 = Context {
        podman: &plan.opts.podman,
        podman_version: &version,
        defaults: &plan.opts.defaults,
        sources: &sources,
        sockets_for: &no_sockets,
        load: Some(&load),
        pod_members: &no_members,
    };
    let sockets_for = activators(plan, &sources, &dropins, &ctx0, &mut outcomes);
    let ctx = Context {
        sockets_for: &sockets_for,
        ..ctx0
    };
    let jobs: Vec<Job> = disc
        .sources
        .iter()
        .filter(|f| !read_first(f.kind, pods_checked) && plan.wanted(&f.path))
        .map(Job::Load)
        .chain(
            sources
                .values()
                .filter(|s| role(s.kind) != Role::Activator && s.kind != SourceKind::Pod)
                .filter(|s| plan.wanted(&s.path))
                .map(|s| Job::Parsed(s)),
        )
        .collect();
    let one = |(buf, text): &mut (Vec<u8>, String), job: &Job, ctx: &Context| {
        let loaded;
        let (src, src_dropins) = match job {
            Job::Parsed(s) => (*s, dropins.get(s.name.as_str()).copied().unwrap_or(&[])),
            Job::Load(f) => match load_found(buf, f, disc) {
                Ok(l) => {
                    loaded = l;
                    (&loaded.0, loaded.1.as_slice())
                }
                Err(e) => return (Outcome::Failed(e, f.path.clone()), Vec::new(), None),
            },
        };
        // The pod this container starts with, read from the source as it is at hand.
        let member = match job {
            Job::Load(_) if has_pods => quadlet::pod::member_of(src),
            _ => None,
        };
        let mut g = match translate_one(src, ctx, plan.strict, src_dropins) {
            Ok(g) => g,
            Err(e) => return (Outcome::Failed(e, src.path.clone()), Vec::new(), member),
        };
        let warnings = if plan.wanted(&src.path) {
            std::mem::take(&mut g.warnings)
        } else {
            Vec::new()
        };
        let o = match plan.out {
            Some(out) if stands_alone(&g, src, &claims) => match out.write(&g, text) {
                Ok(()) => Outcome::Written(g.name, g.links, src.path.clone()),
                Err(e) => Outcome::WriteFailed(e),
            },
            _ => Outcome::Kept(Kept {
                g,
                path: src.path.clone(),
                file: src.name.clone(),
            }),
        };
        (o, warnings, member)
    };
    let bufs = || (Vec::with_capacity(8192), String::with_capacity(4096));
    let done = par_map_with(&jobs, bufs, |b, job| one(b, job, &ctx));
    let mut members: Vec<(String, String)> = Vec::new();
    for (o, w, m) in done {
        outcomes.push(o);
        run.warnings.extend(w);
        members.extend(m);
    }
    if has_pods {
        // The pods, last: their units want the containers that start with them.
        let pod_members = quadlet::pod::members(sources.values().copied(), members);
        let ctx = Context {
            pod_members: &pod_members,
            ..ctx
        };
        let pods: Vec<Job> = (sources.values())
            .filter(|s| s.kind == SourceKind::Pod && plan.wanted(&s.path))
            .map(|s| Job::Parsed(s))
            .collect();
        for (o, w, _) in par_map_with(&pods, bufs, |b, job| one(b, job, &ctx)) {
            outcomes.push(o);
            run.warnings.extend(w);
        }
    }
    let write_err = collect(plan, outcomes, &mut run);
    (run, write_err.map_or(Ok(()), Err))
}

/// How many sources may become each unit name, known before any unit is written: a unit is
/// written at once only when its source is the one claimant of its name ([`stands_alone`]).
/// Every source claims the name its file name gives (`a.kube` and `a.container` both claim
/// `a.service`); a source read first also claims its real name (`ServiceName=`). A
/// container's `ServiceName=` is not known before it is translated: such a unit is never
/// written at once, and loses to a unit that was.
fn claimants(plan: &Plan, sources: &BTreeMap<String, &Source>) -> HashMap<String, u32> {
    let mut claims: HashMap<String, u32> = HashMap::new();
    for u in plan.all().map(unit_of) {
        *claims.entry(u).or_default() += 1;
    }
    for s in sources.values() {
        let named = s.unit_name();
        if named != unit_of((s.kind, s.name.as_str())) {
            *claims.entry(named).or_default() += 1;
        }
    }
    claims
}

/// Translate the sockets (they come first: a service is wired to the sockets that were
/// generated for it); their outcomes go to `outcomes`. Returns service -> sockets.
fn activators(
    plan: &Plan,
    sources: &BTreeMap<String, &Source>,
    dropins: &HashMap<&str, &[PathBuf]>,
    ctx: &Context,
    outcomes: &mut Vec<Outcome>,
) -> BTreeMap<String, Vec<String>> {
    let mut sockets_for: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut services: Option<HashSet<String>> = None;
    for s in sources.values().filter(|s| role(s.kind) == Role::Activator) {
        let d = dropins.get(s.name.as_str()).copied().unwrap_or(&[]);
        let o = match translate_one(s, ctx, plan.strict, d) {
            Ok(g) => {
                if let Ok(Some(svc)) = socket::activated_service(s) {
                    let services = services.get_or_insert_with(|| {
                        plan.all()
                            .filter(|(k, _)| role(*k) != Role::Activator)
                            .map(unit_of)
                            .collect()
                    });
                    if services.contains(&svc) {
                        sockets_for.entry(svc).or_default().push(g.name.clone());
                    }
                }
                Outcome::Kept(Kept {
                    g,
                    path: s.path.clone(),
                    file: s.name.clone(),
                })
            }
            Err(e) => Outcome::Failed(e, s.path.clone()),
        };
        outcomes.push(o);
    }
    sockets_for
}

/// Translate one source, and check what systemd would refuse in the result. An error
/// names the drop-in it comes from, if any (`dropins`: the source's, in merge order).
fn translate_one(
    src: &Source,
    ctx: &Context,
    strict: bool,
    dropins: &[PathBuf],
) -> Result<Generated, SourceError> {
    let checked = || -> Result<Generated, SourceError> {
        let g = quadlet::translate(src, ctx)?;
        super::check::unit_lines(src, &g)?;
        if strict {
            super::check::specifiers(src, &g)?;
        }
        Ok(g)
    };
    checked().map_err(|e| locate(e, dropins))
}

/// Sort the outcomes into `run` (settling the units not written yet, and writing them
/// when there is an output); the first write error.
fn collect(plan: &Plan, outcomes: Vec<Outcome>, run: &mut Run) -> Option<io::Error> {
    let mut written: Vec<(String, Vec<quadlet::Link>, PathBuf)> = Vec::new();
    let mut kept: Vec<Kept> = Vec::new();
    let mut write_err: Option<io::Error> = None;
    for o in outcomes {
        match o {
            Outcome::Written(name, links, path) => written.push((name, links, path)),
            Outcome::Kept(k) => {
                if plan.wanted(&k.path) {
                    kept.push(k)
                }
            }
            Outcome::Failed(e, p) => {
                if plan.wanted(&p) {
                    run.errors.push(e)
                }
            }
            Outcome::WriteFailed(e) => {
                write_err.get_or_insert(e);
            }
        }
    }
    if !kept.is_empty() {
        let mut errors = Vec::new();
        let won = settle(&written, kept, &mut errors);
        run.errors.extend(errors);
        run.units = won;
    }
    if let Some(out) = plan.out {
        let mut text = String::new();
        for g in &run.units {
            if let Err(e) = out.write(g, &mut text) {
                write_err.get_or_insert(e);
            }
        }
    }
    run.errors
        .sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    run.warnings
        .sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    write_err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_read_first_only_in_runs_with_pods() {
        assert!(!read_first(SourceKind::Container, false));
        assert!(read_first(SourceKind::Container, true));
        assert!(read_first(SourceKind::Pod, false));
        assert!(read_first(SourceKind::Network, false));
    }
}

//! Translating a run's sources: which are read first, which translated first, which by
//! the thread that reads them ([`role`], the one table a new kind of source is added
//! to), and the collection of what became of each.

use super::check;
use super::load::{load_found, Loaded};
use super::output::Output;
use super::par::par_map_with;
use super::settle::{settle, Kept};
use super::{Options, Run};
use crate::error::SourceError;
use crate::podman::TooOld;
use crate::quadlet::{self, socket, Context, Source, SourceKind};
use crate::search::{self, Found};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

mod one;
use one::{translate_one, Translator};

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

/// The whole run, in the phases of `ARCHITECTURE.md`'s picture: what discovery said
/// ([`report_discovery`]); the sources others refer to, read first ([`read_referenced`]);
/// the sockets, translated first ([`wire_sockets`]); the other sources, each read,
/// translated and (when nothing can clash with it) written by one thread
/// ([`translate_leaves`]); the pods, last ([`translate_pods`]); then the clashes settled
/// and the rest written ([`collect`]). The result of writing, when `plan.out` is set.
pub(super) fn process(plan: &Plan) -> (Run, io::Result<()>) {
    let mut st = RunState {
        run: report_discovery(plan),
        outcomes: Vec::new(),
        binds: Vec::new(),
    };
    let has_pods = plan.all().any(|(k, _)| k == SourceKind::Pod);
    // A pod's unit wants the containers that name it. A whole run learns them as it
    // translates the containers, and translates the pods last; a run that translates only
    // some files (`rootlet check FILE`) reads every container first to know them.
    let pods_checked = has_pods && plan.only.is_some();
    let owned = read_referenced(plan, pods_checked, &mut st);
    let known = Known::new(plan, &owned);
    let disc = plan.disc;
    // Containers are read by the thread that translates them; the rare reference to one
    // (`Network=db.container`) reads it again here.
    let load = |name: &str| reread(disc, name);
    let version = crate::podman::Lazy::new(&plan.opts.podman, plan.opts.podman_version.clone())
        .cached_in(plan.opts.version_cache.clone());
    let base = context(plan.opts, &version, &known, &load);
    let sockets_for = wire_sockets(plan, &known, &base, &mut st);
    let ctx = Context {
        sockets_for: &sockets_for,
        ..base
    };
    let t = Translator::new(plan, &known, has_pods);
    let members = translate_leaves(&t, pods_checked, &ctx, &mut st);
    if plan.strict && plan.only.is_some() {
        translate_dependencies(plan, &known, &ctx, &mut st);
    }
    if has_pods {
        let pod_members = quadlet::pod::members(known.sources.values().copied(), members);
        let ctx = Context {
            pod_members: &pod_members,
            ..ctx
        };
        translate_pods(&t, &ctx, &mut st);
    }
    st.run.errors.extend(check::port_clashes(st.binds));
    let write_err = collect(plan, st.outcomes, &mut st.run);
    // A podman older than some kinds of the run need: said once, first; each source
    // refused for it has its own error.
    let kinds = (plan.disc.sources.iter().map(|f| (f.kind, &f.path)))
        .chain(plan.parsed.iter().map(|s| (s.kind, &s.path)))
        .filter(|(_, p)| plan.wanted(p))
        .map(|(k, _)| k.extension());
    let opts = plan.opts;
    if let Some(t) = TooOld::of(&opts.podman, &opts.podman_version, &version, kinds) {
        st.run.errors.insert(0, t.error());
        st.run.too_old = Some(t);
    }
    (st.run, write_err.map_or(Ok(()), Err))
}

/// `rootlet check FILE`: translate the sources the files checked depend on and that were
/// not translated (they are not checked), so that a dependency on one that gets no unit is
/// reported ([`super::settle::dependency_refs`]); their errors are not (they go to the
/// outcomes as failed, which reports only the files checked).
fn translate_dependencies(plan: &Plan, known: &Known, ctx: &Context, st: &mut RunState) {
    let mut done: HashSet<String> = HashSet::new();
    for o in &st.outcomes {
        match o {
            Outcome::Kept(k) => done.insert(k.file.clone()),
            Outcome::Failed(_, p) => done.insert(
                p.file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into_owned()),
            ),
            _ => false,
        };
    }
    let named: Vec<String> = (st.outcomes.iter())
        .filter_map(|o| match o {
            Outcome::Kept(k) => Some(k.refs.iter().map(|r| r.file.clone())),
            _ => None,
        })
        .flatten()
        .collect();
    let disc = plan.disc;
    for name in named {
        // A file checked is translated (a pod, after this) and reported on its own.
        let path = match known.sources.get(&name) {
            Some(s) => &s.path,
            None => match disc
                .sources
                .binary_search_by(|f| f.name.as_str().cmp(&name))
            {
                Ok(i) => &disc.sources[i].path,
                Err(_) => continue,
            },
        };
        if plan.wanted(path) || !done.insert(name.clone()) {
            continue;
        }
        let src = match known.sources.get(&name) {
            Some(s) => Ok((*s).clone()),
            None => match reread(disc, &name) {
                Some(r) => r,
                None => continue,
            },
        };
        let failed = src.and_then(|s| match translate_one(&s, ctx, false, &[]) {
            Ok(_) => Ok(()),
            Err((e, _)) => Err(SourceError { path: s.path, ..e }),
        });
        if let Err(e) = failed {
            let path = e.path.clone();
            st.outcomes.push(Outcome::Failed(e, path));
        }
    }
}

/// No sockets, no pod members: what a [`Context`] knows before the phases that learn them.
static NONE: BTreeMap<String, Vec<String>> = BTreeMap::new();

/// The run's [`Context`], built once: its settings and the sources read first. The
/// phases that learn the sockets of each service ([`wire_sockets`]) and the members of
/// each pod ([`translate_leaves`]) derive theirs from it with what they learnt.
fn context<'a>(
    opts: &'a Options,
    version: &'a crate::podman::Lazy,
    known: &'a Known,
    load: quadlet::LoadSource<'a>,
) -> Context<'a> {
    Context {
        podman: &opts.podman,
        podman_version: version,
        defaults: &opts.defaults,
        sources: &known.sources,
        sockets_for: &NONE,
        load: Some(load),
        pod_members: &NONE,
    }
}

/// What a run has so far: its report, and what became of each source translated.
struct RunState {
    run: Run,
    outcomes: Vec<Outcome>,
    /// `rootlet check` only: the host ports the sources reported on bind.
    binds: Vec<check::Bind>,
}

/// What discovery said (with `only`: only what is said about those files).
fn report_discovery(plan: &Plan) -> Run {
    let disc = plan.disc;
    let Some(only) = plan.only else {
        return Run {
            notes: disc.notes.clone(),
            errors: disc.errors.clone(),
            warnings: disc.refused.clone(),
            ..Run::default()
        };
    };
    let shown: Vec<String> = only
        .iter()
        .map(|p| format!("{}: ", crate::error::show_path(p)))
        .collect();
    let about = |e: &&SourceError| only.contains(&e.path);
    Run {
        notes: (disc.notes.iter())
            .filter(|n| shown.iter().any(|s| n.starts_with(s)))
            .cloned()
            .collect(),
        errors: disc.errors.iter().filter(about).cloned().collect(),
        warnings: disc.refused.iter().filter(about).cloned().collect(),
        ..Run::default()
    }
}

/// Read the sources other units refer to (and sockets), in parallel, before the others are
/// translated ([`read_first`]); those that cannot be read are outcomes already.
fn read_referenced(plan: &Plan, pods_checked: bool, st: &mut RunState) -> Vec<Loaded> {
    let disc = plan.disc;
    let first: Vec<&Found> = (disc.sources.iter())
        .filter(|f| read_first(f.kind, pods_checked))
        .collect();
    let loaded = par_map_with(
        &first,
        || Vec::with_capacity(8192),
        |buf, f| load_found(buf, f, disc).map_err(|e| (e, f.path.clone())),
    );
    let mut owned = Vec::new();
    for r in loaded {
        match r {
            Ok(mut l) => {
                if plan.wanted(&l.source.path) {
                    st.run.warnings.append(&mut l.refused);
                }
                owned.push(l)
            }
            Err((e, p)) => st.outcomes.push(Outcome::Failed(e, p)),
        }
    }
    owned
}

/// A source of the run by file name, read again (`Context::load`).
fn reread(disc: &search::Discovery, name: &str) -> Option<Result<Source, SourceError>> {
    let i = (disc.sources)
        .binary_search_by(|f| f.name.as_str().cmp(name))
        .ok()?;
    Some(load_found(&mut Vec::new(), &disc.sources[i], disc).map(|l| l.source))
}

/// What is known of the run's sources before the leaves are translated.
struct Known<'a> {
    /// The sources read first, and those given parsed, by file name.
    sources: BTreeMap<String, &'a Source>,
    /// Drop-ins of the sources read first, by file name (for errors: [`locate`]).
    dropins: HashMap<&'a str, &'a [PathBuf]>,
    /// How many sources may become each unit name ([`claimants`]).
    claims: HashMap<String, u32>,
    /// Sources whose unit may turn out to be another's ([`contested`]).
    contested: HashSet<String>,
    /// `rootlet check` only: the file name of every source of the run, by its file name
    /// and by its unit names (for [`super::settle::dependency_refs`]).
    files: HashMap<String, String>,
}

impl<'a> Known<'a> {
    fn new(plan: &Plan<'a>, owned: &'a [Loaded]) -> Known<'a> {
        let sources: BTreeMap<String, &Source> = (owned.iter().map(|l| &l.source))
            .chain(plan.parsed.iter().copied())
            .map(|s| (s.name.clone(), s))
            .collect();
        let dropins = (owned.iter())
            .map(|l| (l.source.name.as_str(), l.dropins.as_slice()))
            .collect();
        let claims = claimants(plan, &sources);
        let contested = contested(&sources, &claims);
        let mut files = HashMap::new();
        if plan.strict {
            for (kind, name) in plan.all() {
                files.insert(name.to_owned(), name.to_owned());
                files.insert(unit_of((kind, name)), name.to_owned());
            }
            for s in sources.values() {
                files.insert(s.unit_name(), s.name.clone());
            }
        }
        Known {
            sources,
            dropins,
            claims,
            contested,
            files,
        }
    }

    /// The drop-ins of a source read first.
    fn dropins_of(&self, name: &str) -> &[PathBuf] {
        self.dropins.get(name).copied().unwrap_or(&[])
    }
}

/// Translate the sockets (they come first: a service is wired to the sockets that were
/// generated for it); their outcomes go to `st`. Returns service -> sockets.
fn wire_sockets(
    plan: &Plan,
    known: &Known,
    ctx: &Context,
    st: &mut RunState,
) -> BTreeMap<String, Vec<String>> {
    let mut sockets_for: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut services: Option<HashSet<String>> = None;
    for s in (known.sources.values()).filter(|s| role(s.kind) == Role::Activator) {
        let d = known.dropins_of(&s.name);
        let o = match translate_one(s, ctx, plan.strict, d) {
            Ok((g, _)) => {
                if plan.strict && plan.wanted(&s.path) {
                    st.binds.extend(check::binds(s, d));
                }
                let activated = socket::activated_service(s);
                if let Ok(Some(svc)) = &activated {
                    let services = services.get_or_insert_with(|| {
                        plan.all()
                            .filter(|(k, _)| role(*k) != Role::Activator)
                            .map(unit_of)
                            .collect()
                    });
                    if services.contains(svc) {
                        sockets_for
                            .entry(svc.clone())
                            .or_default()
                            .push(g.name.clone());
                    }
                }
                if plan.strict && plan.wanted(&s.path) {
                    // `Accept=yes`: an instance of the template `X@.service` per connection.
                    let activated =
                        activated.map(|a| a.unwrap_or_else(|| format!("{}@.service", s.stem())));
                    if let Ok(svc) = activated {
                        match known.files.get(&svc) {
                            None => st.run.warnings.push(check::no_service(s, &svc)),
                            Some(file) => st.run.warnings.extend(check::unreachable(s, &svc, file)),
                        }
                    }
                }
                Outcome::Kept(Kept {
                    g,
                    path: s.path.clone(),
                    file: s.name.clone(),
                    refs: Vec::new(),
                })
            }
            Err((e, later)) => {
                st.run
                    .errors
                    .extend(later.into_iter().filter(|_| plan.wanted(&s.path)));
                Outcome::Failed(e, s.path.clone())
            }
        };
        st.outcomes.push(o);
    }
    sockets_for
}

/// Translate every source but the sockets and pods, on the run's threads: each read (if
/// it was not read first), translated and written at once when nothing can clash with it.
/// Returns (pod file, container unit) for every container that names a pod.
fn translate_leaves(
    t: &Translator,
    pods_checked: bool,
    ctx: &Context,
    st: &mut RunState,
) -> Vec<(String, String)> {
    let plan = t.plan;
    let jobs: Vec<Job> = (plan.disc.sources.iter())
        .filter(|f| !read_first(f.kind, pods_checked) && plan.wanted(&f.path))
        .map(Job::Load)
        .chain(
            (t.known.sources.values())
                .filter(|s| role(s.kind) != Role::Activator && s.kind != SourceKind::Pod)
                .filter(|s| plan.wanted(&s.path))
                .map(|s| Job::Parsed(s)),
        )
        .collect();
    run_jobs(t, &jobs, ctx, st)
}

/// Run `jobs` on the run's threads, their outcomes to `st`; the (pod file, container
/// unit) of every container that names a pod. The leaves and the pods both come through
/// here, so the generator holds one copy of the thread pool's code, not two.
fn run_jobs(
    t: &Translator,
    jobs: &[Job],
    ctx: &Context,
    st: &mut RunState,
) -> Vec<(String, String)> {
    let mut members = Vec::new();
    for done in par_map_with(jobs, Translator::buffers, |b, job| t.one(b, job, ctx)) {
        st.outcomes.push(done.outcome);
        st.outcomes.extend(done.socket);
        st.run.warnings.extend(done.warnings);
        st.run.errors.extend(done.errors);
        st.binds.extend(done.binds);
        members.extend(done.member);
    }
    members
}

/// Translate the pods, last: their units want the containers that start with them
/// (`ctx.pod_members`).
fn translate_pods(t: &Translator, ctx: &Context, st: &mut RunState) {
    let pods: Vec<Job> = (t.known.sources.values())
        .filter(|s| s.kind == SourceKind::Pod && t.plan.wanted(&s.path))
        .map(|s| Job::Parsed(s))
        .collect();
    // A pod is no member of a pod: nothing to learn from them.
    run_jobs(t, &pods, ctx, st);
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

/// Sources read first whose unit may turn out to be another's: a unit name that two
/// claim, or one taken with `ServiceName=` (a container may take it too, which is known
/// only once it is made). Units that refer to them wait for the clashes to be settled
/// ([`risky_refs`]).
fn contested(
    sources: &BTreeMap<String, &Source>,
    claims: &HashMap<String, u32>,
) -> HashSet<String> {
    (sources.values())
        .filter(|s| {
            let u = s.unit_name();
            claims.get(&u) != Some(&1) || u != unit_of((s.kind, s.name.as_str()))
        })
        .map(|s| s.name.clone())
        .collect()
}

/// Settle the units not written yet, write them when there is an output, and sort the
/// report; the first write error.
fn collect(plan: &Plan, outcomes: Vec<Outcome>, run: &mut Run) -> Option<io::Error> {
    let mut sorted = Sorted::new(plan, outcomes, run);
    if !sorted.kept.is_empty() {
        let kept = std::mem::take(&mut sorted.kept);
        run.units = settle(&sorted.written, kept, &sorted.failed, &mut run.errors);
    }
    if let Some(out) = plan.out {
        let mut text = String::new();
        for g in &run.units {
            if let Err(e) = out.write(g, &mut text) {
                sorted.write_err.get_or_insert(e);
            }
        }
    }
    // One comparison function, not two closures: one copy of the sort in the binary.
    run.errors.sort_by(by_place);
    run.warnings.sort_by(by_place);
    // A drop-in left out is said once, not once for each unit it would apply to.
    let mut said = HashSet::new();
    run.warnings
        .retain(|w| said.insert((w.path.clone(), w.line, w.message.clone())));
    sorted.write_err
}

/// The order of a run's errors and warnings: by file, then line.
fn by_place(a: &SourceError, b: &SourceError) -> std::cmp::Ordering {
    (&a.path, a.line).cmp(&(&b.path, b.line))
}

/// The outcomes of a run, by kind (the errors of the sources reported on go to `run`).
struct Sorted {
    written: Vec<(String, Vec<quadlet::Link>, PathBuf)>,
    kept: Vec<Kept>,
    /// File names of the sources that failed (reported on or not).
    failed: HashSet<String>,
    write_err: Option<io::Error>,
}

impl Sorted {
    fn new(plan: &Plan, outcomes: Vec<Outcome>, run: &mut Run) -> Sorted {
        let mut s = Sorted {
            written: Vec::new(),
            kept: Vec::new(),
            failed: HashSet::new(),
            write_err: None,
        };
        for o in outcomes {
            match o {
                Outcome::Written(name, links, path) => s.written.push((name, links, path)),
                Outcome::Kept(k) if plan.wanted(&k.path) => s.kept.push(k),
                Outcome::Kept(_) => {}
                Outcome::Failed(e, p) => {
                    let name = p.file_name().and_then(|n| n.to_str());
                    s.failed.extend(name.map(str::to_owned));
                    if plan.wanted(&p) {
                        run.errors.push(e)
                    }
                }
                Outcome::WriteFailed(e) => {
                    s.write_err.get_or_insert(e);
                }
            }
        }
        s
    }
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

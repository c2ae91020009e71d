//! The skeleton of every generated service: the source's sections copied with its own
//! renamed `[X-Kind]`, the wait unit, `SourcePath=`, the restart defaults, references to
//! other sources named by their units, sections in order; and the two shapes several
//! kinds share: a oneshot that creates a podman resource ([`oneshot`]) and one that
//! pulls ([`pull_unit`]).

use super::flags::{self, Args, Extra, Flag};
use super::{default_dependencies, refs, values, Context, Generated, Source};
use crate::env::WAIT_UNIT;
use crate::error::SourceError;
use crate::unit::{Entry, Section, UnitFile};
use std::borrow::Cow;

/// Start a generated unit from the source: all sections copied, the source section and
/// `[Quadlet]` renamed `[X-Kind]` / `[X-Quadlet]` (systemd ignores `X-` sections).
pub(crate) fn base_unit(src: &Source) -> UnitFile {
    let own = src.kind.section();
    let mut out = UnitFile::default();
    for s in &src.file.sections {
        if s.name == "Socket" && own != "Socket" {
            // A service source's own [Socket] becomes its socket unit (`own_socket`).
            continue;
        }
        let name = if s.name == own || s.name == "Quadlet" {
            format!("X-{}", s.name)
        } else {
            s.name.clone()
        };
        // Room for what translation adds to [Unit] and [Service] (one allocation, not
        // three growths).
        let mut entries = Vec::with_capacity(s.entries.len() + 8);
        entries.extend(
            s.entries
                .iter()
                // systemd 252 does not know UpheldBy= in [Install]: the symlink says it.
                .filter(|e| !(s.name == "Install" && e.key == "UpheldBy"))
                .cloned(),
        );
        out.sections.push(Section {
            name,
            line: s.line,
            entries,
        });
    }
    out
}

/// The start of every generated service: [`base_unit`], the wait unit (unless
/// `[Quadlet] DefaultDependencies=false` or `wait` is false), `SourcePath=` and
/// `RequiresMountsFor=%t/containers`.
///
/// `wait`: whether anything the unit does may reach the network. rootlet's rule (README,
/// "Waiting where the network is needed"): a container waits unless nothing in it can
/// reach the network: only `Network=none`, and an image that cannot need a pull
/// (`Rootfs=`, `Pull=never`); `Network=none` alone still pulls, and a `Rootfs=` container
/// with a network needs the interface podman's rootless network (pasta, slirp4netns)
/// attaches to. A network or volume oneshot does local work and waits only when it pulls
/// an image (`[Volume] Driver=image`).
pub(crate) fn service_unit(src: &Source, wait: bool) -> Result<UnitFile, SourceError> {
    let mut file = base_unit(src);
    let wait = wait && default_dependencies(src)?;
    let unit = file.section_mut("Unit");
    if wait {
        prepend(unit, &[("Wants", WAIT_UNIT), ("After", WAIT_UNIT)]);
    }
    unit.add(
        "SourcePath",
        crate::unit::escape_specifiers(&src.path.to_string_lossy()),
    );
    unit.add("RequiresMountsFor", "%t/containers");
    Ok(file)
}

/// `key=value` in `svc` unless the source sets `key` (rootlet's and quadlet's defaults).
pub(crate) fn default(svc: &mut Section, key: &'static str, value: &'static str) {
    if !svc.has(key) {
        svc.add(key, value);
    }
}

/// `[Service] Type=` of a container or a `.kube` (`what`: "a container"): `notify` (the
/// default) or `oneshot` (true), as quadlet allows.
pub(crate) fn service_type(src: &Source, what: &str) -> Result<bool, SourceError> {
    match src.file.section("Service").and_then(|s| s.last("Type")) {
        None => Ok(false),
        Some(e) => match &*e.value {
            "notify" => Ok(false),
            "oneshot" => Ok(true),
            v => Err(src.err(
                e.line,
                format!("Type: `{v}` is not allowed for {what} (use notify or oneshot)"),
            )),
        },
    }
}

/// `[Service] KillMode=` of a container or a `.kube`: `mixed` or `control-group`, as
/// quadlet allows.
pub(crate) fn check_kill_mode(src: &Source, what: &str) -> Result<(), SourceError> {
    match src.file.section("Service").and_then(|s| s.last("KillMode")) {
        Some(e) if e.value != "mixed" && e.value != "control-group" => Err(src.err(
            e.line,
            format!(
                "KillMode: `{}` is not allowed for {what} (use mixed or control-group)",
                e.value
            ),
        )),
        _ => Ok(()),
    }
}

/// The end of every generated service: restart defaults, references to other sources
/// named by their units, sections in order.
pub(crate) fn finish(
    src: &Source,
    ctx: &Context,
    mut file: UnitFile,
    name: String,
    mut warnings: Vec<SourceError>,
) -> Result<Generated, SourceError> {
    for (line, why) in ctx.defaults.apply(&mut file) {
        warnings.push(src.err(line, why));
    }
    refs::translate_references(src, ctx, &mut file)?;
    order_sections(&mut file);
    Ok(Generated {
        name,
        file,
        links: Vec::new(),
        warnings,
    })
}

/// What a oneshot service that creates a podman resource (`podman network create`,
/// `podman volume create`) is made of.
pub(crate) struct Oneshot {
    /// The command: `argv[0]` is written literally, the rest as the source wrote it.
    pub argv: Vec<String>,
    pub stop_post: Option<Vec<String>>,
    /// It pulls an image: it waits for the network ([`service_unit`]).
    pub pulls: bool,
    /// It stays active after its command (`RemainAfterExit=yes` unless the source says
    /// otherwise). A `.build` does not (quadlet's), so every start of a unit that requires
    /// it runs it again.
    pub remain: bool,
    /// `Requires=`/`After=` units (a `.volume`'s `Image=X.image`), `RequiresMountsFor=`
    /// paths.
    pub deps: Vec<String>,
    pub mounts_for: Vec<String>,
    pub warnings: Vec<SourceError>,
}

/// A oneshot service that creates a podman resource (see [`Oneshot`]).
pub(crate) fn oneshot(
    src: &Source,
    ctx: &Context,
    o: Oneshot,
    name: String,
) -> Result<Generated, SourceError> {
    let mut file = service_unit(src, o.pulls)?;
    let unit = file.section_mut("Unit");
    for p in &o.mounts_for {
        unit.add("RequiresMountsFor", mount_path_value(p));
    }
    for d in &o.deps {
        unit.add("Requires", d.clone());
        unit.add("After", d.clone());
    }
    let svc = file.section_mut("Service");
    svc.add(
        "ExecStart",
        crate::exec::command_line(
            o.argv.first().map_or(ctx.podman, String::as_str),
            o.argv.get(1..).unwrap_or(&[]),
        ),
    );
    if let Some(s) = o.stop_post {
        svc.add(
            "ExecStopPost",
            crate::exec::command_line(ctx.podman, s.get(1..).unwrap_or(&[])),
        );
    }
    for (k, v) in [
        ("Type", "oneshot"),
        ("RemainAfterExit", "yes"),
        ("SyslogIdentifier", "%N"),
    ] {
        if !svc.has(k) && (o.remain || k != "RemainAfterExit") {
            svc.add(k, v);
        }
    }
    finish(src, ctx, file, name, o.warnings)
}

/// For podman < 4.4 (no `create --ignore`): `argv` (`podman GLOBAL... KIND create ...
/// NAME`, `globals` global arguments) run only when `podman GLOBAL... KIND exists NAME`
/// says the resource is missing, as
/// `/bin/sh -c '"$0" "${2}" KIND exists "$1" || { shift; exec "$0" "$@"; }' podman NAME
/// GLOBAL... KIND create ... NAME`.
///
/// Why a shell in `ExecStart=` and not `ExecCondition=`: a failed condition leaves the
/// oneshot `inactive`, not `active (exited)`, so `systemctl is-active` and the units that
/// `Requires=` it would see a resource service that never ran; here the service is active
/// whether it created the resource or found it, and `systemctl --user restart` simply runs
/// the check again. Why not `ExecStart=-podman ... create` with an `exists` check after it:
/// every start of an existing resource would log podman's "already exists" error.
/// Everything reaches the shell as positional parameters, so nothing but the fixed script
/// is shell code: names, options and `PodmanArgs=` are never parsed by the shell. The
/// script is fixed text (its `$` doubled for systemd, which would otherwise expand
/// `$0` itself); the other words keep the meaning they have in the plain command line
/// (`%i` of a template's `systemd-X-%i` is still a specifier), and podman's path, written
/// literally as a program, is escaped the way a program is.
pub(crate) fn create_if_missing(argv: Vec<String>, kind: &str, globals: usize) -> Vec<String> {
    let mut script = String::from("\"$$0\"");
    for i in 0..globals {
        script.push_str(&format!(" \"$${{{}}}\"", i + 2));
    }
    script.push_str(&format!(
        " {kind} exists \"$$1\" || {{ shift; exec \"$$0\" \"$$@\"; }}"
    ));
    let mut it = argv.into_iter();
    let podman = it.next().unwrap_or_default();
    let rest: Vec<String> = it.collect();
    let name = rest.last().cloned().unwrap_or_default();
    let mut out = vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        script,
        podman.replace('%', "%%").replace('$', "$$"),
        name,
    ];
    out.extend(rest);
    out
}

/// What a oneshot `podman X pull` (an `.image`'s, an `.artifact`'s) is made of: the
/// subcommand, the source's flag table and what it pulls.
pub(crate) struct Pull<'a> {
    pub command: [&'static str; 2],
    pub flags: &'a [Flag],
    pub what: &'a str,
}

/// A oneshot service that pulls and stays active; it waits for the network, as a
/// container does.
pub(crate) fn pull_unit(
    src: &Source,
    ctx: &Context,
    sec: &crate::unit::Index,
    p: Pull,
    warnings: Vec<SourceError>,
    name: String,
) -> Result<Generated, SourceError> {
    let mut r = Args {
        src,
        sec,
        ctx,
        a: vec![ctx.podman.into()],
        x: Extra {
            warnings,
            ..Extra::default()
        },
    };
    let global = values::global_args(src, ctx, sec, &mut r.x.warnings)?;
    r.a.extend(global.into_iter().map(Cow::Owned));
    r.a.extend(p.command.map(Cow::Borrowed));
    flags::apply(p.flags, &mut r)?;
    let more = values::podman_args(src, sec, &mut r.x.warnings);
    r.a.extend(more.into_iter().map(Cow::Owned));
    r.a.push(p.what.into());
    oneshot(
        src,
        ctx,
        Oneshot {
            argv: r.a.into_iter().map(Cow::into_owned).collect(),
            stop_post: None,
            pulls: true,
            remain: true,
            deps: Vec::new(),
            mounts_for: Vec::new(),
            warnings: r.x.warnings,
        },
        name,
    )
}

/// A `RequiresMountsFor=` value systemd reads as this one path. systemd 252 splits the
/// value into words with quotes removed but no C escapes (quadlet's `\x20` would become
/// `x20`), so a path with whitespace, quotes or backslashes is double-quoted with `\\`
/// and `\"` (which newer systemd, applying C escapes, reads the same way). `%` is left
/// as it is: the paths come from the source, where it already is a specifier or `%%`.
pub(crate) fn mount_path_value(p: &str) -> String {
    if !p
        .bytes()
        .any(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'\\'))
    {
        return p.to_owned();
    }
    let mut out = String::with_capacity(p.len() + 4);
    out.push('"');
    for c in p.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Insert entries at the front of a section (quadlet prepends its Wants/After pair so that
/// a user's `After=` reset later in `[Unit]` still clears it).
pub(crate) fn prepend(section: &mut Section, entries: &[(&'static str, &'static str)]) {
    let new = entries.iter().map(|(k, v)| Entry {
        key: (*k).into(),
        value: (*v).into(),
        line: 0,
    });
    section.entries.splice(0..0, new);
}

/// Put `[Unit]` first and `[Service]` right after it (for readability); the others keep
/// their order.
pub(crate) fn order_sections(file: &mut UnitFile) {
    let rank = |n: &str| match n {
        "Unit" => 0,
        "Service" | "Socket" => 1,
        _ => 2,
    };
    file.sections.sort_by_key(|s| rank(&s.name));
}

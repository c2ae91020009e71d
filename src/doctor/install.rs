//! rootlet itself: the generator where the user manager runs it, the wait unit where the
//! user manager finds it, and every source file valid.

use super::{is_executable, Env, Finding};
use crate::env::{USER_GENERATOR_DIRS, WAIT_UNIT};
use crate::generator::{self, Options};
use crate::user_manager::{Op, Verb};
use std::path::PathBuf;

const GENERATOR: &str = "rootlet-user-generator";

use super::masked;

pub fn check(env: &Env, out: &mut Vec<Finding>) {
    generator_installed(env, out);
    quadlet_generator(env, out);
    wait_unit(env, out);
    sources(env, out);
    enable_links(env, out);
}

/// The user's links (`systemctl --user enable`) in `~/.config/systemd/user` to units of
/// the no-root install that are gone (`uninstall --user`, a removed source): rootlet left
/// them alone, as the user's; said only when there are some.
fn enable_links(env: &Env, out: &mut Vec<Finding>) {
    let (Some(config), Some(data)) = (env.config_dir(), env.data_dir()) else {
        return;
    };
    let found =
        crate::install::dangling_links(&config.join("systemd/user"), &data.join("systemd/user"));
    if found.is_empty() {
        return;
    }
    let links: Vec<String> = found
        .iter()
        .map(|(l, t)| format!("{} -> {}", l.display(), t.display()))
        .collect();
    let names: Vec<String> = found
        .iter()
        .map(|(l, _)| {
            l.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    out.push(Finding::warning(
        "rootlet.enable-links",
        format!(
            "{} link(s) of `systemctl --user enable` point at generated units that are gone \
             (uninstalled, or their source removed): {}",
            found.len(),
            links.join(", ")
        ),
        // Rendered by the one rule for commands a user pastes (escaped for a shell: a
        // `\x2d` in a unit name keeps its backslash).
        Op::new(Verb::Disable, &names).shown(),
    ));
}

fn generator_installed(env: &Env, out: &mut Vec<Finding>) {
    let install = format!(
        "sudo install -Dm755 target/release/{GENERATOR} /usr/local/lib/systemd/user-generators/{GENERATOR}\n\
         systemctl --user daemon-reload\n\
         or, without root: rootlet install --user"
    );
    // The no-root install regenerates through a path unit instead of a generator.
    let path_unit = env
        .config_dir()
        .map(|c| c.join("systemd/user/rootlet-regenerate.path"));
    if let Some(p) = path_unit.filter(|p| p.exists()) {
        out.push(Finding::ok(
            "rootlet.generator",
            format!("no-root install: {} regenerates the units", p.display()),
        ));
        return;
    }
    let found = USER_GENERATOR_DIRS
        .iter()
        .map(|d| env.sys(&format!("{d}/{GENERATOR}")))
        .find(|p| std::fs::symlink_metadata(p).is_ok());
    match found {
        None => out.push(Finding::error(
            "rootlet.generator",
            format!(
                "{GENERATOR} is in no user generator directory ({}): no unit is generated from your sources",
                USER_GENERATOR_DIRS.join(", ")
            ),
            install,
        )),
        Some(p) if masked(&p) => out.push(Finding::error(
            "rootlet.generator",
            format!("{} masks the generator", env.logical(&p)),
            format!("sudo rm {}\nsystemctl --user daemon-reload", env.logical(&p)),
        )),
        Some(p) if !is_executable(&p) => out.push(Finding::error(
            "rootlet.generator",
            format!(
                "{} is not an executable file (or a dangling symlink)",
                env.logical(&p)
            ),
            install,
        )),
        Some(p) => out.push(Finding::ok(
            "rootlet.generator",
            format!("generator installed: {}", env.logical(&p)),
        )),
    }
}

const QUADLET: &str = "podman-user-generator";

/// podman's quadlet user generator, if installed, and whether it is masked (system-wide
/// or for this user). Podman older than 4.4 (Debian 12's 4.3.1) has none.
fn quadlet_generator_state(env: &Env) -> Option<(PathBuf, bool)> {
    let p = USER_GENERATOR_DIRS
        .iter()
        .map(|d| env.sys(&format!("{d}/{QUADLET}")))
        .find(|p| std::fs::symlink_metadata(p).is_ok())?;
    let masked_by_user = env
        .config_dir()
        .map(|c| c.join(format!("systemd/user-generators/{QUADLET}")))
        .is_some_and(|m| masked(&m));
    let is_masked = masked(&p) || masked_by_user;
    Some((p, is_masked))
}

/// Whether podman's quadlet generator runs for this user (installed and not masked): only
/// then do its units, and its wait unit, exist.
pub(crate) fn quadlet_in_use(env: &Env) -> bool {
    quadlet_generator_state(env).is_some_and(|(_, m)| !m)
}

/// podman's own user generator beside ours: both write `X.service` for the same files.
fn quadlet_generator(env: &Env, out: &mut Vec<Finding>) {
    let Some((p, is_masked)) = quadlet_generator_state(env) else {
        return;
    };
    if is_masked {
        out.push(Finding::ok(
            "rootlet.quadlet",
            "podman's quadlet generator is masked: rootlet alone generates your units",
        ));
        return;
    }
    out.push(Finding::warning(
        "rootlet.quadlet",
        format!(
            "podman's quadlet generator ({}) also turns your .container files into units of \
             the same names: which one's unit is used is not defined",
            env.logical(&p)
        ),
        format!(
            "mask it for your user:\nmkdir -p ~/.config/systemd/user-generators\n\
             ln -s /dev/null ~/.config/systemd/user-generators/{QUADLET}\n\
             systemctl --user daemon-reload"
        ),
    ));
}

/// The user unit search path (systemd.unit(5)), highest precedence first; system paths
/// under the root prefix.
fn user_unit_dirs(env: &Env) -> Vec<PathBuf> {
    env.user_env.unit_search_path(|d| env.sys(d))
}

/// The program of the unit's `ExecStart=` (prefixes `-@:+!` dropped), if absolute.
fn exec_start_program(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let v = l.trim().strip_prefix("ExecStart=")?;
        let v = v.trim_start_matches(['-', '@', ':', '+', '!']);
        let prog = v.split_whitespace().next()?;
        prog.starts_with('/').then(|| prog.to_owned())
    })
}

fn wait_unit(env: &Env, out: &mut Vec<Finding>) {
    let install = format!(
        "sed 's|@bindir@|/usr/local/bin|' units/{WAIT_UNIT}.in | sudo tee /usr/local/lib/systemd/user/{WAIT_UNIT}\n\
         sudo install -Dm755 target/release/rootlet-wait-online -t /usr/local/bin/\n\
         systemctl --user daemon-reload"
    );
    let found = user_unit_dirs(env)
        .into_iter()
        .map(|d| d.join(WAIT_UNIT))
        .find(|p| std::fs::symlink_metadata(p).is_ok());
    let Some(p) = found else {
        out.push(Finding::error(
            "rootlet.wait-unit",
            format!("{WAIT_UNIT} is in no user unit directory: generated services start without waiting for the network"),
            install,
        ));
        return;
    };
    let shown = env.logical(&p);
    if masked(&p) {
        out.push(Finding::error(
            "rootlet.wait-unit",
            format!("{WAIT_UNIT} is masked ({shown})"),
            format!("systemctl --user unmask {WAIT_UNIT}   (or: sudo rm {shown})"),
        ));
        return;
    }
    let real = super::system::resolve_in_root(env, &p);
    let text = super::read_text(&real).unwrap_or_default();
    match exec_start_program(&text) {
        Some(prog) if !is_executable(&env.sys(&prog)) => out.push(Finding::error(
            "rootlet.wait-unit",
            format!("{shown} runs {prog}, which does not exist or is not executable"),
            format!(
                "sudo install -Dm755 target/release/rootlet-wait-online {prog}\n\
                 or fix ExecStart= in {shown}"
            ),
        )),
        Some(_) => out.push(Finding::ok(
            "rootlet.wait-unit",
            format!("{WAIT_UNIT} installed: {shown}"),
        )),
        None => out.push(Finding::error(
            "rootlet.wait-unit",
            format!("{shown} has no absolute ExecStart="),
            install,
        )),
    }
}

fn sources(env: &Env, out: &mut Vec<Finding>) {
    // As the generator sees it (defaults file, PODMAN), on the root-prefixed search path.
    let (mut opts, defaults_err) = Options::from_user_env(&env.user_env);
    if let Some(e) = defaults_err {
        out.push(Finding::error(
            "rootlet.sources",
            e.to_string(),
            format!("edit {}", e.path.display()),
        ));
    }
    let roots = env.source_roots();
    opts.roots = roots.clone();
    let run = generator::run(&opts);
    for e in &run.errors {
        let at = if e.line > 0 {
            format!("line {} of {}", e.line, e.path.display())
        } else {
            e.path.display().to_string()
        };
        out.push(Finding::error(
            "rootlet.sources",
            e.to_string(),
            // `check` lists every problem of a file (the generator stops at the first):
            // new-user review P21.
            format!("edit {at}; then rootlet check again (it lists every problem of each file)"),
        ));
    }
    if run.errors.is_empty() {
        let dirs: Vec<String> = roots.iter().map(|r| r.path.display().to_string()).collect();
        out.push(Finding::ok(
            "rootlet.sources",
            if run.units.is_empty() {
                format!("no source files in {}", dirs.join(", "))
            } else {
                format!(
                    "{} unit(s) generated, every source file valid",
                    run.units.len()
                )
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_start() {
        assert_eq!(
            exec_start_program("[Service]\nExecStart=/usr/local/bin/rootlet-wait-online --x\n"),
            Some("/usr/local/bin/rootlet-wait-online".into())
        );
        assert_eq!(
            exec_start_program("ExecStart=-@/bin/x y"),
            Some("/bin/x".into())
        );
        assert_eq!(exec_start_program("ExecStart=rel"), None);
        assert_eq!(exec_start_program(""), None);
    }
}

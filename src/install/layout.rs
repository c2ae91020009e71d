//! Where a no-root install lives, and the units it installs, filled in from the templates
//! with every install-time value quoted for systemd or refused.

use super::Error;
use crate::env::UserEnv;
use std::path::{Path, PathBuf};

pub const PATH_UNIT: &str = "rootlet-regenerate.path";
pub const SERVICE_UNIT: &str = "rootlet-regenerate.service";
const PATH_TEMPLATE: &str = include_str!("../../units/rootlet-regenerate.path.in");
const SERVICE_TEMPLATE: &str = include_str!("../../units/rootlet-regenerate.service.in");
/// Written by `install --user` only when no system-wide copy of the wait unit exists:
/// the unit rootlet ships (`units/rootlet-wait-online.service.in`).
const WAIT_FALLBACK: &str = include_str!("../../units/rootlet-wait-online.service.in");
/// Where the start timeout begins in the service template (the first version had none).
const TIMEOUT_COMMENT: &str = "# A oneshot service has no start timeout";

/// Where a no-root install lives.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The home directory: nothing at or above it is ever removed.
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME/systemd/user`: the path and service units.
    pub unit_dir: PathBuf,
    /// `$XDG_DATA_HOME/systemd/user`: the generated units.
    pub output_dir: PathBuf,
    /// `$XDG_DATA_HOME/rootlet`: the manifests and the lock.
    pub state_dir: PathBuf,
    /// Where `rootlet` and `rootlet-wait-online` are.
    pub bindir: PathBuf,
    /// Directories to watch instead of the template's (custom `XDG_CONFIG_HOME` or
    /// `ROOTLET_UNIT_DIRS`).
    pub watch: Option<Vec<PathBuf>>,
    /// `Environment=` of the service: the variables that decided the paths at install.
    pub env: Vec<(&'static str, std::ffi::OsString)>,
}

impl Layout {
    /// From the user's environment; `bindir` defaults to the running executable's.
    pub fn new(user: &UserEnv, bindir: Option<PathBuf>) -> Result<Layout, Error> {
        let home = user.home.clone().ok_or(Error::NoHome)?;
        let config = user.config_dir().unwrap_or_else(|| home.join(".config"));
        let data = user.data_dir().unwrap_or_else(|| home.join(".local/share"));
        let bindir = match bindir {
            Some(b) => b,
            None => std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(Path::to_owned))
                .ok_or(Error::NoBindir)?,
        };
        let custom_config = user.config_home.is_some() && config != home.join(".config");
        let watch = if user.unit_dirs.is_some() || custom_config {
            let mut v: Vec<PathBuf> = user.search_roots().into_iter().map(|r| r.path).collect();
            v.push(config.join("rootlet"));
            Some(v)
        } else {
            None
        };
        let mut env = Vec::new();
        if let Some(c) = &user.config_home {
            env.push(("XDG_CONFIG_HOME", c.clone().into_os_string()));
        }
        if let Some(d) = &user.data_home {
            env.push(("XDG_DATA_HOME", d.clone().into_os_string()));
        }
        if let Some(u) = &user.unit_dirs {
            env.push(("ROOTLET_UNIT_DIRS", u.into()));
        }
        if let Some(p) = &user.podman {
            env.push(("PODMAN", p.into()));
        }
        Ok(Layout {
            home,
            unit_dir: config.join("systemd/user"),
            output_dir: data.join("systemd/user"),
            state_dir: data.join("rootlet"),
            bindir,
            watch,
            env,
        })
    }

    /// From the process environment.
    pub fn from_env(bindir: Option<PathBuf>) -> Result<Layout, Error> {
        Layout::new(&UserEnv::from_process(), bindir)
    }

    pub fn generated_list(&self) -> PathBuf {
        self.state_dir.join("generated.list")
    }

    pub fn installed_list(&self) -> PathBuf {
        self.state_dir.join(super::shared::INSTALLED_LIST)
    }

    /// The manifest of the units generated into `out`: `generated.list` for the output
    /// directory, a list of its own for any other (`regenerate -o DIR`).
    pub fn generated_list_for(&self, out: &Path) -> PathBuf {
        if out == self.output_dir {
            return self.generated_list();
        }
        use std::os::unix::ffi::OsStrExt;
        let d = super::manifest::Digest::of(out.as_os_str().as_bytes());
        self.state_dir
            .join(format!("generated-{:016x}.list", d.fnv))
    }

    fn bindir_str(&self) -> Result<&str, Error> {
        let b = self.bindir.to_str().ok_or_else(|| Error::Unquotable {
            what: "the directory of rootlet".into(),
            value: self.bindir.display().to_string(),
            why: "not UTF-8",
        })?;
        check_value("the directory of rootlet", b)?;
        Ok(b)
    }

    /// The path unit, from the template; watched directories replaced when the user's
    /// environment moved them.
    pub fn path_unit(&self) -> Result<String, Error> {
        let text = fill(PATH_TEMPLATE, self.bindir_str()?);
        let Some(watch) = &self.watch else {
            return Ok(text);
        };
        let mut out = String::new();
        let mut done = false;
        for line in text.lines() {
            if line.starts_with("PathChanged=") {
                if !done {
                    for w in watch {
                        out.push_str(&format!("PathChanged={}\n", path_value(w)?));
                    }
                    done = true;
                }
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        Ok(out)
    }

    /// The service unit, from the template, with the install-time environment.
    pub fn service_unit(&self) -> Result<String, Error> {
        let text = fill(SERVICE_TEMPLATE, self.bindir_str()?);
        let mut out = String::new();
        for line in text.lines() {
            if line.starts_with("ExecStart=") {
                for (k, v) in &self.env {
                    out.push_str(&environment_line(k, v)?);
                }
            }
            out.push_str(line);
            out.push('\n');
        }
        Ok(out)
    }

    /// The installed units as the first version of the no-root install wrote them (the
    /// bindir spliced in raw; no start timeout): what an unverified claim of its
    /// `installed.list` must hold to count as rootlet's.
    pub fn earlier_units(&self) -> Vec<(&'static str, String)> {
        let raw = |t: &str| {
            t.replace(
                "@bindir@",
                &self.bindir.to_string_lossy().replace('%', "%%"),
            )
        };
        let mut v = Vec::new();
        let service_v1 = SERVICE_TEMPLATE
            .split_once(TIMEOUT_COMMENT)
            .map_or(SERVICE_TEMPLATE, |(a, _)| a);
        let mut svc = String::new();
        for line in raw(service_v1).lines() {
            if line.starts_with("ExecStart=") {
                for (k, val) in &self.env {
                    let val = val.to_string_lossy();
                    svc.push_str(&format!(
                        "Environment=\"{k}={}\"\n",
                        val.replace('%', "%%")
                            .replace('\\', "\\\\")
                            .replace('"', "\\\"")
                    ));
                }
            }
            svc.push_str(line);
            svc.push('\n');
        }
        v.push((SERVICE_UNIT, svc));
        if let Ok(p) = self.path_unit() {
            v.push((PATH_UNIT, p));
        }
        v.push((crate::env::WAIT_UNIT, raw(WAIT_FALLBACK)));
        v
    }

    /// The wait unit written when no system-wide one exists.
    pub fn wait_unit(&self) -> Result<String, Error> {
        Ok(fill(WAIT_FALLBACK, self.bindir_str()?))
    }
}

/// The wait unit for programs in `bindir`, as `install --user` writes it (`rootlet docker
/// enable` writes the very same text, so the two never disagree about the file).
pub fn wait_unit_for(bindir: &Path) -> Result<String, Error> {
    let b = bindir.to_str().ok_or_else(|| Error::Unquotable {
        what: "the directory of rootlet".into(),
        value: bindir.display().to_string(),
        why: "not UTF-8",
    })?;
    check_value("the directory of rootlet", b)?;
    Ok(fill(WAIT_FALLBACK, b))
}

/// A program path as the executable word of an `Exec*=` line: specifiers are expanded
/// there (so `%` is doubled), variables are not (so `$` stays as it is).
pub fn exec_program_word(path: &str) -> Result<String, Error> {
    check_value("a program path", path)?;
    Ok(crate::exec::quote_word(&path.replace('%', "%%")))
}

/// Refuse what no unit-file quoting can carry: control characters (a newline would end
/// the line and start another, injecting keys or sections), and surrounding whitespace
/// (systemd strips it).
fn check_value(what: &str, v: &str) -> Result<(), Error> {
    let why = if v.chars().any(char::is_control) {
        "holds a control character (newline, tab, ...)"
    } else if v.trim() != v {
        "begins or ends with white space"
    } else {
        return Ok(());
    };
    Err(Error::Unquotable {
        what: what.to_owned(),
        value: v.to_owned(),
        why,
    })
}

/// A path for `PathChanged=`: specifiers are expanded there, nothing else, so `%` is
/// doubled; a path systemd would read differently is refused.
fn path_value(p: &Path) -> Result<String, Error> {
    let s = p.to_str().ok_or_else(|| Error::Unquotable {
        what: "a watched directory".into(),
        value: p.display().to_string(),
        why: "not UTF-8",
    })?;
    check_value("a watched directory", s)?;
    Ok(s.replace('%', "%%"))
}

/// `Environment="K=V"`: systemd unquotes and unescapes (C escapes) the word, then expands
/// specifiers; `$` is not expanded there.
fn environment_line(k: &str, v: &std::ffi::OsStr) -> Result<String, Error> {
    let s = v.to_str().ok_or_else(|| Error::Unquotable {
        what: k.to_owned(),
        value: v.to_string_lossy().into_owned(),
        why: "not UTF-8",
    })?;
    check_value(k, s)?;
    let q = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    Ok(format!("Environment=\"{k}={q}\"\n"))
}

/// Fill `@bindir@` in: in `Exec*=` lines each word that holds it becomes one word quoted
/// as systemd reads command lines (quotes, `\`, `%%`; `$$` in arguments, not in the
/// executable, where systemd expands no variables); a bindir with a space or a `$` works.
fn fill(template: &str, bindir: &str) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    for line in template.lines() {
        if !line.contains("@bindir@") {
            out.push_str(line);
        } else if let Some((key, value)) =
            line.split_once('=').filter(|(k, _)| k.starts_with("Exec"))
        {
            out.push_str(key);
            out.push('=');
            let words: Vec<String> = value
                .split(' ')
                .enumerate()
                .map(|(i, w)| {
                    let w = w.replace("@bindir@", bindir);
                    if !w.contains(bindir) {
                        w
                    } else if i == 0 {
                        // The executable: specifiers are expanded in it, variables not.
                        crate::exec::quote_word(&w.replace('%', "%%"))
                        // (= exec_program_word, whose check bindir_str has done)
                    } else {
                        crate::exec::quote_literal(&w)
                    }
                })
                .collect();
            out.push_str(&words.join(" "));
        } else {
            out.push_str(&line.replace("@bindir@", &bindir.replace('%', "%%")));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(bindir: &str) -> Layout {
        let user = UserEnv {
            home: Some("/home/u".into()),
            ..UserEnv::default()
        };
        Layout::new(&user, Some(bindir.into())).unwrap()
    }

    #[test]
    fn i2_bindir_with_space_dollar_percent_is_one_word() {
        let l = layout("/opt/my $bin%x");
        let svc = l.service_unit().unwrap();
        let exec = svc
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap();
        assert_eq!(exec, "\"/opt/my $bin%%x/rootlet\" regenerate");
        let words = crate::exec::split(exec).unwrap();
        assert_eq!(words.len(), 2);
    }

    #[test]
    fn i2_newline_in_environment_is_refused() {
        let user = UserEnv {
            home: Some("/home/u".into()),
            podman: Some("/usr/bin/podman\nExecStartPre=/bin/touch /tmp/x".into()),
            ..UserEnv::default()
        };
        let l = Layout::new(&user, Some("/usr/bin".into())).unwrap();
        let e = l.service_unit().unwrap_err().to_string();
        assert!(e.contains("PODMAN") && e.contains("control"), "{e}");
        let user = UserEnv {
            home: Some("/home/u".into()),
            unit_dirs: Some("/src\n[Unit]\nOnFailure=evil.service".into()),
            ..UserEnv::default()
        };
        let l = Layout::new(&user, Some("/usr/bin".into())).unwrap();
        assert!(l.service_unit().is_err());
        assert!(l.path_unit().is_err());
        let l = layout("/usr/bin\n[Service]");
        assert!(l.service_unit().is_err() && l.wait_unit().is_err());
    }

    #[test]
    fn i2_environment_is_escaped() {
        let line = environment_line("PODMAN", "/a b/\"q\"\\%$x".as_ref()).unwrap();
        assert_eq!(line, "Environment=\"PODMAN=/a b/\\\"q\\\"\\\\%%$x\"\n");
    }

    #[test]
    fn h1_service_has_a_start_timeout() {
        let svc = layout("/usr/bin").service_unit().unwrap();
        assert!(
            svc.lines().any(|l| l.starts_with("TimeoutStartSec=")),
            "{svc}"
        );
    }
}

//! `Notify=healthy`: the service becomes active only once its container is healthy, so
//! that `After=` dependents start only then.
//!
//! podman 5.0 and later do it themselves (`--sdnotify=healthy`: `podman run` polls the
//! container's health state every 250 ms, sends `READY=1` when it is `healthy`, and fails
//! when the container stopped). Older podman (Debian 12's 4.3, Ubuntu 24.04's 4.9) has no
//! such mode, so rootlet keeps `--sdnotify=conmon` and adds an `ExecStartPost=` that waits
//! for the same state: systemd keeps the unit `activating` until `ExecStartPost=` exits,
//! so dependents wait exactly as on podman 5. The wait is bounded by the unit's
//! `TimeoutStartSec=`: systemd 252 arms the start timeout anew for `ExecStartPost=`
//! (`service_enter_start_post` spawns it with `timeout_start_usec`), so the wait gets the
//! whole `TimeoutStartSec=` from the moment the container runs, where podman 5's wait
//! shares it with `podman run` (an image pull included). A container that never turns
//! healthy fails the start (result `timeout`), and the restart defaults apply as to any
//! failed start.
//!
//! Why a shell loop over `podman container inspect`, not a mode of a rootlet binary: the
//! generated unit then needs only `/bin/sh` and the podman it already runs, not the path
//! of a rootlet binary (which differs between `make install`, packages and the no-root
//! install, and would make the unit stale when rootlet moves); and nothing stays
//! resident: the loop ends when the container is healthy.
//!
//! Why it reads the health state rather than running `podman healthcheck run` itself:
//! podman 4.3's `podman run` already starts a transient systemd timer for the check
//! (`systemd-run --user` for a rootless container, measured working in the user manager
//! by `tests/e2e/health.sh`) that runs it at once and then every `HealthInterval=`, and
//! counts `HealthStartPeriod=`/`HealthRetries=` as podman 5 does (a failure in the start
//! period is not counted; `HealthRetries=` failures in a row make it `unhealthy`). Running
//! checks of our own would count every failure twice and make `HealthOnFailure=` act
//! early. Like podman 5, `unhealthy` is waited through: a later passing check makes the
//! container healthy again.
//!
//! The loop polls once a second: podman 5 polls in-process every 250 ms, but here each
//! poll is a podman process (0.04-0.05 s CPU, measured with podman 4.3.1), and the state
//! changes only when a check runs (every `HealthInterval=`, 30 s by default). Each new
//! state, with the last check's exit code and output, is written once to the journal, so
//! a container that never turns healthy leaves the check's output there. A container
//! that is not running (exited, or removed: `--rm`) ends the wait with a failure, as on
//! podman 5.

use crate::exec;
use crate::podman::{Lazy, Version};
use crate::unit::{Entry, Section};

/// The shell program of the wait: `$1` is the container's name, the rest the podman
/// command (program and global options). Written as the program reads it; `%` and `$` are
/// escaped for systemd when the line is made.
const WAIT: &str = r#"n=$1; shift; p=
while :; do
r=$("$@" container inspect --format '{{.State.Status}} {{if .Config.Healthcheck}}{{.State.Health.Status}}, failing streak {{.State.Health.FailingStreak}}{{$l := ""}}{{range .State.Health.Log}}{{$l = printf ", last check exited %d: %s" .ExitCode .Output}}{{end}}{{$l}}{{else}}none{{end}}' "$n") || exit
case $r in
"running healthy,"*) exit 0;;
"running none") echo "$n has no health check: Notify=healthy needs one (HealthCmd=, or the image's)" >&2; exit 1;;
running*|created*|initialized*|configured*) ;;
*) echo "$n is not running: $r" >&2; exit 1;;
esac
[ "$r" = "$p" ] || echo "waiting for $n to turn healthy: $r" >&2
p=$r
sleep 1
done"#;

/// Whether a `Notify=` value is `healthy` (podman compares it without regard to case).
pub(crate) fn is_healthy(value: &str) -> bool {
    super::values::unquote(value).eq_ignore_ascii_case("healthy")
}

/// Whether rootlet must wait itself: the podman of this run is older than 5.0.
fn rootlet_waits(podman: &Lazy) -> bool {
    !podman.has(Version::SDNOTIFY_HEALTHY)
}

/// The `--sdnotify=` of `Notify=healthy` for the podman of this run.
pub(crate) fn sdnotify(version: &Lazy) -> &'static str {
    if rootlet_waits(version) {
        "--sdnotify=conmon"
    } else {
        "--sdnotify=healthy"
    }
}

/// `%` and `$` escaped, for a word that must reach the program as it is.
fn literal(s: &str) -> String {
    s.replace('%', "%%").replace('$', "$$")
}

/// Add the wait to `svc` when `notify` is `Notify=healthy` and the podman of this run is
/// older than 5.0; `name` and `global` (podman's global options) are words as the source
/// wrote them (their specifiers are systemd's to expand). It goes before any
/// `ExecStartPost=` of the source's own, which on podman 5 runs only once the container is
/// healthy.
pub(crate) fn add_wait(
    svc: &mut Section,
    version: &Lazy,
    notify: Option<&Entry>,
    podman: &str,
    global: &[String],
    name: &str,
) {
    if !notify.is_some_and(|e| is_healthy(&e.value)) || !rootlet_waits(version) {
        return;
    }
    let (script, podman) = (literal(WAIT), literal(podman));
    let mut args: Vec<&str> = vec!["-c", &script, "rootlet-health-wait", name, &podman];
    args.extend(global.iter().map(String::as_str));
    let line = exec::command_line("/bin/sh", &args);
    let at = svc
        .entries
        .iter()
        .position(|e| e.key == "ExecStartPost")
        .unwrap_or(svc.entries.len());
    svc.entries.insert(
        at,
        Entry {
            key: "ExecStartPost".into(),
            value: line.into(),
            line: notify.map_or(0, |e| e.line),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_reaches_sh_as_written() {
        let ctx = Lazy::new(
            "/usr/bin/podman",
            crate::podman::Target::Known(Version(4, 3, 1)),
        );
        let notify = Entry {
            key: "Notify".into(),
            value: "Healthy".into(),
            line: 4,
        };
        let mut svc = Section::new("Service");
        svc.add("ExecStartPost", "/bin/true");
        let global = ["--root=/srv/%u".to_owned()];
        add_wait(
            &mut svc,
            &ctx,
            Some(&notify),
            "/opt/pod%man",
            &global,
            "systemd-%N",
        );
        assert_eq!(svc.entries[0].key, "ExecStartPost");
        assert_eq!(svc.entries[1].value, "/bin/true");
        let argv = exec::split(&svc.entries[0].value).unwrap();
        // What systemd hands to sh once it has expanded `%%`/`$$` (and `%N`, `%u`).
        let unescaped: Vec<String> = argv
            .iter()
            .map(|w| w.replace("$$", "$").replace("%%", "%"))
            .collect();
        assert_eq!(
            unescaped,
            [
                "/bin/sh",
                "-c",
                WAIT,
                "rootlet-health-wait",
                "systemd-%N",
                "/opt/pod%man",
                "--root=/srv/%u"
            ]
        );
        assert!(!argv[4].contains("%%") && !argv[6].contains("%%"));
    }

    #[test]
    fn podman5_waits_itself() {
        let ctx = Lazy::new("/usr/bin/podman", crate::podman::Target::Newest);
        assert_eq!(sdnotify(&ctx), "--sdnotify=healthy");
        let notify = Entry {
            key: "Notify".into(),
            value: "healthy".into(),
            line: 1,
        };
        let mut svc = Section::new("Service");
        add_wait(&mut svc, &ctx, Some(&notify), "podman", &[], "x");
        assert!(svc.entries.is_empty());
    }

    /// The wait run by the real `/bin/sh`, against a stand-in podman that answers what
    /// podman 4.3.1's `container inspect --format` prints for the wait's template
    /// (measured: `created , failing streak 0` before the container started).
    fn run_wait(answers: &[&str]) -> (Option<i32>, String) {
        static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rootlet-health-{}-{run}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, a) in answers.iter().enumerate() {
            std::fs::write(dir.join(i.to_string()), a).unwrap();
        }
        // Answers in turn; each call also records its argv.
        let fake = dir.join("podman");
        crate::proc::write_test_program(
            &fake,
            "#!/bin/sh\nd=$(dirname \"$0\"); n=$(cat \"$d/n\" 2>/dev/null || echo 0)\n\
             echo \"$@\" >> \"$d/argv\"; echo $((n + 1)) > \"$d/n\"\n\
             [ -e \"$d/$n\" ] || { echo 'Error: no such container' >&2; exit 125; }\n\
             cat \"$d/$n\"\n",
        );
        let o = std::process::Command::new("/bin/sh")
            .args(["-c", WAIT, "rootlet-health-wait", "systemd-web"])
            .arg(&fake)
            .arg("--root=/r")
            .output()
            .unwrap();
        let argv = std::fs::read_to_string(dir.join("argv")).unwrap();
        assert!(
            argv.starts_with("--root=/r container inspect --format {{.State.Status}} "),
            "{argv}"
        );
        assert!(argv.lines().all(|l| l.ends_with(" systemd-web")), "{argv}");
        std::fs::remove_dir_all(&dir).unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    #[test]
    fn the_wait_ends_when_healthy_and_logs_the_failing_check() {
        let (code, err) = run_wait(&[
            "created , failing streak 0",
            "running starting, failing streak 0, last check exited 1: cat: can't open '/tmp/ready'",
            "running healthy, failing streak 0, last check exited 0: ok",
        ]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(
            err,
            "waiting for systemd-web to turn healthy: created , failing streak 0\n\
             waiting for systemd-web to turn healthy: running starting, failing streak 0, \
             last check exited 1: cat: can't open '/tmp/ready'\n"
        );
    }

    #[test]
    fn the_wait_fails_when_the_container_is_gone_or_has_no_check() {
        let (code, err) =
            run_wait(&["running unhealthy, failing streak 3, last check exited 1: x"]);
        assert_eq!(code, Some(125), "{err}");
        assert!(err.ends_with("Error: no such container\n"), "{err}");
        let (code, err) = run_wait(&["running none"]);
        assert_eq!(code, Some(1));
        assert!(err.contains("systemd-web has no health check"), "{err}");
        let (code, err) = run_wait(&[
            "created , failing streak 0",
            "exited starting, failing streak 0",
        ]);
        assert_eq!(code, Some(1));
        assert!(err.contains("systemd-web is not running: exited"), "{err}");
    }
}

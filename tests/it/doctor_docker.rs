//! `rootlet doctor`'s rootless-Docker checks against fake trees (`ROOTLET_DOCTOR_ROOT` for
//! the system, a scratch HOME and PATH for the user).

use crate::util;

use std::process::Command;
use util::Tmp;

const UID: u32 = 4242;

struct Fake {
    t: Tmp,
    env: Vec<(String, String)>,
}

impl Fake {
    fn new() -> Fake {
        let t = Tmp::new("doctor-docker");
        t.write(
            "root/etc/passwd",
            &format!("alice:x:{UID}:{UID}::/home/alice:/bin/sh\n"),
        );
        t.write("root/proc/sys/net/ipv4/ping_group_range", "0 2147483647\n");
        t.write("root/proc/modules", "ip_tables 32768 0 - Live 0x0\n");
        std::fs::create_dir_all(t.path().join("bin")).unwrap();
        let env = vec![
            (
                "ROOTLET_DOCTOR_ROOT".into(),
                t.path().join("root").display().to_string(),
            ),
            ("ROOTLET_DOCTOR_UID".into(), UID.to_string()),
            ("HOME".into(), t.path().join("home").display().to_string()),
            ("PATH".into(), t.path().join("bin").display().to_string()),
        ];
        Fake { t, env }
    }

    fn exe(&self, rel: &str, text: &str) {
        util::write_program(&self.t.join(rel), text, 0o755);
    }

    fn docker_unit(&self, exec: &str, extra: &str) {
        self.t.write(
            "home/.config/systemd/user/docker.service",
            &format!("[Service]\nExecStart={exec}\nRestart=always\nType=notify\n{extra}"),
        );
    }

    /// `(id, level, summary)` of the docker findings.
    fn findings(&self) -> Vec<(String, String, String)> {
        let o = Command::new(util::bin("rootlet"))
            .args(["doctor", "--json"])
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
        v.as_array()
            .unwrap()
            .iter()
            .filter(|f| f["id"].as_str().unwrap().starts_with("docker."))
            .map(|f| {
                (
                    f["id"].as_str().unwrap().into(),
                    f["level"].as_str().unwrap().into(),
                    f["summary"].as_str().unwrap().into(),
                )
            })
            .collect()
    }

    fn level(&self, id: &str) -> Option<String> {
        self.findings().into_iter().find(|f| f.0 == id).map(|f| f.1)
    }
}

#[test]
fn silent_without_rootless_docker() {
    let f = Fake::new();
    assert_eq!(f.findings(), vec![]);
}

#[test]
fn a_daemon_that_does_not_wait_and_a_missing_program() {
    let f = Fake::new();
    f.docker_unit("/usr/share/docker.io/contrib/dockerd-rootless.sh", "");
    assert_eq!(f.level("docker.unit").as_deref(), Some("ok"));
    assert_eq!(f.level("docker.wait").as_deref(), Some("warning"));
    assert_eq!(f.level("docker.exec").as_deref(), Some("error"));
    assert_eq!(f.level("docker.path").as_deref(), Some("warning"));
    // The program installed (under the root prefix), rootlet's drop-in in place.
    f.exe(
        "root/usr/share/docker.io/contrib/dockerd-rootless.sh",
        "#!/bin/sh\n",
    );
    f.t.write(
        "home/.config/systemd/user/docker.service.d/50-rootlet.conf",
        "[Unit]\nWants=rootlet-wait-online.service\nAfter=rootlet-wait-online.service\n",
    );
    assert_eq!(f.level("docker.wait").as_deref(), Some("ok"));
    assert_eq!(f.level("docker.exec").as_deref(), Some("ok"));
}

#[test]
fn pasta_with_each_rootlesskit() {
    let f = Fake::new();
    f.docker_unit(
        "/bin/true",
        "Environment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=implicit\n",
    );
    let kit = |v: &str| {
        f.exe(
            "bin/rootlesskit",
            &format!("#!/bin/sh\necho 'rootlesskit version {v}'\n"),
        )
    };
    kit("1.1.0");
    assert_eq!(f.level("docker.pasta").as_deref(), Some("error"));
    kit("2.0.2");
    assert_eq!(f.level("docker.pasta").as_deref(), Some("warning"));
    kit("2.3.0");
    assert_eq!(f.level("docker.pasta").as_deref(), Some("ok"));
}

#[test]
fn a_running_daemon_without_its_pasta_is_the_silent_failure() {
    let f = Fake::new();
    f.docker_unit(
        "/bin/true",
        "Environment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta\n",
    );
    f.exe(
        "bin/rootlesskit",
        "#!/bin/sh\necho 'rootlesskit version 2.0.2'\n",
    );
    let proc = |pid: u32, comm: &str, cmdline: &[&str], uid: u32| {
        f.t.write(&format!("root/proc/{pid}/comm"), &format!("{comm}\n"));
        f.t.write(
            &format!("root/proc/{pid}/status"),
            &format!("Name:\t{comm}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n"),
        );
        f.t.write(
            &format!("root/proc/{pid}/cmdline"),
            &(cmdline.join("\0") + "\0"),
        );
    };
    proc(
        100,
        "rootlesskit",
        &["rootlesskit", "--net=pasta", "--mtu=65520"],
        UID,
    );
    // Another user's pasta does not count.
    proc(200, "pasta", &["pasta", "--foreground"], UID + 1);
    assert_eq!(f.level("docker.pasta-running").as_deref(), Some("error"));
    proc(300, "pasta", &["pasta", "--foreground"], UID);
    assert_eq!(f.level("docker.pasta-running"), None);
}

#[test]
fn ping_and_ip_tables() {
    let f = Fake::new();
    f.docker_unit("/bin/true", "");
    assert_eq!(f.level("docker.ping").as_deref(), Some("ok"));
    assert_eq!(f.level("docker.ip_tables"), None);
    f.t.write("root/proc/sys/net/ipv4/ping_group_range", "1\t0\n");
    f.t.write("root/proc/modules", "");
    assert_eq!(f.level("docker.ping").as_deref(), Some("warning"));
    assert_eq!(f.level("docker.ip_tables").as_deref(), Some("warning"));
    f.t.write(
        "root/lib/modules/6.1.0/modules.builtin",
        "kernel/net/ipv4/netfilter/ip_tables.ko\n",
    );
    assert_eq!(f.level("docker.ip_tables"), None);
}

/// Run `cmd` for at most `limit`; its exit code (`None`: killed at the limit) and stdout.
fn timed(mut cmd: Command, limit: std::time::Duration) -> (Option<i32>, String) {
    use std::io::Read;
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut out = String::new();
    if code.is_some() {
        let _ = child.stdout.take().unwrap().read_to_string(&mut out);
    }
    (code, out)
}

/// Audit N6: a FIFO at `docker.service.d/50-rootlet.conf` hung `doctor` and `docker status`
/// forever (a blocking open), and a symlink there to `/dev/zero` was read until memory ran
/// out. Both are now "not rootlet's drop-in", at once.
#[test]
fn n6_a_fifo_or_dev_zero_at_the_dropin_neither_hangs_nor_reads_forever() {
    let f = Fake::new();
    f.docker_unit("/usr/bin/dockerd-rootless.sh", "");
    let dropin =
        f.t.join("home/.config/systemd/user/docker.service.d/50-rootlet.conf");
    std::fs::create_dir_all(dropin.parent().unwrap()).unwrap();
    let limit = std::time::Duration::from_secs(60);
    for what in ["fifo", "/dev/zero"] {
        let _ = std::fs::remove_file(&dropin);
        if what == "fifo" {
            assert!(Command::new("mkfifo")
                .arg(&dropin)
                .status()
                .unwrap()
                .success());
        } else {
            std::os::unix::fs::symlink(what, &dropin).unwrap();
        }
        for args in [&["doctor", "--json"][..], &["docker", "status"]] {
            let mut c = Command::new(util::bin("rootlet"));
            c.args(args)
                .env_clear()
                .envs(f.env.iter().map(|(k, v)| (k, v)));
            let (code, out) = timed(c, limit);
            assert!(
                code.is_some(),
                "{what}: rootlet {args:?} still running after 60 s"
            );
            assert!(
                matches!(code, Some(0 | 1)),
                "{what}: {args:?}: {code:?} {out}"
            );
        }
        let docker_wait = f.findings().into_iter().find(|x| x.0 == "docker.wait");
        assert!(
            docker_wait.as_ref().is_some_and(|x| x.1 != "ok"),
            "{what}: {docker_wait:?}"
        );
    }
}

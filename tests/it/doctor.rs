//! `rootlet doctor` against fake root trees (`ROOTLET_DOCTOR_ROOT`), one per way a rootless
//! setup breaks, and once against the real machine.

use crate::util;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::Command;

/// A scratch directory holding `root/` (the fake system), `home/`, `run/` (the runtime
/// directory, with listening `bus` and `systemd/private`) and `bin/` (PATH).
struct Sandbox {
    dir: PathBuf,
    uid: u32,
    _listeners: Vec<UnixListener>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

const USER: &str = "alice";

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        // Short: socket paths must stay under 108 bytes.
        let dir = std::env::temp_dir().join(format!("rd-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        // The runtime directory must belong to the checked uid; root checking uid 0 would
        // (rightly) get a warning, so as root the sandbox is for uid 4242.
        let mut uid = fs::metadata(&dir).unwrap().uid();
        if uid == 0 {
            uid = 4242;
        }
        let mut s = Sandbox {
            dir,
            uid,
            _listeners: Vec::new(),
        };
        s.healthy();
        s
    }

    fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    fn write(&self, rel: &str, text: &str) -> &Self {
        let p = self.dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
        self
    }

    /// A file under the fake root.
    fn sys(&self, rel: &str, text: &str) -> &Self {
        self.write(&format!("root/{}", rel.trim_start_matches('/')), text)
    }

    fn remove(&self, rel: &str) {
        let p = self.dir.join(rel);
        if p.is_dir() {
            fs::remove_dir_all(p).unwrap();
        } else {
            fs::remove_file(p).unwrap();
        }
    }

    fn exe(&self, rel: &str, text: &str, mode: u32) {
        util::write_program(&self.dir.join(rel), text, mode);
    }

    fn symlink(&self, target: &str, rel: &str) {
        let p = self.dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = fs::remove_file(&p);
        std::os::unix::fs::symlink(target, p).unwrap();
    }

    fn socket(&mut self, rel: &str) {
        let p = self.dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        self._listeners.push(UnixListener::bind(p).unwrap());
    }

    /// Everything in order.
    fn healthy(&mut self) {
        let u = self.uid;
        self.sys(
            "/etc/passwd",
            &format!("root:x:0:0:root:/root:/bin/sh\n{USER}:x:{u}:{u}::/home/{USER}:/bin/sh\n"),
        )
        .sys(&format!("/var/lib/systemd/linger/{USER}"), "")
        .sys("/etc/subuid", &format!("{USER}:100000:65536\n"))
        .sys("/etc/subgid", &format!("{USER}:100000:65536\n"))
        .sys("/proc/sys/kernel/unprivileged_userns_clone", "1\n")
        .sys("/proc/sys/user/max_user_namespaces", "63432\n")
        .sys("/proc/sys/net/ipv4/ip_unprivileged_port_start", "1024\n")
        .sys("/proc/filesystems", "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n")
        .sys(
            "/sys/fs/cgroup/cgroup.controllers",
            "cpuset cpu io memory hugetlb pids rdma misc\n",
        )
        .sys(
            &format!("/sys/fs/cgroup/user.slice/user-{u}.slice/user@{u}.service/cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .sys(
            "/lib/systemd/system/docker.service",
            "[Unit]\nAfter=network-online.target\nWants=network-online.target containerd.service\n[Service]\nExecStart=/usr/bin/dockerd\n",
        )
        .sys(
            "/usr/local/lib/systemd/user/rootlet-wait-online.service",
            "[Unit]\nDescription=Wait\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/rootlet-wait-online\n",
        )
        .write(
            "home/.config/containers/systemd/web.container",
            "[Container]\nImage=localhost/web\nPublishPort=8080:80\nPublishPort=127.0.0.1::53\n",
        );
        self.symlink(
            "/lib/systemd/system/docker.service",
            "root/etc/systemd/system/multi-user.target.wants/docker.service",
        );
        self.exe(
            "root/usr/local/lib/systemd/user-generators/rootlet-user-generator",
            "#!/bin/sh\n",
            0o755,
        );
        self.exe(
            "root/usr/local/bin/rootlet-wait-online",
            "#!/bin/sh\n",
            0o755,
        );
        self.exe("bin/newuidmap", "#!/bin/sh\n", 0o4755);
        self.exe("bin/newgidmap", "#!/bin/sh\n", 0o4755);
        self.exe(
            "bin/podman",
            "#!/bin/sh\n[ \"$1\" = --version ] && echo 'podman version 5.4.2'\n",
            0o755,
        );
        self.exe("bin/pasta", "#!/bin/sh\n", 0o755);
        fs::create_dir_all(self.dir.join("run")).unwrap();
        fs::set_permissions(self.dir.join("run"), fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(self.dir.join("run"), Some(self.uid), None).unwrap();
        self.socket("run/bus");
        self.socket("run/systemd/private");
    }

    fn command(&self, json: bool) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rootlet"));
        c.arg("doctor");
        if json {
            c.arg("--json");
        }
        c.env("ROOTLET_DOCTOR_ROOT", self.root())
            .env("ROOTLET_DOCTOR_USER", USER)
            .env("ROOTLET_DOCTOR_UID", self.uid.to_string())
            .env("HOME", self.dir.join("home"))
            .env("XDG_RUNTIME_DIR", self.dir.join("run"))
            .env("PATH", self.dir.join("bin"))
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("ROOTLET_UNIT_DIRS")
            .env_remove("PODMAN");
        c
    }

    /// Run `rootlet doctor --json` and `rootlet doctor`; check both agree; the findings.
    fn run_with(&self, adjust: impl Fn(&mut Command)) -> Report {
        let mut c = self.command(true);
        adjust(&mut c);
        let out = output_within(c);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        let json = String::from_utf8(out.stdout).unwrap();
        let findings = parse_json(&json).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{json}"));
        python_json_check(&json);
        let mut c = self.command(false);
        adjust(&mut c);
        let text_out = output_within(c);
        let text = String::from_utf8(text_out.stdout).unwrap();
        assert_eq!(out.status.code(), text_out.status.code(), "{text}");
        for f in &findings {
            let line = format!("{}: {} [{}]\n", f["level"], f["summary"], f["id"]);
            assert!(text.contains(&line), "missing {line:?} in\n{text}");
        }
        Report {
            code: out.status.code(),
            findings,
            text,
        }
    }

    fn run(&self) -> Report {
        self.run_with(|_| {})
    }
}

/// The longest one doctor run may take here: a hang fails the test, it does not hold it.
const RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// `c`'s output, or a failed test when it has not finished within [`RUN_LIMIT`].
fn output_within(mut c: Command) -> std::process::Output {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("doctor did not finish within {RUN_LIMIT:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

type Obj = BTreeMap<String, String>;

struct Report {
    code: Option<i32>,
    findings: Vec<Obj>,
    text: String,
}

impl Report {
    fn all(&self, id: &str) -> Vec<&Obj> {
        self.findings.iter().filter(|f| f["id"] == id).collect()
    }

    /// The single finding `id`, checked to be at `level`.
    fn get(&self, id: &str, level: &str) -> &Obj {
        let v = self.all(id);
        assert_eq!(v.len(), 1, "{id}: {:?}\n{}", v, self.text);
        assert_eq!(v[0]["level"], level, "{id}: {:?}\n{}", v[0], self.text);
        v[0]
    }

    fn errors(&self) -> Vec<&Obj> {
        self.findings
            .iter()
            .filter(|f| f["level"] == "error")
            .collect()
    }
}

/// `rootlet doctor --json`: an array of flat objects of strings and nulls (null -> "").
fn parse_json(s: &str) -> Result<Vec<Obj>, String> {
    let v: Vec<BTreeMap<String, Option<String>>> =
        serde_json::from_str(s).map_err(|e| e.to_string())?;
    Ok(v.into_iter()
        .map(|o| {
            o.into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect()
        })
        .collect())
}

/// Cross-check with Python's JSON parser where Python exists.
fn python_json_check(json: &str) {
    use std::io::Write;
    let Ok(mut child) = Command::new("python3")
        .args(["-c", "import json,sys; json.load(sys.stdin)"])
        .stdin(std::process::Stdio::piped())
        .spawn()
    else {
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "python rejects:\n{json}");
}

const ALL_IDS: &[&str] = &[
    "session.user",
    "session.runtime-dir",
    "session.manager",
    "session.bus",
    "linger",
    "subid.subuid",
    "subid.subgid",
    "subid.newuidmap",
    "subid.newgidmap",
    "userns.clone",
    "userns.max",
    "userns.apparmor",
    "cgroup.v2",
    "cgroup.delegation",
    "ports.privileged",
    "runtime.podman",
    "runtime.network",
    "runtime.pasta-apparmor",
    "runtime.storage",
    "runtime.overlay",
    "network-online",
    "rootlet.generator",
    "rootlet.wait-unit",
    "rootlet.sources",
];

#[test]
fn healthy_system() {
    let s = Sandbox::new("healthy");
    let r = s.run();
    let ids: Vec<&str> = r.findings.iter().map(|f| f["id"].as_str()).collect();
    assert_eq!(ids, ALL_IDS, "{}", r.text);
    assert!(
        r.findings
            .iter()
            .all(|f| f["level"] == "ok" && f["fix"].is_empty()),
        "{}",
        r.text
    );
    assert_eq!(r.code, Some(0));
    assert!(r.get("runtime.podman", "ok")["summary"].contains("5.4.2"));
    assert!(r.get("network-online", "ok")["summary"].contains("docker.service"));
    assert!(r.get("rootlet.sources", "ok")["summary"].contains("1 unit(s)"));
    assert!(r.get("rootlet.generator", "ok")["summary"]
        .contains("/usr/local/lib/systemd/user-generators/rootlet-user-generator"));
    assert!(r
        .text
        .ends_with(&format!("{} ok, 0 warning(s), 0 error(s)\n", ALL_IDS.len())));
}

#[test]
fn missing_subuid() {
    let s = Sandbox::new("subuid");
    s.sys("/etc/subuid", "bob:100000:65536\n");
    s.sys(
        "/etc/subgid",
        &format!("{USER}:200000:1000\nbob:100000:65536\n"),
    );
    let r = s.run();
    assert_eq!(r.code, Some(1));
    let f = r.get("subid.subuid", "error");
    assert!(f["summary"].contains("no range for alice"), "{f:?}");
    assert!(
        f["fix"].contains("sudo usermod --add-subuids 165536-231071 alice"),
        "{f:?}"
    );
    let f = r.get("subid.subgid", "warning");
    assert!(f["summary"].contains("only 1000"), "{f:?}");
    assert!(
        f["fix"].contains("sudo usermod --add-subgids 201000-266535 alice"),
        "{f:?}"
    );
    assert_eq!(r.errors().len(), 1, "{}", r.text);
    assert!(r
        .text
        .contains("\n    sudo usermod --add-subuids 165536-231071 alice\n"));

    // By uid works as well as by name; a missing file is an error.
    s.sys("/etc/subuid", &format!("{}:100000:65536\n", s.uid));
    s.remove("root/etc/subgid");
    let r = s.run();
    r.get("subid.subuid", "ok");
    let f = r.get("subid.subgid", "error");
    assert!(f["summary"].contains("/etc/subgid is missing"), "{f:?}");
}

#[test]
fn newuidmap_not_setuid() {
    let s = Sandbox::new("uidmap");
    s.exe("bin/newuidmap", "#!/bin/sh\n", 0o755);
    s.remove("bin/newgidmap");
    let r = s.run();
    assert_eq!(r.code, Some(1));
    let f = r.get("subid.newuidmap", "error");
    assert!(f["fix"].contains("sudo setcap cap_setuid=ep"), "{f:?}");
    let f = r.get("subid.newgidmap", "error");
    assert!(f["fix"].contains("sudo apt install uidmap"), "{f:?}");
}

#[test]
fn userns_disabled() {
    let s = Sandbox::new("userns");
    s.sys("/proc/sys/kernel/unprivileged_userns_clone", "0\n")
        .sys("/proc/sys/user/max_user_namespaces", "0\n");
    let r = s.run();
    assert_eq!(r.code, Some(1));
    let f = r.get("userns.clone", "error");
    assert!(
        f["fix"].contains("echo 'kernel.unprivileged_userns_clone=1' | sudo tee /etc/sysctl.d/")
    );
    assert!(f["fix"].contains("sudo sysctl --system"));
    let f = r.get("userns.max", "error");
    assert!(f["fix"].contains("user.max_user_namespaces=28633"));
    assert_eq!(r.errors().len(), 2, "{}", r.text);
}

#[test]
fn ubuntu_apparmor_restriction() {
    let s = Sandbox::new("apparmor");
    s.remove("root/proc/sys/kernel/unprivileged_userns_clone");
    s.sys(
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
        "1\n",
    )
    .sys(
        "/etc/apparmor.d/firefox",
        "profile firefox /usr/lib/firefox/firefox flags=(unconfined) {\n  userns,\n}\n",
    );
    let r = s.run();
    assert_eq!(r.code, Some(1));
    let f = r.get("userns.apparmor", "error");
    assert!(f["summary"].contains("Ubuntu 24.04"), "{f:?}");
    assert!(f["fix"].contains("create /etc/apparmor.d/podman"), "{f:?}");
    assert!(f["fix"].contains("profile podman "), "{f:?}");
    assert!(f["fix"].contains("  userns,"), "{f:?}");
    assert!(
        f["fix"].contains("sudo apparmor_parser -r /etc/apparmor.d/podman"),
        "{f:?}"
    );
    r.get("userns.clone", "ok");

    // Ubuntu's own profile for podman lifts it.
    s.sys(
        "/etc/apparmor.d/podman",
        "abi <abi/4.0>,\ninclude <tunables/global>\nprofile podman /usr/bin/podman flags=(unconfined) {\n  userns,\n}\n",
    );
    let r = s.run();
    assert!(r.get("userns.apparmor", "ok")["summary"].contains("/etc/apparmor.d/podman"));
    assert_eq!(r.code, Some(0), "{}", r.text);
}

#[test]
fn no_linger() {
    let s = Sandbox::new("linger");
    s.remove("root/var/lib/systemd/linger");
    let r = s.run();
    let f = r.get("linger", "warning");
    assert_eq!(f["fix"], "sudo loginctl enable-linger alice");
    assert_eq!(r.code, Some(0), "warnings alone succeed");
}

#[test]
fn cgroup_controllers_missing() {
    let s = Sandbox::new("cgroup");
    let u = s.uid;
    s.sys(
        &format!("/sys/fs/cgroup/user.slice/user-{u}.slice/user@{u}.service/cgroup.controllers"),
        "memory pids\n",
    );
    let r = s.run();
    let f = r.get("cgroup.delegation", "warning");
    assert!(f["summary"].contains("not delegated"), "{f:?}");
    assert!(f["summary"].contains("cpu io"), "{f:?}");
    assert!(f["fix"].contains("/etc/systemd/system/user@.service.d/delegate.conf"));
    assert!(f["fix"].contains("Delegate=cpu cpuset io memory pids"));
    assert!(f["fix"].contains("sudo systemctl daemon-reload"));

    // cgroup v1: no cgroup.controllers at the top.
    s.remove("root/sys/fs/cgroup");
    let r = s.run();
    let f = r.get("cgroup.v2", "warning");
    assert!(f["fix"].contains("systemd.unified_cgroup_hierarchy=1"));
    assert!(r.all("cgroup.delegation").is_empty());
}

/// New-user review P6: the advice fits the machine. A drop-in already in place is not
/// offered again; controllers the root cgroup does not have cannot be delegated at all.
#[test]
fn cgroup_advice_fits_the_machine() {
    let s = Sandbox::new("cgroup-advice");
    let u = s.uid;
    let user =
        format!("/sys/fs/cgroup/user.slice/user-{u}.slice/user@{u}.service/cgroup.controllers");
    s.sys(&user, "cpu memory pids\n");
    // Debian 12's user@.service delegates cpu memory pids: io is missing, the root has it.
    let f = s.run().get("cgroup.delegation", "warning").clone();
    assert!(f["summary"].contains(": io ("), "{f:?}");
    assert!(
        f["fix"].contains("Delegate=cpu cpuset io memory pids"),
        "{f:?}"
    );
    // A lingering manager outlives a logout: the fix restarts it.
    assert!(
        f["fix"].contains(&format!("sudo systemctl restart user@{u}.service")),
        "{f:?}"
    );
    assert!(!f["fix"].contains("log out"), "{f:?}");

    // The drop-in is there (the fix applied, the user manager not restarted yet).
    s.sys(
        "/etc/systemd/system/user@.service.d/delegate.conf",
        "[Service]\nDelegate=cpu cpuset io memory pids\n",
    );
    let f = s.run().get("cgroup.delegation", "warning").clone();
    assert!(
        !f["fix"].contains("sudo tee"),
        "the applied fix again: {f:?}"
    );
    assert!(
        f["fix"].contains("/etc/systemd/system/user@.service.d/delegate.conf already delegates io"),
        "{f:?}"
    );
    assert!(
        f["fix"].contains(&format!("sudo systemctl restart user@{u}.service")),
        "{f:?}"
    );

    // A drop-in that asks for too little is named, with the line to write.
    s.sys(
        "/etc/systemd/system/user@.service.d/delegate.conf",
        "[Service]\nDelegate=cpu memory\n",
    );
    let f = s.run().get("cgroup.delegation", "warning").clone();
    assert!(f["fix"].contains("delegates only cpu memory"), "{f:?}");

    // The root cgroup has no controllers (the review's sandbox: a cgroup2 mount on a
    // hybrid host): no drop-in can help, and none is suggested.
    s.sys("/sys/fs/cgroup/cgroup.controllers", "\n");
    s.sys(&user, "\n");
    let r = s.run();
    let f = r.get("cgroup.delegation", "warning");
    assert!(
        f["fix"].contains("the root cgroup offers no cpu memory pids io controller"),
        "{f:?}"
    );
    assert!(f["fix"].contains("nothing to delegate"), "{f:?}");
    assert!(!f["fix"].contains("Delegate=cpu"), "{f:?}");
    assert!(!f["fix"].contains("restart user@"), "{f:?}");
    // The root offers all but io: only io is beyond any drop-in.
    s.sys("/sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
    let r = s.run();
    let f = r.get("cgroup.delegation", "warning");
    assert!(f["fix"].contains("offers no io controller"), "{f:?}");
    assert!(f["fix"].contains("leave --blkio-weight out"), "{f:?}");
    // ... and the drop-in, asking for too little, is still named for cpu memory pids.
    assert!(f["fix"].contains("delegates only cpu memory"), "{f:?}");
}

#[test]
fn privileged_ports_of_kube_files() {
    let s = Sandbox::new("kube-ports");
    s.write(
        "home/.config/containers/systemd/pod.kube",
        "[Kube]\nYaml=pod.yml\nPublishPort=127.0.0.1:80:8080\nPublishPort=8080:8080\n",
    );
    let r = s.run();
    assert_eq!(r.code, Some(1));
    let v = r.all("ports.privileged");
    assert_eq!(v.len(), 1, "{}", r.text);
    assert!(
        v[0]["summary"].contains("pod.kube:3: PublishPort=127.0.0.1:80:8080 binds port 80"),
        "{:?}",
        v[0]
    );
    assert!(v[0]["summary"].contains("rootless podman cannot bind it"));
    assert!(
        v[0]["fix"].contains("or publish it from port 1024 on"),
        "{:?}",
        v[0]
    );
}

#[test]
fn privileged_ports() {
    let s = Sandbox::new("ports");
    s.write(
        "home/.config/containers/systemd/web.container",
        "[Container]\nImage=localhost/web\nPublishPort=80:80\nPublishPort=8443:443\n",
    )
    .write(
        "home/.config/containers/systemd/proxy.socket",
        "[Socket]\nListenStream=/run/user/1/proxy.sock\nListenStream=[::]:443\nListenDatagram=0.0.0.0:5353\n",
    )
    .write(
        "home/.config/containers/systemd/proxy.container",
        "[Container]\nImage=localhost/proxy\n",
    )
    .write(
        "home/.config/containers/systemd/dns.container",
        "[Container]\nImage=localhost/dns\nPublishPort=[::1]:53:53/udp\n",
    )
    // A drop-in that resets the list drops the low port.
    .write(
        "home/.config/containers/systemd/dns.container.d/10-ports.conf",
        "[Container]\nPublishPort=\nPublishPort=127.0.0.1:5353:53/udp\n",
    );
    let r = s.run();
    assert_eq!(r.code, Some(1));
    let v = r.all("ports.privileged");
    assert_eq!(v.len(), 2, "{}", r.text);
    assert!(v.iter().all(|f| f["level"] == "error"));
    let web = v
        .iter()
        .find(|f| f["summary"].contains("web.container:3:"))
        .unwrap();
    assert!(
        web["summary"].contains("PublishPort=80:80 binds port 80"),
        "{web:?}"
    );
    assert!(
        web["summary"].contains("ip_unprivileged_port_start=1024"),
        "{web:?}"
    );
    let sock = v
        .iter()
        .find(|f| f["summary"].contains("proxy.socket:3:"))
        .unwrap();
    assert!(
        sock["summary"].contains("ListenStream=[::]:443 binds port 443"),
        "{sock:?}"
    );
    for f in &v {
        assert!(
            f["fix"].contains("echo 'net.ipv4.ip_unprivileged_port_start=80' | sudo tee /etc/sysctl.d/90-rootlet-ports.conf"),
            "{f:?}"
        );
        assert!(f["fix"].contains("User=alice"), "{f:?}");
    }
    assert!(sock["fix"].contains("/etc/systemd/system/proxy.socket"));
    assert!(web["fix"].contains("/etc/systemd/system/web.socket with ListenStream=80"));

    // Allowed by the sysctl: fine.
    s.sys("/proc/sys/net/ipv4/ip_unprivileged_port_start", "80\n");
    let r = s.run();
    assert!(r.get("ports.privileged", "ok")["summary"].contains("among 5"));
}

#[test]
fn network_online_never_pulled_in() {
    let s = Sandbox::new("netonline");
    s.remove("root/etc/systemd/system/multi-user.target.wants");
    // New-user review P19: without podman's quadlet (podman 4.3.1 has none) nothing hangs
    // 90 s, and nothing is warned about.
    let r = s.run();
    let f = r.get("network-online", "ok");
    assert!(f["summary"].contains("route check"), "{f:?}");
    assert!(!r.text.contains("90 s"), "{}", r.text);
    // Masked for the user: the same.
    s.symlink(
        "/dev/null",
        "home/.config/systemd/user-generators/podman-user-generator",
    );
    s.write(
        "root/usr/lib/systemd/user-generators/podman-user-generator",
        "#!/bin/sh\n",
    );
    s.run().get("network-online", "ok");
    s.remove("home/.config/systemd/user-generators");
    // With quadlet, its wait unit would hang 90 s at every boot.
    let r = s.run();
    let f = r.get("network-online", "warning");
    assert!(f["summary"].contains("route check"), "{f:?}");
    assert!(f["summary"].contains("hang 90 s"), "{f:?}");
    assert!(f["fix"].contains("sudo systemctl add-wants multi-user.target network-online.target"));
    assert_eq!(r.code, Some(0));

    // A .wants link to the target itself counts.
    s.symlink(
        "/lib/systemd/system/network-online.target",
        "root/usr/lib/systemd/system/remote-fs.target.wants/network-online.target",
    );
    let r = s.run();
    assert!(r.get("network-online", "ok")["summary"].contains("remote-fs.target"));
}

#[test]
fn invalid_source_file() {
    let s = Sandbox::new("invalid");
    s.write(
        "home/.config/containers/systemd/bad.container",
        "[Container]\nImage=localhost/bad\nPublishPorts=8080:80\n",
    );
    let r = s.run();
    assert_eq!(r.code, Some(1));
    let f = r.get("rootlet.sources", "error");
    assert!(f["summary"].contains("bad.container:3:"), "{f:?}");
    assert!(f["summary"].contains("PublishPort"), "{f:?}");
    assert!(f["fix"].contains("line 3 of "), "{f:?}");
    // New-user review P21: check shows one problem per file, and the fix says so.
    assert!(
        f["fix"].ends_with("then rootlet check again (it lists every problem of each file)"),
        "{f:?}"
    );
}

#[test]
fn no_user_session() {
    let s = Sandbox::new("session");
    s.sys(&format!("/run/user/{}/x", s.uid), "");
    let r = s.run_with(|c| {
        c.env_remove("XDG_RUNTIME_DIR");
    });
    assert_eq!(r.code, Some(1));
    let f = r.get("session.runtime-dir", "error");
    assert!(f["summary"].contains("sudo su"), "{f:?}");
    assert!(f["fix"].contains("machinectl shell alice@"), "{f:?}");
    assert!(f["fix"].contains("ssh alice@localhost"), "{f:?}");
    assert!(r.all("session.bus").is_empty());

    // A manager but no bus: dbus-user-session is missing.
    s.remove("run/bus");
    let r = s.run();
    r.get("session.manager", "ok");
    let f = r.get("session.bus", "error");
    assert!(
        f["fix"].contains("sudo apt install dbus-user-session"),
        "{f:?}"
    );

    // Neither (a stale runtime dir without a manager).
    s.remove("run/systemd");
    let r = s.run();
    let f = r.get("session.manager", "error");
    assert!(f["fix"].contains("machinectl shell alice@"), "{f:?}");
    r.get("session.bus", "error");
}

#[test]
fn container_runtime() {
    let s = Sandbox::new("runtime");
    s.remove("bin/podman");
    s.remove("bin/pasta");
    let r = s.run();
    assert_eq!(r.code, Some(1));
    assert!(r.get("runtime.podman", "error")["fix"].contains("sudo apt install podman"));
    assert!(r.get("runtime.network", "error")["fix"].contains("sudo apt install passt"));
    assert!(r.all("runtime.pasta-apparmor").is_empty());

    // pasta as a symlink under AppArmor: the known Debian problem.
    s.exe(
        "bin/podman",
        "#!/bin/sh\necho 'podman version 5.4.2'\n",
        0o755,
    );
    s.exe("bin/passt", "#!/bin/sh\n", 0o755);
    s.symlink("passt", "bin/pasta");
    s.sys("/sys/module/apparmor/parameters/enabled", "Y\n");
    s.remove("root/proc/filesystems");
    let r = s.run();
    r.get("runtime.network", "ok");
    let f = r.get("runtime.pasta-apparmor", "warning");
    assert!(f["fix"].contains("sudo ln -f "), "{f:?}");
    assert!(f["fix"].contains("/bin/passt "), "{f:?}");
    let f = r.get("runtime.overlay", "warning");
    assert!(f["fix"].contains("fuse-overlayfs"), "{f:?}");
    assert_eq!(r.code, Some(0), "{}", r.text);

    // New-user review P2: podman 4.3.1 (Debian 12) has no pasta: pasta alone is no
    // network there, and the fix is slirp4netns, not passt.
    s.exe(
        "bin/podman",
        "#!/bin/sh\necho 'podman version 4.3.1'\n",
        0o755,
    );
    let r = s.run();
    let f = r.get("runtime.network", "error");
    assert!(
        f["summary"].contains("podman 4.3 cannot use it (Network=pasta needs podman 4.4 or newer)"),
        "{f:?}"
    );
    assert_eq!(f["fix"], "sudo apt install slirp4netns", "{f:?}");
    assert!(r.all("runtime.pasta-apparmor").is_empty(), "{}", r.text);
    s.exe("bin/slirp4netns", "#!/bin/sh\n", 0o755);
    let f = s.run().get("runtime.network", "ok").clone();
    assert!(f["summary"].starts_with("slirp4netns ("), "{f:?}");
    assert!(f["summary"].contains("podman 4.3 cannot use it"), "{f:?}");
    s.remove("bin/slirp4netns");

    // podman that fails.
    s.exe("bin/podman", "#!/bin/sh\nexit 3\n", 0o755);
    let r = s.run();
    assert!(r.get("runtime.podman", "error")["summary"].contains("--version failed"));
}

#[test]
fn rootlet_not_installed() {
    let s = Sandbox::new("install");
    s.remove("root/usr/local/lib/systemd/user-generators");
    s.remove("root/usr/local/bin/rootlet-wait-online");
    let r = s.run();
    assert_eq!(r.code, Some(1));
    let f = r.get("rootlet.generator", "error");
    assert!(f["fix"].contains(
        "sudo install -Dm755 target/release/rootlet-user-generator /usr/local/lib/systemd/user-generators/rootlet-user-generator"
    ));
    let f = r.get("rootlet.wait-unit", "error");
    assert!(
        f["summary"].contains("/usr/local/bin/rootlet-wait-online"),
        "{f:?}"
    );

    // Masked generator; wait unit in the user's own directory.
    s.symlink(
        "/dev/null",
        "root/etc/systemd/user-generators/rootlet-user-generator",
    );
    s.remove("root/usr/local/lib/systemd/user");
    s.write(
        "home/.config/systemd/user/rootlet-wait-online.service",
        "[Service]\nExecStart=/bin/true\n",
    );
    s.exe("root/bin/true", "", 0o755);
    let r = s.run();
    assert!(r.get("rootlet.generator", "error")["summary"].contains("masks"));
    assert!(r.get("rootlet.wait-unit", "ok")["summary"].contains(".config/systemd/user"));
}

#[test]
fn quadlet_generator_beside_ours_and_no_root_install() {
    let s = Sandbox::new("quadlet");
    s.write(
        "root/usr/lib/systemd/user-generators/podman-user-generator",
        "#!/bin/sh\n",
    );
    let r = s.run();
    let f = r.get("rootlet.quadlet", "warning");
    assert!(
        f["fix"]
            .contains("ln -s /dev/null ~/.config/systemd/user-generators/podman-user-generator"),
        "{f:?}"
    );
    s.symlink(
        "/dev/null",
        "home/.config/systemd/user-generators/podman-user-generator",
    );
    r_ok(&s.run(), "rootlet.quadlet");

    // Without a generator, the no-root install's path unit counts.
    s.remove("root/usr/local/lib/systemd/user-generators");
    let r = s.run();
    assert!(r.get("rootlet.generator", "error")["fix"].contains("rootlet install --user"));
    s.write(
        "home/.config/systemd/user/rootlet-regenerate.path",
        "[Path]\n",
    );
    r_ok(&s.run(), "rootlet.generator");
}

#[test]
fn dangling_enable_links() {
    let s = Sandbox::new("enable");
    let unit = s.dir.join("home/.local/share/systemd/user/web.service");
    s.symlink(
        unit.to_str().unwrap(),
        "home/.config/systemd/user/default.target.wants/web.service",
    );
    let r = s.run();
    let f = r.get("rootlet.enable-links", "warning");
    assert!(
        f["fix"] == "systemctl --user disable -- web.service"
            && f["summary"].contains("default.target.wants/web.service ->"),
        "{f:?}"
    );
    // The unit there again: nothing to say.
    s.write("home/.local/share/systemd/user/web.service", "[Service]\n");
    assert!(s.run().all("rootlet.enable-links").is_empty());
}

fn r_ok(r: &Report, id: &str) {
    r.get(id, "ok");
}

#[test]
fn bad_override_is_a_usage_error() {
    let s = Sandbox::new("override");
    let out = s
        .command(false)
        .env("ROOTLET_DOCTOR_UID", "alice")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ROOTLET_DOCTOR_UID"));
    let out = s
        .command(false)
        .env("ROOTLET_DOCTOR_ROOT", "relative")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn garbage_tree_does_not_crash() {
    let s = Sandbox::new("garbage");
    let u = s.uid;
    for (p, t) in [
        (
            "/etc/subuid",
            "alice:x:y\n::::\nalice:99999999999999999999:1\nalice:1:18446744073709551615\n",
        ),
        ("/etc/passwd", "\0\0\n:::::::\n"),
        ("/proc/sys/user/max_user_namespaces", "\u{fffd}"),
        ("/proc/sys/net/ipv4/ip_unprivileged_port_start", "-1\n"),
        (
            &format!(
                "/sys/fs/cgroup/user.slice/user-{u}.slice/user@{u}.service/cgroup.controllers"
            ),
            "",
        ),
    ] {
        s.sys(p, t);
    }
    s.write(
        "home/.config/containers/systemd/x.container",
        "[Container]\nPublishPort=[:\nPublishPort=::::\nPublishPort=65535-0:1\n",
    )
    .write(
        "home/.config/containers/systemd/y.socket",
        "\u{feff}[Socket\n",
    );
    fs::write(
        s.dir.join("home/.config/containers/systemd/z.socket"),
        b"[Socket]\nListenStream=\xff\xfe\n",
    )
    .unwrap();
    s.symlink(
        "loop",
        "root/etc/systemd/system/multi-user.target.wants/loop",
    );
    let r = s.run();
    assert_eq!(r.code, Some(1));
    assert!(!r.findings.is_empty());
}

#[test]
fn real_machine() {
    let out = Command::new(env!("CARGO_BIN_EXE_rootlet"))
        .args(["doctor", "--json"])
        .env_remove("ROOTLET_DOCTOR_ROOT")
        .env_remove("ROOTLET_DOCTOR_USER")
        .env_remove("ROOTLET_DOCTOR_UID")
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let json = String::from_utf8(out.stdout).unwrap();
    let findings = parse_json(&json).unwrap();
    python_json_check(&json);
    assert!(findings.len() >= 10, "{json}");
    let out = Command::new(env!("CARGO_BIN_EXE_rootlet"))
        .arg("doctor")
        .env_remove("ROOTLET_DOCTOR_ROOT")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(" ok, "), "{text}");
}

#[test]
fn e2e_hook_script() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/doctor-fixtures/expect-ok.sh"
    );
    let s = Sandbox::new("hook");
    s.remove("root/var/lib/systemd/linger");
    let run = |ids: &[&str]| {
        let mut c = s.command(false);
        let prog = c.get_program().to_owned();
        let envs: Vec<_> = c
            .get_envs()
            .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
            .collect();
        c = Command::new("/bin/sh");
        c.arg(script).arg(prog).args(ids);
        for (k, v) in envs {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.output().unwrap()
    };
    let out = run(&["session.manager", "session.bus", "rootlet.generator"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = run(&["session.manager", "linger", "no.such-id"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("linger is not ok"), "{err}");
    assert!(err.contains("\"level\": \"warning\""), "{err}");
    assert!(err.contains("no finding no.such-id"), "{err}");
}

/// Audit H3: a `podman --version` that leaves a background child holding its stdout held
/// doctor until that child exited (25 s with `sleep 25`), past doctor's 10 s limit.
#[test]
fn a_lingering_child_of_podman_does_not_hold_doctor() {
    let s = Sandbox::new("linger");
    let pidfile = s.dir.join("bg.pid");
    s.exe(
        "bin/podman",
        &format!(
            "#!/bin/sh\n( exec sleep 120 ) &\necho $! >> {}\necho 'podman version 5.4.2'\n",
            pidfile.display()
        ),
        0o755,
    );
    let t0 = std::time::Instant::now();
    let r = s.run();
    let took = t0.elapsed();
    for pid in fs::read_to_string(&pidfile).unwrap_or_default().lines() {
        if let Some(pid) = pid
            .trim()
            .parse()
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
    // Two doctor runs (JSON and text); each used to wait for the 120 s child.
    assert!(took.as_secs() < 60, "took {took:?}");
    assert!(
        r.get("runtime.podman", "ok")["summary"].contains("5.4.2"),
        "{}",
        r.text
    );
}

/// Audit H3: masked units (a link to /dev/null, an empty file) load nothing, so they
/// pull nothing in.
#[test]
fn masked_units_do_not_pull_network_online_in() {
    let s = Sandbox::new("masked");
    // (the warnings below are about quadlet's wait unit: quadlet installed)
    s.write(
        "root/usr/lib/systemd/user-generators/podman-user-generator",
        "#!/bin/sh\n",
    );
    s.run().get("network-online", "ok");
    // docker.service (the healthy sandbox's puller) masked.
    s.symlink("/dev/null", "root/etc/systemd/system/docker.service");
    let r = s.run();
    assert!(
        r.get("network-online", "warning")["summary"].contains("nothing pulls"),
        "{}",
        r.text
    );
    // A .wants link of a unit that is masked by an empty file.
    s.symlink(
        "/lib/systemd/system/network-online.target",
        "root/usr/lib/systemd/system/remote-fs.target.wants/network-online.target",
    );
    s.sys("/etc/systemd/system/remote-fs.target", "");
    r_warning(&s.run());
    s.remove("root/etc/systemd/system/remote-fs.target");
    assert!(s.run().get("network-online", "ok")["summary"].contains("remote-fs.target"));
    // The target itself masked.
    s.symlink("/dev/null", "root/etc/systemd/system/network-online.target");
    let r = s.run();
    assert!(
        r.get("network-online", "warning")["summary"].contains("is masked"),
        "{}",
        r.text
    );
}

fn r_warning(r: &Report) {
    r.get("network-online", "warning");
}

/// Audit H1: a FIFO among the sources' drop-ins must not hang doctor.
#[test]
fn a_fifo_drop_in_does_not_hang_doctor() {
    let s = Sandbox::new("fifo");
    let p = s
        .dir
        .join("home/.config/containers/systemd/web.container.d/10.conf");
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &p,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let mut c = s.command(true);
    let mut child = c
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed().as_secs() > 60 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("doctor hung on a FIFO drop-in");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1)); // the source fails: its drop-in is no file
}

/// Audit P3: a reader that went away (`rootlet doctor | head -1`) is no panic.
#[test]
fn a_closed_stdout_is_no_panic() {
    let s = Sandbox::new("epipe");
    let mut child = s
        .command(false)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!e.contains("panicked") && !e.contains("Broken pipe"), "{e}");
    assert_eq!(o.status.code(), Some(0), "{e}");
}

#[test]
fn pods_need_catatonit() {
    let s = Sandbox::new("pods");
    // No pod anywhere: no finding.
    let r = s.run();
    assert!(r.all("runtime.pod-infra").is_empty(), "{}", r.text);

    // A container joining a pod (in a drop-in), catatonit missing: a warning with the fix.
    s.write(
        "home/.config/containers/systemd/web.container.d/pod.conf",
        "[Container]\nPod=app.pod\n",
    );
    let r = s.run();
    let f = r.get("runtime.pod-infra", "warning");
    assert!(f["summary"].contains("web.container"), "{f:?}");
    assert!(f["summary"].contains("catatonit is not installed"), "{f:?}");
    assert!(f["fix"].starts_with("sudo apt install catatonit"), "{f:?}");

    // A .pod file too; catatonit where Debian puts it (podman's helper directory).
    s.write(
        "home/.config/containers/systemd/app.pod",
        "[Pod]\nPublishPort=80:80\n",
    );
    s.exe("root/usr/libexec/podman/catatonit", "#!/bin/sh\n", 0o755);
    let r = s.run();
    let f = r.get("runtime.pod-infra", "ok");
    assert!(f["summary"].contains("app.pod and 1 more"), "{f:?}");
    assert!(
        f["summary"].contains("/usr/libexec/podman/catatonit"),
        "{f:?}"
    );
    // The pod's PublishPort= counts among the privileged ports.
    assert!(r.get("ports.privileged", "error")["summary"].contains("app.pod:2:"));
}

/// New-user report P1: `/proc/sys` files report `st_size` 0, and a read of size+1 bytes
/// gave only the first character (`ip_unprivileged_port_start=1`, `max_user_namespaces=9`):
/// the privileged-port check passed port 80. The values doctor shows on this machine are
/// those `cat` shows.
#[test]
fn p1_proc_sys_values_are_read_whole_on_the_real_machine() {
    let cat = |p: &str| {
        let out = Command::new("cat").arg(p).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let start = cat("/proc/sys/net/ipv4/ip_unprivileged_port_start");
    let userns = cat("/proc/sys/user/max_user_namespaces");
    let dir = std::env::temp_dir().join(format!("rd-{}-p1", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("src")).unwrap();
    fs::write(
        dir.join("src/low.container"),
        "[Container]\nImage=docker.io/library/nginx\nPublishPort=80:80\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rootlet"))
        .args(["doctor", "--json"])
        .env_remove("ROOTLET_DOCTOR_ROOT")
        .env("ROOTLET_UNIT_DIRS", dir.join("src"))
        .env("HOME", dir.join("home"))
        .output()
        .unwrap();
    let _ = fs::remove_dir_all(&dir);
    let json = String::from_utf8(out.stdout).unwrap();
    let findings = parse_json(&json).unwrap();
    let summary = |id: &str| {
        findings
            .iter()
            .find(|f| f["id"] == id)
            .map(|f| (f["level"].clone(), f["summary"].clone()))
            .unwrap_or_else(|| panic!("no {id} in {json}"))
    };
    if !userns.is_empty() {
        let (_, s) = summary("userns.max");
        assert!(
            s.contains(&format!("user.max_user_namespaces={userns}")),
            "{s}"
        );
    }
    let (level, s) = summary("ports.privileged");
    assert!(
        s.contains(&format!("ip_unprivileged_port_start={start}")),
        "{s} (cat says {start})"
    );
    if start.parse::<u32>().is_ok_and(|n| n > 80) {
        assert_ne!(level, "ok", "{s}");
    }
}

/// Audit N5: doctor blocked forever in `connect()` when the user bus (or the manager's
/// private socket) did not accept connections. Now each is an error finding ("hung", with
/// a restart as the fix) within seconds.
#[test]
fn n5_a_bus_that_takes_no_connection_is_reported_not_waited_on() {
    let s = Sandbox::new("n5");
    let _bus = util::full_unix_socket(&s.dir.join("run/bus"));
    let _manager = util::full_unix_socket(&s.dir.join("run/systemd/private"));
    // Each run (JSON and text) within RUN_LIMIT: two bounded connects of 5 s.
    let r = s.run();
    let bus = r.get("session.bus", "error");
    assert!(bus["summary"].contains("does not answer"), "{bus:?}");
    assert!(bus["fix"].contains("restart"), "{bus:?}");
    let manager = r.get("session.manager", "error");
    assert!(manager["summary"].contains("is hung"), "{manager:?}");
}

/// The fixtures' side of P1 and N6: `/proc` and `/sys` files that are a FIFO, a symlink to
/// `/dev/zero` or a directory are unreadable values (doctor's defaults), read at once; a
/// fixture value of many bytes is read whole.
#[test]
fn pseudo_files_that_are_fifos_devices_or_directories_neither_hang_nor_read_forever() {
    let s = Sandbox::new("pseudo");
    let at = |rel: &str| s.root().join(rel.trim_start_matches('/'));
    let fifo = at("/proc/sys/user/max_user_namespaces");
    fs::remove_file(&fifo).unwrap();
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    s.symlink(
        "/dev/zero",
        "root/proc/sys/net/ipv4/ip_unprivileged_port_start",
    );
    let dir = at("/sys/fs/cgroup/cgroup.controllers");
    let _ = fs::remove_file(&dir);
    fs::create_dir_all(&dir).unwrap();
    // Each run within RUN_LIMIT.
    let r = s.run();
    // Unknown: the default of 1024, not a value read from /dev/zero.
    let ports = r.get("ports.privileged", "ok");
    assert!(
        ports["summary"].contains("ip_unprivileged_port_start=1024"),
        "{ports:?}"
    );
    assert!(!r.text.contains("max_user_namespaces=0"), "{}", r.text);
    // A long value is read whole (a size+1 read took one byte of a 0-sized file).
    fs::remove_file(&fifo).unwrap();
    s.sys("/proc/sys/user/max_user_namespaces", "1234567\n");
    let _ = fs::remove_dir(&dir);
    let r = s.run();
    let userns = r.get("userns.max", "ok");
    assert_eq!(userns["summary"], "user.max_user_namespaces=1234567");
}

/// `ProxyTo=80`: the port inside the container is no host port. podman publishes the
/// container on a port from 20000 on of its own loopback address
/// (`quadlet::proxy::host_port`), so a privileged port inside needs nothing of the
/// system, while the socket's own `ListenStream=` below the limit is still reported.
#[test]
fn a_proxy_port_inside_is_no_host_port() {
    let s = Sandbox::new("proxy-port");
    s.write(
        "home/.config/containers/systemd/panel.container",
        "[Container]\nImage=localhost/panel\n[Socket]\nListenStream=127.0.0.1:8092\nProxyTo=80\n",
    );
    let r = s.run();
    assert!(
        r.get("ports.privileged", "ok")["summary"].contains("no port below"),
        "{}",
        r.text
    );
    s.write(
        "home/.config/containers/systemd/panel.container.d/port.conf",
        "[Socket]\nListenStream=\nListenStream=127.0.0.1:443\n",
    );
    let r = s.run();
    let v = r.all("ports.privileged");
    let f = v
        .iter()
        .find(|f| f["summary"].contains("port.conf:3:"))
        .unwrap_or_else(|| panic!("{}", r.text));
    assert!(f["summary"].contains("ListenStream=127.0.0.1:443"), "{f:?}");
}

/// A container's own `[Socket]` binds what a `.socket` file would (issue 26: doctor knows
/// the one-file form), and `ProxyTo=` needs systemd's `systemd-socket-proxyd`.
#[test]
fn a_containers_own_socket_and_its_proxy() {
    let s = Sandbox::new("own-socket");
    s.write(
        "home/.config/containers/systemd/site.container",
        "[Container]\nImage=localhost/site\n[Socket]\nListenStream=80\nProxyTo=8080\n",
    );
    let r = s.run();
    let v = r.all("ports.privileged");
    let f = v
        .iter()
        .find(|f| f["summary"].contains("site.container:4:"))
        .unwrap_or_else(|| panic!("{}", r.text));
    assert!(
        f["summary"].contains("ListenStream=80 binds port 80"),
        "{f:?}"
    );
    assert!(
        f["summary"].contains("the user manager cannot bind it"),
        "{f:?}"
    );
    assert!(f["fix"].contains("write the [Socket] section of"), "{f:?}");
    // No systemd-socket-proxyd in the fake root: the proxy cannot start.
    let p = r.get("socket.proxyd", "error");
    assert!(
        p["fix"].contains("put it in systemd-container): install it") && !p["fix"].contains("  "),
        "{p:?}"
    );
    assert!(
        p["summary"].contains("site.container: ProxyTo= runs"),
        "{p:?}"
    );
    s.exe(
        "root/lib/systemd/systemd-socket-proxyd",
        "#!/bin/sh\n",
        0o755,
    );
    let r = s.run();
    assert!(r.get("socket.proxyd", "ok")["summary"].contains("1 source(s) with ProxyTo="));
    // Without ProxyTo= nothing is said of it.
    s.write(
        "home/.config/containers/systemd/site.container",
        "[Container]\nImage=localhost/site\n[Socket]\nListenStream=8081\n",
    );
    assert!(s.run().all("socket.proxyd").is_empty());
}

/// A pod's own `[Socket]` (proxy mode) binds its port and needs the proxy, as a
/// container's does (issue 26: `[Socket]` in a `.pod`).
#[test]
fn a_pods_own_socket_and_its_proxy() {
    let s = Sandbox::new("pod-socket");
    s.write(
        "home/.config/containers/systemd/shop.pod",
        "[Pod]\n[Socket]\nListenStream=443\nProxyTo=8443\n",
    );
    let r = s.run();
    let v = r.all("ports.privileged");
    let f = v
        .iter()
        .find(|f| f["summary"].contains("shop.pod:3:"))
        .unwrap_or_else(|| panic!("{}", r.text));
    assert!(
        f["summary"].contains("ListenStream=443 binds port 443"),
        "{f:?}"
    );
    let p = r.get("socket.proxyd", "error");
    assert!(p["summary"].contains("shop.pod: ProxyTo= runs"), "{p:?}");
}

//! Golden cases, one test each: `tests/cases/NAME/input/` is a source directory; the
//! generator's output for it must equal `tests/cases/NAME/expected/` byte for byte,
//! symlinks included, and its error messages must equal `tests/cases/NAME/errors`
//! (absent: no error). A failure prints a `diff -u` of each file that differs.
//!
//! The absolute path of the input directory is written as `/INPUT` in expected files, so
//! the cases do not depend on where the repository is checked out.
//! Optional `tests/cases/NAME/defaults.conf` is used as the user's defaults file.
//! Optional `tests/cases/NAME/check` is what `rootlet check` reports for the input (its
//! findings the generator does not make: the output must not change for them); blessing
//! rewrites it only where it exists (create it empty first). Such units may be ones
//! systemd refuses to start: optional `tests/cases/NAME/verify` then lists the lines
//! `systemd-analyze verify` may say of them (else it must say nothing).
//! Optional `tests/cases/NAME/podman-version` (`4.3.1`) is the podman version generated
//! for; without it, the newest (quadlet 5.8's output), whatever podman the machine has.
//!
//! Adding a case: make the directory, add its line to `golden!` below (a test checks that
//! every directory is listed), run `ROOTLET_BLESS=1 cargo test --test it golden::case_NAME`, review
//! the written `expected/` and commit it. After a reviewed change of output, the same
//! command without a name rewrites every case.
//!
//! Every generated unit must also pass `systemd-analyze --user verify`.

use crate::util;

use rootlet::generator::{self, Options};
use rootlet::quadlet::Defaults;
use rootlet::search::Root;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, PartialEq, Eq)]
enum Node {
    File(String),
    Link(String),
}

fn tree(dir: &Path) -> BTreeMap<String, Node> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.map(|e| e.unwrap()) {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                out.insert(
                    rel,
                    Node::Link(fs::read_link(&p).unwrap().to_string_lossy().into()),
                );
            } else if ft.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(rel, Node::File(fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn write_tree(dir: &Path, t: &BTreeMap<String, Node>) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap();
    for (rel, n) in t {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        match n {
            Node::File(s) => fs::write(&p, s).unwrap(),
            Node::Link(t) => std::os::unix::fs::symlink(t, &p).unwrap(),
        }
    }
}

fn cases_dir() -> PathBuf {
    util::repo().join("tests/cases")
}

fn scratch(name: &str) -> util::Tmp {
    util::Tmp::new(&format!("golden-{name}"))
}

struct Outcome {
    tree: BTreeMap<String, Node>,
    errors: String,
    /// What `rootlet check` reports.
    check: String,
}

/// A copy of `from` at `to`, symlinks kept as links.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap().map(|e| e.unwrap()) {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ft = e.file_type().unwrap();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if ft.is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Generate the case's input into `out`. The input is read from a copy beside `out`: the
/// checkout's own path may hold spaces, which the generator rightly quotes, and expected
/// files must not depend on where the repository lives.
fn run_case(case: &Path, out: &Path) -> Outcome {
    let input = out.with_file_name("input");
    let _ = fs::remove_dir_all(&input);
    copy_tree(&case.join("input"), &input);
    let defaults = match case.join("defaults.conf") {
        p if p.exists() => Defaults::load(&p).expect("defaults.conf of the case"),
        _ => Defaults::default(),
    };
    let podman_version = match fs::read_to_string(case.join("podman-version")) {
        Ok(v) => rootlet::podman::Target::Known(
            rootlet::podman::Version::parse(&v).expect("podman-version of the case"),
        ),
        Err(_) => rootlet::podman::Target::Newest,
    };
    let opts = Options {
        defaults,
        ..Options::new(vec![Root::new(input.clone())], podman_version)
    };
    // What the generator does (units written as they are made) ...
    let (run, written) = generator::generate(&opts, out);
    written.unwrap();
    // ... gives what `rootlet generate` does (all made, then written).
    let both = PathBuf::from(format!("{}-collected", out.display()));
    let _ = fs::remove_dir_all(&both);
    let collected = generator::run(&opts);
    generator::write(&collected, &both).unwrap();
    assert_eq!(
        tree(&both),
        tree(out),
        "{}: generate() and run()+write() differ",
        case.display()
    );
    assert_eq!(
        collected
            .errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        run.errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
    );
    let _ = fs::remove_dir_all(&both);
    let abs = input.to_string_lossy().into_owned();
    let norm = |s: &str| s.replace(&abs, "/INPUT");
    let mut t = tree(out);
    for n in t.values_mut() {
        if let Node::File(s) = n {
            *s = norm(s);
        }
    }
    let mut errors = String::new();
    for e in &run.errors {
        errors.push_str(&norm(&e.to_string()));
        errors.push('\n');
    }
    let check = norm(&generator::check(&opts, None).diagnostics(None));
    Outcome {
        tree: t,
        errors,
        check,
    }
}

fn case_names() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input").is_dir())
        .collect();
    v.sort();
    v
}

fn show(n: Option<&Node>) -> String {
    match n {
        None => String::new(),
        Some(Node::File(s)) => s.clone(),
        Some(Node::Link(t)) => format!("symlink -> {t}\n"),
    }
}

/// One case: its output compared with `expected/` (or written there when blessing).
fn golden(name: &str) {
    let case = cases_dir().join(name);
    let out = scratch(name);
    let out_dir = out.path().join("out");
    let got = run_case(&case, &out_dir);
    let err_file = case.join("errors");
    let check_file = case.join("check");
    if std::env::var_os("ROOTLET_BLESS").is_some() {
        if check_file.exists() {
            fs::write(&check_file, &got.check).unwrap();
        }
        write_tree(&case.join("expected"), &got.tree);
        if got.errors.is_empty() {
            let _ = fs::remove_file(&err_file);
        } else {
            fs::write(&err_file, &got.errors).unwrap();
        }
        return;
    }
    let want = tree(&case.join("expected"));
    let want_err = fs::read_to_string(&err_file).unwrap_or_default();
    let mut diffs = String::new();
    let keys: std::collections::BTreeSet<&String> = want.keys().chain(got.tree.keys()).collect();
    for k in keys {
        let (a, b) = (want.get(k), got.tree.get(k));
        if a != b {
            diffs.push_str(&util::diff(k, &show(a), &show(b)));
        }
    }
    if want_err != got.errors {
        diffs.push_str(&util::diff("errors", &want_err, &got.errors));
    }
    if let Ok(want_check) = fs::read_to_string(&check_file) {
        if want_check != got.check {
            diffs.push_str(&util::diff("check", &want_check, &got.check));
        }
    }
    if !diffs.is_empty() {
        let test = format!("case_{}", name.replace('-', "_"));
        panic!(
            "golden case {name} differs (ROOTLET_BLESS=1 cargo test --test it golden::{test} \
             rewrites it after review):\n{diffs}"
        );
    }
}

/// One `#[test]` per case directory.
macro_rules! golden {
    ($($test:ident => $dir:literal,)*) => {
        $( #[test] fn $test() { golden($dir); } )*
        const LISTED: &[&str] = &[$($dir),*];
    };
}

golden! {
    case_01_minimal => "01-minimal",
    case_02_container_name => "02-container-name",
    case_03_exec_args => "03-exec-args",
    case_04_environment => "04-environment",
    case_05_publish_port => "05-publish-port",
    case_06_volumes => "06-volumes",
    case_07_network_reference => "07-network-reference",
    case_08_network_plain => "08-network-plain",
    case_09_labels => "09-labels",
    case_10_podman_args => "10-podman-args",
    case_11_user_group => "11-user-group",
    case_12_notify_health => "12-notify-health",
    case_13_notify_container => "13-notify-container",
    case_14_socket_pair => "14-socket-pair",
    case_15_socket_service_key => "15-socket-service-key",
    case_16_install_symlinks => "16-install-symlinks",
    case_17_user_overrides => "17-user-overrides",
    case_18_default_dependencies_false => "18-default-dependencies-false",
    case_19_continuation_comments => "19-continuation-comments",
    case_20_broken_beside_good => "20-broken-beside-good",
    case_21_quoting_edge => "21-quoting-edge",
    case_22_specifiers => "22-specifiers",
    case_23_template => "23-template",
    case_24_dropins => "24-dropins",
    case_25_unit_references => "25-unit-references",
    case_26_bad_values => "26-bad-values",
    case_27_bad_names => "27-bad-names",
    case_28_security_options => "28-security-options",
    case_29_subdirs_and_shadowing => "29-subdirs-and-shadowing",
    case_30_oneshot => "30-oneshot",
    case_31_defaults_file => "31-defaults-file",
    case_32_network_delete_on_stop => "32-network-delete-on-stop",
    case_33_template_default_instance => "33-template-default-instance",
    case_34_volumes => "34-volumes",
    case_35_missing_references => "35-missing-references",
    case_36_every_container_key => "36-every-container-key",
    case_37_dropin_forms => "37-dropin-forms",
    case_38_every_network_key => "38-every-network-key",
    case_39_clashes => "39-clashes",
    case_40_service_name => "40-service-name",
    case_41_new_container_keys => "41-new-container-keys",
    case_42_volume_keys => "42-volume-keys",
    case_43_template_resources => "43-template-resources",
    case_44_single_values => "44-single-values",
    case_45_split_values => "45-split-values",
    case_46_network_container => "46-network-container",
    case_47_bind_mounts => "47-bind-mounts",
    case_48_parity_errors => "48-parity-errors",
    case_49_network_wait => "49-network-wait",
    case_50_passed_as_written => "50-passed-as-written",
    case_51_podman43_resources => "51-podman43-resources",
    case_52_podman43_notify_healthy => "52-podman43-notify-healthy",
    case_53_podman44_resources => "53-podman44-resources",
    case_54_podman5_notify_healthy => "54-podman5-notify-healthy",
    case_55_podman43_quoting => "55-podman43-quoting",
    case_56_image_basic => "56-image-basic",
    case_57_image_keys => "57-image-keys",
    case_58_image_references => "58-image-references",
    case_59_image_dropins_templates => "59-image-dropins-templates",
    case_60_image_errors => "60-image-errors",
    case_61_pod_basic => "61-pod-basic",
    case_62_pod_references => "62-pod-references",
    case_63_pod_dropins_templates => "63-pod-dropins-templates",
    case_64_pod_errors => "64-pod-errors",
    case_70_build_basic => "70-build-basic",
    case_71_build_keys => "71-build-keys",
    case_72_build_context => "72-build-context",
    case_73_build_references => "73-build-references",
    case_74_build_errors => "74-build-errors",
    case_75_podman43_build => "75-podman43-build",
    case_76_build_network_wait => "76-build-network-wait",
    case_77_build_dropins_templates => "77-build-dropins-templates",
    case_80_kube_basic => "80-kube-basic",
    case_81_kube_keys => "81-kube-keys",
    case_82_kube_references => "82-kube-references",
    case_83_kube_clashes => "83-kube-clashes",
    case_84_kube_errors => "84-kube-errors",
    case_85_kube_podman43 => "85-kube-podman43",
    case_86_kube_podman46 => "86-kube-podman46",
    case_87_kube_podman42 => "87-kube-podman42",
    case_90_artifact_keys => "90-artifact-keys",
    case_91_artifact_references => "91-artifact-references",
    case_92_artifact_errors => "92-artifact-errors",
    case_93_podman43_artifact => "93-podman43-artifact",
    case_94_podman54_artifact => "94-podman54-artifact",
    case_95_podman43_module => "95-podman43-module",
    case_96_podman47_module => "96-podman47-module",
    case_97_reserved_unit_names => "97-reserved-unit-names",
    case_98_alias_clash_keeps_unit => "98-alias-clash-keeps-unit",
    case_99_clash_losers_dependents => "99-clash-losers-dependents",
    case_100_unreadable_references => "100-unreadable-references",
    case_110_podman43_notify_healthy_timing => "110-podman43-notify-healthy-timing",
    case_111_podman49_notify_healthy_timing => "111-podman49-notify-healthy-timing",
    case_112_restart_values_systemd_ignores => "112-restart-values-systemd-ignores",
    case_113_autoupdate_image => "113-autoupdate-image",
    case_120_volume_uid_gid => "120-volume-uid-gid",
    case_121_podman55_volume_uid_gid => "121-podman55-volume-uid-gid",
    case_122_volume_options_no_device => "122-volume-options-no-device",
    case_123_mount_anonymous_volume => "123-mount-anonymous-volume",
    case_124_pod_template_members => "124-pod-template-members",
    case_125_pod_restart => "125-pod-restart",
    case_130_podman43_network_keys => "130-podman43-network-keys",
    case_131_podman43_container_keys => "131-podman43-container-keys",
    case_132_podman43_image_keys => "132-podman43-image-keys",
    case_133_podman43_values => "133-podman43-values",
    case_134_podman344_oldest => "134-podman344-oldest",
    case_140_socket_in_container => "140-socket-in-container",
    case_141_socket_in_container_errors => "141-socket-in-container-errors",
    case_142_socket_proxy => "142-socket-proxy",
    case_143_socket_proxy_errors => "143-socket-proxy-errors",
    case_150_check_every_error => "150-check-every-error",
    case_151_check_dependencies_without_unit => "151-check-dependencies-without-unit",
    case_152_check_port_clashes => "152-check-port-clashes",
    case_153_check_missing_bind_sources => "153-check-missing-bind-sources",
    case_154_check_socket_without_service => "154-check-socket-without-service",
    case_160_socket_kube_refused => "160-socket-kube-refused",
    case_161_socket_proxy_pod => "161-socket-proxy-pod",
    case_162_socket_pod_errors => "162-socket-pod-errors",
    case_163_check_socket_port_clashes => "163-check-socket-port-clashes",
    case_170_podman21_below_every_kind => "170-podman21-below-every-kind",
    case_171_podman30_network => "171-podman30-network",
    case_172_podman41_pod => "172-podman41-pod",
}

#[test]
fn every_case_directory_is_listed() {
    let dirs: Vec<String> = case_names()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let missing: Vec<&String> = dirs
        .iter()
        .filter(|d| !LISTED.contains(&d.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "add these cases to golden! in tests/it/golden.rs: {missing:?}"
    );
    let stale: Vec<&&str> = LISTED
        .iter()
        .filter(|l| !dirs.iter().any(|d| d == *l))
        .collect();
    assert!(
        stale.is_empty(),
        "listed in golden! but no directory: {stale:?}"
    );
}

/// The wait unit we ship, with the binary path filled in, so that `Wants=` resolves.
fn wait_unit() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("units/rootlet-wait-online.service.in");
    match fs::read_to_string(&p) {
        Ok(s) => s.replace("@bindir@", "/usr/bin"),
        Err(_) => "[Service]\nType=oneshot\nExecStart=/bin/true\n".into(),
    }
}

#[test]
fn generated_units_pass_systemd_analyze_verify() {
    let Ok(sa) = which("systemd-analyze") else {
        util::skip("systemd-analyze is not installed; generated units were not verified");
        return;
    };
    if !Path::new("/usr/bin/podman").exists() {
        util::skip(
            "/usr/bin/podman is not installed; systemd-analyze verify would reject ExecStart=",
        );
        return;
    }
    let runtime_tmp = scratch("runtime");
    let runtime = runtime_tmp.path().to_owned();
    fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let mut failures = Vec::new();
    let mut verified = 0;
    for case in case_names() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let out_tmp = scratch(&format!("verify-{name}"));
        let out = out_tmp.path().join("out");
        run_case(&case, &out);
        let mut units: Vec<PathBuf> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file() && !p.is_symlink())
            .collect();
        units.sort();
        if units.is_empty() {
            continue;
        }
        fs::write(out.join("rootlet-wait-online.service"), wait_unit()).unwrap();
        let o = Command::new(&sa)
            .args(["--user", "verify", "--man=no"])
            .args(&units)
            .env("XDG_RUNTIME_DIR", &runtime)
            .current_dir(&out)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        // A case of what only `rootlet check` reports (a unit the generator makes all the
        // same) has units systemd refuses to start: `verify` lists what it may say of them
        // (it stops at a unit's first missing dependency, in no fixed order). A .socket
        // whose service's .container or .kube was refused (its error in the case's `errors`) is
        // still generated (a broken file costs only its own unit), and systemd says the
        // socket cannot start: that is expected too; nothing else is.
        let expected = fs::read_to_string(case.join("verify")).unwrap_or_default();
        let allowed = |l: &str| expected.lines().any(|e| e == l);
        let errors = fs::read_to_string(case.join("errors")).unwrap_or_default();
        let refused = |l: &str| {
            (l.strip_suffix(".service not loaded, socket cannot be started."))
                .and_then(|l| l.split_once(": service "))
                .is_some_and(|(_, stem)| {
                    [".container:", ".kube:"]
                        .iter()
                        .any(|ext| errors.contains(&format!("/INPUT/{stem}{ext}")))
                })
        };
        let rest: Vec<&str> = text.lines().filter(|l| !refused(l)).collect();
        let excused = rest.len() < text.lines().count() || !expected.is_empty();
        if !rest.iter().all(|l| l.trim().is_empty() || allowed(l))
            || (!o.status.success() && !excused)
        {
            failures.push(format!("{name}: {}", text.trim()));
        } else {
            verified += units.len();
        }
    }
    eprintln!("systemd-analyze verify: {verified} units passed");
    assert!(
        failures.is_empty(),
        "systemd-analyze verify failed:\n{}",
        failures.join("\n")
    );
}

fn which(cmd: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(cmd))
        .find(|p| p.is_file())
        .ok_or(())
}

#!/usr/bin/env python3
"""Generator benchmark: rootlet-user-generator beside podman 5.8.x's quadlet, same run.

For N in (1, 100, 1000, 10000) `.container` files (`--mix`: files of all eight types) (each with a few keys and an [Install]
section, so symlinks are written too), both generators run R times into a fresh tmpfs
(/dev/shm) output directory, their runs alternating; reported: median wall time, peak
RSS, and the ratio; the median CPU time of each and its ratio, and the 1-minute load average
before and after (a busy machine shares out CPU time, and the wall ratio tends to the CPU
one).
Also the floor (with a C compiler; `--no-floor` leaves it out): scripts/bench-floor.c, built
here, makes only the system calls of a run (it reads the same sources and writes the same
units and links rootlet wrote, from a manifest of its output) and nothing else, in the same
alternation. Its ratio beside quadlet is the most any generator writing these files can
reach on this machine and load.
`--busy N` measures on a busy machine, reproducibly: N processes that only spin (`yes`
into /dev/null, each in a session of its own, as other people's work would be) run for
the whole benchmark and are ended after it.
Also the release binary sizes. Peak RSS needs GNU time (/usr/bin/time, Debian's `time`). Usage: scripts/bench-generator.py [--runs R] [--sizes 1,100] [--mix] [--no-floor] [--busy N]
"""
import argparse
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

TEMPLATE = """[Unit]
Description=Benchmark container {i}

[Container]
Image=docker.io/library/nginx:1.27
PublishPort={port}:80
Environment=INDEX={i} "GREETING=hello world"
Volume=%h/data/{i}:/data:Z
Label=app=bench tier=web
Exec=/usr/sbin/nginx -g "daemon off;"

[Install]
WantedBy=default.target
"""


# A mixed directory: groups of ten files of all eight types, wired as real setups are
# (a pod with a member, a container on a built image, a network and a volume in use, an
# image and an artifact pulled, a kube play).
MIX = {
    "n{g}.network": "[Network]\nSubnet=10.{a}.{b}.0/24\nLabel=app=bench\n",
    "v{g}.volume": "[Volume]\nLabel=app=bench\n",
    "i{g}.image": "[Image]\nImage=docker.io/library/nginx:1.27\n",
    "b{g}.build": "[Build]\nImageTag=localhost/bench{g}:latest\nFile=/srv/bench/Containerfile\nSetWorkingDirectory=/srv/bench\n",
    "p{g}.pod": "[Pod]\nPublishPort={port}:80\nNetwork=n{g}.network\n",
    "a{g}.artifact": "[Artifact]\nArtifact=quay.io/bench/artifact:{g}\n",
    "k{g}.kube": "[Kube]\nYaml=/srv/bench/k{g}.yaml\nNetwork=n{g}.network\n",
    "c{g}.container": TEMPLATE.replace("Image=docker.io/library/nginx:1.27", "Image=i{g}.image\nNetwork=n{g}.network\nVolume=v{g}.volume:/v"),
    "m{g}.container": "[Container]\nImage=b{g}.build\nPod=p{g}.pod\nExec=/bin/server\n",
    "s{g}.container": "[Container]\nImage=b{g}.build\nMount=type=artifact,source=a{g}.artifact,destination=/a\n",
}


def make_sources(d, n, mix=False):
    os.makedirs(d, exist_ok=True)
    if mix:
        names = list(MIX)
        for i in range(n):
            g, k = divmod(i, len(names))
            name = names[k]
            text = MIX[name].format(g=g, i=i, a=g // 250, b=g % 250, port=10000 + g % 50000)
            with open(os.path.join(d, name.format(g=g)), "w") as f:
                f.write(text)
        return
    for i in range(n):
        with open(os.path.join(d, f"c{i:05d}.container"), "w") as f:
            f.write(TEMPLATE.format(i=i, port=10000 + i % 50000))


def manifest(out, path):
    """What a generator wrote in `out`, for bench-floor.c: `d NAME` (subdirectories first),
    `f SIZE NAME`, `l NAME TARGET`, each sorted."""
    dirs, files, links = [], [], []
    for root, ds, fs in os.walk(out):
        rel = os.path.relpath(root, out)
        for d in ds:
            dirs.append(os.path.normpath(os.path.join(rel, d)))
        for f in fs:
            p = os.path.join(root, f)
            name = os.path.normpath(os.path.join(rel, f))
            if os.path.islink(p):
                links.append((name, os.readlink(p)))
            else:
                files.append((os.path.getsize(p), name))
    with open(path, "w") as m:
        m.writelines(f"d {d}\n" for d in sorted(dirs))
        m.writelines(f"f {n} {f}\n" for n, f in sorted(files, key=lambda x: x[1]))
        m.writelines(f"l {n} {t}\n" for n, t in sorted(links))


def build_floor(shm):
    """scripts/bench-floor.c built into `shm`, or None without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    exe = os.path.join(shm, "bench-floor")
    r = subprocess.run([cc, "-O2", "-o", exe, os.path.join(HERE, "bench-floor.c")],
                       stderr=subprocess.PIPE, text=True)
    return exe if r.returncode == 0 else None


def argv(cmd, out):
    """The command line of a candidate writing into `out`: the generators take the three
    directories of a generator; the floor (`bench-floor SOURCES MANIFEST`) one."""
    return cmd + [out] if cmd[0].endswith("bench-floor") else cmd + [out, out, out]


def run_once(cmd, env, out):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    t0 = time.perf_counter()
    p = subprocess.Popen(argv(cmd, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[0]} failed with {status}")
    return dt, ru.ru_utime + ru.ru_stime  # CPU time of all its threads


def peak_rss_kib(cmd, env, out):
    """Peak RSS of one run, by GNU time (ru_maxrss of a child forked from Python would
    count Python's own pages)."""
    if not os.path.exists("/usr/bin/time"):
        return float("nan")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *argv(cmd, out)], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return float(r.stderr.strip().splitlines()[-1])


def bench(cands, runs, shm):
    """Median wall time, peak RSS and median CPU time of each (cmd, env) in `cands`. The
    runs alternate between the candidates (A B A B ...), so that a machine that gets slower
    or faster during the benchmark weighs on all of them alike. On a busy machine the wall
    times scatter with the scheduler's luck; the CPU times (user + system, every thread)
    hardly move, and the wall ratio tends to their ratio."""
    out = os.path.join(shm, "out")
    times = [[] for _ in cands]
    cpus = [[] for _ in cands]
    units = []
    for cmd, env in cands:
        run_once(cmd, env, out)  # warm the page cache
        # What it wrote (a like-for-like comparison writes the same units).
        units.append(sum(1 for f in os.listdir(out) if f.endswith((".service", ".socket"))))
    for _ in range(runs):
        for i, (cmd, env) in enumerate(cands):
            t, c = run_once(cmd, env, out)
            times[i].append(t)
            cpus[i].append(c)
    rss = [peak_rss_kib(cmd, env, out) for cmd, env in cands]
    shutil.rmtree(out, ignore_errors=True)
    return [(statistics.median(t), r, u, statistics.median(c))
            for t, r, u, c in zip(times, rss, units, cpus)]


def fmt_ms(s):
    return f"{s * 1000:.1f} ms" if s < 10 else f"{s:.1f} s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--sizes", default="1,100,1000,10000")
    ap.add_argument("--quadlet")
    ap.add_argument("--mix", action="store_true",
                    help="a mixed directory of all eight types instead of .container files")
    ap.add_argument("--busy", type=int, default=0, metavar="N",
                    help="N spinning processes beside the benchmark (a busy machine)")
    ap.add_argument("--no-floor", action="store_true",
                    help="leave out the floor (the system calls alone, scripts/bench-floor.c)")
    a = ap.parse_args()
    import importlib.util
    spec = importlib.util.spec_from_file_location("cq", os.path.join(HERE, "compare-quadlet.py"))
    cq = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cq)
    try:
        quadlet = a.quadlet or cq.fetch_quadlet()
        qname = "quadlet " + cq.quadlet_version(quadlet)[0].split()[-1]
    except Exception as e:  # noqa: BLE001
        print(f"!! cannot get podman 5.8.x's quadlet ({e}); rootlet only", file=sys.stderr)
        quadlet, qname = None, "quadlet"
    subprocess.run(["cargo", "build", "--release", "-q", "--bin", "rootlet-user-generator"], cwd=REPO, check=True)
    gen = os.path.join(REPO, "target/release/rootlet-user-generator")
    shm = tempfile.mkdtemp(prefix="rootlet-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    # The busy machine: spinning processes in sessions of their own, ended (the whole
    # session) in `finally`, and by `timeout` after an hour should this script be killed.
    spinners = [subprocess.Popen(["timeout", "3600", "yes"], stdout=subprocess.DEVNULL,
                                 start_new_session=True)
                for _ in range(a.busy)]
    if spinners:
        time.sleep(1)
    try:
        floor = None if a.no_floor else build_floor(shm)
        if not a.no_floor and not floor:
            print("!! no C compiler: the floor is not measured", file=sys.stderr)
        kind = "mixed directory, all eight types" if a.mix else ".container files"
        busy = f", {a.busy} spinning processes beside it" if a.busy else ""
        print(f"generator benchmark ({kind}): median of {a.runs} runs, output on tmpfs, {os.cpu_count()} cores{busy}")
        print(f"{'files':>6} | {'rootlet':>10} {'peak RSS':>9} | {qname:>13} {'peak RSS':>9} | speed-up"
              f" | CPU time, ratio | load")
        print("-" * 106)
        for n in [int(x) for x in a.sizes.split(",")]:
            src = os.path.join(shm, f"src{n}")
            make_sources(src, n, a.mix)
            load0 = f"{os.getloadavg()[0]:.1f}"
            base = dict(os.environ, XDG_CONFIG_HOME=os.path.join(shm, "nocfg"))
            # The version podman would report, pinned: quadlet does not ask podman either,
            # and `.artifact` needs 5.x.
            cands = [([gen], dict(base, ROOTLET_UNIT_DIRS=src, ROOTLET_PODMAN_VERSION="5.8.2"))]
            if quadlet:
                cands.append(([quadlet, "-user", "-no-kmsg-log"], dict(base, QUADLET_UNIT_DIRS=src)))
            if floor:
                # The manifest of what rootlet writes for these sources.
                out = os.path.join(shm, "out")
                run_once(*cands[0], out)
                mf = os.path.join(shm, f"manifest{n}")
                manifest(out, mf)
                cands.append(([floor, src, mf], base))
            results = bench(cands, a.runs, shm)
            rt, rm, ru, rc = results[0]
            # The 1-minute load average when the sources were written and after the runs.
            load = f"{load0}, {os.getloadavg()[0]:.1f}"
            if quadlet:
                qt, qm, qu, qc = results[1]
                if ru != qu:
                    print(f"   !! units written: rootlet {ru}, quadlet {qu}")
                print(f"{n:>6} | {fmt_ms(rt):>10} {rm / 1024:>7.1f}MB | {fmt_ms(qt):>13} {qm / 1024:>7.1f}MB | {qt / rt:6.1f}x"
                      f" | {fmt_ms(rc)} / {fmt_ms(qc)}, {qc / rc:.1f}x | {load}")
            else:
                print(f"{n:>6} | {fmt_ms(rt):>10} {rm / 1024:>7.1f}MB | {'-':>13} {'-':>9} |"
                      f" | {fmt_ms(rc)} | {load}")
            if floor:  # the most any generator writing these files can reach
                ft, fm, fu, fc = results[-1]
                against = f" | beside {qname}: {results[1][0] / ft:.1f}x, CPU {results[1][3] / fc:.1f}x" if quadlet else ""
                print(f"   floor (system calls alone, {fu} units): {fmt_ms(ft)}, CPU {fmt_ms(fc)}{against}")
            shutil.rmtree(src)
        for b in ("rootlet-user-generator", "rootlet-wait-online", "rootlet"):
            p = os.path.join(REPO, "target/release", b)
            if os.path.exists(p):
                print(f"size {b}: {os.path.getsize(p) / 1024:.0f} KiB")
        if quadlet:
            print(f"size {qname}: {os.path.getsize(quadlet) / 1024:.0f} KiB")
    finally:
        for p in spinners:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        shutil.rmtree(shm, ignore_errors=True)


if __name__ == "__main__":
    main()

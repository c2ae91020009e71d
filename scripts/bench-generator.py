#!/usr/bin/env python3
"""Generator benchmark: rootlet-user-generator beside podman 5.8.x's quadlet, same run.

For N in (1, 100, 1000, 10000) `.container` files (each with a few keys and an [Install]
section, so symlinks are written too), both generators run R times into a fresh tmpfs
(/dev/shm) output directory, their runs alternating; reported: median wall time, peak
RSS, and the ratio.
Also the release binary sizes. Peak RSS needs GNU time (/usr/bin/time, Debian's `time`). Usage: scripts/bench-generator.py [--runs R] [--sizes 1,100]
"""
import argparse
import os
import resource
import shutil
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


def make_sources(d, n):
    os.makedirs(d, exist_ok=True)
    for i in range(n):
        with open(os.path.join(d, f"c{i:05d}.container"), "w") as f:
            f.write(TEMPLATE.format(i=i, port=10000 + i % 50000))


def run_once(cmd, env, out):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd + [out, out, out], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[0]} failed with {status}")
    return dt, ru.ru_maxrss  # KiB


def peak_rss_kib(cmd, env, out):
    """Peak RSS of one run, by GNU time (ru_maxrss of a child forked from Python would
    count Python's own pages)."""
    if not os.path.exists("/usr/bin/time"):
        return float("nan")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd, out, out, out], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return float(r.stderr.strip().splitlines()[-1])


def bench(cands, runs, shm):
    """Median wall time and peak RSS of each (cmd, env) in `cands`. The runs alternate
    between the candidates (A B A B ...), so that a machine that gets slower or faster
    during the benchmark weighs on all of them alike."""
    out = os.path.join(shm, "out")
    times = [[] for _ in cands]
    for cmd, env in cands:
        run_once(cmd, env, out)  # warm the page cache
    for _ in range(runs):
        for i, (cmd, env) in enumerate(cands):
            t, _ = run_once(cmd, env, out)
            times[i].append(t)
    rss = [peak_rss_kib(cmd, env, out) for cmd, env in cands]
    shutil.rmtree(out, ignore_errors=True)
    return [(statistics.median(t), r) for t, r in zip(times, rss)]


def fmt_ms(s):
    return f"{s * 1000:.1f} ms" if s < 10 else f"{s:.1f} s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--sizes", default="1,100,1000,10000")
    ap.add_argument("--quadlet")
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
    try:
        print(f"generator benchmark: median of {a.runs} runs, output on tmpfs, {os.cpu_count()} cores")
        print(f"{'files':>6} | {'rootlet':>10} {'peak RSS':>9} | {qname:>13} {'peak RSS':>9} | speed-up")
        print("-" * 72)
        for n in [int(x) for x in a.sizes.split(",")]:
            src = os.path.join(shm, f"src{n}")
            make_sources(src, n)
            base = dict(os.environ, XDG_CONFIG_HOME=os.path.join(shm, "nocfg"))
            cands = [([gen], dict(base, ROOTLET_UNIT_DIRS=src))]
            if quadlet:
                cands.append(([quadlet, "-user", "-no-kmsg-log"], dict(base, QUADLET_UNIT_DIRS=src)))
            results = bench(cands, a.runs, shm)
            rt, rm = results[0]
            if quadlet:
                qt, qm = results[1]
                print(f"{n:>6} | {fmt_ms(rt):>10} {rm / 1024:>7.1f}MB | {fmt_ms(qt):>13} {qm / 1024:>7.1f}MB | {qt / rt:6.1f}x")
            else:
                print(f"{n:>6} | {fmt_ms(rt):>10} {rm / 1024:>7.1f}MB | {'-':>13} {'-':>9} |")
            shutil.rmtree(src)
        for b in ("rootlet-user-generator", "rootlet-wait-online", "rootlet"):
            p = os.path.join(REPO, "target/release", b)
            if os.path.exists(p):
                print(f"size {b}: {os.path.getsize(p) / 1024:.0f} KiB")
        if quadlet:
            print(f"size {qname}: {os.path.getsize(quadlet) / 1024:.0f} KiB")
    finally:
        shutil.rmtree(shm, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Differential check: the same source files through podman 5.8.x's quadlet and rootlet.

For each source directory (default: every tests/cases/*/input and examples/), both
generators write into a directory of their own; then, per unit, this compares
  - the podman argv of ExecStart= as a multiset (order may differ where podman doesn't care),
  - the [Unit] dependencies (Wants/Requires/After/Before/BindsTo/PartOf/...),
  - the install symlinks,
  - which units exist at all (a file one of them refuses),
and lists every difference. Deliberate differences are documented in DELIBERATE below
(and in the README, "Migrating from quadlet") and are not counted as failures.

The reference quadlet comes from Debian sid's podman package (5.8.x), fetched with apt into
/var/cache/peers/sid from the mirror the machine's own apt sources name (see
../shared/reference/PEERS.md), without touching those sources; nothing of it is committed.
The version is pinned to 5.8.x and printed; any other version is a loud skip.

Usage: scripts/compare-quadlet.py [--quadlet PATH] [--rootlet PATH] [DIR...]
Exit status: 0 when the only differences are deliberate, 1 otherwise, 2 when the reference
cannot be had (with a loud message).
"""
import argparse
import collections
import glob
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PEERS = "/var/cache/peers/sid"
SUITE = "sid"
PIN = "5.8."  # the quadlet version this comparison is for
DEP_KEYS = ("Wants", "Requires", "Requisite", "BindsTo", "PartOf", "Upholds",
            "Conflicts", "Before", "After")

# What rootlet does differently on purpose: (kind, predicate, reason).
DELIBERATE = [
    ("dep", lambda k, v: v in ("podman-user-wait-network-online.service", "rootlet-wait-online.service"),
     "rootlet's own wait unit replaces podman-user-wait-network-online.service"),
    ("dep", lambda k, v: v.endswith(".socket"),
     "rootlet wires X.service to the X.socket it generates (quadlet ignores .socket files)"),
    ("unit", lambda name, who: name.endswith(".socket") and who == "rootlet",
     "rootlet generates .socket units (quadlet ignores .socket files)"),
    ("link", lambda path, who: path.endswith(".socket") and who == "rootlet",
     "install symlinks of the .socket units rootlet generates"),
    ("link", lambda path, who: ".upholds/" in path and who == "rootlet",
     "quadlet before 5.5 turns UpheldBy= into no symlink; rootlet writes X.target.upholds/"),
]


def apt_mirror():
    """The Debian mirror the machine's apt already uses (deb822 or one-line sources)."""
    import glob as g
    for f in sorted(g.glob("/etc/apt/sources.list.d/*.sources")):
        with open(f) as fh:
            for line in fh:
                if line.startswith("URIs:"):
                    return line.split()[1]
    for f in ["/etc/apt/sources.list"] + sorted(g.glob("/etc/apt/sources.list.d/*.list")):
        try:
            with open(f) as fh:
                for line in fh:
                    w = line.split()
                    if len(w) >= 3 and w[0] == "deb":
                        return w[2] if w[1].startswith("[") else w[1]
        except OSError:
            pass
    raise RuntimeError("no apt mirror found in /etc/apt/sources.list*")


def fetch_quadlet():
    """The path of quadlet from Debian sid's podman package (fetched once); also used by
    scripts/bench-generator.py."""
    q = os.path.join(PEERS, "x/usr/libexec/podman/quadlet")
    if not os.path.exists(q):
        lists = os.path.join(PEERS, "lists/partial")
        os.makedirs(lists, exist_ok=True)
        os.makedirs(os.path.join(PEERS, "x"), exist_ok=True)
        src = os.path.join(PEERS, "sources.list")
        with open(src, "w") as f:
            f.write(f"deb {apt_mirror()} {SUITE} main\n")
        o = ["-o", f"Dir::Etc::SourceList={src}", "-o", "Dir::Etc::SourceParts=/dev/null",
             "-o", f"Dir::State::Lists={PEERS}/lists"]
        subprocess.run(["apt-get", *o, "update", "-qq"], check=True)
        subprocess.run(["apt-get", *o, "download", "-qq", "podman"], check=True, cwd=PEERS)
        deb = sorted(glob.glob(os.path.join(PEERS, "podman_*.deb")))[-1]
        subprocess.run(["dpkg", "-x", deb, os.path.join(PEERS, "x")], check=True)
    return q


def quadlet_version(q):
    """(quadlet's -version, the package file it came from)."""
    debs = sorted(glob.glob(os.path.join(PEERS, "podman_*.deb")))
    version = subprocess.run([q, "-version"], capture_output=True, text=True, check=True).stdout.strip()
    return version, os.path.basename(debs[-1]) if debs else "?"


def parse_unit(path):
    """Minimal systemd syntax reader: {section: [(key, value)]}, continuations joined."""
    secs = collections.OrderedDict()
    cur = None
    pending = ""
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if pending:
                if line.lstrip().startswith(("#", ";")):
                    continue
                line = pending + line
                pending = ""
            s = line.strip()
            if not s or s.startswith(("#", ";")):
                continue
            if s.endswith("\\"):
                pending = s[:-1] + " "
                continue
            if s.startswith("["):
                cur = s[1:-1]
                secs.setdefault(cur, [])
            elif "=" in s and cur is not None:
                k, v = s.split("=", 1)
                secs[cur].append((k.strip(), v.strip()))
    return secs


def deps(secs):
    out = set()
    for k, v in secs.get("Unit", []):
        if k in DEP_KEYS:
            if v == "":
                out = {(kk, vv) for kk, vv in out if kk != k}
            for w in v.split():
                out.add((k, w))
    return out


C_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
             "\\": "\\", '"': '"', "'": "'", "s": " "}


def sd_split(line):
    """Split a command line as systemd does: quotes removed, C escapes applied (quadlet
    writes `\\x20`, rootlet quotes; both mean the same word)."""
    words, w, quote, i, has = [], [], None, 0, False
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            n = line[i + 1]
            if n in C_ESCAPES:
                w.append(C_ESCAPES[n]); i += 2
            elif n == "x" and i + 3 < len(line) + 1:
                w.append(chr(int(line[i + 2:i + 4], 16))); i += 4
            elif n in "uU":
                k = 4 if n == "u" else 8
                w.append(chr(int(line[i + 2:i + 2 + k], 16))); i += 2 + k
            elif n in "01234567":
                w.append(chr(int(line[i + 1:i + 4], 8))); i += 4
            else:
                w.append("\\" + n); i += 2
            has = True
        elif quote:
            if c == quote:
                quote = None
            else:
                w.append(c)
            i += 1
        elif c in "\"'":
            quote, has = c, True; i += 1
        elif c.isspace():
            if has:
                words.append("".join(w)); w, has = [], False
            i += 1
        else:
            w.append(c); has = True; i += 1
    if has:
        words.append("".join(w))
    return words


def argv(secs):
    starts = [v for k, v in secs.get("Service", []) if k == "ExecStart" and v]
    if not starts:
        return None
    try:
        words = sd_split(starts[-1])
    except (ValueError, IndexError):
        words = starts[-1].split()
    return collections.Counter(words[1:])  # the podman path may differ (PODMAN)


def tree(out):
    units, links = {}, set()
    for root, dirs, files in os.walk(out):
        for n in files + dirs:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, out)
            if os.path.islink(p):
                links.add(rel)
            elif os.path.isfile(p) and not n.startswith("."):
                units[rel] = parse_unit(p)
    return units, links


def source_unit(v):
    for ext, fmt in ((".container", "{}.service"), (".network", "{}-network.service"),
                     (".volume", "{}-volume.service")):
        if v.endswith(ext):
            return fmt.format(v[: -len(ext)])
    return None


def documented(d):
    """Per-directory documented differences: `quadlet-differences` beside a case's input/,
    or in the directory itself (examples/, whose subdirectories quadlet walks too)."""
    p = os.path.join(os.path.dirname(d), "quadlet-differences") if os.path.basename(d) == "input" \
        else os.path.join(d, "quadlet-differences")
    out = {}
    if p and os.path.exists(p):
        with open(p) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    diff, _, why = line.rstrip("\n").partition(" # ")
                    out[diff.strip()] = why.strip()
    return out


def deliberate(kind, a, b):
    for k, pred, why in DELIBERATE:
        if k == kind and pred(a, b):
            return why
    return None


def compare(d, quadlet, rootlet):
    diffs, notes = [], []
    with tempfile.TemporaryDirectory() as tq, tempfile.TemporaryDirectory() as tr:
        env = dict(os.environ, QUADLET_UNIT_DIRS=d)
        subprocess.run([quadlet, "-user", "-no-kmsg-log", tq, tq, tq], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Like for like: quadlet 5.8 writes for the podman it ships with, so rootlet is
        # told the same podman, whatever podman this machine has (Debian 12's 4.3 gets
        # other units on purpose: README, "podman versions").
        env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tr, "none"),
                   ROOTLET_PODMAN_VERSION="newest")
        subprocess.run([rootlet, "generate", "--output", tr, d], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        qu, ql = tree(tq)
        ru, rl = tree(tr)
        for name in sorted(set(qu) | set(ru)):
            if name not in ru or name not in qu:
                who = "quadlet" if name in qu else "rootlet"
                why = deliberate("unit", name, who)
                (notes if why else diffs).append(
                    f"{name}: only {who} generates it" + (f" ({why})" if why else ""))
                continue
            a, b = argv(qu[name]), argv(ru[name])
            if a != b:
                only_q = (a or collections.Counter()) - (b or collections.Counter())
                only_r = (b or collections.Counter()) - (a or collections.Counter())
                diffs.append(f"{name}: podman argv differ: only quadlet {sorted(only_q.elements())}, "
                             f"only rootlet {sorted(only_r.elements())}")
            dq, dr = deps(qu[name]), deps(ru[name])
            # quadlet before 5.5 leaves `Requires=db.container` as written (systemd then
            # fails the dependency); rootlet names the unit the source becomes.
            for k, v in sorted(dq):
                t = source_unit(v)
                if t and (k, t) in dr:
                    dq = (dq - {(k, v)}) | {(k, t)}
                    notes.append(f"{name}: {k}={v} becomes {k}={t} in rootlet (quadlet before 5.5 leaves it untranslated)")
            for who, extra in (("quadlet", dq - dr), ("rootlet", dr - dq)):
                for k, v in sorted(extra):
                    why = deliberate("dep", k, v)
                    (notes if why else diffs).append(
                        f"{name}: {k}={v} only from {who}" + (f" ({why})" if why else ""))
        for who, extra in (("quadlet", ql - rl), ("rootlet", rl - ql)):
            for p in sorted(extra):
                why = deliberate("link", p, who)
                (notes if why else diffs).append(
                    f"symlink {p} only from {who}" + (f" ({why})" if why else ""))
    doc = documented(d)
    kept = []
    for x in diffs:
        if x in doc:
            notes.append(f"{x} ({doc[x]})")
        else:
            kept.append(x)
    return kept, notes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quadlet")
    ap.add_argument("--rootlet", default=os.path.join(REPO, "target/release/rootlet"))
    ap.add_argument("--verbose", "-v", action="store_true", help="also list deliberate differences")
    ap.add_argument("dirs", nargs="*")
    a = ap.parse_args()
    try:
        quadlet = a.quadlet or fetch_quadlet()
        version, package = quadlet_version(quadlet)
        if a.quadlet:
            package = "(given with --quadlet)"
    except Exception as e:  # noqa: BLE001 - any failure to get the reference is reported
        print(f"!! SKIPPED LOUDLY: cannot get podman {PIN}x's quadlet: {e}", file=sys.stderr)
        return 2
    if not version.startswith(PIN):
        print(f"!! SKIPPED LOUDLY: the reference quadlet is {version}, not {PIN}x "
              f"({package}); update PIN and DELIBERATE for it", file=sys.stderr)
        return 2
    print(f"reference: quadlet {version} ({package})")
    if not os.path.exists(a.rootlet):
        subprocess.run(["cargo", "build", "--release", "-q", "--bin", "rootlet"], cwd=REPO, check=True)
    dirs = a.dirs or sorted(glob.glob(os.path.join(REPO, "tests/cases/*/input"))) + [os.path.join(REPO, "examples")]
    total_d = total_n = 0
    for d in dirs:
        d = os.path.abspath(d)
        diffs, notes = compare(d, quadlet, a.rootlet)
        total_d += len(diffs)
        total_n += len(notes)
        label = os.path.relpath(d, REPO)
        print(f"{'DIFF' if diffs else 'same'} {label}" + (f" (+{len(notes)} deliberate)" if notes else ""))
        for x in diffs:
            print(f"  {x}")
        if a.verbose:
            for x in notes:
                print(f"  deliberate: {x}")
    print(f"{len(dirs)} directories compared: {total_d} undocumented differences, {total_n} deliberate")
    return 1 if total_d else 0


if __name__ == "__main__":
    sys.exit(main())

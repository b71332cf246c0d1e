"""Where the time of `pallet run --rm IMG /bin/true` goes: wall-clock phases, min and median over N runs.

    .venv/bin/python bench/run_phases.py [--runs 10] [--trace]

Each run is a fresh `python -I -S` (as the installed `pallet` script) that times its imports, then wraps
the engine's phase functions (create, image lookup, spec check, snapshot, rootfs and bundle, the runtime's
create/start/delete, the monitor loop, cleanup and removal) with perf_counter marks; the last line is the
interpreter's exit (connections closed, WAL checkpointed). A private --root/--runroot under a temp dir
with a busybox image; everything is removed at the end. Use it with `python -X importtime` and
`strace -f -tt` when a phase grows. --trace also prints the last run's pallet.runtime.trace marks (the
runtime's create from the parent and the container init side by side, ms since the runtime's import).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
import busybox_rootfs  # noqa: E402

CHILD = r'''
import sys, time
marks = [("start", time.perf_counter())]
sys.path[:0] = [REPO]
from pallet.runtime import bundle  # as the installed `pallet` (pallet.cli.launcher) does
bundle.install()
if TRACE:
    import pallet.runtime.trace
    pallet.runtime.trace.enabled = True
def mark(label):
    marks.append((label, time.perf_counter()))
import pallet.cli.main, pallet.cli.run, pallet.engine.containers, pallet.engine.lifecycle, pallet.engine.rootfs
import pallet.engine.spec_plan, pallet.engine.runtimes, pallet.engine.monitor.monitor
mark("imports")
def wrap(obj, name, label):
    f = getattr(obj, name)
    def w(*a, **k):
        mark(label + ">")
        try:
            return f(*a, **k)
        finally:
            mark(label + "<")
    setattr(obj, name, w)
E = pallet.engine
for mod, names in [(E.containers, ["create", "remove"]), (E.lifecycle, ["_prepare", "cleanup"]),
                   (E.rootfs, ["resolve_image", "prepare"]), (E.spec_plan, ["check"])]:
    for n in names:
        wrap(mod, n, n)
for n in ("create", "start", "delete"):
    wrap(E.runtimes.LibraryRuntime, n, "runtime." + n)
wrap(E.monitor.monitor.Monitor, "run", "monitor")
code = pallet.cli.main.main(sys.argv[1:])
mark("main_returned")
import atexit
def report():
    mark("exit")
    out, prev = [], marks[0][1]
    for label, t in marks:
        out.append(f"{label}={(t - prev) * 1000:.3f}")
        prev = t
    sys.stderr.write("PHASES " + " ".join(out) + "\n")
atexit.register(report)
sys.exit(code)
'''


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--trace", action="store_true", help="also print the runtime's --debug marks of the last run")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="pallet-phases-")
    python = os.path.join(os.path.dirname(sys.executable), "python")
    argv = ["--root", f"{work}/root", "--runroot", f"{work}/run"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    child = CHILD.replace("REPO]", repr(REPO) + "]").replace("if TRACE:", f"if {args.trace}:")
    try:
        rootfs = busybox_rootfs.build(os.path.join(work, "rootfs"))
        tar = subprocess.run(["tar", "--numeric-owner", "-C", rootfs, "-c", "."], capture_output=True, check=True).stdout
        subprocess.run([python, "-I", "-S", "-c", child, *argv, "import", "-", "bb:1"], input=tar, env=env,
                       check=True, capture_output=True)
        phases: dict[str, list[float]] = {}
        for i in range(args.runs + 1):
            r = subprocess.run([python, "-I", "-S", "-c", child, *argv, "run", "--rm", "bb:1", "/bin/true"],
                               env=env, capture_output=True, text=True)
            line = next((x for x in r.stderr.splitlines() if x.startswith("PHASES ")), "")
            if r.returncode != 0 or not line:
                raise SystemExit(f"run failed ({r.returncode}): {r.stderr.strip()}")
            if i == 0:
                continue  # warm-up: .pyc files, seccomp cache
            for n, tok in enumerate(line.split()[1:]):
                label, ms = tok.split("=")
                phases.setdefault(f"{n:02d} {label}", []).append(float(ms))
        if args.trace:
            print("\n".join(x for x in r.stderr.splitlines() if "debug:" in x))
        print(f"run --rm bb:1 /bin/true, {args.runs} runs: ms since the previous mark")
        total_min = 0.0
        for key, ms in phases.items():
            total_min += min(ms)
            print(f"  {key:<26} min {min(ms):7.2f}   median {statistics.median(ms):7.2f}")
        print(f"  {'sum of the minima':<26}     {total_min:7.2f}  (plus the interpreter's start, ~10 ms)")
    finally:
        subprocess.run(["umount", "-R", "-l", work], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

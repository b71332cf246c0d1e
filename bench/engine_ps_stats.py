"""`pallet ps` and `pallet stats --no-stream` with N running containers, against podman's, in the same run.

Both engines get the same busybox image (imported from one rootfs tar) and N detached `sleep 3600`
containers with no network. podman runs with a private containers.conf (cgroupfs manager, file events
logger, default_ulimits within this host's nofile hard limit) and storage.conf under a temp dir, and
with runc (`--runtime runc`: crun refuses this hybrid host unless hugetlb is moved to v1, which this
script does not do). Rounds are interleaved (each round runs every command once, in a rotating order);
the report has min / median / mean per command and pallet's time over podman's (target: <= 0.5).

Everything is removed at the end, also after a failure: containers of both engines, podman's storage
mounts under the temp dir, the temp dirs.

    .venv/bin/python bench/engine_ps_stats.py [-n 50] [--rounds 15] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import busybox_rootfs  # noqa: E402
from _cleanup import engine_parents, remove_new_parents, unmount_under, wait_for_processes_under  # noqa: E402

PALLET = os.path.join(os.path.dirname(sys.executable), "pallet")
IMAGE = "bench/busybox:ps-stats"


def hard_nofile() -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def podman_env(tmp: str, run: str) -> dict:
    conf, storage = os.path.join(tmp, "containers.conf"), os.path.join(tmp, "storage.conf")
    nofile = min(hard_nofile(), 20000)
    with open(conf, "w") as f:
        f.write(f"""[containers]
default_ulimits = ["nofile={nofile}:{nofile}", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{run}/events.log"
tmp_dir = "{run}/tmp"
""")
    with open(storage, "w") as f:
        f.write(f"""[storage]
driver = "overlay"
graphroot = "{tmp}/podman-root"
runroot = "{run}/podman-runroot"
""")
    os.makedirs(os.path.join(run, "tmp"), exist_ok=True)
    return {**os.environ, "CONTAINERS_CONF": conf, "CONTAINERS_STORAGE_CONF": storage}


def sh(argv: list[str], *, env=None, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, env=env, input=input, capture_output=True)
    if check and r.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:6])}... failed ({r.returncode}): {r.stderr.decode(errors='replace').strip()}")
    return r


def timed(argv: list[str], env=None) -> float:
    t = time.perf_counter()
    r = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {r.stderr.decode(errors='replace').strip()}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=50, help="running containers per engine")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--json", default="", help="write the results here too")
    ap.add_argument("--no-podman", action="store_true", help="measure pallet alone")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root")
    use_podman = not args.no_podman and shutil.which("podman") is not None
    tmp = tempfile.mkdtemp(prefix="pallet-bench-ps-")
    run = tempfile.mkdtemp(prefix="pallet-bench-ps-", dir="/run")
    pl = [PALLET, "--root", os.path.join(tmp, "root"), "--runroot", os.path.join(run, "runroot")]
    penv = podman_env(tmp, run) if use_podman else None
    parents_before = engine_parents()
    try:
        rootfs = busybox_rootfs.build(os.path.join(tmp, "rootfs"))
        tar = sh(["tar", "--numeric-owner", "-C", rootfs, "-c", "."]).stdout
        sh([*pl, "import", "-", IMAGE], input=tar)
        if use_podman:
            sh(["podman", "import", "-q", "-", IMAGE], env=penv, input=tar)
        t = time.perf_counter()
        for i in range(args.n):
            sh([*pl, "run", "-d", "--name", f"bench{i}", IMAGE, "sleep", "3600"])
        print(f"pallet: started {args.n} in {time.perf_counter() - t:.1f} s")
        if use_podman:
            t = time.perf_counter()
            for i in range(args.n):
                sh(["podman", "run", "-d", "--runtime", "runc", "--net", "none", "--name", f"bench{i}", IMAGE,
                    "sleep", "3600"], env=penv)
            print(f"podman: started {args.n} in {time.perf_counter() - t:.1f} s")
        cmds = {"pallet ps": (pl + ["ps"], None), "pallet stats --no-stream": (pl + ["stats", "--no-stream"], None)}
        floor = {"pallet version (floor)": (pl + ["version"], None)}  # interpreter + CLI dispatch, no store
        if use_podman:
            cmds["podman ps"] = (["podman", "ps"], penv)
            cmds["podman stats --no-stream"] = (["podman", "stats", "--no-stream"], penv)
        # sanity: every engine lists all its containers
        for name, (argv, env) in list(cmds.items()):
            lines = sh(argv, env=env).stdout.decode().strip().splitlines()
            if len(lines) != args.n + 1:
                raise SystemExit(f"{name}: expected {args.n} rows, got {len(lines) - 1}")
        cmds.update(floor)
        for argv, env in cmds.values():  # warm-up
            timed(argv, env)
        times: dict[str, list[float]] = {k: [] for k in cmds}
        names = list(cmds)
        for r in range(args.rounds):
            for k in names[r % len(names):] + names[:r % len(names)]:
                argv, env = cmds[k]
                times[k].append(timed(argv, env))
        report = {"n": args.n, "rounds": args.rounds, "load": open("/proc/loadavg").read().split()[:3], "commands": {}}
        print(f"\n{args.n} running containers, {args.rounds} interleaved rounds (ms)")
        print(f"{'command':<28}{'min':>8}{'median':>9}{'mean':>8}")
        for k, v in times.items():
            ms = [x * 1000 for x in v]
            report["commands"][k] = {"min": min(ms), "median": statistics.median(ms), "mean": statistics.mean(ms)}
            print(f"{k:<28}{min(ms):>8.1f}{statistics.median(ms):>9.1f}{statistics.mean(ms):>8.1f}")
        if use_podman:
            print("\npallet / podman (target <= 0.50):  min    median  mean")
            for verb in ("ps", "stats --no-stream"):
                a, b = report["commands"][f"pallet {verb}"], report["commands"][f"podman {verb}"]
                r = {k: a[k] / b[k] for k in ("min", "median", "mean")}
                report[f"ratio {verb}"] = r
                print(f"  {verb:<30}{r['min']:.2f}   {r['median']:.2f}    {r['mean']:.2f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=2)
        return 0
    finally:
        ids = subprocess.run([*pl, "ps", "-aq", "--no-trunc"], capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run([*pl, "rm", "-f", *ids], capture_output=True)
        if use_podman:
            subprocess.run(["podman", "rm", "-f", "-a", "-t", "0"], env=penv, capture_output=True)
            subprocess.run(["podman", "rmi", "-a", "-f"], env=penv, capture_output=True)
        wait_for_processes_under(tmp)
        wait_for_processes_under(run)
        remove_new_parents(parents_before)  # empty cgroup parents podman and pallet made for this run
        unmount_under(tmp)
        unmount_under(run)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(run, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

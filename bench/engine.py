"""pallet's engine against podman, same image, same run: `run --rm /bin/true`, `ps` and
`stats --no-stream` with N running containers, and the per-container monitor's memory.

    .venv/bin/python bench/engine.py [--runs 20] [--scale 50] [--no-podman]

podman runs with a private containers.conf (cgroupfs manager, file events logger,
default_ulimits within this host's nofile hard limit) and storage under a temp dir,
`--net=none --runtime runc` (crun refuses this hybrid-cgroup host without a host change).
pallet runs with its default (in-process) runtime, bytecode caching on (as installed).
Prints min / median / mean in ms and the ratios (run: podman/pallet; ps, stats: pallet/podman).
"""

from __future__ import annotations

import argparse
import os
import resource
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


def timed(argv: list[str], env: dict, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        out.append((time.perf_counter() - t) * 1000)
    return out


def pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pids_matching(needle: bytes) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if needle in open(f"/proc/{d}/cmdline", "rb").read():
                    out.append(int(d))
            except OSError:
                pass
    return out


def report(name: str, ms: list[float]) -> tuple[float, float, float]:
    lo, med, mean = min(ms), statistics.median(ms), statistics.mean(ms)
    print(f"  {name:<34} min {lo:7.1f} ms   median {med:7.1f} ms   mean {mean:7.1f} ms   (n={len(ms)})")
    return lo, med, mean


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--scale", type=int, default=50)
    ap.add_argument("--no-podman", action="store_true")
    args = ap.parse_args()
    podman = shutil.which("podman") and not args.no_podman
    work = tempfile.mkdtemp(prefix="pallet-bench-")
    parents_before = engine_parents()
    rootfs = busybox_rootfs.build(os.path.join(work, "rootfs"))
    penv = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    P = [PALLET, "--root", f"{work}/pallet-root", "--runroot", f"{work}/pallet-run"]
    tar = subprocess.run(["tar", "--numeric-owner", "-C", rootfs, "-c", "."], capture_output=True, check=True).stdout
    subprocess.run([*P, "import", "-", "bb:1"], input=tar, env=penv, check=True, capture_output=True)
    denv = dict(os.environ)
    if podman:
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        os.makedirs(f"{work}/podman/root")
        os.makedirs(f"{work}/podman/run")
        os.makedirs(f"{work}/podman/tmp")
        with open(f"{work}/podman/containers.conf", "w") as f:
            f.write(f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc=32768:32768"]\n'
                    f'[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                    f'events_logfile_path = "{work}/podman/events.log"\ntmp_dir = "{work}/podman/tmp"\n')
        with open(f"{work}/podman/storage.conf", "w") as f:
            f.write(f'[storage]\ndriver = "overlay"\ngraphroot = "{work}/podman/root"\nrunroot = "{work}/podman/run"\n')
        denv.update(CONTAINERS_CONF=f"{work}/podman/containers.conf", CONTAINERS_STORAGE_CONF=f"{work}/podman/storage.conf")
        subprocess.run(["podman", "import", "-q", "-", "bb:1"], input=tar, env=denv, check=True, capture_output=True)
    D = ["podman", "--runtime", "runc"]
    try:
        print(f"run --rm bb:1 /bin/true ({args.runs} runs each, interleaved)")
        timed([*P, "run", "--rm", "bb:1", "/bin/true"], penv, 2)  # warm caches, .pyc
        pr, dr = [], []
        for _ in range(args.runs):
            pr += timed([*P, "run", "--rm", "bb:1", "/bin/true"], penv, 1)
            if podman:
                dr += timed([*D, "run", "--rm", "--net=none", "bb:1", "/bin/true"], denv, 1)
        p = report("pallet run --rm", pr)
        if podman:
            d = report("podman run --rm (runc)", dr)
            print(f"  podman/pallet (target >= 3): min {d[0] / p[0]:.2f}x   median {d[1] / p[1]:.2f}x   "
                  f"mean {d[2] / p[2]:.2f}x")
        print(f"\nwith {args.scale} running containers")
        for i in range(args.scale):
            subprocess.run([*P, "run", "-d", "--name", f"s{i}", "bb:1", "sleep", "3600"], env=penv, check=True,
                           stdout=subprocess.DEVNULL)
            if podman:
                subprocess.run([*D, "run", "-d", "--net=none", "--name", f"s{i}", "bb:1", "sleep", "3600"], env=denv,
                               check=True, stdout=subprocess.DEVNULL)
        n = max(5, args.runs // 2)
        res = {}
        for verb in (["ps"], ["ps", "-a", "--no-trunc"], ["stats", "--no-stream"]):
            pt, dt = [], []
            for _ in range(n):  # interleaved, as run --rm: both engines see the same load
                pt += timed([*P, *verb], penv, 1)
                if podman:
                    dt += timed([*D, *verb], denv, 1)
            res[("pallet", *verb)] = report("pallet " + " ".join(verb), pt)
            if podman:
                res[("podman", *verb)] = report("podman " + " ".join(verb), dt)
                a, b = res[("pallet", *verb)], res[("podman", *verb)]
                print(f"  pallet/podman (target <= 0.5): min {a[0] / b[0]:.2f}   median {a[1] / b[1]:.2f}   "
                      f"mean {a[2] / b[2]:.2f}")
        mons = pids_matching(f"{work}/pallet-run".encode() + b"/containers/")
        mons = [p for p in mons if b"import monitor" in open(f"/proc/{p}/cmdline", "rb").read()]
        if mons:
            kb = [pss_kb(p) for p in mons]
            print(f"\npallet monitor PSS: mean {statistics.mean(kb) / 1024:.2f} MiB, max {max(kb) / 1024:.2f} MiB over {len(kb)}")
        if podman:
            cm = [p for p in pids_matching(b"conmon") if f"{work}/podman".encode() in open(f"/proc/{p}/cmdline", "rb").read()]
            if cm:
                kb = [pss_kb(p) for p in cm]
                print(f"conmon PSS:         mean {statistics.mean(kb) / 1024:.2f} MiB over {len(kb)}")
    finally:
        ids = subprocess.run([*P, "ps", "-aq"], env=penv, capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run([*P, "rm", "-f", *ids], env=penv, stdout=subprocess.DEVNULL)
        if podman:
            ids = subprocess.run([*D, "ps", "-aq"], env=denv, capture_output=True, text=True).stdout.split()
            if ids:
                subprocess.run([*D, "rm", "-f", "-t0", *ids], env=denv, stdout=subprocess.DEVNULL)
            subprocess.run(["podman", "system", "reset", "-f"], env=denv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_processes_under(work)
        unmount_under(work)
        remove_new_parents(parents_before)  # empty cgroup parents podman and pallet made for this run
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

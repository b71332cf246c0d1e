"""`make bench`: `run` of /bin/true on one busybox bundle with pallet-runtime, runc and crun.

Interleaved rounds (each round runs every runtime once, in a rotating
order), then mean, median and min per runtime and the ratios. crun refuses
hybrid cgroups while cgroup2 owns a controller (hugetlb here): if
/sys/fs/cgroup/hugetlb is not a mount, this script mounts the v1 hugetlb
hierarchy there for the run, and at the end removes the empty cgroups
made meanwhile and unmounts it (checking the kernel really gave hugetlb
back to cgroup2), unless live cgroups or crun/podman processes remain.

    .venv/bin/python bench/run_true.py [--rounds N]
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
sys.path.insert(0, REPO)

import busybox_rootfs  # noqa: E402

from pallet.runtime.spec import default_spec  # noqa: E402

HUGETLB = "/sys/fs/cgroup/hugetlb"


def is_mount(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def mount_hugetlb() -> bool:
    """Mount v1 hugetlb for crun if needed; True if we did (and so must undo it)."""
    if is_mount(HUGETLB) or not os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers"):
        return False
    with open("/sys/fs/cgroup/unified/cgroup.controllers") as f:
        if "hugetlb" not in f.read().split():
            return False
    created = not os.path.exists(HUGETLB)
    os.makedirs(HUGETLB, exist_ok=True)
    r = subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", HUGETLB], capture_output=True, text=True)
    if r.returncode != 0:
        if created:
            os.rmdir(HUGETLB)
        print(f"note: could not mount v1 hugetlb ({r.stderr.strip()}); crun may refuse to run", file=sys.stderr)
        return False
    return True


def _remove_empty_cgroups(top: str) -> None:
    """rmdir, bottom-up, the empty cgroups left in the hierarchy we mounted: every one was made
    while it was mounted (pallet's `pallet` parent, docker's and podman's parents...), and the
    kernel refuses to remove a cgroup that has tasks or children, so no live one goes."""
    for root, dirs, _ in os.walk(top, topdown=False):
        for d in dirs:
            try:
                os.rmdir(os.path.join(root, d))
            except OSError:
                pass


def _hierarchy_id(controller: str) -> int:
    with open("/proc/cgroups") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == controller:
                return int(fields[1])
    return 0


def _crun_users_running() -> bool:
    """crun (and podman's conmon) need the v1 hugetlb hierarchy here: never pull it from under them."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() in ("crun", "conmon", "podman"):
                        return True
            except OSError:
                pass
    return False


def unmount_hugetlb() -> None:
    """Unmount, and make sure the kernel really dropped the v1 hierarchy (hugetlb back on cgroup2):
    a hierarchy whose children were still dying at umount time survives invisibly; remount and retry."""
    # While it is mounted, other sessions' containers get cgroups here too: wait (bounded) for them.
    # Leaving it mounted breaks whoever expects hugetlb on cgroup2, so this matters.
    deadline = time.monotonic() + 60
    while True:
        _remove_empty_cgroups(HUGETLB)
        leftover = [e.name for e in os.scandir(HUGETLB) if e.is_dir()]
        if _crun_users_running():
            leftover.append("(crun/podman running)")
        if not leftover or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if leftover:
        print(f"note: leaving {HUGETLB} mounted: still in use ({leftover[:3]}...)", file=sys.stderr)
        return
    # The kernel frees an unmounted v1 hierarchy only if no cgroup was left, counting ones still
    # dying: wait, unmount, wait, check; if it survived, remount (to reach it again) and retry.
    for _ in range(6):
        time.sleep(1)
        subprocess.run(["umount", HUGETLB], check=True)
        time.sleep(2)
        if _hierarchy_id("hugetlb") == 0:
            os.rmdir(HUGETLB)
            return
        subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", HUGETLB], check=True)
        _remove_empty_cgroups(HUGETLB)
    print(f"warning: the v1 hugetlb hierarchy survived 6 unmounts; left mounted at {HUGETLB}", file=sys.stderr)


def make_bundle(tmp: str) -> str:
    bundle = os.path.join(tmp, "bundle")
    busybox_rootfs.build(os.path.join(bundle, "rootfs"))
    config = default_spec()
    config["process"]["args"] = ["/bin/true"]
    config["process"]["terminal"] = False
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f)
    return bundle


def compile_bytecode() -> None:
    """Measure the installed state: byte-compiled modules (PYTHONDONTWRITEBYTECODE may be set here)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(REPO, "pallet")], env=env, check=True,
                   stdout=subprocess.DEVNULL)


def one_run(command: list[str], root: str, bundle: str, cid: str, env: dict) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([*command, "--root", root, "run", "--bundle", bundle, cid], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{command[-1]} run failed (rc={r.returncode}): {r.stderr.decode().strip()}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench needs root", file=sys.stderr)
        return 1
    compile_bytecode()
    launcher = os.path.join(REPO, "pallet", "runtime", "launcher.py")
    runtimes = {
        "pallet-runtime": [os.path.join(os.path.dirname(sys.executable), "pallet-runtime")],  # pip's console script
        "pallet-IS": [sys.executable, "-IS", launcher],  # the same CLI without `import re` and site
    }
    for name in ("runc", "crun"):
        path = shutil.which(name) or f"/usr/sbin/{name}"
        if os.path.exists(path):
            runtimes[name] = [path]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    mounted = "crun" in runtimes and mount_hugetlb()
    times: dict[str, list[float]] = {name: [] for name in runtimes}
    try:
        with tempfile.TemporaryDirectory(prefix="pallet-bench-") as tmp:
            bundle = make_bundle(tmp)
            names = list(runtimes)
            for name in names:  # warm caches once, untimed
                try:
                    one_run(runtimes[name], os.path.join(tmp, f"root-{name}"), bundle, f"warm-{name}", env)
                except RuntimeError as exc:
                    print(f"{name}: skipped: {exc}", file=sys.stderr)
                    del runtimes[name], times[name]
            names = list(runtimes)
            failures: dict[str, list[str]] = {name: [] for name in names}
            for i in range(args.rounds):
                order = names[i % len(names):] + names[: i % len(names)]
                for name in order:
                    try:
                        times[name].append(one_run(runtimes[name], os.path.join(tmp, f"root-{name}"), bundle, f"b{i}", env))
                    except RuntimeError as exc:  # counted and shown, the other rounds go on
                        failures[name].append(str(exc))
            for name, errs in failures.items():
                if errs:
                    print(f"{name}: {len(errs)} failed runs, first: {errs[0]}", file=sys.stderr)
    finally:
        if mounted:
            unmount_hugetlb()
    print(f"run /bin/true, busybox bundle, {args.rounds} interleaved rounds (ms)")
    print(f"{'runtime':<16}{'mean':>8}{'median':>8}{'min':>8}")
    stats = {}
    for name, ts in times.items():
        if not ts:
            continue
        ms = [t * 1000 for t in ts]
        stats[name] = (statistics.mean(ms), statistics.median(ms), min(ms))
        print(f"{name:<16}{stats[name][0]:>8.1f}{stats[name][1]:>8.1f}{stats[name][2]:>8.1f}")
    for mine in ("pallet-runtime", "pallet-IS"):
        me = stats.get(mine)
        for peer in ("runc", "crun"):
            if me and peer in stats:
                print(f"{mine} / {peer}: mean {me[0] / stats[peer][0]:.2f}x, median {me[1] / stats[peer][1]:.2f}x, "
                      f"min {me[2] / stats[peer][2]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

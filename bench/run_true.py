"""`make bench`: `run` of /bin/true on one busybox bundle with pallet-runtime, runc and crun.

Two bundles (issue 2 and issue 3): `plain`, runc's default spec running
/bin/true; `full`, the same plus the Docker-equivalent default seccomp
profile (pallet's, for the spec's capabilities) and resources set (memory,
pids, cpu shares, quota and period). Interleaved rounds (each round runs
every runtime on every bundle once, in a rotating order), then mean,
median and min per runtime and bundle and the ratios; and the compile time
of that seccomp profile (pallet's compiler and libseccomp's, in process,
no cache: what a first `run` of a profile pays). crun refuses
hybrid cgroups while cgroup2 owns a controller (hugetlb here): if
/sys/fs/cgroup/hugetlb is not a mount, this script mounts the v1 hugetlb
hierarchy there for the run, and at the end removes the cgroups of its own
containers and unmounts it (checking the kernel really gave hugetlb back
to cgroup2), unless other cgroups or crun/podman processes remain
(bench/_hugetlb.py).

    .venv/bin/python bench/run_true.py [--rounds N] [--bundles plain,full]
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

import _hugetlb  # noqa: E402  (bench/ is sys.path[0] when run as a script)
import busybox_rootfs  # noqa: E402

from pallet.runtime.spec import default_spec  # noqa: E402

# issue 3's "resources set": limits a real container would get, none of which /bin/true reaches.
RESOURCES = {
    "memory": {"limit": 256 * 1024 * 1024, "swap": 512 * 1024 * 1024},
    "pids": {"limit": 1024},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000},
}


def full_config(config: dict) -> dict:
    """`config` plus the default seccomp profile for its capabilities and RESOURCES."""
    from pallet.runtime.seccomp import default_profile

    config = json.loads(json.dumps(config))
    config["linux"]["seccomp"] = default_profile(config["process"]["capabilities"]["bounding"])
    config["linux"]["resources"] = {**config["linux"].get("resources", {}), **RESOURCES}
    return config


def make_bundles(tmp: str, names: list[str]) -> dict[str, str]:
    rootfs = os.path.join(tmp, "rootfs")
    busybox_rootfs.build(rootfs)
    config = default_spec()
    config["process"]["args"] = ["/bin/true"]
    config["process"]["terminal"] = False
    config["root"]["path"] = rootfs
    bundles = {}
    for name in names:
        bundle = os.path.join(tmp, f"bundle-{name}")
        os.mkdir(bundle)
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(full_config(config) if name == "full" else config, f)
        bundles[name] = bundle
    return bundles


def seccomp_compile_times(capabilities: list[str], n: int = 20) -> list[str]:
    """Mean and min of fresh compiles of the default profile, by backend (no cache)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from seccomp_compile import timed  # noqa: E402  (bench/seccomp_compile.py: the full study)

    from pallet.runtime.seccomp import compile as comp
    from pallet.runtime.seccomp import default_profile

    profile = default_profile(capabilities)
    lines = []
    for backend in ("pallet", "libseccomp"):
        try:
            prog = comp.compile_filter(profile, backend=backend, warn=lambda msg: None)
        except Exception as exc:  # libseccomp missing: say so, the rest stands
            lines.append(f"  {backend:<10}: unavailable ({exc})")
            continue
        mean, mn = timed(lambda: comp.compile_filter(profile, backend=backend, warn=lambda msg: None), n)
        lines.append(f"  {backend:<10}: mean {mean:6.2f} ms  min {mn:6.2f} ms  ({prog.instructions} BPF instructions, N={n})")
    return lines


def compile_bytecode() -> None:
    """Measure the installed state: byte-compiled modules (PYTHONDONTWRITEBYTECODE may be set here), the bundle."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(REPO, "pallet")], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    from pallet.runtime.bundle import build

    build()  # what `make venv` leaves for pallet-runtime (pallet/runtime/bundle.py)


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
    ap.add_argument("--bundles", default="plain,full", help="which bundles: plain, full or both (comma-separated)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench needs root", file=sys.stderr)
        return 1
    bundle_names = [b for b in args.bundles.split(",") if b]
    if not bundle_names or set(bundle_names) - {"plain", "full"}:
        print("--bundles: plain, full or both", file=sys.stderr)
        return 1
    compile_bytecode()
    # The installed command: `make venv` makes it a `python -I -S` script (no site, no `re`).
    runtimes = {"pallet-runtime": [os.path.join(os.path.dirname(sys.executable), "pallet-runtime")]}
    for name in ("runc", "crun"):
        path = shutil.which(name) or f"/usr/sbin/{name}"
        if os.path.exists(path):
            runtimes[name] = [path]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    hugetlb = _hugetlb.mount() if "crun" in runtimes else None
    if hugetlb:
        hugetlb.own(*(f"warm-{b}" for b in bundle_names), *(f"b{i}" for i in range(args.rounds)))
        hugetlb.own_parent("pallet")  # pallet-runtime's default parent when a spec has no cgroupsPath
    pairs = [(rt, b) for b in bundle_names for rt in runtimes]
    times: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
    try:
        with tempfile.TemporaryDirectory(prefix="pallet-bench-") as tmp:
            bundles = make_bundles(tmp, bundle_names)
            for pair in list(pairs):  # warm caches once, untimed
                rt, b = pair
                try:
                    one_run(runtimes[rt], os.path.join(tmp, f"root-{rt}"), bundles[b], f"warm-{b}", env)
                except RuntimeError as exc:
                    print(f"{rt} ({b}): skipped: {exc}", file=sys.stderr)
                    pairs.remove(pair)
                    del times[pair]
            failures: dict[tuple[str, str], list[str]] = {pair: [] for pair in pairs}
            for i in range(args.rounds):
                order = pairs[i % len(pairs):] + pairs[: i % len(pairs)]
                for rt, b in order:
                    try:
                        times[rt, b].append(one_run(runtimes[rt], os.path.join(tmp, f"root-{rt}"), bundles[b], f"b{i}", env))
                    except RuntimeError as exc:  # counted and shown, the other rounds go on
                        failures[rt, b].append(str(exc))
            for (rt, b), errs in failures.items():
                if errs:
                    print(f"{rt} ({b}): {len(errs)} failed runs, first: {errs[0]}", file=sys.stderr)
    finally:
        if hugetlb:
            hugetlb.release()
    print(f"run /bin/true, busybox bundle, {args.rounds} interleaved rounds (ms)")
    for b in bundle_names:
        what = "runc's default spec" if b == "plain" else "+ default seccomp profile, memory/pids/cpu limits"
        print(f"\n[{b}] {what}")
        print(f"{'runtime':<16}{'mean':>8}{'median':>8}{'min':>8}")
        stats = {}
        for rt in runtimes:
            ts = times.get((rt, b))
            if not ts:
                continue
            ms = [t * 1000 for t in ts]
            stats[rt] = (statistics.mean(ms), statistics.median(ms), min(ms))
            print(f"{rt:<16}{stats[rt][0]:>8.1f}{stats[rt][1]:>8.1f}{stats[rt][2]:>8.1f}")
        me = stats.get("pallet-runtime")
        for peer in ("runc", "crun"):
            if me and peer in stats:
                print(f"pallet-runtime / {peer}: mean {me[0] / stats[peer][0]:.2f}x, median {me[1] / stats[peer][1]:.2f}x, "
                      f"min {me[2] / stats[peer][2]:.2f}x")
    if "full" in bundle_names:
        print("\nseccomp: compile the default profile (Docker's, for runc's default capabilities), in process, no cache")
        for line in seccomp_compile_times(default_spec()["process"]["capabilities"]["bounding"]):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

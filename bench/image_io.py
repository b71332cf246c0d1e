"""Image I/O: pallet import / save / load of a ~300 MB, 20k-file image against GNU tar -x and podman.

    .venv/bin/python bench/image_io.py [--runs 3] [--workdir /var/tmp/pallet-bench] [--no-podman]

The image is /work/shared/reference/gen_bigrootfs.py's synthetic rootfs (or
a copy of the generator shipped beside it), tarred once with GNU tar. Every
timed run starts from a fresh target, after `sync` (outside the timing), as
the peers baseline does; outputs are deleted only at the end (see main()). Runs of the different tools are interleaved so the
machine's noise hits them alike; we report min and median and the ratios of
the medians against `tar -x` (the target: pallet import/load <= 1.5x).

podman is installed with apt when missing (unless --no-podman) and run with
a private containers.conf / storage.conf (cgroupfs, file events logger, the
host's nofile hard limit), as in reference/peers-baseline.sh.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PALLET = str(Path(sys.executable).parent / "pallet")
GENERATOR = [Path("/work/shared/reference/gen_bigrootfs.py"), REPO / "bench" / "gen_bigrootfs.py"]


def sh(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, **kw)


def rm(path: Path):
    if path.is_dir() and not path.is_symlink():
        # layer dirs may hold immutable-free but root-owned files; plain rm is fastest
        subprocess.run(["rm", "-rf", str(path)], check=True)
    elif path.exists():
        path.unlink()


def timed(fn) -> float:
    sh("sync")
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def prepare(work: Path) -> Path:
    tarball = work / "big.tar"
    if tarball.exists():
        return tarball
    sys.path.insert(0, str(REPO / "tools"))
    import busybox_rootfs

    bb = work / "busybox"
    rm(bb)
    busybox_rootfs.build(str(bb))
    gen = next((g for g in GENERATOR if g.exists()), None)
    if gen is None:
        sys.exit("gen_bigrootfs.py not found")
    sh(sys.executable, gen, bb, work / "bigrootfs")
    sh("tar", "--numeric-owner", "-c", "-C", work / "bigrootfs", "-f", tarball, ".")
    rm(work / "bigrootfs")
    return tarball


def podman_available() -> bool:
    if shutil.which("podman") is None:
        r = subprocess.run(["apt-get", "install", "-y", "-q", "podman"], capture_output=True,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if r.returncode != 0 or shutil.which("podman") is None:
            print("podman: not available, skipped")
            return False
    return True


def podman_env(pd: Path) -> dict:
    """A private podman (containers.conf + storage.conf) rooted at `pd`."""
    for d in ("root", "run", "tmp"):
        (pd / d).mkdir(parents=True, exist_ok=True)
    nofile = subprocess.run(["sh", "-c", "ulimit -Hn"], capture_output=True, text=True).stdout.strip()
    (pd / "containers.conf").write_text(
        f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc=32768:32768"]\n'
        f'[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
        f'events_logfile_path = "{pd}/events.log"\ntmp_dir = "{pd}/tmp"\n')
    (pd / "storage.conf").write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{pd}/root"\nrunroot = "{pd}/run"\n')
    return dict(os.environ, CONTAINERS_CONF=str(pd / "containers.conf"), CONTAINERS_STORAGE_CONF=str(pd / "storage.conf"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", default="/var/tmp/pallet-bench")
    ap.add_argument("--no-podman", action="store_true")
    a = ap.parse_args()
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    tarball = prepare(work)
    size = tarball.stat().st_size
    with_podman = not a.no_podman and podman_available()
    # Every run writes into new dirs and nothing is deleted until the end: ext4 skips inodes
    # freed in the last ~30 s when it allocates new ones (recently_deleted()), which makes an
    # unpack right after an `rm -rf` of a 20k-file tree several times slower, whoever does it.
    out = work / "runs"
    rm(out)
    out.mkdir()
    results: dict[str, list[float]] = {}

    def add(name, secs):
        results.setdefault(name, []).append(secs)
        print(f"  {name:<24} {secs:7.2f} s", flush=True)

    try:
        for i in range(a.runs):
            print(f"run {i + 1}/{a.runs}", flush=True)
            d = out / str(i)
            d.mkdir()
            run = d / "pallet-run"

            def pallet(root, *args):
                sh(PALLET, "--root", root, "--runroot", run, *args, stdout=subprocess.DEVNULL)

            (d / "tarx").mkdir()
            add("tar -x", timed(lambda: sh("tar", "--numeric-owner", "-x", "-f", tarball, "-C", d / "tarx")))
            add("pallet import", timed(lambda: pallet(d / "root1", "import", tarball, "big:1")))
            add("pallet save", timed(lambda: pallet(d / "root1", "save", "-o", d / "saved.tar", "big:1")))
            add("pallet load", timed(lambda: pallet(d / "root2", "load", "-i", d / "saved.tar")))
            if with_podman:
                e1, e2 = podman_env(d / "podman1"), podman_env(d / "podman2")
                quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                add("podman import", timed(lambda: sh("podman", "import", "-q", tarball, "big:1", env=e1, **quiet)))
                add("podman save", timed(lambda: sh("podman", "save", "-q", "--format", "docker-archive",
                                                    "-o", d / "podman-save.tar", "big:1", env=e1, **quiet)))
                add("podman load", timed(lambda: sh("podman", "load", "-q", "-i", d / "podman-save.tar", env=e2, **quiet)))
    finally:
        rm(out)

    base = statistics.median(results["tar -x"])
    print(f"\nimage: {size / 1e6:.0f} MB tar, {a.runs} runs; ratios are medians over tar -x's median ({base:.2f} s)")
    print(f"{'operation':<24} {'min s':>7} {'median s':>9} {'x tar -x':>9}")
    for name, vals in results.items():
        med = statistics.median(vals)
        print(f"{name:<24} {min(vals):7.2f} {med:9.2f} {med / base:9.2f}")
    for op in ("import", "load"):
        if f"podman {op}" in results:
            r = statistics.median(results[f"pallet {op}"]) / statistics.median(results[f"podman {op}"])
            print(f"pallet {op} / podman {op}: {r:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

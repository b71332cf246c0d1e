"""Run the OCI runtime validation programs (opencontainers/runtime-tools) against a runtime.

    .venv/bin/python tools/runtime_validation.py [--runtime CMD] [--only NAME,...] [--json FILE]
    .venv/bin/python tools/runtime_validation.py --install          # apt packages only

Each validation program is a small Go program that drives the runtime through its
command line (`$RUNTIME create/start/state/kill/delete`, chosen by the RUNTIME env var),
with a bundle unpacked from `rootfs-amd64.tar.gz` in its working directory, and, for
most of them, `runtimetest` copied into the rootfs and run as the container process:
it compares what it sees (mounts, devices, caps, rlimits, uid/gid...) with config.json
and prints TAP. This script counts the TAP lines of every program: `ok` (passed),
`ok # SKIP`, `not ok # TODO` (known holes in the suite: never counted as failures) and
`not ok` (failed), per program and in total.

Where the pieces come from:
- Debian: golang-go and golang-github-opencontainers-runtime-tools-dev (the library part:
  generate/, specerror/, error/), plus its deps and google/uuid, x/sys (`--install`).
- Debian's package leaves out `validation/` and `cmd/runtimetest/`, and tap-go is not
  packaged: they must already be in a GOPATH tree given by --src (default $RTVAL_SRC or
  /var/cache/pallet-rtval/gopath) as github.com/opencontainers/runtime-tools/{validation,
  cmd/runtimetest} and github.com/mndrix/tap-go. They are not part of this repository.
- The rootfs: tools/busybox_rootfs.py from Debian's busybox-static.

crun refuses this machine's hybrid cgroups unless hugetlb is a v1 hierarchy: for a crun
run this script mounts it and unmounts it after, as bench/run_true.py does.
Needs root. Binaries go to --cache (default /var/cache/pallet-rtval). Leftovers of the
programs (their containers, bundles, host mounts runc/crun make without a mount namespace,
/cgrouptest cgroups) are removed after each program.

Measured on this machine (2026-11-27, the 47 programs of the cache's tree, `ok` lines): runc
2715 (its process_rlimits run failed inside runc: 281 more when it passes), crun 3014,
pallet-runtime 3544. A full upstream tree has a few more programs, hence other totals.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

APT_PACKAGES = ["golang-go", "golang-github-opencontainers-runtime-tools-dev", "golang-github-google-uuid-dev",
                "golang-golang-x-sys-dev", "busybox-static"]
DEFAULT_CACHE = "/var/cache/pallet-rtval"
RT_PKG = "github.com/opencontainers/runtime-tools"
# One program's worst case: several containers, each waited for with 1 s polls, some sleeping 30 s.
PROGRAM_TIMEOUT = 300

TAP_LINE = re.compile(r"^(not ok|ok)\b(.*)$")
DIAG_ERROR = re.compile(r'^\s*"error": "[^"]', re.M)


def install() -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["dpkg", "-s", *APT_PACKAGES], capture_output=True).returncode == 0:
        return
    if subprocess.run(["apt-get", "install", "-y", "-q", *APT_PACKAGES], env=env, capture_output=True).returncode:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", *APT_PACKAGES], env=env, check=True, capture_output=True)


def go_env(src: str, cache: str) -> dict[str, str]:
    return dict(os.environ, GO111MODULE="off", GOPATH=f"{src}:/usr/share/gocode", GOFLAGS="",
                GOCACHE=os.path.join(cache, "gocache"), CGO_ENABLED="0")


def programs(src: str) -> list[str]:
    vdir = os.path.join(src, "src", RT_PKG, "validation")
    if not os.path.isdir(vdir):
        raise SystemExit(f"runtime validation: no validation sources at {vdir}: Debian's package lacks them; "
                         "give a GOPATH holding runtime-tools' validation/ and cmd/runtimetest/ with --src")
    return sorted(d for d in os.listdir(vdir)
                  if d != "util" and os.path.isfile(os.path.join(vdir, d, f"{d}.go")))


def build(src: str, cache: str, names: list[str]) -> str:
    """Build runtimetest (static: it runs inside a busybox rootfs) and every program into cache/bin."""
    bindir = os.path.join(cache, "bin")
    os.makedirs(bindir, exist_ok=True)
    env = go_env(src, cache)
    cwd = os.path.join(src, "src", RT_PKG)
    for name, pkg in [("runtimetest", "./cmd/runtimetest")] + [(n, f"./validation/{n}") for n in names]:
        r = subprocess.run(["go", "build", "-o", os.path.join(bindir, name), pkg], cwd=cwd, env=env,
                           capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(f"runtime validation: building {name} failed: {r.stderr.strip()}")
    return bindir


def make_workdir(bindir: str, tmp: str) -> str:
    """The programs read ./rootfs-amd64.tar.gz and ./runtimetest from their working directory."""
    import busybox_rootfs

    rootfs = busybox_rootfs.build(os.path.join(tmp, "rootfs"))
    work = os.path.join(tmp, "work")
    os.makedirs(work)
    with tarfile.open(os.path.join(work, "rootfs-amd64.tar.gz"), "w:gz") as tar:
        tar.add(rootfs, arcname=".")
    shutil.copy2(os.path.join(bindir, "runtimetest"), os.path.join(work, "runtimetest"))
    return work


def count_tap(stdout: str) -> dict[str, int]:
    """Counts of top-level TAP lines (diagnostic YAML blocks are indented, so never counted)."""
    c = {"ok": 0, "skip": 0, "todo": 0, "not_ok": 0}
    for line in stdout.splitlines():
        m = TAP_LINE.match(line)
        if not m:
            continue
        directive = m.group(2).upper()
        if "# TODO" in directive:
            c["todo"] += 1
        elif "# SKIP" in directive:
            c["skip"] += 1
        elif m.group(1) == "ok":
            c["ok"] += 1
        else:
            c["not_ok"] += 1
    return c


def run_program(path: str, runtime: str, work: str) -> dict:
    env = dict(os.environ, RUNTIME=runtime)
    t0 = time.monotonic()
    try:
        r = subprocess.run([path], cwd=work, env=env, capture_output=True, text=True, timeout=PROGRAM_TIMEOUT,
                           stdin=subprocess.DEVNULL)
        stdout, stderr, rc = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        stderr, rc = f"timed out after {PROGRAM_TIMEOUT}s", -1
    counts = count_tap(stdout)
    # The hook programs (hooks, poststart, poststop, *_fail) assert nothing: they report a broken
    # rule only as a diagnostic "error". Count those, so a regression there shows too.
    counts["diag_errors"] = len(DIAG_ERROR.findall(stdout)) if not (counts["ok"] or counts["not_ok"]) else 0
    failed = [ln for ln in stdout.splitlines() if ln.startswith("not ok") and "# TODO" not in ln.upper()]
    return {**counts, "rc": rc, "seconds": round(time.monotonic() - t0, 1), "failed": failed,
            "stderr": stderr.strip()[-2000:], "stdout": stdout}


def _bundles_dir_entries() -> set[str]:
    """Bundle dirs of the programs, and the cgroups their configs name (runtime-tools' cgroups
    package: /cgrouptest and testdir/cgrouptest), which runc and crun leave behind."""
    tmp = tempfile.gettempdir()
    found = {os.path.join(tmp, n) for n in os.listdir(tmp) if n.startswith("ocitest")}
    for top in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        for h in os.listdir(top) if os.path.isdir(top) else ():
            for rel in ("cgrouptest", "testdir/cgrouptest", "testdir"):
                if os.path.isdir(os.path.join(top, h, rel)):
                    found.add(os.path.join(top, h, rel))
    for rel in ("cgrouptest", "testdir/cgrouptest", "testdir"):  # cgroup2 mounted at the top
        if os.path.isfile("/sys/fs/cgroup/cgroup.controllers") and os.path.isdir(f"/sys/fs/cgroup/{rel}"):
            found.add(f"/sys/fs/cgroup/{rel}")
    return found


def cleanup(runtime: str, before: set[str]) -> list[str]:
    """Undo what a program left behind: its containers (a failed program skips its own cleanup),
    mounts a runtime made in the host's mount namespace (runc and crun do, for a config without a
    mount namespace), bundle dirs and the cgroups the configs name. Only what appeared during
    this run is touched. Returns the ids and cgroup names of what it removed (the caller's own)."""
    new = _bundles_dir_entries() - before
    if not new:
        return []
    ours = [os.path.basename(d) for d in new if d.startswith("/sys/fs/cgroup/")]
    r = subprocess.run([runtime, "list", "--format", "json"], capture_output=True, text=True)
    try:
        listed = json.loads(r.stdout or "[]") or []
    except json.JSONDecodeError:
        listed = []
    for c in listed:
        if any(str(c.get("bundle", "")).startswith(d) for d in new if d.startswith(tempfile.gettempdir())):
            ours.append(c["id"])
            subprocess.run([runtime, "delete", "--force", c["id"]], capture_output=True)
    with open("/proc/self/mountinfo") as f:
        mps = {line.split()[4] for line in f}
    for mp in sorted((x for x in mps if any(x == d or x.startswith(d + "/") for d in new)), reverse=True):
        subprocess.run(["umount", "-l", mp], capture_output=True)
    for d in sorted(new, key=len, reverse=True):  # children first
        if d.startswith("/sys/fs/cgroup/"):
            try:
                os.rmdir(d)  # the kernel refuses a cgroup that still has tasks or children
            except OSError:
                pass
        else:
            shutil.rmtree(d, ignore_errors=True)
    return ours


def with_hugetlb(runtime: str):
    """crun needs hugetlb as a v1 hierarchy here: mount it for the run (bench/_hugetlb.py), or None."""
    if os.path.basename(runtime) != "crun":
        return None
    sys.path.insert(0, os.path.join(REPO, "bench"))
    import _hugetlb

    return _hugetlb.mount()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runtime", default=os.environ.get("RUNTIME", os.path.join(REPO, ".venv", "bin", "pallet-runtime")))
    ap.add_argument("--src", default=os.environ.get("RTVAL_SRC", os.path.join(DEFAULT_CACHE, "gopath")))
    ap.add_argument("--cache", default=DEFAULT_CACHE)
    ap.add_argument("--only", default="", help="comma-separated program names")
    ap.add_argument("--json", default="", help="write per-program results here")
    ap.add_argument("--install", action="store_true", help="install the apt packages and exit")
    ap.add_argument("--no-install", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true", help="print failing assertions")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("runtime validation needs root", file=sys.stderr)
        return 1
    if not args.no_install:
        install()
    if args.install:
        return 0
    names = programs(args.src)
    if args.only:
        wanted = set(args.only.split(","))
        names = [n for n in names if n in wanted]
    bindir = build(args.src, args.cache, names)
    # The programs run from a temporary working directory: the runtime's path must be absolute.
    runtime = os.path.abspath(args.runtime) if os.sep in args.runtime else (shutil.which(args.runtime) or args.runtime)
    results: dict[str, dict] = {}
    hugetlb = with_hugetlb(runtime)
    try:
        with tempfile.TemporaryDirectory(prefix="pallet-rtval-") as tmp:
            work = make_workdir(bindir, tmp)
            before = _bundles_dir_entries()
            for name in names:
                res = run_program(os.path.join(bindir, name), runtime, work)
                ours = cleanup(runtime, before)
                if hugetlb:
                    hugetlb.own(*ours)
                results[name] = res
                print(f"{name:<34} ok {res['ok']:>5}  not ok {res['not_ok']:>4}  skip {res['skip']:>3}  "
                      f"todo {res['todo']:>3}  rc {res['rc']:>3}  {res['seconds']:>5}s"
                      + (f"  diagnostic errors {res['diag_errors']}" if res["diag_errors"] else ""), flush=True)
                if args.verbose:
                    for line in res["failed"][:40]:
                        print(f"    {line}")
                    if res["rc"] and res["stderr"]:
                        print("    stderr: " + res["stderr"][-600:].replace("\n", "\n    "))
    finally:
        if hugetlb:
            hugetlb.release()
    total = {k: sum(r[k] for r in results.values()) for k in ("ok", "skip", "todo", "not_ok", "diag_errors")}
    print(f"TOTAL {os.path.basename(runtime)}: ok {total['ok']}  not ok {total['not_ok']}  skip {total['skip']}  "
          f"todo {total['todo']}  (ok+skip {total['ok'] + total['skip']})  diagnostic errors {total['diag_errors']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runtime": runtime, "total": total, "programs": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make demo`: build a busybox image from Debian's busybox-static and run containers with it.

1. `pallet import` the busybox rootfs as an image, then `pallet run --rm` and a detached
   `pallet run -d` with `ps`, `logs`, `stats` and `rm -f` (the engine, daemonless).
2. The same rootfs as an OCI bundle under `pallet-runtime run` (the runtime alone).

Everything lives under one temporary --root/--runroot, removed at the end.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import busybox_rootfs  # noqa: E402

BIN = os.path.dirname(sys.executable)
PROBE = 'echo "hostname: $(hostname)"; echo "PID 1: $(cat /proc/1/comm) (pid $$)"; id'


# The limit as the container sees it: cgroup v1 (hybrid hosts) or v2.
MEMORY_LIMIT = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"


def show(argv: list[str], **kw) -> subprocess.CompletedProcess:
    shown = [os.path.basename(argv[0])] + [a for a in argv[1:] if not a.startswith(("--root=", "--runroot="))]
    print("$", shlex.join(shown), flush=True)
    return subprocess.run(argv, check=True, **kw)


def engine_demo(tmp: str, rootfs: str) -> None:
    pallet = [os.path.join(BIN, "pallet"), f"--root={tmp}/lib", f"--runroot={tmp}/run"]
    tar = subprocess.run(["tar", "--numeric-owner", "-C", rootfs, "-c", "."], capture_output=True, check=True)
    print("== pallet: import a busybox image, run containers")
    show(pallet + ["import", "-", "busybox:demo"], input=tar.stdout, stdout=subprocess.DEVNULL)
    show(pallet + ["images"])
    show(pallet + ["run", "--rm", "--name", "hello", "--hostname", "demo", "busybox:demo", "sh", "-c", PROBE])
    show(pallet + ["run", "-d", "--name", "ticker", "--memory", "64m", "busybox:demo",
                   "sh", "-c", "while true; do date; sleep 1; done"], stdout=subprocess.DEVNULL)
    try:
        show(pallet + ["ps"])
        show(pallet + ["exec", "ticker", "sh", "-c", MEMORY_LIMIT])
        show(pallet + ["stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}"])
        show(pallet + ["logs", "--tail", "1", "ticker"])
    finally:
        show(pallet + ["rm", "-f", "ticker"], stdout=subprocess.DEVNULL)
        show(pallet + ["system", "prune", "-a", "-f"], stdout=subprocess.DEVNULL)


def runtime_demo(tmp: str, rootfs: str) -> None:
    bundle = os.path.join(tmp, "bundle")
    os.makedirs(bundle)
    runtime = [os.path.join(BIN, "pallet-runtime"), "--root", os.path.join(tmp, "state")]
    subprocess.run(runtime + ["spec", "--bundle", bundle], check=True)
    config_path = os.path.join(bundle, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    config["root"]["path"] = rootfs  # absolute: the bundle reuses the image's rootfs
    config["process"]["terminal"] = False
    config["process"]["args"] = ["sh", "-c", PROBE]
    with open(config_path, "w") as f:
        json.dump(config, f)
    print("== pallet-runtime: the same rootfs as an OCI bundle")
    show(runtime + ["run", "--bundle", bundle, "demo"])


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="pallet-demo-") as tmp:
        rootfs = os.path.join(tmp, "rootfs")
        busybox_rootfs.build(rootfs)
        try:
            engine_demo(tmp, rootfs)
            runtime_demo(tmp, rootfs)
        except subprocess.CalledProcessError as err:
            print(f"demo: {os.path.basename(err.cmd[0])} exited {err.returncode}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

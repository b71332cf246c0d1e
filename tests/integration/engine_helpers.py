"""Drive the `pallet` command as a user would, with a private --root/--runroot per test."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from conftest import PALLET


@dataclass
class Pallet:
    root: Path
    runroot: Path
    image: list[str]  # what goes where IMAGE goes: ["busybox:test"] or ["--rootfs", DIR]
    config: Path | None = None
    made: list[str] = field(default_factory=list)

    def argv(self, *args: str) -> list[str]:
        base = [PALLET, "--root", str(self.root), "--runroot", str(self.runroot)]
        if self.config:
            base += ["--config", str(self.config)]
        return base + list(args)

    def __call__(self, *args: str, input: str | None = None, timeout: float = 60, check: bool = False) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.argv(*args), input=input, capture_output=True, text=True, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"pallet {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def ok(self, *args: str, **kw) -> str:
        return self(*args, check=True, **kw).stdout

    def run_d(self, *args: str) -> str:
        """`run -d [args] IMAGE cmd...`: args holds flags then the command; returns the id."""
        flags, cmd = _split(args)
        cid = self.ok("run", "-d", *flags, *self.image, *cmd).strip()
        return cid

    def inspect(self, ref: str) -> dict:
        return json.loads(self.ok("inspect", ref))[0]

    def remove_all(self) -> None:
        ids = self("ps", "-aq", "--no-trunc").stdout.split()
        if ids:
            self("rm", "-f", *ids)


def _split(args):
    if "--" in args:
        i = args.index("--")
        return list(args[:i]), list(args[i + 1:])
    return [], list(args)


def leftover_mounts(root: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(root))]


def leftover_cgroups(ids: list[str]) -> list[str]:
    out = []
    base = "/sys/fs/cgroup"
    for ctrl in os.listdir(base):
        d = os.path.join(base, ctrl, "pallet")
        if os.path.isdir(d):
            out += [os.path.join(d, c) for c in os.listdir(d) if c in ids]
    return out


def monitor_pids(p: Pallet, cid: str = "") -> list[int]:
    """Pids of the monitors of `p`'s containers (of `cid` only, when given)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = open(f"/proc/{d}/cmdline", "rb").read()
        except OSError:
            continue
        if b"import monitor" in cmd and str(p.runroot).encode() in cmd and cid.encode() in cmd:
            out.append(int(d))
    return out

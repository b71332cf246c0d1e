"""Helpers of the runtime integration tests: a runtime driver with cleanup, bundle configs, leak checks.

`Runtime(binary, root, cleanup)` runs a runc-compatible binary with its own
--root and registers `delete -f` for every id it creates, so no process,
cgroup or mount outlives a test even when it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import uuid
from pathlib import Path

from conftest import PALLET_RUNTIME

from pallet.runtime.spec import default_spec

RUNC = "/usr/sbin/runc"
CGROUP_PROBE = "/sys/fs/cgroup/pids"


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Runtime:
    def __init__(self, binary: str, root: Path, cleanup, name: str = ""):
        self.binary = binary
        self.root = Path(root)
        self.name = name or os.path.basename(binary)
        self.created: list[str] = []
        cleanup.add(self._cleanup)

    def __call__(self, *args: str, input: str | None = None, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
        for verb in ("create", "run"):
            if verb in args:
                self.created.append(args[-1])
        kw.setdefault("stdin", subprocess.DEVNULL if input is None else None)
        # Files, not pipes: a created or detached container keeps the stdio it was given,
        # and reading a pipe would wait for the container to exit.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            r = subprocess.run([self.binary, "--root", str(self.root), *args], input=input, stdout=out,
                               stderr=err, text=True, timeout=timeout, **kw)
            out.seek(0)
            err.seek(0)
            r.stdout, r.stderr = out.read(), err.read()
        return r

    def ok(self, *args: str, **kw) -> subprocess.CompletedProcess:
        r = self(*args, **kw)
        assert r.returncode == 0, f"{self.name} {' '.join(args)}: rc={r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def state(self, cid: str) -> dict:
        return json.loads(self.ok("state", cid).stdout)

    def _cleanup(self) -> None:
        for cid in reversed(self.created):
            subprocess.run([self.binary, "--root", str(self.root), "delete", "-f", cid],
                           capture_output=True, timeout=30)


def write_config(bundle: Path, args: list[str], mutate=None, terminal: bool = False) -> dict:
    """A runc-default config.json (our `spec`) running `args`, edited by `mutate(config)`."""
    config = default_spec()
    config["process"]["terminal"] = terminal
    config["process"]["args"] = args
    if mutate:
        mutate(config)
    (bundle / "config.json").write_text(json.dumps(config))
    return config


def leftovers(cid: str) -> list[str]:
    """Anything a container id left on the host: cgroup dirs in any hierarchy, mounts naming it."""
    found = []
    for top in Path("/sys/fs/cgroup").iterdir():
        for cand in (top / "pallet" / cid, top / cid):
            if cand.exists():
                found.append(str(cand))
    with open("/proc/self/mountinfo") as f:
        found += [line.strip() for line in f if cid in line]
    return found

"""Opt-in slow lane: the OCI runtime validation programs (runtime-tools) against pallet-runtime.

Runs tools/runtime_validation.py (about 2 minutes) when PALLET_RUNTIME_VALIDATION=1 and the
validation sources are present (see that script: Debian does not ship them). Every failing
assertion must be one of the known ones below, each failed by runc and crun here too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PALLET_RUNTIME, requires_root

REPO = Path(__file__).resolve().parents[2]
SRC = Path(os.environ.get("RTVAL_SRC", "/var/cache/pallet-rtval/gopath"))

pytestmark = [
    requires_root,
    pytest.mark.skipif(os.environ.get("PALLET_RUNTIME_VALIDATION") != "1",
                       reason="opt-in: set PALLET_RUNTIME_VALIDATION=1"),
    pytest.mark.skipif(not (SRC / "src/github.com/opencontainers/runtime-tools/validation").is_dir(),
                       reason=f"no runtime-tools validation sources under {SRC}"),
]

# (program, words of the failing assertion): failures that are the host's or the suite's.
KNOWN = [
    ("delete", "not `stopped` MUST"),  # pallet deletes a created container, as runc and crun do
    ("linux_cgroups_memory", "memory kernel"),  # kmem limits are gone from this kernel
    ("linux_cgroups_relative_memory", "memory kernel"),
    ("pidfile", "--pid-file"),  # the program kills an exited `true`, then fails on kill's error
    ("process_rlimits", "soft RLIMIT_NOFILE"),  # Go >= 1.19 raises runtimetest's own soft nofile
    ("misc_props", "unknown annotation"),  # the program runs /runtimetest without copying it
    ("start", "exit status 1"),  # expects `create` to accept a config without process
    ("process_capabilities", "CAP_SYS_RESOURCE"),  # not in this host's bounding set
    ("linux_rootfs_propagation", "CAP_SYS_RESOURCE"),
]
# Programs that exit non-zero by the suite's own design (pallet's output still counted).
KNOWN_EXIT = {"linux_rootfs_propagation", "process_capabilities_fail"}
# Hook programs report only diagnostics; `hooks` compares with a string no runtime can print.
KNOWN_DIAG = {"hooks"}


def test_validation_suite_has_no_unexpected_failures(tmp_path):
    out = tmp_path / "results.json"
    r = subprocess.run([sys.executable, str(REPO / "tools" / "runtime_validation.py"), "--runtime", PALLET_RUNTIME,
                        "--src", str(SRC), "--json", str(out)], capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr
    results = json.loads(out.read_text())["programs"]
    unexpected = [(name, line) for name, p in results.items() for line in p["failed"]
                  if not any(name == k and words in line for k, words in KNOWN)]
    assert unexpected == [], unexpected
    diag = [name for name, p in results.items() if p.get("diag_errors") and name not in KNOWN_DIAG]
    assert diag == [], diag
    crashed = {name: p["stderr"][-300:] for name, p in results.items() if p["rc"] != 0 and name not in KNOWN_EXIT}
    assert crashed == {}, crashed

"""Runtime-spec behaviours the OCI validation suite (tools/runtime_validation.py) checks, as a user sees them.

Capabilities the runtime cannot grant only warn; a config without a mount namespace runs
chrooted without touching the host's mounts; rootfsPropagation reaches the container's "/";
prestart hooks see "created"; a seccomp filter denying getcwd does not stop the start.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import PALLET_RUNTIME, requires_root
from runtime_helpers import Runtime, leftovers, unique, write_config

pytestmark = [requires_root, pytest.mark.root]

PR_CAPBSET_DROP = 24
CAP_SYS_BOOT = 22
CAP_KILL = 5  # in the default spec's sets


@pytest.fixture
def rt(tmp_path, cleanup):
    return Runtime(PALLET_RUNTIME, tmp_path / "state", cleanup, "pallet-runtime")


def _status_mask(text: str, field: str) -> int:
    line = next(x for x in text.splitlines() if x.startswith(field + ":"))
    return int(line.split()[1], 16)


def _drop_sys_boot_from_bounding_set() -> None:
    """preexec_fn: run pallet-runtime like a runtime in a restricted environment."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_CAPBSET_DROP, CAP_SYS_BOOT, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_capabilities_it_cannot_grant_are_warned_about_and_left_out(rt, bundle):
    def mutate(c):
        caps = c["process"]["capabilities"]
        for key in ("bounding", "effective", "permitted"):
            caps[key] = caps[key] + ["CAP_TEST", "CAP_SYS_BOOT"]
    write_config(bundle, ["cat", "/proc/self/status"], mutate)
    r = rt("run", "-b", str(bundle), unique(), preexec_fn=_drop_sys_boot_from_bounding_set)
    assert r.returncode == 0, r.stderr
    assert "process.capabilities.bounding: ignoring CAP_TEST (unknown capability)" in r.stderr
    assert "ignoring CAP_SYS_BOOT (not in pallet-runtime's own bounding set)" in r.stderr
    eff = _status_mask(r.stdout, "CapEff")
    assert eff & (1 << CAP_KILL) and not eff & (1 << CAP_SYS_BOOT)
    assert not _status_mask(r.stdout, "CapBnd") & (1 << CAP_SYS_BOOT)


def test_without_a_mount_namespace_it_chroots_and_mounts_nothing_on_the_host(rt, bundle):
    def mutate(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "mount"]
        c["linux"].pop("maskedPaths", None)
        c["linux"].pop("readonlyPaths", None)
        c["root"]["readonly"] = False
    write_config(bundle, ["sleep", "60"], mutate)
    cid = unique()
    rt.ok("create", "-b", str(bundle), cid)
    pid = rt.state(cid)["pid"]
    assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
    assert os.readlink(f"/proc/{pid}/root") == str(bundle / "rootfs")
    with open("/proc/self/mountinfo") as f:
        assert [line for line in f if str(bundle) in line] == []
    rt.ok("delete", "-f", cid)
    assert leftovers(cid) == []


def test_masked_paths_without_a_mount_namespace_are_refused(rt, bundle):
    write_config(bundle, ["true"], lambda c: c["linux"].update(
        namespaces=[n for n in c["linux"]["namespaces"] if n["type"] != "mount"]))
    cid = unique()
    r = rt("create", "-b", str(bundle), cid)
    assert r.returncode == 1 and "need a mount namespace" in r.stderr, r.stderr
    assert not (rt.root / cid).exists()


def _root_optional_fields(mountinfo: str) -> list[str]:
    """The optional fields (shared:N, master:N, unbindable) of the "/" mount."""
    for line in mountinfo.splitlines():
        fields = line.split()
        if fields[4] == "/":
            return fields[6:fields.index("-")]
    raise AssertionError("no / in mountinfo")


@pytest.mark.parametrize("propagation,expect", [
    ("shared", "shared:"), ("unbindable", "unbindable"), ("private", None),
])
def test_rootfs_propagation_reaches_the_container_root(rt, bundle, propagation, expect):
    write_config(bundle, ["cat", "/proc/self/mountinfo"],
                 lambda c: c["linux"].update(rootfsPropagation=propagation))
    r = rt.ok("run", "-b", str(bundle), unique())
    fields = _root_optional_fields(r.stdout)
    if expect is None:
        assert fields == [], fields
    else:
        assert any(f.startswith(expect) for f in fields), fields


def test_prestart_hooks_see_created_and_create_runtime_hooks_see_creating(rt, bundle, tmp_path):
    def hook(kind):
        return {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {tmp_path / kind}.json"]}
    write_config(bundle, ["true"], lambda c: c.update(hooks={"prestart": [hook("prestart")],
                                                             "createRuntime": [hook("createRuntime")]}))
    cid = unique()
    rt.ok("create", "-b", str(bundle), cid)
    assert json.loads((tmp_path / "prestart.json").read_text())["status"] == "created"
    assert json.loads((tmp_path / "createRuntime.json").read_text())["status"] == "creating"
    rt.ok("delete", "-f", cid)


def test_a_seccomp_filter_denying_getcwd_does_not_stop_the_start(rt, bundle):
    def mutate(c):
        c["process"]["noNewPrivileges"] = False  # the filter is then installed before the user switch
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                 "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]}
    write_config(bundle, ["sh", "-c", "busybox pwd -P; echo rc=$?"], mutate)
    r = rt.ok("run", "-b", str(bundle), unique())
    assert r.stdout.strip().endswith("rc=1"), r.stdout  # the filter is really there


def test_the_host_keeps_its_bounding_set_for_the_next_test():
    # The restricted-environment test dropped CAP_SYS_BOOT only in pallet-runtime's child.
    assert _status_mask(Path("/proc/self/status").read_text(), "CapBnd") & (1 << CAP_SYS_BOOT)

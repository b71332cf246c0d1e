"""linux.seccomp end to end: config.json -> `pallet-runtime run` -> what the kernel enforces in the container.

The same bundles run under runc where it is installed, so both runtimes
are held to the same observable behaviour.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from conftest import PALLET_RUNTIME, requires_root
from runtime_helpers import RUNC, Runtime, unique, write_config

from pallet.runtime.seccomp import default_profile

pytestmark = [requires_root, pytest.mark.root]

RUNTIMES = [PALLET_RUNTIME] + ([RUNC] if os.path.exists(RUNC) else [])


@pytest.fixture(params=RUNTIMES, ids=lambda b: os.path.basename(b))
def rt(request, tmp_path, cleanup):
    return Runtime(request.param, tmp_path / "state", cleanup)


def with_caps(*caps: str):
    def mutate(config: dict) -> None:
        for kind in ("bounding", "effective", "permitted"):
            config["process"]["capabilities"][kind] = sorted(set(config["process"]["capabilities"][kind]) | set(caps))
    return mutate


def combine(*mutators):
    def mutate(config: dict) -> None:
        for m in mutators:
            m(config)
    return mutate


def seccomp(profile: dict):
    return lambda config: config["linux"].__setitem__("seccomp", profile)


DENY_CLOCK = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
              "syscalls": [{"names": ["clock_settime", "clock_settime64", "settimeofday", "stime"], "action": "SCMP_ACT_ERRNO"}]}


def run(rt, bundle, script: str, mutate) -> tuple[int, str]:
    write_config(bundle, ["sh", "-c", script], mutate)
    r = rt("run", "--bundle", str(bundle), unique())
    return r.returncode, r.stdout + r.stderr


def test_seed_example_date_s_fails_with_eperm_and_host_clock_stays(rt, bundle):
    # CAP_SYS_TIME is granted, so only the filter can stop the call; the time set is *now*.
    wall, mono = time.time(), time.monotonic()
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    rc, out = run(rt, bundle, f"date -u -s '{now}'", combine(with_caps("CAP_SYS_TIME"), seccomp(DENY_CLOCK)))
    assert rc == 0, out  # busybox prints the error and exits 0
    assert "can't set date: Operation not permitted" in out
    assert abs((time.time() - wall) - (time.monotonic() - mono)) < 0.5


def test_default_profile_in_a_container(rt, bundle):
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    script = ("echo hi && ls / >/dev/null && cat /etc/passwd >/dev/null && (wget --help 2>&1 | grep -q Usage) && echo ok; "
              "unshare -U true 2>/dev/null || echo unshare-denied; "
              "mount -t tmpfs none /tmp 2>/dev/null || echo mount-denied; "
              "grep Seccomp: /proc/self/status")
    rc, out = run(rt, bundle, script, seccomp(default_profile(caps)))
    assert rc == 0, out
    lines = out.splitlines()
    for want in ("hi", "ok", "unshare-denied", "mount-denied", "Seccomp:\t2"):
        assert want in lines, out


def test_kill_process_rule_kills_the_container(rt, bundle):
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}]}
    rc, out = run(rt, bundle, "mkdir /tmp/x; echo survived", seccomp(profile))
    assert "survived" in out and rc == 0  # the shell survives: only its mkdir child was killed
    rc, out = run(rt, bundle, "exec mkdir /tmp/x", seccomp(profile))
    assert rc == 128 + signal.SIGSYS, out


def test_without_no_new_privileges_the_filter_still_applies(rt, bundle):
    rc, out = run(rt, bundle, "unshare -U true 2>/dev/null || echo denied",
                  combine(seccomp(default_profile([])), lambda c: c["process"].__setitem__("noNewPrivileges", False)))
    assert rc == 0 and "denied" in out.splitlines(), out


def test_bad_seccomp_field_fails_run_with_its_name(bundle, tmp_path, cleanup):
    rt = Runtime(PALLET_RUNTIME, tmp_path / "state", cleanup)
    bad = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}]}
    write_config(bundle, ["true"], seccomp(bad))
    r = rt("run", "--bundle", str(bundle), unique())
    assert r.returncode != 0
    assert "linux.seccomp.syscalls[0].action: 'SCMP_ACT_BOGUS' is not a known action" in r.stderr


def _bad_input(bundle, tmp_path, cleanup, profile: dict, script: str = "true"):
    rt = Runtime(PALLET_RUNTIME, tmp_path / "state", cleanup)
    write_config(bundle, ["sh", "-c", script], seccomp(profile))
    cid = unique()
    r = rt("run", "--bundle", str(bundle), cid)
    return rt, cid, r


@pytest.mark.parametrize("rule, message", [
    ({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "SCMP_CMP_SOME", "value": 1}]},
     "linux.seccomp.syscalls[0].args[0].op: 'SCMP_CMP_SOME' is not a known operator"),
    ({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "op": "SCMP_CMP_EQ", "value": 1}]},
     "linux.seccomp.syscalls[0].args[0].index: 6 is above 5"),
    ({"names": ["nosuchcall", "nosuchcall2"], "action": "SCMP_ACT_ERRNO"},
     "linux.seccomp.syscalls: no known syscall name (unknown: nosuchcall, nosuchcall2)"),
    ({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"},
     "linux.seccomp.syscalls[0].action: 'SCMP_ACT_NOTIFY' is not supported"),
])
def test_bad_rule_is_one_line_and_creates_nothing(bundle, tmp_path, cleanup, rule, message):
    from runtime_helpers import leftovers

    rt, cid, r = _bad_input(bundle, tmp_path, cleanup, {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]})
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and message in r.stderr, r.stderr
    assert not (tmp_path / "state" / cid).exists() and leftovers(cid) == []


def test_some_unknown_names_warn_and_the_rest_is_enforced(bundle, tmp_path, cleanup):
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["nosuchcall", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
    _, _, r = _bad_input(bundle, tmp_path, cleanup, profile, "mkdir /dev/shm/d 2>&1 || echo mkdir-denied")
    assert r.returncode == 0, r.stderr
    assert "seccomp: skipping unknown syscall names: nosuchcall" in r.stderr
    assert "Permission denied" in r.stdout and "mkdir-denied" in r.stdout.splitlines(), r.stdout

"""linux.seccomp validation (pallet.oci.seccomp) and the plan (pallet.runtime.seccomp.plan): bad input names its field."""

from __future__ import annotations

import errno

import pytest

from pallet.errors import InvalidArgument
from pallet.oci.seccomp import ACTIONS, Seccomp
from pallet.runtime.seccomp import compile_filter
from pallet.runtime.seccomp.plan import Condition, make_plan


def spec(**kw) -> dict:
    d = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]}
    d.update(kw)
    return d


def test_round_trip_keeps_every_field():
    d = {
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
        ],
    }
    assert Seccomp.from_json(d).to_json() == d


@pytest.mark.parametrize(
    "doc, field",
    [
        ({"syscalls": []}, "linux.seccomp.defaultAction: missing"),
        (spec(defaultAction="SCMP_ACT_FOO"), "linux.seccomp.defaultAction: 'SCMP_ACT_FOO' is not a known action"),
        (spec(syscalls=[{"names": ["read"], "action": "ALLOW"}]), "linux.seccomp.syscalls[0].action: 'ALLOW' is not a known action"),
        (spec(syscalls=[{"names": ["read"]}]), "linux.seccomp.syscalls[0].action: missing"),
        (spec(syscalls=[{"names": [], "action": "SCMP_ACT_ALLOW"}]), "linux.seccomp.syscalls[0].names: missing or empty"),
        (spec(syscalls=[{"names": ["read", 3], "action": "SCMP_ACT_ALLOW"}]), "linux.seccomp.syscalls[0].names[1]: 3"),
        (spec(syscalls=[{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]}]),
         "linux.seccomp.syscalls[0].args[0].op: 'SCMP_CMP_FOO' is not a known operator"),
        (spec(syscalls=[{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]),
         "linux.seccomp.syscalls[0].args[0].index: 6 is above 5"),
        (spec(syscalls=[{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]),
         "linux.seccomp.syscalls[0].args[0].value: -1 is negative"),
        (spec(syscalls=[{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2**64, "op": "SCMP_CMP_EQ"}]}]),
         "linux.seccomp.syscalls[0].args[0].value"),
        (spec(syscalls=[{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]), "linux.seccomp.syscalls[0].errnoRet: 70000 is above 65535"),
        (spec(architectures=["SCMP_ARCH_Z80"]), "linux.seccomp.architectures[0]: 'SCMP_ARCH_Z80' is not a known architecture"),
        (spec(flags=["SECCOMP_FILTER_FLAG_FAST"]), "linux.seccomp.flags[0]: 'SECCOMP_FILTER_FLAG_FAST' is not a known flag"),
        (spec(syscalls={"names": ["read"]}), "linux.seccomp.syscalls: {'names': ['read']} is not a list"),
        ("nope", "linux.seccomp: "),
    ],
)
def test_bad_field_is_named_on_one_line(doc, field):
    with pytest.raises(InvalidArgument) as e:
        compile_filter(doc)
    assert str(e.value).startswith(field)
    assert "\n" not in str(e.value)


def test_notify_is_refused_clearly():
    with pytest.raises(InvalidArgument, match=r"syscalls\[0\]\.action: 'SCMP_ACT_NOTIFY' is not supported"):
        compile_filter(spec(syscalls=[{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]))
    with pytest.raises(InvalidArgument, match=r"defaultAction: 'SCMP_ACT_NOTIFY' is not supported"):
        compile_filter(spec(defaultAction="SCMP_ACT_NOTIFY"))


def test_errno_ret_only_with_errno_or_trace():
    with pytest.raises(InvalidArgument, match=r"syscalls\[0\]\.errnoRet: 5 is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW"):
        compile_filter(spec(defaultAction="SCMP_ACT_ERRNO", syscalls=[{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 5}]))
    with pytest.raises(InvalidArgument, match=r"linux.seccomp.defaultErrnoRet: 38 is only valid"):
        compile_filter(spec(defaultAction="SCMP_ACT_KILL", defaultErrnoRet=38))


def test_unknown_names_warn_and_are_skipped():
    warnings: list[str] = []
    plan = make_plan(
        Seccomp.from_json(spec(syscalls=[{"names": ["getppid", "no_such_call"], "action": "SCMP_ACT_ERRNO"}])),
        known=lambda n: n != "no_such_call", warn=warnings.append,
    )
    assert [r.name for r in plan.rules] == ["getppid"]
    assert warnings == ["seccomp: skipping unknown syscall names: no_such_call"]


def test_all_names_unknown_is_an_error():
    with pytest.raises(InvalidArgument, match=r"linux.seccomp.syscalls: no known syscall name \(unknown: bogus1, bogus2\)"):
        compile_filter(spec(syscalls=[{"names": ["bogus1"], "action": "SCMP_ACT_ERRNO"}, {"names": ["bogus2"], "action": "SCMP_ACT_KILL"}]))


def test_compile_warns_on_stderr_for_unknown_names(capsys):
    compile_filter(spec(syscalls=[{"names": ["getppid", "frobnicate"], "action": "SCMP_ACT_ERRNO"}]))
    assert "seccomp: skipping unknown syscall names: frobnicate" in capsys.readouterr().err


def test_plan_actions_errno_and_default_rules():
    s = Seccomp.from_json({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},                    # == default: dropped, as runc does
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
            {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS"},
        ],
    })
    plan = make_plan(s, known=lambda n: True)
    assert plan.default_action == ACTIONS["SCMP_ACT_ERRNO"] | errno.EPERM
    assert [(r.name, r.action) for r in plan.rules] == [
        ("read", 0x7FFF0000), ("clone3", 0x00050000 | 38), ("ptrace", 0x7FF00000 | 7), ("kill", 0x80000000),
    ]


def test_same_index_twice_becomes_alternatives_like_runc():
    s = Seccomp.from_json(spec(syscalls=[{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [
        {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]))
    plan = make_plan(s, known=lambda n: True)
    assert [r.conditions for r in plan.rules] == [(Condition(0, 4, 1),), (Condition(0, 4, 2),)]
    s = Seccomp.from_json(spec(syscalls=[{"names": ["mmap"], "action": "SCMP_ACT_ERRNO", "args": [
        {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 4, "op": "SCMP_CMP_MASKED_EQ", "valueTwo": 4}]}]))
    plan = make_plan(s, known=lambda n: True)
    assert [r.conditions for r in plan.rules] == [(Condition(0, 4, 1), Condition(2, 7, 4, 4))]


def test_flags_become_filter_bits():
    prog = compile_filter(spec(flags=["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]))
    assert prog.flags == 0b111


def test_wait_killable_recv_needs_notify():
    with pytest.raises(InvalidArgument, match=r"linux.seccomp.flags\[1\]: 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV' needs SCMP_ACT_NOTIFY"):
        compile_filter(spec(flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]))


def test_features_lists_what_compiles():
    from pallet.runtime.seccomp import features

    f = features()
    assert f["enabled"] and "SCMP_ACT_NOTIFY" not in f["actions"] and "SCMP_CMP_MASKED_EQ" in f["operators"]
    for action in f["actions"]:
        compile_filter(spec(syscalls=[{"names": ["getppid"], "action": action}]))


def test_the_child_side_imports_nothing_but_the_installer():
    """preload imports pallet.runtime.seccomp before fork; the compiler, tables and JSON stay out of the child."""
    import subprocess
    import sys

    code = ("import sys, pallet.runtime.seccomp; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('pallet') or m in ('json', 'dataclasses'))))")
    out = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert {"pallet.runtime.seccomp", "pallet.runtime.seccomp.program", "pallet.linux.seccomp"} <= out
    heavy = {m for m in out if m.startswith(("pallet.oci", "pallet.cgroups", "pallet.engine"))
             or (m.startswith("pallet.runtime.") and m not in ("pallet.runtime.seccomp", "pallet.runtime.seccomp.program"))}
    assert not heavy and "json" not in out and "dataclasses" not in out, sorted(out)

"""Device rules: the v1 emulator, the v1 plan and the v2 BPF program agree."""

import itertools

import pytest

from pallet.cgroups.devices import DEFAULT_ALLOWED, effective, emulate, rule
from pallet.cgroups.v1 import devices as v1
from pallet.cgroups.v2.device_program import compile_program, encode, run
from pallet.oci.resources import LinuxResources


def test_default_rules_allow_basic_devices_only():
    rules = effective(None)
    assert rules.default_allow is False
    assert rules.allows("c", 1, 3, "rw")        # /dev/null
    assert rules.allows("c", 136, 4, "rw")      # a pty
    assert not rules.allows("c", 1, 1, "r")     # /dev/mem
    assert not rules.allows("b", 8, 0, "r")     # a disk
    assert rules.allows("b", 8, 0, "m")         # runc lets any device be mknod'ed


def test_spec_rule_allows_and_later_rule_wins():
    spec = LinuxResources.from_json({"devices": [
        {"allow": True, "type": "b", "major": 7, "access": "rw"},
        {"allow": False, "type": "b", "major": 7, "access": "w"},
    ]}).devices
    rules = effective(spec, defaults=False)
    assert rules.allows("b", 7, 3, "r") and not rules.allows("b", 7, 3, "w")
    assert not rules.allows("b", 7, 3, "m")   # no defaults: mknod denied too


def test_only_exact_match_is_removed():
    # v1 semantics: a deny of c 1:3 doesn't punch a hole in an allow of c *:*
    rules = emulate([rule(False, "a", None, None, "rwm"), rule(True, "c", None, None, "rwm"),
                     rule(False, "c", 1, 3, "rwm")])
    assert rules.allows("c", 1, 3, "r")


def test_a_rule_resets():
    rules = emulate([rule(True, "c", 1, 3, "r"), rule(True, "a", None, None, "rwm"), rule(False, "b", 8, None, "w")])
    assert rules.default_allow and len(rules.exceptions) == 1
    assert not rules.allows("b", 8, 1, "rw") and rules.allows("b", 8, 1, "r")


def test_v1_plan():
    p = v1.plan(LinuxResources.from_json({"devices": [{"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"}]}),
                defaults=False)
    assert p == [("devices.deny", "a"), ("devices.allow", "c 10:229 rw")]
    assert v1.plan(LinuxResources.from_json({}))[0] == ("devices.deny", "a")
    assert ("devices.allow", "c 136:* rwm") in v1.plan(LinuxResources.from_json({}))


CASES = [
    (None, True),
    ([{"allow": True, "type": "b", "major": 7, "access": "rw"}, {"allow": False, "type": "b", "major": 7, "minor": 2, "access": "w"}], True),
    ([{"allow": True, "type": "a", "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 1, "access": "rw"},
      {"allow": False, "type": "b", "access": "r"}], False),
    ([{"allow": True, "type": "c", "major": 5, "access": "r"}], False),
]


@pytest.mark.parametrize("devices,defaults", CASES)
def test_bpf_program_matches_emulator(devices, defaults):
    spec = LinuxResources.from_json({"devices": devices} if devices else {}).devices
    rules = effective(spec, defaults=defaults)
    prog = compile_program(rules)
    for type, major, minor, access in itertools.product("bc", (1, 5, 7, 8, 136), (0, 1, 2, 3), ("r", "w", "m", "rw", "rwm")):
        assert bool(run(prog, type, major, minor, access)) == rules.allows(type, major, minor, access), \
            (type, major, minor, access)


def test_encoding():
    code = encode(compile_program(effective(None)))
    assert len(code) % 8 == 0
    assert code[:8] == bytes([0x61, 0x12, 0, 0, 0, 0, 0, 0])   # ldxw r2, [r1+0]
    assert code[-8:] == bytes([0x95, 0, 0, 0, 0, 0, 0, 0])      # exit


def test_default_list_is_runc_s():
    assert len(DEFAULT_ALLOWED) == 11

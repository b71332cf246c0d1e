"""From `linux.seccomp` JSON to a Plan: the pure, backend-neutral half of compiling.

The plan has every decision a backend must not make twice: action values
with their errno, the target architectures, the filter flags, and the rules
flattened to one (syscall name, action, AND-ed conditions) per entry, in
the profile's order. Two conditions on the same argument index make runc
add one rule per condition (an OR); the plan does the same.

Unknown syscall names are warned about on stderr and skipped, as runc
does; a profile where *every* name is unknown is an error.
"""

from __future__ import annotations

import errno
import sys
from dataclasses import dataclass
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~4 ms)

from pallet.errors import InvalidArgument
from pallet.oci.seccomp import ACTIONS, ARCHES, FLAGS, OPERATORS, PREFIX, Seccomp

if TYPE_CHECKING:
    from typing import Callable

# A syscall of a foreign architecture kills the process: there is no
# sensible errno for a program the profile never meant to run.
BAD_ARCH_ACTION = ACTIONS["SCMP_ACT_KILL_PROCESS"]
ERRNO_ACTIONS = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")  # their low 16 bits carry errnoRet


@dataclass(frozen=True)
class Condition:
    """(arg[index] OP a) or, for MASKED_EQ, (arg[index] & a) == b; libseccomp's operator number."""

    index: int
    op: int
    a: int
    b: int = 0


@dataclass(frozen=True)
class Rule:
    name: str
    action: int
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Plan:
    default_action: int
    arches: tuple[int, ...]       # AUDIT_ARCH values (ARCHES); empty = the native one
    flags: int                    # SECCOMP_FILTER_FLAG_* bits
    rules: tuple[Rule, ...]
    bad_arch_action: int = BAD_ARCH_ACTION
    # Every known name the profile mentions, whatever its action (rules equal to the default
    # included): runc's ENOSYS stub starts above the largest of their numbers (bpf.py).
    referenced: tuple[str, ...] = ()


# runc's isAllowAction: under a permissive default new syscalls just pass (a tracer handles them itself).
PERMISSIVE_DEFAULTS = (ACTIONS["SCMP_ACT_ALLOW"], ACTIONS["SCMP_ACT_LOG"], ACTIONS["SCMP_ACT_TRACE"])
ACTION_MASK = 0xFFFF0000  # SECCOMP_RET_ACTION_FULL: the action without its data (errno, trace message)
ENOSYS_ACTION = ACTIONS["SCMP_ACT_ERRNO"] | errno.ENOSYS


def wants_enosys_stub(plan: "Plan") -> bool:
    """Whether calls above the profile's largest syscall get ENOSYS (runc's stub; see bpf.py, enosys.py)."""
    return (plan.default_action & ACTION_MASK) not in PERMISSIVE_DEFAULTS and plan.default_action != ENOSYS_ACTION


def action_value(action: str, errno_ret: int | None, path: str, errno_path: str) -> int:
    if action == "SCMP_ACT_NOTIFY":
        raise InvalidArgument(f"{path}: 'SCMP_ACT_NOTIFY' is not supported (pallet has no seccomp agent)")
    if action in ERRNO_ACTIONS:
        return ACTIONS[action] | ((errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    if errno_ret is not None:
        raise InvalidArgument(f"{errno_path}: {errno_ret} is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {action}")
    return ACTIONS[action]


def _alternatives(conds: tuple[Condition, ...]) -> list[tuple[Condition, ...]]:
    """AND all conditions, unless two test the same index: then one rule per condition (runc)."""
    if len(conds) < 2:
        return [conds]
    indexes = [c.index for c in conds]
    if len(set(indexes)) == len(indexes):
        return [conds]
    return [(c,) for c in conds]


def make_plan(spec: Seccomp, known: Callable[[str], bool], warn: Callable[[str], None] | None = None) -> Plan:
    """Flatten `spec`; `known(name)` says whether a syscall name exists for the target arches."""
    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    default = action_value(spec.default_action, spec.default_errno_ret, f"{PREFIX}.defaultAction", f"{PREFIX}.defaultErrnoRet")
    rules: list[Rule] = []
    unknown: list[str] = []
    referenced: dict[str, None] = {}
    total = 0
    for i, s in enumerate(spec.syscalls):
        path = f"{PREFIX}.syscalls[{i}]"
        act = action_value(s.action, s.errno_ret, f"{path}.action", f"{path}.errnoRet")
        conds = tuple(
            Condition(a.index, OPERATORS[a.op], a.value, a.value_two) for a in s.args
        )
        for name in s.names:
            total += 1
            if not known(name):
                unknown.append(name)
                continue
            referenced[name] = None
            if act == default:
                continue  # runc skips these: libseccomp refuses a rule equal to the default
            for alt in _alternatives(conds):
                rules.append(Rule(name, act, alt))
    if unknown:
        if total and len(unknown) == total:
            raise InvalidArgument(f"{PREFIX}.syscalls: no known syscall name (unknown: {', '.join(sorted(set(unknown))[:5])})")
        warn(f"seccomp: skipping unknown syscall names: {', '.join(sorted(set(unknown)))}")
    return Plan(default_action=default, arches=tuple(dict.fromkeys(ARCHES[a] for a in spec.architectures)),
                flags=filter_flags(spec), rules=tuple(rules), referenced=tuple(referenced))


def filter_flags(spec: Seccomp) -> int:
    """SECCOMP_FILTER_FLAG_* bits; WAIT_KILLABLE_RECV only means something with a listener, which we refuse."""
    flags = 0
    for i, f in enumerate(spec.flags):
        if f == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV":
            raise InvalidArgument(f"{PREFIX}.flags[{i}]: {f!r} needs SCMP_ACT_NOTIFY, which pallet does not support")
        flags |= FLAGS[f]
    return flags

"""Device access rules: the one meaning shared by v1 and v2.

The OCI list is applied in order and the last matching rule wins. The
v1 kernel does not evaluate a list: it keeps a default (allow or deny)
and a set of exceptions, where a rule of the default's kind only removes
an exception that matches it *exactly* (a `deny c 1:3` does not punch a
hole in an `allow c *:*` exception). `emulate()` replays the OCI list
through that same model, so v1 (devices.allow/deny) and v2 (an eBPF
program, which could express anything) enforce identical semantics, and
a spec behaves the same on both versions (runc does the same).
"""

from __future__ import annotations

from pallet.oci.resources import DeviceRule
from pallet.values import frozen

WILDCARD = None


def rule(allow: bool, type: str, major: int | None, minor: int | None, access: str) -> DeviceRule:
    return DeviceRule(allow=allow, type=type, major=major, minor=minor, access=access)


# runc's AllowedDevices, appended after the spec's rules: every container
# may mknod anything (opening it is what the rules guard) and use the
# basic character devices, ttys, and the tun device.
DEFAULT_ALLOWED: tuple[DeviceRule, ...] = (
    rule(True, "c", WILDCARD, WILDCARD, "m"),
    rule(True, "b", WILDCARD, WILDCARD, "m"),
    rule(True, "c", 1, 3, "rwm"),      # /dev/null
    rule(True, "c", 1, 8, "rwm"),      # /dev/random
    rule(True, "c", 1, 7, "rwm"),      # /dev/full
    rule(True, "c", 5, 0, "rwm"),      # /dev/tty
    rule(True, "c", 1, 5, "rwm"),      # /dev/zero
    rule(True, "c", 1, 9, "rwm"),      # /dev/urandom
    rule(True, "c", 136, WILDCARD, "rwm"),  # /dev/pts/*
    rule(True, "c", 5, 2, "rwm"),      # /dev/ptmx
    rule(True, "c", 10, 200, "rwm"),   # /dev/net/tun
)


@frozen
class DeviceRules:
    """The result of replaying a rule list: a default and its exceptions.

    Every exception has the opposite meaning of the default.
    """

    default_allow: bool
    exceptions: tuple[DeviceRule, ...]

    def allows(self, type: str, major: int, minor: int, access: str) -> bool:
        """Would a process get `access` to the device? (for tests and `debug`)"""
        hits = [e for e in self.exceptions if _matches(e, type, major, minor)]
        if self.default_allow:
            # denied when a deny exception covers any requested bit
            return not any(set(access) & set(e.access) for e in hits)
        # allowed only when one allow exception covers every requested bit
        return any(set(access) <= set(e.access) for e in hits)


def _matches(r: DeviceRule, type: str, major: int, minor: int) -> bool:
    return (r.type in ("a", type) and r.major in (None, major) and r.minor in (None, minor))


def _key(r: DeviceRule) -> tuple:
    # The kernel stores "a" as "a *:*" and treats it as its own type.
    return (r.type, r.major, r.minor)


def emulate(rules: tuple[DeviceRule, ...] | list[DeviceRule], default_allow: bool = False) -> DeviceRules:
    """Replay `rules` as the v1 kernel would, starting from `default_allow`.

    A new cgroup starts from its parent (allow-all at the root); a runtime
    always resets it, so the caller passes the state it writes first.
    """
    allow = default_allow
    exceptions: dict[tuple, DeviceRule] = {}
    for r in rules:
        if r.type == "a":
            # The kernel reads any "a" line as "reset": new default, no
            # exceptions, whatever major/minor/access follow it.
            allow, exceptions = r.allow, {}
            continue
        if r.allow != allow:
            old = exceptions.get(_key(r))
            access = "".join(c for c in "rwm" if c in r.access or (old and c in old.access))
            exceptions[_key(r)] = r.replace(access=access)
        else:
            old = exceptions.get(_key(r))
            if old is None:
                continue  # only an exact match is removed (kernel semantics)
            left = "".join(c for c in old.access if c not in r.access)
            if left:
                exceptions[_key(r)] = old.replace(access=left)
            else:
                del exceptions[_key(r)]
    return DeviceRules(default_allow=allow, exceptions=tuple(exceptions.values()))


def effective(spec_rules: tuple[DeviceRule, ...] | None, *, defaults: bool = True) -> DeviceRules:
    """The rules a container gets: deny all, then the spec's, then runc's defaults."""
    rules = [rule(False, "a", WILDCARD, WILDCARD, "rwm"), *(spec_rules or ())]
    if defaults:
        rules.extend(DEFAULT_ALLOWED)
    return emulate(rules)


def to_v1_line(r: DeviceRule) -> str:
    """"c 1:3 rwm" as devices.allow/deny take it."""
    major = "*" if r.major is None else str(r.major)
    minor = "*" if r.minor is None else str(r.minor)
    return f"{r.type} {major}:{minor} {r.access}"

"""The default seccomp profile, resolved once per set of capabilities and kept under <runroot>/seccomp-profiles."""

from __future__ import annotations

import pytest

from conftest import requires_root
from engine_image import pl  # noqa: F401 (a fixture)

pytestmark = [requires_root, pytest.mark.root]

SET_CLOCK_TO_NOW = "date -s \"$(date +'%Y-%m-%d %H:%M:%S')\""  # nothing moves if a filter is missing


def _clock_blocked(pl, *flags: str) -> bool:
    r = pl("run", "--rm", *flags, *pl.image, "sh", "-c", SET_CLOCK_TO_NOW)
    return "Operation not permitted" in r.stdout + r.stderr


def test_cached_profiles_follow_the_capabilities(pl):
    cache = pl.runroot / "seccomp-profiles"
    for _ in range(2):  # the second round reads both profiles from the cache
        assert _clock_blocked(pl)
        assert not _clock_blocked(pl, "--cap-add", "SYS_TIME")
    entries = sorted(p.name for p in cache.iterdir())
    assert len(entries) == 2 and all(n.endswith(".json") for n in entries)
    assert {oct(p.stat().st_mode & 0o777) for p in cache.iterdir()} == {"0o600"}


def test_a_damaged_cache_entry_is_rebuilt(pl):
    assert _clock_blocked(pl)
    cache = pl.runroot / "seccomp-profiles"
    [entry] = list(cache.iterdir())
    for damage in ("", "{not json", '{"defaultAction": "SCMP_ACT_ALLOW"}'):  # empty, corrupt, no rules
        entry.write_text(damage)
        out = pl.ok("run", "--rm", *pl.image, "grep", "Seccomp:", "/proc/self/status")
        assert out.split()[1] == "2"
        assert _clock_blocked(pl)
        assert '"syscalls"' in entry.read_text()

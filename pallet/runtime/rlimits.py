"""process.rlimits -> setrlimit(2), named in errors."""

from __future__ import annotations

import resource

from pallet.linux._libc import strerror

RLIMITS: dict[str, int] = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}
_INFINITY = (1 << 64) - 1


def apply(rlimits) -> None:
    for r in rlimits:
        soft = resource.RLIM_INFINITY if r.soft >= _INFINITY else r.soft
        hard = resource.RLIM_INFINITY if r.hard >= _INFINITY else r.hard
        try:
            resource.setrlimit(RLIMITS[r.type], (soft, hard))
        except (OSError, ValueError) as exc:
            err = getattr(exc, "errno", None) or 1
            cur = resource.getrlimit(RLIMITS[r.type])[1]
            why = f" (the host's hard limit is {cur} and raising it needs CAP_SYS_RESOURCE)" if hard > cur and cur != resource.RLIM_INFINITY else ""
            raise OSError(err, f"setrlimit {r.type} soft={r.soft} hard={r.hard}: {strerror(err)}{why}") from None

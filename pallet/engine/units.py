"""Docker's human units (go-units): sizes in decimal units, durations as `docker ps` words them."""

from __future__ import annotations

import time

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(n: float, precision: int = 4) -> str:
    """go-units HumanSizeWithPrecision: `system df` and prune totals use 4 significant digits (HumanSize),
    `images` and `ps -s` use 3."""
    i = 0
    while n >= 1000 and i < len(_DECIMAL) - 1:
        n /= 1000.0
        i += 1
    return f"{n:.{precision}g}{_DECIMAL[i]}"


def human_duration(seconds: float) -> str:
    """go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = int(seconds / 3600 + 0.5)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 7 * 2:
        return f"{h // 24} days"
    if h < 24 * 30 * 2:
        return f"{h // 24 // 7} weeks"
    if h < 24 * 365 * 2:
        return f"{h // 24 // 30} months"
    return f"{h // 24 // 365} years"


def since(ts: float, now: float | None = None) -> str:
    """"5 minutes ago", or N/A for an unknown time."""
    if not ts:
        return "N/A"
    return human_duration(max(0.0, (now or time.time()) - ts)) + " ago"

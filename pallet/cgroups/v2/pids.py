"""v2 pids: pids.max, same file and values as v1."""

from __future__ import annotations

from pallet.cgroups.v1.pids import apply, plan, stats  # noqa: F401  (identical on v2)

NAME = "pids"

"""v2 rdma: the same rdma.max file as v1."""

from __future__ import annotations

from pallet.cgroups.v1.rdma import apply, plan  # noqa: F401  (identical on v2)

NAME = "rdma"

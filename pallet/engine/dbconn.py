"""The engine database (pallet.metadata.db: WAL, busy timeout, migrations); re-exported for the container use cases."""

from __future__ import annotations

from pallet.metadata.db import open_db, write

__all__ = ["open_db", "write"]

"""The in-place apply path is taken only for trusted, uncompressed, seekable input."""

import io
import os

from pallet.store import layer


def test_trusted_section_rules(tmp_path):
    p = tmp_path / "l.tar"
    p.write_bytes(b"\0" * 1024)
    os.chmod(p, 0o644)
    with open(p, "rb") as f:
        assert (layer._trusted_section(f, None) is not None) == (os.geteuid() == os.stat(p).st_uid)
    os.chmod(p, 0o666)  # others could rewrite it between the check and tar's read
    with open(p, "rb") as f:
        assert layer._trusted_section(f, None) is None
    os.chmod(p, 0o644)
    p.write_bytes(b"\x1f\x8b" + b"\0" * 100)  # compressed: streamed
    with open(p, "rb") as f:
        assert layer._trusted_section(f, None) is None
    assert layer._trusted_section(io.BytesIO(b"\0" * 1024), None) is None

"""`list`: every container under --root with its live status."""

from __future__ import annotations

from pallet.runtime import state as st


def list_containers(root: str) -> list[dict]:
    out = []
    for cid in st.list_ids(root):
        try:
            cs = st.load(root, cid)
        except Exception:  # a half-removed container: skip it, as runc does
            continue
        status = st.status(root, cs)
        out.append({
            "ociVersion": st.OCI_VERSION, "id": cs.id, "pid": cs.pid if status != st.STOPPED else 0,
            "status": status, "bundle": cs.bundle, "rootfs": cs.rootfs, "created": cs.created,
            "owner": cs.owner,
        })
        if cs.annotations:  # runc leaves the key out when there are none
            out[-1]["annotations"] = cs.annotations
    return out

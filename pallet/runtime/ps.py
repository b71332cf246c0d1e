"""`ps ID [-f table|json] [-- ps-args]`: the container's processes, found through its cgroup."""

from __future__ import annotations

from pallet.errors import PalletError
from pallet.runtime import state as st


def pids(root: str, container_id: str) -> list[int]:
    cs = st.load(root, container_id)
    status = st.status(root, cs)
    st.require(cs, status, (st.CREATED, st.RUNNING, st.PAUSED), "ps")
    if cs.cgroup:
        from pallet.cgroups import manager_from_json

        return sorted(manager_from_json(cs.cgroup).pids())
    return [cs.pid]


def ps(root: str, container_id: str, *, fmt: str = "table", ps_args=()) -> list[int] | str:
    found = pids(root, container_id)
    if fmt == "json":
        return found
    import subprocess

    args = list(ps_args) or ["-ef"]
    try:
        out = subprocess.run(["ps", *args], capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        raise PalletError("ps: the ps program is not installed") from None
    except subprocess.CalledProcessError as exc:
        raise PalletError(f"ps {' '.join(args)}: {exc.stderr.strip() or exc}") from None
    lines = out.splitlines()
    if not lines:
        return ""
    header = lines[0].split()
    if "PID" not in header:
        raise PalletError(f"ps {' '.join(args)}: no PID column in the output")
    col = header.index("PID")
    wanted = set(found)
    keep = [lines[0]]
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in wanted:
            keep.append(line)
    return "\n".join(keep) + "\n"

"""`top`: the host's `ps` over a container's processes, as Docker does (default `ps -ef`, any ps options
accepted, the output's PID column picks the container's rows)."""

from __future__ import annotations

import subprocess

from pallet.engine import containers
from pallet.errors import InvalidArgument, PalletError, WrongState


def top(env, ref: str, ps_args: list[str]) -> tuple[list[str], list[list[str]]]:
    """(column titles, one row per process of the container) from `ps ps_args`."""
    st = containers.get(env, ref)
    if st.status not in ("running", "paused"):
        raise WrongState(f"container {st.name} is {'stopped' if st.status == 'exited' else st.status}: cannot list its processes")
    args = ps_args or ["-ef"]
    for a in args:  # Docker refuses to rename the PID column: its rows could not be told apart
        key, eq, val = a.rpartition("=")
        if eq and val.startswith("PID") and key.rsplit(",", 1)[-1].removeprefix("-o").strip() not in ("pid", ""):
            raise InvalidArgument(f"ps argument {a!r}: renaming a column to {val} is not allowed")
    pids = {str(p) for p in env.runtime(st.config.runtime).ps(st.id)}
    # `-q PIDS` (procps-ng) asks ps for just these; an older ps refuses it, then every process is listed
    out = _ps(args + ["-q", ",".join(sorted(pids))]) if pids else None
    if out is None:
        out = _ps(args, check=True)
    return parse_ps(out, pids)


def _ps(args: list[str], *, check: bool = False) -> str | None:
    try:
        proc = subprocess.run(["ps", *args], capture_output=True, text=True)
    except FileNotFoundError:
        raise PalletError("top: the host has no `ps` command") from None
    if proc.returncode != 0:
        if check:
            lines = proc.stderr.strip().splitlines()
            raise InvalidArgument(f"ps {' '.join(args)}: {lines[0] if lines else 'exit status %d' % proc.returncode}")
        return None
    return proc.stdout


def parse_ps(output: str, pids: set[str]) -> tuple[list[str], list[list[str]]]:
    lines = output.splitlines()
    titles = lines[0].split() if lines else []
    if "PID" not in titles:
        raise InvalidArgument("ps output has no PID column: top needs one (e.g. -o pid,comm)")
    at = titles.index("PID")
    rows = []
    for line in lines[1:]:
        fields = line.split()
        if len(fields) <= at or fields[at] not in pids:
            continue
        last = len(titles) - 1  # the last column (the command) keeps its spaces
        rows.append(fields[:last] + [" ".join(fields[last:])])
    return titles, rows

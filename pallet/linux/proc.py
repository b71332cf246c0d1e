"""Parsers of /proc files, each returning frozen dataclasses.

A flat module of functions: one `parse_*` per format (pure, takes the
text, unit-tested) and a thin `read_*` that reads the file. Other layers
(cgroups, runtime, debug) read /proc only through these.

The values are frozen, typed records made by `pallet.values.frozen` rather than
`dataclasses`: `pallet-runtime create` reads mountinfo (to find the
cgroup hierarchies), and importing dataclasses costs it ~10 ms (inspect,
re...).
"""

from __future__ import annotations

from pallet.values import frozen


# --- /proc/PID/mountinfo ----------------------------------------------------


@frozen
class MountInfo:
    """One line of mountinfo (proc(5)); octal escapes (\\040) decoded."""

    mount_id: int
    parent_id: int
    major: int
    minor: int
    root: str            # the path inside the filesystem that is mounted
    mountpoint: str
    options: tuple[str, ...]        # per-mount options (rw, relatime...)
    optional: tuple[str, ...]       # shared:N, master:N, propagate_from:N
    fstype: str
    source: str
    super_options: tuple[str, ...]  # per-superblock (for cgroup v1: the controllers)


def _unescape(field: str) -> str:
    # The kernel escapes space, tab, newline and backslash as \ooo.
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and len(field[i + 1:i + 4]) == 3 and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[MountInfo]:
    mounts = []
    for line in text.splitlines():
        if not line.strip():
            continue
        left, _, right = line.partition(" - ")
        fields = left.split(" ")
        fstype, source, super_opts = (right.split(" ") + ["", ""])[:3]
        major, minor = fields[2].split(":")
        mounts.append(MountInfo(
            mount_id=int(fields[0]), parent_id=int(fields[1]),
            major=int(major), minor=int(minor),
            root=_unescape(fields[3]), mountpoint=_unescape(fields[4]),
            options=tuple(fields[5].split(",")), optional=tuple(fields[6:]),
            fstype=fstype, source=_unescape(source),
            super_options=tuple(super_opts.split(",")) if super_opts else (),
        ))
    return mounts


def read_mountinfo(pid: int | str = "self") -> list[MountInfo]:
    with open(f"/proc/{pid}/mountinfo") as f:
        return parse_mountinfo(f.read())


# --- /proc/PID/cgroup -------------------------------------------------------


@frozen
class CgroupMembership:
    """One line of /proc/PID/cgroup: `ID:controllers:path`.

    On cgroup v2 the line is `0::/path` (no controllers); a v1 named
    hierarchy shows `name=systemd` among the controllers.
    """

    hierarchy_id: int
    controllers: tuple[str, ...]
    path: str


def parse_proc_cgroup(text: str) -> list[CgroupMembership]:
    out = []
    for line in text.splitlines():
        if not line:
            continue
        hid, controllers, path = line.split(":", 2)
        out.append(CgroupMembership(hierarchy_id=int(hid), path=path,
                                       controllers=tuple(c for c in controllers.split(",") if c)))
    return out


def read_proc_cgroup(pid: int | str = "self") -> list[CgroupMembership]:
    with open(f"/proc/{pid}/cgroup") as f:
        return parse_proc_cgroup(f.read())


# --- /proc/PID/status -------------------------------------------------------


@frozen
class ProcStatus:
    """The fields of /proc/PID/status that pallet reads.

    Capability sets are the kernel's 64-bit masks; sizes are in bytes
    (the file says kB). `raw` keeps every field as text.
    """

    name: str
    pid: int
    ppid: int
    cap_inh: int
    cap_prm: int
    cap_eff: int
    cap_bnd: int
    cap_amb: int
    vm_rss: int | None
    vm_swap: int | None        # None for kernel threads (no mm)
    cpus_allowed_list: str
    mems_allowed_list: str
    raw: dict[str, str]


def _kb(value: str | None) -> int | None:
    if value is None:
        return None
    number, _, unit = value.partition(" ")
    return int(number) * 1024 if unit.strip() == "kB" else int(number)


def parse_status(text: str) -> ProcStatus:
    raw: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            raw[key] = value.strip()
    hexcap = lambda key: int(raw.get(key, "0"), 16)  # noqa: E731
    return ProcStatus(
        name=raw.get("Name", ""), pid=int(raw.get("Pid", "0")), ppid=int(raw.get("PPid", "0")),
        cap_inh=hexcap("CapInh"), cap_prm=hexcap("CapPrm"), cap_eff=hexcap("CapEff"),
        cap_bnd=hexcap("CapBnd"), cap_amb=hexcap("CapAmb"),
        vm_rss=_kb(raw.get("VmRSS")), vm_swap=_kb(raw.get("VmSwap")),
        cpus_allowed_list=raw.get("Cpus_allowed_list", ""),
        mems_allowed_list=raw.get("Mems_allowed_list", ""),
        raw=raw,
    )


def read_status(pid: int | str = "self") -> ProcStatus:
    with open(f"/proc/{pid}/status") as f:
        return parse_status(f.read())


# --- /proc/PID/stat ---------------------------------------------------------


@frozen
class ProcStat:
    """The fields of /proc/PID/stat pallet reads.

    `start_time` is field 22, in clock ticks since boot: with the pid it
    identifies a process across pid reuse (runc stores it in state.json).
    """

    pid: int
    comm: str
    state: str
    ppid: int
    utime: int     # clock ticks
    stime: int
    start_time: int


def parse_stat(text: str) -> ProcStat:
    # comm is in parentheses and may itself contain spaces and ')':
    # split at the LAST ')'.
    head, _, tail = text.rpartition(")")
    pid_text, _, comm = head.partition(" (")
    rest = tail.split()
    # rest[0] is field 3 (state); field N is rest[N - 3].
    return ProcStat(
        pid=int(pid_text), comm=comm, state=rest[0], ppid=int(rest[1]),
        utime=int(rest[11]), stime=int(rest[12]), start_time=int(rest[19]),
    )


def read_stat(pid: int | str = "self") -> ProcStat:
    with open(f"/proc/{pid}/stat") as f:
        return parse_stat(f.read())


def start_time(pid: int) -> int:
    """The start time of `pid` in clock ticks since boot (stat field 22)."""
    return read_stat(pid).start_time

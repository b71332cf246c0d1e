"""A process's hostname, read from inside its UTS namespace.

setns(2) changes the calling process, so a forked child joins the UTS
namespace, calls uname and writes the nodename to a pipe; the CLI process
stays where it was. The fallback is the container's /etc/hostname through
/proc/PID/root, which is what the runtime wrote, not necessarily what is set.
"""

from __future__ import annotations

import os

from pallet.linux.ns import CLONE_NEWUTS, setns  # type: ignore[attr-defined]


def from_uts_namespace(pid: int, proc: str = "/proc") -> str:
    fd = os.open(os.path.join(proc, str(pid), "ns", "uts"), os.O_RDONLY | os.O_CLOEXEC)
    try:
        r, w = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                os.close(r)
                setns(fd, CLONE_NEWUTS)
                os.write(w, os.uname().nodename.encode())
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        with os.fdopen(r, "rb") as pipe:
            name = pipe.read().decode(errors="replace")
        _, status = os.waitpid(child, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise OSError(f"setns into the UTS namespace of {pid} failed")
        return name
    finally:
        os.close(fd)


def hostname(pid: int, proc: str = "/proc") -> tuple[str, str]:
    """(hostname, where it came from); ("", reason) when neither way works."""
    try:
        return from_uts_namespace(pid, proc), "uts namespace"
    except OSError as exc:
        reason = str(exc)
    try:
        with open(os.path.join(proc, str(pid), "root", "etc", "hostname")) as f:
            return f.read().strip(), "/etc/hostname"
    except OSError:
        return "", reason

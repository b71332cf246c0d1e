"""The compiled program and its installer: the only part that runs in the container's init.

`install_filter` is the last step before execve. It is a thin call into
pallet.linux.seccomp and imports nothing (it may run after pivot_root,
where no module can be found any more).

Order matters to the caller (the runtime's init):
- with `process.noNewPrivileges`, set no_new_privs (pallet.linux.seccomp.set_no_new_privs)
  and install the filter as late as possible, just before execve;
- without it, loading a filter needs CAP_SYS_ADMIN, so install it while the
  init still has that capability, and make sure the filter allows the
  syscalls the init makes afterwards (runc does the same).
"""

from __future__ import annotations

import errno

from pallet.linux import seccomp as _sys
from pallet.values import frozen


@frozen
class SeccompProgram:
    """A BPF program (a sock_filter array as bytes) and its seccomp(2) filter flags."""

    bpf: bytes
    flags: int = 0          # SECCOMP_FILTER_FLAG_* bits from linux.seccomp.flags
    backend: str = ""       # which compiler produced it ("pallet" or "libseccomp"), for reports

    @property
    def instructions(self) -> int:
        return len(self.bpf) // 8


def install_filter(prog: SeccompProgram) -> None:
    """Load `prog` into the calling thread (all threads with TSYNC). Raises OSError naming the op.

    seccomp(2) is used when it exists; a kernel without it (before 3.17)
    takes prctl(PR_SET_SECCOMP) when no flag is asked for.
    """
    try:
        _sys.seccomp_set_mode_filter(prog.bpf, prog.flags)
    except OSError as e:
        if e.errno != errno.ENOSYS or prog.flags:
            raise
        _sys.prctl_set_seccomp_filter(prog.bpf)

"""Signal names and numbers (x86-64 / generic Linux), without importing `signal` (enum: slow)."""

from __future__ import annotations

from pallet.errors import InvalidArgument

SIGNALS: dict[str, int] = {
    "SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6, "SIGIOT": 6,
    "SIGBUS": 7, "SIGFPE": 8, "SIGKILL": 9, "SIGUSR1": 10, "SIGSEGV": 11, "SIGUSR2": 12,
    "SIGPIPE": 13, "SIGALRM": 14, "SIGTERM": 15, "SIGSTKFLT": 16, "SIGCHLD": 17, "SIGCONT": 18,
    "SIGSTOP": 19, "SIGTSTP": 20, "SIGTTIN": 21, "SIGTTOU": 22, "SIGURG": 23, "SIGXCPU": 24,
    "SIGXFSZ": 25, "SIGVTALRM": 26, "SIGPROF": 27, "SIGWINCH": 28, "SIGIO": 29, "SIGPOLL": 29,
    "SIGPWR": 30, "SIGSYS": 31,
}
SIGRTMIN, SIGRTMAX = 34, 64


def parse(value: str | int) -> int:
    """'TERM', 'SIGTERM', '15', 'RTMIN+3' -> number; an unknown one is InvalidArgument naming it."""
    if isinstance(value, int):
        num = value
    else:
        v = value.strip().upper()
        if v.isdigit():
            num = int(v)
        else:
            name = v if v.startswith("SIG") else "SIG" + v
            if name in SIGNALS:
                return SIGNALS[name]
            for base, sign, lo in (("SIGRTMIN", 1, SIGRTMIN), ("SIGRTMAX", -1, SIGRTMAX)):
                if name == base:
                    return lo
                if name.startswith(base + ("+" if sign > 0 else "-")) and name[len(base) + 1 :].isdigit():
                    return lo + sign * int(name[len(base) + 1 :])
            raise InvalidArgument(f"unknown signal {value!r}")
    if not 1 <= num <= SIGRTMAX:
        raise InvalidArgument(f"invalid signal number {num}")
    return num

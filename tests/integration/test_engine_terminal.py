"""`-t` with the in-process runtime: the container gets a pty of its own devpts; the CLI relays it in the
foreground, the monitor holds its master for `-dt` (attach, logs), and `exec -t` gets one too.

The `pallet` command itself runs on a pty here (pty.fork), as it would in a user's terminal."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time

import pytest

from conftest import requires_root
from engine_image import pl, wait_for  # noqa: F401 (pl is a fixture)
from pallet.linux.tty import set_winsize

pytestmark = [requires_root, pytest.mark.root]

SIZE = (33, 101)


def converse(argv: list[str], steps: list[tuple[bytes, bytes]], timeout: float = 30) -> tuple[int, bytes]:
    """Run argv on a pty; for each (wait for, then type) step, type once the output so far holds `wait for`
    (counted from the end of the previous step's typing); return (exit code, output)."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            set_winsize(0, *SIZE)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    out, mark = b"", 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if steps and steps[0][0] in out[mark:]:
                mark = len(out)
                os.write(fd, steps.pop(0)[1])
                continue
            if not select.select([fd], [], [], 0.2)[0]:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
        else:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), out


def on_pty(argv: list[str], *, send: bytes = b"", after: bytes = b"", first: bytes = b"",
           timeout: float = 30) -> tuple[int, bytes]:
    """Run argv with a pty as its stdin/stdout/stderr; type `first` right away, then `send` once `after`
    appears in its output (right away when empty); return (exit code, everything it wrote)."""
    steps = ([(b"", first)] if first else []) + ([(after, send)] if send else [])
    return converse(argv, steps, timeout)


def test_run_t_gives_the_container_a_terminal(pl):
    code, out = on_pty(pl.argv("run", "--rm", "-t", *pl.image, "sh", "-c", "tty; stty size; exit 3"))
    assert code == 3, out
    assert b"/dev/pts/0" in out  # the container's own devpts: its first pty
    assert b"%d %d" % SIZE in out  # sized like the terminal pallet runs on
    assert pl.ok("ps", "-aq") == ""


def test_run_it_relays_input_to_the_container(pl):
    code, out = on_pty(pl.argv("run", "--rm", "-it", *pl.image, "sh"), after=b"# ",
                       send=b"echo got-$((6*7)) $(tty)\nexit 5\n")
    assert code == 5, out
    assert b"got-42 /dev/pts/0" in out


def test_run_t_without_a_terminal_is_docker_s_error_only_with_i(pl):
    r = pl("run", "--rm", "-i", "-t", *pl.image, "true")
    assert r.returncode == 1 and "the input device is not a TTY" in r.stderr
    r = pl("run", "--rm", "-t", *pl.image, "tty")  # -t alone: fine, as with Docker
    assert r.returncode == 0 and "/dev/pts/0" in r.stdout, r.stderr


def test_detached_t_keeps_the_pty_in_the_monitor(pl):
    cid = pl.run_d("-it", "--", "sh")
    assert pl.inspect(cid)["HostConfig"]["Runtime"] == "pallet"  # the in-process runtime, not a fallback
    # the prompt came before we attached: a newline asks for another, then we type
    code, out = on_pty(pl.argv("attach", cid), first=b"\n", after=b"# ", send=b"echo via-$((2*3)) $(tty)\nexit 4\n")
    assert code == 4, out
    assert b"via-6 /dev/pts/0" in out
    assert out.count(b"echo via-") == 1  # our terminal was raw: only the container's pty echoed the line
    assert wait_for(lambda: pl.ok("inspect", "-f", "{{.State.ExitCode}}", cid).strip() == "4")
    assert "via-6 /dev/pts/0" in pl.ok("logs", cid)


def test_detached_t_output_is_logged_with_crlf(pl):
    cid = pl.run_d("-t", "--", "sh", "-c", "tty; echo done")
    assert pl.ok("wait", cid).strip() == "0"
    assert wait_for(lambda: "done" in pl.ok("logs", cid))
    raw = subprocess.run(pl.argv("logs", cid), capture_output=True, check=True).stdout
    assert raw == b"/dev/pts/0\r\ndone\r\n"  # a terminal's line ends, as Docker logs them


def test_exec_t_and_it(pl):
    cid = pl.run_d("--", "sleep", "100")
    code, out = on_pty(pl.argv("exec", "-t", cid, "tty"))
    assert code == 0 and b"/dev/pts/0" in out, out  # the container had no pty yet: the exec's is the first
    code, out = on_pty(pl.argv("exec", "-it", cid, "sh"), after=b"# ", send=b"echo in-exec $(tty)\nexit 6\n")
    assert code == 6, out
    assert b"in-exec /dev/pts/" in out
    r = pl("exec", cid, "tty")  # and without -t, no terminal
    assert r.returncode == 1 and "not a tty" in r.stdout


def test_exec_dt_runs_on_a_pty_nobody_reads(pl):
    """Docker's `exec -d -t`: the process has a terminal; its output is drained, so it neither blocks nor hangs up."""
    cid = pl.run_d("--", "sleep", "100")
    pl.ok("exec", "-dt", cid, "sh", "-c", "tty > /tmp/t; seq 1 20000; echo end >> /tmp/t")
    assert wait_for(lambda: pl.ok("exec", cid, "cat", "/tmp/t") == "/dev/pts/0\nend\n")


@pytest.mark.parametrize("runtime", ["pallet", "runc"])
def test_attach_sizes_the_pty_like_the_terminal_and_follows_sigwinch(pl, runtime):
    """Docker resizes a -t container's pty to the attaching terminal, and again when that terminal is resized.
    With runc the pty comes over a console socket whose path (under the test's long --runroot) is longer than
    a unix socket address may be."""
    cid = pl.run_d("-dit", "--runtime", runtime, "--", "sh")
    assert pl.inspect(cid)["HostConfig"]["Runtime"] == runtime
    size = lambda: pl("exec", cid, "stty", "-F", "/dev/pts/0", "size").stdout.strip()  # noqa: E731
    assert size() != "%d %d" % SIZE  # nobody sized it yet
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            set_winsize(0, *SIZE)
            argv = pl.argv("attach", cid)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    out = b""

    def read_until(marker: bytes, timeout: float = 20) -> bytes:
        nonlocal out
        deadline = time.monotonic() + timeout
        while marker not in out and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        assert marker in out, out
        return out

    try:
        os.write(fd, b"echo size-$(stty size)-end\n")
        read_until(b"size-%d %d-end" % SIZE)
        set_winsize(fd, 40, 120)  # the user resizes the window: the kernel sends SIGWINCH to `pallet attach`
        assert wait_for(lambda: size() == "40 120")
        os.write(fd, b"sh -c 'trap \"echo winched; exit 0\" WINCH; echo trapped; while :; do sleep 1; done'\n")
        read_until(b"\ntrapped")
        set_winsize(fd, 41, 121)
        read_until(b"winched")  # the container's foreground process was told, as on a real terminal
        os.write(fd, b"exit 7\n")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and select.select([fd], [], [], 0.2):
            try:
                if not os.read(fd, 4096):
                    break
            except OSError:
                break
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 7, out


def test_attach_detaches_on_ctrl_p_ctrl_q_and_leaves_the_container_running(pl):
    cid = pl.run_d("-dit", "--", "sh")
    # ctrl-p then another key is no detach: both reach the shell (which ignores the ^P and runs the line)
    code, out = converse(pl.argv("attach", cid), [(b"", b"\n"), (b"# ", b"\x10echo one-$((1+1))\n"),
                                                  (b"one-2", b"\x10"), (b"", b"\x11")])
    assert code == 0, out
    assert pl.inspect(cid)["State"]["Running"]
    code, out = converse(pl.argv("attach", "--detach-keys", "ctrl-x,y", cid),
                         [(b"", b"\n"), (b"# ", b"echo two-$((2+1))\n"), (b"two-3", b"\x18y")])
    assert code == 0, out
    assert pl.inspect(cid)["State"]["Running"]
    code, out = converse(pl.argv("attach", cid), [(b"", b"\n"), (b"# ", b"exit 3\n")])
    assert code == 3, out
    r = pl("attach", "--detach-keys", "ctrl-", cid)
    assert r.returncode != 0 and "invalid detach keys" in r.stderr

"""Docker's attach rules and podman's mount counter, through the `pallet` command: a `run -d -i` container's
stdin outlives an attach (StdinOnce false), `create -i` + `start -ai` closes it at the end of the input and
still relays the rest; `start -a` of a -t container sizes its pty like the terminal and follows SIGWINCH;
`update` waits for the container's lock; a user's `mount` survives the container's start and stop."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import time

import pytest

from conftest import requires_root
from engine_image import pl, wait_for  # noqa: F401 (pl is a fixture)
from pallet.linux.tty import set_winsize

pytestmark = [requires_root, pytest.mark.root]

SIZE = (33, 101)


class OnPty:
    """`pallet ARGS` with a pty (sized SIZE) as its terminal; read its output, resize it, collect its exit code."""

    def __init__(self, argv: list[str]):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child
            try:
                set_winsize(0, *SIZE)
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        self.out = b""

    def read_until(self, marker: bytes, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.out and time.monotonic() < deadline:
            if select.select([self.fd], [], [], 0.2)[0]:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    break
                if not data:
                    break
                self.out += data
        assert marker in self.out, self.out

    def _reap(self, block: bool) -> bool:
        """Collect the exit code; whether the process is gone."""
        if self.pid:
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            if not pid:
                return False
            self.pid = 0
            self.code = os.waitstatus_to_exitcode(status)
        return True

    def finish(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._reap(False):
            if select.select([self.fd], [], [], 0.2)[0]:
                try:
                    self.out += os.read(self.fd, 4096)
                except OSError:
                    pass
        return self.close()

    def close(self) -> int:
        if not self._reap(False):
            os.kill(self.pid, 9)
            self._reap(True)
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        return self.code

    code = -1


def _busy(pl, cid: str) -> bool:
    """A process of this container's life still runs: its monitor, or the cleanup the monitor execs into."""
    needle = [str(pl.runroot).encode(), cid.encode()]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                cmd = open(f"/proc/{d}/cmdline", "rb").read()
            except OSError:
                continue
            if all(n in cmd for n in needle):
                return True
    return False


# ---------------------------------------------------------------- 1: StdinOnce


@pytest.mark.parametrize("runtime", ["pallet", "runc"])
def test_run_d_i_keeps_stdin_open_across_attaches(pl, runtime):
    cid = pl.run_d("-i", "--runtime", runtime, "--", "cat")
    assert pl.inspect(cid)["Config"]["StdinOnce"] is False  # Docker clears it for -d
    r = pl("attach", cid, input="one\n")  # our input ends: the attach ends, cat's input does not
    assert r.returncode == 0, r.stderr
    r = pl("attach", cid, input="two\n\x10\x11")  # and the detach keys leave it open too
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: pl.ok("logs", cid) == "one\ntwo\n", what="both attaches' input in cat's output")
    assert pl.inspect(cid)["State"]["Running"]
    r = pl("attach", cid, input="three\n")
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: pl.ok("logs", cid) == "one\ntwo\nthree\n", what="a third attach's input")
    assert pl.inspect(cid)["State"]["Running"]


@pytest.mark.parametrize("runtime", ["pallet", "runc"])
def test_create_i_start_ai_closes_stdin_at_the_end_of_input_and_relays_the_rest(pl, runtime):
    cid = pl.ok("create", "-i", "--runtime", runtime, *pl.image, "sh", "-c",
                "echo first; cat; echo cat-ended; exit 3").strip()
    assert pl.inspect(cid)["Config"]["StdinOnce"] is True  # create -i: the start -ai client's input is the only one
    r = pl("start", "-ai", cid, input="hello\n")
    assert r.returncode == 3, r.stderr
    assert r.stdout == "first\nhello\ncat-ended\n"  # from its first line (held for us) to its last (after our EOF)
    r = pl("run", "--name", "fg", "-i", *pl.image, "cat", input="fg\n")  # a foreground run -i: StdinOnce too
    assert r.returncode == 0 and r.stdout == "fg\n", r.stderr
    assert pl.inspect("fg")["Config"]["StdinOnce"] is True


# ---------------------------------------------------------------- 2: start -a of a -t container

WINCH_SCRIPT = (
    "trap 'case \"$(stty size)\" in \"40 120\") echo winched-40-120; exit 7;; esac' WINCH; "
    "i=0; while [ \"$(stty size)\" != '33 101' ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; "
    "echo size-$(stty size)-end; while :; do sleep 0.05; done"
)


@pytest.mark.parametrize("runtime", ["pallet", "runc"])
def test_start_a_of_a_t_container_sizes_its_pty_and_follows_sigwinch(pl, runtime):
    cid = pl.ok("create", "-t", "--runtime", runtime, *pl.image, "sh", "-c", WINCH_SCRIPT).strip()
    term = OnPty(pl.argv("start", "-a", cid))
    try:
        term.read_until(b"size-33 101-end")  # sized like our terminal, which start -a's output went to
        set_winsize(term.fd, 40, 120)  # the user resizes the window
        term.read_until(b"winched-40-120")  # the container's process was told, as on a real terminal
        code = term.finish()
    finally:
        term.close()
    assert code == 7, term.out


def test_start_a_of_a_t_container_without_a_terminal_relays_all_its_output(pl):
    """No terminal to size it like: still every byte, from the first (held for us, or from the log when the
    container was gone before we got to its monitor), and its exit code."""
    for _ in range(3):
        cid = pl.ok("create", "-t", *pl.image, "sh", "-c", "echo one; echo two; exit 2").strip()
        r = subprocess.run(pl.argv("start", "-a", cid), capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
        assert r.returncode == 2, r.stderr
        assert r.stdout == b"one\r\ntwo\r\n"


def test_start_ai_of_a_t_container_is_an_attach_with_input(pl):
    cid = pl.ok("create", "-it", *pl.image, "sh").strip()
    term = OnPty(pl.argv("start", "-ai", cid))
    try:
        term.read_until(b"# ")  # the prompt printed before we were there was held for us
        os.write(term.fd, b"echo got-$(stty size)-$((6*7))\n")
        term.read_until(b"got-33 101-42")
        os.write(term.fd, b"exit 5\n")
        code = term.finish()
    finally:
        term.close()
    assert code == 5, term.out
    assert term.out.count(b"echo got-") == 1  # raw: only the container's pty echoed the line


# ---------------------------------------------------------------- 3: update under the container's lock


def _blocked_on(inode: int) -> bool:
    """Whether some process waits for a lock on `inode` (a `->` line of /proc/locks)."""
    with open("/proc/locks") as f:
        return any("->" in line and line.split()[6].endswith(f":{inode}") for line in f if len(line.split()) > 6)


def test_update_waits_for_the_container_lock(pl):
    cid = pl.run_d("--", "sleep", "100")
    fd = os.open(os.path.join(pl.runroot, "locks", cid), os.O_RDWR)
    proc = None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as an `rm -f` or a start in flight holds it
        proc = subprocess.Popen(pl.argv("update", "--memory", "64m", cid), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        wait_for(lambda: _blocked_on(os.fstat(fd).st_ino), what="update to wait for the container's lock")
        assert proc.poll() is None
        assert pl.inspect(cid)["HostConfig"]["Memory"] == 0  # nothing changed behind the holder's back
    finally:
        os.close(fd)  # releases the lock
        if proc is not None:
            out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert pl.inspect(cid)["HostConfig"]["Memory"] == 64 << 20
    assert pl.inspect(cid)["State"]["Running"]


# ---------------------------------------------------------------- 4: podman's mount counter


def test_a_users_mount_survives_start_and_stop_until_as_many_umounts(pl):
    cid = pl.ok("create", *pl.image, "sleep", "100").strip()
    m = pl.ok("mount", cid).strip()
    assert os.path.ismount(m)
    assert pl.ok("mount", cid).strip() == m  # counted: two mounts
    for _ in range(2):
        pl.ok("start", cid)
        pl.ok("stop", "-t", "0", cid)
        wait_for(lambda: not _busy(pl, cid), what="the container's exit cleanup")
        assert os.path.ismount(m), "the container's stop dropped the user's mount"
        assert os.path.isdir(os.path.join(m, "bin"))
    pl.ok("umount", cid)
    assert os.path.ismount(m)  # one mount left
    pl.ok("umount", cid)
    assert not os.path.ismount(m)
    pl.ok("umount", cid)  # nothing to undo: no error, as podman
    # a running container's rootfs stays while it runs, and goes with its stop once nobody holds a mount
    pl.ok("start", cid)
    assert pl.ok("mount", cid).strip() == m
    pl.ok("umount", cid)
    assert os.path.ismount(m)
    pl.ok("stop", "-t", "0", cid)
    wait_for(lambda: not _busy(pl, cid), what="the container's exit cleanup")
    assert not os.path.ismount(m)
    # rm ends a user's mount
    assert pl.ok("mount", cid).strip() == m
    pl.ok("rm", cid)
    assert not os.path.ismount(m)

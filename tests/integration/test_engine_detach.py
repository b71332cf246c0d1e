"""Detaching from a foreground `run -it` (Docker's ctrl-p ctrl-q): the CLI returns 0, the container runs on under
a monitor that outlives it (ps, attach, logs, stop, rm -f, --rm); and `attach --no-stdin` never closes a
stdin_once container's stdin. The `pallet` command runs on a pty (pty.fork), as in a user's terminal."""

from __future__ import annotations

import json
import subprocess

import pytest

import test_engine_terminal as term
from conftest import requires_root
from engine_image import pl, wait_for  # noqa: F401 (pl is a fixture)

pytestmark = [requires_root, pytest.mark.root]


def _state(pl, name: str) -> str:
    r = pl("inspect", name)
    return json.loads(r.stdout)[0]["State"]["Status"] if r.returncode == 0 else "gone"


def test_run_it_detaches_on_ctrl_p_ctrl_q_and_the_container_runs_on(pl):
    code, out = term.converse(pl.argv("run", "--rm", "--name", "dt", "-it", *pl.image, "sh"),
                              [(b"# ", b"echo before-$((1+1))\n"), (b"before-2", b"\x10\x11")])
    pl.seen.add(pl.inspect("dt")["Id"])
    assert code == 0, out
    assert out.endswith(b"read escape sequence\r\n")  # all it says (as Docker), on the terminal given back
    assert _state(pl, "dt") == "running"
    assert "dt" in pl.ok("ps")
    assert "before-2" in pl.ok("logs", "dt")
    # reattach: the pty follows the new terminal's size, and the exit code comes back
    code, out = term.converse(pl.argv("attach", "dt"), [(b"", b"\n"), (b"# ", b"echo size-$(stty size)-after\n"),
                                                         (b"-after", b"exit 6\n")])
    assert code == 6, out
    assert b"size-%d %d-after" % term.SIZE in out
    wait_for(lambda: _state(pl, "dt") == "gone", what="the --rm container's removal")  # --rm, after the detach


def test_detach_keys_never_reach_the_container_and_a_lone_ctrl_p_does(pl):
    # the container reads 4 raw bytes: ^P a (a lone ^P passes, with the key after it), then b c after a reattach
    script = "stty raw -echo; echo ready; dd bs=1 count=4 2>/dev/null | od -An -tx1; exit 3"
    code, out = term.converse(pl.argv("run", "--name", "raw", "-i", "-t", *pl.image, "sh", "-c", script),
                              [(b"ready", b"\x10a"), (b"", b"\x10\x11")])
    pl.seen.add(pl.inspect("raw")["Id"])
    assert code == 0, out
    assert _state(pl, "raw") == "running"
    code, out = term.converse(pl.argv("attach", "raw"), [(b"", b"bc")])
    assert code == 3, out
    assert b"10 61 62 63" in out


def test_run_detach_keys_flag_and_stop_and_rm(pl):
    code, out = term.converse(pl.argv("run", "--name", "dk", "--detach-keys=ctrl-x,y", "-i", "-t", *pl.image, "sh"),
                              [(b"# ", b"echo one-$((1+1))\n"), (b"one-2", b"\x10\x11echo two-$((1+2))\n"),
                               (b"two-3", b"\x18y")])
    pl.seen.add(pl.inspect("dk")["Id"])
    assert code == 0, out  # ^P^Q was no detach with other keys: the shell ran the next line
    assert _state(pl, "dk") == "running"
    pl.ok("stop", "-t", "1", "dk")
    assert _state(pl, "dk") == "exited"
    assert "two-3" in pl.ok("logs", "dk")
    pl.ok("start", "dk")
    pl.ok("rm", "-f", "dk")
    assert pl.ok("ps", "-aq") == ""


def test_run_rejects_bad_detach_keys_before_creating(pl):
    r = pl("run", "--detach-keys", "ctrl-", "-i", *pl.image, "true")
    assert r.returncode == 125
    assert "invalid detach keys" in r.stderr
    assert pl.ok("ps", "-aq") == ""


def test_attach_no_stdin_never_closes_a_stdin_once_container_s_stdin(pl):
    script = "while [ ! -e /tmp/stop ]; do echo tick; sleep 0.1; done; cat; echo stdin-closed"
    cid = pl.ok("create", "-i", *pl.image, "sh", "-c", script).strip()
    pl.ok("start", cid)
    watcher = subprocess.Popen(pl.argv("attach", "--no-stdin", cid), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert watcher.stdout.readline() == b"tick\n"  # it is attached
    finally:
        watcher.kill()  # it leaves without a word (SIGKILL is not proxied): its socket just closes
        watcher.wait()
        watcher.stdout.close()
    pl.ok("exec", cid, "touch", "/tmp/stop")
    assert pl.inspect(cid)["State"]["Running"]
    r = pl("attach", cid, input="hello\n")  # this one's input ends: stdin_once closes the container's stdin
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("hello\nstdin-closed\n")

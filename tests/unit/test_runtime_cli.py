"""pallet-runtime's flag parser, signal names, sync messages and the exec stub (no root)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest

from pallet.errors import InvalidArgument
from pallet.runtime import cli, execstub, signals
from pallet.runtime.process import sync


def test_go_flag_semantics():
    table = cli.COMMANDS["create"][0]
    opts, pos = cli.parse_flags(["-b", "B", "--pid-file=p", "-no-pivot", "--preserve-fds", "2", "id", "--x"], table)
    assert opts == {"bundle": "B", "pid-file": "p", "no-pivot": True, "preserve-fds": 2}
    assert pos == ["id", "--x"]
    opts, pos = cli.parse_flags(["-e", "A=1", "--env=B=2", "-t", "c1", "sh", "-c", "x"], cli.COMMANDS["exec"][0])
    assert opts == {"env": ["A=1", "B=2"], "tty": True} and pos == ["c1", "sh", "-c", "x"]
    _, pos = cli.parse_flags(["c1", "--", "-ef"], cli.COMMANDS["ps"][0])
    assert pos == ["c1", "--", "-ef"]
    with pytest.raises(cli.UsageError, match="flag provided but not defined: --nope"):
        cli.parse_flags(["--nope"], table)
    with pytest.raises(cli.UsageError, match="needs an argument"):
        cli.parse_flags(["--bundle"], table)


def test_signals():
    assert signals.parse("KILL") == signals.parse("SIGKILL") == signals.parse("9") == 9
    assert signals.parse("term") == 15 and signals.parse("RTMIN+2") == 36 and signals.parse("SIGRTMAX") == 64
    with pytest.raises(InvalidArgument, match="unknown signal 'SIGNOPE'"):
        signals.parse("SIGNOPE")
    with pytest.raises(InvalidArgument):
        signals.parse("99")


def test_sync_messages_round_trip():
    import _socket

    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    try:
        for msg in (sync.Go(), sync.Stage2Pid(pid=42), sync.Setup(state={"id": "x", "pid": 1}), sync.ChildError(message="exec /x: boom")):
            sync.send(a, msg)
            assert sync.recv(b) == msg
        sync.send(a, sync.ChildError(message="chdir /nope: no such file or directory"))
        with pytest.raises(sync.ProtocolError, match="chdir /nope"):
            sync.expect(b, sync.Ready)
        a.close()
        assert sync.recv(b) is None
    finally:
        b.close()


def test_exec_stub_is_a_tiny_elf_that_refuses_proc_self_exe(tmp_path):
    elf = execstub.build()
    assert elf[:4] == b"\x7fELF" and len(elf) < 256
    entry = struct.unpack_from("<Q", elf, 24)[0]
    assert entry == 0x400000 + 64 + 56
    if not execstub.supported():
        pytest.skip("the stub is x86-64 machine code")
    path = tmp_path / "stub"
    path.write_bytes(elf)
    path.chmod(0o755)
    # started any other way than with MAGIC as argv[0] (e.g. as `#!/proc/self/exe`): exit 126
    assert subprocess.run([str(path), "/bin/true", "true"]).returncode == execstub.EXIT_NOT_STUB
    # through the sealed memfd with MAGIC: it runs the program with the given argv[0]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(w, 1)
        fd = execstub.open_stub()
        execstub.exec_program(fd, "/bin/sh", ["custom-argv0", "-c", 'echo "$0 $X"'], ["X=1"])
        os._exit(99)
    os.close(w)
    out = os.read(r, 100)
    os.close(r)
    assert os.waitpid(pid, 0)[1] == 0 and out == b"custom-argv0 1\n"


def test_stub_memfd_is_sealed():
    import fcntl

    fd = execstub.open_stub()
    try:
        seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
        assert seals & fcntl.F_SEAL_WRITE and seals & fcntl.F_SEAL_SEAL
        with pytest.raises(PermissionError):
            os.pwrite(fd, b"x", 0)
    finally:
        os.close(fd)


def test_cli_imports_stay_small():
    """`pallet-runtime` must not pull argparse, json, dataclasses, re or typing onto its hot path."""
    code = ("import sys; from pallet.runtime import cli, create, start, run, state, delete;"
            "bad = {'argparse', 'json', 'dataclasses', 're', 'typing', 'logging', 'subprocess'} & set(sys.modules);"
            "print(sorted(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_help_and_unknown_command(capsys):
    assert cli.main(["--help"]) == 0
    assert "create" in capsys.readouterr().out
    assert cli.main(["frobnicate"]) == 1
    assert "no such command" in capsys.readouterr().err


def test_log_file_json_and_text(tmp_path, capsys):
    log = tmp_path / "log.json"
    assert cli.main(["--log", str(log), "--log-format", "json", "--root", str(tmp_path), "state", "nope"]) == 1
    import json

    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error" and entry["msg"] == "container nope does not exist" and "time" in entry
    assert "container nope does not exist" in capsys.readouterr().err
    text = tmp_path / "log.txt"
    assert cli.main(["--log", str(text), "--root", str(tmp_path), "kill", "nope", "SIGBOGUS"]) == 1
    assert 'level=error msg="unknown signal' in text.read_text()


def test_library_api_surface():
    from pallet.runtime import api

    for name in ("create", "start", "state", "kill", "delete", "exec_process", "run", "list_containers", "pids",
                 "CreateOptions", "ExecOptions", "ContainerError", "default_spec"):
        assert hasattr(api, name), name
    opts = api.CreateOptions(root="/r", id="c1", bundle="/b", stdio=(0, 1, 2))
    assert opts.replace(id="c2").id == "c2"
    with pytest.raises(InvalidArgument, match="invalid container id"):
        api.CreateOptions(root="/r", id="../x", bundle="/b")

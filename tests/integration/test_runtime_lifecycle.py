"""pallet-runtime's lifecycle as a user drives it: create/start/state/kill/delete/run, bad input, hooks."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import PALLET_RUNTIME, requires_root
from runtime_helpers import Runtime, leftovers, unique, write_config

pytestmark = [requires_root, pytest.mark.root]


@pytest.fixture
def rt(tmp_path, cleanup):
    return Runtime(PALLET_RUNTIME, tmp_path / "state", cleanup, "pallet-runtime")


def wait_status(rt, cid, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        st = rt.state(cid)
        if st["status"] == want or time.monotonic() > deadline:
            return st
        time.sleep(0.02)


def test_run_returns_the_exit_status(rt, bundle):
    write_config(bundle, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    r = rt("run", "--bundle", str(bundle), unique())
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    # killed by a signal: 128+n (PID 1 ignores its own SIGKILL, so it comes from outside)
    cid = unique()
    write_config(bundle, ["sleep", "60"])
    p = subprocess.Popen([PALLET_RUNTIME, "--root", str(rt.root), "run", "-b", str(bundle), cid],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rt.created.append(cid)
    try:
        deadline = time.monotonic() + 10
        while rt("state", cid).returncode != 0 or rt.state(cid)["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        rt.ok("kill", cid, "KILL")
        assert p.wait(timeout=10) == 128 + 9
    finally:
        if p.poll() is None:
            p.kill()
        p.communicate()
    assert os.listdir(rt.root) == []


def test_create_start_state_kill_delete(rt, bundle, tmp_path):
    cid = unique()
    write_config(bundle, ["sleep", "60"], lambda c: c.update(annotations={"org.example": "yes"}))
    pidfile = tmp_path / "pid"
    rt.ok("create", "--bundle", str(bundle), "--pid-file", str(pidfile), cid)
    st = rt.state(cid)
    assert st["status"] == "created" and st["id"] == cid and st["bundle"] == str(bundle)
    assert st["annotations"] == {"org.example": "yes"}
    assert pidfile.read_text() == str(st["pid"])  # the bare pid, no newline
    assert Path(f"/proc/{st['pid']}").exists()
    listed = json.loads(rt.ok("list", "-f", "json").stdout)
    assert [(c["id"], c["status"]) for c in listed] == [(cid, "created")]
    rt.ok("start", cid)
    assert rt.state(cid)["status"] == "running"
    r = rt("start", cid)
    assert r.returncode == 1 and f"container {cid} is running" in r.stderr
    r = rt("delete", cid)
    assert r.returncode == 1 and cid in r.stderr and "running" in r.stderr
    rt.ok("kill", cid, "KILL")
    assert wait_status(rt, cid, "stopped")["status"] == "stopped"
    r = rt("kill", cid)
    assert r.returncode == 1 and f"container {cid} is stopped" in r.stderr
    rt.ok("delete", cid)
    r = rt("state", cid)
    assert r.returncode == 1 and f"container {cid} does not exist" in r.stderr
    assert leftovers(cid) == []


def test_create_stdio_goes_straight_to_the_container(rt, bundle, tmp_path):
    cid = unique()
    write_config(bundle, ["sh", "-c", "read line; echo got:$line; echo oops >&2"])
    out, err = tmp_path / "out", tmp_path / "err"
    stdin_r, stdin_w = os.pipe()
    with open(out, "w") as o, open(err, "w") as e:
        r = subprocess.run([PALLET_RUNTIME, "--root", str(rt.root), "create", "-b", str(bundle), cid],
                           stdin=stdin_r, stdout=o, stderr=e, timeout=30)
        rt.created.append(cid)
    os.close(stdin_r)
    assert r.returncode == 0
    rt.ok("start", cid)
    os.write(stdin_w, b"hello\n")
    os.close(stdin_w)
    wait_status(rt, cid, "stopped")
    assert out.read_text() == "got:hello\n"
    assert err.read_text() == "oops\n"
    rt.ok("delete", cid)


@pytest.mark.parametrize("text, message", [
    ("{not json", "config.json: invalid JSON"),
    ('{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": "sh", "cwd": "/"}}',
     "config.json: process.args: must be a list of strings"),
    ('{"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/"}}', "config.json: root: is required"),
    ('{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/",'
     ' "user": {"uid": "0", "gid": 0}}}', "config.json: process.user.uid: must be an integer"),
    ('{"root": {"path": "rootfs"}}', "config.json: ociVersion: is required"),
])
def test_bad_config_names_the_field_and_leaves_nothing(rt, bundle, text, message):
    (bundle / "config.json").write_text(text)
    cid = unique()
    r = rt("create", "-b", str(bundle), cid)
    assert r.returncode == 1
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not rt.root.exists() or os.listdir(rt.root) == []


def test_missing_bundle_rootfs_and_duplicate_id(rt, bundle, tmp_path):
    r = rt("create", "-b", str(tmp_path / "nope"), unique())
    assert r.returncode == 1 and "nope" in r.stderr and "no such" in r.stderr
    write_config(bundle, ["true"], lambda c: c["root"].update(path="missing-rootfs"))
    r = rt("create", "-b", str(bundle), unique())
    assert r.returncode == 1 and "root.path" in r.stderr and "missing-rootfs" in r.stderr
    write_config(bundle, ["sleep", "60"])
    cid = unique()
    rt.ok("create", "-b", str(bundle), cid)
    r = rt("create", "-b", str(bundle), cid)
    assert r.returncode == 1 and f"container {cid} already exists" in r.stderr
    assert rt.state(cid)["status"] == "created"  # the first one is untouched


@pytest.mark.parametrize("verb", ["create", "start", "state", "kill", "delete", "ps", "exec"])
def test_verbs_without_an_id_fail(rt, verb):
    r = rt(verb)
    assert r.returncode == 1 and verb in r.stderr


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c["process"].update(cwd="/nope"), "chdir /nope: no such file or directory"),
    (lambda c: c["process"].update(args=["/bin/nope"]), "exec /bin/nope: no such file or directory"),
    (lambda c: c["process"].update(args=["nope"]), 'exec nope: executable file not found in $PATH'),
    (lambda c: c["mounts"].append({"destination": "/mnt", "type": "bind", "source": "/does/not/exist", "options": ["bind"]}),
     "/does/not/exist"),
    (lambda c: c["mounts"].append({"destination": "/mnt", "type": "nosuchfs", "source": "x"}), "nosuchfs"),
])
def test_child_errors_reach_the_user_and_leave_nothing(rt, bundle, mutate, message):
    cid = unique()
    write_config(bundle, ["true"], mutate)
    for verb in ("create", "run"):
        r = rt(verb, "-b", str(bundle), cid)
        assert r.returncode == 1
        assert message in r.stderr and cid in r.stderr and "EOF" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert os.listdir(rt.root) == []
        assert leftovers(cid) == []


def test_failing_create_leaves_no_process(rt, bundle):
    cid = unique()
    write_config(bundle, ["/bin/nope"])
    before = set(os.listdir("/proc"))
    assert rt("create", "-b", str(bundle), cid).returncode == 1
    time.sleep(0.05)
    new = [p for p in set(os.listdir("/proc")) - before if p.isdigit()]
    cmdlines = []
    for p in new:
        try:
            cmdlines.append(Path(f"/proc/{p}/cmdline").read_bytes())
        except OSError:
            pass
    assert not [c for c in cmdlines if cid.encode() in c or str(bundle).encode() in c]


def _hook(tmp_path: Path, kind: str, script: str = "", timeout=None) -> dict:
    path = tmp_path / f"hook-{kind}.sh"
    path.write_text(f"#!/bin/sh\ncat > {tmp_path}/{kind}.json\necho \"$@\" > {tmp_path}/{kind}.args\n{script}\n")
    path.chmod(0o755)
    hook = {"path": str(path), "args": [kind, "a1"]}
    if timeout:
        hook["timeout"] = timeout
    return hook


def test_hooks_get_the_state_on_stdin_in_order(rt, bundle, tmp_path):
    cid = unique()
    marker = tmp_path / "order"

    def mutate(c):
        hooks = {}
        for kind in ("prestart", "createRuntime", "createContainer", "poststart", "poststop"):
            hooks[kind] = [_hook(tmp_path, kind, f"echo {kind} >> {marker}")]
        # startContainer runs after pivot_root: its path is resolved inside the container
        hooks["startContainer"] = [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /start.json"]}]
        c["hooks"] = hooks
        c["root"]["readonly"] = False
    write_config(bundle, ["sleep", "60"], mutate)
    rt.ok("create", "-b", str(bundle), cid)
    pid = rt.state(cid)["pid"]
    assert marker.read_text().split() == ["prestart", "createRuntime", "createContainer"]
    for kind in ("prestart", "createRuntime", "createContainer"):
        st = json.loads((tmp_path / f"{kind}.json").read_text())
        assert st["id"] == cid and st["pid"] == pid and st["bundle"] == str(bundle)
        assert (tmp_path / f"{kind}.args").read_text() == "a1\n"
    rt.ok("start", cid)
    assert marker.read_text().split()[-1] == "poststart"
    assert json.loads((tmp_path / "poststart.json").read_text())["status"] == "running"
    st = json.loads((bundle / "rootfs" / "start.json").read_text())
    assert st["id"] == cid and st["pid"] == pid
    rt.ok("kill", cid, "9")
    wait_status(rt, cid, "stopped")
    rt.ok("delete", cid)
    assert marker.read_text().split()[-1] == "poststop"
    assert json.loads((tmp_path / "poststop.json").read_text())["status"] == "stopped"


@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "createContainer"])
def test_failing_create_hooks_fail_create(rt, bundle, tmp_path, kind):
    cid = unique()
    write_config(bundle, ["true"], lambda c: c.update(hooks={kind: [_hook(tmp_path, kind, "exit 7")]}))
    r = rt("create", "-b", str(bundle), cid)
    assert r.returncode == 1 and f"{kind} hook" in r.stderr and "exit status 7" in r.stderr, r.stderr
    assert os.listdir(rt.root) == [] and leftovers(cid) == []


def test_hook_timeout(rt, bundle, tmp_path):
    cid = unique()
    write_config(bundle, ["true"], lambda c: c.update(hooks={"prestart": [_hook(tmp_path, "prestart", "sleep 5", timeout=1)]}))
    t0 = time.monotonic()
    r = rt("create", "-b", str(bundle), cid)
    assert r.returncode == 1 and "timed out" in r.stderr
    assert time.monotonic() - t0 < 4


def test_failing_poststart_and_poststop_only_warn(rt, bundle, tmp_path):
    cid = unique()
    write_config(bundle, ["sleep", "60"], lambda c: c.update(hooks={
        "poststart": [_hook(tmp_path, "poststart", "exit 1")], "poststop": [_hook(tmp_path, "poststop", "exit 1")]}))
    rt.ok("create", "-b", str(bundle), cid)
    r = rt.ok("start", cid)
    assert "warning" in r.stderr and "poststart" in r.stderr
    r = rt.ok("delete", "-f", cid)
    assert "warning" in r.stderr and "poststop" in r.stderr
    assert leftovers(cid) == []


def test_preserve_fds_and_nothing_else(rt, bundle):
    write_config(bundle, ["sh", "-c", "echo via-fd3 >&3; ls /proc/self/fd"])
    r_fd, w_fd = os.pipe()
    extra = os.open("/", os.O_RDONLY)  # fd 4 in the child: must not leak
    try:
        cmd = [PALLET_RUNTIME, "--root", str(rt.root), "run", "--preserve-fds", "1", "-b", str(bundle), unique()]
        r = subprocess.run(["bash", "-c", f'exec "$@" 3>&{w_fd} 4<&{extra} {w_fd}>&- {extra}<&-', "bash", *cmd],
                           pass_fds=(w_fd, extra), capture_output=True, text=True, timeout=30)
        os.close(w_fd)
        w_fd = -1
        assert r.returncode == 0, r.stderr
        assert os.read(r_fd, 100) == b"via-fd3\n"
        # ls's own directory fd is the last one; 0-2 are stdio and 3 preserved
        assert r.stdout.split()[:4] == ["0", "1", "2", "3"] and len(r.stdout.split()) == 5
    finally:
        os.close(r_fd)
        os.close(extra)
        if w_fd >= 0:
            os.close(w_fd)


def test_pid_file_and_detached_run(rt, bundle, tmp_path):
    cid = unique()
    write_config(bundle, ["sleep", "60"])
    rt.ok("run", "-d", "--pid-file", str(tmp_path / "p"), "-b", str(bundle), cid)
    st = rt.state(cid)
    assert st["status"] == "running" and (tmp_path / "p").read_text() == str(st["pid"])
    rt.ok("delete", "--force", cid)
    assert leftovers(cid) == []


def test_spec_and_features(tmp_path, rt):
    rt.ok("spec", "--bundle", str(tmp_path))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["process"]["args"] == ["sh"] and config["root"] == {"path": "rootfs", "readonly": True}
    r = rt("spec", "-b", str(tmp_path))
    assert r.returncode == 1 and "exists" in r.stderr
    feats = json.loads(rt.ok("features").stdout)
    assert set(feats["hooks"]) == {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
    assert "CAP_SYS_ADMIN" in feats["linux"]["capabilities"]

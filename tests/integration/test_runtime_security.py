"""The two container-breakout attacks the runtime must stop, attempted for real.

CVE-2019-5736: a container program `#!/proc/self/exe` makes the kernel
re-run whatever binary performs the final execve, here the host's python,
which the container could then overwrite. CVE-2024-21626: a host
directory fd leaked into the container (cwd /proc/self/fd/N) opens the
host filesystem.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PALLET_RUNTIME, requires_root
from runtime_helpers import Runtime, unique, write_config

pytestmark = [requires_root, pytest.mark.root]

HOST_PYTHON = os.path.realpath(sys.executable)


@pytest.fixture
def rt(tmp_path, cleanup):
    return Runtime(PALLET_RUNTIME, tmp_path / "state", cleanup, "pallet-runtime")


def sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_proc_self_exe_shebang_never_reaches_the_host_interpreter(rt, bundle):
    before = sha(HOST_PYTHON)
    evil = bundle / "rootfs" / "evil"
    # If the host python ran this file, it would leave a marker and try to open its own binary for writing.
    evil.write_text("#!/proc/self/exe\nimport os\nopen('/dev/shm/pwned', 'w').write('x')\n"
                    "fd = os.open('/proc/self/exe', os.O_PATH)\nprint('opened host binary', fd)\n")
    evil.chmod(0o755)
    # The container's init is /evil: the runtime's final execve runs it, and the stub refuses
    # to be re-entered as its interpreter (exit 126): no python, no marker.
    write_config(bundle, ["/evil"], lambda c: c["root"].update(readonly=False))
    r = rt("run", "-b", str(bundle), unique())
    assert r.returncode == 126 and "opened host binary" not in r.stdout, (r.stdout, r.stderr)
    assert not (bundle / "rootfs" / "dev" / "shm" / "pwned").exists()
    # the same through `exec` into a running container
    cid = unique()
    write_config(bundle, ["sleep", "60"])
    rt.ok("run", "-d", "-b", str(bundle), cid)
    r = rt("exec", cid, "/evil")
    assert r.returncode == 126 and "opened host binary" not in r.stdout
    assert rt.ok("exec", cid, "ls", "/dev/shm").stdout == ""
    assert sha(HOST_PYTHON) == before


def test_created_init_exe_is_not_reachable_from_the_container(rt, bundle):
    """While `created`, the init is still the host python: non-dumpable, so /proc/1/exe is closed to the container."""
    cid = unique()
    write_config(bundle, ["sleep", "60"])
    rt.ok("create", "-b", str(bundle), cid)
    r = rt("exec", cid, "sh", "-c", "readlink /proc/1/exe; head -c 4 /proc/1/exe | wc -c; ls /proc/1/fd")
    assert "python" not in r.stdout
    assert r.stdout.split("\n")[0] == "0" or "Permission denied" in r.stderr
    assert "Permission denied" in r.stderr


def test_exe_of_a_running_container_is_its_own(rt, bundle):
    write_config(bundle, ["sh", "-c", "readlink /proc/self/exe; readlink /proc/1/exe"])
    r = rt("run", "-b", str(bundle), unique())
    assert r.returncode == 0 and r.stdout.split() == ["/bin/busybox", "/bin/busybox"], (r.stdout, r.stderr)


@pytest.mark.parametrize("fd", range(3, 12))
def test_leaked_fd_cwd_cannot_open_the_host(rt, bundle, fd):
    write_config(bundle, ["sh", "-c", "cat ../../../../../../../../../etc/os-release; pwd"],
                 lambda c: c["process"].update(cwd=f"/proc/self/fd/{fd}"))
    r = rt("run", "-b", str(bundle), unique())
    assert "PRETTY_NAME" not in r.stdout
    if r.returncode != 0:
        assert "chdir" in r.stderr and f"/proc/self/fd/{fd}" in r.stderr


def test_only_stdio_reaches_the_container(rt, bundle):
    cid = unique()
    write_config(bundle, ["sh", "-c", "ls /proc/self/fd; sleep 60"])
    subprocess.run([PALLET_RUNTIME, "--root", str(rt.root), "run", "-d", "-b", str(bundle), cid],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=30)
    rt.created.append(cid)
    pid = rt.state(cid)["pid"]
    assert sorted(int(x) for x in os.listdir(f"/proc/{pid}/fd")) == [0, 1, 2]
    r = rt.ok("exec", cid, "ls", "/proc/self/fd")
    assert r.stdout.split() == ["0", "1", "2", "3"]  # 3: ls's own directory
    for fd in os.listdir(f"/proc/{pid}/fd"):
        assert not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("/tmp/pytest")

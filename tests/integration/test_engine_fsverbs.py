"""cp, export, mount/unmount, diff, commit, attach, update, rename, top, restart through the `pallet` command."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time

import pytest

from conftest import requires_root
from engine_image import pl  # noqa: F401 (a fixture)

pytestmark = [requires_root, pytest.mark.root]


def test_cp_both_ways_and_symlinks_stay_inside(pl, tmp_path):
    cid = pl.run_d("--", "sh", "-c", "echo inside > /root/f; ln -s /etc/passwd /root/link; ln -s / /root/up; sleep 100")
    time.sleep(0.3)
    pl.ok("cp", f"{cid[:12]}:/root/f", str(tmp_path / "got"))
    assert (tmp_path / "got").read_text() == "inside\n"
    pl.ok("cp", f"{cid[:12]}:/root/link", str(tmp_path / "passwd"))
    assert (tmp_path / "passwd").read_text().startswith("root:x:0:0")  # the container's passwd, not the host's
    assert "nobody" in (tmp_path / "passwd").read_text()
    (tmp_path / "in.txt").write_text("from host\n")
    pl.ok("cp", str(tmp_path / "in.txt"), f"{cid[:12]}:/tmp/")
    assert pl.ok("exec", cid, "cat", "/tmp/in.txt") == "from host\n"
    pl.ok("cp", str(tmp_path / "in.txt"), f"{cid[:12]}:/root/up/tmp/escape.txt")  # resolves inside the root
    assert not os.path.exists("/tmp/escape.txt")
    assert pl.ok("exec", cid, "cat", "/tmp/escape.txt") == "from host\n"
    r = pl("cp", f"{cid[:12]}:/nonexistent", str(tmp_path))
    assert r.returncode != 0 and "could not find" in r.stderr


def test_export_diff_commit_mount(pl, tmp_path):
    cid = pl.run_d("--", "sh", "-c", "echo new > /root/added; rm /bin/vi; echo x >> /etc/passwd; sleep 100")
    time.sleep(0.3)
    changes = pl.ok("diff", cid).splitlines()
    assert "A /root/added" in changes and "D /bin/vi" in changes and "C /etc/passwd" in changes
    tar_bytes = subprocess.run(pl.argv("export", cid), capture_output=True, check=True).stdout
    names = tarfile.open(fileobj=io.BytesIO(tar_bytes)).getnames()
    assert any(n.lstrip("./") == "root/added" for n in names) and not any(n.lstrip("./") == "bin/vi" for n in names)
    img = pl.ok("commit", "-c", "CMD [\"cat\", \"/root/added\"]", cid, "committed:v1").strip()
    assert img.startswith("sha256:")
    assert pl.ok("run", "--rm", "committed:v1") == "new\n"
    merged = pl.ok("mount", cid).strip()
    assert open(os.path.join(merged, "root", "added")).read() == "new\n"
    stopped = pl.ok("create", *pl.image, "true").strip()
    m2 = pl.ok("mount", stopped).strip()
    assert os.path.ismount(m2)
    pl.ok("unmount", stopped)
    assert not os.path.ismount(m2)
    assert pl.ok("mount", stopped).strip() == m2
    pl.ok("umount", stopped)  # podman's spelling too
    assert not os.path.ismount(m2)


def test_attach_and_start_attach(pl):
    cid = pl.run_d("--", "sh", "-c", "sleep 0.5; echo out; echo err >&2; exit 5")
    r = pl("attach", cid)
    assert r.returncode == 5 and r.stdout == "out\n" and r.stderr == "err\n"
    cid = pl.ok("create", *pl.image, "sh", "-c", "echo hello; exit 4").strip()
    r = pl("start", "-a", cid)
    assert r.returncode == 4 and "hello" in r.stdout


def test_interactive_stdin(pl):
    r = pl("run", "--rm", "-i", *pl.image, "sh", "-c", "read x; echo got-$x", input="abc\n")
    assert r.stdout == "got-abc\n"


def test_update_rename_top_restart(pl):
    cid = pl.run_d("--name", "up1", "--memory", "64m", "--", "sleep", "100")
    pl.ok("update", "--memory", "128m", "--pids-limit", "20", "up1")
    assert pl.ok("exec", "up1", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes").strip() == str(128 << 20)
    assert pl.ok("exec", "up1", "cat", "/sys/fs/cgroup/pids/pids.max").strip() == "20"
    assert pl.inspect("up1")["HostConfig"]["Memory"] == 128 << 20
    pl.ok("rename", "up1", "up2")
    assert pl.inspect(cid)["Name"] == "/up2"
    top = pl.ok("top", "up2")
    assert "PID" in top and "sleep 100" in top
    pid1 = pl.inspect("up2")["State"]["Pid"]
    pl.ok("restart", "-t", "0", "up2")
    st = pl.inspect("up2")["State"]
    assert st["Running"] and st["Pid"] != pid1
    r = pl("rename", "up2", "bad name")
    assert r.returncode == 1 and "invalid container name" in r.stderr

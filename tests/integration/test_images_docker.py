"""Interop with a real Docker 20.10 (Debian's docker.io): docker save -> pallet load -> pallet save -> docker load.

A private dockerd (own data-root, exec-root, socket; no bridge, no iptables) is
started for the module and stopped by its PID. Skipped where docker.io is not installed.
"""

import os
import shutil
import signal
import subprocess
import time

import pytest

from _imagekit import dir_tar, pallet
from conftest import CGROUP_ROOT, _remove_cgroup_everywhere

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
              pytest.mark.skipif(shutil.which("dockerd") is None or not os.path.exists("/usr/bin/docker"),
                                 reason="docker.io (dockerd 20.10) is not installed")]


@pytest.fixture(scope="module")
def docker(tmp_path_factory):
    base = tmp_path_factory.mktemp("dockerd")
    # dockerd makes /docker in every hierarchy for its containers: ours to remove only if it is new
    docker_cgroup_existed = any(os.path.isdir(os.path.join(CGROUP_ROOT, h, "docker")) for h in os.listdir(CGROUP_ROOT))
    run = f"/run/pallet-test-dockerd-{os.getpid()}"
    os.makedirs(run, exist_ok=True)
    sock = f"unix://{run}/docker.sock"
    proc = subprocess.Popen(["dockerd", "--data-root", str(base / "root"), "--exec-root", f"{run}/exec",
                             "--pidfile", f"{run}/d.pid", "-H", sock, "--bridge=none", "--iptables=false",
                             "--ip6tables=false", "--ip-forward=false"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cli = ["/usr/bin/docker", "-H", sock]
    for _ in range(60):
        if subprocess.run(cli + ["version"], capture_output=True).returncode == 0:
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.skip("dockerd did not start")
    yield cli
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    subprocess.run(["umount", "-R", str(base / "root")], capture_output=True)
    shutil.rmtree(run, ignore_errors=True)
    if not docker_cgroup_existed:
        _remove_cgroup_everywhere("/docker")


def test_docker_20_10_save_loads_and_pallet_save_loads_in_docker(docker, pallet_dirs, rootfs, tmp_path):
    d = docker
    subprocess.run(d + ["import", "-c", 'CMD ["sh"]', "-", "dk:base"], input=dir_tar(rootfs), check=True, capture_output=True)
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text(
        "FROM dk:base\nRUN echo hi > /hi && rm /etc/group && mkdir -p /o && touch /o/x\n"
        "RUN rm -rf /o && mkdir /o && touch /o/y && ln /hi /hi2\n")
    subprocess.run(d + ["build", "-q", "-t", "dk:app", str(tmp_path / "ctx")], check=True, capture_output=True,
                   env=dict(os.environ, DOCKER_BUILDKIT="0"))
    want = subprocess.run(d + ["image", "inspect", "-f", "{{.Id}}", "dk:app"], capture_output=True, text=True, check=True).stdout.strip()
    arc = tmp_path / "d.tar"
    subprocess.run(d + ["save", "-o", str(arc), "dk:app", "dk:base"], check=True)  # shares a layer: a symlink inside
    r = pallet(pallet_dirs, "load", "-i", arc)
    assert sorted(r.out.splitlines()) == ["Loaded image: dk:app", "Loaded image: dk:base"]
    assert pallet(pallet_dirs, "image", "inspect", "-f", "{{.Id}}", "dk:app").out.strip() == want
    back = tmp_path / "back.tar"
    pallet(pallet_dirs, "save", "-o", back, "dk:app")
    subprocess.run(d + ["rmi", "dk:app", "dk:base"], check=True, capture_output=True)
    subprocess.run(d + ["load", "-i", str(back)], check=True, capture_output=True)
    out = subprocess.run(d + ["run", "--rm", "--net=none", "dk:app", "sh", "-c", "cat /hi; ls /o; ls /etc/group 2>&1; stat -c %h /hi"],
                         capture_output=True, text=True)
    assert out.stdout == "hi\ny\nls: /etc/group: No such file or directory\n2\n", out.stderr
    assert subprocess.run(d + ["image", "inspect", "-f", "{{.Id}}", "dk:app"], capture_output=True, text=True).stdout.strip() == want

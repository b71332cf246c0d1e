"""Build a minimal rootfs from Debian's busybox-static: the source of every test image.

    python tools/busybox_rootfs.py DIR      # DIR/bin/busybox and one link per applet
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

BUSYBOX = "/bin/busybox"


def applets(busybox: str = BUSYBOX) -> list[str]:
    """Applet paths (like 'bin/sh'); `--list-full` includes busybox itself, which we skip."""
    out = subprocess.run([busybox, "--list-full"], check=True, capture_output=True, text=True).stdout
    return [line for line in out.split() if line and os.path.basename(line) != "busybox"]


def build(rootfs: str, busybox: str = BUSYBOX) -> str:
    """Populate `rootfs` (created if missing) and return it."""
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "var", "run"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    os.chmod(os.path.join(rootfs, "tmp"), 0o1777)
    shutil.copy2(busybox, os.path.join(rootfs, "bin", "busybox"))
    for applet in applets(busybox):
        link = os.path.join(rootfs, applet)
        if not os.path.lexists(link):
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink("/bin/busybox", link)
    with open(os.path.join(rootfs, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    with open(os.path.join(rootfs, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    return rootfs


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: busybox_rootfs.py DIR")
    print(build(sys.argv[1]))

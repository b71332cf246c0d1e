"""The v1 hugetlb hierarchy that crun (and so podman) needs on this hybrid host, mounted for one run.

crun refuses hybrid cgroups while cgroup2 owns a controller (hugetlb here) unless hugetlb is also a v1
hierarchy at /sys/fs/cgroup/hugetlb. While it is mounted every engine on the host (pallet's tests, other
sessions' podman) makes cgroups in it too, so on release we remove only the cgroups *our* containers got
(by their names) and the parents that appeared for them, never "every empty cgroup": another engine's
freshly made cgroup is empty for a moment, and removing it makes that engine's join fail with ENOENT.
We unmount only once no cgroup but the root is left, and check the kernel really gave hugetlb back.

    hv = mount()          # None: nothing to do (already mounted, or no hugetlb on cgroup2)
    hv.own("ctr-1", ...)  # the names (ids) of the containers this run makes; any time before release
    hv.own_parent("pallet")  # a default parent those containers' cgroups go under
    hv.release()
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

HUGETLB = "/sys/fs/cgroup/hugetlb"
UNIFIED_CONTROLLERS = "/sys/fs/cgroup/unified/cgroup.controllers"


def is_mount(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def _cgroups(top: str) -> set[str]:
    """Relative paths of every cgroup below `top` (not `top` itself)."""
    out = set()
    for root, dirs, _ in os.walk(top):
        out.update(os.path.relpath(os.path.join(root, d), top) for d in dirs)
    return out


def _hierarchy_id(controller: str) -> int:
    with open("/proc/cgroups") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == controller:
                return int(fields[1])
    return 0


def _crun_users_running() -> bool:
    """crun (and podman's conmon) need the v1 hugetlb hierarchy here: never pull it from under them."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() in ("crun", "conmon", "podman"):
                        return True
            except OSError:
                pass
    return False


class Mounted:
    """A v1 hugetlb hierarchy this process mounted; `release()` undoes it (see the module docstring)."""

    def __init__(self, before: set[str]):
        self.before = before  # cgroups present at mount time (a hierarchy that survived an old unmount)
        self.names: set[str] = set()
        self.parents: set[str] = set()

    def own(self, *names: str) -> None:
        self.names.update(n for n in names if n)

    def own_parent(self, *paths: str) -> None:
        """Default parents the runtimes put our containers under (pallet-runtime's `pallet`): removed at the end
        if they appeared since the mount and are empty by then (the kernel refuses a parent with children)."""
        self.parents.update(p.strip("/") for p in paths if p.strip("/"))

    def _remove_ours(self) -> None:
        """rmdir, children first, our containers' cgroups and the parents that appeared for them since the mount.
        The kernel refuses a cgroup with tasks or children, so a parent shared with someone else stays."""
        mine: set[str] = set()
        for rel in _cgroups(HUGETLB) - self.before:
            parts = rel.split("/")
            hits = [i for i, p in enumerate(parts) if p in self.names]
            if hits:
                mine.add(rel)
                mine.update("/".join(parts[:i]) for i in range(1, hits[0] + 1) if "/".join(parts[:i]) not in self.before)
        mine.update(p for p in self.parents if p not in self.before)
        for rel in sorted(mine, key=lambda r: r.count("/"), reverse=True):
            try:
                os.rmdir(os.path.join(HUGETLB, rel))
            except OSError:
                pass

    def release(self, wait: float = 60.0) -> None:
        """Remove our cgroups; unmount once nobody else has a cgroup or a crun/podman process left (bounded wait)."""
        deadline = time.monotonic() + wait
        while True:
            self._remove_ours()
            leftover = sorted(_cgroups(HUGETLB))
            if _crun_users_running():
                leftover.append("(crun/podman running)")
            if not leftover or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if leftover:
            print(f"note: leaving {HUGETLB} mounted: still in use ({leftover[:3]}...)", file=sys.stderr)
            return
        # The kernel frees an unmounted v1 hierarchy only if no cgroup was left, counting ones still dying:
        # wait, unmount, wait, check; if it survived, remount (to reach it again) and retry.
        for _ in range(6):
            time.sleep(1)
            subprocess.run(["umount", HUGETLB], check=True)
            time.sleep(2)
            if _hierarchy_id("hugetlb") == 0:
                os.rmdir(HUGETLB)
                return
            subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", HUGETLB], check=True)
            self._remove_ours()
            if _cgroups(HUGETLB):
                print(f"note: leaving {HUGETLB} mounted: cgroups appeared again", file=sys.stderr)
                return
        print(f"warning: the v1 hugetlb hierarchy survived 6 unmounts; left mounted at {HUGETLB}", file=sys.stderr)


def mount() -> Mounted | None:
    """Mount v1 hugetlb if crun needs it here; the handle to release it, or None when we did not mount it."""
    if is_mount(HUGETLB) or not os.path.exists(UNIFIED_CONTROLLERS):
        return None
    with open(UNIFIED_CONTROLLERS) as f:
        if "hugetlb" not in f.read().split():
            return None
    created = not os.path.exists(HUGETLB)
    os.makedirs(HUGETLB, exist_ok=True)
    r = subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", HUGETLB], capture_output=True, text=True)
    if r.returncode != 0:
        if created:
            os.rmdir(HUGETLB)
        print(f"note: could not mount v1 hugetlb ({r.stderr.strip()}); crun may refuse to run", file=sys.stderr)
        return None
    return Mounted(_cgroups(HUGETLB))

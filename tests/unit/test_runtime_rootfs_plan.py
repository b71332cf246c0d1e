"""The mount plan is a pure value: check it without root."""

from __future__ import annotations

from pallet.linux import mount as m
from pallet.oci.runtime_spec import Spec
from pallet.runtime import rootfs
from pallet.runtime.spec import default_spec


def _plan(mutate=None, **kw):
    d = default_spec()
    if mutate:
        mutate(d)
    return rootfs.plan(Spec.from_json(d), "/b", **kw)


def test_default_plan():
    p = _plan()
    assert p.rootfs == "/b/rootfs" and p.readonly_root and not p.no_pivot
    assert p.root_propagation == m.MS_SLAVE | m.MS_REC
    dests = [s.destination for s in p.mounts]
    assert dests == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
    dev = p.mounts[1]
    assert dev.fstype == "tmpfs" and dev.flags == m.MS_NOSUID | m.MS_STRICTATIME and dev.data == "mode=755,size=65536k"
    pts = p.mounts[2]
    assert pts.data == "newinstance,ptmxmode=0666,mode=0620,gid=5"
    assert p.mounts[5].flags == m.MS_NOSUID | m.MS_NOEXEC | m.MS_NODEV | m.MS_RDONLY
    assert p.mounts[6].cgroup
    assert [d.path for d in p.devices] == ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]
    assert ("pts/ptmx", "/dev/ptmx") in p.symlinks and ("/proc/self/fd", "/dev/fd") in p.symlinks
    assert "/proc/kcore" in p.masked_paths and "/proc/sys" in p.readonly_paths


def test_bind_mounts_split_into_mount_and_remount():
    p = _plan(lambda d: d["mounts"].append(
        {"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "ro", "nosuid", "rprivate"]}))
    step = p.mounts[-1]
    assert step.bind and step.source == "/b/data"  # relative to the bundle
    assert step.flags == m.MS_BIND | m.MS_REC
    assert step.remount_flags == m.MS_RDONLY | m.MS_NOSUID
    assert step.propagation == (m.MS_PRIVATE | m.MS_REC,)


def test_option_table_clears_and_sets():
    flags, prop, data = rootfs.parse_options(["ro", "rw", "nodev", "dev", "noexec", "size=1m", "shared", "tmpcopyup"])
    assert flags == m.MS_NOEXEC and prop == (m.MS_SHARED,) and data == "size=1m"


def test_devices_userns_and_bound_dev():
    p = _plan(lambda d: d["linux"].update(devices=[{"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 0o600, "uid": 1, "gid": 2}]),
              in_userns=True)
    fuse = p.devices[-1]
    assert (fuse.path, fuse.type, fuse.major, fuse.minor, fuse.mode, fuse.uid, fuse.gid) == ("/dev/fuse", "c", 10, 229, 0o600, 1, 2)
    assert p.bind_devices
    p = _plan(lambda d: d["mounts"].append({"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind"]}))
    assert p.devices == () and p.symlinks == ()


def test_propagation_and_no_pivot():
    p = _plan(lambda d: d["linux"].update(rootfsPropagation="rshared"), no_pivot=True)
    assert p.root_propagation == m.MS_SHARED | m.MS_REC and p.no_pivot


def test_a_config_without_a_mount_namespace_plans_a_chroot_only():
    assert _plan().mount_ns
    p = _plan(lambda d: d["linux"].update(namespaces=[n for n in d["linux"]["namespaces"] if n["type"] != "mount"]))
    assert not p.mount_ns  # prepare() then mounts nothing: the init shares the host's mount namespace


def test_cgroup_mounts_wait_for_the_join_and_the_rest_keeps_its_order():
    """The init mounts all but the cgroup hierarchies before it joins its cgroup; what overlaps a
    cgroup mount stays after it."""
    def extra(d):
        d["mounts"] += [
            {"destination": "/etc/hostname", "type": "bind", "source": "hostname", "options": ["rbind"]},
            {"destination": "/sys/fs/cgroup/x", "type": "tmpfs", "source": "tmpfs", "options": []},
            {"destination": "/sys", "type": "tmpfs", "source": "tmpfs", "options": []},
            {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": []},
        ]
    p = rootfs.expand_cgroup_mounts(_plan(extra), cgroupns=True)
    assert rootfs.mounts_before_join(p)
    early = [s.destination for s in p.mounts]
    assert early == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/etc/hostname", "/data"]
    late = [getattr(s, "destination", None) or s.dest for s in p.late_mounts]
    assert late[-2:] == ["/sys/fs/cgroup/x", "/sys"]  # overlapping: after the cgroup mounts, in order
    assert all(d.startswith("/sys/fs/cgroup") for d in late[:-2])
    assert not any(getattr(s, "cgroup", False) for s in p.late_mounts)  # expanded for this host


def test_cgroup_mounts_stay_in_place_when_a_device_overlaps():
    p = _plan(lambda d: d["linux"].update(devices=[{"type": "c", "path": "/sys/fs/cgroup/dev", "major": 1, "minor": 3}]))
    assert rootfs.expand_cgroup_mounts(p, cgroupns=True) == p and not rootfs.mounts_before_join(p)


def test_without_a_cgroup_ns_the_cgroup_mount_waits_unexpanded():
    """It binds the init's own cgroup dirs: expanded by the init once it joined them."""
    p = rootfs.expand_cgroup_mounts(_plan(), cgroupns=False)
    assert rootfs.mounts_before_join(p)
    assert [s.destination for s in p.late_mounts] == ["/sys/fs/cgroup"] and p.late_mounts[0].cgroup

"""pallet.linux.proc parsers (the cgroup code reads mountinfo and /proc/PID/cgroup)."""

import os

from pallet.linux import proc

MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 23 8:1 /dir\\040x /mnt/a\\040b rw - ext4 /dev/sda1 rw
"""


def test_mountinfo():
    m = proc.parse_mountinfo(MOUNTINFO)
    assert [x.fstype for x in m] == ["tmpfs", "cgroup", "cgroup2", "ext4"]
    assert m[1].super_options == ("rw", "cpu", "cpuacct") and m[1].optional == ("shared:9",)
    assert m[3].root == "/dir x" and m[3].mountpoint == "/mnt/a b" and (m[3].major, m[3].minor) == (8, 1)


def test_proc_cgroup():
    got = proc.parse_proc_cgroup("9:name=systemd:/\n4:cpu,cpuacct:/a/b\n0::/x:y\n")
    assert got[0].controllers == ("name=systemd",)
    assert got[1].controllers == ("cpu", "cpuacct") and got[1].path == "/a/b"
    assert got[2].hierarchy_id == 0 and got[2].controllers == () and got[2].path == "/x:y"


def test_status():
    s = proc.parse_status("Name:\tsh\nPid:\t7\nPPid:\t1\nCapEff:\t000001ffffffffff\n"
                          "VmRSS:\t  100 kB\nVmSwap:\t       4 kB\nCpus_allowed_list:\t0-1\n")
    assert s.cap_eff == 0x1FFFFFFFFFF and s.vm_swap == 4096 and s.vm_rss == 102400
    assert s.cpus_allowed_list == "0-1" and s.pid == 7


def test_status_kernel_thread_has_no_swap():
    assert proc.parse_status("Name:\tkthreadd\nPid:\t2\nPPid:\t0\n").vm_swap is None


def test_stat_comm_with_parens():
    line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 1 0 0 0 5 6 0 0 20 0 1 0 9876 1000 10"
    s = proc.parse_stat(line)
    assert (s.pid, s.comm, s.state, s.ppid, s.utime, s.stime, s.start_time) == (42, "a) b (c)", "S", 1, 5, 6, 9876)


def test_reads_self():
    assert proc.read_stat().pid == os.getpid()
    assert proc.start_time(os.getpid()) > 0
    assert any(m.mountpoint == "/" for m in proc.read_mountinfo())

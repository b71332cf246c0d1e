"""Seccomp on the real kernel: each filter goes into a forked child, never into the pytest process.

The child installs the program, probes (ctypes syscalls or an exec of
busybox) and reports through its exit status and a pipe. Every probe that
would change the host without a filter is made harmless first: the clock
is set to *now*, mounts happen in a private mount namespace.
"""

from __future__ import annotations

import ctypes
import errno
import json
import mmap
import os
import signal
import threading
import time

import pytest

from pallet.linux.seccomp import get_seccomp_mode, set_no_new_privs
from pallet.runtime.seccomp import compile_filter, default_profile, install_filter

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {"getppid": 110, "unshare": 272, "keyctl": 250, "clone": 56, "clone3": 435, "personality": 135, "socket": 41,
      "mount": 165, "getpid": 39, "mseal": 462}
CLONE_NEWUSER, CLONE_NEWNS, SIGCHLD = 0x10000000, 0x00020000, 17
BUSYBOX = "/bin/busybox"


def sys_call(name: str, *args) -> int:
    """Raw syscall; returns the result or -errno."""
    r = libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_long(a) for a in args])
    return -ctypes.get_errno() if r == -1 else r


def in_child(prog, probe, *, root: str | None = None, before=None, nnp: bool = True) -> tuple[int, object]:
    """Fork; in the child run before(), chroot to root, install prog, then probe() -> JSON-able result.

    Returns (status, result): status is the exit code, or -signal if the child was killed.
    probe may exec; then its output reaches the parent through fd 1/2 pointed at the pipe, as text.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns
        code = 0
        try:
            os.close(r)
            os.dup2(w, 1)
            os.dup2(w, 2)
            if before:
                before()
            if root:
                os.chroot(root)
                os.chdir("/")
            if nnp:
                set_no_new_privs()
            if prog is not None:
                install_filter(prog)
                if get_seccomp_mode() != 2:
                    os.write(w, b"NO FILTER")
                    os._exit(3)
            os.write(w, json.dumps(probe()).encode())
        except BaseException as e:  # noqa: BLE001 - report anything to the parent
            try:
                os.write(w, f"EXC {type(e).__name__}: {e}".encode())
            except BaseException:  # noqa: BLE001
                pass
            code = 2
        os._exit(code)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    out = b"".join(chunks).decode(errors="replace")
    try:
        result: object = json.loads(out)
    except ValueError:
        result = out
    return (-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)), result


def exec_busybox(*argv: str, env: dict | None = None):
    def probe():
        os.execve(BUSYBOX if os.path.exists(BUSYBOX) else "/bin/busybox", list(argv), env or {"PATH": "/bin:/sbin", "TZ": "UTC"})
    return probe


def allow_all_but(rules: list[dict], **kw) -> dict:
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules, **kw}


# --- the seed's example ------------------------------------------------------------------------------


def test_clock_settime_denied_makes_date_s_fail_and_host_clock_stays(rootfs):
    prog = compile_filter(allow_all_but([{"names": ["clock_settime", "clock_settime64", "settimeofday", "stime"],
                                          "action": "SCMP_ACT_ERRNO"}]))
    wall, mono = time.time(), time.monotonic()
    # Set the clock to *now* (UTC, whole second): even without the filter nothing would change.
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    status, out = in_child(prog, exec_busybox("date", "-u", "-s", now), root=str(rootfs))
    assert status == 0  # busybox reports the failure but exits 0
    assert "can't set date: Operation not permitted" in out
    drift = (time.time() - wall) - (time.monotonic() - mono)
    assert abs(drift) < 0.5


def test_without_the_rule_date_s_would_succeed(rootfs):
    """The control: the same child without the rule does set the clock (to now), so the test above tests the filter."""
    prog = compile_filter(allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]))
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    status, out = in_child(prog, exec_busybox("date", "-u", "-s", now), root=str(rootfs))
    assert status == 0 and "can't set date" not in out


# --- conditions, actions, errno ----------------------------------------------------------------------


def test_arg_condition_masked_eq_with_custom_errno(rootfs):
    """Deny setting the setuid bit (mode & 04000 == 04000) with EACCES; plain chmod still works."""
    setuid = {"op": "SCMP_CMP_MASKED_EQ", "value": 0o4000, "valueTwo": 0o4000}
    prog = compile_filter(allow_all_but([
        {"names": ["chmod", "fchmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES, "args": [{"index": 1, **setuid}]},
        {"names": ["fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES, "args": [{"index": 2, **setuid}]},
    ]))
    script = "touch /tmp/f && chmod 755 /tmp/f && echo plain-ok; chmod u+s /tmp/f || echo setuid-denied; stat -c %a /tmp/f"
    status, out = in_child(prog, exec_busybox("sh", "-c", script), root=str(rootfs))
    assert "plain-ok" in out and "Permission denied" in out and "setuid-denied" in out
    assert out.strip().endswith("755")


def test_64_bit_argument_compared_in_two_halves(tmp_path):
    """lseek offsets above 4 GiB get EDOM; 0xFFFFFFF0 (high half 0) and 4 GiB itself do not."""
    prog = compile_filter(allow_all_but([{"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EDOM,
                                          "args": [{"index": 1, "op": "SCMP_CMP_GT", "value": 0x1_0000_0000}]}]))
    path = str(tmp_path / "f")
    open(path, "w").close()

    def probe():
        fd = os.open(path, os.O_RDONLY)
        out = {}
        for off in (5, 0xFFFF_FFF0, 0x1_0000_0000, 0x1_0000_0001, 0x2_0000_0000):
            try:
                out[hex(off)] = os.lseek(fd, off, os.SEEK_SET)
            except OSError as e:
                out[hex(off)] = -e.errno
        return out

    status, out = in_child(prog, probe)
    assert status == 0, out
    assert out == {"0x5": 5, "0xfffffff0": 0xFFFF_FFF0, "0x100000000": 0x1_0000_0000,
                   "0x100000001": -errno.EDOM, "0x200000000": -errno.EDOM}


def test_kill_process_dies_by_sigsys():
    prog = compile_filter(allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]))
    status, _ = in_child(prog, lambda: os.getppid())
    assert status == -signal.SIGSYS


@pytest.mark.parametrize("action, want", [
    ("SCMP_ACT_KILL", -signal.SIGSYS),          # KILL_THREAD: the only thread, so the process
    ("SCMP_ACT_TRAP", -signal.SIGSYS),          # SIGSYS delivered; its default action kills
    ("SCMP_ACT_LOG", 0),                        # allowed (and logged)
    ("SCMP_ACT_TRACE", 0),                      # no tracer: the call fails with ENOSYS
    ("SCMP_ACT_ERRNO", 0),
])
def test_actions_on_the_kernel(action, want):
    prog = compile_filter(allow_all_but([{"names": ["getppid"], "action": action}]))
    status, out = in_child(prog, lambda: sys_call("getppid"))
    assert status == want, out
    if action == "SCMP_ACT_TRACE":
        assert out == -errno.ENOSYS
    elif action == "SCMP_ACT_ERRNO":
        assert out == -errno.EPERM
    elif action == "SCMP_ACT_LOG":
        assert out == os.getpid()


def test_tsync_filters_every_thread():
    prog = compile_filter(allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}], flags=["SECCOMP_FILTER_FLAG_TSYNC"]))

    def probe():
        go, done = threading.Event(), threading.Event()
        seen = {}

        def worker():
            go.wait()
            seen["r"] = sys_call("getppid")
            done.set()

        t = threading.Thread(target=worker)
        t.start()
        # the filter is installed by in_child before probe runs; install again with TSYNC now that a thread exists
        install_filter(prog)
        go.set()
        done.wait(5)
        t.join()
        return seen["r"]

    status, out = in_child(None, probe)
    assert status == 0 and out == -errno.EPERM


@pytest.mark.parametrize("flag", ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"])
def test_other_flags_are_accepted_by_the_kernel(flag):
    prog = compile_filter(allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}], flags=[flag]))
    status, out = in_child(prog, lambda: sys_call("getppid"))
    assert (status, out) == (0, -errno.EPERM)


def test_without_no_new_privs_root_can_still_install():
    prog = compile_filter(allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]))
    status, out = in_child(prog, lambda: sys_call("getppid"), nnp=False)
    assert (status, out) == (0, -errno.EPERM)


def test_newer_syscalls_are_filtered_by_number():
    prog = compile_filter(allow_all_but([{"names": ["mseal"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV}]))
    status, out = in_child(prog, lambda: sys_call("mseal", 0, 0, 0))
    assert (status, out) == (0, -errno.EXDEV)


# --- architecture checks -----------------------------------------------------------------------------

# mov eax, 20 (i386 getpid); int 0x80; ret  -- a 64-bit process entering the 32-bit syscall table
_INT80_GETPID = b"\xb8\x14\x00\x00\x00\xcd\x80\xc3"


def _int80_getpid() -> int:
    buf = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    buf.write(_INT80_GETPID)
    fn = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(buf)))
    return fn()


def _ia32_works() -> bool:
    status, out = in_child(None, _int80_getpid)
    return status == 0 and isinstance(out, int) and out > 0


def test_i386_entry_is_killed_when_the_profile_is_native_only():
    if not _ia32_works():
        pytest.skip("no IA32 emulation in this kernel")
    native = compile_filter(allow_all_but([{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}], architectures=["SCMP_ARCH_X86_64"]))
    status, _ = in_child(native, _int80_getpid)
    assert status == -signal.SIGSYS
    both = compile_filter(default_profile([]))  # x86_64 + x86 + x32: i386 getpid is allowed
    status, out = in_child(both, _int80_getpid)
    assert status == 0 and isinstance(out, int) and out > 0


def test_x32_numbers_cannot_bypass_a_native_only_filter():
    native = compile_filter(allow_all_but([{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}], architectures=["SCMP_ARCH_X86_64"]))
    # getpid with the x32 bit: killed by the arch check, whether or not the kernel has x32 support
    status, _ = in_child(native, lambda: libc.syscall(ctypes.c_long(0x40000000 | NR["getpid"])))
    assert status == -signal.SIGSYS


# --- the default profile -------------------------------------------------------------------------------


def _private_mounts():
    """A private mount namespace: a mount the filter fails to stop stays in this child."""
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare CLONE_NEWNS")
    if libc.mount(b"none", b"/", None, 0x4000 | 0x40000, None) != 0:  # MS_REC|MS_PRIVATE
        raise OSError(ctypes.get_errno(), "make / private")


def _default_profile_probe(target: str):
    def probe():
        out = {}
        out["keyctl"] = sys_call("keyctl", 0, -3, 0)  # KEYCTL_GET_KEYRING_ID of the session keyring
        out["mount"] = -ctypes.get_errno() if libc.mount(b"none", target.encode(), b"tmpfs", 0, None) == -1 else 0
        r = sys_call("clone", CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)
        if r == 0:
            os._exit(0)
        if r > 0:
            os.waitpid(r, 0)
        out["clone_newuser"] = r if r < 0 else "created"
        r = sys_call("clone", SIGCHLD, 0, 0, 0, 0)  # a plain fork
        if r == 0:
            os._exit(0)
        if r > 0:
            os.waitpid(r, 0)
        out["clone_plain"] = "created" if r > 0 else r
        out["clone3"] = sys_call("clone3", 0, 0)
        out["personality_query"] = sys_call("personality", 0xFFFFFFFF)
        out["personality_norandom"] = sys_call("personality", 0x0040000)
        out["vsock"] = sys_call("socket", 40, 1, 0)
        out["unshare_newuser"] = sys_call("unshare", CLONE_NEWUSER)  # last: it would take our caps over the mount ns
        return out
    return probe


def test_default_profile_blocks_namespaces_keyctl_and_mount_without_cap_sys_admin(tmp_path):
    target = str(tmp_path / "mnt")
    os.mkdir(target)
    prog = compile_filter(default_profile([]))  # the container has no CAP_SYS_ADMIN
    status, out = in_child(prog, _default_profile_probe(target), before=_private_mounts)
    assert status == 0, out
    assert out["unshare_newuser"] == -errno.EPERM
    assert out["keyctl"] == -errno.EPERM
    assert out["mount"] == -errno.EPERM
    assert out["clone_newuser"] == -errno.EPERM
    assert out["clone_plain"] == "created"
    assert out["clone3"] == -errno.ENOSYS  # so libc falls back to clone
    assert out["personality_query"] >= 0
    assert out["personality_norandom"] == -errno.EPERM
    assert out["vsock"] == -errno.EPERM


def test_the_same_probe_without_a_filter_succeeds(tmp_path):
    """The control for the test above: as root and unfiltered, every call goes through."""
    target = str(tmp_path / "mnt")
    os.mkdir(target)
    status, out = in_child(None, _default_profile_probe(target), before=_private_mounts)
    assert status == 0, out
    assert out["unshare_newuser"] == 0 and out["keyctl"] > 0 and out["mount"] == 0 and out["clone_newuser"] == "created"
    assert out["clone3"] in (-errno.EINVAL, -errno.EFAULT)


def test_default_profile_with_cap_sys_admin_allows_unshare():
    prog = compile_filter(default_profile(["CAP_SYS_ADMIN"]))
    status, out = in_child(prog, lambda: sys_call("unshare", CLONE_NEWUSER))
    assert (status, out) == (0, 0)


def test_ordinary_busybox_commands_work_under_the_default_profile(rootfs):
    prog = compile_filter(default_profile([]))
    script = ("echo hello && ls / >/dev/null && cat /etc/passwd | grep -q root && "
              "mkdir -p /tmp/d && echo x > /tmp/d/f && cp /tmp/d/f /tmp/d/g && rm -r /tmp/d && "
              "sleep 0.01 && ps >/dev/null && date >/dev/null && id -u && (sh -c 'exit 3'; echo sub=$?) && "
              "(wget --help 2>&1 | grep -q Usage) && echo wget-ok && grep Seccomp: /proc/self/status")
    status, out = in_child(prog, exec_busybox("sh", "-c", script),
                           root=str(rootfs), before=lambda: _mount_proc(str(rootfs)))
    assert status == 0, out
    for line in ("hello", "0", "sub=3", "wget-ok", "Seccomp:\t2"):
        assert line in out.splitlines(), out


def _mount_proc(root: str) -> None:
    _private_mounts()
    if libc.mount(b"proc", os.path.join(root, "proc").encode(), b"proc", 0, None) != 0:
        raise OSError(ctypes.get_errno(), "mount proc")


def test_cached_program_loads_in_the_child(tmp_path):
    from pallet.runtime.seccomp import compile as comp

    profile = allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOTTY}])
    compile_filter(profile, cache_dir=str(tmp_path))
    comp.clear_memory_cache()
    t = time.perf_counter()
    prog = compile_filter(profile, cache_dir=str(tmp_path))
    assert time.perf_counter() - t < 0.5  # a file read, not a compile (generous: no timing in tests)
    status, out = in_child(prog, lambda: sys_call("getppid"))
    assert (status, out) == (0, -errno.ENOTTY)


# --- syscalls newer than the profile, and Docker's additions for 6.5-6.13 ------------------------------

_NEWER_PROBES = {  # name: (x86_64 number, args that fail harmlessly when the call reaches the kernel)
    "cachestat": (451, (-1, 0, 0, 0)),               # bad fd -> EBADF
    "fchmodat2": (452, (-100, 0, 0, 0)),             # NULL path -> EFAULT
    "futex_wake": (454, (0, 0, 0, 0)),
    "futex_wait": (455, (0, 0, 0, 0, 0, 0)),
    "statmount": (457, (0, 0, 0, 0)),
    "listmount": (458, (0, 0, 0, 0)),
    "mseal": (462, (0, 0, 0)),                       # an empty range: 0 or EINVAL
    "getxattrat": (464, (-1, 0, 0, 0, 0, 0)),
    "lsm_list_modules": (461, (0, 0, 0)),            # CAP_SYS_ADMIN only
    "io_uring_setup": (425, (0, 0)),                 # left out, as Docker does
    "keyctl": (250, (0, -3, 0)),
    "open_tree_attr": (467, (-1, 0, 0, 0, 0)),       # newer than anything the profile names
    "file_getattr": (468, (-1, 0, 0, 0, 0)),
    "nr_1000": (1000, ()),
    "socket_alg": (41, (38, 5, 0)),                  # AF_ALG, SOCK_SEQPACKET
    "socket_vsock": (41, (40, 1, 0)),
    "socket_unix": (41, (1, 1, 0)),
}


def _raw(nr: int, *args) -> int:
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return -ctypes.get_errno() if r == -1 else r


def _probe_newer():
    return {name: _raw(nr, *args) for name, (nr, args) in _NEWER_PROBES.items()}


def test_default_profile_newer_syscalls_on_the_kernel():
    status, plain = in_child(None, _probe_newer)
    assert status == 0, plain
    status, out = in_child(compile_filter(default_profile([])), _probe_newer)
    assert status == 0, out
    refused = (-errno.EPERM, -errno.ENOSYS)
    for name in ("cachestat", "fchmodat2", "futex_wake", "futex_wait", "statmount", "listmount", "mseal", "getxattrat"):
        if plain[name] == -errno.ENOSYS:
            continue  # this kernel lacks it: nothing to allow
        assert out[name] == plain[name] and out[name] not in refused, (name, out[name], plain[name])
    assert out["socket_unix"] >= 0
    for name in ("lsm_list_modules", "io_uring_setup", "keyctl", "socket_alg", "socket_vsock"):
        assert out[name] == -errno.EPERM, (name, out[name])
    # Above the largest syscall the profile names: ENOSYS (runc's stub), so libc falls back;
    # the unfiltered call shows the kernel has them, so the ENOSYS is the filter's.
    for name in ("open_tree_attr", "file_getattr", "nr_1000"):
        assert out[name] == -errno.ENOSYS, (name, out[name])
    if plain["open_tree_attr"] != -errno.ENOSYS:
        assert plain["open_tree_attr"] not in refused


def test_default_profile_with_cap_sys_admin_allows_lsm_calls():
    status, plain = in_child(None, _probe_newer)
    status, out = in_child(compile_filter(default_profile(["CAP_SYS_ADMIN"])), _probe_newer)
    assert status == 0, out
    if plain["lsm_list_modules"] != -errno.ENOSYS:
        assert out["lsm_list_modules"] == plain["lsm_list_modules"] != -errno.EPERM


def test_libseccomp_backend_with_the_stub_loads_and_answers_enosys():
    prog = compile_filter(default_profile([]), backend="libseccomp", warn=lambda m: None)
    status, out = in_child(prog, lambda: {"new": _raw(1000), "keyctl": _raw(250, 0, -3, 0), "pid": _raw(39)})
    assert status == 0, out
    assert out["new"] == -errno.ENOSYS and out["keyctl"] == -errno.EPERM and out["pid"] > 0

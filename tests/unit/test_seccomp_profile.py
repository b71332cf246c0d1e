"""default_profile (default.json) and docker_profile_to_oci: capability, arch and kernel gating; the cache."""

from __future__ import annotations

import json
import os

import pytest

from pallet.errors import InvalidArgument
from pallet.oci.seccomp import Seccomp
from pallet.runtime.seccomp import compile_filter, default_profile, docker_profile_to_oci
from pallet.runtime.seccomp import compile as comp


def names(profile: dict, action: str = "SCMP_ACT_ALLOW", with_args: bool = False) -> set[str]:
    return {n for s in profile["syscalls"] if s["action"] == action and bool(s.get("args")) == with_args for n in s["names"]}


def test_default_profile_is_valid_oci_and_docker_shaped():
    p = default_profile([], arch="x86_64", kernel="6.18.0")
    Seccomp.from_json(p)
    assert p["defaultAction"] == "SCMP_ACT_ERRNO" and p["defaultErrnoRet"] == 1
    assert p["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = names(p)
    assert {"read", "execve", "arch_prctl", "modify_ldt", "ptrace", "process_vm_readv"} <= allowed
    assert not {"mount", "unshare", "setns", "clone", "clone3", "keyctl", "reboot", "clock_settime", "chroot", "bpf"} & allowed
    assert names(p, with_args=True) == {"socket", "personality", "clone"}
    assert [s for s in p["syscalls"] if s["names"] == ["clone3"]] == [
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    clone = [s for s in p["syscalls"] if s["names"] == ["clone"]]
    assert clone == [{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]
    personality = sorted(s["args"][0]["value"] for s in p["syscalls"] if s["names"] == ["personality"])
    assert personality == [0, 8, 0x20000, 0x20008, 0xFFFFFFFF]


@pytest.mark.parametrize("cap, gained", [
    ("CAP_SYS_ADMIN", {"mount", "umount2", "unshare", "setns", "clone", "clone3", "sethostname", "bpf", "fsopen"}),
    ("CAP_SYS_TIME", {"clock_settime", "settimeofday", "stime"}),
    ("CAP_SYS_BOOT", {"reboot"}),
    ("CAP_SYS_CHROOT", {"chroot"}),
    ("CAP_SYS_MODULE", {"init_module", "finit_module", "delete_module"}),
    ("CAP_SYS_PTRACE", {"kcmp", "pidfd_getfd", "process_madvise"}),
    ("CAP_DAC_READ_SEARCH", {"open_by_handle_at"}),
    ("SYS_NICE", {"mbind", "set_mempolicy"}),  # without the CAP_ prefix, as Docker's --cap-add spells it
])
def test_capabilities_open_their_syscalls(cap, gained):
    base, more = names(default_profile([], "x86_64")), names(default_profile([cap], "x86_64"))
    assert gained <= more - base


def test_sys_admin_drops_the_clone_arg_rule_and_clone3_enosys():
    p = default_profile(["CAP_SYS_ADMIN"], "x86_64")
    assert "clone" not in names(p, with_args=True)
    assert not [s for s in p["syscalls"] if s["names"] == ["clone3"] and s["action"] == "SCMP_ACT_ERRNO"]


def test_arch_and_kernel_gating():
    arm = default_profile([], arch="aarch64")
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert "set_tls" in names(arm) and "arch_prctl" not in names(arm)
    old = default_profile([], arch="x86_64", kernel="4.4.0-200-generic")
    assert "ptrace" not in names(old)
    s390 = default_profile([], arch="s390x")
    assert [a["args"][0]["index"] for a in s390["syscalls"] if a["names"] == ["clone"]] == [1]


def test_default_profile_compiles_for_every_cap_set():
    for caps in ([], ["CAP_SYS_ADMIN"], ["CAP_SYS_PTRACE", "CAP_SYS_NICE", "CAP_BPF", "CAP_PERFMON", "CAP_SYSLOG"]):
        assert compile_filter(default_profile(caps)).instructions > 100


DOCKER = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    ],
    "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"name": "close", "action": "SCMP_ACT_ALLOW", "args": []},
        {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
        {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
        {"names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm", "arm64"]}},
        {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
         "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["kexec_load"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_BOOT", "CAP_SYS_ADMIN"]}},
    ],
}


def test_docker_profile_conversion_without_caps():
    oci = docker_profile_to_oci(DOCKER, [], "x86_64", kernel="6.18.0")
    assert oci["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert names(oci) == {"read", "write", "close", "ptrace", "arch_prctl"}
    assert names(oci, with_args=True) == {"clone"}
    assert {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38} in oci["syscalls"]
    assert [s for s in oci["syscalls"] if s["names"] == ["clone"]][0]["args"] == [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
    Seccomp.from_json(oci)


def test_docker_profile_conversion_caps_arch_kernel():
    oci = docker_profile_to_oci(DOCKER, ["SYS_ADMIN"], "x86_64", kernel="6.1")
    assert "mount" in names(oci) and "clone" not in names(oci, with_args=True)
    assert "kexec_load" not in names(oci)  # includes.caps needs all of them
    assert "kexec_load" in names(docker_profile_to_oci(DOCKER, ["CAP_SYS_ADMIN", "CAP_SYS_BOOT"], "x86_64"))
    arm = docker_profile_to_oci(DOCKER, [], "aarch64")
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert "set_tls" in names(arm) and "arch_prctl" not in names(arm)
    assert "ptrace" not in names(docker_profile_to_oci(DOCKER, [], "x86_64", kernel="4.4.0"))


def test_docker_legacy_architectures_and_flags_pass_through():
    oci = docker_profile_to_oci({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                                 "flags": ["SECCOMP_FILTER_FLAG_LOG"], "syscalls": []})
    assert oci == {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                   "flags": ["SECCOMP_FILTER_FLAG_LOG"], "syscalls": []}


@pytest.mark.parametrize("doc, msg", [
    ({"syscalls": []}, "seccomp profile.defaultAction: missing"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]}, r"seccomp profile.syscalls\[0\].names: missing"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"]}]}, r"seccomp profile.syscalls\[0\].action: missing"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"value": 1}]}]},
     r"seccomp profile.syscalls\[0\].args\[0\].index: missing"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{}], "architectures": ["SCMP_ARCH_X86"]}, "exclusive"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}}, "seccomp profile.syscalls: {} is not a list"),
])
def test_docker_profile_errors(doc, msg):
    with pytest.raises(InvalidArgument, match=msg):
        docker_profile_to_oci(doc)


@pytest.mark.skipif(not os.path.exists("/usr/share/containers/seccomp.json"), reason="containers-common's profile is absent")
def test_a_real_docker_format_profile_converts_and_compiles():
    with open("/usr/share/containers/seccomp.json") as f:
        oci = docker_profile_to_oci(json.load(f), ["CAP_CHOWN", "CAP_NET_RAW"], "x86_64")
    assert compile_filter(oci, warn=lambda m: None).instructions > 100


def test_disk_cache_round_trip_and_corruption(tmp_path):
    prof = default_profile([])
    comp.clear_memory_cache()
    first = compile_filter(prof, cache_dir=str(tmp_path / "c"))
    files = list((tmp_path / "c").iterdir())
    assert len(files) == 1 and files[0].suffix == ".bpf"
    comp.clear_memory_cache()
    again = compile_filter(prof, cache_dir=str(tmp_path / "c"))
    assert again == first
    files[0].write_bytes(b"garbage")  # a torn or foreign file is recompiled, not trusted
    comp.clear_memory_cache()
    assert compile_filter(prof, cache_dir=str(tmp_path / "c")) == first


def test_cache_key_follows_content_and_backend():
    a = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]}
    b = {"syscalls": [{"action": "SCMP_ACT_ERRNO", "names": ["mount"]}], "defaultAction": "SCMP_ACT_ALLOW"}
    assert comp.cache_key(a, "pallet") == comp.cache_key(b, "pallet")  # key order does not matter
    assert comp.cache_key(a, "pallet") != comp.cache_key(a, "libseccomp")
    assert comp.cache_key(a, "pallet") != comp.cache_key({**a, "defaultAction": "SCMP_ACT_LOG"}, "pallet")


def test_flags_survive_the_disk_cache(tmp_path):
    prof = {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"], "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]}
    comp.clear_memory_cache()
    compile_filter(prof, cache_dir=str(tmp_path))
    comp.clear_memory_cache()
    assert compile_filter(prof, cache_dir=str(tmp_path)).flags == 2


def _cached(tmp_path, prof):
    comp.clear_memory_cache()
    prog = compile_filter(prof, cache_dir=str(tmp_path))
    (entry,) = [p for p in tmp_path.iterdir() if p.suffix == ".bpf"]
    return prog, entry


@pytest.mark.parametrize("damage", ["flip_a_program_byte", "drop_the_last_instruction", "flip_the_flags", "empty"])
def test_a_damaged_entry_is_ignored_and_rewritten(tmp_path, damage):
    prof = {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]}
    good, entry = _cached(tmp_path, prof)
    data = bytearray(entry.read_bytes())
    if damage == "flip_a_program_byte":
        data[-3] ^= 0xFF        # still aligned and with the right magic: only the digest tells
    elif damage == "drop_the_last_instruction":
        del data[-8:]
    elif damage == "flip_the_flags":
        data[4] ^= 0x01
    else:
        data = bytearray()
    entry.write_bytes(bytes(data))
    comp.clear_memory_cache()
    assert compile_filter(prof, cache_dir=str(tmp_path)) == good
    comp.clear_memory_cache()
    assert comp._load(str(entry), "pallet") == good   # rebuilt in place
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_entry_layout_is_magic_flags_digest_program(tmp_path):
    prog, entry = _cached(tmp_path, default_profile([]))
    data = entry.read_bytes()
    assert data[:4] == b"PSC3" and data[comp._HEADER.size:] == prog.bpf
    assert entry.name == comp.cache_key(default_profile([]), "pallet") + ".bpf"
    assert oct(entry.stat().st_mode & 0o777) == "0o600"


def test_an_unusable_cache_dir_costs_only_the_compile(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    comp.clear_memory_cache()
    prog = compile_filter(default_profile([]), cache_dir=str(blocker / "cache"))
    assert prog.instructions > 100


def test_the_compiler_sources_are_part_of_the_key(monkeypatch):
    a = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]}
    before = comp.cache_key(a, "pallet")
    monkeypatch.setattr(comp, "_sources_id", "bpf.py:1:2")  # as if bpf.py had been edited
    assert comp.cache_key(a, "pallet") != before


def test_the_cache_keeps_a_bounded_number_of_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(comp, "MAX_ENTRIES", 3)
    comp.clear_memory_cache()
    for errno_ret in range(1, 6):
        compile_filter({"defaultAction": "SCMP_ACT_ALLOW",
                        "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno_ret}]},
                       cache_dir=str(tmp_path))
    assert len([p for p in tmp_path.iterdir() if p.suffix == ".bpf"]) == 3

"""Seccomp for pallet-runtime: compile OCI `linux.seccomp` to BPF (parent), install it (child).

    from pallet.runtime.seccomp import compile_filter, install_filter, default_profile, docker_profile_to_oci
    prog = compile_filter(spec["linux"]["seccomp"], cache_dir=...)   # parent, before fork
    install_filter(prog)                                             # child, last step before execve

Modules: plan.py (JSON -> backend-neutral plan, pure), bpf.py (our BPF
compiler, pure), syscalls.py (syscall number tables), libseccomp.py (the
reference backend through ctypes), enosys.py (runc's ENOSYS stub for
libseccomp's output; bpf.py builds the same rule in), compile.py (front
door and the on-disk cache: keyed by profile, backend, arch and compiler
sources; written atomically; damaged entries rebuilt),
program.py (SeccompProgram and install_filter: the only code the child
runs), profile.py and default.json (the Docker-equivalent default profile
and Docker-format conversion).

Only program.py is imported eagerly: the child must not import anything.
"""

from __future__ import annotations

import os

from pallet.runtime.seccomp.program import SeccompProgram, install_filter

# What default_profile() reads: a cache of its result is keyed by these files (pallet.engine.spec_plan)
DEFAULT_PROFILE_SOURCES = tuple(os.path.join(os.path.dirname(__file__), n) for n in ("default.json", "profile.py"))


def compile_filter(seccomp_json: dict, **kw) -> SeccompProgram:
    """OCI `linux.seccomp` -> SeccompProgram (keywords: cache_dir, backend, warn); see compile.py."""
    from pallet.runtime.seccomp.compile import compile_filter as _compile

    return _compile(seccomp_json, **kw)


def default_profile(capabilities: list[str] | None = None, arch: str | None = None, kernel: str | None = None) -> dict:
    """Docker-equivalent default as OCI `linux.seccomp` for these effective caps (arch/kernel: this host's by default)."""
    from pallet.runtime.seccomp.profile import default_profile as _default

    return _default(capabilities, arch, kernel)


def docker_profile_to_oci(
    docker_json: dict, capabilities: list[str] | None = None, arch: str | None = None, kernel: str | None = None
) -> dict:
    """Docker's seccomp JSON (archMap, includes/excludes) -> OCI `linux.seccomp`."""
    from pallet.runtime.seccomp.profile import docker_profile_to_oci as _convert

    return _convert(docker_json, capabilities, arch, kernel)


__all__ = ["SeccompProgram", "compile_filter", "install_filter", "default_profile", "docker_profile_to_oci", "features"]


def features() -> dict:
    """`linux.seccomp` of runc's `features` output: what this implementation accepts."""
    from pallet.oci.seccomp import ACTIONS, ARCHES, FLAGS, OPERATORS

    return {
        "enabled": True,
        "actions": [a for a in ACTIONS if a != "SCMP_ACT_NOTIFY"],
        "operators": list(OPERATORS),
        "archs": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "knownFlags": list(FLAGS),
        "supportedFlags": [f for f in FLAGS if f != "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],  # it needs NOTIFY
    }

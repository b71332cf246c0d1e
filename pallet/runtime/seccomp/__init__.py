"""Seccomp for pallet-runtime: compile OCI `linux.seccomp` to BPF (parent), install it (child).

    from pallet.runtime.seccomp import compile_filter, install_filter, default_profile, docker_profile_to_oci
    prog = compile_filter(spec["linux"]["seccomp"], cache_dir=...)   # parent, before fork
    install_filter(prog)                                             # child, last step before execve

Modules: plan.py (JSON -> backend-neutral plan, pure), bpf.py (our BPF
compiler, pure), syscalls.py (syscall number tables), libseccomp.py (the
reference backend through ctypes), compile.py (front door and cache),
program.py (SeccompProgram and install_filter: the only code the child
runs), profile.py and default.json (the Docker-equivalent default profile
and Docker-format conversion).

Only program.py is imported eagerly: the child must not import anything.
"""

from __future__ import annotations

from pallet.runtime.seccomp.program import SeccompProgram, install_filter


def compile_filter(seccomp_json: dict, **kw) -> SeccompProgram:
    from pallet.runtime.seccomp.compile import compile_filter as _compile

    return _compile(seccomp_json, **kw)


def default_profile(capabilities: list[str] | None = None, arch: str | None = None) -> dict:
    from pallet.runtime.seccomp.profile import default_profile as _default

    return _default(capabilities, arch)


def docker_profile_to_oci(docker_json: dict, capabilities: list[str] | None = None, arch: str = "x86_64") -> dict:
    from pallet.runtime.seccomp.profile import docker_profile_to_oci as _convert

    return _convert(docker_json, capabilities, arch)


__all__ = ["SeccompProgram", "compile_filter", "install_filter", "default_profile", "docker_profile_to_oci"]

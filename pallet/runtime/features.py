"""`features`: what this runtime supports, in runc's JSON shape (runtime-spec features.md)."""

from __future__ import annotations


def features() -> dict:
    from pallet.linux.capability import CAPS
    from pallet.oci.runtime_spec import HOOK_KINDS, NAMESPACE_TYPES
    from pallet.runtime.rootfs import FLAG_OPTIONS, IGNORED_OPTIONS, PROPAGATION_OPTIONS
    from pallet.runtime.state import OCI_VERSION

    seccomp: dict = {"enabled": False}
    try:
        from pallet.runtime import seccomp as sc

        info = getattr(sc, "features", None)
        seccomp = info() if callable(info) else {"enabled": True}
    except ImportError:
        pass
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": list(HOOK_KINDS),
        "mountOptions": sorted(set(FLAG_OPTIONS) | set(PROPAGATION_OPTIONS) | set(IGNORED_OPTIONS)),
        "linux": {
            "namespaces": sorted(n for n in NAMESPACE_TYPES if n != "time"),
            "capabilities": list(CAPS),
            "cgroup": {"v1": True, "v2": True, "systemd": True, "systemdUser": False},
            "seccomp": seccomp,
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {"org.pallet.runtime.version": "0.1.0"},
    }

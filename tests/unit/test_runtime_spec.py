"""config.json parsing: values in, field-naming errors out (no root)."""

from __future__ import annotations

import pytest

from pallet.errors import InvalidArgument
from pallet.oci.runtime_spec import Spec, dumps, loads
from pallet.runtime.spec import default_spec


def test_default_spec_round_trips():
    spec = Spec.from_json(default_spec())
    assert spec.process.args == ("sh",) and spec.process.user.uid == 0
    assert spec.root.readonly and spec.hostname == "pallet"
    assert [n.type for n in spec.linux.namespaces] == ["pid", "network", "ipc", "uts", "mount"]
    assert spec.linux.resources == {"devices": [{"allow": False, "access": "rwm"}]}  # kept raw
    assert spec.process.rlimits[0].type == "RLIMIT_NOFILE"
    assert loads(dumps(default_spec())) == default_spec()


def _with(path: str, value):
    d = default_spec()
    keys = path.split(".")
    target = d
    for k in keys[:-1]:
        target = target[k]
    if value is KeyError:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return d


@pytest.mark.parametrize("path, value, message", [
    ("process.args", "sh", "config.json: process.args: must be a list of strings"),
    ("process.args", [], "config.json: process.args: must be a non-empty list of strings"),
    ("process.cwd", "relative", "config.json: process.cwd: must be an absolute path"),
    ("process.cwd", KeyError, "config.json: process.cwd: is required"),
    ("process.user", {"uid": -1, "gid": 0}, "config.json: process.user.uid: must be >= 0"),
    ("process.user", {"uid": 0, "gid": 0, "additionalGids": ["x"]}, "process.user.additionalGids"),
    ("process.env", ["NOEQUALS"], "config.json: process.env: 'NOEQUALS' is not KEY=VALUE"),
    ("process.rlimits", [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}], "process.rlimits[0].type"),
    ("process.rlimits", [{"type": "RLIMIT_NOFILE", "soft": 2, "hard": 1}], "soft limit 2 is above hard limit 1"),
    ("process.terminal", "yes", "config.json: process.terminal: must be a boolean"),
    ("root", KeyError, "config.json: root: is required"),
    ("root.path", 3, "config.json: root.path: must be a string"),
    ("ociVersion", KeyError, "config.json: ociVersion: is required"),
    ("mounts", [{"type": "tmpfs"}], "config.json: mounts[0].destination: is required"),
    ("mounts", [{"destination": "rel"}], "config.json: mounts[0].destination: must be an absolute path"),
    ("linux.namespaces", [{"type": "bogus"}], "config.json: linux.namespaces[0].type: unknown namespace type"),
    ("linux.namespaces", [{"type": "pid"}, {"type": "pid"}], "duplicate namespace 'pid'"),
    ("linux.uidMappings", [{"containerID": 0, "hostID": 1}], "config.json: linux.uidMappings[0].size: is required"),
    ("linux.devices", [{"type": "x", "path": "/dev/x"}], "config.json: linux.devices[0].type"),
    ("linux.rootfsPropagation", "sideways", "config.json: linux.rootfsPropagation"),
    ("linux.sysctl", {"a": 1}, "config.json: linux.sysctl: must be an object of strings"),
    ("hooks", {"prestart": [{"args": []}]}, "config.json: hooks.prestart[0].path: is required"),
    ("hooks", {"poststop": [{"path": "/x", "timeout": 0}]}, "hooks.poststop[0].timeout: must be greater than zero"),
])
def test_errors_name_the_field(path, value, message):
    with pytest.raises(InvalidArgument) as exc:
        Spec.from_json(_with(path, value))
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_values_are_frozen_and_comparable():
    a = Spec.from_json(default_spec())
    b = Spec.from_json(default_spec())
    assert a == b and hash(a.process) == hash(b.process)
    with pytest.raises(AttributeError):
        a.hostname = "x"
    assert a.replace(hostname="x").hostname == "x" and a.hostname == "pallet"


def test_hooks_and_namespace_paths():
    d = default_spec()
    d["hooks"] = {"prestart": [{"path": "/bin/true", "args": ["true"], "timeout": 3}]}
    d["linux"]["namespaces"].append({"type": "user"})
    d["linux"]["namespaces"][1]["path"] = "/proc/1/ns/net"
    spec = Spec.from_json(d)
    assert spec.hooks.get("prestart")[0].timeout == 3 and spec.hooks.get("poststop") == ()
    assert spec.linux.namespace("network").path == "/proc/1/ns/net"


def test_json_helpers():
    assert loads(' {"a": [1, 2.5, true, null, "x\\u00e9"]} ') == {"a": [1, 2.5, True, None, "xé"]}
    with pytest.raises(ValueError):
        loads("{")
    with pytest.raises(ValueError):
        loads("{} x")


def test_rootless_spec_is_valid():
    spec = Spec.from_json(default_spec(rootless=True))
    assert spec.linux.namespace("user") is not None and spec.linux.namespace("network") is None
    assert spec.linux.uid_mappings[0].size == 1 and spec.linux.resources is None

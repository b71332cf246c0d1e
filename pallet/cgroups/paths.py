"""Turning `linux.cgroupsPath` into a path inside the cgroup hierarchies.

Accepted forms (runc's):
- None or "": `/pallet/<id>`;
- an absolute path `/a/b`: as is, under each hierarchy's root;
- a relative path `a/b`: under the root too. runc puts a relative path
  under the runtime's own cgroup; pallet does not, because the CLI's own
  cgroup is whatever supervisor started it (a login session, a test
  harness) and a container should not land inside it.
- systemd's `slice:prefix:name`: `/<expanded slice>/<prefix>-<name>.scope`,
  or `/<expanded slice>/<name>` when name is itself a `.slice`; an empty
  slice is `system.slice`. Slices nest by dashes: `a-b.slice` is
  `/a.slice/a-b.slice`; `-.slice` is the root. (pallet writes the cgroupfs paths systemd would
  create; it does not ask systemd for a scope.)

A path that climbs out of the root (`..`) is refused, not cleaned: it is
a spec trying to write limits into someone else's cgroup.
"""

from __future__ import annotations

import posixpath

from pallet.errors import InvalidArgument

DEFAULT_PARENT = "/pallet"


def expand_slice(slice_name: str) -> str:
    """systemd's slice nesting: `a-b-c.slice` -> `/a.slice/a-b.slice/a-b-c.slice`."""
    suffix = ".slice"
    if not slice_name.endswith(suffix) or "/" in slice_name:
        raise InvalidArgument(f"cgroupsPath: slice {slice_name!r} is not a name ending in .slice")
    if slice_name == "-.slice":
        return "/"  # the root slice
    stem = slice_name[:-len(suffix)]
    parts = stem.split("-")
    if any(p == "" for p in parts):
        raise InvalidArgument(f"cgroupsPath: slice {slice_name!r} has an empty component")
    path, prefix = "", ""
    for part in parts:
        prefix = f"{prefix}-{part}" if prefix else part
        path += f"/{prefix}{suffix}"
    return path


def systemd_path(spec: str) -> str:
    parts = spec.split(":")
    if len(parts) != 3:
        raise InvalidArgument(f"cgroupsPath: {spec!r} is not slice:prefix:name")
    slice_name, prefix, name = parts
    if not name:
        raise InvalidArgument(f"cgroupsPath: {spec!r} has no name")
    parent = expand_slice(slice_name or "system.slice")
    # runc's getUnitName, literally: a scope `<prefix>-<name>.scope` (an
    # empty prefix gives "-<name>.scope", as in runc), or the name itself
    # when it is a slice; either sits right under the parent slice.
    unit = name if name.endswith(".slice") else f"{prefix}-{name}.scope"
    return posixpath.join(parent, unit)


def _check_inside(path: str, original: str) -> str:
    depth = 0
    for part in path.split("/"):
        if part in ("", "."):
            continue
        depth += -1 if part == ".." else 1
        if depth < 0:
            raise InvalidArgument(f"cgroupsPath: {original!r} escapes the cgroup root")
    normal = posixpath.normpath("/" + path.lstrip("/"))
    if normal == "/":
        raise InvalidArgument(f"cgroupsPath: {original!r} is the cgroup root itself")
    return normal


def resolve(cgroups_path: str | None, container_id: str, *, systemd: bool | None = None) -> str:
    """The container's cgroup as an absolute path below the hierarchy roots.

    `systemd` forces the systemd reading (runc's --systemd-cgroup); None
    guesses it from the form `slice:prefix:name`.
    """
    if not cgroups_path:
        if not container_id or "/" in container_id or container_id in (".", ".."):
            raise InvalidArgument(f"container id {container_id!r} can't name a cgroup")
        return f"{DEFAULT_PARENT}/{container_id}"
    if systemd or (systemd is None and cgroups_path.count(":") == 2 and "/" not in cgroups_path):
        return _check_inside(systemd_path(cgroups_path), cgroups_path)
    return _check_inside(cgroups_path, cgroups_path)

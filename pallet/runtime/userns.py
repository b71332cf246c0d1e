"""User namespaces: the parent writes the child's uid_map and gid_map; /etc/passwd lookups inside."""

from __future__ import annotations


from pallet.linux._libc import strerror


def map_text(mappings) -> str:
    return "".join(f"{x.container_id} {x.host_id} {x.size}\n" for x in mappings)


def write_maps(pid: int, uid_mappings, gid_mappings) -> None:
    """Written by the (privileged) parent, so setgroups may stay allowed."""
    for name, mappings in (("uid_map", uid_mappings), ("gid_map", gid_mappings)):
        if not mappings:
            continue
        path = f"/proc/{pid}/{name}"
        try:
            with open(path, "w") as f:
                f.write(map_text(mappings))
        except OSError as exc:
            raise OSError(exc.errno, f"write {path}: {strerror(exc.errno)}") from None


def lookup_user(uid: int, passwd: str = "/etc/passwd") -> tuple[str | None, str]:
    """(name, home) of a uid in the container's /etc/passwd; (None, "/") if absent."""
    try:
        with open(passwd) as f:
            for line in f:
                parts = line.rstrip("\n").split(":")
                if len(parts) >= 6 and parts[2] == str(uid):
                    return parts[0], parts[5] or "/"
    except OSError:
        pass
    return None, "/"


def member_gids(name: str | None, group: str = "/etc/group") -> list[int]:
    """Groups listing `name` as a member in the container's /etc/group."""
    if not name:
        return []
    out = []
    try:
        with open(group) as f:
            for line in f:
                parts = line.rstrip("\n").split(":")
                if len(parts) >= 4 and name in parts[3].split(","):
                    try:
                        out.append(int(parts[2]))
                    except ValueError:
                        pass
    except OSError:
        pass
    return out

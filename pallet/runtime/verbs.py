"""CLI glue: one function per verb turning parsed flags into a library call and rendering the result.

Each takes (root, opts, positional, log) and returns the exit code. The
work is in the verb's own module (create.py, start.py, ...), imported
here lazily so a verb pays only for itself.
"""

from __future__ import annotations

import os
import sys

from pallet.errors import InvalidArgument


def _create_options(root: str, opts: dict, container_id: str):
    from pallet.runtime.create import CreateOptions

    return CreateOptions(
        root=root, id=container_id, bundle=opts.get("bundle") or os.getcwd(),
        pid_file=opts.get("pid-file"), console_socket=opts.get("console-socket"),
        no_pivot=opts.get("no-pivot", False), no_new_keyring=opts.get("no-new-keyring", False),
        preserve_fds=opts.get("preserve-fds", 0),
        # Compiled seccomp programs kept below --root across commands: a profile is compiled once
        # (= pallet.runtime.seccomp.compile.cache_dir_for(root), not imported for a spec without one).
        seccomp_cache=os.path.join(root, "@seccomp"),
    )


def create(root, opts, pos, log):
    from pallet.runtime.create import create as do

    do(_create_options(root, opts, pos[0]))
    return 0


def start(root, opts, pos, log):
    from pallet.runtime.start import start as do

    do(root, pos[0])
    return 0


def run(root, opts, pos, log):
    from pallet.runtime.run import run as do

    return do(_create_options(root, opts, pos[0]), detach=opts.get("detach", False))


def _print_json(obj, indent="  ") -> None:
    import json

    sys.stdout.write(json.dumps(obj, indent=indent) + "\n")


def state(root, opts, pos, log):
    from pallet.runtime import state as st

    cs = st.load(root, pos[0])
    out = st.oci_state(cs, st.status(root, cs))
    out["rootfs"] = cs.rootfs
    out["created"] = cs.created
    out["owner"] = cs.owner
    _print_json(out)
    return 0


def kill(root, opts, pos, log):
    from pallet.runtime.kill import kill as do

    if len(pos) > 2:
        raise InvalidArgument('"kill" takes the container id and at most one signal')
    do(root, pos[0], pos[1] if len(pos) > 1 else "SIGTERM", all=opts.get("all", False))
    return 0


def delete(root, opts, pos, log):
    from pallet.runtime.delete import delete as do

    do(root, pos[0], force=opts.get("force", False))
    return 0


def list(root, opts, pos, log):  # noqa: A001 (the verb's name)
    from pallet.runtime.list import list_containers

    items = list_containers(root)
    fmt = opts.get("format", "table")
    if opts.get("quiet"):
        for c in items:
            sys.stdout.write(c["id"] + "\n")
        return 0
    if fmt == "json":
        _print_json(items or None, indent=None)
        return 0
    if fmt != "table":
        raise InvalidArgument(f"invalid format option {fmt!r}: use table or json")
    rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    rows += [(c["id"], str(c["pid"]), c["status"], c["bundle"], c["created"], c["owner"]) for c in items]
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for r in rows:
        sys.stdout.write("   ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")
    return 0


def ps(root, opts, pos, log):
    from pallet.runtime.ps import ps as do

    fmt = opts.get("format", "table")
    if fmt not in ("table", "json"):
        raise InvalidArgument(f"invalid format option {fmt!r}: use table or json")
    out = do(root, pos[0], fmt=fmt, ps_args=pos[1:])
    if fmt == "json":
        _print_json(out, indent=None)
    else:
        sys.stdout.write(out)
    return 0


def exec(root, opts, pos, log):  # noqa: A001
    from pallet.runtime.exec import ExecOptions, exec_process

    eo = ExecOptions(
        root=root, id=pos[0], args=tuple(pos[1:]), process_file=opts.get("process"),
        env=tuple(opts.get("env", ())), cwd=opts.get("cwd"), user=opts.get("user"),
        additional_gids=tuple(int(g) for g in opts.get("additional-gids", ())),
        caps=tuple(opts.get("cap", ())), no_new_privs=opts.get("no-new-privs", False),
        tty=opts.get("tty", False), detach=opts.get("detach", False), pid_file=opts.get("pid-file"),
        console_socket=opts.get("console-socket"), preserve_fds=opts.get("preserve-fds", 0),
        apparmor=opts.get("apparmor"), process_label=opts.get("process-label"),
        ignore_paused=opts.get("ignore-paused", False),
    )
    return exec_process(eo)


def spec(root, opts, pos, log):
    from pallet.runtime.spec import write_spec

    write_spec(opts.get("bundle") or ".", rootless=opts.get("rootless", False))
    return 0


def features(root, opts, pos, log):
    from pallet.runtime.features import features as do

    _print_json(do(), indent="    ")
    return 0


def _later(verb: str):
    def handler(root, opts, pos, log):
        import importlib

        try:
            mod = importlib.import_module(f"pallet.runtime.{verb}")
        except ImportError:
            raise InvalidArgument(f"{verb}: not implemented yet") from None
        return mod.main(root, opts, pos, log)

    return handler


pause = _later("pause")
resume = _later("resume")
update = _later("update")
events = _later("events")

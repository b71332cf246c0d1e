"""`pallet volume create|ls|inspect|rm|prune`."""

from __future__ import annotations

import json

from pallet.cli.common import GlobalOptions
from pallet.cli.ctrcommon import FlagError, each, inspect_each, open_env, parser, print_table, run_group


def _kv(values: list[str]) -> dict:
    return dict(v.partition("=")[::2] for v in values)


def cmd_create(opts, argv):
    p = parser("volume create")
    p.add_argument("-d", "--driver", default="local")
    p.add_argument("--label", action="append", default=[])
    p.add_argument("-o", "--opt", action="append", default=[])
    p.add_argument("name", nargs="?", default="")
    ns = p.parse_args(argv)
    from pallet.engine import volumes
    from pallet.errors import AlreadyExists

    env = open_env(opts)
    try:
        row = volumes.create(env, ns.name, labels=_kv(ns.label), driver=ns.driver, options=_kv(ns.opt))
    except AlreadyExists:  # Docker: a name in use on the same driver means "that volume", not an error
        row = volumes.get(env, ns.name)
    print(row.name)
    return 0


def cmd_ls(opts, argv):
    p = parser("volume ls")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--format", default="")
    p.add_argument("-f", "--filter", action="append", default=[])
    ns = p.parse_args(argv)
    from pallet.engine import volumes

    env = open_env(opts)
    rows = volumes.list_all(env)
    for f in ns.filter:
        k, _, v = f.partition("=")
        if k == "dangling":
            want = v in ("true", "1")
            rows = [r for r in rows if (not volumes.users(env, r.name)) == want]
        elif k == "name":
            rows = [r for r in rows if v in r.name]
        elif k == "label":
            lk, eq, lv = v.partition("=")
            rows = [r for r in rows if lk in json.loads(r.labels) and (not eq or json.loads(r.labels)[lk] == lv)]
        else:
            raise FlagError(f"invalid filter {f!r}")
    if ns.quiet:
        for r in rows:
            print(r.name)
        return 0
    data = [{"Driver": r.driver, "Name": r.name, "Mountpoint": volumes.data_dir(env, r.name), "Scope": "local",
             "Labels": ",".join(f"{k}={v}" for k, v in json.loads(r.labels).items())} for r in rows]
    print_table(data, [("Driver", "DRIVER"), ("Name", "VOLUME NAME")], ns.format)
    return 0


def cmd_inspect(opts, argv):
    p = parser("volume inspect")
    p.add_argument("-f", "--format", default="")
    p.add_argument("names", nargs="+")
    ns = p.parse_args(argv)
    from pallet.engine import volumes

    env = open_env(opts)
    return inspect_each(ns.names, lambda n: volumes.inspect(env, volumes.get(env, n)), ns.format)


def cmd_rm(opts, argv):
    p = parser("volume rm")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("names", nargs="+")
    ns = p.parse_args(argv)
    from pallet.engine import volumes

    env = open_env(opts)
    return each(ns.names, lambda n: volumes.remove(env, n, force=ns.force))


def cmd_prune(opts, argv):
    p = parser("volume prune")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-a", "--all", action="store_true")
    ns = p.parse_args(argv)
    from pallet.cli.filesystem import confirm
    from pallet.engine import volumes
    from pallet.engine.units import human_size

    env = open_env(opts)
    which = "all local volumes" if ns.all else "anonymous local volumes"
    if not ns.force and not confirm(f"WARNING! This will remove {which} not used by at least one container."):
        return 0
    names, freed = volumes.prune(env, all_volumes=ns.all)
    if names:  # as Docker: the heading only over a list
        print("Deleted Volumes:\n" + "\n".join(names) + "\n")
    print(f"Total reclaimed space: {human_size(freed)}")
    return 0


VERBS = {"create": cmd_create, "ls": cmd_ls, "list": cmd_ls, "inspect": cmd_inspect, "rm": cmd_rm,
         "remove": cmd_rm, "prune": cmd_prune}


def run(opts: GlobalOptions, verb: str, argv: list[str]) -> int:
    return run_group("volume", VERBS, opts, argv)

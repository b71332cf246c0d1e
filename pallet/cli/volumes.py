"""`pallet volume create|ls|inspect|rm|prune`."""

from __future__ import annotations

import json
import sys

from pallet.cli.common import GlobalOptions
from pallet.cli.ctrcommon import FlagError, open_env, parser, print_table, render
from pallet.errors import PalletError


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

    row = volumes.create(open_env(opts), ns.name, labels=_kv(ns.label), driver=ns.driver, options=_kv(ns.opt))
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
    out, code = [], 0
    for n in ns.names:
        try:
            out.append(volumes.inspect(env, volumes.get(env, n)))
        except PalletError as exc:
            sys.stderr.write(f"Error: {exc}\n")
            code = 1
    if ns.format:
        for d in out:
            print(render(ns.format, d))
    else:
        print(json.dumps(out, indent=4))
    return code


def cmd_rm(opts, argv):
    p = parser("volume rm")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("names", nargs="+")
    ns = p.parse_args(argv)
    from pallet.engine import volumes

    env = open_env(opts)
    code = 0
    for n in ns.names:
        try:
            volumes.remove(env, n, force=ns.force)
            print(n)
        except PalletError as exc:
            sys.stderr.write(f"Error: {exc}\n")
            code = 1
    return code


def cmd_prune(opts, argv):
    p = parser("volume prune")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-a", "--all", action="store_true")
    ns = p.parse_args(argv)
    from pallet.engine import volumes
    from pallet.engine.usage import human_size

    names, freed = volumes.prune(open_env(opts), all_volumes=ns.all)
    print("Deleted Volumes:")
    for n in names:
        print(n)
    print(f"\nTotal reclaimed space: {human_size(freed)}")
    return 0


VERBS = {"create": cmd_create, "ls": cmd_ls, "list": cmd_ls, "inspect": cmd_inspect, "rm": cmd_rm,
         "remove": cmd_rm, "prune": cmd_prune}


def run(opts: GlobalOptions, verb: str, argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print("Usage: pallet volume COMMAND\n\nCommands:\n  " + "\n  ".join(sorted(VERBS)))
        return 0
    fn = VERBS.get(argv[0])
    if fn is None:
        sys.stderr.write(f"Error: unknown volume command {argv[0]!r}\n")
        return 125
    try:
        return fn(opts, argv[1:])
    except FlagError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 125

"""Filesystem verbs: cp, diff, and `container prune` (export, mount, unmount, commit: pallet.cli.containers)."""

from __future__ import annotations

import sys

from pallet.cli.common import GlobalOptions
from pallet.cli.ctrcommon import open_env, parser, run_verb


def cmd_cp(opts, argv):
    p = parser("cp")
    p.add_argument("-a", "--archive", action="store_true")
    p.add_argument("-L", "--follow-link", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("src")
    p.add_argument("dest")
    ns = p.parse_args(argv)
    from pallet.engine import filesystem

    filesystem.cp(open_env(opts), ns.src, ns.dest, archive=ns.archive, follow=ns.follow_link)
    return 0


def cmd_diff(opts, argv):
    p = parser("diff")
    p.add_argument("container")
    ns = p.parse_args(argv)
    from pallet.engine import filesystem

    for change in filesystem.diff(open_env(opts), ns.container):
        print(change)
    return 0


def cmd_container_prune(opts, argv):
    p = parser("container prune")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--filter", action="append", default=[])
    ns = p.parse_args(argv)
    from pallet.engine import filesystem
    from pallet.engine.units import human_size

    env = open_env(opts)
    if not ns.force and not confirm("WARNING! This will remove all stopped containers."):
        return 0
    removed, freed = filesystem.prune(env, ns.filter)
    if removed:
        print("Deleted Containers:")
        for cid in removed:
            print(cid)
        print()
    print(f"Total reclaimed space: {human_size(freed)}")
    return 0


def confirm(warning: str) -> bool:
    """Docker's prompt: yes only on an explicit y."""
    sys.stdout.write(f"{warning}\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


VERBS = {"cp": cmd_cp, "diff": cmd_diff, "prune": cmd_container_prune}


def run(opts: GlobalOptions, verb: str, argv: list[str]) -> int:
    fn = VERBS.get(verb)
    if fn is None:
        sys.stderr.write(f"Error: unknown command {verb!r}\n")
        return 125
    return run_verb(fn, opts, argv)

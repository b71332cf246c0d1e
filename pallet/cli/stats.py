"""`stats [-a] [--no-stream] [--no-trunc] [--format F] [CONTAINER...]`: Docker's columns, units and --format fields.

The default table is written here without the template engine (its import
costs ~10 ms, a sixth of the time budget of `stats --no-stream` with 50
containers); any --format goes through pallet.cli.gotemplate.
"""

from __future__ import annotations

import sys

from pallet.cli.common import GlobalOptions

COLUMNS = [("ID", "CONTAINER ID"), ("Name", "NAME"), ("CPUPerc", "CPU %"), ("MemUsage", "MEM USAGE / LIMIT"),
           ("MemPerc", "MEM %"), ("NetIO", "NET I/O"), ("BlockIO", "BLOCK I/O"), ("PIDs", "PIDS")]
DEFAULT_FORMAT = "table " + "\\t".join("{{." + k + "}}" for k, _ in COLUMNS)
HEADERS = {**dict(COLUMNS), "Container": "CONTAINER"}
INTERVAL = 1.0  # seconds between two samples of a stream, as Docker
CLEAR = "\033[2J\033[H"


def table(rows: list[dict], columns=COLUMNS) -> str:
    """Docker's tabwriter layout (minwidth 10, padding 3; the last column unpadded)."""
    lines = [[h for _, h in columns]] + [[str(r.get(k, "")) for k, _ in columns] for r in rows]
    widths = [max(10, max(len(line[i]) for line in lines) + 3) for i in range(len(columns) - 1)]
    out = []
    for line in lines:
        out.append("".join(c.ljust(w) for c, w in zip(line, widths)) + line[-1])
    return "\n".join(out) + "\n"


def render(rows: list[dict], fmt: str) -> str:
    if not fmt or fmt == "table":
        return table(rows)
    from pallet.cli.ctrcommon import strict_rows
    from pallet.cli.gotemplate import format_rows

    return format_rows(fmt, strict_rows(rows), DEFAULT_FORMAT, HEADERS)


def cmd_stats(opts: GlobalOptions, argv: list[str]) -> int:
    from pallet.cli.ctrcommon import open_env, parser

    p = parser("stats")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("--no-stream", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("--format", default="")
    p.add_argument("containers", nargs="*")
    ns = p.parse_args(argv)
    from pallet.engine import stats

    env = open_env(opts)
    previous: dict = {}
    tty = sys.stdout.isatty()
    while True:
        states = stats.select(env, ns.containers, all=ns.all)
        samples = stats.collect(env, states, previous)
        rows = [s.row(ns.no_trunc, container=ref) for s, ref in
                zip(samples, ns.containers or [""] * len(samples))]
        text = render(rows, ns.format)
        if ns.no_stream:
            sys.stdout.write(text)
            return 0
        sys.stdout.write((CLEAR if tty else "") + text)
        sys.stdout.flush()
        previous = {s.id: s for s in samples}
        import time

        time.sleep(INTERVAL)


def run(opts: GlobalOptions, verb: str, argv: list[str]) -> int:
    from pallet.cli.ctrcommon import run_verb

    return run_verb(cmd_stats, opts, argv)

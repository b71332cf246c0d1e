"""Image verbs with Docker's names, flags and output.

    import, images, image ls|inspect|rm|prune|tag|history|save|load|import|squash,
    tag, rmi, save, load, history

Each parses its own flags, calls one function of pallet.engine.images and renders.
"""

from __future__ import annotations

import json
import sys
import time

from pallet.cli.argparser import ArgumentParser
from pallet.cli.common import GlobalOptions
from pallet.cli.ctrcommon import inspect_each, render
from pallet.engine.units import human_size, since
from pallet.errors import InvalidArgument, PalletError


def _parser(prog: str, usage: str) -> ArgumentParser:
    return ArgumentParser(prog=f"pallet {prog}", usage=usage, allow_abbrev=False)


def _ctx(opts: GlobalOptions):
    from pallet.engine.context import EngineContext

    return EngineContext.from_options(opts)


# -- rendering helpers (Docker's tabwriter; units in pallet.engine.units) ---------------

def tabwrite(rows: list[list[str]]) -> str:
    """text/tabwriter with minwidth 10, padding 3 (Docker's table writer); the last cell is not padded."""
    if not rows:
        return ""
    ncol = max(len(r) for r in rows)
    widths = [0] * ncol
    for r in rows:
        for i, c in enumerate(r[:-1]):
            widths[i] = max(widths[i], len(c) + 3, 10)
    out = []
    for r in rows:
        out.append("".join(c.ljust(widths[i]) if i < len(r) - 1 else c for i, c in enumerate(r)).rstrip())
    return "\n".join(out) + "\n"


def render_rows(fmt: str, rows: list[dict], headers: dict[str, str]) -> str:
    """`--format`: `json` (one object a line), `table TEMPLATE` (header + tab-aligned), or a plain template."""
    if fmt == "json":
        return "".join(json.dumps(r) + "\n" for r in rows)
    if fmt.startswith("table"):
        body = fmt[5:].strip() or "\t".join("{{." + k + "}}" for k in headers)
        try:
            from pallet.cli.gotemplate import render_table  # type: ignore

            return render_table(body, rows, headers)
        except ImportError:
            pass
        head = render(body, {k: v for k, v in headers.items()})
        lines = [head] + [render(body, r) for r in rows]
        return tabwrite([l.split("\t") for l in lines])
    return "".join(render(fmt, r) + "\n" for r in rows)


# -- verbs ----------------------------------------------------------------------------

IMAGE_HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID",
                 "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
                 "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
                 "VirtualSize": "VIRTUAL SIZE"}


def cmd_images(opts, prog, argv) -> int:
    p = _parser(prog, f"pallet {prog} [OPTIONS] [REPOSITORY[:TAG]]")
    p.add_argument("reference", nargs="?")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--digests", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("--format", default="")
    a = p.parse_args(argv)
    from pallet.engine import images as E

    filters = list(a.filter) + ([f"reference={a.reference}"] if a.reference else [])
    with _ctx(opts) as ctx:
        entries = E.list_images(ctx, all=a.all, filters=filters)
    def short(i):
        return i if a.no_trunc else i.removeprefix("sha256:")[:12]
    if a.quiet:
        seen, lines = set(), []
        for e in entries:
            if e.id not in seen:
                seen.add(e.id)
                lines.append(short(e.id))
        sys.stdout.write("".join(l + "\n" for l in lines))
        return 0
    rows = []
    for e in entries:
        rows.append({"ID": short(e.id), "Repository": e.repository, "Tag": e.tag, "Digest": e.digest or "<none>",
                     "CreatedSince": since(e.created_ts),
                     "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(e.created_ts)),
                     "Size": human_size(e.size, 3), "VirtualSize": human_size(e.size, 3), "SharedSize": "N/A",
                     "UniqueSize": "N/A", "Containers": "N/A"})
    if a.format:
        sys.stdout.write(render_rows(a.format, rows, IMAGE_HEADERS))
        return 0
    cols = ["Repository", "Tag"] + (["Digest"] if a.digests else []) + ["ID", "CreatedSince", "Size"]
    table = [[IMAGE_HEADERS[c] for c in cols]] + [[r[c] for c in cols] for r in rows]
    sys.stdout.write(tabwrite(table))
    return 0


def cmd_import(opts, prog, argv) -> int:
    p = _parser(prog, f"pallet {prog} [OPTIONS] file|URL|- [REPOSITORY[:TAG]]")
    p.add_argument("source")
    p.add_argument("reference", nargs="?", default="")
    p.add_argument("-c", "--change", action="append", default=[])
    p.add_argument("-m", "--message", default="")
    p.add_argument("--platform", default="")
    a = p.parse_args(argv)
    from pallet.engine import images as E

    with _ctx(opts) as ctx:
        iid = E.import_image(ctx, a.source, stdin=sys.stdin.buffer, reference=a.reference,
                             changes=a.change, message=a.message)
    print(iid)
    return 0


def cmd_load(opts, prog, argv) -> int:
    p = _parser(prog, f"pallet {prog} [OPTIONS]")
    p.add_argument("-i", "--input", default="")
    p.add_argument("-q", "--quiet", action="store_true")
    a = p.parse_args(argv)
    from pallet.engine import images as E

    if not a.input or a.input == "-":
        if sys.stdin.isatty():
            raise InvalidArgument("requested load from stdin, but stdin is empty")
        src = sys.stdin.buffer
    else:
        src = a.input
    with _ctx(opts) as ctx:
        res = E.load(ctx, src)
    if not a.quiet:
        sys.stdout.write("".join(l + "\n" for l in res.lines))
    return 0


def cmd_save(opts, prog, argv) -> int:
    p = _parser(prog, f"pallet {prog} [OPTIONS] IMAGE [IMAGE...]")
    p.add_argument("images", nargs="+")
    p.add_argument("-o", "--output", default="")
    p.add_argument("--format", default="docker-archive")
    p.add_argument("--exclude-base", default="")
    a = p.parse_args(argv)
    from pallet.engine import images as E

    with _ctx(opts) as ctx:
        if a.output and a.output != "-":
            import os
            import tempfile

            d = os.path.dirname(os.path.abspath(a.output))
            fd, tmp = tempfile.mkstemp(prefix=".pallet-save-", dir=d)
            try:
                with os.fdopen(fd, "wb") as out:
                    E.save(ctx, a.images, out, fmt=a.format, exclude_base=a.exclude_base)
                os.chmod(tmp, 0o644)
                os.rename(tmp, a.output)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        else:
            if sys.stdout.isatty():
                raise InvalidArgument("cowardly refusing to save to a terminal. Use the -o flag or redirect")
            E.save(ctx, a.images, sys.stdout.buffer, fmt=a.format, exclude_base=a.exclude_base)
            sys.stdout.buffer.flush()
    return 0


def cmd_tag(opts, prog, argv) -> int:
    p = _parser(prog, f"pallet {prog} SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]")
    p.add_argument("source")
    p.add_argument("target")
    a = p.parse_args(argv)
    from pallet.engine import images as E

    with _ctx(opts) as ctx:
        E.tag(ctx, a.source, a.target)
    return 0


def cmd_rmi(opts, prog, argv) -> int:
    p = _parser(prog, f"pallet {prog} [OPTIONS] IMAGE [IMAGE...]")
    p.add_argument("images", nargs="+")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--no-prune", action="store_true")
    a = p.parse_args(argv)
    from pallet.engine import images as E

    code = 0
    with _ctx(opts) as ctx:
        for ref in a.images:
            try:
                for what, name in E.remove(ctx, ref, force=a.force, prune_parents=not a.no_prune):
                    print(f"{what}: {name}")
            except PalletError as exc:
                sys.stderr.write(f"Error: {exc}\n")
                code = 1
    return code


def cmd_inspect(opts, prog, argv) -> int:
    p = _parser(prog, f"pallet {prog} [OPTIONS] IMAGE [IMAGE...]")
    p.add_argument("images", nargs="+")
    p.add_argument("-f", "--format", default="")
    a = p.parse_args(argv)
    from pallet.engine import images as E

    with _ctx(opts) as ctx:
        return inspect_each(a.images, lambda ref: E.inspect(ctx, ref), a.format)


def cmd_history(opts, prog, argv) -> int:
    p = _parser(prog, f"pallet {prog} [OPTIONS] IMAGE")
    p.add_argument("image")
    p.add_argument("-H", "--human", default="true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("--format", default="")
    a = p.parse_args(argv)
    from pallet.engine import images as E

    with _ctx(opts) as ctx:
        hist = E.history(ctx, a.image)
    human = a.human.lower() not in ("false", "0")
    rows = []
    for h in hist:
        iid = h["Id"] if a.no_trunc or h["Id"] == "<missing>" else h["Id"].removeprefix("sha256:")[:12]
        by = h["CreatedBy"]
        if not a.no_trunc and len(by) > 45:
            by = by[:44] + "…"
        rows.append({"ID": iid, "CreatedSince": since(h["CreatedTs"]) if human else h["Created"],
                     "CreatedAt": h["Created"], "CreatedBy": by,
                     "Size": human_size(h["Size"], 3) if human else str(h["Size"]), "Comment": h["Comment"]})
    if a.quiet:
        sys.stdout.write("".join(r["ID"] + "\n" for r in rows))
        return 0
    heads = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
             "Size": "SIZE", "Comment": "COMMENT"}
    if a.format:
        sys.stdout.write(render_rows(a.format, rows, heads))
        return 0
    cols = ["ID", "CreatedSince", "CreatedBy", "Size", "Comment"]
    sys.stdout.write(tabwrite([[heads[c] for c in cols]] + [[r[c] for c in cols] for r in rows]))
    return 0


def cmd_prune(opts, prog, argv) -> int:
    p = _parser(prog, f"pallet {prog} [OPTIONS]")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--filter", action="append", default=[])
    a = p.parse_args(argv)
    from pallet.engine import images as E

    if not a.force:
        warn = ("WARNING! This will remove all images without at least one container associated to them."
                if a.all else "WARNING! This will remove all dangling images.")
        sys.stdout.write(warn + "\nAre you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return 0
    with _ctx(opts) as ctx:
        actions, freed = E.prune(ctx, all=a.all, filters=a.filter)
    if actions:
        print("Deleted Images:")
        for what, name in actions:
            print(f"{what}: {name}")
        print()
    print(f"Total reclaimed space: {human_size(freed)}")
    return 0


def cmd_squash(opts, prog, argv) -> int:
    p = _parser(prog, f"pallet {prog} IMAGE [--from LAYER|N] -t NEW")
    p.add_argument("image")
    p.add_argument("--from", dest="from_", default="")
    p.add_argument("-t", "--tag", default="")
    p.add_argument("-m", "--message", default="")
    a = p.parse_args(argv)
    from pallet.engine import images as E

    with _ctx(opts) as ctx:
        iid = E.squash(ctx, a.image, from_=a.from_, tag_=a.tag, message=a.message)
    print(iid)
    return 0


TOP = {"images": cmd_images, "import": cmd_import, "load": cmd_load, "save": cmd_save, "tag": cmd_tag,
       "rmi": cmd_rmi, "history": cmd_history}
IMAGE_SUB = {"ls": cmd_images, "list": cmd_images, "inspect": cmd_inspect, "rm": cmd_rmi, "remove": cmd_rmi,
             "prune": cmd_prune, "tag": cmd_tag, "history": cmd_history, "save": cmd_save, "load": cmd_load,
             "import": cmd_import, "squash": cmd_squash}

IMAGE_USAGE = """Usage:  pallet image COMMAND

Manage images

Commands:
  history     Show the history of an image
  import      Import the contents from a tarball to create a filesystem image
  inspect     Display detailed information on one or more images
  load        Load an image from a tar archive or STDIN
  ls          List images
  prune       Remove unused images
  rm          Remove one or more images
  save        Save one or more images to a tar archive (streamed to STDOUT by default)
  squash      Merge an image's layers (all, or the top N) into one
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
"""


def run(opts: GlobalOptions, verb: str, argv: list[str]) -> int:
    if verb == "image":
        if not argv or argv[0] in ("-h", "--help"):
            sys.stdout.write(IMAGE_USAGE)
            return 0
        sub = IMAGE_SUB.get(argv[0])
        if sub is None:
            sys.stderr.write(f"pallet image: unknown command {argv[0]!r}\n{IMAGE_USAGE}")
            return 125
        return sub(opts, f"image {argv[0]}", argv[1:])
    return TOP[verb](opts, verb, argv)

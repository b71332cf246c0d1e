"""`pallet version` and `pallet --version` (its first line, as podman's `--version`)."""

from __future__ import annotations

from pallet import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without typing: `--version` needs no pallet.cli.common
if TYPE_CHECKING:
    from pallet.cli.common import GlobalOptions


def version_line() -> str:
    return f"pallet version {__version__}"


def run(opts: GlobalOptions, verb: str, argv: list[str]) -> int:
    from pallet.cli.ctrcommon import run_verb

    return run_verb(_version, opts, argv)


def _version(opts: GlobalOptions, argv: list[str]) -> int:
    import os
    import sys

    from pallet.cli.ctrcommon import parser

    p = parser("version")
    p.add_argument("-f", "--format", default="")
    ns = p.parse_args(argv)
    python_version = "%d.%d.%d" % sys.version_info[:3]
    if ns.format:  # podman's shape (daemonless: the client is the engine): {{.Client.Version}}, json
        from pallet.cli.gotemplate import render

        machine = os.uname().machine  # not `platform`: it imports re, enum and collections (~10 ms)
        arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
        client = {"Version": __version__, "PythonVersion": python_version, "Os": "linux",
                  "Arch": arch, "OsArch": f"linux/{arch}"}
        print(render("{{json .}}" if ns.format == "json" else ns.format, {"Client": client}))
        return 0
    print(version_line())
    print(f"python {python_version}")
    return 0

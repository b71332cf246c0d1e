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
    import platform  # only here: `pallet --version` shares this module and needs none of it

    from pallet.cli.ctrcommon import parser

    p = parser("version")
    p.add_argument("-f", "--format", default="")
    ns = p.parse_args(argv)
    if ns.format:  # podman's shape (daemonless: the client is the engine): {{.Client.Version}}, json
        from pallet.cli.gotemplate import render

        arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
        client = {"Version": __version__, "PythonVersion": platform.python_version(), "Os": "linux",
                  "Arch": arch, "OsArch": f"linux/{arch}"}
        print(render("{{json .}}" if ns.format == "json" else ns.format, {"Client": client}))
        return 0
    print(version_line())
    print(f"python {platform.python_version()}")
    return 0

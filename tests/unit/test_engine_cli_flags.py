"""pallet.cli.flags (argparse's subset for the hot verbs) and pallet.engine.fastjson (json.loads without json)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pallet.cli.flags import REMAINDER, FlagError, Parser
from pallet.fastjson import loads


def run_parser() -> Parser:
    p = Parser("pallet run", add_help=False)
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("-h", "--hostname", default="")
    p.add_argument("--memory-swap", default="")
    p.add_argument("--pids-limit", type=int, default=0)
    p.add_argument("--net", "--network", dest="network", default="")
    p.add_argument("image")
    p.add_argument("command", nargs=REMAINDER)
    return p


def test_docker_forms():
    ns = run_parser().parse_args(["-dit", "-eA=1", "--env", "B=2", "-e", "C", "--net=none", "-h", "box",
                                  "--memory-swap", "-1", "--pids-limit", "5", "img", "sh", "-c", "echo -x"])
    assert (ns.detach, ns.interactive, ns.tty) == (True, True, True)
    assert ns.env == ["A=1", "B=2", "C"] and ns.network == "none" and ns.hostname == "box"
    assert ns.memory_swap == "-1" and ns.pids_limit == 5
    assert ns.image == "img" and ns.command == ["sh", "-c", "echo -x"]


def test_a_switch_group_may_end_in_a_flag_with_a_value():
    ns = run_parser().parse_args(["-ite", "FOO=1", "img"])
    assert ns.interactive and ns.tty and ns.env == ["FOO=1"] and ns.command == []


def test_double_dash_ends_flags_and_defaults_are_fresh():
    p = run_parser()
    assert p.parse_args(["--", "img", "-d"]).command == ["-d"]
    assert p.parse_args(["img"]).env == [] and p.parse_args(["-e", "X", "img"]).env == ["X"]
    assert p.parse_args(["img"]).env == []


@pytest.mark.parametrize("argv, word", [
    (["--bogus", "img"], "--bogus"), (["-x", "img"], "'x'"), (["--pids-limit", "lots", "img"], "--pids-limit"),
    (["-e"], "-e"), ([], "IMAGE"), (["--detach=yes", "img"], "--detach"),
])
def test_errors_are_one_line_naming_the_flag(argv, word):
    with pytest.raises(FlagError) as exc:
        run_parser().parse_args(argv)
    assert word in str(exc.value) and "\n" not in str(exc.value)


def test_positionals_by_nargs():
    p = Parser("pallet x")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("container")
    p.add_argument("refs", nargs="+")
    p.add_argument("port", nargs="?", default="")
    ns = p.parse_args(["c1", "-f", "a", "b"])  # flags between positionals, as argparse
    assert (ns.container, ns.refs, ns.port, ns.force) == ("c1", ["a", "b"], "", True)
    with pytest.raises(FlagError):
        p.parse_args(["c1"])
    q = Parser("pallet ps")
    q.add_argument("names", nargs="*")
    assert q.parse_args([]).names == [] and q.parse_args(["a", "-"]).names == ["a", "-"]


def test_help_prints_usage_and_exits_zero(capsys):
    p = Parser("pallet ps")
    p.add_argument("-a", "--all", action="store_true", help="show all")
    with pytest.raises(SystemExit) as exc:
        p.parse_args(["--help"])
    assert exc.value.code == 0 and "--all" in capsys.readouterr().out


@pytest.mark.parametrize("text", [
    '{"a": [1, 2.5, -3e2, "x\\u00e9\\n", null, true, false, {}], "b": {"c": ""}}', " [] \n", '"s"', "0",
    '{"n": NaN, "i": -Infinity}',
])
def test_fastjson_matches_json(text):
    want, got = json.loads(text), loads(text)
    assert repr(got) == repr(want)  # repr: NaN != NaN
    assert loads(text.encode()) == got or repr(loads(text.encode())) == repr(want)


@pytest.mark.parametrize("text", ["", "  ", "{", '{"a": 1} x', "[1,]", "nul"])
def test_fastjson_rejects_what_json_rejects(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        loads(text)


def test_ps_and_stats_start_without_json_re_argparse():
    # The verbs timed against podman: their imports must not grow back (json brings re, enum, functools).
    code = ("import sys; import pallet.cli.containers, pallet.cli.stats, pallet.engine.stats, pallet.engine.inspect; "
            "print(sorted({'json', 're', 'argparse', 'enum', 'dataclasses', 'typing', 'shutil', 'subprocess', 'sqlite3', 'datetime'}"
            " & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-S", "-c", "import sys; sys.path[:0] = " + repr(sys.path) + "\n" + code],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("argv", [
    ["run", "--bogus", "img"], ["ps", "--bogus"], ["images", "--bogus"], ["image", "ls", "--bogus"],
    ["volume", "ls", "--bogus"], ["system", "df", "--bogus"], ["debug", "caps", "1", "--bogus"],
])
def test_every_verb_family_refuses_an_unknown_flag_in_one_line_with_125(argv, tmp_path):
    # Docker's contract for a bad flag, whichever parser the verb uses (cli.flags or cli.argparser)
    r = subprocess.run([sys.executable, "-m", "pallet.cli.main", f"--root={tmp_path}/r", f"--runroot={tmp_path}/rr",
                        *argv], capture_output=True, text=True)
    assert r.returncode == 125, r
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("Error: pallet ") and line.endswith(": unknown flag: --bogus"), line

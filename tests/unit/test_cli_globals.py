"""The global flags of `pallet` (before the verb): --version, bad values, and the one-line error rule."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import PALLET
from pallet import __version__
from pallet.cli import main as cli_main
from pallet.cli.common import GlobalOptions, call_reporting_errors
from pallet.engine.env import BadSetup, check_dirs
from pallet.fastjson import loads


@pytest.mark.parametrize("flag", ["--version", "-v"])
def test_version_flag_prints_like_podman(flag):
    r = subprocess.run([PALLET, flag], capture_output=True, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, f"pallet version {__version__}\n", "")


def test_version_flag_after_global_flags_and_verb_agree(tmp_path):
    r = subprocess.run([PALLET, "--root", str(tmp_path / "r"), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == f"pallet version {__version__}\n"
    verb = subprocess.run([PALLET, "version"], capture_output=True, text=True)
    assert verb.returncode == 0 and verb.stdout.splitlines()[0] == r.stdout.strip()
    assert not (tmp_path / "r").exists()  # --version opens nothing


@pytest.mark.parametrize("argv, says", [
    (["--root", "", "ps"], "flag --root needs a non-empty value"),
    (["--runroot=", "ps"], "flag --runroot needs a non-empty value"),
    (["--config", "", "ps"], "flag --config needs a non-empty value"),
    (["--runtime", "", "ps"], "flag --runtime needs a non-empty value"),
    (["--log-level", "bogus", "ps"], "invalid --log-level 'bogus'"),
    (["--root"], "flag needs an argument: --root"),
    (["--bogus", "ps"], "unknown flag: --bogus"),
])
def test_bad_global_flags_are_one_line_and_125(argv, says, capsys):
    assert cli_main.main(argv) == 125
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and says in err, err


@pytest.mark.parametrize("level", ["debug", "info", "warn", "error", "DEBUG"])
def test_known_log_levels_are_accepted(level):
    flags, rest = cli_main._split_globals(["--log-level", level, "ps"])
    assert flags["--log-level"] == level and rest == ["ps"]


def test_config_set_only_when_named(monkeypatch):
    monkeypatch.delenv("PALLET_CONFIG", raising=False)
    assert GlobalOptions.from_flags({}).config_set is False
    assert GlobalOptions.from_flags({"--config": "/x.json"}).config_set is True
    monkeypatch.setenv("PALLET_CONFIG", "/y.json")
    opts = GlobalOptions.from_flags({})
    assert opts.config_set is True and opts.config == "/y.json"


def test_an_os_error_reaching_the_cli_is_one_line_naming_the_path(capsys):
    def fails(*_args):
        open("/nonexistent-dir/file")

    assert call_reporting_errors(fails, GlobalOptions(), "ps", []) == 125
    out, err = capsys.readouterr()
    assert out == "" and err == "Error: /nonexistent-dir/file: no such file or directory\n"


def test_check_dirs_names_the_flag_path_and_cause(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    check_dirs(("--root", str(tmp_path / "new" / "deeper")), ("--runroot", str(tmp_path)))  # creatable: fine
    with pytest.raises(BadSetup, match=r"^--root .*/file: not a directory$") as e:
        check_dirs(("--root", str(f)))
    assert e.value.exit_code == 125
    with pytest.raises(BadSetup, match=r"^--runroot .*/file/sub: .*/file is not a directory$"):
        check_dirs(("--root", str(tmp_path)), ("--runroot", str(f / "sub")))
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_fastjson_syntax_errors_are_value_errors():
    """The C scanner's own errors need json.decoder imported, else they surfaced as SystemError: check in a fresh
    interpreter (pytest imported json here)."""
    probe = (
        "import sys\nfrom pallet.fastjson import loads\nassert 'json.decoder' not in sys.modules\n"
        "for text in ['{bad', '[1,', '{\"a\" 1}', '\"open', \"{'a': 1}\"]:\n"
        "    try:\n        loads(text)\n    except ValueError as exc:\n        print(type(exc).__name__)\n"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.split()) == 5 and "SystemError" not in r.stdout + r.stderr

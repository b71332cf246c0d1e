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


# ---------------------------------------------------------------- create-time checks of run's flags


from pallet.engine import spec_builder  # noqa: E402
from pallet.engine.config import ContainerConfig, MountSpec, Resources  # noqa: E402
from pallet.errors import InvalidArgument  # noqa: E402
from pallet.runtime import sysctl  # noqa: E402


def test_cpu_lists():
    assert spec_builder.parse_cpu_list("0-2,4", "--cpuset-cpus") == {0, 1, 2, 4}
    for bad in ("x", "2-1", "1,", "-1", "0-"):
        with pytest.raises(InvalidArgument, match="--cpuset-cpus"):
            spec_builder.parse_cpu_list(bad, "--cpuset-cpus")


@pytest.mark.parametrize("res, word", [
    (dict(memory_swap=128 << 20), "--memory-swap needs --memory"),
    (dict(memory=64 << 20, memory_swap=32 << 20), "below --memory"),
    (dict(memory=32 << 20, memory_reservation=64 << 20), "above --memory"),
    (dict(memory_reservation=1 << 20), "6MB"),
    (dict(nano_cpus=10**9, cpu_period=50000), "--cpus and --cpu-period"),
    (dict(nano_cpus=10**9, cpu_quota=50000), "--cpus and --cpu-quota"),
    (dict(cpu_period=999), "--cpu-period"),
    (dict(cpu_period=1000001), "--cpu-period"),
    (dict(cpu_quota=999), "--cpu-quota"),
    (dict(blkio_weight=9), "--blkio-weight"),
    (dict(cpuset_cpus="3"), "not available"),
])
def test_resources_the_kernel_would_refuse_are_refused_at_create(res, word):
    with pytest.raises(InvalidArgument, match=word):
        spec_builder.check_resources(Resources(**res), online_cpus="0-1", online_mems="0")


def test_resources_docker_accepts():
    for res in (dict(memory=64 << 20, memory_swap=-1), dict(memory=64 << 20, memory_swap=64 << 20),
                dict(cpu_quota=-1), dict(cpu_period=1000, cpu_quota=1000), dict(cpuset_cpus="0-1", cpuset_mems="0"),
                dict(blkio_weight=10)):
        spec_builder.check_resources(Resources(**res), online_cpus="0-1", online_mems="0")


def _cfg(**kw) -> ContainerConfig:
    return ContainerConfig(id="c" * 64, name="n", image="i", cmd=("true",), **kw)


def test_mount_destinations_and_tmpfs_options():
    with pytest.raises(InvalidArgument, match="can't be '/'"):
        spec_builder.check_mounts(_cfg(mounts=(MountSpec(type="bind", source="/tmp", destination="/"),)))
    for bad in ("bogus", "mode=abc", "size"):
        with pytest.raises(InvalidArgument, match="tmpfs option"):
            spec_builder.check_mounts(_cfg(mounts=(MountSpec(type="tmpfs", source="tmpfs", destination="/t", options=(bad,)),)))
    ok = ("rw", "exec", "size=2m", "mode=1777", "uid=1", "nr_inodes=10", "noatime")
    spec_builder.check_mounts(_cfg(mounts=(MountSpec(type="tmpfs", source="tmpfs", destination="/t", options=ok),)))


def test_ipc_modes_and_dev_shm():
    def shm(cfg):
        spec = spec_builder.build_spec(cfg, spec_builder.Resolved(rootfs="/r"), spec_builder.HostFacts())
        return [m for m in spec["mounts"] if m["destination"] == "/dev/shm"]

    [tmpfs] = shm(_cfg(shm_size=1 << 20))
    assert tmpfs["type"] == "tmpfs" and "size=1048576" in tmpfs["options"]
    assert shm(_cfg(ipc_mode="none")) == []
    [host] = shm(_cfg(ipc_mode="host"))
    assert host["type"] == "bind" and host["source"] == "/dev/shm"


@pytest.mark.parametrize("key, ns, ok", [
    ("net.ipv4.ip_forward", {"network": ""}, True),
    ("net.ipv4.ip_forward", {}, False),  # --net host
    ("net/ipv4/ip_forward", {}, False),
    ("net.ipv4.ip_forward", {"network": "/proc/self/ns/net"}, False),  # joined the host's
    ("kernel.msgmax", {"ipc": ""}, True),
    ("kernel.msgmax", {"network": ""}, False),
    ("fs.mqueue.msg_max", {"ipc": "/proc/9/ns/ipc"}, True),
    ("kernel.domainname", {"uts": ""}, True),
    ("kernel.hostname", {"uts": ""}, False),
    ("vm.swappiness", {"network": "", "ipc": "", "uts": ""}, False),
    ("kernel.pid_max", {"pid": ""}, False),
])
def test_sysctls_only_inside_the_container_namespaces(key, ns, ok):
    if ok:
        sysctl.check({key: "1"}, ns)
    else:
        with pytest.raises(InvalidArgument, match="sysctl"):
            sysctl.check({key: "1"}, ns)


def test_privileged_host_devices_skip_links_pts_and_console():
    import os

    from pallet.engine.devices import host_devices

    paths = {d["path"] for d in host_devices()}
    assert "/dev/null" in paths
    assert not {p for p in paths if p.startswith(("/dev/pts/", "/dev/shm/", "/dev/mqueue/"))}
    assert "/dev/console" not in paths and "/dev/ptmx" not in paths
    assert not {p for p in paths if os.path.islink(p)}


def test_volume_and_mount_flag_options():
    from pallet.engine.config import parse_mount_flag, parse_volume_flag

    with pytest.raises(InvalidArgument, match="ro and rw"):
        parse_volume_flag("/a:/b:ro,rw")
    assert parse_mount_flag("type=bind,src=/a,dst=/b,bind-propagation=rshared").options == ("rshared",)
    with pytest.raises(InvalidArgument, match="bind-propagation"):
        parse_mount_flag("type=bind,src=/a,dst=/b,bind-propagation=sideways")
    with pytest.raises(InvalidArgument, match="bind-propagation"):
        parse_mount_flag("type=volume,src=v,dst=/b,bind-propagation=rshared")
    assert parse_mount_flag("type=volume,src=v,dst=/b,volume-nocopy").options == ("nocopy",)
    assert parse_mount_flag("type=volume,src=v,dst=/b,volume-nocopy=false").options == ()

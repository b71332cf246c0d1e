"""Issue 5's everyday verbs as a user meets them, checked against Docker's behaviour: the flags each verb
takes, and its error paths (wrong state, missing container, bad value): one line, non-zero exit, nothing
changed."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from conftest import requires_root
from engine_image import one_error_line, pl, wait_for  # noqa: F401 (pl is a fixture)

pytestmark = [requires_root, pytest.mark.root]


def state(pl, ref: str) -> str:
    return pl.ok("inspect", "-f", "{{.State.Status}} {{.State.Pid}} {{.RestartCount}}", ref).strip()


def test_wrong_state_and_missing_container_are_one_line_and_change_nothing(pl):
    pl.ok("create", "--name", "made", *pl.image, "sleep", "100")
    run = pl.run_d("--name", "up", "--", "sleep", "100")
    before = {ref: state(pl, ref) for ref in ("made", "up")}
    cases = [
        (["pause", "made"], "container made is created: cannot pause"),
        (["unpause", "up"], "container up is running: cannot unpause"),
        (["exec", "made", "true"], "container made is created: cannot exec"),
        (["kill", "made"], "container made is created: cannot kill"),
        (["attach", "made"], "container made is created: cannot attach"),
        (["top", "made"], "container made is created: cannot list its processes"),
        (["rm", "up"], "container up is running"),
        (["rename", "up", "made"], '"/made" is already in use'),
        (["rename", "up", "up"], "same name as its current name"),
        (["update", "up"], "you must provide one or more flags"),
        (["kill", "-s", "BOGUS", "up"], "invalid signal: BOGUS"),
        (["stop", "-s", "NOPE", "up"], "invalid signal: NOPE"),
    ]
    for verb in ("start", "stop", "restart", "kill", "rm", "pause", "unpause", "logs", "wait", "port", "top",
                 "diff", "export", "mount", "inspect", "stats", "attach"):
        cases.append(([verb, "--no-stream", "nosuch"] if verb == "stats" else [verb, "nosuch"], "no such container: nosuch"))
    for argv, says in cases:
        r = pl(*argv)
        assert r.returncode != 0, argv
        assert says in one_error_line(r), (argv, r.stderr)
    assert {ref: state(pl, ref) for ref in ("made", "up")} == before
    assert pl.ok("start", "up") == "up\n"  # start of a running container: a no-op that succeeds, as Docker
    assert state(pl, "up") == before["up"]
    assert pl.ok("exec", run, "true") == ""


def test_exec_flags(pl):
    cid = pl.run_d("--", "sleep", "100")
    out = pl.ok("exec", "-e", "FOO=bar", "-u", "1000:1000", "-w", "/tmp", cid,
                "sh", "-c", "echo $FOO $(id -u):$(id -g) $(pwd)")
    assert out == "bar 1000:1000 /tmp\n"
    assert pl.ok("exec", "-e", "FOO", cid, "sh", "-c", "echo ${FOO-unset}") == "unset\n"  # not set here either
    pl.ok("exec", "-d", cid, "sh", "-c", "echo detached > /tmp/d")
    assert wait_for(lambda: pl("exec", cid, "cat", "/tmp/d").stdout == "detached\n")
    assert pl.ok("exec", "-i", cid, "cat", input="typed\n") == "typed\n"


def test_exec_privileged_gets_every_capability_the_host_has(pl):
    cid = pl.run_d("--", "sleep", "100")
    plain = int(pl.ok("exec", cid, "sh", "-c", "grep CapEff /proc/self/status").split()[1], 16)
    priv = int(pl.ok("exec", "--privileged", cid, "sh", "-c", "grep CapEff /proc/self/status").split()[1], 16)
    with open("/proc/self/status") as f:
        host = int(next(ln for ln in f if ln.startswith("CapBnd:")).split()[1], 16)
    assert priv == host and plain != host  # as `run --privileged`: all the host can grant, not more


def test_exec_errors_name_the_container_once(pl):
    cid = pl.run_d("--name", "box", "--", "sleep", "100")
    r = pl("exec", "box", "/nonexistent")
    assert r.returncode == 127
    assert one_error_line(r) == "Error: exec in box: exec /nonexistent: no such file or directory"
    r = pl("exec", "box", "/etc")
    assert r.returncode == 126 and cid not in r.stderr
    pl.run_d("--name", "viarunc", "--runtime", "runc", "--", "sleep", "100")
    r = pl("exec", "viarunc", "/nonexistent")  # runc says it on stderr itself, always: no second line of ours
    assert r.returncode == 127 and "/nonexistent" in one_error_line(r)


def test_top_passes_ps_options_like_docker(pl):
    cid = pl.run_d("--", "sleep", "100")
    pid = pl.inspect(cid)["State"]["Pid"]
    lines = pl.ok("top", cid).splitlines()
    assert lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]  # `ps -ef`'s columns
    assert lines[1].split()[1] == str(pid) and lines[1].endswith("sleep 100") and len(lines) == 2
    lines = pl.ok("top", cid, "-o", "pid,comm").splitlines()
    assert [ln.split() for ln in lines] == [["PID", "COMMAND"], [str(pid), "sleep"]]
    r = pl("top", cid, "-o", "comm")  # no PID column: the rows can't be told apart
    assert r.returncode == 1 and "PID" in one_error_line(r)
    r = pl("top", cid, "--bogus")
    assert r.returncode == 1 and "ps --bogus" in one_error_line(r)


def test_ps_listing_flags_and_docker_s_format_escapes(pl):
    for i in range(3):
        pl.ok("create", "--name", f"c{i}", "--label", f"n={i}", *pl.image, "true")
    assert pl.ok("ps", "-n", "2", "--format", "{{.Names}}") == "c2\nc1\n"  # the last two made, newest first
    assert pl.ok("ps", "-l", "--format", "{{.Names}}") == "c2\n"
    # `\t` typed in a shell's single quotes: Docker turns it into a tab, and `table` aligns the columns
    out = pl.ok("ps", "-a", "--filter", "label=n=1", "--format", r"table {{.Names}}\t{{.Labels}}")
    assert out.splitlines() == ["NAMES     LABELS", "c1        n=1"]
    assert pl.ok("ps", "-a", "--filter", "name=c0", "--format", r"{{.Names}}\t{{.Status}}") == "c0\tCreated\n"
    assert pl.ok("ps", "-a", "--filter", "name=c0", "--format", '{{.Label "n"}}/{{.Label "none"}}') == "0/\n"
    rows = [json.loads(line) for line in pl.ok("ps", "-a", "--format", "json").splitlines()]
    assert [r["Names"] for r in rows] == ["c2", "c1", "c0"] and rows[0]["Labels"] == "n=2"
    pl.ok("volume", "create", "listed")
    for verb in (["ps", "-a"], ["stats", "--no-stream", "-a"], ["volume", "ls"]):  # a typo is an error, as Docker's
        r = pl(*verb, "--format", "{{.Nmaes}}")
        assert r.returncode != 0 and "can't evaluate field Nmaes" in one_error_line(r)
    out = pl.ok("volume", "ls", "--format", r"table {{.Name}}\t{{.Driver}}")
    assert out.splitlines()[0].split() == ["VOLUME", "NAME", "DRIVER"]


def test_inspect_templates_from_the_issue(pl, tmp_path):
    cid = pl.run_d("-v", f"{tmp_path}:/host", "--", "sleep", "100")
    assert int(pl.ok("inspect", "-f", "{{.State.Pid}}", cid)) == pl.inspect(cid)["State"]["Pid"] > 0
    mounts = json.loads(pl.ok("inspect", "-f", "{{json .Mounts}}", cid))
    assert [(m["Type"], m["Source"], m["Destination"]) for m in mounts] == [("bind", str(tmp_path), "/host")]
    merged = pl.ok("inspect", "-f", "{{.GraphDriver.Data.MergedDir}}", cid).strip()
    pl.ok("exec", cid, "sh", "-c", "echo seen > /probe")
    assert open(os.path.join(merged, "probe")).read() == "seen\n"


def test_export_of_a_created_container(pl, tmp_path):
    cid = pl.ok("create", *pl.image, "true").strip()
    out = tmp_path / "fs.tar"
    pl.ok("export", "-o", str(out), cid)
    import tarfile

    names = tarfile.open(out).getnames()
    assert "bin/busybox" in names or "./bin/busybox" in names
    assert state(pl, cid).startswith("created")  # exported from a temporary mount, left as it was


def test_cp_link_with_a_trailing_slash_is_resolved_inside_the_container(pl, tmp_path):
    """Docker resolves `LINK/` in the container: the slash names the directory the link points at."""
    cid = pl.run_d("--", "sh", "-c", "mkdir -p /data/sub && echo a > /data/f && ln -s /data /dl && "
                                     "ln -s /data/f /fl && touch /ready && sleep 100")
    wait_for(lambda: pl("exec", cid, "test", "-e", "/ready").returncode == 0, what="the setup")
    pl.ok("cp", f"{cid}:/dl", str(tmp_path / "asis"))
    assert os.readlink(tmp_path / "asis") == "/data"  # without the slash: the link itself, as Docker
    pl.ok("cp", f"{cid}:/dl/", str(tmp_path / "new"))
    assert sorted(os.listdir(tmp_path / "new")) == ["f", "sub"] and not os.path.islink(tmp_path / "new")
    (tmp_path / "existing").mkdir()
    pl.ok("cp", f"{cid}:/dl/", str(tmp_path / "existing"))
    assert (tmp_path / "existing" / "dl" / "f").read_text() == "a\n"  # named after the link
    r = pl("cp", f"{cid}:/fl/", str(tmp_path / "x"))
    assert r.returncode == 1 and "not a directory" in one_error_line(r) and not (tmp_path / "x").exists()


def test_restart_always_until_stopped(pl):
    cid = pl.run_d("--restart", "always", "--", "sh", "-c", "echo run; sleep 0.2")
    assert wait_for(lambda: int(pl.inspect(cid)["RestartCount"]) >= 3, 20, "restarts")
    pl.ok("stop", "-t", "1", cid)
    assert pl.inspect(cid)["State"]["Status"] == "exited"
    count = pl.inspect(cid)["RestartCount"]
    assert pl.ok("wait", cid).strip() == "0"
    assert pl.inspect(cid)["RestartCount"] == count and pl.inspect(cid)["State"]["Status"] == "exited"
    pl.ok("start", cid)  # the user's start: Docker counts restarts anew from here
    assert pl.inspect(cid)["RestartCount"] < count


def test_unless_stopped_restarts_a_failure(pl):
    cid = pl.run_d("--restart", "unless-stopped", "--", "sh", "-c", "exit 2")
    assert wait_for(lambda: int(pl.inspect(cid)["RestartCount"]) >= 1, 20, "a restart")


def test_daemon_json_values_pallet_would_ignore_are_errors(pl, tmp_path):
    cfg = tmp_path / "daemon.json"
    pl.config = cfg
    cases = [
        ({"bridge": "docker0"}, "bridge 'docker0' is not supported"),
        ({"storage-opts": ["overlay2.bogus=1"]}, "storage-opts: unknown option 'overlay2.bogus'"),
        ({"storage-driver": "btrfs"}, "storage-driver 'btrfs' is not supported"),
        ({"live-restore": "yes"}, "live-restore must be a boolean"),
        ({"registry-mirrors": "https://m"}, "registry-mirrors must be a list"),
        ({"log-opts": {"max-file": "0"}}, "max-file must be at least 1"),
        ({"log-driver": "syslog"}, "log-driver 'syslog' is not supported"),
        ({"default-runtime": "bad", "runtimes": {"bad": {"path": "/nonexistent"}}},
         "runtime 'bad': /nonexistent is not an executable file"),
    ]
    for conf, says in cases:
        cfg.write_text(json.dumps(conf))
        r = pl("run", "--rm", *pl.image, "true")
        assert r.returncode == 125 and says in one_error_line(r), (conf, r.stderr)
    cfg.write_text(json.dumps({"bridge": "none", "storage-opts": ["overlay2.override_kernel_check=true"],
                               "registry-mirrors": ["https://m.example"], "default-shm-size": "16m",
                               "proxies": {"http-proxy": "http://p.example:3128"}}))
    assert pl.ok("run", "--rm", *pl.image, "df", "-k", "/dev/shm").split()[-5] == "16384"
    info = json.loads(pl.ok("info", "-f", "{{json .}}"))
    assert info["RegistryConfig"]["Mirrors"] == ["https://m.example"]
    assert info["HttpProxy"] == "http://p.example:3128"
    assert pl.ok("ps", "-aq") == ""
    runc = shutil.which("runc")
    cfg.write_text(json.dumps({"runtimes": {"myrunc": {"path": runc}}}))
    assert pl.ok("run", "--rm", "--runtime", "myrunc", *pl.image, "echo", "via-myrunc") == "via-myrunc\n"
    assert json.loads(pl.ok("info", "-f", "{{json .Runtimes}}"))["myrunc"] == {"path": runc}


def test_json_file_log_has_a_size_limit_by_default(pl):
    cid = pl.run_d("--", "true")
    assert pl.inspect(cid)["HostConfig"]["LogConfig"] == {"Type": "json-file",
                                                         "Config": {"max-size": str(10 << 20), "max-file": "3"}}


def test_log_driver_none_keeps_no_log(pl, tmp_path):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(json.dumps({"log-driver": "none"}))
    pl.config = cfg
    r = pl("run", "--name", "fg", *pl.image, "echo", "to-terminal")
    assert r.stdout == "to-terminal\n"  # the foreground still sees its output
    cid = pl.run_d("--", "sh", "-c", "echo to-nowhere")
    assert pl.ok("wait", cid).strip() == "0"
    for ref in ("fg", cid):
        assert pl.inspect(ref)["HostConfig"]["LogConfig"] == {"Type": "none", "Config": {}}
        r = pl("logs", ref)
        assert r.returncode == 1 and 'logging driver "none" does not support reading' in one_error_line(r)
        assert not os.path.exists(pl.inspect(ref)["LogPath"])


def test_version_format(pl):
    assert pl.ok("version").splitlines()[0].startswith("pallet version ")
    version = pl.ok("version").split()[2]
    assert pl.ok("version", "-f", "{{.Client.Version}}") == version + "\n"
    assert json.loads(pl.ok("version", "--format", "json"))["Client"]["Version"] == version
    r = pl("version", "--bogus")
    assert r.returncode == 125 and "unknown flag: --bogus" in one_error_line(r)


def test_prune_verbs_ask_first_as_docker(pl):
    pl.ok("create", "--name", "stopped", *pl.image, "true")
    pl.ok("volume", "create", "named")
    anon = pl.ok("volume", "create").strip()
    r = pl("system", "prune", input="")  # no answer: nothing removed
    assert r.returncode == 0 and "Are you sure you want to continue? [y/N]" in r.stdout
    assert "all stopped containers" in r.stdout
    r = pl("volume", "prune", input="n\n")
    assert "anonymous local volumes" in r.stdout
    assert pl.ok("ps", "-aq", "--no-trunc") != "" and sorted(pl.ok("volume", "ls", "-q").split()) == sorted([anon, "named"])
    out = pl.ok("volume", "prune", input="y\n")
    assert f"Deleted Volumes:\n{anon}\n" in out and pl.ok("volume", "ls", "-q") == "named\n"
    assert pl.ok("volume", "prune", "-f") == "Total reclaimed space: 0B\n"  # no heading over an empty list
    out = pl.ok("system", "prune", "-a", "--volumes", input="y\n")
    assert "Deleted Containers:" in out and "named" in out
    assert pl.ok("ps", "-aq") == "" and pl.ok("volume", "ls", "-q") == ""


def test_volume_create_reuses_a_name_and_refuses_options_it_cannot_apply(pl):
    assert pl.ok("volume", "create", "vv") == "vv\n"
    pl.ok("run", "--rm", "-v", "vv:/v", *pl.image, "sh", "-c", "echo kept > /v/f")
    assert pl.ok("volume", "create", "vv") == "vv\n"  # Docker: the existing volume, untouched
    assert pl.ok("run", "--rm", "-v", "vv:/v", *pl.image, "cat", "/v/f") == "kept\n"
    r = pl("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "tt")
    assert r.returncode == 1 and "driver options are not supported" in one_error_line(r)
    assert pl.ok("volume", "ls", "-q") == "vv\n"


def test_attach_forwards_signals_unless_sig_proxy_is_off(pl):
    import signal
    import subprocess
    import time

    script = "trap 'echo got-INT; exit 5' INT; trap 'echo got-HUP' HUP; echo ready; while :; do sleep 0.1; done"
    cid = pl.run_d("--", "sh", "-c", script)
    assert wait_for(lambda: "ready" in pl.ok("logs", cid))
    quiet = subprocess.Popen(pl.argv("attach", "--sig-proxy=false", cid), stdout=subprocess.PIPE, text=True)
    relay = subprocess.Popen(pl.argv("attach", cid), stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1)  # both attached (nothing to wait on: the container prints nothing until signalled)
        quiet.send_signal(signal.SIGHUP)  # dies of it; the container is not told
        assert quiet.wait(10) == -signal.SIGHUP
        relay.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "got-HUP" in pl.ok("logs", cid))
        assert pl.ok("logs", cid).count("got-HUP") == 1 and relay.poll() is None
        relay.send_signal(signal.SIGINT)
        assert relay.wait(10) == 5  # the container's exit code, as `docker attach`
        assert "got-INT" in relay.stdout.read()
    finally:
        for p in (quiet, relay):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_rm_f_of_a_container_whose_runtime_left_daemon_json(pl, tmp_path):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(json.dumps({"runtimes": {"myrunc": {"path": shutil.which("runc")}}}))
    pl.config = cfg
    cid = pl.run_d("--runtime", "myrunc", "--", "sleep", "100")
    pid = pl.inspect(cid)["State"]["Pid"]
    cfg.write_text("{}")
    assert pl.ok("rm", "-f", cid).strip() == cid
    assert pl.ok("ps", "-aq") == ""
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"), what="the container's process to go")
    # (the fixture checks that no mount or cgroup of it is left)


def test_logs_follow_keeps_every_line_across_several_rotations_at_once(pl):
    """A burst rotates the log several times between two looks of `logs -f`: it reads the rotated files too."""
    cid = pl.run_d("--log-opt", "max-size=2k", "--log-opt", "max-file=50", "--",
                   "sh", "-c", "sleep 1; for i in $(seq 1 300); do echo line-$i; done; sleep 0.3; echo end")
    got = pl.ok("logs", "-f", cid, timeout=60).splitlines()
    want = [f"line-{i}" for i in range(1, 301)] + ["end"]
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    assert (missing, extra, len(got)) == ([], [], len(want)) and got == want, (missing, extra, len(got))
    assert os.path.exists(pl.inspect(cid)["LogPath"] + ".5")  # it did rotate, many times

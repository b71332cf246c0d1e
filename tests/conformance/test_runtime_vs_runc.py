"""One suite, two implementations: pallet-runtime and runc on the same bundles.

Each test runs the same config under both and compares what a user sees:
exit codes, state JSON, and what a probe inside the container prints
(hostname, ids and groups, capabilities, rlimits, umask, env, /dev,
mounts, masked and read-only paths).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from conftest import PALLET_RUNTIME, requires_root  # noqa: E402
from runtime_helpers import RUNC, Runtime, leftovers, unique, write_config  # noqa: E402

pytestmark = [requires_root, pytest.mark.root, pytest.mark.skipif(not os.path.exists(RUNC), reason="runc is not installed")]

PROBE = r"""
echo "hostname=$(hostname) domain=$(cat /proc/sys/kernel/domainname)"
echo "id=$(id)"
echo "groups=$(id -G)"
grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status
echo "nofile=$(ulimit -n) $(ulimit -Hn) nproc=$(ulimit -u)"
echo "umask=$(umask) cwd=$(pwd) pid=$$"
env | grep -v -E '^(PWD|SHLVL|_)=' | sort
for f in /dev/* /dev/pts/* /dev/shm /dev/mqueue; do stat -c '%A %t:%T %U:%G %N' "$f"; done
awk '{print $2, $3}' /proc/self/mounts | sort
for p in /proc/kcore /proc/keys /proc/timer_list /sys/firmware /proc/acpi /proc/scsi; do
  if [ -d "$p" ]; then echo "$p dir entries=$(ls -A $p | wc -l)"; else echo "$p bytes=$(head -c 64 $p 2>/dev/null | wc -c)"; fi
done
for p in /proc/sys /proc/bus /proc/irq /proc/fs /proc/sysrq-trigger; do
  grep -q " $p proc ro" /proc/self/mounts && echo "$p ro" || echo "$p rw"
done
touch /rootfs-write 2>/dev/null && echo "root rw" || echo "root ro"
echo "oom=$(cat /proc/self/oom_score_adj)"
ls /sys/fs/cgroup | sort | tr '\n' ' '; echo
"""


def both(tmp_path, cleanup):
    return [Runtime(PALLET_RUNTIME, tmp_path / "pallet-root", cleanup, "pallet-runtime"),
            Runtime(RUNC, tmp_path / "runc-root", cleanup, "runc")]


def run_both(tmp_path, cleanup, bundle: Path, args, mutate=None, flags=()):
    """Run the same bundle under both runtimes; return {name: CompletedProcess}."""
    out = {}
    for rt in both(tmp_path, cleanup):
        write_config(bundle, list(args), mutate)
        out[rt.name] = rt("run", *flags, "-b", str(bundle), unique(rt.name[:5]))
        rootfs_marker = bundle / "rootfs" / "rootfs-write"
        if rootfs_marker.exists():
            rootfs_marker.unlink()
    return out


def assert_same(results: dict) -> None:
    a, b = results["pallet-runtime"], results["runc"]
    assert b.returncode == a.returncode, (a.stderr, b.stderr)
    la, lb = a.stdout.splitlines(), b.stdout.splitlines()
    diff = [f"pallet: {x!r}\n  runc: {y!r}" for x, y in zip(la, lb) if x != y]
    assert la == lb, "\n".join(diff[:20]) + f"\n(pallet {len(la)} lines, runc {len(lb)} lines)\n{a.stderr}\n{b.stderr}"


@pytest.mark.parametrize("name, mutate", [
    ("default", None),
    ("user-and-caps", lambda c: c["process"].update(
        user={"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 0o027}, cwd="/tmp",
        env=["PATH=/bin:/usr/bin", "A=1"],
        capabilities={"bounding": ["CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"], "effective": ["CAP_NET_RAW"],
                      "permitted": ["CAP_NET_RAW", "CAP_KILL"], "inheritable": ["CAP_NET_RAW"], "ambient": ["CAP_NET_RAW"]})),
    ("nobody-from-passwd", lambda c: c["process"].update(user={"uid": 65534, "gid": 65534})),
    ("limits-and-names", lambda c: (c.update(hostname="probe"),  # runc 1.1 ignores domainname
                                    c["process"].update(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
                                                                 {"type": "RLIMIT_NPROC", "soft": 300, "hard": 300}],
                                                        oomScoreAdj=123, noNewPrivileges=False))),
    ("writable-root-no-masks", lambda c: (c["root"].update(readonly=False), c["linux"].update(maskedPaths=[], readonlyPaths=[]))),
    ("cgroup-namespace", lambda c: c["linux"]["namespaces"].append({"type": "cgroup"})),
])
def test_probe_sees_the_same(tmp_path, cleanup, bundle, name, mutate):
    assert_same(run_both(tmp_path, cleanup, bundle, ["sh", "-c", PROBE], mutate))


@pytest.mark.parametrize("script, code", [("exit 0", 0), ("exit 3", 3), ("exit 255", 255)])
def test_run_exit_codes(tmp_path, cleanup, bundle, script, code):
    results = run_both(tmp_path, cleanup, bundle, ["sh", "-c", script])
    assert {k: r.returncode for k, r in results.items()} == {"pallet-runtime": code, "runc": code}


def test_missing_executable_fails_create_under_both(tmp_path, cleanup, bundle):
    results = run_both(tmp_path, cleanup, bundle, ["/bin/nope"])
    assert results["runc"].returncode != 0 and results["pallet-runtime"].returncode != 0
    assert "/bin/nope" in results["pallet-runtime"].stderr and "no such file or directory" in results["pallet-runtime"].stderr


def test_state_json_and_transitions(tmp_path, cleanup, bundle):
    seen = {}
    for rt in both(tmp_path, cleanup):
        cid = unique(rt.name[:5])
        write_config(bundle, ["sleep", "60"], lambda c: c.update(annotations={"a": "b"}))
        steps = []
        rt.ok("create", "-b", str(bundle), "--pid-file", str(tmp_path / f"{rt.name}.pid"), cid)
        st = rt.state(cid)
        steps.append((st["status"], sorted(st), (tmp_path / f"{rt.name}.pid").read_text() == str(st["pid"])))
        steps.append(("start-created", rt("start", cid).returncode))
        steps.append((rt.state(cid)["status"],))
        steps.append(("start-running", rt("start", cid).returncode))
        steps.append(("delete-running", rt("delete", cid).returncode))
        steps.append(("kill-running", rt("kill", cid, "KILL").returncode))
        deadline = time.monotonic() + 5
        while rt.state(cid)["status"] != "stopped" and time.monotonic() < deadline:
            time.sleep(0.02)
        st = rt.state(cid)
        steps.append((st["status"], st["pid"] if rt.name == "pallet-runtime" else st["pid"] * 0))
        steps.append(("kill-stopped", rt("kill", cid, "KILL").returncode))
        steps.append(("delete", rt("delete", cid).returncode))
        steps.append(("state-gone", rt("state", cid).returncode))
        steps.append(("delete-f-gone", rt("delete", "-f", cid).returncode))
        seen[rt.name] = steps
        assert leftovers(cid) == []
    assert seen["pallet-runtime"] == seen["runc"]


def test_list_json_fields(tmp_path, cleanup, bundle):
    fields = {}
    for rt in both(tmp_path, cleanup):
        cid = unique(rt.name[:5])
        write_config(bundle, ["sleep", "60"])
        rt.ok("create", "-b", str(bundle), cid)
        items = json.loads(rt.ok("list", "-f", "json").stdout)
        fields[rt.name] = (len(items), sorted(items[0]), items[0]["status"])
        assert rt.ok("list", "-q").stdout.split() == [cid]
        rt.ok("delete", "-f", cid)
    assert fields["pallet-runtime"] == fields["runc"]


def test_no_pivot_probe(tmp_path, cleanup, bundle):
    assert_same(run_both(tmp_path, cleanup, bundle, ["sh", "-c", "ls / | sort; readlink /proc/1/root"], flags=("--no-pivot",)))


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_exec_sees_the_same(tmp_path, cleanup, bundle):
    outs = {}
    for rt in both(tmp_path, cleanup):
        cid = unique(rt.name[:5])
        write_config(bundle, ["sleep", "60"])
        rt.ok("run", "-d", "-b", str(bundle), cid)
        r = rt("exec", "-e", "X=1", "--cwd", "/dev", "-u", "1000:1000", cid, "sh", "-c",
               "echo $X; pwd; id; grep -E '^Cap' /proc/self/status; exit 7")
        outs[rt.name] = (r.returncode, r.stdout)
        rt.ok("delete", "-f", cid)
    assert outs["pallet-runtime"] == outs["runc"]

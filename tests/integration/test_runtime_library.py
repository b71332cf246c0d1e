"""The library API the engine uses in process: pallet.runtime.api, no CLI in between."""

from __future__ import annotations

import os
import time

import pytest
from conftest import requires_root
from runtime_helpers import leftovers, unique, write_config

from pallet.errors import AlreadyExists, NotFound, WrongState
from pallet.runtime import api

pytestmark = [requires_root, pytest.mark.root]


@pytest.fixture
def root(tmp_path, cleanup):
    r = str(tmp_path / "state")
    cleanup.add(lambda: [api.delete(r, cid, force=True) for cid in os.listdir(r)] if os.path.isdir(r) else None)
    return r


def test_create_start_kill_delete_in_process(root, bundle):
    cid = unique()
    write_config(bundle, ["sh", "-c", "echo hello-from-library; sleep 60"])
    r, w = os.pipe()
    try:
        cs = api.create(api.CreateOptions(root=root, id=cid, bundle=str(bundle), stdio=(0, w, w)))
        os.close(w)
        w = -1
        assert api.state(root, cid)["status"] == "created" and cs.pid > 0
        with pytest.raises(AlreadyExists):
            api.create(api.CreateOptions(root=root, id=cid, bundle=str(bundle)))
        api.start(root, cid)
        assert os.read(r, 100) == b"hello-from-library\n"
        assert api.state(root, cid)["status"] == "running"
        assert cs.pid in api.pids(root, cid)
        assert api.exec_process(api.ExecOptions(root=root, id=cid, args=("sh", "-c", "exit 9"), stdio=(0, 1, 2))) == 9
        with pytest.raises(WrongState, match=f"container {cid} is running"):
            api.start(root, cid)
        api.kill(root, cid, "KILL")
        deadline = time.monotonic() + 5
        while api.state(root, cid)["status"] != "stopped":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        api.delete(root, cid)
        with pytest.raises(NotFound):
            api.state(root, cid)
        assert leftovers(cid) == []
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_child_error_is_a_container_error(root, bundle):
    write_config(bundle, ["/bin/nope"])
    with pytest.raises(api.ContainerError, match="exec /bin/nope: no such file or directory"):
        api.create(api.CreateOptions(root=root, id=unique(), bundle=str(bundle)))
    assert os.listdir(root) == []


def test_run_returns_the_status(root, bundle):
    write_config(bundle, ["sh", "-c", "exit 5"])
    assert api.run(api.CreateOptions(root=root, id=unique(), bundle=str(bundle), stdio=(0, 1, 2))) == 5
    assert os.listdir(root) == []

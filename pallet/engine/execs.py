"""`exec`: run another process in a running container through the runtime."""

from __future__ import annotations

import json
import os
import subprocess

from pallet.engine import containers, spec_plan
from pallet.engine.lifecycle import StartError, _short_msg, classify
from pallet.engine.monitor.monitor import runtime_error
from pallet.engine.spec_builder import DEFAULT_PATH, exec_process
from pallet.errors import PalletError, WrongState


def exec_in(env, ref: str, argv: list[str], *, detach: bool = False, tty: bool = False, interactive: bool = False,
            env_vars: list[str] | None = None, user: str = "", workdir: str = "", privileged: bool = False) -> int:
    st = containers.get(env, ref)
    if st.status != "running":
        raise WrongState(f"container {st.name} is {'stopped' if st.status == 'exited' else st.status}: cannot exec")
    cfg = st.config
    root = st.row.rootfs
    uid, gid, _extra = spec_plan.resolve_user(root, user or cfg.user, cfg.group_add)
    base_env = list(cfg.env)
    if not any(e.startswith("PATH=") for e in base_env):
        base_env.insert(0, "PATH=" + DEFAULT_PATH)
    process = exec_process(cfg, argv, env=list(env_vars or ()), workdir=workdir, uid=uid, gid=gid, tty=tty,
                           privileged=privileged, base_env=base_env)
    if privileged:  # every cap the host has, as `run --privileged` (no CAP_SYS_RESOURCE on some hosts)
        host_caps = spec_plan.host_facts().bounding_caps
        if host_caps is not None:
            process["capabilities"] = {k: [c for c in v if c in host_caps] for k, v in process["capabilities"].items()}
    rdir = env.run_dir(st.id)
    os.makedirs(rdir, exist_ok=True)
    tag = os.urandom(6).hex()
    pfile = os.path.join(rdir, f"exec-{tag}.json")
    rlog = os.path.join(rdir, f"exec-{tag}.log")
    with open(pfile, "w") as f:
        json.dump(process, f)
    rt = env.runtime(cfg.runtime)
    try:
        if getattr(rt, "in_process", False):
            try:
                return rt.exec_file(st.id, pfile, detach=detach, tty=tty,
                                    stdio=None if interactive or tty else (os.open(os.devnull, os.O_RDONLY), 1, 2))
            except PalletError as exc:
                raise StartError(f"exec in {st.name}: {_exec_msg(str(exc), st.id)}", classify(str(exc))) from None
        cmd = rt.exec_argv(st.id, pfile, detach, log=rlog)
        stdin = None if interactive or tty else subprocess.DEVNULL
        if detach:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        else:
            proc = subprocess.run(cmd, stdin=stdin)
        err = runtime_error(rlog)
        if err and proc.returncode != 0 and not detach:
            return classify(err)  # the runtime said it on our stderr already (runc always does): one line is enough
        if err and proc.returncode != 0:
            raise StartError(f"exec in {st.name}: {_exec_msg(err, st.id)}", classify(err))
        return proc.returncode
    finally:
        for p in (pfile, rlog):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass


def _exec_msg(msg: str, cid: str) -> str:
    """The runtime's cause without its "exec <64-hex id>: " head: our message names the container already."""
    return _short_msg(msg).removeprefix(f"exec {cid}: ")

"""`pallet info`, `pallet system info|df|prune|check`."""

from __future__ import annotations

import json
import sys
import time

from pallet.cli.common import GlobalOptions
from pallet.cli.ctrcommon import open_env, parser, print_table, render, run_group, run_verb


def cmd_info(opts, argv):
    p = parser("info")
    p.add_argument("-f", "--format", default="")
    ns = p.parse_args(argv)
    from pallet.engine import system

    data = system.info(open_env(opts))
    if ns.format:
        print(render(ns.format, data))
        return 0
    lines = [
        f"Server Version: {data['ServerVersion']}",
        f"Containers: {data['Containers']}",
        f" Running: {data['ContainersRunning']}",
        f" Paused: {data['ContainersPaused']}",
        f" Stopped: {data['ContainersStopped']}",
        f"Images: {data['Images']}",
        f"Storage Driver: {data['Driver']}",
        *[f" {k}: {v}" for k, v in data["DriverStatus"]],
        f"Logging Driver: {data['LoggingDriver']}",
        f"Cgroup Driver: {data['CgroupDriver']}",
        f"Cgroup Version: {data['CgroupVersion']} ({data['CgroupMode']})",
        f"Runtimes: {' '.join(sorted(data['Runtimes']))}",
        f"Default Runtime: {data['DefaultRuntime']}",
        f"Default IPC Mode: {data['DefaultIpcMode']}",
        "Security Options:",
        *[f" {o.split(',')[0].removeprefix('name=')}" + (f"\n  Profile: {o.split('profile=')[1]}" if "profile=" in o else "")
          for o in data["SecurityOptions"]],
        f"Kernel Version: {data['KernelVersion']}",
        f"Operating System: {data['OperatingSystem']}",
        f"OSType: {data['OSType']}",
        f"Architecture: {data['Architecture']}",
        f"CPUs: {data['NCPU']}",
        f"Total Memory: {data['MemTotal'] / 2**30:.2f}GiB",
        f"Name: {data['Name']}",
        f"Root Dir: {data['DockerRootDir']}",
        f"Run Root: {data['RunRoot']}",
        f"Live Restore Enabled: {str(data['LiveRestoreEnabled']).lower()}",
    ]
    print("\n".join(lines))
    return 0


def cmd_df(opts, argv):
    p = parser("system df")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--format", default="")
    ns = p.parse_args(argv)
    from pallet.engine import system
    from pallet.engine.units import human_size

    d = system.df(open_env(opts))

    def summary(kind, rows, reclaim_if):
        total = sum(r["Size"] for r in rows)
        reclaim = sum(r["Size"] for r in rows if reclaim_if(r))
        pct = f" ({100 * reclaim // total}%)" if total else ""
        return {"Type": kind, "TotalCount": str(len(rows)), "Active": str(sum(1 for r in rows if r["Active"])),
                "Size": human_size(total), "Reclaimable": human_size(reclaim) + pct}

    rows = [summary("Images", d["Images"], lambda r: not r["Active"]),
            summary("Containers", d["Containers"], lambda r: not r["Active"]),
            summary("Local Volumes", d["Volumes"], lambda r: not r["Active"]),
            {"Type": "Build Cache", "TotalCount": "0", "Active": "0", "Size": "0B", "Reclaimable": "0B"}]
    if ns.format == "json" or ns.format.startswith("{{json"):
        print(json.dumps(d if ns.verbose else rows))
        return 0
    if not ns.verbose:
        print_table(rows, [("Type", "TYPE"), ("TotalCount", "TOTAL"), ("Active", "ACTIVE"), ("Size", "SIZE"),
                           ("Reclaimable", "RECLAIMABLE")], ns.format)
        return 0
    from pallet.engine.units import since

    now = time.time()

    print("Images space usage:\n")
    print_table([{**r, "ID": r["ID"].removeprefix("sha256:")[:12], "Size": human_size(r["Size"]),
                  "Created": since(r["Created"], now), "SharedSize": human_size(r["SharedSize"]),
                  "UniqueSize": human_size(r["UniqueSize"]), "Containers": str(r["Containers"])} for r in d["Images"]],
                [("Repository", "REPOSITORY"), ("Tag", "TAG"), ("ID", "IMAGE ID"), ("Created", "CREATED"),
                 ("Size", "SIZE"), ("SharedSize", "SHARED SIZE"), ("UniqueSize", "UNIQUE SIZE"),
                 ("Containers", "CONTAINERS")])
    print("\nContainers space usage:\n")
    print_table([{**r, "ID": r["ID"][:12], "Size": human_size(r["Size"]), "Command": _quoted(r["Command"]),
                  "LocalVolumes": str(r["LocalVolumes"]), "Created": since(r["Created"], now), "Status": r["StatusText"]}
                 for r in d["Containers"]],
                [("ID", "CONTAINER ID"), ("Image", "IMAGE"), ("Command", "COMMAND"), ("LocalVolumes", "LOCAL VOLUMES"),
                 ("Size", "SIZE"), ("Created", "CREATED"), ("Status", "STATUS"), ("Name", "NAMES")])
    print("\nLocal Volumes space usage:\n")
    print_table([{**r, "Size": human_size(r["Size"]), "Links": str(r["Links"])} for r in d["Volumes"]],
                [("Name", "VOLUME NAME"), ("Links", "LINKS"), ("Size", "SIZE")])
    print("\nBuild cache usage: 0B")
    return 0


def _quoted(cmd: str) -> str:
    """Docker's truncated COMMAND cell."""
    return '"' + (cmd[:19] + "…" if len(cmd) > 20 else cmd) + '"'


def cmd_prune(opts, argv):
    p = parser("system prune")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--volumes", action="store_true")
    ns = p.parse_args(argv)
    from pallet.cli.filesystem import confirm
    from pallet.engine import system
    from pallet.engine.units import human_size

    env = open_env(opts)
    what = ["all stopped containers"]
    if ns.volumes:
        what.append(f"all {'' if ns.all else 'anonymous '}volumes not used by at least one container")
    what.append("all images without at least one container associated to them" if ns.all else "all dangling images")
    if not ns.force and not confirm("WARNING! This will remove:\n" + "".join(f"  - {w}\n" for w in what)):
        return 0
    r = system.prune(env, all_images=ns.all, with_volumes=ns.volumes)
    if r["containers"]:
        print("Deleted Containers:\n" + "\n".join(r["containers"]) + "\n")
    if r["volumes"]:
        print("Deleted Volumes:\n" + "\n".join(r["volumes"]) + "\n")
    if r["images"]:
        print("Deleted Images:\n" + "\n".join(f"{k}: {v}" for k, v in r["images"]) + "\n")
    print(f"Total reclaimed space: {human_size(r['freed'])}")
    return 0


def cmd_check(opts, argv):
    """podman's semantics: report only; --repair fixes; --force also removes containers with damaged storage."""
    p = parser("system check")
    p.add_argument("-r", "--repair", action="store_true", help="repair what is found (keeps damaged containers)")
    p.add_argument("-f", "--force", action="store_true", help="repair, and remove containers whose storage is damaged")
    ns = p.parse_args(argv)
    from pallet.engine import system

    found = system.check(open_env(opts), repair=ns.repair, force=ns.force)
    for f in found:
        if f.repaired:
            print(f"{f.text}: repaired")
        elif f.lossy and ns.repair:
            print(f"{f.text}: left alone (--force removes the container)")
        else:
            print(f.text)
    if not found:
        print("No problems found")
    if any(not f.repaired for f in found):
        sys.stderr.write("Error: damage detected in local storage" +
                         ("\n" if ns.repair else ": run 'pallet system check --repair' to repair it\n"))
        return 1
    return 0


SYSTEM = {"info": cmd_info, "df": cmd_df, "prune": cmd_prune, "check": cmd_check}


def run(opts: GlobalOptions, verb: str, argv: list[str]) -> int:
    if verb == "info":
        return run_verb(cmd_info, opts, argv)
    return run_group("system", SYSTEM, opts, argv)

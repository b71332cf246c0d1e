"""Seccomp compile and load times: the Docker-equivalent default profile, both backends, and a cached load.

    .venv/bin/python bench/seccomp_compile.py [-n 50]

Prints mean/min over N fresh compiles (no cache) for our compiler and for
libseccomp (ctypes), the program sizes, and the time to load a program
from the on-disk cache in a fresh process-like state (memory cache
cleared): what `pallet-runtime run` pays on the second start of a profile.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from pallet.runtime.seccomp import compile as comp
from pallet.runtime.seccomp import default_profile, install_filter


def timed(fn, n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        comp.clear_memory_cache()
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.mean(samples), min(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=50)
    n = ap.parse_args().n
    profile = default_profile([])
    quiet = lambda msg: None  # noqa: E731
    print(f"default profile: {sum(len(s['names']) for s in profile['syscalls'])} names, arches {profile.get('architectures')}")
    for backend in ("pallet", "libseccomp"):
        prog = comp.compile_filter(profile, backend=backend, warn=quiet)
        mean, mn = timed(lambda: comp.compile_filter(profile, backend=backend, warn=quiet), n)
        print(f"compile {backend:10s}: mean {mean:6.2f} ms  min {mn:6.2f} ms  ({prog.instructions} instructions, N={n})")
    with tempfile.TemporaryDirectory() as cache:
        comp.clear_memory_cache()
        comp.compile_filter(profile, cache_dir=cache, warn=quiet)
        mean, mn = timed(lambda: comp.compile_filter(profile, cache_dir=cache, warn=quiet), n)
        print(f"load from cache dir   : mean {mean:6.2f} ms  min {mn:6.2f} ms")
        t = time.perf_counter()
        for _ in range(n):
            comp.compile_filter(profile, cache_dir=cache, warn=quiet)
        print(f"load from memory cache: mean {(time.perf_counter() - t) * 1000 / n:6.3f} ms (hash of the JSON included)")
    # Install: the seccomp(2) call itself, in forked children (never in this process).
    prog = comp.compile_filter(profile, warn=quiet)
    samples = []
    for _ in range(min(n, 20)):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            from pallet.linux.seccomp import set_no_new_privs

            set_no_new_privs()
            t = time.perf_counter()
            install_filter(prog)
            os.write(w, str((time.perf_counter() - t) * 1000).encode())
            os._exit(0)
        os.close(w)
        samples.append(float(os.read(r, 100) or 0))
        os.close(r)
        os.waitpid(pid, 0)
    print(f"install_filter (seccomp(2), {prog.instructions} insns): mean {statistics.mean(samples):.3f} ms  min {min(samples):.3f} ms")
    # Cold: a fresh interpreter that imports the package and compiles once (what a CLI start pays).
    code = ("import time; t=time.perf_counter(); from pallet.runtime.seccomp import compile_filter, default_profile; "
            "p=default_profile([]); t1=time.perf_counter(); compile_filter(p); t2=time.perf_counter(); "
            "print(f'{(t1-t)*1000:.2f} {(t2-t1)*1000:.2f}')")
    cold = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split() for _ in range(5)]
    print(f"cold process: import+default_profile {min(float(c[0]) for c in cold):.2f} ms, first compile {min(float(c[1]) for c in cold):.2f} ms (min of 5)")
    with tempfile.TemporaryDirectory() as cache:
        comp.compile_filter(profile, cache_dir=cache, warn=quiet)
        # dataclasses and json are imported first: pallet-runtime has them loaded before it reaches seccomp
        code = ("import json,sys,time,dataclasses; p=json.load(open(sys.argv[2])); t=time.perf_counter(); "
                "from pallet.runtime.seccomp import compile_filter; compile_filter(p, cache_dir=sys.argv[1]); "
                "print(f'{(time.perf_counter()-t)*1000:.2f}')")
        path = os.path.join(cache, "profile.json")
        with open(path, "w") as f:
            json.dump(profile, f)
        cold = [float(subprocess.run([sys.executable, "-c", code, cache, path], capture_output=True, text=True, check=True).stdout)
                for _ in range(5)]
        print(f"cold process, cached program: import pallet.runtime.seccomp + load {min(cold):.2f} ms (min of 5)")


if __name__ == "__main__":
    main()

"""`make demo`: build a busybox bundle and run a container with pallet-runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import busybox_rootfs  # noqa: E402

BIN = os.path.dirname(sys.executable)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="pallet-demo-") as tmp:
        bundle = os.path.join(tmp, "bundle")
        busybox_rootfs.build(os.path.join(bundle, "rootfs"))
        runtime = [os.path.join(BIN, "pallet-runtime"), "--root", os.path.join(tmp, "state")]
        subprocess.run(runtime + ["spec", "--bundle", bundle], check=True)
        config_path = os.path.join(bundle, "config.json")
        with open(config_path) as f:
            config = json.load(f)
        script = 'echo "hostname: $(hostname)"; echo "PID 1: $(cat /proc/1/comm) (pid $$)"; id'
        config["process"]["terminal"] = False
        config["process"]["args"] = ["sh", "-c", script]
        with open(config_path, "w") as f:
            json.dump(config, f)
        print("== pallet-runtime run demo (busybox bundle)")
        proc = subprocess.run(runtime + ["run", "--bundle", bundle, "demo"])
        return proc.returncode


if __name__ == "__main__":
    sys.exit(main())

"""The same command against a running cluster (`--address`), not one it starts: a separate
process holds a one-node cluster on 127.0.0.1 (as `ray start --head` would), the fleet joins it
by its GCS address, replays two bags there, and the cluster outlives the command."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

from conftest import bag_list, binary, fleet, ort_env

HOLDER = """
import os, sys, time
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
import ray
ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False)
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()  # until the test closes stdin
"""


def test_run_joins_a_running_cluster_by_address(bags: dict[str, Path], tmp_path: Path) -> None:
    # Ray 2.60 clusters use token authentication: a driver joining one presents the cluster's
    # token (RAY_AUTH_MODE=token with RAY_AUTH_TOKEN, or ~/.ray/auth_token), as on a real one.
    env = ort_env() | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env=env)
    try:
        assert holder.stdout is not None
        address = holder.stdout.readline().strip()
        assert address.startswith("127.0.0.1:"), address
        listing = bag_list(tmp_path / "bags.txt", [bags["t0000_f000_mcap"], bags["t0000_f040_sqlite3"]])
        out = tmp_path / "out"
        proc = fleet("run", "--bags", str(listing), "--binary", str(binary()), "--out", str(out),
                     "--address", address, "--camera", "none", env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "2 replayed" in proc.stdout
        run = json.loads((out / "run.json").read_text())
        assert run["cluster"]["address"] == address
        assert run["cluster"]["resources"]["CPU"] == 2.0
        # --num-cpus is for a local cluster only.
        proc = fleet("run", "--bags", str(listing), "--binary", str(binary()), "--out", str(tmp_path / "o2"),
                     "--address", address, "--num-cpus", "2", env=env)
        assert proc.returncode == 2 and "--num-cpus" in proc.stderr, proc.stderr
        assert holder.poll() is None  # the cluster is still up
    finally:
        if holder.stdin:
            holder.stdin.close()
        holder.wait(timeout=60)

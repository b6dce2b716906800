"""Connecting to Ray: a local cluster on loopback, or a real one by address.

Local (no --address, no RAY_ADDRESS): `ray.init` starts a one-node cluster with `num_cpus`
CPUs whose every socket is on 127.0.0.1 (`_node_ip_address`, no dashboard, and
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0), ended when the command ends. With --address `auto`
(a cluster started on this node with `ray start`) or `ray://HOST:10001` (Ray Client), or
RAY_ADDRESS set, the tasks run on that cluster's nodes: the binary, the bags and the output
folder must then be at the same paths on every node (a container image and a shared volume,
docs/FLEET.md).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from fusionrt_fleet.errors import FleetError


def connect(address: str | None, num_cpus: int | None) -> dict[str, Any]:
    """Starts or joins a cluster; returns its resources (`ray.cluster_resources()`)."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    common: dict[str, Any] = {
        "logging_level": logging.WARNING,
        "log_to_driver": False,
        "configure_logging": True,
    }
    try:
        if address is None:
            ray.init(
                num_cpus=num_cpus,
                _node_ip_address="127.0.0.1",
                include_dashboard=False,
                **common,
            )
        else:
            if num_cpus is not None:
                raise FleetError("--num-cpus is for a local cluster; a cluster has its own CPUs")
            host = address.split("://")[-1].rsplit(":", 1)[0]
            if host in ("127.0.0.1", "localhost"):
                # A cluster on this machine's loopback: this driver is 127.0.0.1 too (else Ray
                # picks the eth0 address and finds no local node).
                common["_node_ip_address"] = "127.0.0.1"
            ray.init(address=address, **common)
    except (ConnectionError, ValueError, RuntimeError) as e:
        where = address or "a local cluster"
        raise FleetError(f"cannot start or reach Ray at {where}: {e}") from None
    resources: dict[str, Any] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return resources


def disconnect() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()

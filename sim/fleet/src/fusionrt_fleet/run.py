"""`fusionrt-fleet run`: one Ray task per bag, results gathered as they finish.

Each task declares its resources (CPUs, memory, GPUs) so Ray packs as many replays on a node
as it holds. A worker that dies mid-bag (killed, out of memory) is retried by Ray
(`max_retries`); a replay killed by a signal or timed out raises `ReplayKilled`, which Ray
retries too (`retry_exceptions`). A bag that still fails is written to DIR/failed/NAME.json with
its error and stderr tail and listed at the end: never lost silently. Bags already complete in
DIR are skipped, so a run can be repeated after a failure or an interruption.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusionrt_fleet import cluster
from fusionrt_fleet.bags import Bag
from fusionrt_fleet.errors import FleetError
from fusionrt_fleet.layout import Layout, write_json_atomic
from fusionrt_fleet.replay import BagOutcome, ReplayKilled, ReplaySpec, replay_bag


@dataclass(frozen=True)
class Resources:
    """What one bag's task asks of a node."""

    cpus: float = 1.0
    memory_mb: float = 1024.0
    gpus: float = 0.0


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def settings_of(spec: ReplaySpec) -> dict[str, Any]:
    """What decides a bag's outputs; a folder keeps results of one setting only."""
    return {
        "binary": spec.binary,
        "binary_sha256": _sha256(Path(spec.binary)),
        "config": str(spec.config) if spec.config else None,
        "config_sha256": _sha256(spec.config) if spec.config else None,
        "camera": spec.camera,
        "ground_truth": {k: v.to_json() for k, v in sorted(spec.ground_truth.items())},
    }


def _check_settings(layout: Layout, settings: dict[str, Any]) -> None:
    import json

    if not layout.run_json.is_file():
        return
    try:
        before = json.loads(layout.run_json.read_text(encoding="utf-8"))["settings"]
    except (OSError, ValueError, KeyError) as e:
        raise FleetError(f"{layout.run_json}: unreadable ({e}); use a new --out") from None
    keys = ("config_sha256", "camera", "binary_sha256")
    changed = [k for k in keys if before.get(k) != settings.get(k)]
    if changed and layout.done_bags():
        raise FleetError(
            f"--out {layout.root} holds bags replayed with another {', '.join(changed)}; "
            "use a new --out (its bags would not be comparable)"
        )


def _remove_stale_attempts(layout: Layout) -> None:
    """Temporary folders of attempts that never completed (a run killed before; one run per
    folder at a time)."""
    if layout.bags.is_dir():
        for p in layout.bags.glob(".tmp-*"):
            shutil.rmtree(p, ignore_errors=True)


def _task(spec: ReplaySpec, bag: Bag) -> BagOutcome:
    return replay_bag(spec, bag)


def _failure(bag: Bag, error: BaseException) -> BagOutcome:
    """A bag whose last attempt raised (its worker died or the replay was killed)."""
    cause: BaseException = error
    inner = getattr(error, "cause", None)
    if isinstance(inner, BaseException):
        cause = inner
    if isinstance(cause, ReplayKilled):
        return BagOutcome(bag.name, "failed", error=f"replay {cause.why} on every attempt",
                          stderr_tail=cause.stderr_tail)
    first = str(error).strip().splitlines()
    return BagOutcome(bag.name, "failed", error=f"{type(error).__name__}: {first[0] if first else ''}",
                      stderr_tail=str(error)[-4000:])


def run_fleet(
    bags: list[Bag],
    spec: ReplaySpec,
    resources: Resources,
    *,
    address: str | None,
    num_cpus: int | None,
    max_retries: int,
) -> list[BagOutcome]:
    """Replays `bags` on Ray; returns one outcome per bag, in `bags` order."""
    from tqdm import tqdm

    layout = Layout(spec.out)
    settings = settings_of(spec)
    _check_settings(layout, settings)
    layout.root.mkdir(parents=True, exist_ok=True)
    _remove_stale_attempts(layout)
    started = time.time()
    outcomes: dict[str, BagOutcome] = {
        b.name: BagOutcome(b.name, "skipped") for b in bags if layout.bag_done(b.name)
    }
    pending = [b for b in bags if b.name not in outcomes]
    cluster_resources: dict[str, Any] = {}
    replay_wall_s = 0.0
    if pending:
        cluster_resources = cluster.connect(address, num_cpus)
        try:
            replay_started = time.monotonic()
            _gather(pending, spec, resources, max_retries, outcomes, tqdm)
            replay_wall_s = time.monotonic() - replay_started
        finally:
            cluster.disconnect()
        _remove_stale_attempts(layout)  # left by attempts whose worker was killed
    for o in outcomes.values():
        if o.status == "failed":
            write_json_atomic(layout.failed(o.name), o.to_json())
    ordered = [outcomes[b.name] for b in bags]
    write_json_atomic(
        layout.run_json,
        {
            "settings": settings,
            "cluster": {"address": address, "resources": cluster_resources},
            "task_resources": {"cpus": resources.cpus, "memory_mb": resources.memory_mb,
                               "gpus": resources.gpus, "max_retries": max_retries},
            "started_unix_s": started,
            "wall_s": time.time() - started,
            # From the first task submitted to the last result: the throughput without the
            # cluster's start-up.
            "replay_wall_s": replay_wall_s,
            "bags": [o.to_json() for o in ordered],
        },
    )
    return ordered


def _gather(
    pending: list[Bag],
    spec: ReplaySpec,
    resources: Resources,
    max_retries: int,
    outcomes: dict[str, BagOutcome],
    tqdm: Any,
) -> None:
    import ray

    remote = ray.remote(_task).options(
        num_cpus=resources.cpus,
        num_gpus=resources.gpus,
        memory=int(resources.memory_mb * 1024 * 1024),
        max_retries=max_retries,
        retry_exceptions=[ReplayKilled],
    )
    refs = {remote.remote(spec, b): b for b in pending}
    bar = tqdm(total=len(refs), unit="bag", desc="replay", file=sys.stderr, disable=None)
    waiting = list(refs)
    while waiting:
        done, waiting = ray.wait(waiting, num_returns=1)
        for ref in done:
            bag = refs[ref]
            try:
                outcome: BagOutcome = ray.get(ref)
            except Exception as e:  # the task's last attempt failed: record it, go on
                outcome = _failure(bag, e)
            outcomes[bag.name] = outcome
            if outcome.status == "failed":
                bar.write(f"FAILED {bag.name}: {outcome.error}", file=sys.stderr)
            bar.update(1)
    bar.close()

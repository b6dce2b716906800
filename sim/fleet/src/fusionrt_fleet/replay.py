"""One bag through `fusionrt replay`, with no Ray in sight (the Ray task calls this).

The replay writes into a temporary folder beside the final one and is renamed to
`bags/NAME` only when it exited 0 with a report.json, so a folder that exists is complete. A
replay killed by a signal (its worker or itself killed, out of memory, timed out) raises
`ReplayKilled`, which the fleet run lets Ray retry; one that exits non-zero fails for good (the
same input and config would fail again) and returns its exit status and stderr tail.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fusionrt_fleet.bags import Bag
from fusionrt_fleet.groundtruth import GroundTruth
from fusionrt_fleet.layout import Layout, write_json_atomic

STDERR_TAIL_CHARS = 4000


@dataclass(frozen=True)
class ReplaySpec:
    """What every bag's replay shares."""

    binary: str
    out: Path
    config: Path | None = None
    camera: str = "auto"
    timeout_s: float | None = None
    ground_truth: dict[str, GroundTruth] = field(default_factory=dict)

    def command(self, bag: Bag, out_dir: Path) -> list[str]:
        cmd = [self.binary, "replay", str(bag.path), "--max", "--out", str(out_dir)]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        cmd += ["--camera", self.camera]
        gt = self.ground_truth.get(bag.name)
        if gt is not None:
            cmd += ["--kitti-results", gt.sequence, "--kitti-calib", str(gt.calib)]
        return cmd


@dataclass(frozen=True)
class BagOutcome:
    """How one bag ended: `ok`, `skipped` (done before) or `failed`."""

    name: str
    status: str
    attempt: int = 0
    wall_s: float = 0.0
    host: str = ""
    exit_status: int | None = None
    error: str = ""
    stderr_tail: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ReplayKilled(Exception):
    """The replay was killed by a signal or timed out: worth another attempt."""

    def __init__(self, name: str, why: str, stderr_tail: str) -> None:
        super().__init__(f"{name}: {why}")
        self.name = name
        self.why = why
        self.stderr_tail = stderr_tail

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReplayKilled, (self.name, self.why, self.stderr_tail))


def _load_libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None


# Loaded here, not in the forked child: a child of a threaded worker should do as little as it
# can before exec.
_LIBC = _load_libc()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the worker that started it dies (Linux), so a
    killed worker leaves no replay running on behind the retry."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def _count_attempt(layout: Layout, name: str) -> int:
    path = layout.attempts(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(f"{time.time():.3f} {socket.gethostname()} {os.getpid()}\n")
    with path.open(encoding="utf-8") as f:
        return sum(1 for _ in f)


def _tail(text: str) -> str:
    return text[-STDERR_TAIL_CHARS:]


def replay_bag(spec: ReplaySpec, bag: Bag) -> BagOutcome:
    """Replays `bag` into `spec.out/bags/NAME` unless it is there already."""
    layout = Layout(spec.out)
    host = socket.gethostname()
    if layout.bag_done(bag.name):
        return BagOutcome(bag.name, "skipped", host=host)
    attempt = _count_attempt(layout, bag.name)
    layout.bags.mkdir(parents=True, exist_ok=True)
    tmp = layout.bags / f".tmp-{bag.name}-{uuid.uuid4().hex[:12]}"
    cmd = spec.command(bag, tmp)
    started = time.monotonic()
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=spec.timeout_s,
            preexec_fn=_die_with_parent if _LIBC is not None else None,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        shutil.rmtree(tmp, ignore_errors=True)
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise ReplayKilled(bag.name, f"timed out after {spec.timeout_s} s", _tail(err)) from None
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        return BagOutcome(bag.name, "failed", attempt, host=host,
                          error=f"cannot run {spec.binary}: {e.strerror}")
    wall_s = time.monotonic() - started
    if proc.returncode < 0:
        shutil.rmtree(tmp, ignore_errors=True)
        why = f"killed by {signal.Signals(-proc.returncode).name}"
        raise ReplayKilled(bag.name, why, _tail(proc.stderr))
    if proc.returncode != 0 or not (tmp / "report.json").is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        last = proc.stderr.strip().splitlines()[-1:] or ["(no stderr)"]
        return BagOutcome(
            bag.name, "failed", attempt, wall_s, host, proc.returncode,
            error=f"fusionrt replay exited {proc.returncode}: {last[0]}",
            stderr_tail=_tail(proc.stderr),
        )
    outcome = BagOutcome(bag.name, "ok", attempt, wall_s, host, 0)
    write_json_atomic(
        tmp / "fleet.json",
        {"bag": str(bag.path), "command": cmd, **outcome.to_json(),
         "stdout_tail": _tail(proc.stdout)},
    )
    try:
        os.rename(tmp, layout.bag(bag.name))
    except OSError:
        # Another attempt finished first (e.g. a retry of a task whose worker died after the
        # rename): its folder is complete, keep it.
        shutil.rmtree(tmp, ignore_errors=True)
        if not layout.bag_done(bag.name):
            raise
    layout.failed(bag.name).unlink(missing_ok=True)
    return outcome


def read_outcome(bag_dir: Path) -> dict[str, Any]:
    """fleet.json of a complete bag folder ({} if it has none)."""
    try:
        value: dict[str, Any] = json.loads((bag_dir / "fleet.json").read_text(encoding="utf-8"))
        return value
    except (OSError, ValueError):
        return {}

"""Shared test setup: the fusionrt binary, the real data, and bags made from it once per session.

Bags come from ../shared/data (FUSIONRT_DATA) with `fusionrt convert kitti`, into a temporary
folder (never into the repository): KITTI tracking sequence 0000 (39 real scans, labelled) in
slices of 40 frame numbers, as mcap and sqlite3 (8 lidar bags with ground truth), and KITTI raw
drive 0052 (lidar + camera) in slices of 10 frames with mcap / sqlite3 and raw / compressed
images (camera bags, replayed through the NanoDet model when ONNX Runtime is there).
Every Ray socket stays on loopback: the fleet's local cluster binds 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ.pop("RAY_ADDRESS", None)


def binary() -> Path:
    b = Path(os.environ.get("FUSIONRT_BINARY", REPO / "target" / "release" / "fusionrt"))
    if not b.is_file():
        pytest.fail(f"{b}: no fusionrt binary (cargo build --release --bin fusionrt)")
    return b


def data() -> Path:
    d = Path(os.environ.get("FUSIONRT_DATA", REPO.parent / "shared" / "data"))
    if not (d / "kitti_tracking" / "velodyne" / "0000").is_dir():
        pytest.fail(f"{d}: no real data (set FUSIONRT_DATA, see docs/DATA.md)")
    return d


def ort_env() -> dict[str, str]:
    """The environment with ORT_DYLIB_PATH set from scripts/ort-path when it is installed."""
    env = dict(os.environ)
    if "ORT_DYLIB_PATH" not in env:
        out = subprocess.run([str(REPO / "scripts" / "ort-path")], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            env["ORT_DYLIB_PATH"] = str(REPO / out.stdout.strip())
    return env


def fleet(*args: str, env: dict[str, str] | None = None, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    """Runs the fusionrt-fleet command (as a subprocess: its own Ray driver)."""
    return subprocess.run(
        [sys.executable, "-m", "fusionrt_fleet", *args],
        capture_output=True, text=True, env=env or ort_env(), timeout=timeout, check=False,
    )


def convert(out: Path, *args: str) -> Path:
    if not out.exists():
        subprocess.run([str(binary()), "convert", "kitti", *args, "--out", str(out)],
                       check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def bags(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> bag folder. `t0000_*`: lidar, labelled; `d0052_*`: lidar + camera."""
    root = tmp_path_factory.mktemp("bags")
    d = data()
    made: dict[str, Path] = {}
    for a in range(0, 160, 40):
        for storage in ("mcap", "sqlite3"):
            name = f"t0000_f{a:03d}_{storage}"
            made[name] = convert(root / name, "--kitti-tracking", str(d / "kitti_tracking"),
                                 "--seq", "0000", "--frames", f"{a}..{a + 40}",
                                 "--storage", storage)
    raw = d / "kitti_raw" / "2011_09_26_drive_0052_sync"
    for a in (0, 10):
        for storage in ("mcap", "sqlite3"):
            for images in ("raw", "png"):
                name = f"d0052_f{a:02d}_{storage}_{images}"
                extra = ["--compressed-images"] if images == "png" else []
                made[name] = convert(root / name, "--kitti-raw", str(raw), "--frames",
                                     f"{a}..{a + 10}", "--storage", storage, *extra)
    return made


@pytest.fixture(scope="session")
def manifest(bags: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ground truth of the KITTI tracking bags (labels and calib of sequence 0000)."""
    d = data() / "kitti_tracking"
    path = tmp_path_factory.mktemp("gt") / "ground_truth.json"
    entries = {
        n: {"labels": str(d / "labels" / "0000.txt"), "calib": str(d / "calib" / "0000.txt"),
            "frame_step": 4}
        for n in bags if n.startswith("t0000")
    }
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def bag_list(path: Path, bags: list[Path]) -> Path:
    path.write_text("".join(f"{b}\n" for b in bags), encoding="utf-8")
    return path

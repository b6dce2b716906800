"""Ground truth for bags converted from KITTI tracking, scored with `fusionrt kitti eval`.

The design, the simplest honest one: a manifest (JSON) maps a bag's name to its KITTI
tracking labels file, calibration file and frame step, e.g.

    {"seq0000_a": {"labels": "labels/0000.txt", "calib": "calib/0000.txt", "frame_step": 4}}

(paths relative to the manifest). `run --ground-truth F` replays those bags with `fusionrt
replay --kitti-results NAME --kitti-calib CALIB`, which writes the tracks as KITTI tracking
results (frame number = sweep stamp at 10 Hz, as `fusionrt convert kitti` stamps frames).
`report` then scores each bag alone and all of them pooled (one `kitti eval` over every bag as
its own sequence, so TP/FP/FN/ID switches add up; percentages are never averaged). The labels
are limited to the frames the bag replayed (a bag may be a slice of a sequence made with
`convert kitti --frames A..B`): labels of frames outside the bag would count as misses.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusionrt_fleet.errors import FleetError

CLASSES = ("Car", "Pedestrian", "Cyclist")


@dataclass(frozen=True)
class GroundTruth:
    """KITTI tracking ground truth of one bag."""

    labels: Path
    calib: Path
    frame_step: int

    @property
    def sequence(self) -> str:
        """The name the KITTI results file takes (the labels file's stem, e.g. 0000)."""
        return self.labels.stem

    def to_json(self) -> dict[str, Any]:
        return {"labels": str(self.labels), "calib": str(self.calib), "frame_step": self.frame_step}


def load_manifest(path: Path) -> dict[str, GroundTruth]:
    """Reads a ground-truth manifest; every file it names must exist."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise FleetError(f"--ground-truth {path}: cannot read: {e.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FleetError(f"--ground-truth {path}: not JSON: {e}") from None
    if not isinstance(raw, dict):
        raise FleetError(f"--ground-truth {path}: expected an object of bag name -> entry")
    out: dict[str, GroundTruth] = {}
    for name, entry in raw.items():
        where = f"--ground-truth {path}: bag {name!r}"
        if not isinstance(entry, dict) or set(entry) - {"labels", "calib", "frame_step"}:
            raise FleetError(f"{where}: expected keys labels, calib and optionally frame_step")
        files: dict[str, Path] = {}
        for key in ("labels", "calib"):
            value = entry.get(key)
            if not isinstance(value, str) or not value:
                raise FleetError(f"{where}: {key} must be a file path")
            p = Path(value)
            p = (p if p.is_absolute() else path.parent / p).resolve()
            if not p.is_file():
                raise FleetError(f"{where}: {key} {p} does not exist")
            files[key] = p
        step = entry.get("frame_step", 1)
        if not isinstance(step, int) or isinstance(step, bool) or step < 1:
            raise FleetError(f"{where}: frame_step must be an integer >= 1, got {step!r}")
        out[name] = GroundTruth(labels=files["labels"], calib=files["calib"], frame_step=step)
    return out


def from_json(value: dict[str, Any]) -> GroundTruth:
    return GroundTruth(
        labels=Path(value["labels"]), calib=Path(value["calib"]), frame_step=int(value["frame_step"])
    )


def replayed_frames(bag_dir: Path) -> set[int]:
    """KITTI frame numbers of the sweeps a bag replayed (from tracks.jsonl stamps, 10 Hz)."""
    frames: set[int] = set()
    path = bag_dir / "tracks.jsonl"
    try:
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    stamp_ns = int(json.loads(line)["stamp_ns"])
                    frames.add(stamp_ns // 100_000_000)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise FleetError(f"{path}: cannot read the replayed frames: {e}") from None
    return frames


@dataclass(frozen=True)
class ScoredBag:
    """A bag's KITTI results with the labels of its frames, ready for `kitti eval`."""

    name: str
    results: Path
    labels_text: str
    frames: set[int]
    frame_step: int


def scored_bag(name: str, bag_dir: Path, gt: GroundTruth) -> ScoredBag:
    results = bag_dir / "kitti" / f"{gt.sequence}.txt"
    if not results.is_file():
        raise FleetError(
            f"{bag_dir}: has ground truth in run.json but no KITTI results {results} "
            "(replayed without --kitti-results?)"
        )
    frames = replayed_frames(bag_dir)
    try:
        lines = gt.labels.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise FleetError(f"{gt.labels}: cannot read: {e.strerror}") from None
    kept = [ln for ln in lines if ln.split() and int(ln.split()[0]) in frames]
    return ScoredBag(name, results, "\n".join(kept) + "\n", frames, gt.frame_step)


def evaluate(binary: str, bags: list[ScoredBag], work: Path) -> dict[str, Any]:
    """Scores `bags` together (each its own sequence) with `fusionrt kitti eval --json`;
    returns its JSON (per class: sAMOTA, MOTA, HOTA, TP/FP/FN...)."""
    if not bags:
        raise ValueError("no bag to score")
    steps = {b.frame_step for b in bags}
    if len(steps) != 1:
        raise FleetError(f"bags with different frame_step cannot be pooled: {sorted(steps)}")
    shutil.rmtree(work, ignore_errors=True)
    (work / "labels").mkdir(parents=True)
    (work / "results").mkdir()
    seqmap = []
    for i, b in enumerate(bags):
        seq = f"b{i:04d}"
        (work / "labels" / f"{seq}.txt").write_text(b.labels_text, encoding="utf-8")
        shutil.copyfile(b.results, work / "results" / f"{seq}.txt")
        last = max(b.frames, default=0)
        seqmap.append(f"{seq} empty 000000 {last:06d}")
    (work / "seqmap").write_text("\n".join(seqmap) + "\n", encoding="utf-8")
    cmd = [
        binary, "kitti", "eval",
        "--results", str(work / "results"),
        "--labels", str(work / "labels"),
        "--seqmap", str(work / "seqmap"),
        "--frame-step", str(steps.pop()),
        "--json", str(work / "eval.json"),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as e:
        raise FleetError(f"cannot run {binary} for kitti eval: {e.strerror}; give --binary") from None
    if proc.returncode != 0:
        raise FleetError(
            f"{' '.join(cmd)} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}"
        )
    result: dict[str, Any] = json.loads((work / "eval.json").read_text(encoding="utf-8"))
    return result


def headline(result: dict[str, Any]) -> dict[str, float]:
    """The figures report and compare use, per class with ground truth objects:
    `Car.sAMOTA`, `Car.MOTA`, `Car.HOTA`, `Car.IDS`, `Car.TP`, `Car.FP`, `Car.FN` (fractions,
    not percent). A class without ground truth in the bag is left out (its scores mean nothing)."""
    out: dict[str, float] = {}
    for cls in CLASSES:
        r = result.get(cls)
        if not isinstance(r, dict):
            continue
        best = r["best"]
        if best["tp"] + best["fn_"] == 0:
            continue
        figures = {
            "sAMOTA": r["samota"],
            "MOTA": best["mota"],
            "HOTA": r["hota"]["hota"],
            "IDS": best["id_switches"],
            "TP": best["tp"],
            "FP": best["fp"],
            "FN": best["fn_"],
        }
        for k, v in figures.items():
            # serde_json writes NaN (e.g. MOTP without matches) as null: no figure.
            if isinstance(v, (int, float)) and math.isfinite(v):
                out[f"{cls}.{k}"] = float(v)
    return out

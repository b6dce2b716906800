"""`fusionrt-fleet report DIR`: one report over every bag of a fleet output folder.

Per bag: sweeps, tracks (distinct track ids, per class, from tracks.jsonl), end-to-end latency
(the bag's own percentiles), misses and drops by reason, KITTI tracking metrics where the bag
has ground truth, and how it ran (attempts, host, wall time). Over all bags: latency per stage
and end to end from the merged HDR histograms (never averaged percentiles), misses and drops
summed by reason, tracks summed, tracking metrics pooled over the ground-truth bags (one
`kitti eval` with every bag as a sequence), and the bags that failed with their error.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from fusionrt_fleet import groundtruth, hdr
from fusionrt_fleet.errors import FleetError
from fusionrt_fleet.groundtruth import GroundTruth
from fusionrt_fleet.layout import Layout
from fusionrt_fleet.replay import read_outcome


def _load_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FleetError(f"{path}: missing (not a complete fusionrt replay output)") from None
    except (OSError, ValueError) as e:
        raise FleetError(f"{path}: unreadable: {e}") from None
    if not isinstance(value, dict):
        raise FleetError(f"{path}: expected a JSON object")
    return value


def track_counts(bag_dir: Path) -> dict[str, Any]:
    """Distinct track ids (all and per class) and track outputs summed over sweeps."""
    ids: dict[str, str] = {}
    published = 0
    sweeps = 0
    path = bag_dir / "tracks.jsonl"
    try:
        with path.open(encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                sweeps += 1
                for t in json.loads(line)["tracks"]:
                    ids.setdefault(t["id"], t["class"])
                    published += 1
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise FleetError(f"{path}: unreadable: {e}") from None
    return {
        "distinct": len(ids),
        "by_class": dict(sorted(Counter(ids.values()).items())),
        "published": published,
        "sweeps": sweeps,
    }


def _bag_entry(name: str, bag_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The bag's line in the report, and its decoded histograms."""
    path = bag_dir / "report.json"
    rep = _load_json(path)
    try:
        timings = rep["timings"]
        e2e = timings["end_to_end"]
        stages = timings["stages"]
    except (KeyError, TypeError):
        raise FleetError(f"{path}: no timings.end_to_end / timings.stages") from None
    hists: dict[str, Any] = {"end_to_end": hdr.decode(e2e.get("hdr_v2", ""), f"{path}: timings.end_to_end")}
    for s in stages:
        for kind in ("processing", "pipeline_latency"):
            hists[f"{s['stage']}.{kind}"] = hdr.decode(
                s[kind].get("hdr_v2", ""), f"{path}: timings.stages[{s['stage']}].{kind}"
            )
    how = read_outcome(bag_dir)
    misses = {k: int(v) for k, v in timings.get("misses", {}).items()}
    drops = {k: int(v) for k, v in timings.get("drops", {}).items()}
    entry = {
        "name": name,
        "bag": rep.get("settings", {}).get("bag"),
        "interrupted": bool(rep.get("interrupted", False)),
        "sweeps_in": int(timings.get("sweeps_in", 0)),
        "sweeps_published": int(timings.get("sweeps_published", 0)),
        "tracks": track_counts(bag_dir),
        "end_to_end": {k: v for k, v in e2e.items() if k not in ("hdr_v2", "stage")},
        "end_to_end_misses": int(timings.get("end_to_end_misses", 0)),
        "misses": misses,
        "drops": drops,
        "misses_total": sum(misses.values()),
        "drops_total": sum(drops.values()),
        "replay_wall_s": float(timings.get("wall_s", 0.0)),
        "attempts": int(how.get("attempt", 0)),
        "host": how.get("host", ""),
        "task_wall_s": float(how.get("wall_s", 0.0)),
        "finished_unix_s": (bag_dir / "report.json").stat().st_mtime,
    }
    return entry, hists


def _ground_truth(layout: Layout, override: dict[str, GroundTruth] | None) -> dict[str, GroundTruth]:
    if override is not None:
        return override
    if not layout.run_json.is_file():
        return {}
    settings = _load_json(layout.run_json).get("settings", {})
    return {k: groundtruth.from_json(v) for k, v in settings.get("ground_truth", {}).items()}


def _binary(layout: Layout, override: str | None) -> str | None:
    if override:
        return override
    if layout.run_json.is_file():
        b = _load_json(layout.run_json).get("settings", {}).get("binary")
        return str(b) if b else None
    return None


def build_report(
    root: Path, *, binary: str | None = None, ground_truth: dict[str, GroundTruth] | None = None
) -> dict[str, Any]:
    """The report over the fleet output folder `root`."""
    layout = Layout(root)
    if not root.is_dir():
        raise FleetError(f"{root}: no such folder")
    names = layout.done_bags()
    failed_names = [n for n in layout.failed_bags() if n not in names]
    if not names and not failed_names:
        raise FleetError(f"{root}: no bags (expected {layout.bags}/NAME/report.json from `run`)")
    gt = _ground_truth(layout, ground_truth)
    bags: list[dict[str, Any]] = []
    merged: dict[str, list[Any]] = {}
    misses: Counter[str] = Counter()
    drops: Counter[str] = Counter()
    scored: list[groundtruth.ScoredBag] = []
    for name in names:
        entry, hists = _bag_entry(name, layout.bag(name))
        for key, h in hists.items():
            merged.setdefault(key, []).append(h)
        misses.update(entry["misses"])
        drops.update(entry["drops"])
        if name in gt:
            scored.append(groundtruth.scored_bag(name, layout.bag(name), gt[name]))
        bags.append(entry)
    tracking: dict[str, Any] = {}
    if scored:
        exe = _binary(layout, binary)
        if exe is None:
            raise FleetError(f"{root}: bags have ground truth but no fusionrt binary is known; give --binary")
        with tempfile.TemporaryDirectory(prefix="fleet-eval-") as tmp:
            for i, s in enumerate(scored):
                one = groundtruth.evaluate(exe, [s], Path(tmp) / f"bag{i}")
                next(b for b in bags if b["name"] == s.name)["tracking"] = groundtruth.headline(one)
            pooled = groundtruth.evaluate(exe, scored, Path(tmp) / "pooled")
            tracking = {"bags": [s.name for s in scored], "pooled": groundtruth.headline(pooled)}
    stages: dict[str, dict[str, Any]] = {}
    for key, hs in sorted(merged.items()):
        if key == "end_to_end":
            continue
        stage, kind = key.rsplit(".", 1)
        stages.setdefault(stage, {})[kind] = hdr.summary(hdr.merge(hs))
    failed = []
    for n in failed_names:
        try:
            failed.append(json.loads(layout.failed(n).read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            failed.append({"name": n, "error": f"unreadable {layout.failed(n)}: {e}"})
    return {
        "folder": str(root.resolve()),
        "bags_ok": len(bags),
        "bags_failed": len(failed),
        "totals": {
            "sweeps_in": sum(b["sweeps_in"] for b in bags),
            "sweeps_published": sum(b["sweeps_published"] for b in bags),
            "tracks_distinct": sum(b["tracks"]["distinct"] for b in bags),
            "tracks_published": sum(b["tracks"]["published"] for b in bags),
            "misses_by_reason": dict(sorted(misses.items())),
            "drops_by_reason": dict(sorted(drops.items())),
            "misses": sum(misses.values()),
            "drops": sum(drops.values()),
        },
        "latency": {"end_to_end": hdr.summary(hdr.merge(merged.get("end_to_end", []))),
                    "stages": stages},
        "tracking": tracking,
        "bags": bags,
        "failed": failed,
    }

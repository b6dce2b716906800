"""The fleet on a local Ray cluster (2 CPUs, loopback), on bags made from the real data.

- `fleet_2cpu`: 16 bags (8 labelled lidar bags from KITTI tracking 0000, 8 lidar + camera bags
  from drive 0052) on 2 CPUs; its report equals the report over the same bags replayed one by
  one with `fusionrt replay` and no Ray (every result, the latency sample counts, tracks.jsonl
  byte for byte), and a re-run skips every bag.
- `fleet_1cpu`: the same 16 bags on 1 CPU: the scaling figure (wall time 1 CPU / 2 CPUs), and
  the A/B of two runs of one config, which must pass.
- A config with a lidar cluster tolerance far too large, on the labelled bags: `compare` flags
  it as a regression, worst bags first.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, bag_list, binary, fleet, ort_env

# Lidar-only objects take the lidar classifier's class, so the lidar-only KITTI tracking bags
# have Car / Pedestrian / Cyclist tracks to score (docs/PERCEPTION.md, section 3).
# The camera keeps its 4 tiles (the default): the camera bags take ~3.5 s each, long enough
# for the scaling figure not to be Ray's start-up per task (with 1 tile: ~0.6 s per bag, and
# Ray's own processes on the same 2 cores made 1 vs 2 CPUs anywhere from 1.0x to 1.4x).
GOOD = "fusion:\n  lidar_only_classes: true\n"
# Far too large a cluster tolerance: neighbouring objects merge into one cluster. (Far too small
# is no regression on these bags: clusters grow over the 0.4 m grid's cells, and 0.05 m even
# scored better on sequence 0000; docs/FLEET.md.)
BAD = GOOD + "lidar:\n  cluster_tolerance_m: 2.5\n"
CONFIG = Path(tempfile.mkdtemp(prefix="fleet-config-")) / "good.yaml"
CONFIG.write_text(GOOD)


def _run(out: Path, listing: Path, cpus: int, *extra: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Runs the fleet; returns the replay phase's wall time (first task submitted to last
    result, from run.json) and the process."""
    proc = fleet("run", "--bags", str(listing), "--config", str(CONFIG), "--binary", str(binary()),
                 "--out", str(out), "--num-cpus", str(cpus), *extra)
    wall = 0.0
    if (out / "run.json").is_file():
        wall = float(json.loads((out / "run.json").read_text())["replay_wall_s"])
    return wall, proc


@pytest.fixture(scope="module")
def listing(bags: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bag_list(tmp_path_factory.mktemp("list") / "bags.txt", list(bags.values()))


@pytest.fixture(scope="module")
def fleet_2cpu(listing: Path, manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    out = tmp_path_factory.mktemp("fleet2") / "out"
    wall, proc = _run(out, listing, 2, "--ground-truth", str(manifest))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "16 replayed, 0 already done, 0 failed" in proc.stdout, proc.stdout
    return out, wall


@pytest.fixture(scope="module")
def fleet_1cpu(listing: Path, manifest: Path, fleet_2cpu: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    out = tmp_path_factory.mktemp("fleet1") / "out"
    wall, proc = _run(out, listing, 1, "--ground-truth", str(manifest))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, wall


def _report(out: Path, *extra: str) -> dict[str, Any]:
    proc = fleet("report", str(out), *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    return report


def _deterministic(report: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on the run: everything but timings and where it ran."""
    bags = [
        {k: b[k] for k in ("name", "sweeps_in", "sweeps_published", "tracks", "drops", "interrupted")}
        | {"tracking": b.get("tracking"), "e2e_count": b["end_to_end"]["count"]}
        for b in report["bags"]
    ]
    totals = {k: v for k, v in report["totals"].items() if not k.startswith("misses")}
    counts = {s: {k: v["count"] for k, v in kinds.items()} for s, kinds in report["latency"]["stages"].items()}
    return {"bags": bags, "totals": totals, "tracking": report["tracking"], "counts": counts,
            "e2e_count": report["latency"]["end_to_end"]["count"]}


def test_report_equals_replaying_one_by_one_without_ray(
    fleet_2cpu: tuple[Path, float], bags: dict[str, Path], manifest: Path, tmp_path: Path
) -> None:
    out, _ = fleet_2cpu
    seq = tmp_path / "seq"
    gt = json.loads(manifest.read_text())
    env = ort_env()
    for name, bag in bags.items():
        cmd = [str(binary()), "replay", str(bag), "--max", "--config", str(CONFIG),
               "--camera", "auto", "--out", str(seq / "bags" / name)]
        if name in gt:
            cmd += ["--kitti-results", "0000", "--kitti-calib", gt[name]["calib"]]
        subprocess.run(cmd, check=True, capture_output=True, env=env)
    ray_report = _report(out)
    seq_report = _report(seq, "--ground-truth", str(manifest), "--binary", str(binary()))
    assert ray_report["bags_ok"] == 16 and ray_report["bags_failed"] == 0
    assert _deterministic(ray_report) == _deterministic(seq_report)
    # Real content: tracks on every bag, tracking scored on the 8 labelled bags.
    assert all(b["tracks"]["distinct"] > 0 for b in ray_report["bags"])
    assert len(ray_report["tracking"]["bags"]) == 8
    assert ray_report["tracking"]["pooled"]["Car.MOTA"] > 0.0
    assert any(b["name"].startswith("d0052") and b["tracks"]["by_class"] for b in ray_report["bags"])
    for name in bags:
        assert (out / "bags" / name / "tracks.jsonl").read_bytes() == (seq / "bags" / name / "tracks.jsonl").read_bytes(), name
    # The merged end-to-end histogram holds every sweep of every bag.
    assert ray_report["latency"]["end_to_end"]["count"] == ray_report["totals"]["sweeps_published"]
    assert (out / "report.html").read_text().count("<svg") == 2


def test_bag_latency_decodes_to_the_binarys_own_percentiles(fleet_2cpu: tuple[Path, float]) -> None:
    from fusionrt_fleet import hdr

    out, _ = fleet_2cpu
    rep = json.loads((out / "bags" / "t0000_f000_mcap" / "report.json").read_text())
    for s in rep["timings"]["stages"] + [{"stage": "e2e", "processing": rep["timings"]["end_to_end"]}]:
        mine = hdr.summary(hdr.decode(s["processing"]["hdr_v2"], "test"))
        theirs = s["processing"]
        assert mine["count"] == theirs["count"] > 0
        for k in ("p50_ms", "p99_ms", "max_ms"):
            assert mine[k] == pytest.approx(theirs[k], rel=2e-3), (s["stage"], k)


def test_rerun_skips_every_bag(fleet_2cpu: tuple[Path, float], listing: Path, manifest: Path) -> None:
    out, _ = fleet_2cpu
    stamps = {p.name: p.stat().st_mtime for p in (out / "bags").iterdir()}
    _, proc = _run(out, listing, 2, "--ground-truth", str(manifest))
    assert proc.returncode == 0, proc.stderr
    assert "0 replayed, 16 already done, 0 failed" in proc.stdout
    assert {p.name: p.stat().st_mtime for p in (out / "bags").iterdir()} == stamps


def test_rerun_with_another_config_is_refused(fleet_2cpu: tuple[Path, float], listing: Path, tmp_path: Path) -> None:
    out, _ = fleet_2cpu
    other = tmp_path / "other.yaml"
    other.write_text(GOOD + "lidar:\n  cluster_tolerance_m: 0.6\n")
    proc = fleet("run", "--bags", str(listing), "--config", str(other), "--binary", str(binary()),
                 "--out", str(out), "--num-cpus", "1")
    assert proc.returncode == 2 and "another config_sha256" in proc.stderr, proc.stderr


def _max_concurrent(out: Path) -> int:
    """Most replays running at once: each bag's last attempt from its start (attempts log) to
    its report.json."""
    spans = []
    for bag in (out / "bags").iterdir():
        start = float((out / "attempts" / f"{bag.name}.log").read_text().splitlines()[-1].split()[0])
        spans.append((start, (bag / "report.json").stat().st_mtime))
    return max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)


def _machine_speedup(bags: dict[str, Path], tmp: Path) -> float:
    """What this machine gives two processes over one right now, without Ray: two camera
    bags replayed one after the other, then at once. (Shared machines with autogroup
    scheduling give a session the same CPU share whatever its process count.)"""
    pair = [bags["d0052_f00_mcap_raw"], bags["d0052_f10_mcap_raw"]]
    cmds = [[str(binary()), "replay", str(b), "--max", "--config", str(CONFIG), "--out", str(tmp / f"m{i}")]
            for i, b in enumerate(pair)]
    env = ort_env()
    t0 = time.monotonic()
    for c in cmds:
        subprocess.run(c, check=True, capture_output=True, env=env)
    t1 = time.monotonic()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env) for c in cmds]
    assert all(p.wait() == 0 for p in procs)
    return (t1 - t0) / (time.monotonic() - t1)


def test_two_cpus_replay_in_parallel_and_same_config_passes_compare(
    fleet_2cpu: tuple[Path, float], fleet_1cpu: tuple[Path, float], bags: dict[str, Path], tmp_path: Path
) -> None:
    (out2, wall2), (out1, wall1) = fleet_2cpu, fleet_1cpu
    # Ray packs exactly as many 1-CPU replays as the cluster has CPUs.
    assert _max_concurrent(out1) == 1
    assert _max_concurrent(out2) == 2
    speedup = wall1 / wall2
    machine = _machine_speedup(bags, tmp_path)
    replay_s = sum(b["replay_wall_s"] for b in _report(out1)["bags"])
    figures = {"bags": 16, "wall_1cpu_s": round(wall1, 2), "wall_2cpu_s": round(wall2, 2),
               "speedup": round(speedup, 2), "machine_speedup_2_processes": round(machine, 2),
               "replay_s_sum_1cpu": round(replay_s, 2)}
    print("SCALING", json.dumps(figures))
    Path(REPO / "out").mkdir(exist_ok=True)
    (REPO / "out" / "fleet-scaling.json").write_text(json.dumps(figures) + "\n")
    # The speed-up is a figure, printed and written, never asserted: timings on shared machines
    # are noise (on an idle 2-core machine it and `machine` are close to 2; on one loaded by
    # other sessions both fall towards 1). What is asserted above is that Ray runs 2 at once.
    # One config twice: every result identical. Timings are reported but not gated: 1 and 2
    # replays at once on 2 shared cores do not run at the same speed.
    proc = fleet("compare", str(out1), str(out2), "--gate", "results", "--json", str(tmp_path / "ab.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no regression" in proc.stdout and "(not gated)" in proc.stdout
    rows = json.loads((tmp_path / "ab.json").read_text())["metrics"]
    assert all(r["delta"] == 0 for r in rows if r["kind"] == "result")
    assert any(r["metric"].startswith("tracking.") for r in rows)


def test_compare_flags_a_cluster_tolerance_far_too_large(
    fleet_2cpu: tuple[Path, float], bags: dict[str, Path], manifest: Path, tmp_path: Path
) -> None:
    good, _ = fleet_2cpu
    bad_cfg = tmp_path / "bad.yaml"
    bad_cfg.write_text(BAD)
    labelled = bag_list(tmp_path / "labelled.txt", [p for n, p in bags.items() if n.startswith("t0000")])
    bad = tmp_path / "bad"
    proc = fleet("run", "--bags", str(labelled), "--config", str(bad_cfg), "--binary", str(binary()),
                 "--out", str(bad), "--num-cpus", "2", "--ground-truth", str(manifest))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = fleet("compare", str(good), str(bad), "--json", str(tmp_path / "ab.json"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads((tmp_path / "ab.json").read_text())
    assert result["bags_compared"] == 8
    assert any(r.startswith("tracking.Car.") for r in result["regressions"]), result["regressions"]
    assert result["worse_bags"] and proc.stdout.index("bags that got worse") < proc.stdout.index("metric")

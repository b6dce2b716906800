"""Fast tests of the parts that need neither Ray nor the binary: bag lists, histogram merging,
the bootstrap, the A/B rule, the HTML page, and the command's bad-input errors."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

from fusionrt_fleet import hdr, html
from fusionrt_fleet.bags import resolve_bags
from fusionrt_fleet.cli import main
from fusionrt_fleet.compare import compare
from fusionrt_fleet.errors import FleetError
from fusionrt_fleet.stats import bootstrap_mean_ci


def _bag(dir: Path) -> Path:
    dir.mkdir(parents=True)
    (dir / "metadata.yaml").write_text("rosbag2_bagfile_information: {}\n")
    return dir


def test_bags_from_glob_and_list_file(tmp_path: Path) -> None:
    a, b = _bag(tmp_path / "x" / "a"), _bag(tmp_path / "x" / "b")
    assert [x.name for x in resolve_bags(str(tmp_path / "x" / "*"))] == ["a", "b"]
    listing = tmp_path / "list.txt"
    listing.write_text("# two bags\nx/b\n\n" + str(a) + "  # absolute\n")
    got = resolve_bags(str(listing))
    assert [(x.name, x.path) for x in got] == [("b", b.resolve()), ("a", a.resolve())]


@pytest.mark.parametrize("case", ["nothing", "not_a_bag", "duplicate", "missing_in_list", "empty_list"])
def test_bad_bag_lists_name_what_and_where(tmp_path: Path, case: str) -> None:
    spec = str(tmp_path / "nothing*")
    if case == "not_a_bag":
        (tmp_path / "plain").mkdir()
        spec = str(tmp_path / "plain")
    elif case == "duplicate":
        _bag(tmp_path / "1" / "same")
        _bag(tmp_path / "2" / "same")
        spec = str(tmp_path / "*" / "same")
    elif case == "missing_in_list":
        (tmp_path / "l.txt").write_text("gone\n")
        spec = str(tmp_path / "l.txt")
    elif case == "empty_list":
        (tmp_path / "l.txt").write_text("# nothing\n")
        spec = str(tmp_path / "l.txt")
    with pytest.raises(FleetError) as e:
        resolve_bags(spec)
    assert str(tmp_path) in str(e.value) or "l.txt" in str(e.value)


def _hist(samples: list[int]) -> Any:
    h = HdrHistogram(1, 60_000_000_000, 3)
    for s in samples:
        h.record_value(s)
    return h


def test_merged_percentiles_are_those_of_all_samples_not_averages() -> None:
    rng = random.Random(7)
    fast = [rng.randint(1_000_000, 2_000_000) for _ in range(900)]  # 1-2 ms, 900 sweeps
    slow = [rng.randint(50_000_000, 60_000_000) for _ in range(100)]  # 50-60 ms, 100 sweeps
    encoded = [_hist(fast).encode().decode(), _hist(slow).encode().decode()]
    merged = hdr.summary(hdr.merge([hdr.decode(e, "test") for e in encoded]))
    pooled = hdr.summary(_hist(fast + slow))
    assert merged == pooled
    assert merged["count"] == 1000
    # p50 lies among the fast sweeps, p99 among the slow ones; the average of the two bags'
    # medians (~28 ms) would describe no sweep at all.
    assert 1.0 <= merged["p50_ms"] <= 2.01
    assert 50.0 <= merged["p99_ms"] <= 60.1
    avg_p50 = (hdr.summary(_hist(fast))["p50_ms"] + hdr.summary(_hist(slow))["p50_ms"]) / 2
    assert abs(avg_p50 - merged["p50_ms"]) > 20


def test_decode_refuses_missing_and_garbage_histograms() -> None:
    for bad in ("", "not base64 at all!"):
        with pytest.raises(FleetError, match="where"):
            hdr.decode(bad, "where")


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    values = [0.1, 0.3, 0.2, 0.5, 0.4, 0.2, 0.3, 0.1]
    ci = bootstrap_mean_ci(values, seed=3)
    assert ci == bootstrap_mean_ci(values, seed=3)
    assert ci[0] < sum(values) / len(values) < ci[1]
    assert bootstrap_mean_ci([0.0] * 8, seed=1) == (0.0, 0.0)


def _report(folder: str, mota: list[float], p99: list[float], names: list[str] | None = None) -> dict[str, Any]:
    names = names or [f"bag{i}" for i in range(len(mota))]
    return {
        "folder": folder,
        "bags": [
            {"name": n, "end_to_end": {"p50_ms": p / 2, "p99_ms": p}, "misses_total": 0,
             "drops_total": 0, "sweeps_published": 10, "tracking": {"Car.MOTA": m}}
            for n, m, p in zip(names, mota, p99)
        ],
    }


def test_compare_flags_a_worse_result_and_lists_the_worst_bag_first() -> None:
    a = _report("A", [0.8, 0.7, 0.9, 0.6], [10, 11, 12, 10])
    b = _report("B", [0.5, 0.69, 0.3, 0.55], [10, 11, 12, 10])
    r = compare(a, b, threshold=0.05, timing_threshold=0.5)
    assert r["regression"] and "tracking.Car.MOTA" in r["regressions"]
    assert [w["name"] for w in r["worse_bags"]][:2] == ["bag2", "bag0"]
    assert "bag1" in r["better_or_same_bags"]


def test_compare_passes_the_same_results_and_timing_noise_within_threshold() -> None:
    a = _report("A", [0.8, 0.7, 0.9, 0.6], [10, 11, 12, 10])
    b = _report("B", [0.8, 0.7, 0.9, 0.6], [12, 12, 13, 12])  # +13 % latency: noise
    r = compare(a, b, threshold=0.05, timing_threshold=0.5)
    assert not r["regression"], r["regressions"]
    slower = _report("B", [0.8, 0.7, 0.9, 0.6], [30, 33, 36, 30])  # 3x: a regression
    assert compare(a, slower, threshold=0.05, timing_threshold=0.5)["regressions"] == [
        "end_to_end.p50_ms", "end_to_end.p99_ms"]


def test_compare_can_report_timings_without_gating_them() -> None:
    a = _report("A", [0.8, 0.7, 0.9, 0.6], [10, 11, 12, 10])
    slower = _report("B", [0.8, 0.7, 0.9, 0.6], [30, 33, 36, 30])
    r = compare(a, slower, threshold=0.05, timing_threshold=0.5, gate_timings=False)
    assert not r["regression"] and not r["worse_bags"]
    assert [x["gated"] for x in r["metrics"] if x["kind"] == "timing"] == [False] * 3
    worse = _report("B", [0.5, 0.6, 0.7, 0.4], [30, 33, 36, 30])
    r = compare(a, worse, threshold=0.05, timing_threshold=0.5, gate_timings=False)
    assert r["regressions"] == ["tracking.Car.MOTA"]


def test_compare_counts_a_lost_bag_as_a_regression() -> None:
    a = _report("A", [0.8, 0.7], [10, 10])
    b = _report("B", [0.8], [10])
    r = compare(a, b, threshold=0.05, timing_threshold=0.5)
    assert r["regression"] and r["bags_lost_in_b"] == ["bag1"]


@pytest.mark.parametrize("bad", [float("nan"), 0.0, -0.1, float("inf")])
def test_compare_refuses_bad_thresholds(bad: float) -> None:
    a = _report("A", [0.8], [10])
    with pytest.raises(FleetError, match="--threshold"):
        compare(a, a, threshold=bad, timing_threshold=0.5)


def test_html_is_self_contained() -> None:
    bag = {"name": "b<1>", "sweeps_published": 3, "sweeps_in": 3, "tracks": {"distinct": 2},
           "end_to_end": {"p50_ms": 1.0, "p99_ms": 2.0}, "misses_total": 1, "drops_total": 0,
           "attempts": 1, "host": "h", "task_wall_s": 0.5, "finished_unix_s": 10.0}
    summary = {"count": 3, "p50_ms": 1.0, "p90_ms": 1.5, "p99_ms": 2.0, "p999_ms": 2.0, "max_ms": 2.0}
    page = html.render({
        "folder": "F", "bags_ok": 1, "bags_failed": 1, "bags": [bag],
        "totals": {"sweeps_published": 3, "sweeps_in": 3, "tracks_distinct": 2,
                   "misses_by_reason": {"lidar_over_budget": 1}, "drops_by_reason": {}},
        "latency": {"end_to_end": summary, "stages": {"lidar": {"processing": summary}}},
        "tracking": {}, "failed": [{"name": "x", "error": "exit 2", "stderr_tail": "boom"}],
    })
    assert "<svg" in page and "b&lt;1&gt;" in page and "boom" in page
    assert "<script" not in page and "src=" not in page and "href=" not in page


def _code(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bagdir = _bag(tmp_path / "bags" / "a")
    exe = tmp_path / "fusionrt"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    cases = [
        (["run", "--bags", str(bagdir), "--binary", str(tmp_path / "nope"), "--out", str(tmp_path / "o")], "nope"),
        (["run", "--bags", str(tmp_path / "zz*"), "--binary", str(exe), "--out", str(tmp_path / "o")], "matches nothing"),
        (["run", "--bags", str(bagdir), "--binary", str(exe), "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "o")], "c.yaml"),
        (["run", "--bags", str(bagdir), "--binary", str(exe), "--num-cpus", "0", "--out", str(tmp_path / "o")], "--num-cpus"),
        (["run", "--bags", str(bagdir), "--binary", str(exe), "--cpus-per-bag", "nan", "--out", str(tmp_path / "o")], "--cpus-per-bag"),
        (["run", "--bags", str(bagdir), "--binary", str(exe), "--cpus-per-bag", "-1", "--out", str(tmp_path / "o")], "--cpus-per-bag"),
        (["run", "--bags", str(bagdir), "--binary", str(exe), "--memory-mb-per-bag", "0", "--out", str(tmp_path / "o")], "--memory-mb-per-bag"),
        (["report", str(tmp_path / "absent")], "absent"),
        (["report", str(tmp_path / "bags")], "no bags"),
        (["compare", str(tmp_path), str(tmp_path), "--threshold", "nan"], "--threshold"),
        (["compare", str(tmp_path), str(tmp_path), "--timing-threshold", "0"], "--timing-threshold"),
    ]
    for argv, what in cases:
        code, err = _code(capsys, *argv)
        assert code == 2, (argv, err)
        assert what in err and "Traceback" not in err and err.count("\n") == 1, (argv, err)


def test_report_names_a_bag_folder_without_report_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bags" / "b1").mkdir(parents=True)
    (tmp_path / "bags" / "b1" / "tracks.jsonl").write_text("")
    code, err = _code(capsys, "report", str(tmp_path))
    assert code == 2
    assert str(tmp_path / "bags" / "b1" / "report.json") in err


def test_ground_truth_manifest_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = tmp_path / "gt.json"
    for text, what in [("[1]", "expected an object"), ('{"a": {"labels": "x.txt", "calib": "y.txt"}}', "x.txt"),
                       ("{not json", "not JSON")]:
        m.write_text(text)
        code, err = _code(capsys, "report", str(tmp_path), "--ground-truth", str(m))
        assert code == 2 and what in err, err
    assert math.isfinite(1.0)

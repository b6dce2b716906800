"""The `fusionrt-fleet` command: `run`, `report`, `compare`.

Bad input (a missing binary or config, a glob that matches nothing, a folder that is not a
fleet output, a NaN, zero or negative count or threshold) prints one line naming what and where
and exits 2; `run` exits 1 when a bag failed after its retries, `compare` when it found a
regression; 0 otherwise.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from fusionrt_fleet import compare as compare_mod
from fusionrt_fleet import html, report
from fusionrt_fleet.bags import resolve_bags
from fusionrt_fleet.errors import FleetError
from fusionrt_fleet.groundtruth import GroundTruth, load_manifest
from fusionrt_fleet.layout import write_json_atomic

EXAMPLES = """examples:
  fusionrt-fleet run --bags 'bags/*' --config launch/fusionrt.yaml --out out/fleet
  fusionrt-fleet run --bags bags.txt --config cfg.yaml --out /shared/fleet --address auto
  fusionrt-fleet report out/fleet
  fusionrt-fleet compare out/fleet-main out/fleet-branch --threshold 0.05
"""


def _positive(flag: str, value: float, *, allow_zero: bool = False) -> float:
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        need = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise FleetError(f"{flag} must be {need}, got {value}")
    return value


def _binary(given: str | None) -> str:
    name = given or os.environ.get("FUSIONRT_BINARY") or shutil.which("fusionrt")
    if not name:
        raise FleetError("no fusionrt binary: give --binary PATH (e.g. target/release/fusionrt)")
    path = Path(name)
    if not path.is_file():
        raise FleetError(f"--binary {name}: no such file")
    if not os.access(path, os.X_OK):
        raise FleetError(f"--binary {name}: not executable")
    return str(path.resolve())


def _file(flag: str, name: str) -> Path:
    path = Path(name)
    if not path.is_file():
        raise FleetError(f"{flag} {name}: no such file")
    return path.resolve()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fusionrt-fleet",
        description="Replay rosbag2 bags through fusionrt at fleet scale on Ray.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="replay every bag, one Ray task each")
    r.add_argument("--bags", required=True, help="a glob of bags, or a file listing one bag per line")
    r.add_argument("--config", help="the pipeline config (YAML) for every bag")
    r.add_argument("--binary", help="the fusionrt binary (default: $FUSIONRT_BINARY, then PATH)")
    r.add_argument("--out", required=True, help="output folder; bags already done there are skipped")
    r.add_argument("--address", help="a Ray cluster: auto or ray://HOST:10001 (default: "
                   "$RAY_ADDRESS, else a local cluster on 127.0.0.1)")
    r.add_argument("--num-cpus", type=int, help="CPUs of the local cluster (default: all)")
    r.add_argument("--cpus-per-bag", type=float, default=1.0, help="CPUs one replay takes (1)")
    r.add_argument("--memory-mb-per-bag", type=float, default=1024.0,
                   help="memory one replay takes, MB (1024)")
    r.add_argument("--gpus-per-bag", type=float, default=0.0,
                   help="GPUs one replay takes (0; e.g. 0.25 with a CUDA camera model)")
    r.add_argument("--camera", choices=["auto", "model", "none"], default="auto",
                   help="fusionrt replay --camera (auto)")
    r.add_argument("--ground-truth", help="JSON manifest: bag name -> KITTI labels, calib, frame_step")
    r.add_argument("--max-retries", type=int, default=2,
                   help="retries of a bag whose worker died or whose replay was killed (2)")
    r.add_argument("--timeout-s", type=float, help="kill (and retry) a replay running longer")
    rep = sub.add_parser("report", help="one report over every bag of a run")
    rep.add_argument("dir", help="the --out folder of `run`")
    rep.add_argument("--binary", help="fusionrt for `kitti eval` (default: the run's)")
    rep.add_argument("--ground-truth", help="a manifest instead of the run's")
    rep.add_argument("--json", help="report JSON (default DIR/report.json)")
    rep.add_argument("--html", help="report page (default DIR/report.html)")
    c = sub.add_parser("compare", help="A/B regression gate over the bags of two runs")
    c.add_argument("dir_a")
    c.add_argument("dir_b")
    c.add_argument("--threshold", type=float, default=0.05,
                   help="relative worsening of a result metric that fails the gate (0.05)")
    c.add_argument("--timing-threshold", type=float, default=0.5,
                   help="relative worsening of a timing metric that fails the gate (0.5)")
    c.add_argument("--gate", choices=["all", "results"], default="all",
                   help="what fails the gate: all metrics, or results only (timings reported, "
                   "not gated: for runs on different or shared machines)")
    c.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    c.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (2000)")
    c.add_argument("--binary", help="fusionrt for `kitti eval` (default: each run's)")
    c.add_argument("--json", help="also write the comparison as JSON here")
    return p


def _manifest(name: str | None) -> dict[str, GroundTruth] | None:
    return load_manifest(_file("--ground-truth", name)) if name else None


def _run(args: argparse.Namespace) -> int:
    from fusionrt_fleet.replay import ReplaySpec
    from fusionrt_fleet.run import Resources, run_fleet

    if args.num_cpus is not None and args.num_cpus < 1:
        raise FleetError(f"--num-cpus must be at least 1, got {args.num_cpus}")
    if args.max_retries < 0:
        raise FleetError(f"--max-retries must be >= 0, got {args.max_retries}")
    resources = Resources(
        cpus=_positive("--cpus-per-bag", args.cpus_per_bag),
        memory_mb=_positive("--memory-mb-per-bag", args.memory_mb_per_bag),
        gpus=_positive("--gpus-per-bag", args.gpus_per_bag, allow_zero=True),
    )
    timeout = _positive("--timeout-s", args.timeout_s) if args.timeout_s is not None else None
    binary = _binary(args.binary)
    config = _file("--config", args.config) if args.config else None
    bags = resolve_bags(args.bags)
    gt = _manifest(args.ground_truth) or {}
    out = Path(args.out).resolve()
    if out.exists() and not out.is_dir():
        raise FleetError(f"--out {args.out}: exists and is not a folder")
    spec = ReplaySpec(binary=binary, out=out, config=config, camera=args.camera,
                      timeout_s=timeout, ground_truth={k: v for k, v in gt.items()
                                                       if k in {b.name for b in bags}})
    outcomes = run_fleet(bags, spec, resources, address=args.address, num_cpus=args.num_cpus,
                         max_retries=args.max_retries)
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("ok", "skipped", "failed")}
    retried = [o.name for o in outcomes if o.attempt > 1]
    print(f"fleet run {out}: {counts['ok']} replayed, {counts['skipped']} already done, "
          f"{counts['failed']} failed" + (f"; retried: {', '.join(retried)}" if retried else ""))
    for o in outcomes:
        if o.status == "failed":
            print(f"  FAILED {o.name}: {o.error}")
            for line in o.stderr_tail.strip().splitlines()[-5:]:
                print(f"    {line}")
    return 1 if counts["failed"] else 0


def _report(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    binary = _binary(args.binary) if args.binary else None
    rep = report.build_report(root, binary=binary, ground_truth=_manifest(args.ground_truth))
    json_path = Path(args.json) if args.json else root / "report.json"
    html_path = Path(args.html) if args.html else root / "report.html"
    write_json_atomic(json_path, rep)
    html_path.write_text(html.render(rep), encoding="utf-8")
    e2e = rep["latency"]["end_to_end"]
    t = rep["totals"]
    print(f"{rep['bags_ok']} bags, {rep['bags_failed']} failed; sweeps {t['sweeps_published']}/"
          f"{t['sweeps_in']}; end to end p50 {e2e['p50_ms']:.2f} ms, p99 {e2e['p99_ms']:.2f} ms, "
          f"max {e2e['max_ms']:.2f} ms; misses {t['misses']}, drops {t['drops']}; "
          f"tracks {t['tracks_distinct']}")
    if rep["tracking"]:
        pooled = rep["tracking"]["pooled"]
        figures = ", ".join(f"{k} {v:.4g}" for k, v in pooled.items() if k.split(".")[1] in ("MOTA", "sAMOTA", "HOTA"))
        print(f"tracking over {len(rep['tracking']['bags'])} bags with ground truth: {figures}")
    for f in rep["failed"]:
        print(f"  FAILED {f.get('name')}: {f.get('error')}")
    print(f"report: {json_path}, {html_path}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    threshold = compare_mod.check_threshold("--threshold", args.threshold)
    timing = compare_mod.check_threshold("--timing-threshold", args.timing_threshold)
    binary = _binary(args.binary) if args.binary else None
    a = report.build_report(Path(args.dir_a), binary=binary)
    b = report.build_report(Path(args.dir_b), binary=binary)
    result = compare_mod.compare(a, b, threshold=threshold, timing_threshold=timing,
                                 seed=args.seed, resamples=args.resamples,
                                 gate_timings=args.gate == "all")
    sys.stdout.write(compare_mod.text(result))
    if args.json:
        write_json_atomic(Path(args.json), result)
    return 1 if result["regression"] else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "report":
            return _report(args)
        return _compare(args)
    except FleetError as e:
        print(f"fusionrt-fleet {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fusionrt-fleet: interrupted; bags done so far are kept, re-run to go on",
              file=sys.stderr)
        return 130

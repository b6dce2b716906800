"""`fusionrt-fleet compare DIR_A DIR_B`: an A/B regression gate over the bags both replayed.

For every metric, the per-bag differences B - A (paired by bag name) are oriented so that a
positive value is worse; their mean gets a seeded bootstrap confidence interval over bags. A
metric regresses when the whole interval is on the worse side of zero *and* the mean got worse
by more than the threshold relative to A's mean: `--threshold` for results (tracking metrics,
sweeps published, drops), `--timing-threshold` for timings (latency percentiles, budget misses),
which vary from run to run on a loaded machine; `--gate results` reports timings without gating
on them (runs on different or shared machines). A bag that A replayed and B lost (failed or
missing) is a regression too. Bags that got worse are listed first, worst first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fusionrt_fleet.errors import FleetError
from fusionrt_fleet.stats import bootstrap_mean_ci, mean

EPS = 1e-9


@dataclass(frozen=True)
class Metric:
    """A per-bag figure: how to read it, which way is better, and which threshold gates it."""

    name: str
    get: Callable[[dict[str, Any]], float | None]
    lower_is_better: bool
    timing: bool


def _tracking(key: str) -> Callable[[dict[str, Any]], float | None]:
    def get(bag: dict[str, Any]) -> float | None:
        v = bag.get("tracking", {}).get(key)
        return float(v) if v is not None else None

    return get


def metrics_of(bags_a: list[dict[str, Any]]) -> list[Metric]:
    """The gated metrics: timings, results, and the tracking metrics the bags have."""
    out = [
        Metric("end_to_end.p50_ms", lambda b: b["end_to_end"]["p50_ms"], True, True),
        Metric("end_to_end.p99_ms", lambda b: b["end_to_end"]["p99_ms"], True, True),
        Metric("misses", lambda b: b["misses_total"], True, True),
        Metric("drops", lambda b: b["drops_total"], True, False),
        Metric("sweeps_published", lambda b: b["sweeps_published"], False, False),
    ]
    keys = sorted({k for b in bags_a for k in b.get("tracking", {})})
    for k in keys:
        figure = k.split(".", 1)[1]
        if figure in ("TP", "FP", "FN"):
            continue  # MOTA carries them; counts scale with the bag
        out.append(Metric(f"tracking.{k}", _tracking(k), figure == "IDS", False))
    return out


def check_threshold(flag: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise FleetError(f"{flag} must be a positive finite fraction (0.05 = 5 %), got {value}")
    return float(value)


def compare(
    a: dict[str, Any],
    b: dict[str, Any],
    *,
    threshold: float,
    timing_threshold: float,
    seed: int = 0,
    resamples: int = 2000,
    confidence: float = 0.95,
    gate_timings: bool = True,
) -> dict[str, Any]:
    """The comparison of two reports (report.build_report's values)."""
    check_threshold("--threshold", threshold)
    check_threshold("--timing-threshold", timing_threshold)
    if resamples < 100:
        raise FleetError(f"--resamples must be at least 100, got {resamples}")
    by_a = {x["name"]: x for x in a["bags"]}
    by_b = {x["name"]: x for x in b["bags"]}
    common = sorted(set(by_a) & set(by_b))
    lost = sorted(set(by_a) - set(by_b))
    if not common:
        raise FleetError(f"{a['folder']} and {b['folder']} have no bag in common")
    rows = []
    bag_worst: dict[str, list[tuple[float, str]]] = {n: [] for n in common}
    for i, m in enumerate(metrics_of([by_a[n] for n in common])):
        limit = timing_threshold if m.timing else threshold
        pairs: list[tuple[str, float, float]] = []
        for n in common:
            va, vb = m.get(by_a[n]), m.get(by_b[n])
            if va is not None and vb is not None:
                pairs.append((n, va, vb))
        if not pairs:
            continue
        sign = 1.0 if m.lower_is_better else -1.0
        worse = [sign * (vb - va) for _, va, vb in pairs]
        mean_a = mean([va for _, va, _ in pairs])
        mean_b = mean([vb for _, _, vb in pairs])
        mean_worse = mean(worse)
        lo, hi = bootstrap_mean_ci(worse, seed=seed + i, resamples=resamples, confidence=confidence)
        rel = mean_worse / max(abs(mean_a), EPS)
        gated = gate_timings or not m.timing
        regressed = gated and lo > 0.0 and rel > limit
        rows.append({
            "metric": m.name, "kind": "timing" if m.timing else "result", "bags": len(pairs),
            "mean_a": mean_a, "mean_b": mean_b, "delta": mean_b - mean_a,
            "worse_by": mean_worse, "ci_worse_by": [lo, hi], "relative_worse": rel,
            "threshold": limit, "gated": gated, "regression": regressed,
        })
        for n, va, vb in pairs:
            r = sign * (vb - va) / max(abs(va), EPS)
            if gated and r > limit:
                bag_worst[n].append((r, m.name))
    worse_bags: list[dict[str, Any]] = [
        {"name": n, "worst_relative": max(w)[0],
         "metrics": [name for _, name in sorted(w, reverse=True)]}
        for n, w in sorted(bag_worst.items(), key=lambda kv: -max(kv[1], default=(0.0, ""))[0])
        if w
    ]
    regressions = [r["metric"] for r in rows if r["regression"]]
    if lost:
        regressions.append(f"bags lost in B: {', '.join(lost)}")
    return {
        "a": a["folder"], "b": b["folder"], "bags_compared": len(common),
        "bags_lost_in_b": lost, "bags_only_in_b": sorted(set(by_b) - set(by_a)),
        "seed": seed, "resamples": resamples, "confidence": confidence,
        "worse_bags": worse_bags,
        "better_or_same_bags": [n for n in common if not bag_worst[n]],
        "metrics": rows, "regressions": regressions, "regression": bool(regressions),
    }


def text(result: dict[str, Any]) -> str:
    """The comparison as the command prints it."""
    lines = [f"A {result['a']}", f"B {result['b']}", f"{result['bags_compared']} bags compared"]
    if result["worse_bags"]:
        lines.append("bags that got worse (worst first):")
        for w in result["worse_bags"]:
            lines.append(f"  {w['name']}: {w['worst_relative']:+.1%} ({', '.join(w['metrics'])})")
    if result["bags_lost_in_b"]:
        lines.append(f"bags lost in B: {', '.join(result['bags_lost_in_b'])}")
    lines.append(f"{'metric':<28} {'mean A':>10} {'mean B':>10} {'worse by':>10} "
                 f"{'CI low':>10} {'CI high':>10} {'rel':>8} {'limit':>6}")
    for r in result["metrics"]:
        lo, hi = r["ci_worse_by"]
        flag = "  REGRESSION" if r["regression"] else ("" if r["gated"] else "  (not gated)")
        lines.append(
            f"{r['metric']:<28} {r['mean_a']:>10.4g} {r['mean_b']:>10.4g} {r['worse_by']:>10.4g} "
            f"{lo:>10.4g} {hi:>10.4g} {r['relative_worse']:>+8.1%} {r['threshold']:>6.0%}{flag}"
        )
    lines.append("REGRESSION: " + "; ".join(result["regressions"]) if result["regression"]
                 else "no regression")
    return "\n".join(lines) + "\n"

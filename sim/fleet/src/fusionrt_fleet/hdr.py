"""Latency histograms: decode the HDR V2 (deflate, base64) form `fusionrt` writes in
report.json (`hdr_v2` of each latency summary, nanoseconds) and merge them exactly.

Merging adds the bucket counts, so the percentiles of the merged histogram are those of all the
samples of all bags together (to HDR's 3 significant digits); averaging per-bag percentiles
would not be.
"""

from __future__ import annotations

from typing import Any

from hdrh.histogram import HdrHistogram

from fusionrt_fleet.errors import FleetError

PERCENTILES = {"p50_ms": 50.0, "p90_ms": 90.0, "p99_ms": 99.0, "p999_ms": 99.9}


def decode(encoded: str, where: str) -> Any:
    """The histogram in `encoded`; `where` names the file and field in errors."""
    if not isinstance(encoded, str) or not encoded:
        raise FleetError(
            f"{where}: no hdr_v2 histogram (report.json of a fusionrt older than the fleet "
            "support? rebuild fusionrt)"
        )
    try:
        return HdrHistogram.decode(encoded)
    except Exception as e:  # hdrh raises several types on bad input
        raise FleetError(f"{where}: hdr_v2 is not an HDR histogram: {e}") from None


def merge(histograms: list[Any]) -> Any | None:
    """The sum of `histograms` (None when there are none)."""
    if not histograms:
        return None
    first = histograms[0]
    total = HdrHistogram(
        first.lowest_trackable_value,
        max(h.highest_trackable_value for h in histograms),
        first.significant_figures,
    )
    for h in histograms:
        total.add(h)
    return total


def summary(h: Any | None) -> dict[str, float]:
    """count, p50/p90/p99/p99.9, max and mean in ms of `h` (zeros when empty)."""
    if h is None or h.get_total_count() == 0:
        return {"count": 0, **{k: 0.0 for k in PERCENTILES}, "max_ms": 0.0, "mean_ms": 0.0}
    out: dict[str, float] = {"count": h.get_total_count()}
    for key, p in PERCENTILES.items():
        out[key] = h.get_value_at_percentile(p) * 1e-6
    out["max_ms"] = h.get_max_value() * 1e-6
    out["mean_ms"] = h.get_mean_value() * 1e-6
    return out

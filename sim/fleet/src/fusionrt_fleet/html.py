"""The report as one self-contained HTML page: tables and inline SVG plots, no scripts, no
network. Plots: per-bag end-to-end latency (p50 and p99 bars), and misses and drops over the
fleet run's time (each bag at the moment it finished: a rise shows nodes getting loaded).
"""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.bad{color:#b00}svg{background:#fafafa;border:1px solid #ddd}
"""


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def latency_bars(bags: list[dict[str, Any]]) -> str:
    """Per-bag end-to-end p50 (dark) and p99 (light) in ms, as an SVG bar chart."""
    if not bags:
        return ""
    w, h, left, bottom = max(300, 26 * len(bags) + 80), 260, 50, 90
    top = max((b["end_to_end"]["p99_ms"] for b in bags), default=0.0) or 1.0
    scale = (h - bottom - 10) / top
    parts = [f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">']
    for i, b in enumerate(bags):
        x = left + 26 * i
        for dx, key, colour in ((0, "p99_ms", "#9ecae1"), (4, "p50_ms", "#3182bd")):
            v = b["end_to_end"][key]
            bh = v * scale
            parts.append(
                f'<rect x="{x + dx}" y="{h - bottom - bh:.1f}" width="{18 - 2 * dx}" '
                f'height="{bh:.1f}" fill="{colour}"><title>{escape(b["name"])} {key} {v:.2f} ms</title></rect>'
            )
        parts.append(
            f'<text x="{x + 9}" y="{h - bottom + 8}" font-size="10" '
            f'transform="rotate(60 {x + 9} {h - bottom + 8})">{escape(b["name"])}</text>'
        )
    for frac in (0.0, 0.5, 1.0):
        y = h - bottom - frac * top * scale
        parts.append(f'<text x="4" y="{y + 4:.1f}" font-size="10">{frac * top:.1f} ms</text>')
        parts.append(f'<line x1="{left - 4}" x2="{w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
    parts.append("</svg>")
    return "".join(parts)


def misses_timeline(bags: list[dict[str, Any]]) -> str:
    """Misses (red) and drops (grey) of each bag at the time it finished in the run."""
    if not bags:
        return ""
    t0 = min(b["finished_unix_s"] for b in bags)
    span = max(b["finished_unix_s"] for b in bags) - t0 or 1.0
    top = max(max(b["misses_total"], b["drops_total"]) for b in bags) or 1
    w, h, left, bottom = 600, 220, 50, 30
    sx, sy = (w - left - 20) / span, (h - bottom - 10) / top
    parts = [f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">']
    for key, colour in (("drops_total", "#888"), ("misses_total", "#d62728")):
        pts = sorted((b["finished_unix_s"] - t0, b[key], b["name"]) for b in bags)
        path = " ".join(f"{left + t * sx:.1f},{h - bottom - v * sy:.1f}" for t, v, _ in pts)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}"/>')
        for t, v, n in pts:
            parts.append(
                f'<circle cx="{left + t * sx:.1f}" cy="{h - bottom - v * sy:.1f}" r="3" '
                f'fill="{colour}"><title>{escape(n)}: {key} {v}</title></circle>'
            )
    parts.append(f'<text x="{left}" y="{h - 8}" font-size="10">0 s</text>')
    parts.append(f'<text x="{w - 60}" y="{h - 8}" font-size="10">{span:.1f} s</text>')
    parts.append(f'<text x="4" y="14" font-size="10">{top}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render(report: dict[str, Any]) -> str:
    """The page for `report` (report.build_report's value)."""
    bags = report["bags"]
    t = report["totals"]
    lat = report["latency"]
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>fusionrt fleet report</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>fusionrt fleet report</h1><p>{escape(report['folder'])}: "
        f"{report['bags_ok']} bags replayed, "
        f"<span class='{'bad' if report['bags_failed'] else ''}'>{report['bags_failed']} failed</span>; "
        f"{t['sweeps_published']} / {t['sweeps_in']} sweeps published; "
        f"{t['tracks_distinct']} distinct tracks.</p>",
        "<h2>Latency over all bags (merged HDR histograms)</h2>",
        _table(
            ["what", "count", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"],
            [["end_to_end", *[lat["end_to_end"][k] for k in ("count", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms")]]]
            + [
                [f"{stage} {kind}", *[s[k] for k in ("count", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms")]]
                for stage, kinds in lat["stages"].items()
                for kind, s in kinds.items()
            ],
        ),
        "<h2>Misses and drops by reason</h2>",
        _table(["reason", "count"],
               [[f"miss: {k}", v] for k, v in t["misses_by_reason"].items()]
               + [[f"drop: {k}", v] for k, v in t["drops_by_reason"].items()]
               or [["none", 0]]),
    ]
    if report["tracking"]:
        pooled = report["tracking"]["pooled"]
        out += [
            f"<h2>Tracking vs KITTI labels, pooled over {len(report['tracking']['bags'])} bags</h2>",
            _table(["metric", "value"], [[k, v] for k, v in pooled.items()]),
        ]
    out += [
        "<h2>Per bag</h2>",
        _table(
            ["bag", "sweeps", "tracks", "e2e p50 ms", "e2e p99 ms", "misses", "drops",
             "MOTA (Car)", "attempts", "host", "wall s"],
            [
                [b["name"], b["sweeps_published"], b["tracks"]["distinct"],
                 b["end_to_end"]["p50_ms"], b["end_to_end"]["p99_ms"], b["misses_total"],
                 b["drops_total"], b.get("tracking", {}).get("Car.MOTA", "-"),
                 b["attempts"], b["host"], b["task_wall_s"]]
                for b in bags
            ],
        ),
        "<h3>End-to-end latency per bag (p50 dark, p99 light)</h3>",
        latency_bars(bags),
        "<h3>Misses (red) and drops (grey) over the run, each bag when it finished</h3>",
        misses_timeline(bags),
    ]
    if report["failed"]:
        out.append("<h2 class='bad'>Failed bags</h2>")
        for f in report["failed"]:
            out.append(
                f"<h3>{escape(str(f.get('name')))}</h3><p>{escape(str(f.get('error')))}</p>"
                f"<pre>{escape(str(f.get('stderr_tail', '')))}</pre>"
            )
    out.append("</body></html>")
    return "\n".join(out)

"""A rehearsal's report: JSON for scripts, and one self-contained HTML page for people,
with a timeline (weights, connections per colour, messages per second, latency) and
the script's steps marked on it. No third-party code: the charts are inline SVG.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from chatops.rehearse.ledger import Figures
from chatops.rehearse.runner import Rehearsal, Sample

COLOURS = {"blue": "#2563eb", "green": "#16a34a"}
WIDTH, PANEL, LEFT, RIGHT, TOP = 920, 130, 64, 16, 22


def to_json(rehearsal: Rehearsal, target: str) -> dict[str, Any]:
    plan = rehearsal.plan
    return {
        "ok": rehearsal.ok,
        "target": target,
        "url": rehearsal.url,
        "users": plan.users,
        "rooms": plan.rooms,
        "rate_per_user_per_minute": plan.rate,
        "step_seconds": plan.step_seconds,
        "seconds": round(rehearsal.ended - rehearsal.started, 1),
        "failure": rehearsal.failure,
        "http_5xx": rehearsal.http_errors,
        "steps": [figures.to_json() for figures in rehearsal.steps],
        "total": rehearsal.total.to_json() if rehearsal.total else None,
        "outcomes": [{"step": o.step, **o.detail} for o in rehearsal.outcomes],
        "timeline": [
            {
                "at": round(s.at, 1),
                "weights": s.weights.as_dict(),
                "connections": s.connections,
                "acks_per_second": s.acks_per_second,
                "deliveries_per_second": s.deliveries_per_second,
                "latency_p99_ms": None if s.latency_p99 is None else round(s.latency_p99 * 1000),
            }
            for s in rehearsal.samples
        ],
    }


def _series_path(
    samples: Sequence[Sample],
    value: Callable[[Sample], float | None],
    x: Callable[[float], float],
    y: Callable[[float], float],
) -> str:
    parts, pen_down = [], False
    for sample in samples:
        point = value(sample)
        if point is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x(sample.at):.1f},{y(point):.1f}")
        pen_down = True
    return " ".join(parts)


def _panel(
    title: str,
    top: float,
    samples: Sequence[Sample],
    series: Sequence[tuple[str, str, Callable[[Sample], float | None]]],
    x: Callable[[float], float],
    ceiling: float | None = None,
) -> str:
    values = [v for _, _, get in series for s in samples if (v := get(s)) is not None]
    high = ceiling if ceiling is not None else max(values, default=1.0) * 1.1 or 1.0

    def y(value: float) -> float:
        return top + PANEL - (value / high) * PANEL

    out = [
        f'<text x="{LEFT}" y="{top - 6}" class="title">{html.escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{top + PANEL}" x2="{WIDTH - RIGHT}" y2="{top + PANEL}" '
        'class="axis"/>',
        f'<text x="{LEFT - 6}" y="{top + 4}" class="tick" text-anchor="end">{high:.4g}</text>',
        f'<text x="{LEFT - 6}" y="{top + PANEL}" class="tick" text-anchor="end">0</text>',
    ]
    for index, (name, colour, get) in enumerate(series):
        path = _series_path(samples, get, x, y)
        if path:
            out.append(f'<path d="{path}" stroke="{colour}" class="series"/>')
        out.append(
            f'<text x="{WIDTH - RIGHT - 150 + index * 75}" y="{top - 6}" fill="{colour}" '
            f'class="legend">{html.escape(name)}</text>'
        )
    return "\n".join(out)


def timeline_svg(rehearsal: Rehearsal) -> str:
    samples = rehearsal.samples
    span = max((s.at for s in samples), default=1.0) or 1.0

    def x(at: float) -> float:
        return LEFT + (at / span) * (WIDTH - LEFT - RIGHT)

    panels = [
        (
            "Weights (% of new connections)",
            [
                ("blue", COLOURS["blue"], lambda s: float(s.weights.blue)),
                ("green", COLOURS["green"], lambda s: float(s.weights.green)),
            ],
            100.0,
        ),
        (
            "Connected users per colour",
            [
                ("blue", COLOURS["blue"], lambda s: float(s.connections.get("blue", 0))),
                ("green", COLOURS["green"], lambda s: float(s.connections.get("green", 0))),
            ],
            None,
        ),
        (
            "Messages per second (acknowledged)",
            [("acks/s", "#7c3aed", lambda s: s.acks_per_second)],
            None,
        ),
        (
            "End-to-end latency (ms)",
            [
                (
                    "p50",
                    "#64748b",
                    lambda s: None if s.latency_p50 is None else s.latency_p50 * 1e3,
                ),
                (
                    "p99",
                    "#dc2626",
                    lambda s: None if s.latency_p99 is None else s.latency_p99 * 1e3,
                ),
            ],
            None,
        ),
    ]
    height = TOP + len(panels) * (PANEL + 40) + 20
    body = []
    for index, (title, series, ceiling) in enumerate(panels):
        body.append(_panel(title, TOP + index * (PANEL + 40), samples, series, x, ceiling))
    for name, at in rehearsal.marks:
        position = x(at - rehearsal.started)
        body.append(
            f'<line x1="{position:.1f}" y1="{TOP - 14}" x2="{position:.1f}" '
            f'y2="{height - 20}" class="mark"/>'
            f'<text x="{position + 3:.1f}" y="{height - 6}" class="tick">{html.escape(name)}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="Rehearsal timeline">'
        "<style>.title{font:600 13px sans-serif}.tick,.legend{font:11px sans-serif}"
        ".axis{stroke:#94a3b8}.mark{stroke:#475569;stroke-dasharray:4 3}"
        ".series{fill:none;stroke-width:1.8}</style>" + "\n".join(body) + "</svg>"
    )


def _cell(value: object) -> str:
    return "-" if value is None else html.escape(str(value))


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def _row(figures: Figures) -> str:
    connections = figures.connections
    cells = [
        figures.name,
        f"{connections.get('blue', 0)} / {connections.get('green', 0)}",
        figures.sent,
        figures.acknowledged,
        figures.delivered,
        figures.lost,
        figures.duplicates_shown,
        figures.unexpected_disconnects,
        f"{figures.reconnects} ({_ms(figures.reconnect_p50)} / {_ms(figures.reconnect_p99)} ms)",
        f"{_ms(figures.latency_p50)} / {_ms(figures.latency_p99)} ms",
    ]
    bad = figures.lost or figures.duplicates_shown
    return (
        f'<tr class="{"bad" if bad else ""}">'
        + "".join(f"<td>{_cell(c)}</td>" for c in cells)
        + "</tr>"
    )


def to_html(rehearsal: Rehearsal, target: str) -> str:
    total = rehearsal.total
    verdict = "PASS: nothing lost, no duplicate shown" if rehearsal.ok else "FAIL"
    if rehearsal.failure:
        verdict += f": {rehearsal.failure}"
    plan = rehearsal.plan
    outcomes = "".join(
        f"<li><b>{html.escape(o.step)}</b>: "
        + ", ".join(f"{html.escape(k)} {html.escape(str(v))}" for k, v in o.detail.items())
        + "</li>"
        for o in rehearsal.outcomes
    )
    rows = "".join(_row(f) for f in rehearsal.steps if not f.quiet) + (_row(total) if total else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chatops rehearsal</title>
<style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#0f172a}}
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #cbd5e1;padding:4px 8px;
text-align:right}}td:first-child,th:first-child{{text-align:left}}tr.bad td{{background:#fee2e2}}
tr:last-child td{{font-weight:600}}.verdict{{font-size:1.2rem;font-weight:700;
color:{"#15803d" if rehearsal.ok else "#b91c1c"}}}
</style></head><body>
<h1>Blue/green rehearsal</h1>
<p class="verdict">{html.escape(verdict)}</p>
<p>{html.escape(target)} &middot; {html.escape(rehearsal.url)} &middot; {plan.users} users in
{plan.rooms} rooms, {plan.rate:g} messages per user per minute, {plan.step_seconds:g} s per step,
{rehearsal.ended - rehearsal.started:.0f} s in all; HTTP 5xx seen by users:
{rehearsal.http_errors}.</p>
{timeline_svg(rehearsal)}
<table><thead><tr><th>Step</th><th>Users blue / green</th><th>Sent</th><th>Acked</th>
<th>Delivered</th><th>Lost</th><th>Duplicates shown</th><th>Unexpected disconnects</th>
<th>Reconnects (p50 / p99)</th><th>Latency p50 / p99</th></tr></thead>
<tbody>{rows}</tbody></table>
<ul>{outcomes}</ul>
</body></html>
"""

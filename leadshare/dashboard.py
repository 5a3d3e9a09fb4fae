"""The team dashboard: one self-contained HTML page (inline CSS, inline SVG charts, no scripts, no
external URLs), built from the reports and the ledger's own check. Customer and agent names are
untrusted text: the template escapes everything it prints, and the page's Content-Security-Policy
forbids scripts and any network request even if something slipped through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from leadshare import clock, reports
from leadshare.models import Team

if TYPE_CHECKING:
    from leadshare.ledger.store import Ledger

TEMPLATE = "dashboard.html"

# chart geometry, in SVG user units (the charts scale to the card's width)
LABEL_W = 170
BAR_W = 320
VALUE_W = 90
ROW_H = 34
BAR_H = 11


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    css: str
    title: str


@dataclass
class Label:
    x: float
    y: float
    text: str
    css: str = ""
    anchor: str = "start"
    title: str = ""


@dataclass
class Chart:
    width: float
    height: float
    bars: list[Bar] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)
    title: str = ""
    empty: str | None = None


def _short(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def fairness_chart(groups: list[dict]) -> Chart:
    """Per agent: assigned (solid) against expected (outlined) on one scale."""
    rows = [g for g in groups if g["assigned"] or g["expected"]]
    chart = Chart(width=LABEL_W + BAR_W + VALUE_W, height=max(1, len(rows)) * ROW_H + 28,
                  title="Leads assigned against expected, per agent")
    if not rows:
        chart.empty = "No leads were assigned in this period."
        return chart
    top = max(max(g["assigned"], g["expected"]) for g in rows) or 1
    for i, g in enumerate(rows):
        y = 8 + i * ROW_H
        who = f"{g['name']} ({g['key']})" if g["name"] != g["key"] else g["key"]
        chart.labels.append(Label(LABEL_W - 10, y + 15, _short(g["name"]), "name" + (" flagged" if g["flagged"] else ""), "end", who))
        wa = BAR_W * g["assigned"] / top
        we = BAR_W * g["expected"] / top
        chart.bars.append(Bar(LABEL_W, y + 2, max(wa, 1.5 if g["assigned"] else 0), BAR_H,
                              "assigned" + (" flagged" if g["flagged"] else ""), f"{who}: assigned {g['assigned']}"))
        chart.bars.append(Bar(LABEL_W, y + 2 + BAR_H + 2, max(we, 1.5 if g["expected"] else 0), BAR_H, "expected",
                              f"{who}: expected {g['expected']:.1f}"))
        diff = g["difference"]
        chart.labels.append(Label(LABEL_W + max(wa, we) + 6, y + 15, f"{g['assigned']} / {g['expected']:.1f}", "value"))
        if g["flagged"]:
            chart.labels.append(Label(LABEL_W + max(wa, we) + 6, y + 28, f"{diff:+.1f} off", "value flagged"))
    chart.lines.append({"x1": LABEL_W, "y1": 4, "x2": LABEL_W, "y2": chart.height - 20, "css": "axis"})
    chart.labels.append(Label(LABEL_W, chart.height - 6, "0", "tick", "middle"))
    chart.labels.append(Label(LABEL_W + BAR_W, chart.height - 6, _fmt(top), "tick", "middle"))
    return chart


def load_chart(groups: list[dict]) -> Chart:
    """Per agent: open leads now against capacity (a marker; no marker when unlimited)."""
    rows = [g for g in groups if g["open"] or g["capacity"] is not None or g.get("active")]
    chart = Chart(width=LABEL_W + BAR_W + VALUE_W, height=max(1, len(rows)) * 26 + 28,
                  title="Open leads now against capacity, per agent")
    if not rows:
        chart.empty = "No agents."
        return chart
    top = max(max(g["open"], g["capacity"] or 0) for g in rows) or 1
    for i, g in enumerate(rows):
        y = 8 + i * 26
        cap = g["capacity"]
        full = cap is not None and g["open"] >= cap
        who = f"{g['name']} ({g['key']})" if g["name"] != g["key"] else g["key"]
        chart.labels.append(Label(LABEL_W - 10, y + 12, _short(g["name"]), "name", "end", who))
        if cap is not None:
            chart.bars.append(Bar(LABEL_W, y + 2, BAR_W * cap / top, 14, "track", f"{who}: capacity {cap}"))
        w = BAR_W * g["open"] / top
        chart.bars.append(Bar(LABEL_W, y + 2, max(w, 1.5 if g["open"] else 0), 14, "load" + (" full" if full else ""),
                              f"{who}: {g['open']} open"))
        if cap is not None:
            x = LABEL_W + BAR_W * cap / top
            chart.lines.append({"x1": x, "y1": y, "x2": x, "y2": y + 18, "css": "capacity"})
        text = f"{g['open']} / {cap}" if cap is not None else f"{g['open']} (no limit)"
        chart.labels.append(Label(LABEL_W + max(w, BAR_W * (cap or 0) / top) + 6, y + 13, text, "value" + (" flagged" if full else "")))
    chart.labels.append(Label(LABEL_W, chart.height - 6, "0", "tick", "middle"))
    chart.labels.append(Label(LABEL_W + BAR_W, chart.height - 6, _fmt(top), "tick", "middle"))
    return chart


def source_chart(sources: list[dict], limit: int = 12) -> Chart:
    rows = sources[:limit]
    if len(sources) > limit:
        rows = rows + [{"source": f"{len(sources) - limit} more", "leads": sum(s["leads"] for s in sources[limit:])}]
    chart = Chart(width=LABEL_W + BAR_W + VALUE_W, height=max(1, len(rows)) * 24 + 12, title="Leads by source")
    if not rows:
        chart.empty = "No leads came in during this period."
        return chart
    top = max(s["leads"] for s in rows) or 1
    for i, s in enumerate(rows):
        y = 6 + i * 24
        chart.labels.append(Label(LABEL_W - 10, y + 12, _short(str(s["source"])), "name", "end", str(s["source"])))
        w = BAR_W * s["leads"] / top
        chart.bars.append(Bar(LABEL_W, y + 2, max(w, 1.5), 14, "source", f"{s['source']}: {s['leads']} leads"))
        chart.labels.append(Label(LABEL_W + w + 6, y + 13, str(s["leads"]), "value"))
    return chart


def day_chart(days: list[dict]) -> Chart:
    """Leads per day, one column a day, oldest on the left."""
    width, height, left, bottom, top_pad = 580.0, 210.0, 36.0, 30.0, 14.0
    chart = Chart(width=width, height=height, title="Leads per day")
    if not days:
        chart.empty = "No days."
        return chart
    top = max(d["leads"] for d in days) or 1
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    slot = plot_w / len(days)
    for i, d in enumerate(days):
        h = plot_h * d["leads"] / top
        x = left + i * slot
        chart.bars.append(Bar(x + slot * 0.15, top_pad + plot_h - h, slot * 0.7, h, "day", f"{d['day']}: {d['leads']} leads"))
        if d["leads"] and len(days) <= 45:
            chart.labels.append(Label(x + slot / 2, top_pad + plot_h - h - 3, str(d["leads"]), "tick small", "middle"))
        every = max(1, round(len(days) / 8))
        if (len(days) - 1 - i) % every == 0:
            chart.labels.append(Label(x + slot / 2, height - bottom + 16, d["day"][5:], "tick", "middle"))
    chart.lines.append({"x1": left, "y1": top_pad + plot_h, "x2": width - 8, "y2": top_pad + plot_h, "css": "axis"})
    chart.labels.append(Label(left - 6, top_pad + 4, str(top), "tick", "end"))
    chart.labels.append(Label(left - 6, top_pad + plot_h, "0", "tick", "end"))
    return chart


def _local(iso: str | None, tz) -> str:
    if not iso:
        return ""
    return clock.from_iso(iso).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def build(ledger: "Ledger", team: Team, now: datetime, days: int = 30, verify: bool = True) -> dict[str, Any]:
    """Everything the page shows, from the reports (and `audit.verify` for the ledger's check)."""
    tz = clock.zone(team.timezone)
    now = now.astimezone(tz)
    since, until = reports.day_window(now, days)
    fair = reports.fairness(ledger, team, since, until, by="agent")
    volume = reports.lead_volume(ledger, team, since, until)
    sla = reports.sla_report(ledger, team, now)
    imports = reports.recent_imports(ledger, 10)
    for imp in imports:
        imp["at_local"] = _local(imp["at"], tz)
    for b in sla["breaches"]:
        b["due_local"] = _local(b["sla_due"], tz)
        b["overdue"] = reports.minutes_text(b["overdue_minutes"], long=True)
    for g in fair["groups"]:
        g["first_contact"] = reports.minutes_text(g["median_first_contact_minutes"], long=True)
        g["conversion_text"] = "-" if g["conversion"] is None else f"{g['conversion']:.0%} of {g['closed']}"

    check: dict[str, Any] = {"checked": False}
    if verify:
        from leadshare import audit

        report = audit.verify(ledger)
        check = {"checked": True, "ok": report.ok, "events": report.events, "head": report.head,
                 "problems": report.problems}
    else:
        check["head"] = (ledger.meta("head") or "").partition(":")[2] or None

    return {
        "now": now.strftime("%Y-%m-%d %H:%M"),
        "timezone": team.timezone,
        "since": since.strftime("%Y-%m-%d"),
        "until": until.strftime("%Y-%m-%d"),
        "days": days,
        "rules": team.content_hash[:12] if team.content_hash else "",
        "fairness": fair,
        "tolerance": f"more than {reports.TOLERANCE_LEADS} leads and {reports.TOLERANCE_SHARE:.0%} of expected",
        "volume": volume,
        "sla": sla,
        "sla_target": reports.minutes_text(sla["first_contact_minutes"], long=True) if sla["first_contact_minutes"] else None,
        "imports": imports,
        "queued": reports.queued_now(ledger),
        "open": sum(g["open"] for g in fair["groups"]),
        "flagged": [g for g in fair["groups"] if g["flagged"]],
        "charts": {
            "fairness": fairness_chart(fair["groups"]),
            "load": load_chart(fair["groups"]),
            "days": day_chart(volume["by_day"]),
            "sources": source_chart(volume["by_source"]),
        },
        "check": check,
    }


def render(ledger: "Ledger", team: Team, now: datetime, days: int = 30, verify: bool = True) -> str:
    """The dashboard as one HTML document."""
    return render_context(build(ledger, team, now, days=days, verify=verify))


def render_context(context: dict[str, Any]) -> str:
    import jinja2  # heavy; only when a page is made

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    text = (resources.files("leadshare") / "templates" / TEMPLATE).read_text(encoding="utf-8")
    return env.from_string(text).render(**context)

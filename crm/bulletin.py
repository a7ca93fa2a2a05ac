"""The 通报: the weekly and monthly report a bureau forwards, as Word (.docx), Excel (.xlsx) and a web page.

:func:`bulletin` gathers every table from the library (no figure is computed here: target
progress, the three rates, the unit and leader league tables, the signed-but-unstarted deals by
level, this month's trips and their results) and writes the lead paragraph from those figures
with the set phrasing of ``wording.toml`` (one file a bureau edits; see :func:`load_wording`).
:func:`write_bulletin` writes it by the file's suffix.

The period figures (本周/本月 新签约, 开工, 竣工投产, 终止, 合同投资额, 到位资金 with 同比) are
``crm.metrics.period_figures`` over the report's period: the week (Monday to as_of) or the
month (the first to as_of).
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from sqlmodel import Session

from crm import deals, metrics, trips
from crm.display import LAST_FILL, LEVEL_FILLS, LEVEL_LABELS, column_formats, label, money_unit
from crm.files import Sheet, check_suffix, html_page, html_table, plain, write_xlsx
from crm.models import CAPITAL_SOURCE_LABELS, CapitalSource, CountingRules
from crm.money import format_yuan
from crm.targets import get_rules, rules_label

KINDS = ("weekly", "monthly")
SUFFIXES = (".docx", ".xlsx", ".html", ".json")
PERIOD_ITEMS = ("signed", "started", "in_production", "terminated", "contracted_yuan", "arrived_yuan")


@dataclass
class Section:
    """One part of the 通报: a heading, a table (with display hints) and optionally a chart (PNG bytes)."""

    key: str
    heading: str
    sheet: Sheet
    chart: bytes | None = None


@dataclass
class Bulletin:
    kind: str
    as_of: date
    period_start: date
    title: str
    rules: str
    rules_text: str
    lead: str
    numbers: dict[str, Any]  # the figures the lead paragraph was written from
    sections: list[Section] = field(default_factory=list)


# ---------------------------------------------------------------- wording


def load_wording(path: str | Path | None = None) -> dict[str, dict[str, str]]:
    """The set phrasing: the bundled ``wording.toml``, with the tables of `path` (a bureau's copy) over it."""
    text = resources.files("crm").joinpath("wording.toml").read_text(encoding="utf-8")
    wording: dict[str, dict[str, str]] = tomllib.loads(text)
    if path is not None:
        own = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        for table, entries in own.items():
            wording.setdefault(table, {}).update(entries)
    return wording


def rules_description(rules: CountingRules) -> str:
    """The counting rules in words, as a 通报 states them."""
    fulfilled = "已开工（含竣工投产）" if rules.fulfillment_basis == "started_or_later" else "未终止"
    completion = "已开工项目" if rules.completion_basis == "started" else "签约项目"
    sources = "、".join(CAPITAL_SOURCE_LABELS.get(CapitalSource(s), s) for s in rules.sources)
    parts = [
        f"{rules_label(rules)}",
        f"履约率按{fulfilled}项目计",
        f"竣工投产率以{completion}为基数",
        f"到位资金计{sources}资金{'（仅已核实）' if rules.verified_only else ''}",
    ]
    if rules.cohort_years:
        parts.append(f"签约项目统计近{rules.cohort_years}年")
    return "；".join(parts)


def _money(yuan: int, unit: str) -> str:
    return format_yuan(yuan, unit).replace(",", "")


def lead_paragraph(numbers: Mapping[str, Any], wording: Mapping[str, Mapping[str, str]]) -> str:
    """The lead paragraph from `numbers` (see :func:`bulletin`) in the set phrasing of `wording`."""
    w = wording["lead"]
    n = dict(numbers)
    unit = n["money_unit"]
    out = [w["opening"].format(month=n["as_of"].month, day=n["as_of"].day)]
    out.append(w["projects"].format(**n))
    if n.get("arrived_yuan") is not None:
        out.append(w["arrived"].format(arrived=_money(n["arrived_yuan"], unit)))
        if n.get("yoy") is not None:
            key = "yoy_up" if n["yoy"] >= 0 else "yoy_down"
            out.append(w[key].format(yoy=f"{abs(n['yoy']) * 100:.1f}"))
        if n.get("gap") is not None and n["gap"] != 0:
            key = "behind" if n["gap"] > 0 else "ahead"
            out.append(w[key].format(gap=_money(abs(n["gap"]), unit)))
        if n.get("growth_gap") is not None:
            key = "growth_below" if n["growth_gap"] < 0 else "growth_above"
            out.append(w[key].format(growth_gap=f"{abs(n['growth_gap']):.1f}"))
    rates = {k: "—" if n.get(k) is None else f"{n[k] * 100:.1f}%" for k in ("fulfillment", "arrival", "completion")}
    out.append(w["rates"].format(**rates))
    out.append(w["unstarted"].format(**n))
    if n.get("period_signed") is not None:
        out.append(
            w["period"].format(
                period=n["period"],
                period_signed=n["period_signed"],
                period_started=n["period_started"],
                period_arrived=_money(n["period_arrived_yuan"] or 0, money_unit([n["period_arrived_yuan"]])),
            )
        )
        if n.get("period_arrived_yoy") is not None:
            key = "yoy_up" if n["period_arrived_yoy"] >= 0 else "yoy_down"
            out.append(w[key].format(yoy=f"{abs(n['period_arrived_yoy']) * 100:.1f}"))
    if n.get("last_unit"):
        out.append(w["last_unit"].format(unit=n["last_unit"]))
        if n.get("last_leader"):
            out.append(w["last_leader"].format(leader=n["last_leader"]))
    out.append(w["end"])
    return "".join(out)


# ---------------------------------------------------------------- the figures


def period_of(kind: str, as_of: date) -> date:
    """The first day of the report's period: the Monday of as_of's week, or the first of its month."""
    if kind not in KINDS:
        from crm.errors import InvalidValue

        raise InvalidValue("report", kind, f"a 通报 is one of {', '.join(KINDS)}")
    return as_of - timedelta(days=as_of.weekday()) if kind == "weekly" else as_of.replace(day=1)


def _chart(draw: Any, df: pd.DataFrame, *, height: float = 3.6) -> bytes:
    """A chart of `df` drawn by a crm.charts function, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, height), dpi=110)
    try:
        draw(df, ax=ax)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _first(df: pd.DataFrame, column: str) -> Any:
    value = df[column].iloc[0] if len(df) else None
    return None if value is None or pd.isna(value) else plain(value)


def bulletin(
    session: Session,
    *,
    kind: str = "weekly",
    as_of: date,
    rules: str | None = None,
    wording: Mapping[str, Mapping[str, str]] | None = None,
    charts: bool = True,
) -> Bulletin:
    """The 通报 as of `as_of`: its tables from the library and the lead paragraph written from them.

    ``numbers`` holds what the lead says: signed, started, in_production, terminated (kpis of the
    counting cohort), arrived_yuan, yoy, gap, growth_gap (this year's county arrived_yuan target
    row of target_progress, when a target is set), fulfillment, arrival, completion (the three
    rates), unstarted, red, yellow, green, last_unit, last_leader.
    """
    words = wording or load_wording()
    start = period_of(kind, as_of)
    rule_set = get_rules(session, rules)
    targets = metrics.target_progress(session, as_of=as_of, scope="county", rules=rule_set)
    rates = metrics.kpis(session, as_of=as_of, rules=rule_set)
    happened = metrics.period_figures(session, start=start, end=as_of, rules=rule_set)
    units = metrics.ranking(session, as_of=as_of, by="unit", rules=rule_set)
    leaders = metrics.ranking(session, as_of=as_of, by="leader", rules=rule_set)
    # the counts from the database; the list only as far as it is shown: the red deals, and every
    # deal for the chart of waiting times
    levels = metrics.unstarted_by_level(session, as_of=as_of)
    waiting = deals.unstarted(session, as_of=as_of, level=None if charts else "red")
    findings = metrics.count_quality(session, as_of=as_of)
    major_projects = metrics.major_status(session, as_of=as_of)
    month_trips = trips.trips_in_month(session, month=as_of.replace(day=1))
    results = trips.funnel(session, by="trip", year=as_of.year, as_of=as_of)
    results = results[results["trip_id"].isin(month_trips["trip_id"])].reset_index(drop=True)

    arrived = targets[(targets["metric"] == "arrived_yuan") & (targets["period"] == str(as_of.year))]
    counts = dict(zip(levels["level"], levels["deals"], strict=True))
    numbers: dict[str, Any] = {
        "as_of": as_of,
        "signed": int(_first(rates, "signed") or 0),
        "started": int(_first(rates, "started") or 0),
        "in_production": int(_first(rates, "in_production") or 0),
        "terminated": int(_first(rates, "terminated") or 0),
        "arrived_yuan": _first(arrived, "actual"),
        "yoy": _first(arrived, "yoy"),
        "gap": _first(arrived, "gap"),
        "growth_gap": _first(arrived, "growth_gap"),
        "fulfillment": _first(rates, "fulfillment_rate"),
        "arrival": _first(rates, "capital_arrival_rate"),
        "completion": _first(rates, "completion_rate"),
        "unstarted": int(sum(counts.values())),
        "red": int(counts.get("red", 0)),
        "yellow": int(counts.get("yellow", 0)),
        "green": int(counts.get("green", 0)),
        "last_unit": "、".join(units.loc[units["last"].astype(bool), "name"]) or None,
        "last_leader": "、".join(leaders.loc[leaders["last"].astype(bool), "name"]) or None,
    }
    numbers["money_unit"] = money_unit([numbers["arrived_yuan"], numbers["gap"]])
    numbers["period"] = words["title"][f"period_{kind}"]
    for name in PERIOD_ITEMS:
        numbers[f"period_{name}"] = _first(happened, name)
    numbers["period_arrived_yoy"] = _first(happened, "arrived_yuan_yoy")
    period_table = pd.DataFrame(
        {
            "metric": list(PERIOD_ITEMS),
            "actual": pd.array([_first(happened, n) for n in PERIOD_ITEMS], dtype="Int64"),
            "last_year": pd.array([_first(happened, f"{n}_last_year") for n in PERIOD_ITEMS], dtype="Int64"),
            "yoy_diff": pd.array([_first(happened, f"{n}_diff") for n in PERIOD_ITEMS], dtype="Int64"),
            "yoy": pd.array([_first(happened, f"{n}_yoy") for n in PERIOD_ITEMS], dtype="Float64"),
        }
    )
    period_labels = {"metric": "项目", "actual": numbers["period"]}
    h = words["headings"]
    target_columns = [
        c
        for c in (
            "metric",
            "period",
            "target",
            "target_to_date",
            "actual",
            "completion",
            "time_progress",
            "gap",
            "last_year",
            "yoy",
            "growth_target",
            "growth_gap",
        )
    ]
    rank_columns = ["rank", "name", "target", "target_to_date", "actual", "completion", "last"]
    red_list = waiting[waiting["level"] == "red"][
        ["project_name", "investor", "signed_on", "age_days", "level", "reason", "owner", "unit", "leader"]
    ].reset_index(drop=True)
    sections = [
        Section("targets", h["targets"], Sheet("目标任务", targets[target_columns].reset_index(drop=True))),
        Section(
            "period",
            h["period"].format(period=numbers["period"]),
            Sheet(f"{numbers['period']}情况", period_table, labels=period_labels),
        ),
        Section("rates", h["rates"], Sheet("三率", rates)),
        Section(
            "units",
            h["units"],
            Sheet("责任单位排名", units[rank_columns], money=["target", "target_to_date", "actual"]),
        ),
        Section(
            "leaders",
            h["leaders"],
            Sheet("包抓领导排名", leaders[rank_columns], money=["target", "target_to_date", "actual"]),
        ),
        Section("unstarted", h["unstarted"], Sheet("签约未开工", levels)),
        Section("unstarted_red", f"{h['unstarted']}（红灯项目）", Sheet("红灯项目", red_list)),
        Section(
            "trips",
            h["trips"],
            Sheet("本月外出招商", month_trips.drop(columns=["trip_id"])),
        ),
        Section("trip_results", f"{h['trips']}（成效）", Sheet("外出招商成效", results)),
        Section("major", h.get("major", "八、重点项目推进情况"), Sheet("重点项目", major_projects)),
        Section("quality", h.get("quality", "九、数据质量（查漏补缺）"), Sheet("数据质量", findings)),
    ]
    if charts:
        from crm import charts as charting  # matplotlib: only when the 通报 shows its charts

        by_key = {s.key: s for s in sections}
        if not targets.empty:
            by_key["targets"].chart = _chart(charting.plot_target_progress, targets)
        by_key["units"].chart = _chart(charting.plot_ranking, units, height=max(2.5, 0.35 * len(units) + 1))
        by_key["unstarted"].chart = _chart(charting.plot_unstarted, waiting)
    label_text = rules_label(rule_set)
    return Bulletin(
        kind=kind,
        as_of=as_of,
        period_start=start,
        title=words["title"][kind],
        rules=label_text,
        rules_text=rules_description(rule_set),
        lead=lead_paragraph(numbers, words),
        numbers=numbers,
        sections=sections,
    )


# ---------------------------------------------------------------- files


def _dateline(b: Bulletin) -> str:
    return f"截至{b.as_of.year}年{b.as_of.month}月{b.as_of.day}日"


def write_bulletin(b: Bulletin, path: str | Path) -> Path:
    """Write the 通报 to `path` by its suffix: .docx, .xlsx, .html or .json (the tables' machine rows)."""
    p = Path(path)
    suffix = check_suffix(p, SUFFIXES)
    if suffix == ".xlsx":
        heading = f"{b.title}（{_dateline(b)}）  统计口径: {b.rules_text}"
        return write_xlsx(p, [s.sheet for s in b.sections], heading=heading)
    if suffix == ".html":
        p.write_text(bulletin_html(b), encoding="utf-8")
    elif suffix == ".json":
        data = {
            "title": b.title,
            "as_of": b.as_of.isoformat(),
            "rules": b.rules,
            "lead": b.lead,
            "numbers": {k: plain(v) for k, v in b.numbers.items()},
            "tables": {
                s.key: [{k: plain(v) for k, v in r.items()} for r in s.sheet.df.to_dict(orient="records")]
                for s in b.sections
            },
        }
        p.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    else:
        _write_docx(b, p)
    return p


def bulletin_html(b: Bulletin) -> str:
    """The 通报 as one self-contained page: charts embedded as base64 PNG, tables scroll on a phone."""
    parts = [
        f"<h1>{html.escape(b.title)}</h1>",
        f"<p class='meta'>{html.escape(_dateline(b))}　统计口径: {html.escape(b.rules_text)}</p>",
        f"<p class='lead'>{html.escape(b.lead)}</p>",
    ]
    for s in b.sections:
        parts.append(f"<h2>{html.escape(s.heading)}</h2>")
        if s.chart:
            data = base64.b64encode(s.chart).decode("ascii")
            parts.append(f"<img class='chart' alt='{html.escape(s.heading)}' src='data:image/png;base64,{data}'>")
        parts.append(html_table(s.sheet) if not s.sheet.df.empty else "<p>（无）</p>")
    return html_page(f"{b.title} {_dateline(b)}", "\n".join(parts))


def print_bulletin(b: Bulletin, *, file: Any = None) -> None:
    """The 通报 on the terminal: title, date, counting rules, the lead paragraph, then every table."""
    from crm.display import print_table

    out = file or sys.stdout
    bold = out.isatty() and not os.environ.get("NO_COLOR")
    out.write((f"\x1b[1m{b.title}\x1b[0m" if bold else b.title) + "\n")
    out.write(f"{_dateline(b)}　统计口径：{b.rules_text}\n")
    out.write(b.lead + "\n")
    for s in b.sections:
        out.write("\n")
        print_table(
            s.sheet.df,
            title=s.heading,
            money=s.sheet.money,
            unit=s.sheet.unit,
            hide=s.sheet.hide,
            labels=s.sheet.labels,
            file=out,
        )


def _shade(cell: Any, rgb: str) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), rgb)
    cell._tc.get_or_add_tcPr().append(shading)


def _write_docx(b: Bulletin, path: Path) -> None:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "宋体"
    normal.font.size = Pt(11)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    for name, face in (("Title", "黑体"), ("Heading 1", "黑体")):
        style = doc.styles[name]
        style.font.name = face
        style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), face)
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)  # A4
    section.left_margin = section.right_margin = Cm(1.8)
    title = doc.add_heading(b.title, level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    dateline = doc.add_paragraph(_dateline(b))
    dateline.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(f"统计口径：{b.rules_text}").runs[0].font.size = Pt(9)
    lead = doc.add_paragraph(b.lead)
    lead.paragraph_format.first_line_indent = Pt(22)
    for s in b.sections:
        doc.add_heading(s.heading, level=1)
        if s.chart:
            doc.add_picture(io.BytesIO(s.chart), width=Cm(15))
        df = s.sheet.df
        if df.empty:
            doc.add_paragraph("（无）")
            continue
        formats = s.sheet.formats
        table = doc.add_table(rows=1, cols=len(formats))
        table.style = "Table Grid"
        for j, f in enumerate(formats):
            cell = table.rows[0].cells[j]
            cell.text = f.label
            cell.paragraphs[0].runs[0].font.bold = True
        last = [bool(v) for v in df["last"].tolist()] if "last" in df.columns else None
        values = {str(c): df[c].tolist() for c in df.columns}
        for i in range(len(df)):
            cells = table.add_row().cells
            for j, f in enumerate(formats):
                raw = values[f.name][i]
                cells[j].text = f.text(raw, i)
                if f.kind == "level" and str(raw) in LEVEL_FILLS:
                    _shade(cells[j], LEVEL_FILLS[str(raw)])
                elif last and last[i]:
                    _shade(cells[j], LAST_FILL)
        for row in table.rows:
            for cell in row.cells:
                for paragraph in cell.paragraphs:
                    for run in paragraph.runs:
                        run.font.size = Pt(8)
    doc.save(str(path))


__all__ = [
    "KINDS",
    "LEVEL_LABELS",
    "SUFFIXES",
    "Bulletin",
    "bulletin",
    "column_formats",
    "label",
    "lead_paragraph",
    "load_wording",
    "write_bulletin",
]

"""The short dashboard (周报) the leadership reads first: targets, the three rates, unstarted deals."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from sqlmodel import Session

from crm.display import percent, to_display
from crm.money import yi


def dashboard(session: Session, *, as_of: date) -> dict[str, pd.DataFrame]:
    """The dashboard's three tables as figures: county targets, overall rates, unstarted deals by level."""
    from crm import deals, metrics, metrics_major

    progress = metrics.target_progress(session, as_of=as_of, scope="county")
    rates = metrics.kpis(session, as_of=as_of)
    unstarted = deals.unstarted(session, as_of=as_of)
    levels = (
        unstarted.groupby("level")
        .size()
        .reindex(["red", "yellow", "green"], fill_value=0)
        .rename_axis("level")
        .reset_index(name="deals")
    )
    major = metrics_major.major_status(session, as_of=as_of)
    return {"targets": progress.reset_index(drop=True), "rates": rates, "unstarted": levels, "major": major}


def format_dashboard(figures: dict[str, pd.DataFrame], *, as_of: date) -> str:
    """The dashboard as plain text for a terminal (money in 亿元, rates in %)."""
    lines = [f"招商引资周报  截至 {as_of.isoformat()}", ""]
    targets = figures["targets"]
    if not targets.empty:
        lines.append("目标任务 (全县)")
        columns = [
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
                "yoy",
                "growth_gap",
            )
            if c in targets.columns
        ]
        lines.append(_table(to_display(targets[columns], unit="亿元")))
        lines.append("")
    else:
        lines.extend(["目标任务: 未设置 (crm target set ...)", ""])
    rates = figures["rates"]
    if not rates.empty:
        row = rates.iloc[0]
        lines.append(
            f"签约项目 {int(row['signed'])} 个, 开工 {int(row['started'])} 个, 竣工投产 {int(row['in_production'])} 个, "
            f"终止 {int(row['terminated'])} 个"
        )
        lines.append(
            f"履约率 {percent(row['fulfillment_rate']) or '—'}  "
            f"资金到位率 {percent(row['capital_arrival_rate']) or '—'}  "
            f"竣工投产率 {percent(row['completion_rate']) or '—'}  (口径: {rates.attrs.get('rules', '')})"
        )
        lines.append("")
    levels = figures["unstarted"]
    counts = dict(zip(levels["level"], levels["deals"], strict=True))
    lines.append(
        f"签约未开工 {sum(counts.values())} 个: 红色 {counts.get('red', 0)}, 黄色 {counts.get('yellow', 0)}, "
        f"绿色 {counts.get('green', 0)}"
    )
    major = figures.get("major")
    if major is not None and not major.empty:
        labels = major["status_label"].value_counts()
        lines.append(
            f"重点项目 {len(major)} 个: 滞后 {labels.get('滞后', 0)}, 超前 {labels.get('超前', 0)}, "
            f"正常 {labels.get('正常', 0)}; 完成投资 {yi(int(major['completed_yuan'].sum()))}, "
            f"序时计划 {yi(int(major['plan_to_date_yuan'].fillna(0).sum()))}"
        )
    return "\n".join(lines)


def _table(df: pd.DataFrame) -> str:
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200, "display.max_columns", 20):
        return df.to_string(index=False)


def write_dashboard(figures: dict[str, pd.DataFrame], path: Path, *, as_of: date) -> Path:
    """Write the dashboard to a file to forward: .xlsx (one sheet per table, Chinese headers,
    money in 亿元, rates in %) or, for any other suffix, the plain text of `format_dashboard`."""
    if path.suffix.lower() != ".xlsx":
        path.write_text(format_dashboard(figures, as_of=as_of) + "\n", encoding="utf-8")
        return path
    from openpyxl.styles import Font

    from crm.ledgers.cells import neutralise

    sheets = {
        "目标任务": figures["targets"],
        "三率": figures["rates"],
        "签约未开工": figures["unstarted"].rename(columns={"deals": "项目个数"}),
    }
    if figures.get("major") is not None and not figures["major"].empty:
        sheets["重点项目"] = figures["major"]
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, df in sheets.items():
            shown = to_display(df, unit="亿元").map(lambda v: neutralise(v) if isinstance(v, str) else v)
            shown.to_excel(writer, sheet_name=name, index=False, startrow=1)
            sheet = writer.sheets[name]
            sheet["A1"] = (
                f"招商引资周报 {name}  截至 {as_of.isoformat()}  口径: {figures['rates'].attrs.get('rules', '')}"
            )
            sheet["A1"].font = Font(bold=True)
            sheet.freeze_panes = "A3"
            for column in sheet.columns:
                width = max(len(str(c.value or "")) for c in column[1:]) if len(column) > 1 else 8
                sheet.column_dimensions[column[0].column_letter].width = min(40, 4 + 2 * width)
    return path

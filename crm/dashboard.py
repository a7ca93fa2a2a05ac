"""The short dashboard (周报) the leadership reads first: targets, the three rates, unstarted deals,
and the data-quality findings by kind."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlmodel import Session

from crm.display import percent, to_display
from crm.money import yi


def dashboard(session: Session, *, as_of: date) -> dict[str, pd.DataFrame]:
    """The dashboard's tables as figures: county targets, overall rates, unstarted deals by level and
    data-quality findings by kind (``crm check`` lists them) and the major projects' status."""
    from crm import metrics

    progress = metrics.target_progress(session, as_of=as_of, scope="county")
    rates = metrics.kpis(session, as_of=as_of)
    levels = metrics.unstarted_by_level(session, as_of=as_of)
    quality = metrics.count_quality(session, as_of=as_of)
    major = metrics.major_status(session, as_of=as_of)
    return {
        "targets": progress.reset_index(drop=True),
        "rates": rates,
        "unstarted": levels,
        "quality": quality,
        "major": major,
    }


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
    quality = figures.get("quality")
    if quality is not None:
        found = quality[quality["findings"] > 0]
        listed = "，".join(f"{k} {n}" for k, n in zip(found["label"], found["findings"], strict=True))
        lines.append(f"数据质量 {int(quality['findings'].sum())} 项" + (f": {listed} (crm check)" if listed else ""))
    return "\n".join(lines)


def _table(df: pd.DataFrame) -> str:
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200, "display.max_columns", 20):
        return df.to_string(index=False)

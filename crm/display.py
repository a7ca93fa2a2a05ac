"""Figures for people: money in 万元/亿元, rates as %, Chinese column headers.

Figures stay machine-friendly (integer yuan, fractions, snake_case) everywhere else;
only this module, the table output of the CLI and the notebooks' displays turn them
into what a bureau reads.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pandas as pd

from crm.models import DEAL_STATE_LABELS, TARGET_METRIC_LABELS
from crm.money import format_yuan

LABELS: dict[str, str] = {
    "deal_id": "项目编号",
    "project_name": "项目名称",
    "investor": "投资方",
    "industry": "产业",
    "origin": "投资方所在地",
    "unit": "责任单位",
    "leader": "包抓领导",
    "introducer": "第一引资人",
    "credited_unit": "招引单位",
    "signing_event": "签约活动",
    "signing_year": "签约年份",
    "signing_month": "签约月份",
    "signed_on": "签约日期",
    "signed": "签约项目",
    "started": "开工项目",
    "in_production": "竣工投产",
    "terminated": "终止",
    "contracted_yuan": "合同投资额",
    "arrived_yuan": "到位资金",
    "fulfillment_rate": "履约率",
    "capital_arrival_rate": "资金到位率",
    "completion_rate": "竣工投产率",
    "metric": "指标",
    "scope": "范围",
    "period": "期间",
    "target": "目标",
    "target_to_date": "序时目标",
    "actual": "完成",
    "completion": "完成率",
    "time_progress": "序时进度",
    "gap": "差距",
    "last_year": "去年同期",
    "yoy": "同比",
    "yoy_diff": "同比增减",
    "growth_target": "目标增速",
    "growth_gap": "增速差距(百分点)",
    "rank": "排名",
    "name": "名称",
    "last": "末位",
    "age_days": "签约天数",
    "level": "预警",
    "reason": "未开工原因",
    "owner": "专人跟踪",
    "last_follow_up": "最近跟踪",
    "next_due": "下次期限",
    "follow_up_overdue": "跟踪超期",
    "missing_procedures": "缺少手续",
    "signer": "签约人",
    "visits": "拜访",
    "leads": "线索",
    "cost_yuan": "费用",
    "cost_per_signed_yuan": "每签约项目费用",
    "planned_yuan": "计划投资",
    "target_yuan": "目标",
    "share": "完成比例",
    "month": "月份",
    "last_year_yuan": "去年同月",
    "score": "得分",
    "note": "说明",
}
LEVEL_LABELS = {"green": "绿", "yellow": "黄", "red": "红"}


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def percent(value: Any, places: int = 1) -> str:
    """0.2214 -> '22.1%'; missing -> ''."""
    if _is_missing(value):
        return ""
    return f"{float(value) * 100:.{places}f}%"


def to_display(df: pd.DataFrame, *, unit: str = "万元", chinese: bool = True) -> pd.DataFrame:
    """A copy of a figure for reading: ``*_yuan`` (and target/actual/gap of money metrics) in `unit`,
    rates and shares as %, levels as 红/黄/绿, headers in Chinese."""
    out = df.copy()
    money_metric = out["metric"].astype(str).str.endswith("_yuan") if "metric" in out.columns else None
    for column in out.columns:
        name = str(column)
        if name.endswith("_yuan"):
            out[column] = [("" if _is_missing(v) else format_yuan(Decimal(int(v)), unit)) for v in out[column]]
        elif name.endswith("_rate") or name in ("completion", "time_progress", "yoy", "share", "growth_target"):
            out[column] = [percent(v) for v in out[column]]
        elif name == "growth_gap":
            out[column] = ["" if _is_missing(v) else f"{float(v):+.1f}" for v in out[column]]
        elif name == "level":
            out[column] = [LEVEL_LABELS.get(str(v), v) for v in out[column]]
        elif name == "metric" and chinese:
            out[column] = [TARGET_METRIC_LABELS.get(v, v) for v in out[column]]
        elif name == "state" and chinese:
            out[column] = [DEAL_STATE_LABELS.get(v, v) for v in out[column]]
        elif name == "scope" and chinese:
            out[column] = ["全县" if v == "county" else v for v in out[column]]
        elif (
            name in ("target", "target_to_date", "actual", "gap", "last_year", "yoy_diff") and money_metric is not None
        ):
            out[column] = [
                ("" if _is_missing(v) else format_yuan(Decimal(round(float(v))), unit) if is_money else f"{v:,.0f}")
                for v, is_money in zip(out[column], money_metric, strict=True)
            ]
    if chinese:
        out = out.rename(columns={c: LABELS.get(str(c), c) for c in out.columns})
    return out

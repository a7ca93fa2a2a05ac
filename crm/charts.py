"""Charts over the figures' DataFrames: ``plot_x(df, *, ax=None) -> Axes``, seaborn style.

The third layer of figures: ``crm.metrics`` / ``crm.deals`` / ``crm.trips`` compute the DataFrames,
these functions only draw the frame they are given (no SQL, no figures computed here) and return
the Axes, so a notebook can add to it. ``ax=None`` draws on ``plt.gca()``. Rates arrive as
fractions and are shown as %; money arrives as integer yuan and is shown in 亿元 or 万元 with the
unit named on the axis. An empty frame draws an empty chart that says 无数据.

Every function first calls :func:`use_chinese_font`, which registers the Noto Sans CJK SC subset
bundled with the package (``crm.font``), so Chinese renders on a machine without system CJK fonts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from crm.errors import InvalidValue
from crm.font import FONT_FILE, font_path, register_font
from crm.models import TARGET_METRIC_LABELS

__all__ = [
    "FONT_FILE",
    "LEVEL_COLORS",
    "METRIC_LABELS",
    "font_path",
    "plot_capital_by_month",
    "plot_funnel",
    "plot_ranking",
    "plot_rates",
    "plot_target_progress",
    "plot_unstarted",
    "use_chinese_font",
]


METRIC_LABELS: dict[str, str] = {str(k): v for k, v in TARGET_METRIC_LABELS.items()}
RATE_LABELS: dict[str, str] = {
    "fulfillment_rate": "履约率",
    "capital_arrival_rate": "资金到位率",
    "completion_rate": "竣工投产率",
}
DIMENSION_LABELS: dict[str, str] = {
    "industry": "产业",
    "origin": "来源地",
    "unit": "责任单位",
    "leader": "包抓领导",
    "introducer": "第一引资人",
    "credited_unit": "招引单位",
    "signing_event": "签约活动",
    "signing_year": "签约年份",
    "signing_month": "签约月份",
    "trip": "外出招商",
    "squad": "招商小分队",
    "region": "地区",
}
SCOPE_LABELS: dict[str, str] = {"county": "全县"}
LEVEL_LABELS: dict[str, str] = {"green": "绿灯", "yellow": "黄灯", "red": "红灯"}
LEVEL_COLORS: dict[str, str] = {"green": "#2e9e44", "yellow": "#f2b705", "red": "#d62728"}
FUNNEL_STAGES: dict[str, str] = {"visits": "拜访", "leads": "洽谈线索", "signed": "签约"}
FUNNEL_VALUE_COLUMNS = frozenset(
    {"visits", "leads", "signed", "contracted_yuan", "arrived_yuan", "cost_yuan", "cost_per_signed_yuan"}
)

_BAR = "#3b75af"
_BAR_ALT = "#9dbbd8"
_MARK = "#e0701b"
_HIGHLIGHT = "#d62728"
_NO_DATA = "无数据"


def use_chinese_font() -> str:
    """Register the bundled Noto Sans CJK SC (see ``crm.font``) and make it the sans-serif font.

    Idempotent: the font file is registered once per process; the rcParams are set on every
    call (cheap) so a notebook that reset its style still gets Chinese glyphs. Returns the family name.
    """
    return register_font()


# ---------------------------------------------------------------- helpers


def _prepare(df: pd.DataFrame, columns: Iterable[str], ax: Axes | None, title: str) -> tuple[Axes, bool]:
    """Font, axes and title; checks the column contract. Returns (ax, is_empty)."""
    use_chinese_font()
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InvalidValue("df", list(df.columns), f"missing column(s) {', '.join(missing)}")
    if ax is None:
        ax = plt.gca()
    ax.set_title(title)
    if df.empty:
        ax.text(0.5, 0.5, _NO_DATA, transform=ax.transAxes, ha="center", va="center", fontsize=14, color="gray")
        ax.set_xticks([])
        ax.set_yticks([])
        return ax, True
    return ax, False


def _floats(values: Any) -> np.ndarray:
    """Numbers as floats with None/NA -> NaN (rates and amounts may be missing for a group)."""
    return np.asarray(pd.to_numeric(pd.Series(values), errors="coerce").astype("float64"))


def _pct(value: float) -> str:
    return "—" if np.isnan(value) else f"{value:.1%}"


def _label(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "未填"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _scope_label(scope: object) -> str:
    """全县 for the county scope (also when the frame leaves it empty), else the unit or leader name."""
    if scope is None or scope is pd.NA or (isinstance(scope, float) and np.isnan(scope)):
        return SCOPE_LABELS["county"]
    return SCOPE_LABELS.get(str(scope), str(scope))


def _money_scale(values: np.ndarray) -> tuple[float, str]:
    """亿元 when the largest amount reaches 1亿, else 万元."""
    finite = values[np.isfinite(values)]
    biggest = float(np.abs(finite).max()) if finite.size else 0.0
    return (1e8, "亿元") if biggest >= 1e8 else (1e4, "万元")


def _annotate_bars(ax: Axes, bars: Any, texts: Sequence[str], *, horizontal: bool = False) -> None:
    ax.bar_label(bars, labels=list(texts), padding=2, fontsize=8)
    if horizontal:
        ax.margins(x=0.15)
    else:
        ax.margins(y=0.12)


# ---------------------------------------------------------------- charts


def plot_target_progress(df: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """目标完成 vs 序时进度: one bar per target (completion), a marker for time progress.

    `df` is ``crm.metrics.target_progress``: metric, scope, period, completion, time_progress
    (fractions). The label names the scope and the period only when the frame holds several.
    """
    ax, empty = _prepare(df, ("metric", "completion", "time_progress"), ax, title or "目标任务完成与序时进度")
    if empty:
        return ax
    parts: list[pd.Series] = [df["metric"].map(lambda m: METRIC_LABELS.get(str(m), _label(m)))]
    for column in ("scope", "period"):
        if column in df.columns and df[column].astype(str).nunique() > 1:
            parts.append(df[column].map(_scope_label if column == "scope" else _label))
    labels = [" ".join(p) if len(p) == 1 else f"{p[0]}（{'，'.join(p[1:])}）" for p in zip(*parts, strict=True)]
    completion = _floats(df["completion"])
    progress = _floats(df["time_progress"])
    y = np.arange(len(df))
    bars = ax.barh(y, np.nan_to_num(completion), height=0.6, color=_BAR, label="目标完成率")
    ax.scatter(progress, y, marker="|", s=600, linewidths=3, color=_MARK, zorder=3, label="序时进度")
    _annotate_bars(ax, bars, [_pct(v) for v in completion], horizontal=True)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_xlabel("完成率（%）")
    ax.set_xlim(left=0)
    ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_rates(df: pd.DataFrame, *, by: str, ax: Axes | None = None, title: str | None = None) -> Axes:
    """履约率、资金到位率、竣工投产率 side by side for each group of `by` (e.g. industry, signing_year).

    `df` is ``crm.metrics.kpis(by=by)``; rates are fractions, a missing rate draws no bar.
    """
    dimension = DIMENSION_LABELS.get(by, by)
    ax, empty = _prepare(df, (by, *RATE_LABELS), ax, title or f"三率（按{dimension}）")
    if empty:
        return ax
    x = np.arange(len(df))
    width = 0.8 / len(RATE_LABELS)
    colors = (_BAR, _MARK, "#2e9e44")
    for i, (column, label) in enumerate(RATE_LABELS.items()):
        values = _floats(df[column])
        bars = ax.bar(x + (i - 1) * width, np.nan_to_num(values), width, color=colors[i], label=label)
        ax.bar_label(bars, labels=[_pct(v) for v in values], padding=1, fontsize=7, rotation=90)
    crowded = len(df) > 6
    ax.set_xticks(x, [_label(v) for v in df[by]], rotation=30 if crowded else 0, ha="right" if crowded else "center")
    ax.set_xlabel(dimension)
    ax.set_ylabel("比率（%）")
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    highest = max((float(np.nanmax(_floats(df[c]), initial=0)) for c in RATE_LABELS), default=0.0)
    ax.set_ylim(0, max(1.0, highest) * 1.2)
    ax.legend(fontsize=8, ncols=3, loc="upper left")
    return ax


def plot_capital_by_month(df: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """到位资金 by month: this year's bars beside the same month last year, in 亿元 (万元 when small).

    `df` is ``crm.metrics.arrivals_by_month``: month (1..12), arrived_yuan, last_year_yuan (yuan).
    """
    ax, empty = _prepare(df, ("month", "arrived_yuan", "last_year_yuan"), ax, title or "到位资金按月（与上年同期）")
    if empty:
        return ax
    this_year = _floats(df["arrived_yuan"])
    last_year = _floats(df["last_year_yuan"])
    scale, unit = _money_scale(np.concatenate([this_year, last_year]))
    months = _floats(df["month"])
    width = 0.4
    ax.bar(months - width / 2, np.nan_to_num(last_year) / scale, width, color=_BAR_ALT, label="上年同期")
    ax.bar(months + width / 2, np.nan_to_num(this_year) / scale, width, color=_BAR, label="本年")
    ax.set_xticks(months, [f"{int(m)}月" for m in months])
    ax.set_xlabel("月份")
    ax.set_ylabel(f"到位资金（{unit}）")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.4g}"))
    ax.legend(fontsize=8)
    return ax


def plot_unstarted(
    df: pd.DataFrame,
    *,
    ax: Axes | None = None,
    bucket_days: int = 90,
    max_days: int = 720,
    title: str | None = None,
) -> Axes:
    """签约未开工项目 by waiting time: stacked counts per `bucket_days` age bucket, coloured by level.

    `df` is ``crm.deals.unstarted``: one row per deal with age_days and level (green/yellow/red).
    Deals waiting `max_days` or longer share the last bucket.
    """
    if bucket_days <= 0 or max_days < bucket_days:
        raise InvalidValue("bucket_days", (bucket_days, max_days), "need 0 < bucket_days <= max_days")
    ax, empty = _prepare(df, ("age_days", "level"), ax, title or "签约未开工项目（按等待时长与预警等级）")
    if empty:
        return ax
    ages = np.nan_to_num(_floats(df["age_days"]))
    closed = max_days // bucket_days  # buckets [0, b), [b, 2b) ... then one open bucket "≥ closed*b"
    names = [f"{i * bucket_days}–{(i + 1) * bucket_days - 1}天" for i in range(closed)]
    names.append(f"≥{closed * bucket_days}天")
    index = np.clip(np.floor_divide(ages, bucket_days).astype(int), 0, closed)
    used = int(index.max()) + 1
    counts = (
        pd.DataFrame({"bucket": index, "level": df["level"].astype(str).to_numpy()})
        .groupby(["bucket", "level"])
        .size()
        .unstack(fill_value=0)
        .reindex(range(used), fill_value=0)
    )
    x = np.arange(used)
    bottom = np.zeros(used)
    levels = [lv for lv in LEVEL_LABELS if lv in counts.columns]
    levels += [lv for lv in counts.columns if lv not in LEVEL_LABELS]
    for level in levels:
        values = counts[level].to_numpy()[:used].astype(float)
        color = LEVEL_COLORS.get(level, "gray")
        bars = ax.bar(x, values, 0.7, bottom=bottom, color=color, label=LEVEL_LABELS.get(level, level))
        bottom += values
    ax.bar_label(bars, labels=[str(int(v)) if v else "" for v in bottom], padding=2, fontsize=8)
    ax.set_ylim(0, float(bottom.max()) * 1.15)
    ax.set_xticks(x, names[:used], rotation=30 if used > 5 else 0, ha="right" if used > 5 else "center")
    ax.set_xlabel("签约至今（天）")
    ax.set_ylabel("项目个数")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(title="预警等级", fontsize=8)
    return ax


def plot_funnel(
    df: pd.DataFrame,
    *,
    ax: Axes | None = None,
    group: object = None,
    by: str | None = None,
    title: str | None = None,
) -> Axes:
    """招商漏斗: visits → leads → signed as centred horizontal bars.

    `df` is ``crm.trips.funnel``: a group column plus visits, leads, signed. With `group` the row
    whose `by` column (default: the first non-figure column) equals it is drawn; with one row that
    row; otherwise the counts of all rows together (counts add up across groups).
    """
    ax, empty = _prepare(df, tuple(FUNNEL_STAGES), ax, title or "招商成效漏斗")
    if empty:
        return ax
    if by is None:
        keys = [c for c in df.columns if c not in FUNNEL_VALUE_COLUMNS]
        by = keys[0] if keys else None
    if group is not None:
        if by is None or by not in df.columns:
            columns = ", ".join(map(str, df.columns))
            raise InvalidValue("by", by, f"name the group column of the funnel frame ({columns})")
        rows = df[df[by] == group]
        if rows.empty:
            raise InvalidValue("group", group, f"not a value of column {by!r}")
        ax.set_title(title or f"招商成效漏斗：{_label(group)}")
    else:
        rows = df
        if len(df) == 1 and by is not None and by in df.columns:
            ax.set_title(title or f"招商成效漏斗：{_label(df[by].iloc[0])}")
    counts = np.array([float(np.nansum(_floats(rows[c]))) for c in FUNNEL_STAGES])
    widest = max(float(counts.max()), 1.0)
    y = np.arange(len(counts))
    bars = ax.barh(y, counts, left=(widest - counts) / 2, height=0.7, color=[_BAR, _MARK, "#2e9e44"])
    ax.bar_label(bars, labels=[f"{int(v)}" for v in counts], label_type="center", color="white", fontsize=11)
    ax.set_yticks(y, list(FUNNEL_STAGES.values()))
    ax.invert_yaxis()
    ax.set_xlim(0, widest)
    ax.set_xticks([])
    ax.set_xlabel("个数")
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    return ax


def plot_ranking(df: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """排名: completion per unit or leader, first place on top, the last place in red, a line at 100%.

    `df` is ``crm.metrics.ranking``: rank, name, completion (fraction), last (bool).
    """
    ax, empty = _prepare(df, ("rank", "name", "completion", "last"), ax, title or "目标完成排名")
    if empty:
        return ax
    rows = df.sort_values("rank", kind="stable")
    completion = _floats(rows["completion"])
    last = rows["last"].fillna(False).astype(bool).to_numpy()
    y = np.arange(len(rows))
    colors = [_HIGHLIGHT if is_last else _BAR for is_last in last]
    bars = ax.barh(y, np.nan_to_num(completion), height=0.7, color=colors)
    _annotate_bars(ax, bars, [_pct(v) for v in completion], horizontal=True)
    ax.axvline(1.0, color="gray", linestyle="--", linewidth=1)
    ax.set_yticks(y, [f"{_label(r)}. {_label(n)}" for r, n in zip(rows["rank"], rows["name"], strict=True)])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_xlabel("目标完成率（%）")
    ax.set_xlim(0, max(1.1, float(np.nanmax(completion, initial=0)) * 1.15))
    return ax

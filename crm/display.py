"""Figures for people: the one formatting layer of the CLI tables, the report files and the notebooks.

Figures stay machine-friendly everywhere else (integer yuan, fractions, snake_case, True/False);
this module decides how a column reads for a person, once, from its glossary name:

- headers are the glossary's Chinese labels (``arrived_yuan`` -> 到位资金, ``signed_yoy`` -> 签约项目同比);
- money is shown in 万元 or 亿元, chosen per column (亿元 when the column's largest amount reaches 1亿);
  ``target``/``actual``/``gap``... of a target table are money on the rows of a money metric only;
- rates and shares as %, growth gaps in percentage points, levels as 红灯/黄灯/绿灯, yes/no as 是/否,
  missing values (None, NaN, NA) as blanks.

Three faces share :func:`column_formats`: :func:`for_people` (a frame of display strings),
:func:`styled` (a pandas ``Styler`` for notebooks and HTML) and :func:`print_table` (a rich table
that fits the terminal). Spreadsheet writers use :meth:`ColumnFormat.excel` to store numbers as
numbers with a number format instead of display strings.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # importing the Styler takes pandas' jinja2 templates: 50 ms every command would pay
    from pandas.io.formats.style import Styler

from crm.models import CAPITAL_SOURCE_LABELS, DEAL_STATE_LABELS, LEAD_STAGE_LABELS, TARGET_METRIC_LABELS
from crm.money import format_yuan, yuan_to

LABELS: dict[str, str] = {
    "deal_id": "项目编号",
    "project_name": "项目名称",
    "investor": "投资方",
    "investor_name": "投资方",
    "industry": "产业",
    "origin": "投资方所在地",
    "region": "地区",
    "unit": "责任单位",
    "leader": "包抓领导",
    "introducer": "第一引资人",
    "credited_unit": "招引单位",
    "signing_event": "签约活动",
    "signing_year": "签约年份",
    "signing_month": "签约月份",
    "size_class": "规模",
    "zone": "园区",
    "signed_on": "签约日期",
    "started_on": "开工日期",
    "completed_on": "竣工投产日期",
    "terminated_on": "终止日期",
    "termination_reason": "终止原因",
    "registered_on": "入库日期",
    "arrived_on": "到位日期",
    "on": "日期",
    "due_on": "期限",
    "next_step": "下一步",
    "done_on": "完成日期",
    "location": "项目地点",
    "description": "项目简介",
    "signed": "签约项目",
    "started": "开工项目",
    "in_production": "竣工投产",
    "terminated": "终止",
    "unstarted": "签约未开工",
    "in_construction": "在建",
    "active": "在建及未开工",
    "start_rate": "开工率",
    "contracted_yuan": "合同投资额",
    "size_yuan": "合同投资额（含增资）",
    "arrived_yuan": "到位资金",
    "completed_investment_yuan": "完成投资",
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
    "growth_gap": "增速差距",
    "forecast": "预计完成",
    "forecast_gap": "预计差距",
    "rank": "排名",
    "name": "名称",
    "last": "末位",
    "age_days": "签约天数",
    "level": "预警",
    "deals": "项目个数",
    "reason": "未开工原因",
    "owner": "专人跟踪",
    "last_follow_up": "最近跟踪",
    "next_due": "下次期限",
    "follow_up_overdue": "跟踪超期",
    "missing_procedures": "缺少手续",
    "signer": "签约人",
    "state": "状态",
    "trip_id": "行程编号",
    "trip": "外出招商",
    "squad": "招商小分队",
    "members": "成员",
    "starts_on": "出发日期",
    "ends_on": "返回日期",
    "destinations": "目的地",
    "industries": "目标产业",
    "budget_yuan": "预算",
    "spent_yuan": "实际费用",
    "visits_planned": "计划拜访",
    "visits_done": "已拜访",
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
    "weight": "权重",
    "note": "说明",
    "rules": "统计口径",
    "at": "时间",
    "actor": "操作人",
    "action": "操作",
    "entity": "对象",
    "field": "字段",
    "old": "原值",
    "new": "新值",
    "source": "资金来源",
    "verified": "已核实",
    "fulfillment_basis": "履约口径",
    "completion_basis": "竣工投产口径",
    "sources": "资金来源",
    "verified_only": "只计已核实",
    "cohort_years": "统计年限",
    "is_default": "默认口径",
    "account": "数据库账户",
    "kind": "类别",
    "label": "问题",
    "severity": "级别",
    "findings": "条数",
    "record": "记录",
}
# period-figure columns: <name>_last_year, <name>_diff, <name>_yoy
SUFFIX_LABELS = {"_last_year": "去年同期", "_diff": "同比增减", "_yoy": "同比"}
LEVEL_LABELS = {"green": "绿灯", "yellow": "黄灯", "red": "红灯"}
LEVEL_FILLS = {"red": "F4B6B6", "yellow": "FFE699", "green": "C6E0B4"}  # RGB of the 红/黄/绿 cells
LAST_FILL = "F8CBAD"  # the last place of a league table
VALUE_LABELS: dict[str, dict[str, str]] = {
    "metric": {str(k): v for k, v in TARGET_METRIC_LABELS.items()},
    "state": {str(k): v for k, v in DEAL_STATE_LABELS.items()},
    "stage": {str(k): v for k, v in LEAD_STAGE_LABELS.items()},
    "source": {str(k): v for k, v in CAPITAL_SOURCE_LABELS.items()},
    "scope": {"county": "全县"},
    "severity": {"error": "错误", "warning": "警告", "info": "提示"},
    "entity": {"deal": "项目", "procedure": "前期手续", "follow_up": "跟踪记录", "capital_arrival": "到位资金"},
}
RATE_COLUMNS = frozenset({"completion", "time_progress", "yoy", "share", "growth_target"})
BOOL_COLUMNS = frozenset({"last", "follow_up_overdue", "verified", "is_default", "verified_only"})
# columns of a target table that are money on the rows of a money metric and counts elsewhere
AMOUNT_COLUMNS = ("target", "target_to_date", "actual", "gap", "last_year", "yoy_diff", "forecast", "forecast_gap")
YI = 100_000_000


def is_missing(value: Any) -> bool:
    """None, NaN, NaT and pd.NA: what a person sees as a blank."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def percent(value: Any, places: int = 1) -> str:
    """0.2214 -> '22.1%'; missing -> ''."""
    if is_missing(value):
        return ""
    return f"{float(value) * 100:.{places}f}%"


def label(name: str) -> str:
    """The Chinese header of a glossary column name (the name itself when the glossary has none)."""
    if name in LABELS:
        return LABELS[name]
    for suffix, words in SUFFIX_LABELS.items():
        if name.endswith(suffix) and name[: -len(suffix)] in LABELS:
            return LABELS[name[: -len(suffix)]] + words
    return name


def money_unit(values: Iterable[Any]) -> str:
    """亿元 when the largest amount (yuan) reaches 1亿, else 万元."""
    biggest = max((abs(int(v)) for v in values if not is_missing(v)), default=0)
    return "亿元" if biggest >= YI else "万元"


def _base(name: str) -> str:
    for suffix in ("_last_year", "_diff"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True)
class ColumnFormat:
    """How one column reads: its header and kind, and for money the unit (per row for mixed columns)."""

    name: str
    label: str
    kind: str  # money rate pp count number level bool date text
    unit: str = "万元"
    money_rows: tuple[bool, ...] | None = None  # AMOUNT_COLUMNS of a target table: money on these rows

    def _is_money(self, row: int) -> bool:
        if self.money_rows is not None:
            return self.money_rows[row]
        return self.kind == "money"

    def text(self, value: Any, row: int = 0) -> str:
        """The display string of one cell."""
        if is_missing(value):
            return ""
        if self._is_money(row):
            return format_yuan(Decimal(int(value)), self.unit)
        kind = self.kind
        if kind == "rate":
            return percent(value)
        if kind == "pp":
            return f"{float(value):+.1f}个百分点"
        if kind in ("count", "money"):  # money here: the count rows of a mixed column
            return f"{int(value):,}"
        if kind == "number":
            return f"{float(value):,.2f}"
        if kind == "level":
            return LEVEL_LABELS.get(str(value), str(value))
        if kind == "bool":
            return "是" if bool(value) else "否"
        if kind == "date":
            return value.isoformat()[:10] if isinstance(value, date) else str(value)[:10]
        if isinstance(value, list | tuple):
            return "、".join(str(v) for v in value)
        if self.name == "field":
            return label(str(value))
        if self.name == "metric":
            return VALUE_LABELS["metric"].get(str(value)) or label(str(value))
        return VALUE_LABELS.get(self.name, {}).get(str(value), str(value))

    def excel(self, value: Any, row: int = 0) -> tuple[Any, str | None]:
        """(cell value, number format) for a spreadsheet: numbers stay numbers, money in the column's unit."""
        if is_missing(value):
            return None, None
        if self._is_money(row):
            return float(yuan_to(int(value), self.unit)), f'#,##0.00"{self.unit}";-#,##0.00"{self.unit}"'
        kind = self.kind
        if kind == "rate":
            return float(value), "0.0%"
        if kind == "pp":
            return float(value), '+0.0"个百分点";-0.0"个百分点";0.0"个百分点"'
        if kind in ("count", "money"):
            return int(value), "#,##0"
        if kind == "number":
            return float(value), "#,##0.00"
        if kind == "date":
            if isinstance(value, pd.Timestamp | datetime):
                return value.date() if hasattr(value, "date") else value, "yyyy-mm-dd"
            return value, "yyyy-mm-dd"
        return self.text(value, row), None


def _kind(name: str, series: pd.Series) -> str:
    base = _base(name)
    if base.endswith("_yuan"):
        return "money"
    if name.endswith(("_rate", "_ratio", "_yoy")) or name in RATE_COLUMNS:
        return "rate"
    if name == "growth_gap":
        return "pp"
    if name == "level":
        return "level"
    present = series[series.notna()].tolist()  # what is_missing keeps, found by pandas at once
    if name in BOOL_COLUMNS or pd.api.types.is_bool_dtype(series.dtype):
        return "bool"
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    if pd.api.types.is_integer_dtype(series.dtype):
        return "count"
    if present and all(isinstance(v, date | pd.Timestamp) for v in present):
        return "date"
    if pd.api.types.is_float_dtype(series.dtype):
        if present and all(float(v).is_integer() for v in present) and name not in ("score", "weight"):
            return "count"
        return "number"
    if present and all(isinstance(v, int) for v in present):
        return "count"
    return "text"


def column_formats(
    df: pd.DataFrame,
    *,
    money: Sequence[str] = (),
    unit: str | None = None,
    hide: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
) -> list[ColumnFormat]:
    """The format of every column of `df` (except `hide`).

    `money` names extra money columns (a ranking's target/actual when it ranks a money metric);
    `unit` forces 万元 or 亿元 for every money column instead of choosing per column; `labels`
    overrides headers (a period table's ``actual`` reads 本周).
    """
    money_metric: tuple[bool, ...] | None = None
    if "metric" in df.columns:
        money_metric = tuple(str(m).endswith("_yuan") for m in df["metric"])
    out = []
    for column in df.columns:
        name = str(column)
        if name in hide:
            continue
        series = df[column]
        rows: tuple[bool, ...] | None = None
        if name in money:
            kind = "money"
        elif name in AMOUNT_COLUMNS and money_metric is not None:
            kind, rows = "money", money_metric
        else:
            kind = _kind(name, series)
        chosen = "万元"
        if kind == "money":
            values = [v for i, v in enumerate(series.tolist()) if rows is None or rows[i]]
            chosen = unit or money_unit(values)
        out.append(ColumnFormat(name, (labels or {}).get(name) or label(name), kind, chosen, rows))
    return out


def for_people(
    df: pd.DataFrame,
    *,
    money: Sequence[str] = (),
    unit: str | None = None,
    hide: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """A copy of a figure for reading: display strings under Chinese headers (see the module doc)."""
    formats = column_formats(df, money=money, unit=unit, hide=hide, labels=labels)
    data = {f.label: [f.text(v, i) for i, v in enumerate(df[f.name].tolist())] for f in formats}
    return pd.DataFrame(data, columns=[f.label for f in formats]).reset_index(drop=True)


def to_display(df: pd.DataFrame, *, unit: str = "万元", chinese: bool = True) -> pd.DataFrame:
    """The older name of :func:`for_people` with a fixed money unit (kept for notebooks written against it)."""
    shown = for_people(df, unit=unit)
    if not chinese:
        shown.columns = [str(c) for c in df.columns]
    return shown


def _level_css(value: Any) -> str:
    for level, text in LEVEL_LABELS.items():
        if value == text:
            return f"background-color: #{LEVEL_FILLS[level]}"
    return ""


def styled(
    df: pd.DataFrame,
    *,
    money: Sequence[str] = (),
    unit: str | None = None,
    hide: Sequence[str] = (),
    caption: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> Styler:
    """A pandas Styler of a figure for notebooks and HTML: Chinese headers, formatted cells, no index,
    红/黄/绿 backgrounds on the level column and the last place of a league table highlighted."""
    formats = column_formats(df, money=money, unit=unit, hide=hide, labels=labels)
    shown = for_people(df, money=money, unit=unit, hide=hide, labels=labels)
    style = shown.style.hide(axis="index")
    if caption:
        style = style.set_caption(caption)
    if "level" in {f.name for f in formats}:
        style = style.map(_level_css, subset=[next(f.label for f in formats if f.name == "level")])
    if "last" in df.columns:
        last = [bool(v) for v in df["last"].tolist()]
        style = style.apply(
            lambda row: [f"background-color: #{LAST_FILL}" if last[row.name] else "" for _ in row], axis=1
        )
    align = [f.label for f in formats if f.kind in ("money", "rate", "pp", "count", "number")]
    if align:
        style = style.set_properties(subset=align, **{"text-align": "right"})
    return style.set_table_styles(
        [
            {"selector": "th", "props": "text-align: center; white-space: nowrap; background-color: #DDEBF7"},
            {"selector": "td, th", "props": "padding: 2px 8px; border: 1px solid #ccc"},
            {"selector": "td", "props": "white-space: nowrap"},  # Chinese text must not wrap one character a line
            {"selector": "", "props": "border-collapse: collapse"},
        ]
    )


def _cells_width(texts: Iterable[str]) -> int:
    return max((sum(2 if ord(ch) > 0x2E80 else 1 for ch in t) for t in texts), default=0)


# A long table on a terminal is printed whole, unwrapped, beyond this many rows: wrapping every cell
# of a 1,500-deal list to the terminal's width takes rich ten seconds, and such a list is read with
# `less -S` or written with --out anyway.
WRAP_ROWS = 300
_RIGHT = ("money", "rate", "pp", "count", "number")
_LEVEL_SGR = {"红灯": "31", "黄灯": "33", "绿灯": "32"}


def _terminal_width(file: IO[str]) -> tuple[int, bool]:
    """(width, is a terminal) of `file` as the table printers see it."""
    if file.isatty():
        import shutil

        return shutil.get_terminal_size().columns, True
    width = os.environ.get("COLUMNS", "")
    return (int(width) if width.isdigit() else 10_000), False


def print_table(
    df: pd.DataFrame,
    *,
    title: str | None = None,
    money: Sequence[str] = (),
    unit: str | None = None,
    hide: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    file: IO[str] | None = None,
) -> None:
    """Print a figure as a table that fits the terminal's width (cells wrap, none is cut).

    A table that fits without wrapping (always, into a pipe or a file) is drawn here, line by line,
    exactly as rich would draw it (``tests/test_display_table.py`` holds the two to the same text);
    only a table that must wrap to the terminal goes through rich, whose layout takes ~7 ms a row."""
    out = file or sys.stdout
    if df.empty:
        if title:
            out.write(title + "\n")
        out.write("(无数据)\n")
        return
    formats = column_formats(df, money=money, unit=unit, hide=hide, labels=labels)
    cells = [_texts(f, df[f.name].tolist()) for f in formats]
    last = [bool(v) for v in df["last"].tolist()] if "last" in df.columns else None
    # no line break, tab or other control character: each text is one line of known width
    plain = all(
        f.label.isprintable() and all(map(str.isprintable, texts)) for f, texts in zip(formats, cells, strict=True)
    )
    width, terminal = _terminal_width(out)
    if plain:
        from rich.cells import cell_len

        lengths = [_cell_lengths(texts, cell_len) for texts in cells]
        widths = [max(cell_len(f.label), *n) for f, n in zip(formats, lengths, strict=True)]
        natural = sum(widths) + 3 * len(widths) - 1
        if natural <= width or len(df) > WRAP_ROWS:
            if title:
                out.write(title + "\n")
            color = terminal and not os.environ.get("NO_COLOR")
            out.write(_draw(formats, cells, lengths, widths, last, color=color))
            return
    _print_rich(formats, cells, last, title=title, file=out, width=None if terminal else width)


class _CharacterCells(dict[str, int]):
    """Each character's width in terminal cells, as rich measures it, looked up once per character."""

    def __missing__(self, character: str) -> int:
        from rich.cells import get_character_cell_size

        size = self[character] = get_character_cell_size(character)
        return size


_CHARACTER_CELLS = _CharacterCells()
_JOINERS = ("\u200d", "\ufe0f")  # a zero-width joiner or an emoji variation: rich measures the sequence


def _cell_lengths(texts: list[str], cell_len: Callable[[str], int]) -> list[int]:
    """The terminal width of each text: its length when printable ASCII, else the sum of its characters' widths
    (CJK characters are two cells; rich's cell_len when joiners make one glyph of several), worked out
    once per distinct text (a column repeats its industries and units)."""
    known: dict[str, int] = {}
    size_of = _CHARACTER_CELLS.__getitem__
    out = []
    for text in texts:
        size = known.get(text)
        if size is None:
            if text.isascii() and text.isprintable():
                size = len(text)
            elif _JOINERS[0] in text or _JOINERS[1] in text:
                size = cell_len(text)
            else:
                size = sum(map(size_of, text))
            known[text] = size
        out.append(size)
    return out


def _texts(f: ColumnFormat, values: list[Any]) -> list[str]:
    """The display strings of one column; a value repeated down the column (an industry, a date) is
    formatted once. Floats are not looked up: 0.0 and -0.0 are equal keys but print differently."""
    if f.money_rows is not None:
        return [f.text(v, i) for i, v in enumerate(values)]
    seen: dict[tuple[type, Any], str] = {}
    out = []
    for v in values:
        key = (v.__class__, v)
        try:
            text = seen.get(key) if v.__class__ is not float else None
        except TypeError:  # a list (a deal's missing procedures) is not a key
            text, key = None, None  # type: ignore[assignment]
        if text is None:
            text = f.text(v)
            if key is not None and v.__class__ is not float:
                seen[key] = text
        out.append(text)
    return out


def _draw(
    formats: Sequence[ColumnFormat],
    cells: Sequence[Sequence[str]],
    lengths: Sequence[Sequence[int]],
    widths: Sequence[int],
    last: Sequence[bool] | None,
    *,
    color: bool,
) -> str:
    """The table rich draws with ``Table(pad_edge=False)`` and its heavy-headed box, unwrapped.

    Each column is padded once, top to bottom, and the lines are its padded cells joined."""
    from rich.cells import cell_len

    edge = len(widths) - 1
    levels = [f.kind == "level" for f in formats]
    padded: list[list[str]] = []
    for j, (f, texts, sizes) in enumerate(zip(formats, cells, lengths, strict=True)):
        lead, trail, width, right = "" if j == 0 else " ", "" if j == edge else " ", widths[j], f.kind in _RIGHT
        column = []
        for i, (text, size) in enumerate(zip(texts, sizes, strict=True)):
            if color:
                sgr = "1;31" if last and last[i] else _LEVEL_SGR.get(text, "") if levels[j] else ""
                text = f"\x1b[{sgr}m{text}\x1b[0m" if sgr else text
            space = " " * (width - size)
            column.append(lead + (space + text if right else text + space) + trail)
        padded.append(column)

    def rule(left: str, fill: str, cross: str, end: str) -> str:
        return left + cross.join(fill * (w + (j > 0) + (j < edge)) for j, w in enumerate(widths)) + end

    head = []
    for j, f in enumerate(formats):
        text = f"\x1b[1m{f.label}\x1b[0m" if color else f.label
        space = " " * (widths[j] - cell_len(f.label))
        cell = space + text if f.kind in _RIGHT else text + space
        head.append(("" if j == 0 else " ") + cell + ("" if j == edge else " "))
    lines = [rule("┏", "━", "┳", "┓"), "┃" + "┃".join(head) + "┃", rule("┡", "━", "╇", "┩")]
    lines += ["│" + "│".join(row) + "│" for row in zip(*padded, strict=True)]
    lines.append(rule("└", "─", "┴", "┘"))
    return "\n".join(lines) + "\n"


def _print_rich(
    formats: Sequence[ColumnFormat],
    cells: Sequence[Sequence[str]],
    last: Sequence[bool] | None,
    *,
    title: str | None,
    file: IO[str],
    width: int | None,
) -> None:
    """The table through rich: cells wrap to fit the terminal."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=file, width=width, highlight=False, soft_wrap=False)
    if title:
        console.print(Text(title))
    table = Table(show_lines=False, header_style="bold", pad_edge=False)
    for f, texts in zip(formats, cells, strict=True):
        right = f.kind in _RIGHT
        # numbers never break inside; text wraps to fit the terminal
        widest = max(_cells_width([f.label]), _cells_width(texts))
        table.add_column(
            Text(f.label),
            justify="right" if right else "left",
            overflow="fold",
            min_width=widest if right else min(widest, 10),
            no_wrap=right,
        )
    levels = {"红灯": "red", "黄灯": "yellow", "绿灯": "green"}
    for i in range(len(cells[0]) if cells else 0):
        row = []
        for f, texts in zip(formats, cells, strict=True):
            text = texts[i]
            row.append(Text(text, style=levels.get(text, "") if f.kind == "level" else ""))
        table.add_row(*row, style="bold red" if last and last[i] else None)
    # a table that cannot fit even with its text wrapped is printed whole (the terminal wraps the lines)
    # rather than with columns squeezed to nothing or cut off
    needed = sum(int(c.min_width or 1) + 3 for c in table.columns) + 1
    if needed > console.width:
        console = Console(file=console.file, width=needed, highlight=False, soft_wrap=False)
    console.print(table)

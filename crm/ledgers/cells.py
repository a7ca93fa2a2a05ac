"""Reading one ledger cell: dates, months, periods, money, yes/no, choices, provinces, lists.

Every parser takes the raw cell (text from a CSV, or the str/float/int/bool/date/datetime
a spreadsheet holds) and returns a Python value or raises InvalidValue with a plain reason.
Blank cells never reach a parser (they are None).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from crm.errors import InvalidValue
from crm.money import parse_yuan
from crm.reference import REGIONS, region_short_name

Parser = Callable[[Any], Any]

EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01 (Excel's 1900 leap-year bug included)
FORMULA_MARKS = ("=", "+", "-", "@", "\t", "\r")

_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_MONTH = re.compile(r"^(\d{4})[-/.年](\d{1,2})月?(?:份)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SPLIT = re.compile(r"[、,;；/|\n]+")
_YEAR_MONTH = re.compile(r"^(\d{4})(\d{2})$")  # 202606
_SPAN = re.compile(r"^(\d{4})年?(\d{1,2})月?[-~～至到—–](\d{1,2})月(?:份)?(?:累计)?$")  # 2026年1-6月
_RANGE = re.compile(r"\d\s*(?:万元|亿元|万|亿|元)?\s*(?:-|~|～|至|到|—|–)\s*\d")  # 5000万-1亿

# Cells that stand for "nothing to report", never for zero: blank with spaces, dashes, a slash, 无, 本月未上报.
# Compared after `fold` (NFKC: full-width － and ／ become - and /).
PLACEHOLDERS = frozenset({"-", "--", "—", "——", "–", "/", "//", "\\", "无", "暂无", "本月未上报", "未上报"})


def is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and value != value


def is_placeholder(value: Any) -> bool:
    """Whether a cell is a placeholder (``-``, ``—``, ``/``, ``无``, ``本月未上报``): missing, not zero."""
    return isinstance(value, str) and fold(value) in PLACEHOLDERS


def fold(text: str) -> str:
    """NFKC, no spaces, lower case: how choices and names are compared."""
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()  # split() drops what \\s matches


# NUL and the other C0/C1 control characters (tab and line breaks are text): a broken export, never a name.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def parse_text(value: Any) -> str:
    """Text as written, trimmed; a number cell without a fraction loses its ``.0``; a neutralising quote goes."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        value = value.isoformat()[:10]
    text = str(value).strip()
    control = _CONTROL.search(text)
    if control:
        raise InvalidValue(
            "text", value, f"contains the control character U+{ord(control.group()):04X}; remove it and import again"
        )
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_MARKS):  # undo our own export's neutralising
        text = text[1:]
    return text


def _excel_serial(number: float) -> date:
    if not 1 <= number < 2_958_466:
        raise ValueError
    return EXCEL_EPOCH + timedelta(days=int(number))


def _ymd(year: str, month: str, day: str, value: Any) -> date:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise InvalidValue("date", value, "no such day") from None


def parse_date(value: Any) -> date:
    """A date from 2026-06-01, 2026/6/1, 2026.6.1, 2026年6月1日, 20260601, 2026-06 / 2026年6月 / 202606 (the 1st),
    an Excel serial number or a date/datetime cell. A period of months (2026年1-6月, as cumulative
    ledgers label their rows) gives the first day of its last month."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise InvalidValue("date", value, "a yes/no value is not a date")
    if isinstance(value, int | float):
        if float(value).is_integer() and (19000101 <= value <= 29991231 or 190001 <= value <= 299912):
            value = str(int(value))
        else:
            try:
                return _excel_serial(float(value))
            except ValueError:
                raise InvalidValue("date", value, "a number that is not an Excel date") from None
    text = unicodedata.normalize("NFKC", str(value)).strip().lower().replace(" 00:00:00", "")
    text = re.sub(r"\s*([-/.年月日])\s*", r"\1", text)
    m = _DATE.match(text)
    if m:
        return _ymd(m.group(1), m.group(2), m.group(3), value)
    m = _MONTH.match(text)
    if m:
        return _ymd(m.group(1), m.group(2), "1", value)
    m = _COMPACT.match(text)
    if m:
        return _ymd(m.group(1), m.group(2), m.group(3), value)
    m = _YEAR_MONTH.match(text)
    if m and 1 <= int(m.group(2)) <= 12:
        return _ymd(m.group(1), m.group(2), "1", value)
    m = _SPAN.match(text)
    if m:
        first, last = int(m.group(2)), int(m.group(3))
        if not 1 <= first <= last <= 12:
            raise InvalidValue("date", value, "months out of order or beyond 12")
        return _ymd(m.group(1), m.group(3), "1", value)
    if text.isdigit() and len(text) == 5:
        return _excel_serial(float(text))
    raise InvalidValue("date", value, "not a date (write e.g. 2026-06-01, 2026/6/1 or 2026年6月1日)")


def parse_month(value: Any) -> date:
    """The first day of the month a date or month (2026-06, 2026年6月) falls in."""
    return parse_date(value).replace(day=1)


_QUARTER = re.compile(r"^(\d{4})(?:年|-)?(?:q([1-4])|第?([一二三四1-4])季度)$")
_QUARTER_WORDS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}


def parse_period(value: Any) -> tuple[str, date]:
    """(period_kind, first day): 2026 / 2026年 -> year; 2026Q1 / 2026年第一季度 -> quarter; 2026-03 -> month."""
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and float(value).is_integer()
        and 1900 <= value <= 2999
    ):
        return "year", date(int(value), 1, 1)
    if isinstance(value, datetime | date):
        return "month", parse_month(value)
    text = fold(parse_text(value)).replace("年度", "年").replace("全年", "")
    m = re.match(r"^(\d{4})年?$", text)
    if m:
        return "year", date(int(m.group(1)), 1, 1)
    m = _QUARTER.match(text)
    if m:
        quarter = int(m.group(2)) if m.group(2) else _QUARTER_WORDS[m.group(3)]
        return "quarter", date(int(m.group(1)), 3 * quarter - 2, 1)
    m = _SPAN.match(text)
    if m:
        return _span_period(int(m.group(1)), int(m.group(2)), int(m.group(3)), value)
    try:
        return "month", parse_month(value)
    except InvalidValue:
        raise InvalidValue("period", value, "not a period (write 2026, 2026Q1 / 2026年第一季度 or 2026-03)") from None


def _span_period(year: int, first: int, last: int, value: Any) -> tuple[str, date]:
    """2026年1-3月 -> the first quarter, 2026年1-12月 -> the year, 2026年6-6月 -> June; other spans refused."""
    if first == last and 1 <= first <= 12:
        return "month", date(year, first, 1)
    if (first, last) == (1, 12):
        return "year", date(year, 1, 1)
    if first in (1, 4, 7, 10) and last == first + 2:
        return "quarter", date(year, first, 1)
    raise InvalidValue(
        "period", value, "a span of months is a target period only as a quarter (1-3月 ...) or the year (1-12月)"
    )


def format_period(kind: str, start: date) -> str:
    """The text `parse_period` reads back: 2026, 2026Q1, 2026-03."""
    if kind == "year":
        return str(start.year)
    if kind == "quarter":
        return f"{start.year}Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02d}"


def refuse_range(value: Any, field: str) -> None:
    """An amount written as a range (5000万-1亿, 1-2亿) is refused: a ledger figure is one number."""
    if isinstance(value, str) and _RANGE.search(unicodedata.normalize("NFKC", value)):
        raise InvalidValue(field, value, "a range is not an amount; write the one figure the ledger reports")


def money_parser(unit: str, field: str) -> Parser:
    def parse(value: Any) -> int:
        refuse_range(value, field)
        return parse_yuan(value, unit, field=field)

    return parse


def parse_decimal(value: Any) -> Decimal:
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(fold(str(value)).replace(",", ""))
    except InvalidOperation:
        raise InvalidValue("number", value, "not a number") from None
    if not number.is_finite():
        raise InvalidValue("number", value, "not a finite number")
    return number


def parse_number(value: Any) -> float:
    return float(parse_decimal(value))


def parse_percent(value: Any) -> float:
    """A fraction: ``10%`` -> 0.1; a number cell as is (Excel keeps 10% as 0.1); text 10 -> 0.1, 0.1 -> 0.1."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = fold(str(value))
    if text.endswith("%"):
        return float(parse_decimal(text[:-1]) / 100)
    number = parse_decimal(text)
    return float(number / 100 if abs(number) > 1 else number)


_YES = {"是", "已核实", "核实", "y", "yes", "true", "1", "√", "✓", "已核", "verified"}
_NO = {"否", "未核实", "n", "no", "false", "0", "×", "未核", "reported"}


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = fold(parse_text(value))
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise InvalidValue("yes/no", value, "write 是 or 否")


def choice_parser(choices: dict[str, str], field: str, refused: dict[str, str] | None = None) -> Parser:
    """A parser of one of `choices` (text -> stored value); `refused` texts fail with their own reason."""
    folded = {fold(k): str(v) for k, v in choices.items()}
    shown = "、".join(dict.fromkeys(k for k in choices if not k.isascii()))
    refusals = {fold(k): v for k, v in (refused or {}).items()}

    def parse(value: Any) -> str:
        text = fold(parse_text(value))
        found = folded.get(text)
        if found is None and text in refusals:
            raise InvalidValue(field, value, refusals[text])
        if found is None:
            raise InvalidValue(field, value, f"unknown value; use one of {shown}")
        return found

    return parse


def parse_region(value: Any) -> str:
    """The short name of a province, short or long: 广西壮族自治区 -> 广西."""
    return region_short_name(parse_text(value))


_PROVINCE_PREFIXES = sorted(
    [(full, short) for short, full, _ in REGIONS] + [(short, short) for short, _, _ in REGIONS],
    key=lambda pair: -len(pair[0]),
)


def split_place(text: str) -> tuple[str, str | None]:
    """(province short name, city or None) from 浙江杭州 / 浙江省杭州市 / 广东; InvalidValue if no province."""
    s = fold(text)
    for prefix, short in _PROVINCE_PREFIXES:
        if s.startswith(prefix):
            rest = s[len(prefix) :]
            return short, rest or None
    raise InvalidValue("region", text, "does not start with a province (write e.g. 广东深圳 or 浙江省杭州市)")


def parse_list(value: Any) -> list[str]:
    """Items separated by 、 , ; / or line breaks, trimmed, without blanks or repeats."""
    return list(dict.fromkeys(part.strip() for part in _SPLIT.split(parse_text(value)) if part.strip()))


def needs_quote(text: str) -> bool:
    """A text a spreadsheet would run as a formula (= + - @ tab CR first), or one that already starts
    with quotes before such a mark (so that the quote `parse_text` removes is always one we added)."""
    return text.lstrip("'").startswith(FORMULA_MARKS)


def neutralise(text: str) -> str:
    """A text cell that a spreadsheet would run as a formula gets a leading quote; `parse_text` removes
    exactly that quote again, so every stored text round-trips. Only for text: numbers stay numbers."""
    return "'" + text if needs_quote(text) else text


_PROCEDURE_DONE = {
    "已办",
    "已办理",
    "已办结",
    "办结",
    "已完成",
    "完成",
    "已取得",
    "已批复",
    "已备案",
    "已核准",
    "已审批",
    "是",
    "√",
    "✓",
    "有",
}
_PROCEDURE_DOING = {"办理中", "在办", "正在办理", "进行中", "在办理", "已申报", "已受理", "审批中"}
_PROCEDURE_NOT = {"未办", "未办理", "未开展", "未启动", "否", "×", "没有", "未取得"}


def parse_procedure(value: Any) -> tuple[str, date | None]:
    """A procedure cell (立项 / 用地 / 环评 / 规划 / 施工许可) as (ProcedureState value, the day it was done).

    A date means done on that day; 已办/已办结/已完成 done (no date); 办理中/在办 in progress; 未办 not started.
    """
    if isinstance(value, str):
        text = fold(value)
        if text in _PROCEDURE_DONE:
            return "done", None
        if text in _PROCEDURE_DOING:
            return "in_progress", None
        if text in _PROCEDURE_NOT:
            return "not_started", None
    try:
        return "done", parse_date(value)
    except InvalidValue:
        raise InvalidValue(
            "procedure", value, "write the date it was done, 已办 (done), 办理中 (in progress) or 未办 (not started)"
        ) from None


def read_cell(parse: Parser, value: Any) -> tuple[bool | None, Any]:
    """(True, value) for a cell `parse` reads, (False, reason) for one it refuses, (None, reason) for a placeholder
    (``-``, ``/``, ``无`` ...: missing, not zero) or a formula saved without its value."""
    if value.__class__ is not str or len(value) > 6:
        pass
    elif value == "":  # only a formula saved without its value reaches a parser empty
        return None, "a formula the file holds without its value; open it in Excel or WPS and save it again"
    elif fold(value) in PLACEHOLDERS:
        return None, f"{value.strip()!r} is a placeholder, not a value"
    try:
        return True, parse(value)
    except InvalidValue as exc:
        return False, exc.reason

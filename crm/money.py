"""Money: exact parsing of the amounts people write into integer yuan, and display.

Amounts are stored as whole yuan (int). Text is read with Decimal, never float:
``3000万`` -> 30_000_000, ``1.5亿`` -> 150_000_000, ``3,000.50`` with unit 元 -> 3001
(sub-yuan fractions round half up to the yuan). 万元 and 亿元 exist only when
reading ledgers and showing figures.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from crm.errors import BadAmount

# The largest amount stored: the databases' 64-bit integer. Anything at or beyond it is a typo, not money.
MAX_YUAN = 2**63 - 1
UNITS: dict[str, int] = {"元": 1, "万元": 10_000, "亿元": 100_000_000}
_UNIT_ALIASES = {
    "": None,
    "元": "元",
    "块": "元",
    "万": "万元",
    "万元": "万元",
    "亿": "亿元",
    "亿元": "亿元",
}
_CURRENCY_MARKS = ("人民币", "rmb", "cny", "¥", "￥")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$")
_COMPOUND = re.compile(r"^(?P<yi>[\d.]+)亿(?P<wan>[\d.]+)万?元?$")


def unit_factor(unit: str) -> int:
    """Yuan in one `unit` (元, 万元 or 亿元; 万 and 亿 are accepted too)."""
    key = _UNIT_ALIASES.get(unit.strip())
    if key is None:
        raise BadAmount(unit, f"unknown unit; use one of {', '.join(UNITS)}", field="unit")
    return UNITS[key]


def _normalise(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).strip().lower()
    for mark in _CURRENCY_MARKS:
        s = s.replace(mark, "")
    return s.replace(",", "").replace(" ", "").replace("，", "")


def to_decimal_yuan(value: object, unit: str = "元", *, field: str = "amount") -> Decimal:
    """The exact yuan value of `value` (text, int, Decimal or float cell) in `unit`, before rounding.

    Raises BadAmount for an amount of 2^63 yuan or more (about 9.2 × 10^18; the databases' integer).
    """
    try:
        exact = _decimal_yuan(value, unit, field)
    except ArithmeticError:  # an exponent beyond what Decimal holds (1e999999999)
        raise BadAmount(value, _TOO_LARGE, field=field) from None
    if abs(exact) > MAX_YUAN:
        raise BadAmount(value, _TOO_LARGE, field=field)
    return exact


_TOO_LARGE = "too large: an amount must be below 2^63 yuan (about 9.2 × 10^18 yuan, 9.2 × 10^10 亿元)"


def _decimal_yuan(value: object, unit: str, field: str) -> Decimal:
    factor = Decimal(unit_factor(unit))
    if isinstance(value, bool):
        raise BadAmount(value, "a yes/no value is not an amount", field=field)
    if isinstance(value, int):
        return Decimal(value) * factor
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise BadAmount(value, "not a finite number", field=field)
        return value * factor
    if isinstance(value, float):
        # Spreadsheet cells arrive as binary floats: their shortest repr is what the user typed.
        if value != value or value in (float("inf"), float("-inf")):
            raise BadAmount(value, "not a finite number", field=field)
        return Decimal(repr(value)) * factor
    if not isinstance(value, str):
        raise BadAmount(value, f"expected text or a number, not {type(value).__name__}", field=field)
    s = _normalise(value)
    if not s:
        raise BadAmount(value, "empty", field=field)
    compound = _COMPOUND.match(s)
    if compound:  # 1亿2000万
        try:
            return Decimal(compound["yi"]) * UNITS["亿元"] + Decimal(compound["wan"]) * UNITS["万元"]
        except InvalidOperation:
            raise BadAmount(value, "not a number", field=field) from None
    number = s
    written_unit = ""
    for suffix in ("亿元", "万元", "亿", "万", "元", "块"):
        if s.endswith(suffix):
            number, written_unit = s[: -len(suffix)], suffix
            break
    if not _NUMBER.match(number):
        raise BadAmount(value, "not a number (write e.g. 3000万, 1.5亿 or 3,000.50)", field=field)
    amount = Decimal(number)
    if written_unit:
        return amount * UNITS[_UNIT_ALIASES[written_unit] or "元"]
    return amount * factor


def parse_yuan(value: object, unit: str = "元", *, field: str = "amount", allow_negative: bool = False) -> int:
    """Integer yuan from what people write: ``3000万``, ``1.5亿``, ``3,000.50``, ``２０００``.

    A bare number is in `unit` (元, 万元 or 亿元); a unit written in the text wins.
    Raises BadAmount quoting the text when it is not an amount, or is negative
    unless `allow_negative`.
    """
    exact = to_decimal_yuan(value, unit, field=field)
    if exact < 0 and not allow_negative:
        raise BadAmount(value, "an amount cannot be negative", field=field)
    whole = int(exact.to_integral_value(rounding=ROUND_HALF_UP))
    if abs(whole) > MAX_YUAN:  # 9223372036854775807.4 rounds within; .5 does not
        raise BadAmount(value, _TOO_LARGE, field=field)
    return whole


def yuan_to(yuan: int | Decimal, unit: str) -> Decimal:
    """`yuan` expressed exactly in `unit` (元, 万元, 亿元)."""
    return Decimal(yuan) / Decimal(unit_factor(unit))


def format_yuan(yuan: int | Decimal | None, unit: str = "万元", places: int = 2) -> str:
    """Display ``123456789`` as ``12,345.68万元`` (or in 亿元 / 元)."""
    if yuan is None:
        return ""
    value = yuan_to(yuan, unit).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{value:,.{places}f}{_UNIT_ALIASES.get(unit, unit)}"


def wan(yuan: int | Decimal | None) -> str:
    """Display in 万元 with two decimals."""
    return format_yuan(yuan, "万元")


def yi(yuan: int | Decimal | None) -> str:
    """Display in 亿元 with two decimals."""
    return format_yuan(yuan, "亿元")

from decimal import Decimal

import pytest

from crm.errors import BadAmount
from crm.money import format_yuan, parse_yuan, to_decimal_yuan, wan, yi


@pytest.mark.parametrize(
    ("text", "unit", "yuan"),
    [
        ("3000万", "元", 30_000_000),
        ("3000万元", "元", 30_000_000),
        ("1.5亿", "元", 150_000_000),
        ("1.5亿元", "万元", 150_000_000),  # a unit written in the text wins over the column's
        ("1亿2000万", "元", 120_000_000),
        ("3,000.50", "元", 3001),  # half a yuan rounds up
        ("3,000.49", "元", 3000),
        ("3,000.50", "万元", 30_005_000),
        ("２０００", "万元", 20_000_000),  # full-width digits
        ("２，０００．５", "万元", 20_005_000),
        ("2000", "亿元", 200_000_000_000),
        (" 12.3456 ", "万元", 123_456),
        ("￥500", "元", 500),
        ("人民币500万元", "元", 5_000_000),
        ("0", "万元", 0),
        ("263亿", "元", 26_300_000_000),
        (1500, "万元", 15_000_000),
        (0.1, "万元", 1000),  # a float cell: 0.1 is what the user typed, not 0.1000000000000000055...
        (Decimal("0.01"), "亿元", 1_000_000),
    ],
)
def test_parse_yuan_reads_real_spellings(text: object, unit: str, yuan: int) -> None:
    assert parse_yuan(text, unit) == yuan


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("abc", "not a number"),
        ("3000美元", "not a number"),
        ("1.2.3万", "not a number"),
        ("-5万", "cannot be negative"),
        (float("nan"), "not a finite number"),
        (True, "yes/no"),
        (None, "expected text or a number"),
    ],
)
def test_parse_yuan_rejects_bad_amounts_quoting_the_text(text: object, reason: str) -> None:
    with pytest.raises(BadAmount, match=reason) as info:
        parse_yuan(text, "万元", field="总投资")
    assert repr(text) in str(info.value)
    assert "总投资" in str(info.value)


def test_unknown_unit_is_refused() -> None:
    with pytest.raises(BadAmount, match="unknown unit"):
        parse_yuan("5", "千元")


def test_negative_allowed_when_asked() -> None:
    assert parse_yuan("-5万", allow_negative=True) == -50_000


def test_exact_sum_has_no_drift() -> None:
    # 0.1万 ten times in floats would drift; in yuan it is exact.
    assert sum(parse_yuan("0.1", "万元") for _ in range(10)) == 10_000
    assert to_decimal_yuan("0.0001", "万元") == Decimal("1.0000")


def test_display() -> None:
    assert wan(123_456_789) == "12,345.68万元"
    assert yi(26_300_000_000) == "263.00亿元"
    assert format_yuan(1234, "元", 0) == "1,234元"
    assert wan(None) == ""

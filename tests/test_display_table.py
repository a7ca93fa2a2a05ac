"""The command line's tables: drawn line by line where they fit, exactly as rich draws them.

``crm.display.print_table`` draws a table that needs no wrapping itself (rich's layout costs ~7 ms
a row: 10 s for the 1,500 unstarted deals of a city) and hands only a table that must wrap to
the terminal to rich. These tests hold the two drawings to the same characters.
"""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm import display
from crm.display import column_formats, print_table

# Chinese, Latin, digits, the full-width forms and spaces: what a ledger's cells hold
_TEXT = st.text(
    alphabet=st.sampled_from(list("甲乙丙丁项目招商引资（）、，·abcXYZ 0123456789-_/%％Ａ１")),
    max_size=14,
)


def _rich_text(df: pd.DataFrame, title: str | None = None) -> str:
    """What rich prints for `df` with no width limit (the previous printer, kept as the reference)."""
    out = io.StringIO()
    formats = column_formats(df)
    cells = [[f.text(v, i) for i, v in enumerate(df[f.name].tolist())] for f in formats]
    last = [bool(v) for v in df["last"].tolist()] if "last" in df.columns else None
    display._print_rich(formats, cells, last, title=title, file=out, width=10_000)
    return out.getvalue()


def _fast_text(df: pd.DataFrame, title: str | None = None) -> str:
    out = io.StringIO()
    print_table(df, title=title, file=out)
    return out.getvalue()


@st.composite
def _frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(min_value=1, max_value=6))
    columns = {
        "project_name": st.lists(_TEXT, min_size=rows, max_size=rows),
        "arrived_yuan": st.lists(st.integers(min_value=-(10**13), max_value=10**13), min_size=rows, max_size=rows),
        "deals": st.lists(st.integers(min_value=0, max_value=10**6), min_size=rows, max_size=rows),
        "fulfillment_rate": st.lists(
            st.one_of(st.none(), st.floats(min_value=0, max_value=3)), min_size=rows, max_size=rows
        ),
        "level": st.lists(st.sampled_from(["red", "yellow", "green", None]), min_size=rows, max_size=rows),
        "unit": st.lists(_TEXT, min_size=rows, max_size=rows),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(columns)), min_size=1, max_size=6, unique=True))
    return pd.DataFrame({name: draw(columns[name]) for name in chosen})


@settings(max_examples=150, deadline=None)
@given(_frames())
def test_a_table_that_fits_is_drawn_as_rich_draws_it(df: pd.DataFrame) -> None:
    assert _fast_text(df, "标题") == _rich_text(df, "标题")


def test_a_league_table_with_its_last_place_and_levels_is_drawn_as_rich_draws_it() -> None:
    df = pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "unit": ["县商务局", "凤石街道", "坝中镇"],
            "arrived_yuan": [263_0000_0000, 1_2345_6700, 0],
            "completion_rate": [1.25, 0.5, None],
            "level": ["green", "yellow", "red"],
            "last": [False, False, True],
        }
    )
    fast = _fast_text(df, "排名")
    assert fast == _rich_text(df, "排名")
    assert fast.splitlines()[0] == "排名" and fast.splitlines()[2].startswith("┃排名 ┃ 责任单位 ┃")
    assert "\x1b" not in fast  # no colour codes into a file or a pipe


def test_a_terminal_gets_colours_on_the_same_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    df = pd.DataFrame({"unit": ["甲", "乙"], "level": ["red", "green"], "last": [False, True]})
    out = io.StringIO()
    monkeypatch.setattr(out, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    print_table(df, file=out)
    coloured = out.getvalue()
    assert "\x1b[31m红灯\x1b[0m" in coloured  # the level in its colour
    assert "\x1b[1;31m乙\x1b[0m" in coloured  # the last place in bold red
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == _rich_text(df)


def test_text_with_a_line_break_goes_through_rich() -> None:
    df = pd.DataFrame({"note": ["第一行\n第二行", "一行"]})
    assert _fast_text(df) == _rich_text(df)
    assert "第二行" in _fast_text(df)


def test_a_long_table_wider_than_the_terminal_is_printed_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    rows = display.WRAP_ROWS + 1
    df = pd.DataFrame({"project_name": ["一个名字很长很长很长很长很长很长的招商引资项目"] * rows, "deals": [1] * rows})
    text = _fast_text(df)
    assert text == _rich_text(df)  # unwrapped: one line a deal, as rich prints it without a width limit
    assert len(text.splitlines()) == rows + 4


def test_an_empty_figure_says_so() -> None:
    assert _fast_text(pd.DataFrame({"unit": []}), "标题") == "标题\n(无数据)\n"


def test_every_column_of_the_unstarted_list_has_a_chinese_header() -> None:
    from crm.deals import UNSTARTED_COLUMNS
    from crm.display import label

    assert {name: label(name) for name in UNSTARTED_COLUMNS if label(name) == name} == {}
    assert label("size_yuan") == "合同投资额（含增资）"


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.text(st.characters(), max_size=12)
        | st.text(st.sampled_from(list("项目Ａ１a\u0301\u200d\ufe0f👍🏽\u3000\u00ad\u0300e\u1100\u302a")), max_size=8),
        max_size=6,
    )
)
def test_each_text_is_as_wide_as_rich_measures_it(texts: list[str]) -> None:
    """Widths summed a character at a time (CJK two cells, combining marks none) equal rich's cell_len,
    joiner sequences and emoji included."""
    from rich.cells import cell_len

    assert display._cell_lengths(texts, cell_len) == [cell_len(t) for t in texts]

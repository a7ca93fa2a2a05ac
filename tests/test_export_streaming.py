"""Ledger exports are streamed: rows come from the database a chunk at a time and go to the file as they
come (xlsxwriter in constant_memory mode), so a million-row ledger is never held; a failed export leaves
the file it would have replaced as it was. Values and formats are checked in test_ledgers_roundtrip."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlmodel import Session

from crm import deals
from crm.arrivals import record_arrival
from crm.errors import InvalidValue
from crm.ledgers import export as export_module
from crm.ledgers import export_ledger, import_ledger, ledger_rows
from crm.ledgers.export import _wan, _wan_text
from crm.ledgers.schema import ledger_kind


def _county(session: Session, arrivals: int) -> None:
    deal = deals.sign(
        session,
        actor="t",
        project_name="大项目",
        investor="大集团",
        signed_on=date(2026, 1, 1),
        contracted_yuan=10**10 + 1,
    )
    for i in range(arrivals):
        assert deal.id is not None
        record_arrival(
            session, deal.id, on=date(2026, 1 + i % 12, 1 + i % 28), amount_yuan=12_345 + i, source="省外", actor="t"
        )
    session.commit()


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_export_reads_the_rows_in_chunks_and_round_trips(
    session: Session, tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_module, "FETCH_ROWS", 7)
    _county(session, 30)
    options: list[dict[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if "capital_arrival" in statement and statement.lstrip().upper().startswith("SELECT"):
            options.append(dict(context.execution_options))

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", seen)
    try:
        path = tmp_path / f"arrivals{suffix}"
        assert export_ledger(session, "arrivals", path) == 30
    finally:
        event.remove(bind, "before_cursor_execute", seen)
    assert any(o.get("yield_per") == 7 and o.get("stream_results") for o in options), options
    before = ledger_rows(session, "arrivals")
    again = import_ledger(session, "arrivals", path, actor="t")
    assert (again.inserted, again.already_present, again.errors) == (0, 30, [])
    assert ledger_rows(session, "arrivals") == before


def test_workbook_is_written_in_constant_memory_mode(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xlsxwriter

    modes: list[bool] = []
    original = xlsxwriter.Workbook.__init__

    def spy(self: Any, filename: Any = None, options: Any = None) -> None:
        modes.append(bool((options or {}).get("constant_memory")))
        original(self, filename, options)

    monkeypatch.setattr(xlsxwriter.Workbook, "__init__", spy)
    _county(session, 3)
    path = tmp_path / "deals.xlsx"
    assert export_ledger(session, "deals", path) == 1
    assert modes == [True]
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    assert sheet.max_row == 2
    assert sheet["G2"].value == pytest.approx(1_000_000.0001) and sheet["G2"].number_format == "#,##0.00"


def _endless() -> Iterator[tuple[Any, ...]]:
    n = 0
    while True:  # a list of these would never end: only a writer that streams can stop
        n += 1
        yield ("项目", "投资方", date(2026, 1, 1), date(2026, 2, 1), n, "省外", None, None, None, True, None, None)


def test_too_many_rows_for_a_sheet_stop_the_stream_and_keep_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_module, "EXCEL_MAX_ROWS", 500)
    spec = ledger_kind("arrivals")
    columns = [c for c in spec.columns if c.exported][:12]
    fields = tuple(c.name for c in columns)
    plan = export_module._plan(columns, fields, False)
    path = tmp_path / "arrivals.xlsx"
    path.write_bytes(b"yesterday's ledger")
    with pytest.raises(InvalidValue, match="more than 500 rows do not fit"), export_module._replacing(path) as part:
        export_module._write_xlsx(
            part, spec, columns, [c.export_title for c in columns], _endless(), plan, lambda n: None, shown=path
        )
    assert path.read_bytes() == b"yesterday's ledger"
    assert [p.name for p in tmp_path.iterdir()] == ["arrivals.xlsx"]  # no part file left behind


def test_csv_rows_are_written_as_they_come(tmp_path: Path) -> None:
    spec = ledger_kind("arrivals")
    columns = [c for c in spec.columns if c.exported][:12]
    plan = export_module._plan(columns, tuple(c.name for c in columns), True)
    made = 0
    held: list[int] = []

    def rows() -> Iterator[tuple[Any, ...]]:
        nonlocal made
        for row in _endless():
            if made == 35_000:
                return
            made += 1
            yield row

    written = 0

    def advance(n: int) -> None:
        nonlocal written
        written += n
        held.append(made - written)

    csv_rows = export_module._csv_rows(rows(), plan)
    assert export_module._write_csv(tmp_path / "a.csv", ["h"], csv_rows, advance) == 35_000
    assert max(held) <= 1  # each chunk is written before the next is read


@pytest.mark.parametrize("yuan", [0, 1, 99, 100, 12_345_678, 100_000_000, 123_456_789_012, -5, -1_234_500])
def test_wan_text_is_the_exact_wan(yuan: int) -> None:
    assert _wan_text(yuan) == f"{_wan(yuan):f}"
    assert Decimal(_wan_text(yuan)) * 10_000 == yuan


def test_text_that_reads_like_an_excel_escape_round_trips(session: Session, tmp_path: Path) -> None:
    """Excel writes a control character as _xHHHH_ (the library refuses them in text) and so escapes
    text that already reads like that (_x0041_ is written _x005F_x0041_); the export does the same,
    so the import reads the text back, not "A"."""
    deals.sign(
        session,
        actor="t",
        project_name="项目_x4E00_",
        investor="某_x0041_与_x005F_集团",
        signed_on=date(2026, 1, 1),
        contracted_yuan=10**8,
    )
    session.commit()
    path = tmp_path / "deals.xlsx"
    export_ledger(session, "deals", path)
    import zipfile

    from crm.ledgers import read_table

    sheet = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert "<t>项目_x005F_x4E00_</t>" in sheet  # as Excel writes it: Excel shows 项目_x4E00_, not 项目一

    table = read_table(path, ledger_kind("deals"))
    assert table.cells["project_name"] == ["项目_x4E00_"]
    assert table.cells["investor"] == ["某_x0041_与_x005F_集团"]


_TEXT = st.text(alphabet="ab中 \t\n\u3000&<>_x04A'=+-@", max_size=8)
_VALUES = st.one_of(
    _TEXT,
    st.integers(-(10**12), 10**12).map(_wan_text),
    st.dates(date(1990, 1, 1), date(2100, 12, 31)),
    st.integers(0, 10**6),
    st.booleans(),
)
_ATTRS = ('<c r="B', '" s="5"', '" s="6"', '" s="7" t="inlineStr"><is><t')


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.lists(st.none() | _TEXT, max_size=12),  # one kind of value: the comprehensions
        st.lists(st.none() | st.integers(-(10**12), 10**12).map(_wan_text), max_size=12),
        st.lists(st.none() | st.dates(), max_size=12),
        st.lists(st.none() | _VALUES, max_size=12),  # any: cell by cell
    )
)
def test_a_column_of_cells_is_written_as_each_cell_is(values: list[Any]) -> None:
    """A batch writes a column of one kind in one comprehension; each cell must come out as `_cell` writes it
    alone (escapes, formula marks, spaces kept, number and date styles)."""
    numbers = range(7, 7 + len(values))
    present = [v for v in values if v is not None]
    expected = [
        "" if v is None else export_module._cell(v, _ATTRS[0], r, *_ATTRS[1:])
        for r, v in zip(numbers, values, strict=True)
    ]
    assert export_module._column_cells(values, present, numbers, _ATTRS, {}) == expected


def test_plain_text_goes_out_as_it_is_and_any_other_cell_by_cell() -> None:
    assert export_module._plain(["项目甲", "a b", "x-1", "中\n文"])
    for odd in [
        "A&B",
        "<b>",
        "_x0041_",
        "'引号",
        "=1+1",
        "+86",
        "-3",
        "@me",
        " 前空格",
        "后空格 ",
        "全角\u3000",
        "\t",
        "",
    ]:
        assert not export_module._plain(["项目甲", odd]), odd


def test_the_workbook_is_deflated_at_the_fast_level(session: Session, tmp_path: Path) -> None:
    """zlib's fastest level: the sheet's stored bytes are exactly its XML deflated at ZIP_LEVEL (level 6, zlib's
    default, gives other bytes); the workbook module's ZipFile is xlsxwriter's own again afterwards."""
    import struct
    import zipfile
    import zlib

    import xlsxwriter.workbook

    _county(session, 300)
    path = tmp_path / "arrivals.xlsx"
    export_ledger(session, "arrivals", path)
    with zipfile.ZipFile(path) as book:
        info = book.getinfo("xl/worksheets/sheet1.xml")
        xml = book.read(info)
    with path.open("rb") as f:
        f.seek(info.header_offset)
        name_length, extra_length = struct.unpack("<HH", f.read(30)[26:30])
        f.seek(info.header_offset + 30 + name_length + extra_length)
        stored = f.read(info.compress_size)

    def deflated(level: int) -> bytes:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        return compressor.compress(xml) + compressor.flush()

    assert export_module.ZIP_LEVEL == 1
    assert stored == deflated(1) != deflated(6)
    assert xlsxwriter.workbook.ZipFile is zipfile.ZipFile

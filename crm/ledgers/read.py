"""Reading a ledger file into columns: find the header block, name each column by its path, keep row numbers.

``.xlsx``/``.xlsm`` are streamed row by row (``crm.ledgers.xlsx``: a million-row sheet is
never held whole); ``.xls`` and ``.ods`` are read with python-calamine (values, not
formulas); ``.csv`` in UTF-8 (with or without BOM), else GB18030 (what Chinese Excel
writes), or UTF-16 with a BOM (Excel's "Unicode text").

The layouts governments pass around are read as they are laid out:

- the header is a block of one to three rows; merged cells are expanded over their span, so
  a group over its leaves names each column by its path (``到位资金（万元）/本月``), matched
  to the schema whole or by its last parts (``签约情况/签约日期`` is 签约日期); the unit may sit
  on the leaf or on a group;
- title rows, 填报单位/填报人/日期 lines and a ``单位：万元`` line above the header are skipped
  (the unit line sets the unit of money columns whose header has none);
- below it, blank rows, 合计/总计 rows (at the top or the bottom, often formulas), 小计 rows and
  note rows (注：...) are skipped, each said so in ``skipped``;
- a label merged vertically over several rows (a unit, a tier, a township) belongs to each;
- columns headed 其中… are subsets of a neighbour and never read; cumulative columns (累计)
  are read as such (``Column.cumulative_of``);
- a wide sheet (months or quarters as columns: 1月 | 2月 ..., 一季度 ...) gives one record per
  filled cell, for the kinds whose schema says so (``LedgerKind.wide``).
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from itertools import chain, islice
from operator import itemgetter
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from crm.errors import InvalidValue, LedgerError, RowError
from crm.ledgers.cells import fold, format_period, is_blank, is_placeholder, parse_period
from crm.ledgers.schema import (
    IGNORED_HEADERS,
    LedgerKind,
    alias_map,
    is_subset_header,
    match_path,
    normalise_header,
)
from crm.ledgers.xlsx import FORMULA_WITHOUT_VALUE, Merge, XlsxBook

HEADER_SCAN_ROWS = 30
HEADER_DEPTH = 3  # rows a header block may span (group over subgroup over leaf)
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
STREAMED_SUFFIXES = (".xlsx", ".xlsm")  # read row by row (crm.ledgers.xlsx); .xls and .ods through python-calamine
_TOTAL_ROWS = {"合计": "a total row (合计)", "总计": "a total row (总计)", "累计": "a total row (累计)"}
_SUBTOTAL = "a subtotal row (小计)"
_SHEET_UNIT = re.compile(r"单位[:：]\s*(万元|亿元|元)")
_META = re.compile(
    r"^(?:填报单位|填表单位|报送单位|填报人|填表人|制表人|制表|审核人|审核|负责人|联系人|联系电话|填报日期|填表日期|"
    r"报送日期|统计日期|截止日期|日期|时间|单位)\s*[:：]"
)
_NOTE = re.compile(r"^(?:注|备注|说明|填报说明|数据来源|附注)\s*[:：0-9一1]|^注\s*[:：]?")
_YEAR = re.compile(r"(20\d\d|19\d\d)\s*年")
_NOTE_FIRST = frozenset("注备说数附")


@dataclass
class ColumnReading:
    """How one column of the sheet was understood: its header path, the field it fills, its unit."""

    index: int  # 0-based column in the sheet
    path: str  # the header block's cells top to bottom: 到位资金（万元）/本月
    field: str | None  # the schema field it fills; None when not read
    unit: str | None = None  # money columns: the unit of its cells
    note: str = ""  # why it is not read, or how (a cumulative column, a month of a wide sheet)
    period: Any = None  # a wide sheet's column: the period (targets: (kind, first day)) or month it holds

    @property
    def letter(self) -> str:
        return column_letter(self.index)


def column_letter(index: int) -> str:
    """Excel's letter of a 0-based column: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass
class Table:
    """The data rows of one ledger, column by column, as the file holds them."""

    path: Path
    sheet: str | None
    header_row: int  # the first row of the header block, as the user sees it in Excel (1-based)
    headers: dict[str, str]  # field -> header path as written (到位资金（万元）/本月)
    units: dict[str, str]  # money field -> unit of its cells
    rows: list[int] = field(default_factory=list)  # row numbers of the data rows (a wide row repeats)
    cells: dict[str, list[Any]] = field(default_factory=dict)  # field -> raw cells (None when blank)
    warnings: list[str] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row number, why) of rows not read


@dataclass
class _Sheet:
    name: str | None
    first_row: int  # 0-based row of the first row `rows` yields, in the sheet
    rows: Iterator[list[Any]]
    head: list[list[Any]] = field(default_factory=list)  # the first HEADER_SCAN_ROWS rows, already taken
    height: int | None = None  # rows in the sheet, when known without reading it
    merges: list[Merge] = field(default_factory=list)  # merged ranges, rows counted from first_row


def _decodes_as(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes as `encoding`, checked block by block (nothing kept)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _csv_encoding(path: Path) -> str:
    with path.open("rb") as f:
        start = f.read(4)
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    for encoding in ("utf-8-sig", "gb18030"):
        if _decodes_as(path, encoding):
            return encoding
    raise InvalidValue("file", "", "a CSV that is neither UTF-8 nor GB18030; save it again as CSV (UTF-8)")


def _read_csv(path: Path, stack: ExitStack) -> list[_Sheet]:
    text = stack.enter_context(path.open(encoding=_csv_encoding(path), newline=""))
    head = text.read(4096)
    text.seek(0)
    delimiter = "\t" if head.count("\t") > head.count(",") else ","
    return [_Sheet(None, 0, csv.reader(text, delimiter=delimiter))]


def _padded(rows: Iterator[list[Any]], columns: int) -> Iterator[list[Any]]:
    """Rows of a sheet whose used range starts right of column A, with the columns before it blank."""
    pad = [None] * columns
    for row in rows:
        yield pad + list(row)


def _read_calamine(path: Path, stack: ExitStack) -> list[_Sheet]:
    """Every sheet of an .xls or .ods through python-calamine (which loads one sheet at a time whole)."""
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own errors for a damaged or encrypted file
        raise InvalidValue("file", str(path), f"cannot read the workbook ({exc})") from None
    stack.callback(book.close)
    sheets = []
    for name in book.sheet_names:
        sheet = book.get_sheet_by_name(name)
        top, left = sheet.start or (0, 0)
        try:
            ranges = sheet.merged_cell_ranges or []
        except Exception:  # a format whose merged ranges calamine cannot read: cells as they are
            ranges = []
        merges = [(r0 - top, c0, r1 - top, c1) for (r0, c0), (r1, c1) in ranges]
        rows = sheet.iter_rows() if not left else _padded(sheet.iter_rows(), left)
        sheets.append(_Sheet(name, top, rows, height=sheet.height, merges=merges))
    return sheets


def _read_xlsx(path: Path, stack: ExitStack) -> list[_Sheet]:
    """Every sheet of an .xlsx as a stream of rows (see crm.ledgers.xlsx)."""
    try:
        book = XlsxBook(str(path))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError) as exc:
        raise InvalidValue("file", str(path), f"cannot read the workbook ({exc})") from None
    stack.callback(book.close)
    return [_Sheet(s.name, 0, book.rows(s), height=s.height, merges=s.merges) for s in book.sheets]


def read_sheets(path: str | Path, stack: ExitStack | None = None) -> list[_Sheet]:
    """The sheets of a ledger file, as row iterators (a CSV is one sheet); `stack` closes the file."""
    p = Path(path)
    if not p.exists():
        raise InvalidValue("file", str(p), "no such file")
    suffix = p.suffix.lower()
    if stack is None:  # the caller reads everything now
        with ExitStack() as own:
            sheets = read_sheets(p, own)
            return [_Sheet(s.name, s.first_row, iter(list(s.rows)), height=s.height, merges=s.merges) for s in sheets]
    if suffix in STREAMED_SUFFIXES:
        return _read_xlsx(p, stack)
    if suffix in EXCEL_SUFFIXES:
        return _read_calamine(p, stack)
    if suffix in (".csv", ".txt", ".tsv"):
        return _read_csv(p, stack)
    if suffix in (".xlsb", ".et", ".wps", ".numbers"):
        raise InvalidValue("file", str(p), f"{suffix} workbooks are not read; save the sheet as .xlsx (or .xls, .ods)")
    raise InvalidValue("file", str(p), "not a ledger file; use .xlsx, .xls, .ods or .csv")


# ---------------------------------------------------------------- the header block


def _expand_merges(head: list[list[Any]], merges: list[Merge]) -> None:
    """Give every cell of a merged range that starts in `head` the value of its top-left cell."""
    for r0, c0, r1, c1 in merges:
        if not 0 <= r0 < len(head):
            continue
        value = head[r0][c0] if c0 < len(head[r0]) else None
        for r in range(r0, min(r1, len(head) - 1) + 1):
            row = head[r]
            if len(row) <= c1:
                row.extend([None] * (c1 + 1 - len(row)))
            for c in range(c0, c1 + 1):
                row[c] = value


def _fill_merges(rows: Iterator[list[Any]], merges: list[Merge], head: list[list[Any]]) -> Iterator[list[Any]]:
    """The rows after `head`, each cell of a merged range given its top-left value (a unit over its rows)."""
    start = len(head)
    spans = sorted(m for m in merges if m[2] >= start and m[2] > m[0])
    if not spans:
        yield from rows
        return
    active: list[tuple[int, int, int, Any]] = []
    k = 0
    for index, row in enumerate(rows, start):
        while k < len(spans) and spans[k][0] <= index:
            r0, c0, r1, c1 = spans[k]
            k += 1
            source = head[r0] if r0 < start else row
            active.append((r1, c0, c1, source[c0] if c0 < len(source) else None))
        if active:
            active = [a for a in active if a[0] >= index]
            row = list(row)
            for _, c0, c1, value in active:
                if len(row) <= c1:
                    row.extend([None] * (c1 + 1 - len(row)))
                row[c0 : c1 + 1] = [value] * (c1 + 1 - c0)
        yield row


def _texts(row: list[Any]) -> list[str]:
    return [str(v).strip() for v in row if not is_blank(v)]


def _row_kind(row: list[Any]) -> str | None:
    """Why a row above or in the header block cannot be a header row: a title, a 填报 line, a unit line; None if it can."""
    texts = _texts(row)
    if not texts:
        return "blank"
    if any(_SHEET_UNIT.search(t) for t in texts):
        return "a unit line (单位：…)"
    if any(_META.match(fold(t)) for t in texts):
        return "a 填报单位/填报人/日期 line"
    if len(set(texts)) == 1:
        return f"a title row ({texts[0][:40]})"
    if any(not isinstance(v, str) for v in row if not is_blank(v)):
        return "numbers, not headers"
    first = fold(texts[0])
    if first in _TOTAL_ROWS or first.endswith("小计"):
        return "a total row"
    return None


_QUARTER_HEADER = re.compile(r"^(?:(\d{4})年?)?(?:第?([一二三四1-4])季度|q([1-4]))$")
_MONTH_HEADER = re.compile(r"^(?:(\d{4})年)?(\d{1,2})月份?$")
_QUARTERS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}


def _wide_period(kind: LedgerKind, parts: list[str], year: int | None) -> tuple[str, int, int | None] | None:
    """A wide sheet's column header as (month|quarter|year, number, year or None): 2026年3月, 一季度, 全年."""
    leaf = normalise_header(parts[-1])[0].replace("目标", "").replace("任务", "")
    for part in parts[:-1]:  # a year over the months (2026年 over 1月 | 2月 ...)
        m = re.search(r"(\d{4})", part)
        if m:
            year = int(m.group(1))
    m = _MONTH_HEADER.match(leaf)
    if m and 1 <= int(m.group(2)) <= 12:
        return "month", int(m.group(2)), int(m.group(1)) if m.group(1) else year
    if kind.name != "targets":  # arrivals are dated by month; quarters and years are targets' periods
        return None
    m = _QUARTER_HEADER.match(leaf)
    if m:
        number = int(m.group(3)) if m.group(3) else _QUARTERS[m.group(2)]
        return "quarter", number, int(m.group(1)) if m.group(1) else year
    if leaf in ("全年", "年度全年"):
        return "year", 1, year
    return None


@dataclass
class _Block:
    start: int  # index in head of the first header row
    depth: int
    columns: list[ColumnReading]
    score: int
    year: int | None
    sheet_unit: str | None


def _header_columns(
    kind: LedgerKind, rows: list[list[Any]], aliases: dict[str, str], sheet_unit: str | None, year: int | None
) -> list[ColumnReading]:
    width = max((len(r) for r in rows), default=0)
    columns = []
    for c in range(width):
        parts: list[str] = []
        for row in rows:
            if c < len(row) and not is_blank(row[c]):
                text = str(row[c]).strip()
                if not parts or parts[-1] != text:  # a cell merged down the block names the column once
                    parts.append(text)
        if not parts:
            continue
        path = "/".join(parts)
        if normalise_header(parts[-1])[0] in IGNORED_HEADERS:
            columns.append(ColumnReading(c, path, None, note="row numbers: not read"))
            continue
        if is_subset_header(parts):
            columns.append(ColumnReading(c, path, None, note="其中: a subset of a neighbouring column, never added"))
            continue
        name, unit = match_path(kind, parts, aliases)
        if name is None and kind.wide:
            period = _wide_period(kind, parts, year)
            if period is not None:
                value = kind.column(kind.wide[1])
                reading = ColumnReading(c, path, value.name, period=period)
                if value.unit:
                    reading.unit = unit or sheet_unit or value.unit
                columns.append(reading)
                continue
        if name is None:
            columns.append(ColumnReading(c, path, None, note="unknown header: not read"))
            continue
        column = kind.column(name)
        reading = ColumnReading(c, path, name)
        if column.unit:
            reading.unit = unit or sheet_unit or column.unit
        if column.cumulative_of:
            reading.note = f"cumulative (累计) of {column.cumulative_of}"
        columns.append(reading)
    return columns


def _find_block(kind: LedgerKind, head: list[list[Any]], aliases: dict[str, str]) -> _Block | None:
    """The header block (1 to HEADER_DEPTH rows) that names the most schema fields; ties go to the deeper block."""
    why = [_row_kind(row) for row in head]
    best: _Block | None = None
    sheet_unit: str | None = None
    year: int | None = None
    for i, row in enumerate(head):
        if why[i] is not None:
            for text in _texts(row):  # a title or a unit line above the header
                m = _SHEET_UNIT.search(text)
                if m:
                    sheet_unit = m.group(1)
                m = _YEAR.search(text)
                if m and year is None:
                    year = int(m.group(1))
            continue
        if len(set(_texts(row))) < 2:
            continue
        for depth in range(1, HEADER_DEPTH + 1):
            if i + depth > len(head) or (depth > 1 and why[i + depth - 1] not in (None, "blank")):
                break
            columns = _header_columns(kind, head[i : i + depth], aliases, sheet_unit, year)
            fields = {c.field for c in columns if c.field and c.period is None}
            score = len(fields) + (1 if any(c.period for c in columns) else 0)
            if score >= 2 and (best is None or (score, depth) > (best.score, best.depth)):  # earliest wins ties
                best = _Block(i, depth, columns, score, year, sheet_unit)
    return best


# ---------------------------------------------------------------- the data rows


def _column(rows: list[list[Any]], index: int) -> list[Any]:
    """One column of a sheet; short rows (a CSV line with fewer fields) give None."""
    if rows and min(map(len, rows)) > index:
        return list(map(itemgetter(index), rows))
    return [row[index] if index < len(row) else None for row in rows]


def _clean(values: list[Any]) -> list[Any]:
    """None for blank cells (empty, only spaces, NaN), the cell otherwise (a formula saved without its value stays).

    Equal texts become one string: a column of 100,000 cells holds a few hundred industries, units or
    dates, and a reader gives each cell its own copy (76 MB of the 100,000-deal ledger's 1.2M cells)."""
    same: dict[str, str] = {}
    return [
        None
        if v is None or (v == "" and v is not FORMULA_WITHOUT_VALUE) or v != v or (v.__class__ is str and v.isspace())
        else same.setdefault(v, v)
        if v.__class__ is str
        else v
        for v in values
    ]


def _label_kind(value: Any) -> str | None:
    """Why a row whose label cell holds `value` is not a record: a total, a subtotal, a note; None if it is one."""
    if value.__class__ is not str or not value:
        return None
    if "计" in value:
        text = fold(value)
        if text in _TOTAL_ROWS:
            return _TOTAL_ROWS[text]
        if text.endswith("小计"):
            return _SUBTOTAL
        if text.endswith(("合计", "总计")) or text.startswith(("合计", "总计")):
            return "a total row (合计)"
    if value[0] in "注备说数附" and _NOTE.match(value.strip()):
        return f"a note row ({value.strip()[:30]})"
    return None


class LedgerReader:
    """A ledger file opened for reading in chunks: the header is found on opening, data rows on demand.

        with LedgerReader(path, kind) as reader:
            for table in reader.chunks(50_000):   # a Table of at most 50,000 data rows
                ...

    Only the chunk being read is held in Python. ``columns`` says how each column was read
    (``ColumnReading``), ``skipped`` which rows were not and why (filled as chunks are read).
    Raises LedgerError when no header is found or a required column is missing.
    """

    def __init__(self, path: str | Path, kind: LedgerKind) -> None:
        self.path = Path(path)
        self.kind = kind
        self._stack = ExitStack()
        try:
            self._open()
        except BaseException:
            self._stack.close()
            raise

    def __enter__(self) -> LedgerReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def _open(self) -> None:
        kind, p = self.kind, self.path
        aliases = alias_map(kind)
        best: tuple[_Sheet, _Block] | None = None
        for sheet in read_sheets(p, self._stack):
            sheet.head = [list(row) for row in islice(sheet.rows, HEADER_SCAN_ROWS)]
            _expand_merges(sheet.head, sheet.merges)
            block = _find_block(kind, sheet.head, aliases)
            if block is not None and (best is None or block.score > best[1].score):  # the sheet naming the most
                best = (sheet, block)
        if best is None:
            expected = "、".join(c.title for c in kind.columns if c.required)
            raise LedgerError(
                [
                    RowError(
                        0,
                        "",
                        "",
                        f"no header row found in the first {HEADER_SCAN_ROWS} rows; "
                        f"a {kind.name} ledger needs columns such as {expected}",
                    )
                ],
                f"{p.name}: not a {kind.name} ledger",
            )
        sheet, block = best
        self.sheet: str | None = sheet.name
        self.header_row = sheet.first_row + block.start + 1  # as the user sees it in Excel
        self.header_rows = (self.header_row, self.header_row + block.depth - 1)
        self.headers: dict[str, str] = {}
        self.units: dict[str, str] = {}
        self.warnings: list[str] = []
        self.skipped: list[tuple[int, str]] = []
        for i, row in enumerate(sheet.head[: block.start]):
            why = _row_kind(row)
            if why not in (None, "blank"):
                self.skipped.append((sheet.first_row + i + 1, f"above the header: {why}"))
            elif why is None:
                self.skipped.append((sheet.first_row + i + 1, f"above the header: {'、'.join(_texts(row))[:40]}"))

        self.columns = block.columns
        positions: dict[str, int] = {}
        self._wide: list[ColumnReading] = []
        unknown = []
        for reading in block.columns:
            name = reading.field
            if name is None:
                if reading.note.startswith("unknown"):
                    unknown.append(reading.path)
                continue
            if reading.period is not None:
                self._wide.append(reading)
                if reading.unit:
                    self.units.setdefault(name, reading.unit)
                continue
            if name in positions:
                first = self.headers[name]
                self.warnings.append(
                    f"columns {first!r} and {reading.path!r} both mean {name}; {reading.path!r} is ignored"
                )
                reading.note = f"also means {name} (as {first}): not read"
                reading.field = None
                continue
            positions[name] = reading.index
            self.headers[name] = reading.path
            if reading.unit:
                self.units[name] = reading.unit
        if unknown:
            self.warnings.append(f"unknown columns ignored: {', '.join(unknown)}")
        self._year = block.year
        self._check_wide(positions)
        self._check_required(positions)
        self._positions = positions
        body = sheet.head[block.start + block.depth :]
        self._body = chain(body, _fill_merges(sheet.rows, sheet.merges, sheet.head))
        self._next_row = self.header_rows[1] + 1  # the row number of the next body row
        # data rows still to read, when the file says (an .xlsx sheet's height); None for a CSV
        used = block.start + block.depth
        self.expected_rows = None if sheet.height is None else max(0, sheet.height - used)

    def _check_wide(self, positions: dict[str, int]) -> None:
        if not self._wide:
            return
        assert self.kind.wide is not None
        period_field, value_field = self.kind.wide
        for reading in self._wide:
            self.headers.setdefault(value_field, reading.path)
            label, number, year = reading.period
            if year is None and period_field not in positions:
                raise LedgerError(
                    [RowError(self.header_row, reading.path, "", "a month or quarter column needs its year")],
                    f"{self.path.name}: write the year in the title (2026年…) or the header (2026年1月), "
                    f"or add a {self.kind.column(period_field).title} column",
                )
            what = {"month": f"month {number}", "quarter": f"quarter {number}", "year": "the year"}[label]
            reading.note = f"wide: {what}{f' of {year}' if year else ''}, one record per filled cell"
        if value_field in positions:
            self.warnings.append(
                f"{self.headers[value_field]!r} is read for the row's own period besides the month/quarter columns"
            )

    def _check_required(self, positions: dict[str, int]) -> None:
        given = set(positions)
        for column in self.kind.columns:
            if column.cumulative_of and column.name in given:
                given.add(column.cumulative_of)  # the month's amount is the difference of the running total
        if self._wide and self.kind.wide:
            given.update(self.kind.wide)
        missing = [c for c in self.kind.columns if c.required and c.name not in given]
        if missing:
            raise LedgerError(
                [
                    RowError(
                        self.header_row,
                        c.title,
                        "",
                        f"missing required column {c.title} (accepted headers: "
                        f"{'、'.join(dict.fromkeys((c.title, *c.aliases)))})",
                    )
                    for c in missing
                ],
                f"{self.path.name}: the {self.kind.name} ledger lacks required columns; nothing was imported",
            )

    def chunks(self, size: int | None = None) -> Iterator[Table]:
        """The data rows as Tables of at most `size` rows (None: one Table of every row).

        Blank rows, rows holding only ignored or unknown columns, total, subtotal and note
        rows are skipped (``skipped``); a chunk may hold fewer rows than `size`, but is never
        empty unless the ledger has no data rows at all (then one empty Table is yielded).
        """
        yielded = False
        while True:
            body = list(self._body if size is None else islice(self._body, size))
            if body:
                table = self._table(body)
                if table.rows:
                    yielded = True
                    yield table
            if not body or size is None:
                break
        if not yielded:
            yield self._table([])

    def _table(self, body: list[list[Any]]) -> Table:
        first = self._next_row
        self._next_row += len(body)
        table = Table(
            self.path,
            self.sheet,
            self.header_row,
            self.headers,
            self.units,
            warnings=self.warnings,
            skipped=self.skipped,
        )
        names = list(self._positions)
        columns = [_clean(_column(body, col)) for col in self._positions.values()]
        wide = [_clean(_column(body, r.index)) for r in self._wide]
        labels = sorted({*range(min(3, max(map(len, body), default=0))), *self._label_columns()})
        why: dict[int, str] = {}
        for col in labels:
            values = _column(body, col)
            # only a label with 计 in it or starting like a note can be one: the rest are not looked at
            marked = [i for i, v in enumerate(values) if v.__class__ is str and ("计" in v or v[:1] in _NOTE_FIRST)]
            for i in marked:
                reason = _label_kind(values[i])
                if reason and i not in why:
                    why[i] = reason
        width = len(columns) + len(wide)
        # blank rows, and rows holding only ignored or unknown columns, are skipped
        keep = [i for i, values in enumerate(zip(*columns, *wide, strict=True)) if values.count(None) != width]
        if why:
            for i in sorted(why.keys() & set(keep)):
                self.skipped.append((first + i, why[i]))
                self.warnings.append(f"row {first + i}: {why[i]} was skipped")
            keep = [i for i in keep if i not in why]
        if wide:
            return self._melt(table, first, keep, names, columns, wide)
        table.rows = [first + i for i in keep]
        if len(keep) == len(body):
            table.cells = dict(zip(names, columns, strict=True))
        else:
            table.cells = {name: [column[i] for i in keep] for name, column in zip(names, columns, strict=True)}
        return table

    def _label_columns(self) -> list[int]:
        return [
            self._positions[n] for n in ("project_name", "unit", "investor", "squad", "metric") if n in self._positions
        ]

    def _melt(
        self,
        table: Table,
        first: int,
        keep: list[int],
        names: list[str],
        columns: list[list[Any]],
        wide: list[list[Any]],
    ) -> Table:
        """A wide sheet's rows as one record per filled month or quarter cell (and the row's own, if it has one)."""
        assert self.kind.wide is not None
        period_field, value_field = self.kind.wide
        out: dict[str, list[Any]] = {name: [] for name in {*names, period_field, value_field}}
        rows: list[int] = []
        own = names.index(value_field) if value_field in names else None
        period_at = names.index(period_field) if period_field in names else None

        def add(i: int, period: Any, value: Any) -> None:
            rows.append(first + i)
            for name, column in zip(names, columns, strict=True):
                out[name].append(column[i])
            for name, cell in ((period_field, period), (value_field, value)):
                if name in names:
                    out[name][-1] = cell
                else:
                    out[name].append(cell)

        for i in keep:
            row_period = columns[period_at][i] if period_at is not None else None
            if own is not None and columns[own][i] is not None:
                add(i, row_period if row_period is not None else self._year, columns[own][i])
            for reading, cells in zip(self._wide, wide, strict=True):
                value = cells[i]
                if value is None or is_placeholder(value):
                    continue
                add(i, self._period_cell(reading, row_period), value)
        table.rows = rows
        table.cells = out
        return table

    def _period_cell(self, reading: ColumnReading, row_period: Any) -> Any:
        """The period (targets) or date (arrivals) a wide column's cell is for, as a cell the parsers read."""
        label, number, year = reading.period
        if year is None:  # the row's own period column gives the year
            try:
                year = parse_period(row_period)[1].year
            except InvalidValue:
                return f"{row_period} {reading.path}"  # fails to parse, naming both
        if self.kind.name != "targets":
            return date(year, number, 1)
        start = date(year, {"month": number, "quarter": 3 * number - 2, "year": 1}[label], 1)
        return format_period(label, start)


def read_table(path: str | Path, kind: LedgerKind) -> Table:
    """The whole ledger in `path` as one Table of `kind`'s columns (see LedgerReader to read in chunks).

    Raises LedgerError when no header row is found or a required column is missing.
    """
    with LedgerReader(path, kind) as reader:
        return next(reader.chunks(None))

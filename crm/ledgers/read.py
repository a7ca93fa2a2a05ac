"""Reading a ledger file into columns: find the header row, match headers, keep Excel row numbers.

``.xlsx``/``.xlsm``/``.xls``/``.ods`` are read with python-calamine (values, not formulas);
``.csv`` in UTF-8 (with or without BOM), else GB18030 (what Chinese Excel writes), or
UTF-16 with a BOM (Excel's "Unicode text"). Title rows above the header (merged or not)
are skipped; a ``单位：万元`` line among them sets the unit of money columns whose header
has none. Blank rows and 合计/总计/小计 rows are skipped.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import chain, islice
from operator import itemgetter
from pathlib import Path
from typing import Any

from crm.errors import InvalidValue, LedgerError, RowError
from crm.ledgers.cells import fold, is_blank
from crm.ledgers.schema import IGNORED_HEADERS, LedgerKind, alias_map, match_header, normalise_header

HEADER_SCAN_ROWS = 30
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
_TOTAL_ROWS = {"合计", "总计", "小计", "累计"}
_SHEET_UNIT = re.compile(r"单位[:：]\s*(万元|亿元|元)")


@dataclass
class Table:
    """The data rows of one ledger, column by column, as the file holds them."""

    path: Path
    sheet: str | None
    header_row: int  # as the user sees it in Excel (1-based)
    headers: dict[str, str]  # field -> header as written
    units: dict[str, str]  # money field -> unit of its cells
    rows: list[int] = field(default_factory=list)  # row numbers of the data rows
    cells: dict[str, list[Any]] = field(default_factory=dict)  # field -> raw cells (None when blank)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Sheet:
    name: str | None
    first_row: int  # 0-based row of the first row `rows` yields, in the sheet
    rows: Iterator[list[Any]]
    head: list[list[Any]] = field(default_factory=list)  # the first HEADER_SCAN_ROWS rows, already taken
    height: int | None = None  # rows in the sheet, when known without reading it


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


def _read_excel(path: Path, stack: ExitStack) -> list[_Sheet]:
    """Every sheet's first rows, and the rest of the sheet that names the most columns as an iterator.

    python-calamine loads a whole sheet in its own (compact) memory; rows become Python
    lists one at a time as they are iterated, so only the chunk being imported is held.
    """
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own errors for a damaged or encrypted file
        raise InvalidValue("file", str(path), f"cannot read the workbook ({exc})") from None
    stack.callback(book.close)
    sheets = []
    for name in book.sheet_names:
        sheet = book.get_sheet_by_name(name)
        start = sheet.start
        sheets.append(_Sheet(name, start[0] if start else 0, sheet.iter_rows(), height=sheet.height))
    return sheets


def read_sheets(path: str | Path, stack: ExitStack | None = None) -> list[_Sheet]:
    """The sheets of a ledger file, as row iterators (a CSV is one sheet); `stack` closes the file."""
    p = Path(path)
    if not p.exists():
        raise InvalidValue("file", str(p), "no such file")
    suffix = p.suffix.lower()
    if stack is None:  # the caller reads everything now
        with ExitStack() as own:
            sheets = read_sheets(p, own)
            return [_Sheet(s.name, s.first_row, iter(list(s.rows)), height=s.height) for s in sheets]
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(p, stack)
    if suffix in (".csv", ".txt", ".tsv"):
        return _read_csv(p, stack)
    raise InvalidValue("file", str(p), "not a ledger file; use .xlsx or .csv")


def _find_header(kind: LedgerKind, rows: list[list[Any]], aliases: dict[str, str]) -> tuple[int, int]:
    """(index of the header row, how many columns it names); (-1, 0) when no row names two."""
    best, best_score = -1, 1
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        names = {match_header(kind, cell, aliases)[0] for cell in row if not is_blank(cell)}
        score = len(names - {None})
        if score > best_score:
            best, best_score = i, score
    return best, (best_score if best >= 0 else 0)


def _column(rows: list[list[Any]], index: int) -> list[Any]:
    """One column of a sheet; short rows (a CSV line with fewer fields) give None."""
    if rows and min(map(len, rows)) > index:
        return list(map(itemgetter(index), rows))
    return [row[index] if index < len(row) else None for row in rows]


def _clean(values: list[Any]) -> list[Any]:
    """None for blank cells (empty, only spaces, NaN), the cell otherwise."""
    return [None if v is None or v == "" or v != v or (v.__class__ is str and v.isspace()) else v for v in values]


class LedgerReader:
    """A ledger file opened for reading in chunks: the header is found on opening, data rows on demand.

        with LedgerReader(path, kind) as reader:
            for table in reader.chunks(50_000):   # a Table of at most 50,000 data rows
                ...

    Only the chunk being read is held in Python (python-calamine keeps the sheet itself).
    Raises LedgerError when no header row is found or a required column is missing.
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
        best: tuple[_Sheet, int, int] | None = None
        for sheet in read_sheets(p, self._stack):
            sheet.head = list(islice(sheet.rows, HEADER_SCAN_ROWS))
            index, score = _find_header(kind, sheet.head, aliases)
            if index >= 0 and (best is None or score > best[2]):  # the sheet that names the most columns
                best = (sheet, index, score)
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
        sheet, header_index, _ = best
        self.sheet: str | None = sheet.name
        self.header_row = sheet.first_row + header_index + 1  # as the user sees it in Excel
        self.headers: dict[str, str] = {}
        self.units: dict[str, str] = {}
        self.warnings: list[str] = []

        sheet_unit = None
        for row in sheet.head[:header_index]:
            for cell in row:
                m = _SHEET_UNIT.search(str(cell or ""))
                if m:
                    sheet_unit = m.group(1)

        positions: dict[str, int] = {}
        unknown = []
        for col, cell in enumerate(sheet.head[header_index]):
            if is_blank(cell):
                continue
            name, unit = match_header(kind, cell, aliases)
            written = str(cell).strip()
            if name is None:
                if normalise_header(cell)[0] not in IGNORED_HEADERS:
                    unknown.append(written)
                continue
            if name in positions:
                self.warnings.append(
                    f"columns {self.headers[name]!r} and {written!r} both mean {name}; {written!r} is ignored"
                )
                continue
            positions[name] = col
            self.headers[name] = written
            column = kind.column(name)
            if column.unit:
                self.units[name] = unit or sheet_unit or column.unit
        if unknown:
            self.warnings.append(f"unknown columns ignored: {', '.join(unknown)}")

        missing = [c for c in kind.columns if c.required and c.name not in positions]
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
                f"{p.name}: the {kind.name} ledger lacks required columns; nothing was imported",
            )
        self._positions = positions
        self._body = chain(sheet.head[header_index + 1 :], sheet.rows)
        self._next_row = self.header_row + 1  # the row number of the next body row
        # data rows still to read, when the file says (an .xlsx sheet's height); None for a CSV
        self.expected_rows = None if sheet.height is None else max(0, sheet.height - header_index - 1)

    def chunks(self, size: int | None = None) -> Iterator[Table]:
        """The data rows as Tables of at most `size` rows (None: one Table of every row).

        Blank rows, rows holding only ignored or unknown columns, and total rows (合计) are
        skipped; a chunk may hold fewer rows than `size`, but is never empty unless the
        ledger has no data rows at all (then one empty Table is yielded).
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
        table = Table(self.path, self.sheet, self.header_row, self.headers, self.units, warnings=self.warnings)
        columns = [_clean(_column(body, col)) for col in self._positions.values()]
        totals = {
            i
            for col in range(min(3, max(map(len, body), default=0)))
            for i, v in enumerate(_column(body, col))
            if v.__class__ is str and "计" in v and fold(v) in _TOTAL_ROWS
        }
        width = len(columns)
        # blank rows, and rows holding only ignored or unknown columns, are skipped
        keep = [i for i, values in enumerate(zip(*columns, strict=True)) if values.count(None) != width]
        for i in sorted(totals.intersection(keep)):
            self.warnings.append(f"row {first + i}: a total row (合计) was skipped")
        if totals:
            keep = [i for i in keep if i not in totals]
        table.rows = [first + i for i in keep]
        if len(keep) == len(body):
            table.cells = dict(zip(self._positions, columns, strict=True))
        else:
            table.cells = {
                name: [column[i] for i in keep] for name, column in zip(self._positions, columns, strict=True)
            }
        return table


def read_table(path: str | Path, kind: LedgerKind) -> Table:
    """The whole ledger in `path` as one Table of `kind`'s columns (see LedgerReader to read in chunks).

    Raises LedgerError when no header row is found or a required column is missing.
    """
    with LedgerReader(path, kind) as reader:
        return next(reader.chunks(None))

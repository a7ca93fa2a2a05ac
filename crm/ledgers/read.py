"""Reading a ledger file into columns: find the header row, match headers, keep Excel row numbers.

``.xlsx``/``.xlsm``/``.xls``/``.ods`` are read with python-calamine (values, not formulas);
``.csv`` in UTF-8 (with or without BOM), else GB18030 (what Chinese Excel writes), or
UTF-16 with a BOM (Excel's "Unicode text"). Title rows above the header (merged or not)
are skipped; a ``单位：万元`` line among them sets the unit of money columns whose header
has none. Blank rows and 合计/总计/小计 rows are skipped.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
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
    first_row: int  # 0-based row of rows[0] in the sheet
    rows: list[list[Any]]


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise InvalidValue(
            "file", "", "a CSV that is neither UTF-8 nor GB18030; save it again as CSV (UTF-8)"
        ) from None


def _read_csv(path: Path) -> list[_Sheet]:
    text = _decode(path.read_bytes())
    head = text[:4096]
    delimiter = "\t" if head.count("\t") > head.count(",") else ","
    rows: list[list[Any]] = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    return [_Sheet(None, 0, rows)]


def _read_excel(path: Path) -> list[_Sheet]:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own errors for a damaged or encrypted file
        raise InvalidValue("file", str(path), f"cannot read the workbook ({exc})") from None
    sheets = []
    for name in book.sheet_names:
        sheet = book.get_sheet_by_name(name)
        start = sheet.start
        sheets.append(_Sheet(name, start[0] if start else 0, sheet.to_python()))
    return sheets


def read_sheets(path: str | Path) -> list[_Sheet]:
    p = Path(path)
    if not p.exists():
        raise InvalidValue("file", str(p), "no such file")
    suffix = p.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(p)
    if suffix in (".csv", ".txt", ".tsv"):
        return _read_csv(p)
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


def read_table(path: str | Path, kind: LedgerKind) -> Table:
    """The ledger in `path` as a Table of `kind`'s columns.

    Raises LedgerError when no header row is found or a required column is missing.
    """
    p = Path(path)
    aliases = alias_map(kind)
    sheets = read_sheets(p)
    found = [(sheet, *_find_header(kind, sheet.rows, aliases)) for sheet in sheets]
    found = [f for f in found if f[1] >= 0]
    if not found:
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
    sheet, header_index, _ = max(found, key=lambda f: f[2])  # the sheet that names the most columns
    header_row = sheet.first_row + header_index + 1

    sheet_unit = None
    for row in sheet.rows[:header_index]:
        for cell in row:
            m = _SHEET_UNIT.search(str(cell or ""))
            if m:
                sheet_unit = m.group(1)

    table = Table(p, sheet.name, header_row, {}, {})
    positions: dict[str, int] = {}
    unknown = []
    for col, cell in enumerate(sheet.rows[header_index]):
        if is_blank(cell):
            continue
        name, unit = match_header(kind, cell, aliases)
        written = str(cell).strip()
        if name is None:
            if normalise_header(cell)[0] not in IGNORED_HEADERS:
                unknown.append(written)
            continue
        if name in positions:
            table.warnings.append(
                f"columns {table.headers[name]!r} and {written!r} both mean {name}; {written!r} is ignored"
            )
            continue
        positions[name] = col
        table.headers[name] = written
        column = kind.column(name)
        if column.unit:
            table.units[name] = unit or sheet_unit or column.unit
    if unknown:
        table.warnings.append(f"unknown columns ignored: {', '.join(unknown)}")

    missing = [c for c in kind.columns if c.required and c.name not in positions]
    if missing:
        raise LedgerError(
            [
                RowError(
                    header_row,
                    c.title,
                    "",
                    f"missing required column {c.title} (accepted headers: "
                    f"{'、'.join(dict.fromkeys((c.title, *c.aliases)))})",
                )
                for c in missing
            ],
            f"{p.name}: the {kind.name} ledger lacks required columns; nothing was imported",
        )

    body = sheet.rows[header_index + 1 :]
    first = sheet.first_row + header_index + 2  # the row number of body[0]
    columns = [_clean(_column(body, col)) for col in positions.values()]
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
        table.warnings.append(f"row {first + i}: a total row (合计) was skipped")
    if totals:
        keep = [i for i in keep if i not in totals]
    table.rows = [first + i for i in keep]
    if len(keep) == len(body):
        cells = dict(zip(positions, columns, strict=True))
    else:
        cells = {name: [column[i] for i in keep] for name, column in zip(positions, columns, strict=True)}
    table.cells = cells
    return table

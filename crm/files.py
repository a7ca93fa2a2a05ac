"""Report files for people and tools: a figure written as what its file name's suffix says.

- ``.xlsx``: a real workbook, one sheet per table: a title row (what, as of when, counting rules),
  Chinese headers, numbers stored as numbers with number formats (万元/亿元 by a custom format,
  % for rates), 红/黄/绿 and last-place fills, landscape, fitted to the page width, the header
  row repeated on every printed page;
- ``.csv``: the machine rows of ``--format csv`` (snake_case, integer yuan, fractions) in UTF-8
  with a BOM, so Excel opens the Chinese right;
- ``.json``: the machine rows of ``--format json``;
- ``.html``: one self-contained page (no external file) that reads on a phone too.

Text cells a spreadsheet would run as a formula (= + - @, tab, CR) are neutralised; numbers
are never touched, so a negative number stays a number.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from crm.display import LAST_FILL, LEVEL_FILLS, ColumnFormat, column_formats, styled
from crm.errors import InvalidValue
from crm.font import font_path
from crm.ledgers.cells import FORMULA_MARKS, neutralise
from crm.ledgers.export import print_setup

TABLE_SUFFIXES = (".xlsx", ".csv", ".json", ".html")
HEADER_FILL = "DDEBF7"


@dataclass
class Sheet:
    """One table of a report file: its sheet name, the figure, and hints for the display layer."""

    name: str
    df: pd.DataFrame
    title: str = ""
    money: Sequence[str] = ()
    unit: str | None = None
    hide: Sequence[str] = ("rules",)
    labels: Mapping[str, str] | None = None
    formats: list[ColumnFormat] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.formats:
            self.formats = column_formats(self.df, money=self.money, unit=self.unit, hide=self.hide, labels=self.labels)


def check_suffix(path: Path, allowed: Sequence[str]) -> str:
    """The lower-case suffix of `path`, or InvalidValue naming the suffixes this output can write."""
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise InvalidValue("--out", str(path), f"this report writes {', '.join(allowed)} files, not {suffix or 'none'}")
    return suffix


# ---------------------------------------------------------------- machine rows


def plain(value: Any) -> Any:
    """A cell of the machine contract: None for missing, ISO dates, numpy scalars as Python numbers."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()[:10] if isinstance(value, date) and not isinstance(value, datetime) else str(value)
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def json_text(df: pd.DataFrame) -> str:
    rows = [{k: plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
    return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"


def csv_text(df: pd.DataFrame, *, neutralised: bool = False) -> str:
    """The rows as CSV; with `neutralised`, text cells that a spreadsheet would run get a leading quote."""
    if not neutralised:
        return df.to_csv(index=False, lineterminator="\n")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([str(c) for c in df.columns])
    for row in df.itertuples(index=False, name=None):
        cells = []
        for value in row:
            v = plain(value)
            cells.append("" if v is None else neutralise(v) if isinstance(v, str) else v)
        writer.writerow(cells)
    return out.getvalue()


# ---------------------------------------------------------------- xlsx


def _text_cell(cell: Any, text: str) -> None:
    """Store `text` as text: a formula mark at the start gets Excel's quote prefix (a style, not a character)."""
    cell.value = text
    cell.data_type = "s"
    if text.startswith(FORMULA_MARKS):
        cell.quotePrefix = True


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)  # CJK characters are two columns wide


def write_xlsx(path: Path, sheets: Sequence[Sheet], *, heading: str) -> Path:
    """A workbook of `sheets`; every sheet starts with a title row (`heading` and the sheet's title)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    header_fill = PatternFill("solid", fgColor=HEADER_FILL)
    level_fills = {k: PatternFill("solid", fgColor=v) for k, v in LEVEL_FILLS.items()}
    last_fill = PatternFill("solid", fgColor=LAST_FILL)
    for sheet_spec in sheets:
        ws = book.create_sheet(sheet_spec.name[:31])
        formats = sheet_spec.formats
        df = sheet_spec.df
        title = "  ".join(t for t in (heading, sheet_spec.title) if t)
        _text_cell(ws.cell(row=1, column=1), title)
        ws.cell(row=1, column=1).font = Font(bold=True, size=13)
        if formats:
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(1, len(formats)))
        widths = [_width(f.label) for f in formats]
        for j, f in enumerate(formats, start=1):
            cell = ws.cell(row=2, column=j)
            _text_cell(cell, f.label)
            cell.font = Font(bold=True)
            cell.fill = header_fill
            cell.border = border
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        last = [bool(v) for v in df["last"].tolist()] if "last" in df.columns else None
        columns = {str(c): df[c].tolist() for c in df.columns}
        for i in range(len(df)):
            for j, f in enumerate(formats, start=1):
                raw = columns[f.name][i]
                value, number_format = f.excel(raw, i)
                cell = ws.cell(row=3 + i, column=j)
                if isinstance(value, str):
                    _text_cell(cell, value)
                    widths[j - 1] = max(widths[j - 1], min(_width(value), 50))
                else:
                    cell.value = value
                    if number_format:
                        cell.number_format = number_format
                    widths[j - 1] = max(widths[j - 1], len(f.text(raw, i)) + 2)
                cell.border = border
                if f.kind == "level" and str(raw) in level_fills:
                    cell.fill = level_fills[str(raw)]
                elif last and last[i]:
                    cell.fill = last_fill
        for j, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(j)].width = min(max(w + 2, 8), 52)
        ws.freeze_panes = "A3"
        print_setup(ws, header_rows="1:2")
    if not book.sheetnames:
        book.create_sheet("无数据")
    book.save(path)
    return path


# ---------------------------------------------------------------- html

PAGE_CSS = """
body { font-family: "CRM Noto Sans SC", "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 12px; color: #222; line-height: 1.6; }
h1 { font-size: 1.5em; text-align: center; margin: 0.4em 0; }
h2 { font-size: 1.15em; border-left: 4px solid #3b75af; padding-left: 8px; margin-top: 1.4em; }
.meta { color: #555; font-size: 0.9em; text-align: center; }
.lead { font-size: 1.05em; text-indent: 2em; }
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { padding: 3px 8px; border: 1px solid #ccc; }
td { white-space: nowrap; }
img.chart { max-width: 100%; height: auto; display: block; margin: 0.5em auto; }
@media (max-width: 600px) { body { padding: 6px; } table { font-size: 0.8em; } }
"""


def font_face(text: str) -> str:
    """A CSS @font-face with the bundled Chinese font cut down to the characters of `text` (WOFF,
    base64): the page reads the same on a machine without Chinese fonts, at ~100 KB."""
    from fontTools import subset

    options = subset.Options()
    options.hinting = False
    font = subset.load_font(str(font_path()), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    font.flavor = "woff"
    buffer = io.BytesIO()
    font.save(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"@font-face {{ font-family: 'CRM Noto Sans SC'; src: url(data:font/woff;base64,{data}) format('woff'); }}"


def html_page(title: str, body: str) -> str:
    """A self-contained HTML page: inline CSS with the font it needs, a viewport for phones."""
    css = font_face(title + body) + PAGE_CSS
    return (
        "<!DOCTYPE html>\n<html lang='zh-CN'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{html.escape(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def html_table(sheet: Sheet) -> str:
    style = styled(sheet.df, money=sheet.money, unit=sheet.unit, hide=sheet.hide, labels=sheet.labels)
    return f"<div class='table-wrap'>{style.to_html()}</div>"


# ---------------------------------------------------------------- one figure


def write_table(
    df: pd.DataFrame,
    path: Path,
    *,
    title: str = "",
    money: Sequence[str] = (),
    unit: str | None = None,
) -> Path:
    """Write one figure to `path` by its suffix (.xlsx, .csv, .json, .html); InvalidValue for another suffix."""
    suffix = check_suffix(path, TABLE_SUFFIXES)
    if suffix == ".csv":
        path.write_text(csv_text(df, neutralised=True), encoding="utf-8-sig")
    elif suffix == ".json":
        path.write_text(json_text(df), encoding="utf-8")
    else:
        rules = str(df.attrs.get("rules") or (df["rules"].iloc[0] if "rules" in df.columns and len(df) else ""))
        heading = "  ".join(t for t in (title, f"统计口径: {rules}" if rules else "") if t)
        sheet = Sheet("数据", df, money=money, unit=unit)
        if suffix == ".xlsx":
            write_xlsx(path, [sheet], heading=heading)
        else:
            meta = f"统计口径: {rules}" if rules else ""
            body = f"<h1>{html.escape(title)}</h1>\n<p class='meta'>{html.escape(meta)}</p>\n{html_table(sheet)}"
            path.write_text(html_page(title or path.stem, body), encoding="utf-8")
    return path

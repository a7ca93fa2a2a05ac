"""Reading an .xlsx sheet as a stream of rows, so a million-row ledger is never held whole.

python-calamine loads a whole sheet before the first row comes out (a 1,000,000-row
arrivals ledger peaked near 690 MB), so .xlsx/.xlsm sheets are read here instead: the
sheet's XML is inflated block by block from the zip and its rows are cut out with
regular expressions, one block at a time. Cells come back as python-calamine gives them:
numbers as float, text as str, booleans as bool, date-formatted numbers as date (or
datetime when they carry a time), blank as None. A formula cell gives the value the
file saved with it; a formula saved without one (files written by a program that does
not calculate) gives ``FORMULA_WITHOUT_VALUE``, so the importer can say so.

Merged ranges (``<mergeCells>``) come after the rows in the sheet's XML: they are found
by a first pass over the inflated XML that keeps nothing but them.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import unescape
from pathlib import PurePosixPath
from typing import IO, Any
from xml.etree import ElementTree

BLOCK = 1 << 20  # inflated bytes scanned at a time
EXCEL_EPOCH = datetime(1899, 12, 30)
Merge = tuple[int, int, int, int]  # first row, first column, last row, last column (0-based, inclusive)


class FormulaWithoutValue(str):
    """A formula cell saved without its computed value."""


FORMULA_WITHOUT_VALUE = FormulaWithoutValue("")

_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}
_ROW = re.compile(r"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
_CELL = re.compile(r"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_REF = re.compile(r'\br="([A-Z]+)(\d+)"')
_ROW_NUMBER = re.compile(r'\br="(\d+)"')
_VALUE = re.compile(r"<v>(.*?)</v>", re.S)
_TEXT = re.compile(r"<t\b[^>]*>(.*?)</t>", re.S)
_PHONETIC = re.compile(r"<rPh\b.*?</rPh>", re.S)
_MERGE = re.compile(rb'<mergeCell\b[^>]*?ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')
_DIMENSION = re.compile(rb'<dimension\b[^>]*?ref="(?:[A-Z]+)(\d+)(?::(?:[A-Z]+)(\d+))?"')
# number formats Excel builds in that show a date or a time (Chinese locales included)
_DATE_FORMAT_IDS = frozenset({14, 15, 16, 17, 18, 19, 20, 21, 22, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 45, 46, 47})
_DATE_FORMAT_IDS |= frozenset(range(50, 59))
_QUOTED = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')


def column_index(letters: str) -> int:
    """0-based column of ``A``, ``Z``, ``AA`` ..."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _is_date_format(code: str) -> bool:
    plain = _QUOTED.sub("", code).lower()
    return any(ch in plain for ch in "ymd年月日") or ("h" in plain and "s" in plain)


def _text_of(fragment: str) -> str:
    """The text of an ``<si>`` or ``<is>``: its ``<t>`` runs, phonetic guides left out."""
    if "<rPh" in fragment:
        fragment = _PHONETIC.sub("", fragment)
    text = "".join(_TEXT.findall(fragment))
    return unescape(text) if "&" in text else text


def _serial(value: float) -> date | datetime:
    moment = EXCEL_EPOCH + timedelta(days=value)
    if value.is_integer():
        return moment.date()
    return moment.replace(microsecond=0) if moment.microsecond < 500_000 else moment


@dataclass
class XlsxSheet:
    name: str
    path: str  # inside the zip
    height: int | None
    merges: list[Merge]


class XlsxBook:
    """An .xlsx/.xlsm opened for streaming: its sheets, shared strings and date styles."""

    def __init__(self, path: str) -> None:
        self.zip = zipfile.ZipFile(path)
        try:
            self.names = set(self.zip.namelist())
            self.sheets = self._sheets()
            self.strings = self._shared_strings()
            self.date_styles = self._date_styles()
        except BaseException:
            self.zip.close()
            raise

    def close(self) -> None:
        self.zip.close()

    def _xml(self, name: str) -> ElementTree.Element:
        with self.zip.open(name) as f:
            return ElementTree.parse(f).getroot()

    def _sheets(self) -> list[XlsxSheet]:
        book = self._xml("xl/workbook.xml")
        rels = self._xml("xl/_rels/workbook.xml.rels")
        targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("rel:Relationship", _NS)}
        out = []
        for sheet in book.findall("m:sheets/m:sheet", _NS):
            target = targets.get(sheet.get(f"{{{_NS['r']}}}id"), "")
            inner = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
            if inner in self.names:
                height, merges = self._scan(inner)
                out.append(XlsxSheet(sheet.get("name", ""), inner, height, merges))
        return out

    def _scan(self, inner: str) -> tuple[int | None, list[Merge]]:
        """The sheet's height from ``<dimension>`` and its merged ranges, in one pass keeping neither rows nor cells."""
        height = None
        merges: list[Merge] = []
        tail = b""
        seen_data_end = False
        with self.zip.open(inner) as f:
            first = True
            while block := f.read(BLOCK):
                if first:
                    m = _DIMENSION.search(block[:4096])
                    if m:
                        height = int(m.group(2) or m.group(1))
                    first = False
                text = tail + block
                if not seen_data_end:
                    end = text.find(b"</sheetData>")
                    if end < 0:
                        tail = text[-16:]
                        continue
                    seen_data_end = True
                    text = text[end:]
                tail = text
        for m in _MERGE.finditer(tail):
            c0, r0 = column_index(m.group(1).decode()), int(m.group(2)) - 1
            if m.group(3):
                c1, r1 = column_index(m.group(3).decode()), int(m.group(4)) - 1
            else:
                c1, r1 = c0, r0
            merges.append((r0, c0, r1, c1))
        return height, merges

    def _shared_strings(self) -> list[str]:
        name = "xl/sharedStrings.xml"
        if name not in self.names:
            return []
        strings: list[str] = []
        with self.zip.open(name) as f:
            for fragment in _fragments(f, "si"):
                strings.append(_text_of(fragment))
        return strings

    def _date_styles(self) -> frozenset[int]:
        name = "xl/styles.xml"
        if name not in self.names:
            return frozenset()
        root = self._xml(name)
        custom = {int(f.get("numFmtId", "0")): f.get("formatCode", "") for f in root.findall("m:numFmts/m:numFmt", _NS)}
        dates = set()
        for index, xf in enumerate(root.findall("m:cellXfs/m:xf", _NS)):
            fmt = int(xf.get("numFmtId", "0"))
            if fmt in _DATE_FORMAT_IDS or (fmt in custom and _is_date_format(custom[fmt])):
                dates.add(index)
        return frozenset(dates)

    def rows(self, sheet: XlsxSheet) -> Iterator[list[Any]]:
        """The sheet's rows from its first, as lists (missing rows come as empty lists)."""
        strings, date_styles = self.strings, self.date_styles
        expected = 0  # 0-based index of the next row to yield
        with self.zip.open(sheet.path) as f:
            for attributes, inner in _rows(f):
                m = _ROW_NUMBER.search(attributes)
                number = int(m.group(1)) - 1 if m else expected
                while expected < number:
                    yield []
                    expected += 1
                expected = number + 1
                if not inner:
                    yield []
                    continue
                row: list[Any] = []
                width = 0
                for attrs, body in _CELL.findall(inner):
                    ref = _REF.search(attrs)
                    index = column_index(ref.group(1)) if ref else width
                    if index > width:
                        row.extend([None] * (index - width))
                    width = index + 1
                    row.append(_cell(attrs, body, strings, date_styles))
                yield row


def _cell(attrs: str, body: str, strings: list[str], date_styles: frozenset[int]) -> Any:
    t = attrs.find(' t="')
    kind = attrs[t + 4 : attrs.index('"', t + 4)] if t >= 0 else "n"
    if kind == "inlineStr":
        return _text_of(body) or None
    v = body.find("<v>")
    if v < 0:
        if "<f" in body:
            return FORMULA_WITHOUT_VALUE
        return None
    raw = body[v + 3 : body.index("</v>", v)]
    if kind == "s":
        return strings[int(raw)] or None
    if kind == "n":
        if not raw:
            return FORMULA_WITHOUT_VALUE if "<f" in body else None
        number = float(raw)
        s = attrs.find(' s="')
        if s >= 0 and int(attrs[s + 4 : attrs.index('"', s + 4)]) in date_styles:
            return _serial(number)
        return number
    if kind == "b":
        return raw == "1"
    text = unescape(raw) if "&" in raw else raw  # str (a formula's text), e (an error such as #DIV/0!)
    return text or None


def _rows(f: IO[bytes]) -> Iterator[tuple[str, str]]:
    """(attributes, inner XML) of each ``<row>`` of a sheet, block by block."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    buffer = ""
    while True:
        block = f.read(BLOCK)
        buffer += decoder.decode(block, final=not block)
        end = buffer.rfind("</row>")
        cut = len(buffer) if not block else (end + 6 if end >= 0 else 0)
        for m in _ROW.finditer(buffer, 0, cut):
            yield m.group(1), m.group(2) or ""
        buffer = buffer[cut:]
        if not block:
            return


def _fragments(f: IO[bytes], tag: str) -> Iterator[str]:
    """The inner XML of each ``<tag>...</tag>`` (or empty ``<tag/>``) in a stream."""
    pattern = re.compile(rf"<{tag}\b[^>]*?(?:/>|>(.*?)</{tag}>)", re.S)
    close = f"</{tag}>"
    decoder = codecs.getincrementaldecoder("utf-8")()
    buffer = ""
    while True:
        block = f.read(BLOCK)
        buffer += decoder.decode(block, final=not block)
        end = buffer.rfind(close)
        cut = len(buffer) if not block else (end + len(close) if end >= 0 else 0)
        for m in pattern.finditer(buffer, 0, cut):
            yield m.group(1) or ""
        buffer = buffer[cut:]
        if not block:
            return

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
import functools
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
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
_INLINE = re.compile(r"<is>(.*?)</is>", re.S)
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


_EXCEL_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescaped(text: str) -> str:
    """XML entities and Excel's own escapes undone: a character XML cannot hold is written _xHHHH_,
    and text that reads like one has its underscore written _x005F_ (``_x005F_x0041_`` is ``_x0041_``)."""
    if "&" in text:
        text = unescape(text)
    if "_x" in text:
        text = _EXCEL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text


def _text_of(fragment: str) -> str:
    """The text of an ``<si>`` or ``<is>``: its ``<t>`` runs, phonetic guides left out."""
    if "<rPh" in fragment:
        fragment = _PHONETIC.sub("", fragment)
    return _unescaped("".join(_TEXT.findall(fragment)))


@functools.lru_cache(maxsize=65_536)  # a ledger's dates repeat: one object per day, made once
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
        self.path = path
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

    def _inflate(self, name: str) -> Iterator[bytes]:
        """A member's bytes, block by block. A deflated member is inflated straight from the file with zlib:
        zipfile's reader spends a third of its time on the CRC, which zlib's own checks make redundant here."""
        info = self.zip.getinfo(name)
        fp = self.zip.fp
        if info.compress_type != zipfile.ZIP_DEFLATED or fp is None:
            with self.zip.open(name) as f:
                while block := f.read(BLOCK):
                    yield block
            return
        with open(self.path, "rb") as raw:
            raw.seek(info.header_offset)
            header = raw.read(30)
            if header[:4] != b"PK\x03\x04":
                raise zipfile.BadZipFile(f"bad local header for {name}")
            name_length, extra_length = struct.unpack("<HH", header[26:30])
            raw.seek(info.header_offset + 30 + name_length + extra_length)
            inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            left = info.compress_size
            while left > 0:
                chunk = raw.read(min(BLOCK // 8, left))  # ~1 MB of XML once inflated
                if not chunk:
                    raise zipfile.BadZipFile(f"{name} is cut short")
                left -= len(chunk)
                if block := inflater.decompress(chunk):
                    yield block
            if block := inflater.flush():
                yield block

    def _scan(self, inner: str) -> tuple[int | None, list[Merge]]:
        """The sheet's height from ``<dimension>`` and its merged ranges, in one pass keeping neither rows nor cells."""
        height = None
        merges: list[Merge] = []
        tail = b""
        seen_data_end = False
        first = True
        for block in self._inflate(inner):
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
        expected = 0  # 0-based index of the next row to yield
        for number, row in _parsed_rows(self._inflate(sheet.path), self.strings, self.date_styles):
            while expected < number:
                yield []
                expected += 1
            expected = number + 1
            yield row


# One cell as Excel, LibreOffice, WPS and openpyxl write it: reference first, then the other attributes,
# an optional formula, then the value or the inline string. Matched on the undecoded bytes (the regex runs
# faster on them, and only the text kept is decoded); a block whose cells do not all match is read cell by
# cell (_slow_cells).
_FAST_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})(\d+)"([^>]*?)(?:/>|>(<f\b[^>]*?(?:/>|>[^<]*</f>))?(?:<v>([^<]*)</v>)?(?:<is>(.*?)</is>)?</c>)',
    re.S,
)
_Cell = tuple[
    bytes, bytes, bytes, bytes, bytes, bytes
]  # column letters, row number, attributes, formula, value, inline
_NUMBER, _DATE, _SHARED, _INLINE_TEXT, _BOOL, _OTHER = range(6)


def _parsed_rows(
    f: Iterator[bytes], strings: list[str], date_styles: frozenset[int]
) -> Iterator[tuple[int, list[Any]]]:
    """(0-based row number, cells) of each row holding cells, block by block.

    Rows of one shape (the same columns, types and styles, as a long ledger's rows are) are matched
    whole by a pattern built from the first such row (``_Shape``); any other row is read cell by cell.
    """
    reader = _Cells(strings, date_styles)
    shape: _Shape | None = None
    shapes: dict[bytes, _Shape] = {}
    for block in _row_blocks(f):
        pos = 0
        while True:
            if shape is not None:
                m = shape.pattern.match(block, pos)
                if m is not None:
                    values = m.groups()
                    row = [convert(v) for convert, v in zip(shape.converters, values[1:], strict=True)]
                    yield int(values[0]) - 1, [None] * shape.first + row if shape.first else row
                    pos = m.end()
                    continue
            start = block.find(b"<row", pos)
            if start < 0:
                break
            end = block.find(b"</row>", start)
            end = len(block) if end < 0 else end + 6
            for number, row, cells in reader.rows(block[start:end]):
                yield number, row
                found = _shape(cells, reader, shapes)
                if found is not None:
                    shape = found
            pos = end


@dataclass
class _Shape:
    pattern: re.Pattern[bytes]
    converters: list[Callable[[bytes], Any]]
    first: int  # the column of the first cell


def _shape(cells: list[_Cell], reader: _Cells, shapes: dict[bytes, _Shape]) -> _Shape | None:
    """The pattern of rows laid out like `cells` (consecutive columns, plain values, no formulas); None if none."""
    if len(cells) < 2 or any(formula for _, _, _, formula, _, _ in cells):
        return None
    columns = [reader.column(col) for col, *_ in cells]
    if columns != list(range(columns[0], columns[0] + len(columns))):
        return None
    parts = [rb'\s*<row r="(\d+)"[^>]*>']
    converters: list[Callable[[bytes], Any]] = []
    for col, _, attrs, _, value, inline in cells:
        kind = reader.kind(attrs)
        head = b'<c r="' + col + rb'\d+"' + re.escape(attrs)
        if kind == _INLINE_TEXT and inline[:3] == b"<t>" and inline.count(b"<") == 2:
            parts.append(head + rb"><is><t>([^<]*)</t></is></c>")
        elif kind in _VALUE_CONVERTERS and value:
            parts.append(head + rb"><v>([^<]*)</v></c>")
        else:
            return None
        converters.append(reader.converter(kind))
    parts.append(rb"\s*</row>")
    key = b"".join(parts)
    found = shapes.get(key)
    if found is None:
        if len(shapes) >= 16:
            shapes.clear()
        found = shapes[key] = _Shape(re.compile(key), converters, columns[0])
    return found


def _text(raw: bytes) -> str | None:
    return _unescaped(raw.decode()) or None


_VALUE_CONVERTERS = {0, 1, 2, 4}  # _NUMBER, _DATE, _SHARED, _BOOL: a <v> holds them


class _Cells:
    """Reads cells as _FAST_CELL gives them; keeps what it learns of column letters and attributes."""

    def __init__(self, strings: list[str], date_styles: frozenset[int]) -> None:
        self.strings, self.date_styles = strings, date_styles
        self.kinds: dict[bytes, int] = {}  # a cell's other attributes -> how to read its value
        self.letters: dict[bytes, int] = {}

    def column(self, col: bytes) -> int:
        index = self.letters.get(col)
        if index is None:
            index = self.letters[col] = column_index(col.decode())
        return index

    def kind(self, attrs: bytes) -> int:
        kind = self.kinds.get(attrs)
        if kind is None:
            kind = self.kinds[attrs] = _kind(attrs, self.date_styles)
        return kind

    def converter(self, kind: int) -> Callable[[bytes], Any]:
        strings = self.strings
        converters: dict[int, Callable[[bytes], Any]] = {
            _NUMBER: float,
            _DATE: lambda v: _serial(float(v)),
            _SHARED: lambda v: strings[int(v)] or None,
            _BOOL: lambda v: v == b"1",
            _INLINE_TEXT: _text,
        }
        return converters[kind]

    def rows(self, block: bytes) -> Iterator[tuple[int, list[Any], list[_Cell]]]:
        """(0-based row number, cells, the matched cells) of each row in `block`, cell by cell."""
        cells: list[_Cell] = _FAST_CELL.findall(block)
        if len(cells) != block.count(b"<c ") + block.count(b"<c>"):
            cells = _slow_cells(block)
        row: list[Any] = []
        own: list[_Cell] = []
        current = b""
        strings = self.strings
        for cell in cells:
            col, number, attrs, formula, value, inline = cell
            if number != current:
                if current:
                    yield int(current) - 1, row, own
                row, own = [], []
                current = number
            own.append(cell)
            index = self.column(col)
            if index > len(row):
                row.extend([None] * (index - len(row)))
            kind = self.kind(attrs)
            if kind == _NUMBER:
                row.append(float(value) if value else FORMULA_WITHOUT_VALUE if formula else None)
            elif kind == _INLINE_TEXT:
                if inline[:3] == b"<t>" and inline.count(b"<") == 2:
                    row.append(_text(inline[3:-4]))
                else:
                    row.append(_text_of(inline.decode()) or None)
            elif kind == _SHARED:
                row.append((strings[int(value)] or None) if value else None)
            elif kind == _DATE:
                row.append(_serial(float(value)) if value else FORMULA_WITHOUT_VALUE if formula else None)
            elif kind == _BOOL:
                row.append(value == b"1" if value else None)
            elif value:  # str (a formula's text), e (an error such as #DIV/0!)
                row.append(_text(value))
            else:
                row.append(FORMULA_WITHOUT_VALUE if formula else None)
        if current:
            yield int(current) - 1, row, own


def _kind(attrs: bytes, date_styles: frozenset[int]) -> int:
    text = attrs.decode()
    t = re.search(r'\bt="(\w+)"', text)
    s = re.search(r'\bs="(\d+)"', text)
    kind = t.group(1) if t else "n"
    if kind == "n":
        return _DATE if s is not None and int(s.group(1)) in date_styles else _NUMBER
    return {"s": _SHARED, "inlineStr": _INLINE_TEXT, "b": _BOOL}.get(kind, _OTHER)


def _slow_cells(block: bytes) -> list[_Cell]:
    """The cells of a block whatever the order of their attributes, as _FAST_CELL gives them."""
    out = []
    for m in _ROW.finditer(block.decode()):
        number = _ROW_NUMBER.search(m.group(1))
        width = 0
        for attrs, body in _CELL.findall(m.group(2) or ""):
            ref = _REF.search(attrs)
            col = ref.group(1) if ref else _letters(width)
            width = column_index(col) + 1
            v = _VALUE.search(body)
            inline = _INLINE.search(body)
            out.append(
                (
                    col.encode(),
                    (ref.group(2) if ref else (number.group(1) if number else "1")).encode(),
                    _REF.sub("", attrs).encode(),
                    b"<f" if "<f" in body else b"",
                    v.group(1).encode() if v else b"",
                    inline.group(1).encode() if inline else b"",
                )
            )
    return out


def _letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _row_blocks(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """The sheet's XML in pieces that end after a ``</row>``, so no row (nor character) is cut in two."""
    buffer = b""
    while True:
        block = next(blocks, b"")
        buffer += block
        end = buffer.rfind(b"</row>")
        cut = len(buffer) if not block else (end + 6 if end >= 0 else 0)
        if cut:
            yield buffer[:cut]
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

"""How the importer reads a ledger, before anything is written: ``crm import KIND FILE --explain``.

    print(explain_ledger("deals", "2026年签约项目台账.xlsx").text())

Says which sheet and header rows were taken, how each column was understood (column letter,
header path, schema field, unit, or why it is not read) and which rows were skipped (titles,
填报 lines, 合计, 小计, notes) and why. It reads the file and touches no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crm.ledgers.read import ColumnReading, LedgerReader
from crm.ledgers.schema import ledger_kind


@dataclass
class Explanation:
    """How a ledger file was read: its sheet, header rows, columns, the rows read and those skipped."""

    file: str
    kind: str
    sheet: str | None
    header_rows: tuple[int, int]
    columns: list[ColumnReading]
    rows: int  # records the data rows give (a wide sheet's row gives one per filled month or quarter)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        first, last = self.header_rows
        header = f"row {first}" if first == last else f"rows {first}-{last}"
        lines = [
            f"{self.file}: {self.kind} ledger, sheet {self.sheet or '(csv)'}, header {header}, "
            f"{self.rows} records, {len(self.skipped)} rows skipped; nothing written",
            "",
            "column  header                          field                     unit  how",
        ]
        for c in self.columns:
            lines.append(f"{c.letter:<7} {_pad(c.path, 31)} {c.field or '-':<25} {c.unit or '':<5} {c.note}".rstrip())
        if self.skipped:
            lines += ["", "rows skipped:"]
            lines += [f"  row {row}: {why}" for row, why in sorted(self.skipped)]
        notes = [w for w in self.warnings if " was skipped" not in w and not w.startswith("unknown columns")]
        if notes:
            lines += ["", "warnings:"] + [f"  {w}" for w in notes]
        return "\n".join(lines)


def _pad(text: str, width: int) -> str:
    """Pad to a display width, a CJK character counting two."""
    shown = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
    return text + " " * max(1, width - shown)


def explain_ledger(kind: str, path: str | Path) -> Explanation:
    """How `path` would be imported as a `kind` ledger; reads the whole file, writes nothing.

    Raises LedgerError when no header is found or a required column is missing, as the import would.
    """
    spec = ledger_kind(kind)
    p = Path(path)
    with LedgerReader(p, spec) as reader:
        rows = sum(len(table.rows) for table in reader.chunks(50_000))
        return Explanation(
            p.name,
            spec.name,
            reader.sheet,
            reader.header_rows,
            reader.columns,
            rows,
            list(reader.skipped),
            list(reader.warnings),
        )

"""Cumulative columns (累计 / 本年累计): the month's amount as the difference with the month before.

An arrivals ledger that carries only 累计到位资金, one row per project and month, gives each
month's arrival as the running total less the project's previous running total of the same
year in the file (a project's first month of the year counts in full). A running total that
falls is a bad row, never a negative arrival; a month whose total did not move brings no
arrival and is said so. When the ledger also carries the month's amount (本月), that is read
and the running total is only checked not to fall.

The state is kept per project across chunks, so a streamed import gives the same result as
one read whole; rows must come in month order within each project, as ledgers list them.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from crm.ledgers.cells import fold

if TYPE_CHECKING:
    from crm.ledgers.imports import Batch

# which parsed columns name the record a running total belongs to, per ledger kind
_KEYS = {"arrivals": ("project_name", "investor", "signed_on", "source")}


class RunningTotals:
    """Derives or checks the amounts of a kind's cumulative columns, chunk by chunk (see the module's doc)."""

    def __init__(self, kind: str, columns: list[tuple[str, str]]) -> None:
        self.kind = kind
        self.columns = columns  # (cumulative column, the column it is the running total of)
        self.last: dict[tuple[Any, ...], tuple[date, int]] = {}

    def apply(self, batch: Batch, date_column: str) -> None:
        """Fill (or check) each amount column of `batch` from its running total; bad rows go to the batch."""
        names = batch.table.cells
        for total_name, amount_name in self.columns:
            if total_name not in names:
                continue
            derive = amount_name not in names
            totals, amounts, days = batch.col(total_name), batch.col(amount_name), batch.col(date_column)
            if derive:
                batch.values[amount_name] = amounts = [None] * batch.n
                batch.table.cells[amount_name] = batch.table.cells[total_name]
            for i in range(batch.n):
                total, day = totals[i], days[i]
                if total is None or day is None or not batch.ok(i):
                    continue
                key = (total_name, day.year, *self._key(batch, i))
                before = self.last.get(key)
                if before is not None and day <= before[0]:
                    batch.fail(
                        i,
                        date_column,
                        f"{day:%Y-%m} comes after {before[0]:%Y-%m} for this project; list the months in order",
                    )
                    continue
                if before is not None and total < before[1]:
                    batch.fail(
                        i,
                        total_name,
                        f"the running total fell from {before[1] / 10_000:g}万元 ({before[0]:%Y-%m}) to "
                        f"{total / 10_000:g}万元; a 累计 column cannot decrease",
                    )
                    continue
                self.last[key] = (day, total)
                if not derive:
                    continue
                amount = total - (before[1] if before else 0)
                if amount == 0:
                    batch.table.warnings.append(
                        f"row {batch.table.rows[i]}: {batch.header(total_name)} did not move; no arrival in {day:%Y-%m}"
                    )
                    batch.values["project_name"][i] = None  # a row without a project is left out by the arrival check
                    continue
                amounts[i] = amount

    def _key(self, batch: Batch, i: int) -> tuple[Any, ...]:
        out: list[Any] = []
        for name in _KEYS.get(self.kind, ()):
            value = batch.col(name)[i]
            out.append(fold(value) if isinstance(value, str) else value)
        return tuple(out)


def running_totals(kind: Any) -> RunningTotals | None:
    """The running totals of a LedgerKind that has cumulative columns, else None."""
    columns = [(c.name, c.cumulative_of) for c in kind.columns if c.cumulative_of]
    return RunningTotals(kind.name, columns) if columns else None

"""The errors the library raises: one base, a few flat kinds, and RowError for batch input.

Only ``crm.cli`` turns them into exit codes and messages.
"""

from __future__ import annotations

from dataclasses import dataclass


class CrmError(Exception):
    """Base of every error the library raises on purpose."""


class InvalidValue(CrmError, ValueError):
    """An argument or a cell holds a value the library cannot accept."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason} (got {value!r})")


class BadAmount(InvalidValue):
    """Text that is not an amount of money."""

    def __init__(self, text: object, reason: str, field: str = "amount") -> None:
        super().__init__(field, text, reason)

    def __str__(self) -> str:
        return f"{self.field}: cannot read {self.value!r} as an amount: {self.reason}"


class NotFound(CrmError, LookupError):
    """A deal, person, unit ... named by the caller does not exist."""

    def __init__(self, entity: str, key: object) -> None:
        self.entity = entity
        self.key = key
        super().__init__(f"no {entity} {key!r}")


class Refused(CrmError):
    """An action that is impossible in the current state (e.g. starting a terminated deal)."""


class Duplicate(CrmError):
    """The thing to create already exists."""


class Busy(CrmError):
    """Another process held the write lock for longer than this one would wait (SQLite)."""

    def __init__(self, waited_s: float) -> None:
        self.waited_s = waited_s
        super().__init__(
            f"another process is writing this database; try again when it has finished (waited {waited_s:.0f} s)"
        )


@dataclass(frozen=True)
class RowError:
    """One problem in one row of a ledger: the row number as the user sees it, the column, the reason."""

    row: int
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        shown = f" (value {self.value!r})" if self.value != "" else ""
        return f"{where}: {self.message}{shown}"


class LedgerError(CrmError):
    """A ledger import refused because some rows are bad; nothing was written."""

    def __init__(self, errors: list[RowError], message: str = "") -> None:
        self.errors = errors
        head = message or f"{len(errors)} bad row(s); nothing was imported"
        super().__init__("\n".join([head, *(str(e) for e in errors)]))

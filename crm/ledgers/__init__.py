"""Ledgers (台账) in and out: Excel and CSV files with Chinese headers, against ``schemas/``.

    from crm.ledgers import import_ledger, export_ledger
    result = import_ledger(session, "deals", "2026年签约项目台账.xlsx", actor="张三")
    export_ledger(session, "arrivals", "到位资金.xlsx", since=date(2026, 1, 1))
    print(explain_ledger("deals", "2026年签约项目台账.xlsx").text())   # how it would be read; writes nothing
    undo_import(session, result.batch_id, actor="张三", reason="wrong file")   # reverse an import not built on

Kinds: deals, arrivals, trips, visits, leads, targets (``KINDS``). Money cells are read
in the unit the header names (``总投资（万元）``), else 万元; they are stored as integer yuan.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm.ledgers.explain import Explanation, explain_ledger
    from crm.ledgers.export import export_ledger, ledger_rows
    from crm.ledgers.imports import ImportResult, import_ledger
    from crm.ledgers.read import LedgerReader, Table, read_table
    from crm.ledgers.schema import KINDS, Column, LedgerKind, json_schema, ledger_kind, write_schemas
    from crm.ledgers.undo import UndoResult, undo_import

# each name's module, imported when the name is first used: an export loads neither the readers nor pandas
_LAZY = {
    **dict.fromkeys(("Explanation", "explain_ledger"), "crm.ledgers.explain"),
    **dict.fromkeys(("export_ledger", "ledger_rows"), "crm.ledgers.export"),
    **dict.fromkeys(("ImportResult", "import_ledger"), "crm.ledgers.imports"),
    **dict.fromkeys(("LedgerReader", "Table", "read_table"), "crm.ledgers.read"),
    **dict.fromkeys(
        ("KINDS", "Column", "LedgerKind", "json_schema", "ledger_kind", "write_schemas"), "crm.ledgers.schema"
    ),
    **dict.fromkeys(("UndoResult", "undo_import"), "crm.ledgers.undo"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'crm.ledgers' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # once loaded, a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *globals()})


__all__ = [
    "KINDS",
    "Column",
    "Explanation",
    "ImportResult",
    "LedgerKind",
    "LedgerReader",
    "Table",
    "UndoResult",
    "explain_ledger",
    "export_ledger",
    "import_ledger",
    "json_schema",
    "ledger_kind",
    "ledger_rows",
    "read_table",
    "undo_import",
    "write_schemas",
]

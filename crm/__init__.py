"""招商引资 CRM: a library for a county commerce bureau's signed deals, trips and targets.

    import crm
    from sqlmodel import Session as _Session

    engine = crm.make_engine()                  # --db, else $CRM_DATABASE_URL, else ./crm.db
    crm.init_db(engine)                         # create or upgrade the schema
    with Session(engine) as session:
        deal = crm.sign(session, actor="张三", project_name="100MW光伏发电项目",
                        investor="某某新能源有限公司", signed_on=date(2026, 6, 1),
                        contracted_yuan=crm.parse_yuan("5亿"), industry="光伏发电", origin="浙江")
        crm.kpis(session, by="industry")        # a DataFrame, one row per industry

In a notebook, ``session = crm.connect()`` (``$CRM_DATABASE_URL``, else ./crm.db) and
``as_of = crm.today()`` (``$CRM_AS_OF``, else today) replace the setup cell; ``import crm``
registers the bundled Chinese font, so a plain ``df.plot()`` renders Chinese, and
``crm.display.styled(df)`` shows a figure with Chinese headers, 万元/亿元 and %.

One module per capability: ``crm.deals``, ``crm.arrivals``, ``crm.targets``, ``crm.metrics``,
``crm.trips``, ``crm.ledgers``, ``crm.charts`` (matplotlib; import it explicitly), ``crm.demo``,
``crm.display`` (figures for people), ``crm.bulletin`` (the weekly and monthly 通报).

The public names below are loaded when first used (PEP 562), so ``import crm`` and the ``crm``
command's start-up do not pay for pandas, SQLAlchemy and every capability at once.
"""

from __future__ import annotations

import importlib as _importlib
import importlib.util as _importlib_util
import os as _os
from datetime import date as _date
from types import ModuleType as _ModuleType
from typing import TYPE_CHECKING, Any

from crm.font import register_when_plotting as _register_when_plotting

if TYPE_CHECKING:
    from sqlmodel import Session as _Session

    from crm.arrivals import record_arrival
    from crm.db import database_url, init_db, make_engine
    from crm.deals import (
        add_follow_up,
        complete,
        get_or_create_investor,
        missing_procedures,
        reassign,
        set_procedure,
        set_stall,
        sign,
        start,
        terminate,
        unstarted,
    )
    from crm.errors import BadAmount, CrmError, Duplicate, InvalidValue, LedgerError, NotFound, Refused, RowError
    from crm.ledgers import ImportResult, export_ledger, import_ledger
    from crm.metrics import arrivals_by_month, kpis, ranking, scorecard, target_progress
    from crm.money import format_yuan, parse_yuan
    from crm.targets import get_rules, save_rules, set_target, time_progress

__version__ = "0.1.0"

# public name -> the module that defines it, imported on first use
_LAZY = {
    "record_arrival": "crm.arrivals",
    **dict.fromkeys(("database_url", "init_db", "make_engine"), "crm.db"),
    **dict.fromkeys(
        (
            "add_follow_up",
            "complete",
            "get_or_create_investor",
            "missing_procedures",
            "reassign",
            "set_procedure",
            "set_stall",
            "sign",
            "start",
            "terminate",
            "unstarted",
        ),
        "crm.deals",
    ),
    **dict.fromkeys(
        ("BadAmount", "CrmError", "Duplicate", "InvalidValue", "LedgerError", "NotFound", "Refused", "RowError"),
        "crm.errors",
    ),
    **dict.fromkeys(("ImportResult", "export_ledger", "import_ledger"), "crm.ledgers"),
    **dict.fromkeys(("arrivals_by_month", "kpis", "ranking", "scorecard", "target_progress"), "crm.metrics"),
    **dict.fromkeys(("format_yuan", "parse_yuan"), "crm.money"),
    **dict.fromkeys(("get_rules", "save_rules", "set_target", "time_progress"), "crm.targets"),
}

_register_when_plotting()  # no matplotlib import: the font is registered when pyplot gets imported


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        # a capability's module (crm.display, crm.metrics ...), as when import crm loaded them all
        if not name.startswith("_") and _importlib_util.find_spec(f"crm.{name}") is not None:
            return _importlib.import_module(f"crm.{name}")
        raise AttributeError(f"module 'crm' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain module attribute
    return value


def __dir__() -> list[str]:
    """The public names, the dunders and the capability modules loaded so far."""
    loaded = (n for n, v in globals().items() if isinstance(v, _ModuleType) and v.__name__ == f"crm.{n}")
    return sorted({*__all__, *(n for n in globals() if n.startswith("__")), *loaded})


def connect(url: str | None = None) -> _Session:
    """A session on the database `url`, else ``$CRM_DATABASE_URL``, else the SQLite file ./crm.db
    (the same rule as the command line); the caller closes it (``session.close()``)."""
    from sqlmodel import Session

    from crm.db import make_engine

    return Session(make_engine(url))


def today() -> _date:
    """The report date of a notebook: ``$CRM_AS_OF`` (YYYY-MM-DD), else today."""
    text = _os.environ.get("CRM_AS_OF", "").strip()
    if not text:
        return _date.today()
    try:
        return _date.fromisoformat(text)
    except ValueError:
        from crm.errors import InvalidValue

        raise InvalidValue("CRM_AS_OF", text, "write the date as YYYY-MM-DD") from None


__all__ = [
    "BadAmount",
    "CrmError",
    "Duplicate",
    "ImportResult",
    "InvalidValue",
    "LedgerError",
    "NotFound",
    "Refused",
    "RowError",
    "__version__",
    "add_follow_up",
    "arrivals_by_month",
    "complete",
    "connect",
    "database_url",
    "export_ledger",
    "format_yuan",
    "get_or_create_investor",
    "get_rules",
    "import_ledger",
    "init_db",
    "kpis",
    "make_engine",
    "missing_procedures",
    "parse_yuan",
    "ranking",
    "reassign",
    "record_arrival",
    "save_rules",
    "scorecard",
    "set_procedure",
    "set_stall",
    "set_target",
    "sign",
    "start",
    "target_progress",
    "terminate",
    "time_progress",
    "today",
    "unstarted",
]

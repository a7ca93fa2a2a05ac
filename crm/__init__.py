"""招商引资 CRM: a library for a county commerce bureau's signed deals, trips and targets.

    import crm
    from sqlmodel import Session

    engine = crm.make_engine()                  # --db, else $CRM_DATABASE_URL, else ./crm.db
    crm.init_db(engine)                         # create or upgrade the schema
    with Session(engine) as session:
        deal = crm.sign(session, actor="张三", project_name="100MW光伏发电项目",
                        investor="某某新能源有限公司", signed_on=date(2026, 6, 1),
                        contracted_yuan=crm.parse_yuan("5亿"), industry="光伏发电", origin="浙江")
        crm.kpis(session, by="industry")        # a DataFrame, one row per industry

One module per capability: ``crm.deals``, ``crm.arrivals``, ``crm.targets``, ``crm.metrics``,
``crm.trips``, ``crm.ledgers``, ``crm.charts`` (matplotlib; import it explicitly), ``crm.demo``.
"""

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
    "unstarted",
]

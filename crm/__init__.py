"""招商引资 CRM: a library for a county commerce bureau's signed deals, trips and targets.

    import crm
    engine = crm.make_engine()          # $CRM_DATABASE_URL or ./crm.db
    crm.init_db(engine)
"""

from crm.db import database_url, init_db, make_engine
from crm.errors import BadAmount, CrmError, Duplicate, InvalidValue, LedgerError, NotFound, Refused, RowError
from crm.money import format_yuan, parse_yuan

__version__ = "0.1.0"

__all__ = [
    "BadAmount",
    "CrmError",
    "Duplicate",
    "InvalidValue",
    "LedgerError",
    "NotFound",
    "Refused",
    "RowError",
    "__version__",
    "database_url",
    "format_yuan",
    "init_db",
    "make_engine",
    "parse_yuan",
]

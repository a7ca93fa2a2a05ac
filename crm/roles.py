"""The four roles an account can have (``crm.access`` applies them on PostgreSQL).

A module of its own, importing nothing, so that the command line can offer them as the choices of
``crm account add --role`` without loading the database layer.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"  # everything, accounts and counting rules
    bureau = "bureau"  # 商务局: everything but accounts and rules
    unit = "unit"  # a department or township: its own unit's records
    analyst = "analyst"  # read only

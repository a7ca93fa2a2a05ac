"""The migration revisions shipped with the package (crm/migrations), read without alembic.

``crm version`` names the schema revision of this version of the package; reading it from the
``revision =`` lines of the migration scripts keeps that command from loading alembic and
SQLAlchemy. ``crm.db.head_revision`` is this function; tests/test_migrations.py holds it equal to
alembic's own head.
"""

from __future__ import annotations

import re
from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"

_REVISION = re.compile(r"^(down_revision|revision)\b[^=]*=\s*(?:'([^']*)'|\"([^\"]*)\"|None)", re.MULTILINE)


def head_revision() -> str:
    """The newest migration revision: the one no other revision names as its ``down_revision``."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for name, single, double in _REVISION.findall(path.read_text(encoding="utf-8")):
            value = single or double
            if name == "revision":
                revisions.add(value)
            elif value:
                parents.add(value)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations in {MIGRATIONS} have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()

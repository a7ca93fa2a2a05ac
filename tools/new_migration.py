#!/usr/bin/env python3
"""Write the next Alembic revision from the difference between crm/models.py and the migrations.

    .venv/bin/python tools/new_migration.py "add deal.priority"

It migrates a throw-away SQLite database to the current head, autogenerates a revision
against it into crm/migrations/versions/, and prints the file: read it (autogenerate
misses renames, server defaults and triggers), then run the tests, which check that the
migrated schema equals the models on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from crm.db import alembic_config, make_engine, upgrade


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'head.db'}")
        upgrade(engine)
        config = alembic_config(engine)
        script = command.revision(config, message=sys.argv[1], autogenerate=True)
        engine.dispose()
    paths = [s.path for s in (script if isinstance(script, list) else [script]) if s is not None]
    for path in paths:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

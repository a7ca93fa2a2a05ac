"""``python -m bench.import_file KIND LEDGER TEMPLATE_DB``: one import into a fresh copy of an SQLite database.

For timing a whole import from outside (``farm-bench``, which also reports the peak memory):
the template (e.g. ``bench/data/province-s1-v*/deals.db``, the deals without arrivals) is
copied to a temporary file, the ledger imported with ``crm.ledgers.import_ledger`` (the
code path of ``crm import``), and the rows inserted and the Σ of arrived_yuan printed, so
two versions of the library can be compared on the same file and checked to agree.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

from crm.db import make_engine
from crm.ledgers import import_ledger


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    kind, ledger, template = argv
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "crm.db"
        shutil.copyfile(template, db)
        engine = make_engine(f"sqlite:///{db}")
        t = time.perf_counter()
        with Session(engine) as session:
            result = import_ledger(session, kind, ledger, actor="bench", progress=False)
        seconds = time.perf_counter() - t
        with engine.connect() as connection:
            total = connection.execute(text("SELECT COALESCE(SUM(arrived_yuan), 0) FROM capital_arrival")).scalar()
        engine.dispose()
    print(f"{result.summary()}; sum arrived_yuan {total}; import {seconds:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Import batches (导入批次): one row per import that wrote something, naming the file (name and
sha256), the time, the actor and, on PostgreSQL, the database account (``current_user``). Every
record the import created carries the batch's id (``import_batch_id``), so bulk rows (arrivals,
visits, leads) are traceable one by one without an audit row each. The batch is opened when the
import is about to write its first record, in the import's own transaction: a dry run, a refused
import or a re-import that adds nothing leaves no batch. Undo: crm.ledgers.undo."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
from sqlalchemy import text
from sqlmodel import Session, col, select

from crm.models import ImportBatch, utcnow

NOTE_TAG = "import batch "  # the import's summary audit row ends with it and the batch id


def file_hash(path: Path) -> str:
    """sha256 of the file, hex (read in 1 MB blocks)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_batch(session: Session, kind: str, path: Path, *, actor: str) -> int:
    """Add the batch row of an import about to write (in its transaction) and return its id."""
    account = None
    if session.get_bind().dialect.name == "postgresql":
        account = str(session.execute(text("SELECT current_user")).scalar_one())
    row = ImportBatch(kind=kind, file_name=path.name, file_hash=file_hash(path), actor=actor, account=account)
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def close_batch(session: Session, batch_id: int, *, rows: int, inserted: int, updated: int, present: int) -> None:
    """Record what the import did, when it is about to commit."""
    row = session.get(ImportBatch, batch_id)
    assert row is not None
    row.rows, row.inserted, row.updated, row.already_present = rows, inserted, updated, present
    row.finished_at = utcnow()
    session.flush()


def list_batches(session: Session, *, kind: str | None = None) -> pd.DataFrame:
    """The import batches, newest first: id, kind, file, hash, times, actor, account, counts, undo."""
    query = select(ImportBatch).order_by(col(ImportBatch.id).desc())
    if kind is not None:
        query = query.where(ImportBatch.kind == kind)
    columns = list(ImportBatch.model_fields)
    rows = [row.model_dump() for row in session.exec(query)]
    return pd.DataFrame(rows, columns=columns)

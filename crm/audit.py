"""The append-only audit log: every write in the library records who changed what.

Rows are written with one Core INSERT per call (not ORM objects: building an AuditLog
model per field dominated the cost of every write), in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, SQLModel

from crm.models import AuditLog, utcnow

_TABLE = AuditLog.__table__  # type: ignore[attr-defined]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value"):  # enum members
        return str(value.value)
    return str(value)


def _row(
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    field: str | None,
    old: Any,
    new: Any,
    note: str | None,
    at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "at": at or utcnow(),
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "field": field,
        "old": _text(old),
        "new": _text(new),
        "note": note,
    }


def write(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert audit rows built by `creation_rows` / `change_rows` (one executemany) in the session's transaction."""
    if rows:
        session.execute(insert(_TABLE), rows)


def _rows(
    entity: str,
    entity_id: int | None,
    fields: Iterable[tuple[str, Any, Any]],
    *,
    actor: str,
    action: str,
    note: str | None,
    at: datetime | None,
) -> list[dict[str, Any]]:
    return [
        _row(actor=actor, action=action, entity=entity, entity_id=entity_id, field=f, old=o, new=n, note=note, at=at)
        for f, o, n in fields
    ]


def creation_rows(
    entity: str,
    entity_id: int | None,
    values: Mapping[str, Any],
    *,
    actor: str,
    action: str = "create",
    note: str | None = None,
    at: datetime | None = None,
) -> list[dict[str, Any]]:
    """The audit rows of a newly created record: one per non-empty field of `values`, in its order
    (the fields of the model, as ``model_dump`` gives them; ``id`` and ``created_at`` are left out)."""
    fields = ((f, None, v) for f, v in values.items() if f not in ("id", "created_at") and v is not None)
    return _rows(entity, entity_id, fields, actor=actor, action=action, note=note, at=at)


def change_rows(
    entity: str,
    entity_id: int | None,
    old: Mapping[str, Any],
    changes: Mapping[str, Any],
    *,
    actor: str,
    action: str,
    note: str | None = None,
    at: datetime | None = None,
) -> list[dict[str, Any]]:
    """The audit rows of changing a record whose fields are `old`: one per field of `changes` that differs."""
    fields = ((f, old[f], new) for f, new in changes.items() if old[f] != new)
    return _rows(entity, entity_id, fields, actor=actor, action=action, note=note, at=at)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    note: str | None = None,
) -> None:
    """Write one audit row in the session's transaction (the caller commits with its own change)."""
    write(
        session,
        [
            _row(
                actor=actor, action=action, entity=entity, entity_id=entity_id, field=field, old=old, new=new, note=note
            )
        ],
    )


def record_changes(
    session: Session,
    obj: SQLModel,
    changes: Mapping[str, Any],
    *,
    actor: str,
    action: str,
    note: str | None = None,
) -> int:
    """Set each field of `obj` in `changes` that differs, with one audit row per changed field.

    Returns how many fields changed. `obj` must already have an id (flush first).
    """
    entity = str(getattr(obj, "__tablename__", type(obj).__name__))
    entity_id: int | None = getattr(obj, "id", None)
    rows = change_rows(
        entity,
        entity_id,
        {field: getattr(obj, field) for field in changes},
        changes,
        actor=actor,
        action=action,
        note=note,
    )
    for field, new in changes.items():
        if getattr(obj, field) != new:
            setattr(obj, field, new)
    session.add(obj)
    write(session, rows)
    return len(rows)


def record_creation(
    session: Session, obj: SQLModel, *, actor: str, action: str = "create", note: str | None = None
) -> int:
    """One audit row per non-empty field of a newly created `obj` (flushed, so it has an id)."""
    entity = str(getattr(obj, "__tablename__", type(obj).__name__))
    entity_id: int | None = getattr(obj, "id", None)
    rows = creation_rows(entity, entity_id, obj.model_dump(), actor=actor, action=action, note=note)
    write(session, rows)
    return len(rows)

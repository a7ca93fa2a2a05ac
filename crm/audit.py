"""The append-only audit log: every write in the library records who changed what."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlmodel import Session, SQLModel

from crm.models import AuditLog


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value"):  # enum members
        return str(value.value)
    return str(value)


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
) -> AuditLog:
    """Add one audit row to the session (the caller commits with its own change)."""
    row = AuditLog(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        field=field,
        old=_text(old),
        new=_text(new),
        note=note,
    )
    session.add(row)
    return row


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
    changed = 0
    for field, new in changes.items():
        old = getattr(obj, field)
        if old == new:
            continue
        setattr(obj, field, new)
        record(session, actor=actor, action=action, entity=entity, entity_id=entity_id, field=field, old=old, new=new,
               note=note)
        changed += 1
    session.add(obj)
    return changed


def record_creation(
    session: Session, obj: SQLModel, *, actor: str, action: str = "create", note: str | None = None
) -> int:
    """One audit row per non-empty field of a newly created `obj` (flushed, so it has an id)."""
    entity = str(getattr(obj, "__tablename__", type(obj).__name__))
    entity_id: int | None = getattr(obj, "id", None)
    count = 0
    for field, value in obj.model_dump().items():
        if field in ("id", "created_at") or value is None:
            continue
        record(session, actor=actor, action=action, entity=entity, entity_id=entity_id, field=field, old=None,
               new=value, note=note)
        count += 1
    return count

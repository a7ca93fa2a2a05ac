"""The append-only audit log: every write in the library records who changed what.

Rows are written with one Core INSERT per call (not ORM objects: building an AuditLog
model per field dominated the cost of every write), in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
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
) -> dict[str, Any]:
    return {
        "at": utcnow(),
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "field": field,
        "old": _text(old),
        "new": _text(new),
        "note": note,
    }


def _write(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(_TABLE), rows)


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
    _write(
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
    rows = []
    for field, new in changes.items():
        old = getattr(obj, field)
        if old == new:
            continue
        setattr(obj, field, new)
        rows.append(
            _row(
                actor=actor, action=action, entity=entity, entity_id=entity_id, field=field, old=old, new=new, note=note
            )
        )
    session.add(obj)
    _write(session, rows)
    return len(rows)


def record_creation(
    session: Session, obj: SQLModel, *, actor: str, action: str = "create", note: str | None = None
) -> int:
    """One audit row per non-empty field of a newly created `obj` (flushed, so it has an id)."""
    entity = str(getattr(obj, "__tablename__", type(obj).__name__))
    entity_id: int | None = getattr(obj, "id", None)
    rows = [
        _row(
            actor=actor, action=action, entity=entity, entity_id=entity_id, field=field, old=None, new=value, note=note
        )
        for field, value in obj.model_dump().items()
        if field not in ("id", "created_at") and value is not None
    ]
    _write(session, rows)
    return len(rows)


# ---------------------------------------------------------------- reading the log

_REFERENCES: dict[str, tuple[Any, str]] = {}


def _references() -> dict[str, tuple[Any, str]]:
    """Audited id fields and the (table, name column) they point at."""
    if not _REFERENCES:
        from crm.models import Industry, Investor, Person, Region, SigningEvent, Squad, StallReason, Unit

        _REFERENCES.update(
            {
                "investor_id": (Investor, "name"),
                "industry_id": (Industry, "name"),
                "origin_region_id": (Region, "name"),
                "region_id": (Region, "name"),
                "unit_id": (Unit, "name"),
                "credited_unit_id": (Unit, "name"),
                "leader_id": (Person, "name"),
                "introducer_id": (Person, "name"),
                "follow_up_owner_id": (Person, "name"),
                "owner_id": (Person, "name"),
                "person_id": (Person, "name"),
                "signing_event_id": (SigningEvent, "name"),
                "stall_reason_id": (StallReason, "label"),
                "squad_id": (Squad, "name"),
            }
        )
    return _REFERENCES


def with_names(session: Session, history: Any) -> Any:
    """A copy of an audit-log frame (columns field, old, new) where id fields read as names:
    field ``investor_id`` becomes ``investor`` and its old/new ids the investors' names."""
    from sqlalchemy import select

    out = history.copy()
    refs = _references()
    wanted: dict[str, set[int]] = {}
    for field, old, new in zip(out["field"], out["old"], out["new"], strict=True):
        if field in refs:
            for value in (old, new):
                if value is not None and str(value).isdigit():
                    wanted.setdefault(field, set()).add(int(value))
    names: dict[str, dict[int, str]] = {}
    for field, ids in wanted.items():
        table, column = refs[field]
        rows = session.execute(select(table.id, getattr(table, column)).where(table.id.in_(sorted(ids)))).all()
        names[field] = {int(i): str(n) for i, n in rows}

    def name(field: str, value: Any) -> Any:
        if field in names and value is not None and str(value).isdigit():
            return names[field].get(int(value), value)
        return value

    out["old"] = [name(f, v) for f, v in zip(out["field"], out["old"], strict=True)]
    out["new"] = [name(f, v) for f, v in zip(out["field"], out["new"], strict=True)]
    out["field"] = [f.removesuffix("_id") if f in refs else f for f in out["field"]]
    return out

"""Undoing an import (``crm import undo BATCH``): reverse an import batch that nothing was built on,
in one transaction, audited.

- Arrivals of the batch are voided, never deleted (money stays, out of every figure, with the reason).
- Deals, trips, visits, leads and targets the batch created are removed, with what came with them
  (a deal's procedures, a trip's destinations, industries and members), but only when nothing
  else refers to them: an arrival, a follow-up, a lead turned into a deal, a visit's lead, any other
  row pointing at them, or an edit in the audit log after the import. Otherwise the undo is refused,
  naming what was built on which record. An import that changed stored records (``updated``) is not
  undone: undo reverses what an import created, not what it edited.
- Undoing twice is refused. Names the import created (units, people, investors, squads) stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Table, delete, func, update
from sqlmodel import Session, SQLModel, col

from crm import audit
from crm.db import core_select as select
from crm.db import unit_of_work
from crm.errors import InvalidValue, NotFound, Refused
from crm.ledgers.batches import NOTE_TAG
from crm.models import AuditLog, CapitalArrival, ImportBatch, Lead, utcnow

# The table each ledger kind creates records in (arrivals are voided, the others removed).
CREATES = {
    "deals": "deal",
    "arrivals": "capital_arrival",
    "trips": "trip",
    "visits": "visit",
    "leads": "lead",
    "targets": "target",
}
REMOVED = ("lead", "visit", "target", "trip", "deal")
# Rows that belong to a record and go with it (created with it by the capability's own call).
_OWNED = {"deal": ("procedure",), "trip": ("trip_destination", "trip_industry", "trip_member")}
_LABELS = {
    "capital_arrival": "arrival",
    "follow_up": "follow-up",
    "lead": "lead",
    "visit": "visit",
    "deal": "deal",
    "trip": "trip",
    "target": "target",
}
_SHOWN = 10  # built-on findings named in a refusal


@dataclass
class UndoResult:
    """What undoing a batch did: arrivals voided and records removed, by table."""

    batch_id: int
    kind: str
    file: str
    voided: int = 0
    removed: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [f"{n} {table} removed" for table, n in self.removed.items() if n]
        if self.voided:
            parts.insert(0, f"{self.voided} arrivals voided")
        return f"import batch {self.batch_id} ({self.file}, {self.kind}) undone: " + (
            ", ".join(parts) or "nothing left"
        )


def _table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def _ids(name: str, batch_id: int) -> Any:
    t = _table(name)
    return select(t.c.id).where(t.c.import_batch_id == batch_id).scalar_subquery()


def _label(table: str) -> str:
    return _LABELS.get(table, table)


def built_on(session: Session, batch: ImportBatch, since: int) -> list[str]:
    """What was built on the records of `batch` (plain sentences; empty when it can be undone).
    `since` is the id of the import's own audit row: later audit rows on its records are edits."""
    assert batch.id is not None
    found: list[str] = []
    for name in (CREATES[batch.kind],):
        t = _table(name)
        if name != "capital_arrival":
            # rows of other tables pointing at the batch's records
            for other in SQLModel.metadata.sorted_tables:
                if other.name in _OWNED.get(name, ()) or other.name == "import_batch":
                    continue
                for fk in other.foreign_keys:
                    if fk.column.table is not t:
                        continue
                    ref = other.c[fk.parent.name]
                    query = select(ref, func.count()).where(ref.in_(_ids(name, batch.id)))
                    if other is t:  # a record of the same batch pointing at another goes with it
                        query = query.where(func.coalesce(other.c.import_batch_id, -1) != batch.id)
                    for target_id, n in session.execute(query.group_by(ref).order_by(ref).limit(_SHOWN)):
                        found.append(
                            f"{_label(name)} {target_id} has {n} {_label(other.name)} row(s) ({other.name}.{ref.name})"
                        )
        if name == "lead":
            lead = Lead.__table__  # type: ignore[attr-defined]
            query = select(lead.c.id, lead.c.deal_id).where(
                lead.c.import_batch_id == batch.id, lead.c.deal_id.is_not(None)
            )
            for lead_id, deal_id in session.execute(query.order_by(lead.c.id).limit(_SHOWN)):
                found.append(f"lead {lead_id} was turned into deal {deal_id}")
        # edits after the import, in the audit log (a voided arrival is already out: undo voids the rest)
        entities = [(name, _ids(name, batch.id))]
        if name == "deal":
            procedure = _table("procedure")
            entities.append(
                (
                    "procedure",
                    select(procedure.c.id).where(procedure.c.deal_id.in_(_ids("deal", batch.id))).scalar_subquery(),
                )
            )
        for entity, ids in entities:
            query = select(AuditLog.id, AuditLog.entity_id, AuditLog.action, AuditLog.field, AuditLog.at).where(
                col(AuditLog.id) > since, AuditLog.entity == entity, col(AuditLog.entity_id).in_(ids)
            )
            if entity == "capital_arrival":
                query = query.where(AuditLog.action != "void")
            for audit_id, entity_id, action, field_, at in session.execute(query.order_by(AuditLog.id).limit(_SHOWN)):
                what = f"{action} {field_}" if field_ else action
                found.append(
                    f"{_label(entity)} {entity_id} was changed after the import ({what} at {at:%Y-%m-%d %H:%M}, audit {audit_id})"
                )
    return found


def _summary_audit_id(session: Session, batch_id: int) -> int:
    """The id of the import's own audit row (0 when missing: then every audit row counts as later)."""
    found = session.execute(
        select(func.max(AuditLog.id)).where(
            AuditLog.action == "import", col(AuditLog.note).endswith(f", {NOTE_TAG}{batch_id}")
        )
    ).scalar()
    return int(found or 0)


def undo_import(
    session: Session,
    batch_id: int,
    *,
    actor: str,
    reason: str | None = None,
    on: date | None = None,
    commit: bool = True,
) -> UndoResult:
    """Reverse import batch `batch_id`: void its arrivals (on `on`, default today) and remove the
    records it created, in one transaction, audited. Refused (nothing changes) when it was already
    undone, when it edited stored records, or when something was built on its records."""
    if not isinstance(actor, str) or not actor.strip():
        raise InvalidValue("actor", actor, "say who undoes the import (--actor)")
    who = actor.strip()[:64]
    why = (reason or "").strip() or None
    with unit_of_work(session, commit=commit):
        batch = session.get(ImportBatch, batch_id)
        if batch is None:
            raise NotFound("import batch", batch_id)
        if batch.undone_at is not None:
            raise Refused(
                f"import batch {batch_id} ({batch.file_name}) was already undone on {batch.undone_at:%Y-%m-%d %H:%M}"
                f" by {batch.undone_by}"
            )
        if batch.updated:
            raise Refused(
                f"import batch {batch_id} ({batch.file_name}) changed {batch.updated} stored record(s); undo reverses "
                "only what an import created: edit those records back instead"
            )
        found = built_on(session, batch, _summary_audit_id(session, batch_id))
        if found:
            raise Refused(
                f"import batch {batch_id} ({batch.file_name}) cannot be undone: its records were built on:\n  "
                + "\n  ".join(found[:_SHOWN])
                + ("\n  … and more" if len(found) > _SHOWN else "")
            )
        result = UndoResult(batch_id, batch.kind, batch.file_name)
        void_reason = f"import batch {batch_id} undone" + (f": {why}" if why else "")
        arrival = CapitalArrival.__table__  # type: ignore[attr-defined]
        voided = session.execute(
            update(arrival)
            .where(arrival.c.import_batch_id == batch_id, arrival.c.voided_on.is_(None))
            .values(voided_on=on or date.today(), void_reason=void_reason, voided_by=who)
        )
        result.voided = getattr(voided, "rowcount", 0) or 0
        for name in [t for t in REMOVED if t == CREATES[batch.kind]]:
            t = _table(name)
            removed = (
                [i for (i,) in session.execute(select(t.c.id).where(t.c.import_batch_id == batch_id))]
                if name in ("deal", "trip", "target")
                else []
            )
            for owned in _OWNED.get(name, ()):
                child = _table(owned)
                parent = next(c for c in child.c if any(fk.column.table is t for fk in c.foreign_keys))
                session.execute(delete(child).where(parent.in_(_ids(name, batch_id))))
            for record_id in removed:  # few: one audit row each (visits and leads: the summary row)
                audit.record(
                    session, actor=who, action="undo import", entity=name, entity_id=record_id, note=void_reason
                )
            gone = session.execute(delete(t).where(t.c.import_batch_id == batch_id))
            result.removed[name] = getattr(gone, "rowcount", 0) or 0
        batch.undone_at, batch.undone_by, batch.undo_reason = utcnow(), who, why
        session.add(batch)
        audit.record(
            session,
            actor=who,
            action="undo import",
            entity="import_batch",
            entity_id=batch_id,
            field="undone_at",
            new=f"{batch.undone_at:%Y-%m-%d %H:%M:%S}",
            note=result.summary() + (f" — {why}" if why else ""),
        )
    return result

"""Re-importing a corrected ledger: which stored records its rows are, what differs, and applying it.

A deals row is the stored deal named by its 项目编号 (the id an export carries) when that
deal agrees with the row on two of investor, project and signing date (a ledger exported
from another database carries other ids), else the deal with the natural key (investor,
project, signing date), else the deal of the investor's credit code with the project and
signing date. Each field the row gives that differs from the record is a
`Change` (``row 12 项目名称 100MW光伏: 总投资 5900万 → 6000万``). Values are compared as
parsed, so formatting is never a difference: spaces and full-width characters fold away
and 6000万元 equals 0.6亿元 (both are 60,000,000 yuan). A blank cell never erases.

Without ``update`` an import with changes is refused (``Differences``) and writes nothing;
with it the changes go through the same audited calls as a clerk's (``deals.edit`` and
``deals.correct``). The importer (crm.ledgers.imports) calls this module at three points:
`new_names` after parsing, `deal_changes` after validating, `apply` after writing.

Arrivals: a row is the stored arrival named by its 到位编号 when that arrival is not voided and
belongs to the deal the row names; the streamed importer calls `arrival_rows` per checked chunk
(one lookup per chunk, only for rows carrying an id), `refuse_arrivals` before writing and
`apply_arrivals` after. Rows without 到位编号 are matched by the natural key as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from crm import deals, names
from crm.audit import record_changes
from crm.db import core_select as select
from crm.deals import normalize_credit_code, normalize_investor_name
from crm.errors import CrmError, InvalidValue, LedgerError, Refused
from crm.ledgers.cells import fold
from crm.models import CapitalArrival, Deal, Industry, Investor, Person, Region, SigningEvent, Unit

if TYPE_CHECKING:
    from crm.ledgers.imports import Batch, _DealRow

# Ledger columns that name a reference row, and its kind in crm.names.
NAMED_COLUMNS = {
    "unit": "unit",
    "credited_unit": "unit",
    "leader": "person",
    "introducer": "person",
    "owner": "person",
    "members": "person",
    "signing_event": "signing_event",
}
# Deal fields a re-import compares, in the order they are reported; lifecycle dates go through `correct`.
COMPARED = (
    "project_name",
    "contracted_yuan",
    "industry",
    "origin",
    "origin_city",
    "unit",
    "leader",
    "introducer",
    "credited_unit",
    "signing_event",
    "signer",
    "location",
    "description",
)
DATES = ("started_on", "completed_on", "terminated_on")
_TARGETS = {"start": "started", "complete": "in_production", "terminate": "terminated"}
_UNIT_SUFFIX = re.compile(r"[（(](元|万元|亿元)[）)]$")


class Differences(LedgerError):
    """Rows that match stored records but differ from them; nothing was written."""

    def __init__(self, lines: list[str], path: Path) -> None:
        self.lines = lines
        head = (
            f"{path.name}: {len(lines)} difference(s) from the stored records; nothing was imported "
            "(apply them with --update, or see them with --dry-run)"
        )
        super().__init__([], "\n".join([head, *lines]))


@dataclass
class Change:
    """One field of one stored deal that a ledger row gives differently."""

    i: int  # the row's index in the batch
    row: int  # the row number as the user sees it
    deal_id: int
    field: str
    old: Any
    new: Any
    text: str = ""


@dataclass
class _Stored:
    """A stored deal as a re-import compares it: readable names, not ids."""

    id: int
    values: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- new names


def new_names(session: Session, batch: Batch, *, refuse: bool) -> dict[str, list[str]]:
    """The names (units, people, signing events) the ledger brings that do not exist yet, by kind.

    With `refuse` (``--no-new-names``) every row using one fails with the closest existing names.
    """
    found: dict[str, list[str]] = {}
    known: dict[tuple[str, str], bool] = {}
    for column, kind in NAMED_COLUMNS.items():
        values = batch.values.get(column)
        if values is None:
            continue
        for i, value in enumerate(values):
            for name in value if isinstance(value, list) else [value]:
                if not name:
                    continue
                key = (kind, name)
                if key not in known:
                    known[key] = names.find(session, kind, name) is not None
                if known[key]:
                    continue
                if refuse:
                    try:
                        names.resolve(session, kind, name)
                    except InvalidValue as exc:
                        batch.fail(i, column, f"{exc.reason} (--no-new-names)", value=name)
                elif name not in found.setdefault(kind, []):
                    found[kind].append(name)
    return {k: v for k, v in found.items() if v}


# ---------------------------------------------------------------- differences


def _money(yuan: int) -> str:
    """Yuan as a clerk writes it: 5900万, 1.5亿 stays 15000万, 800元."""
    if yuan % 100 == 0 and yuan >= 10_000:
        return f"{(Decimal(yuan) / 10_000).normalize():f}万"
    return f"{yuan}元"


def _shown(field: str, value: Any) -> str:
    if value is None:
        return "(blank)"
    if field == "contracted_yuan":
        return _money(int(value))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _title(batch: Batch, name: str) -> str:
    return _UNIT_SUFFIX.sub("", batch.header(name))


def _stored(session: Session, ids: list[int]) -> dict[int, _Stored]:
    """The compared fields of the deals `ids`, with names for ids (chunked: province ledgers are long)."""
    unit_t, credited_t = aliased(Unit), aliased(Unit)
    leader_t, introducer_t = aliased(Person), aliased(Person)
    out: dict[int, _Stored] = {}
    for start in range(0, len(ids), 2_000):
        chunk = ids[start : start + 2_000]
        query = (
            select(
                Deal.id,
                Deal.project_name,
                Deal.contracted_yuan,
                Industry.name,
                Region.name,
                Deal.origin_city,
                unit_t.name,
                leader_t.name,
                introducer_t.name,
                credited_t.name,
                SigningEvent.name,
                Deal.signer,
                Deal.location,
                Deal.description,
                Deal.started_on,
                Deal.completed_on,
                Deal.terminated_on,
            )
            .outerjoin(Industry, Industry.id == Deal.industry_id)
            .outerjoin(Region, Region.id == Deal.origin_region_id)
            .outerjoin(unit_t, unit_t.id == Deal.unit_id)
            .outerjoin(leader_t, leader_t.id == Deal.leader_id)
            .outerjoin(introducer_t, introducer_t.id == Deal.introducer_id)
            .outerjoin(credited_t, credited_t.id == Deal.credited_unit_id)
            .outerjoin(SigningEvent, SigningEvent.id == Deal.signing_event_id)
            .where(col(Deal.id).in_(chunk))
        )
        for row in session.execute(query):
            out[row[0]] = _Stored(row[0], dict(zip((*COMPARED, *DATES), row[1:], strict=True)))
    return out


def _given(batch: Batch, i: int) -> dict[str, Any]:
    """What row `i` says about each compared field (None: the ledger says nothing)."""
    v = batch.col
    origin = v("origin")[i]
    given = {name: v(name)[i] for name in (*COMPARED, *DATES) if name not in ("origin", "origin_city")}
    given["origin"] = origin[0] if origin else None
    given["origin_city"] = v("origin_city")[i] or (origin[1] if origin else None)
    return given


def _same(field: str, old: Any, new: Any) -> bool:
    if isinstance(old, str) and isinstance(new, str):
        return fold(old) == fold(new)
    return bool(old == new)


def _match(session: Session, batch: Batch) -> dict[int, int]:
    """Row index -> the stored deal it is: by 项目编号, else natural key, else credit code + project + date."""
    by_key: dict[tuple[str, str, date], int] = {}
    by_code: dict[tuple[str, str, date], int] = {}
    by_id: dict[int, tuple[str, str, date]] = {}
    for id_, key, code, project, signed_on in session.execute(
        select(Deal.id, Investor.name_key, Investor.credit_code, Deal.project_name, Deal.signed_on).join(
            Investor, Investor.id == Deal.investor_id
        )
    ):
        by_key[(key, fold(project), signed_on)] = id_
        by_id[id_] = (key, fold(project), signed_on)
        if code:
            by_code[(code, fold(project), signed_on)] = id_
    v = batch.col
    matched: dict[int, int] = {}
    for i in range(batch.n):
        project, investor, signed_on = v("project_name")[i], v("investor")[i], v("signed_on")[i]
        if not batch.ok(i) or project is None or investor is None or signed_on is None:
            continue
        try:
            key = (normalize_investor_name(investor), fold(project), signed_on)
            code = normalize_credit_code(v("credit_code")[i]) if v("credit_code")[i] else None
        except InvalidValue:
            continue  # already a row error
        given_id = v("deal_id")[i]
        stored = by_id.get(int(given_id)) if given_id is not None and given_id == int(given_id) else None
        # an id names the deal when the deal agrees on two of investor, project and signing date: a
        # clerk corrects one of them; a ledger exported from another database carries other ids
        if stored is not None and sum(a == b for a, b in zip(stored, key, strict=True)) >= 2:
            matched[i] = int(given_id)
            continue
        found = by_key.get(key)
        if found is None and code is not None:
            found = by_code.get((code, fold(project), signed_on))
        if found is not None:
            matched[i] = found
    return matched


def deal_changes(session: Session, batch: Batch, plan: list[_DealRow]) -> tuple[list[_DealRow], list[Change], int]:
    """The stored deals the rows are, and how the rows differ from them.

    Returns (the plan without signings of rows that are stored deals under another project
    name or investor spelling, the changes, how many such rows were taken out: they are
    already present). Rows repeating an earlier row's deal are compared once.
    """
    from crm.ledgers.imports import _DealRow, _moves  # crm.ledgers.imports imports this module: cycle broken here

    matched = _match(session, batch)
    stored = _stored(session, sorted(set(matched.values())))
    states = dict(session.execute(select(Deal.id, Deal.state).where(col(Deal.id).in_(list(stored)))).all())
    kept: list[_DealRow] = []
    taken = 0
    for entry in plan:
        deal_id = matched.get(entry.i)
        if entry.deal_id is None and deal_id is not None:
            # a stored deal named by its id or credit code: moved on, never signed a second time
            taken += 1
            target = _TARGETS[entry.steps[-1][0]] if entry.steps else "signed"
            moves = _moves(str(states[deal_id]), target, entry.steps)
            if moves:
                kept.append(_DealRow(entry.i, None, moves, deal_id, reason=entry.reason, after=entry.after))
            continue
        kept.append(entry)
    changes: list[Change] = []
    seen: set[int] = set()
    project_title = _title(batch, "project_name")
    for i, deal_id in sorted(matched.items()):
        if deal_id in seen or not batch.ok(i):
            continue
        seen.add(deal_id)
        record = stored[deal_id]
        for name, new in _given(batch, i).items():
            old = record.values[name]
            if new is None or (name in DATES and old is None) or _same(name, old, new):
                continue
            row = batch.table.rows[i]
            text = (
                f"row {row} {project_title} {record.values['project_name']}: "
                f"{_title(batch, name)} {_shown(name, old)} → {_shown(name, new)}"
            )
            changes.append(Change(i, row, deal_id, name, old, new, text))
    return kept, changes, taken


def would(plan: Sequence[Any], changes: Sequence[Change] = ()) -> tuple[int, int]:
    """(inserted, updated) an import's plan would give, for a dry run that writes nothing.

    A plan entry is a deals ``_DealRow`` (a stored deal when it has a ``deal_id``), a targets
    ``(i, fields, known)`` or a ``(i, fields)`` of a new row; `changes` count once per deal.
    """
    inserted = updated = 0
    moved: set[int] = set()
    for entry in plan:
        if hasattr(entry, "deal_id"):
            if entry.deal_id is None:
                inserted += 1
            else:
                moved.add(entry.deal_id)
        elif len(entry) == 3 and entry[2]:
            updated += 1
        else:
            inserted += 1
    return inserted, updated + len(moved | {c.deal_id for c in changes})


def refuse(changes: list[Change], path: Path) -> None:
    """Differences with the stored records and no --update: refuse the whole import."""
    if changes:
        raise Differences([c.text for c in changes], path)


def apply(session: Session, batch: Batch, changes: list[Change], *, actor: str, file: str) -> int:
    """Apply the changes through the audited calls (deals.edit, deals.correct); a refused one is a row error.

    Returns how many deals changed.
    """
    by_deal: dict[int, list[Change]] = {}
    for change in changes:
        by_deal.setdefault(change.deal_id, []).append(change)
    changed = 0
    for deal_id, items in by_deal.items():
        edits = {c.field: c.new for c in items}
        dates = {k: edits.pop(k) for k in DATES if k in edits}
        note = f"re-import of {file}, row {items[0].row}"
        try:
            with session.begin_nested():
                if edits:
                    deals.edit(session, deal_id, actor=actor, note=note, new_names=True, commit=False, **edits)
                if dates:
                    deals.correct(session, deal_id, actor=actor, note=note, commit=False, **dates)
        except CrmError as exc:
            batch.fail(items[0].i, "", str(exc))
            continue
        changed += 1
    return changed


# ---------------------------------------------------------------- arrivals

# Arrival fields a re-import compares, in the order they are reported, and their place in the
# importer's insert tuple (ARRIVAL_COLUMNS): deal, day, amount, source, use, evidence kind and
# reference, verified, and a foreign-currency arrival's currency, original amount and rate.
ARRIVAL_COMPARED = (
    ("arrived_on", 1),
    ("arrived_yuan", 2),
    ("source", 3),
    ("use", 4),
    ("evidence_kind", 5),
    ("evidence_ref", 6),
    ("verified", 7),
    ("currency", 8),
    ("original_cents", 9),
    ("fx_rate", 10),
)
_ARRIVAL_COLUMN = {"original_cents": "original_amount"}  # the ledger column of a stored field
_ID_LOOKUP = 5_000  # ids per IN (...) query: well below SQLite's bound variables


@dataclass
class ArrivalChange:
    """One field of one stored arrival that a ledger row carrying its 到位编号 gives differently."""

    row: int  # the row number as the user sees it
    arrival_id: int
    field: str
    old: Any
    new: Any
    text: str = ""


def _shown_arrival(batch: Batch, name: str, value: Any) -> str:
    if value is None:
        return "(blank)"
    if name == "arrived_yuan":
        return _money(int(value))
    if name == "verified":
        return "是" if value else "否"
    if name == "original_cents":
        return f"{(Decimal(value) / 100).normalize():f}"
    if isinstance(value, date):
        return value.isoformat()
    if name in ("source", "use"):
        return batch.kind.column(name).labels.get(str(value), str(value))
    return str(value)


def arrival_rows(
    session: Session,
    batch: Batch,
    rows: list[tuple[Any, ...]],
    kept: list[int],
    changes: list[ArrivalChange],
) -> tuple[list[tuple[Any, ...]], int]:
    """Of one checked chunk of an arrivals ledger, take out the rows that are stored arrivals.

    `rows` are the chunk's insert tuples (ARRIVAL_COLUMNS but created_at) and `kept` the batch
    index of each. A row whose 到位编号 names a stored arrival that is not voided and belongs to
    the deal the row names (an id from another database names another deal, or none) is that
    arrival: it is never inserted again. Where it differs in a compared field, one
    `ArrivalChange` per field is appended to `changes`. Values are compared as parsed, so
    formatting (万元 or 元, full-width digits, spaces) is never a difference, and a blank cell
    never erases (是否核实 left blank says nothing). Rows without an id, or whose 到位编号 is a
    bureau's own code (DW-2026-001: not a whole number), are returned as they were
    and go on to the natural-key check. Only rows carrying an id cost a lookup: one query per
    `_ID_LOOKUP` ids.

    Returns (the rows still to insert or check by natural key, how many were stored arrivals
    already, unchanged or changed).
    """
    given = batch.values.get("arrival_id")
    if given is None or not rows:
        return rows, 0
    wanted: dict[int, int] = {}  # arrival id -> position in rows (the first row naming it)
    for at, i in enumerate(kept):
        value = given[i]
        if value is not None:
            digits = value if value.isascii() else fold(value)  # full-width digits and spaces fold away
            if digits.isdigit() and digits.isascii() and 0 < int(digits) < 2**63:
                wanted.setdefault(int(digits), at)
    if not wanted:
        return rows, 0
    a = CapitalArrival
    stored: dict[int, tuple[Any, ...]] = {}
    ids = sorted(wanted)
    for start in range(0, len(ids), _ID_LOOKUP):
        query = select(
            a.id,
            a.deal_id,
            a.arrived_on,
            a.arrived_yuan,
            a.source,
            a.use,
            a.evidence_kind,
            a.evidence_ref,
            a.verified,
            a.currency,
            a.original_cents,
            a.fx_rate,
        ).where(col(a.id).in_(ids[start : start + _ID_LOOKUP]), col(a.voided_on).is_(None))
        for found in session.execute(query):
            stored[found[0]] = tuple(found[1:])
    taken: set[int] = set()
    id_title = batch.header("arrival_id")
    verified_given = batch.col("verified")
    projects = batch.col("project_name")
    for arrival_id, at in wanted.items():
        record = stored.get(arrival_id)
        row = rows[at]
        if record is None or record[0] != row[0]:
            continue  # voided, unknown, or another deal's: the row is not this arrival
        taken.add(at)
        if record[1:11] == row[1:11]:
            continue  # the common case, an unchanged row: no field by field comparison
        i = kept[at]
        for name, place in ARRIVAL_COMPARED:
            old, new = record[place], row[place]
            if name == "verified":
                if verified_given[i] is None:
                    continue
                old = bool(old)
            if new is None or _same(name, old, new) or (name in ("source", "use") and str(old) == str(new)):
                continue
            text = (
                f"row {batch.table.rows[i]} {id_title} {arrival_id} {projects[i]}: "
                f"{_title(batch, _ARRIVAL_COLUMN.get(name, name))} "
                f"{_shown_arrival(batch, name, old)} → {_shown_arrival(batch, name, new)}"
            )
            changes.append(ArrivalChange(batch.table.rows[i], arrival_id, name, old, new, text))
    if not taken:
        return rows, 0
    return [r for at, r in enumerate(rows) if at not in taken], len(taken)


def refuse_arrivals(changes: list[ArrivalChange], path: Path) -> None:
    """Differences with stored arrivals and no --update: refuse the whole import."""
    if changes:
        raise Differences([c.text for c in changes], path)


def changed_arrivals(changes: Sequence[ArrivalChange]) -> int:
    """How many arrivals `changes` change (what a dry run reports as updated)."""
    return len({c.arrival_id for c in changes})


def apply_arrivals(session: Session, changes: list[ArrivalChange], *, actor: str, file: str) -> int:
    """Apply a re-import's corrections to stored arrivals; returns how many arrivals changed.

    A correction is an audited edit of the arrival, not void-and-replace: the row keeps its id,
    so the clerk's ledger (and every later export) goes on naming it by its 到位编号, and its
    evidence, verification and history stay on one row; the audit log holds the old and the new
    value of each field (action ``edit``, note ``re-import of FILE, row N``), so no money is
    lost from the record, and since the arrival is still one row every figure counts it once, at
    its corrected amount. A 是否核实 turned to 是 records who and when, as ``crm arrival verify``
    does; turned to 否 clears them. An arrival voided since the check is refused (nothing written).
    """
    by_arrival: dict[int, list[ArrivalChange]] = {}
    for change in changes:
        by_arrival.setdefault(change.arrival_id, []).append(change)
    who = actor.strip()[:64]
    for arrival_id, items in by_arrival.items():
        arrival = session.get(CapitalArrival, arrival_id, with_for_update=True)
        if arrival is None or arrival.voided_on is not None:
            raise Refused(f"arrival {arrival_id}: voided or removed while {file} was checked; nothing was imported")
        edits: dict[str, Any] = {c.field: c.new for c in items}
        if edits.get("verified") is True:
            edits.update(verified_on=date.today(), verified_by=who)
        elif edits.get("verified") is False:
            edits.update(verified_on=None, verified_by=None)
        record_changes(
            session, arrival, edits, actor=who, action="edit", note=f"re-import of {file}, row {items[0].row}"
        )
    session.flush()
    return len(by_arrival)

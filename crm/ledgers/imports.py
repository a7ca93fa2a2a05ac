"""Importing a ledger: read, parse every cell, check every row, then write in one transaction.

All or nothing by default: every row is checked before anything is written, and one bad
row means nothing is written (LedgerError lists every bad row). ``partial=True`` writes
the good rows and returns the bad ones. Re-importing a ledger creates nothing new: each
kind has a natural key (``LedgerKind.natural_key``) and rows already present are counted.

How rows land: new deals are signed in bulk by the rules of ``crm.deals`` (the same columns and
audit rows as sign, start, complete, terminate row by row; see ``_BulkSigning``), stored deals
the ledger moves on go through ``crm.deals`` one by one; targets through ``crm.targets.set_target`` and trips through ``crm.trips``;
arrivals, visits and leads are inserted in bulk (arrivals with the driver's executemany
on SQLite and COPY on PostgreSQL), checked here by the same rules. Every import that
changes something adds one audit row (action ``import``) naming the file, the count and its
import batch (crm.ledgers.batches): every record it created carries the batch's id.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

from sqlalchemy import Date, DateTime, func, insert, or_, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from crm import audit
from crm.db import begin_writing
from crm.db import core_select as select
from crm.errors import CrmError, InvalidValue, LedgerError, RowError
from crm.ledgers import batches, deal_extras, reimport
from crm.ledgers.cells import (
    choice_parser,
    fold,
    format_period,
    is_placeholder,
    money_parser,
    parse_bool,
    parse_date,
    parse_decimal,
    parse_list,
    parse_month,
    parse_number,
    parse_percent,
    parse_period,
    parse_procedure,
    parse_text,
    read_cell,
    split_place,
)
from crm.ledgers.cumulative import running_totals
from crm.ledgers.progress import Advance, progress_bar
from crm.ledgers.read import LedgerReader, Table
from crm.ledgers.schema import MONEY_METRICS, Column, LedgerKind, ledger_kind
from crm.models import (
    AuditLog,
    CapitalArrival,
    Deal,
    DealState,
    ImportBatch,
    Industry,
    Investor,
    Lead,
    LeadStage,
    Person,
    Region,
    SigningEvent,
    Squad,
    Target,
    Trip,
    Unit,
    Visit,
    VisitStatus,
    utcnow,
)
from crm.money import parse_yuan
from crm.names import closest

CHUNK = 25_000  # rows read, checked and inserted at a time (arrivals); ~40 MB of Python objects
# Required columns whose cell may be blank in some rows: a foreign-currency arrival gives 原币金额 × 汇率.
_REQUIRED_UNLESS = {("arrivals", "arrived_yuan")}
_MISSING = object()


@dataclass
class ImportResult:
    """What an import did: rows read, inserted, already present (natural key), updated, and the bad rows."""

    kind: str
    rows: int
    inserted: int
    already_present: int
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    updated: int = 0  # rows already present whose state or figures the ledger moved on
    file: str = ""
    differences: list[str] = field(default_factory=list)  # re-import: how rows differ from stored records
    new_names: dict[str, list[str]] = field(default_factory=dict)  # names the ledger brought, by kind
    dry_run: bool = False
    batch_id: int | None = None  # the import batch (none for a dry run or an import that wrote no record)

    def summary(self) -> str:
        parts = [
            f"{self.file or self.kind}: {self.rows} rows read",
            f"{self.inserted} {'would be inserted' if self.dry_run else 'inserted'}",
            f"{self.already_present} already present",
        ]
        if self.updated:
            parts.append(f"{self.updated} {'would be updated' if self.dry_run else 'updated'}")
        if self.errors:
            parts.append(f"{len({e.row for e in self.errors})} bad rows skipped")
        lines = [", ".join(parts)]
        lines += [f"  {'difference' if self.dry_run else 'changed'}: {d}" for d in self.differences]
        lines += [f"  new {kind}: {'、'.join(found)}" for kind, found in self.new_names.items()]
        if self.dry_run:
            lines.append("  dry run: nothing was written")
        elif self.batch_id is not None:
            lines.append(f"  import batch {self.batch_id} (crm import undo {self.batch_id} reverses it)")
        return "\n".join(lines)


class Batch:
    """The parsed cells of a ledger, column by column, and the problems found, row by row."""

    def __init__(self, kind: LedgerKind, table: Table) -> None:
        self.kind = kind
        self.table = table
        self.n = len(table.rows)
        self.values: dict[str, list[Any]] = {}
        self.bad: dict[int, list[RowError]] = {}
        self._blank: list[Any] = [None] * self.n

    def header(self, name: str) -> str:
        if name in self.table.headers:
            return self.table.headers[name]
        try:
            return self.kind.column(name).title
        except KeyError:
            return name

    def col(self, name: str) -> list[Any]:
        return self.values.get(name, self._blank)

    def fail(self, i: int, name: str, message: str, value: Any = _MISSING) -> None:
        if value is _MISSING:
            value = self.table.cells.get(name, self._blank)[i] if name else None
        shown = "" if value is None else parse_text(value) if not isinstance(value, str) else value.strip()
        self.bad.setdefault(i, []).append(
            RowError(self.table.rows[i], self.header(name) if name else "", shown, message)
        )

    def ok(self, i: int) -> bool:
        return i not in self.bad

    def errors(self) -> list[RowError]:
        return [e for i in sorted(self.bad) for e in self.bad[i]]


def _parser(column: Column, unit: str | None) -> Callable[[Any], Any]:
    simple: dict[str, Callable[[Any], Any]] = {
        "text": parse_text,
        "date": parse_date,
        "month": parse_month,
        "bool": parse_bool,
        "number": parse_number,
        "percent": parse_percent,
        "period": parse_period,
        "decimal": parse_decimal,
        "list": parse_list,
        "region": lambda v: split_place(parse_text(v)),
        "amount": lambda v: v,
        "procedure": parse_procedure,
    }
    if column.type == "money":
        return money_parser(unit or column.unit or "万元", column.title)
    if column.type == "choice":
        return choice_parser(column.choices, column.title, column.refused)
    return simple[column.type]


def parse_batch(kind: LedgerKind, table: Table) -> Batch:
    """Parse every cell of `table` by its column's type; a cell that does not parse is a row error."""
    batch = Batch(kind, table)
    for column in kind.columns:
        raw = table.cells.get(column.name)
        if raw is None:
            continue
        parse = _parser(column, table.units.get(column.name))
        cache: dict[tuple[type, Any], tuple[bool | None, Any]] = {}
        out: list[Any] = []
        for i, value in enumerate(raw):
            if value is None:
                out.append(None)
                if column.required and (kind.name, column.name) not in _REQUIRED_UNLESS:
                    batch.fail(i, column.name, f"{batch.header(column.name)} is required")
                continue
            key = (value.__class__, value)
            hit = cache.get(key)
            if hit is None:
                hit = cache[key] = read_cell(parse, value)
            assert hit is not None
            if hit[0]:
                out.append(hit[1])
            elif hit[0] is None:  # a placeholder (-, /, 无 ...): missing, not zero
                out.append(None)
                if column.required and (kind.name, column.name) not in _REQUIRED_UNLESS:
                    batch.fail(i, column.name, f"{batch.header(column.name)} is required; {hit[1]}")
            else:
                out.append(None)
                batch.fail(i, column.name, hit[1])
        batch.values[column.name] = out
    return batch


def _plain(exc: BaseException) -> str:
    if isinstance(exc, IntegrityError):
        return f"the database refused the row: {exc.orig}"
    return str(exc)


class _Names:
    """Units or people by name, created (and audited) on first use."""

    def __init__(self, session: Session, model: type[Unit] | type[Person], *, actor: str) -> None:
        self.session, self.model, self.actor = session, model, actor
        self.ids: dict[str, int] = {name: id_ for id_, name in session.execute(select(model.id, model.name))}

    def id(self, name: str | None) -> int | None:
        if name is None:
            return None
        found = self.ids.get(name)
        if found is None:
            row = self.model(name=name)
            self.session.add(row)
            self.session.flush()
            audit.record_creation(self.session, row, actor=self.actor)
            assert row.id is not None
            found = self.ids[name] = row.id
        return found


def _regions(session: Session) -> dict[str, int]:
    return {name: id_ for id_, name in session.execute(select(Region.id, Region.name))}


def _industries(session: Session) -> dict[str, tuple[int, str]]:
    return {fold(name): (id_, name) for id_, name in session.execute(select(Industry.id, Industry.name))}


def _check_industry(batch: Batch, i: int, name: str | None, known: dict[str, tuple[int, str]]) -> int | None:
    if name is None:
        return None
    found = known.get(fold(name))
    if found is None:
        # industries are the list figures group by: a ledger's typo must not become a new one
        every = [n for _, n in known.values()]
        near = closest(name, every)
        hint = f"did you mean {'、'.join(near)}?" if near else f"known: {'、'.join(every)}"
        batch.fail(i, "industry", f"unknown industry; {hint} (a new one is added with `crm ref add industry`)")
        return None
    return found[0]


# ---------------------------------------------------------------- deals

_ORDER = {DealState.signed: 0, DealState.started: 1, DealState.in_production: 2}


@dataclass(slots=True)
class _DealRow:
    """One deal row of the plan: a new deal (its fields read from `batch` when asked for, so that a
    100,000-row plan does not hold 100,000 dicts) or the moves of a stored deal (`deal_id`)."""

    i: int
    given: dict[str, Any] | None  # the fields, when not read from `batch`
    steps: list[tuple[str, date]]
    deal_id: int | None = None
    given_extras: dict[str, Any] | None = None
    reason: str | None = None
    after: dict[str, Any] | None = None  # stall, owner, procedures (crm.ledgers.deal_extras)
    batch: Batch | None = None
    code: str | None = None  # the credit code, normalized

    @property
    def fields(self) -> dict[str, Any]:
        """The arguments of ``deals.sign`` for the row."""
        if self.batch is None:
            return self.given or {}
        v, i = self.batch.col, self.i
        origin = v("origin")[i]
        return {
            "project_name": v("project_name")[i],
            "investor": v("investor")[i],
            "signed_on": v("signed_on")[i],
            "contracted_yuan": v("contracted_yuan")[i],
            "industry": v("industry")[i],
            "origin": origin[0] if origin else None,
            "origin_city": v("origin_city")[i] or (origin[1] if origin else None),
            "unit": v("unit")[i],
            "leader": v("leader")[i],
            "introducer": v("introducer")[i],
            "credited_unit": v("credited_unit")[i],
            "signing_event": v("signing_event")[i],
            "signer": v("signer")[i],
            "credit_code": self.code,
            "note": v("note")[i],
        }

    @property
    def extras(self) -> dict[str, Any]:
        """What the ledger says beyond a signing (location, description, registered_on)."""
        if self.batch is None:
            return self.given_extras or {}
        v, i = self.batch.col, self.i
        return {n: v(n)[i] for n in ("location", "description", "registered_on") if v(n)[i] is not None}


def _deal_state(batch: Batch, i: int, signed_on: date | None) -> tuple[str | None, list[tuple[str, date]]]:
    """The state the row says the deal is in, and the transitions from signing that reach it."""
    state = batch.col("state")[i]
    started, completed, terminated = (batch.col(n)[i] for n in ("started_on", "completed_on", "terminated_on"))
    if state is None:
        state = (
            DealState.terminated
            if terminated
            else DealState.in_production
            if completed
            else DealState.started
            if started
            else DealState.signed
        )
    label = batch.header("state")
    said = batch.table.cells.get("state", batch._blank)[i] or state

    def bad(name: str, message: str) -> None:
        batch.fail(i, name, message)

    if state == DealState.signed:
        for name, day in (("started_on", started), ("completed_on", completed), ("terminated_on", terminated)):
            if day is not None:
                bad(name, f"{label} {said} says the deal has not started, but {batch.header(name)} is given")
    if state in (DealState.started, DealState.in_production) and started is None:
        bad("started_on", f"{label} {said} needs {batch.header('started_on')}")
    if state == DealState.in_production and completed is None:
        bad("completed_on", f"{label} {said} needs {batch.header('completed_on')}")
    if state == DealState.started and completed is not None:
        bad("completed_on", f"{label} {said} says not yet completed, but {batch.header('completed_on')} is given")
    if state in (DealState.started, DealState.in_production) and terminated is not None:
        bad("terminated_on", f"{label} {said} says the deal stands, but {batch.header('terminated_on')} is given")
    if state == DealState.terminated:
        if terminated is None:
            bad("terminated_on", f"{label} {said} needs {batch.header('terminated_on')}")
        if completed is not None:
            bad("completed_on", "a deal in production cannot be terminated")
    if signed_on is not None and started is not None and started < signed_on:
        bad("started_on", f"{batch.header('started_on')} {started} is before {batch.header('signed_on')} {signed_on}")
    if started is not None and completed is not None and completed < started:
        bad(
            "completed_on",
            f"{batch.header('completed_on')} {completed} is before {batch.header('started_on')} {started}",
        )
    if terminated is not None and signed_on is not None and terminated < signed_on:
        bad(
            "terminated_on",
            f"{batch.header('terminated_on')} {terminated} is before {batch.header('signed_on')} {signed_on}",
        )
    if terminated is not None and started is not None and terminated < started:
        bad(
            "terminated_on",
            f"{batch.header('terminated_on')} {terminated} is before {batch.header('started_on')} {started}",
        )
    steps: list[tuple[str, date]] = []
    if started is not None and state != DealState.signed:
        steps.append(("start", started))
    if state == DealState.in_production and completed is not None:
        steps.append(("complete", completed))
    if state == DealState.terminated and terminated is not None:
        steps.append(("terminate", terminated))
    return state, steps


def _validate_deals(session: Session, batch: Batch) -> tuple[list[_DealRow], int]:
    from crm.deals import normalize_credit_code, normalize_investor_name

    industries = _industries(session)
    reasons = deal_extras.stall_reasons(session)
    existing: dict[tuple[str, str, date], tuple[int, str]] = {}
    for id_, key, project, signed_on, state in session.execute(
        select(Deal.id, Investor.name_key, Deal.project_name, Deal.signed_on, Deal.state).join(
            Investor, Investor.id == Deal.investor_id
        )
    ):
        existing[(key, fold(project), signed_on)] = (id_, state)
    seen: dict[tuple[str, str, date], int] = {}
    plan: list[_DealRow] = []
    present = 0
    v = batch.col
    for i in range(batch.n):
        project, investor, signed_on = v("project_name")[i], v("investor")[i], v("signed_on")[i]
        key_name = None
        if investor is not None:
            try:
                key_name = normalize_investor_name(investor)
            except InvalidValue as exc:
                batch.fail(i, "investor", exc.reason)
        code = v("credit_code")[i]
        if code is not None:
            try:
                code = normalize_credit_code(code)
            except InvalidValue as exc:
                batch.fail(i, "credit_code", exc.reason)
        _check_industry(batch, i, v("industry")[i], industries)
        state, steps = _deal_state(batch, i, signed_on)
        if not batch.ok(i) or key_name is None or project is None or signed_on is None:
            continue
        key = (key_name, fold(project), signed_on)
        if key in seen:
            batch.table.warnings.append(
                f"row {batch.table.rows[i]} repeats row {batch.table.rows[seen[key]]}; counted once"
            )
            present += 1
            continue
        seen[key] = i
        reason = v("termination_reason")[i] or "台账导入：未注明原因"
        if key in existing:
            deal_id, current = existing[key]
            present += 1
            moves = _moves(current, str(state), steps)
            if moves is None:
                batch.table.warnings.append(
                    f"row {batch.table.rows[i]}: {project} is {current} in the database but {state} in the ledger; "
                    "left as it is"
                )
            elif moves:
                plan.append(_DealRow(i, None, moves, deal_id, reason=reason))
            continue
        after = deal_extras.collect(session, batch, i, state, reasons)
        plan.append(_DealRow(i, None, steps, None, reason=reason, after=after or None, batch=batch, code=code))
    return plan, present


def _moves(current: str, target: str, steps: list[tuple[str, date]]) -> list[tuple[str, date]] | None:
    """The transitions that bring a stored deal from `current` to the ledger's `target`; None if impossible."""
    if current == target:
        return []
    if current in (DealState.terminated, DealState.in_production):
        return None
    if target != DealState.terminated and _ORDER[DealState(target)] < _ORDER[DealState(current)]:
        return None  # an older ledger
    done = {"start"} if current == DealState.started else set()
    return [s for s in steps if s[0] not in done]


def _write_deals(
    session: Session,
    batch: Batch,
    plan: list[_DealRow],
    *,
    actor: str,
    advance: Advance,
    batch_id: int | None,
    partial: bool = True,
) -> tuple[int, int]:
    """Write the plan: new deals in bulk (`_BulkSigning`), stored deals moved on one by one through crm.deals.

    The bulk signing writes what ``deals.sign`` / ``start`` / ``complete`` / ``terminate`` write row by
    row, by the same rules (crm.deals). When it meets what only the one-by-one path can say (a refusal
    naming a deal or an investor this very import creates, a row the database refuses), it goes back to
    its savepoint and the new rows go one by one, each error naming its row.
    """
    new = [row for row in plan if row.deal_id is None]
    moved = [row for row in plan if row.deal_id is not None]
    inserted = 0
    if new:
        savepoint = session.begin_nested()
        try:
            signing = _BulkSigning(session, actor=actor, batch_id=batch_id)
            inserted, failures = signing.run(new, partial=partial, advance=advance)
            savepoint.commit()
        except (_Fallback, CrmError, IntegrityError):
            savepoint.rollback()
            inserted = _write_one_by_one(session, batch, new, actor=actor, advance=advance, batch_id=batch_id)[0]
        else:
            for i, message in failures:
                batch.fail(i, "", message)
    return inserted, _write_one_by_one(session, batch, moved, actor=actor, advance=advance, batch_id=batch_id)[1]


def _write_one_by_one(
    session: Session, batch: Batch, plan: list[_DealRow], *, actor: str, advance: Advance, batch_id: int | None
) -> tuple[int, int]:
    """Each row through crm.deals in its own savepoint: a refused row is a row error, the others stand."""
    from crm import deals

    inserted = updated = 0
    for row in plan:
        try:
            with session.begin_nested():
                deal_id = row.deal_id
                if deal_id is None:
                    deal = deals.sign(session, actor=actor, commit=False, **row.fields)
                    deal.import_batch_id = batch_id
                    if row.extras:
                        audit.record_changes(session, deal, row.extras, actor=actor, action="import")
                    deal_id = deal.id
                assert deal_id is not None
                for step, day in row.steps:
                    if step == "start":
                        deals.start(session, deal_id, on=day, actor=actor, commit=False)
                    elif step == "complete":
                        deals.complete(session, deal_id, on=day, actor=actor, commit=False)
                    else:
                        deals.terminate(session, deal_id, on=day, reason=row.reason or "", actor=actor, commit=False)
                if row.after:
                    deal_extras.apply(session, deal_id, row.after, actor=actor)
                session.flush()
        except (CrmError, IntegrityError) as exc:
            batch.fail(row.i, "", _plain(exc))
            continue
        finally:
            advance(1)
        if row.deal_id is None:
            inserted += 1
        else:
            updated += 1
    return inserted, updated


class _Fallback(Exception):
    """The bulk signing met an outcome only the one-by-one path can word (it names an id not yet given)."""


class _Investor:
    """An investor as the bulk signing sees it: stored (with its id) or created by this import (id once written)."""

    __slots__ = ("created", "credit_code", "fills", "id", "name", "name_key", "origin_city", "origin_region_id")

    def __init__(self, values: dict[str, Any], id_: int | None = None) -> None:
        self.id = id_
        self.name, self.name_key = values["name"], values["name_key"]
        self.credit_code, self.origin_region_id, self.origin_city = (
            values["credit_code"],
            values["origin_region_id"],
            values["origin_city"],
        )
        # the values it was created with (a tuple: a province's ledger brings 80,000 investors)
        self.created = None if id_ is not None else tuple(values.values())
        self.fills: dict[str, Any] | None = None  # blanks of a stored investor this import fills

    def values(self) -> dict[str, Any]:
        """Its columns as they stand (created with, and blanks filled since)."""
        return {name: getattr(self, name) for name in _INVESTOR_FIELDS}


@dataclass(slots=True)
class _Signed:
    """One new deal of the bulk signing: the checked row, its investor and what the row did to it."""

    row: _DealRow
    checked: Any  # crm.deals._Signing
    investor: _Investor
    created: bool  # the row created the investor
    blanks: dict[str, Any]  # the blanks of the investor the row filled
    origin: tuple[int | None, str | None]  # the investor's origin as the row found it (after its blanks)
    names: list[tuple[str, str]]  # the (kind, name) the row created, in crm.deals.sign's order


_INVESTOR_FIELDS = ("name", "name_key", "credit_code", "origin_region_id", "origin_city")
_AUDIT_COLUMNS = ("at", "actor", "action", "entity", "entity_id", "field", "old", "new", "note")


def _insert_many(session: Session, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Insert `rows` (values as the driver takes them) on the session's connection and transaction:
    COPY on PostgreSQL (executemany under row-level security, which refuses COPY), executemany on SQLite.
    A row the database refuses raises SQLAlchemy's IntegrityError, as a Core insert would."""
    if not rows:
        return
    connection = session.connection()
    dbapi: Any = connection.connection.dbapi_connection
    names = ", ".join(columns)
    postgres = connection.dialect.name == "postgresql"
    marks = ", ".join(["%s" if postgres else "?"] * len(columns))
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"
    try:
        if postgres and not connection.execute(text("SELECT row_security_active(:t)"), {"t": table}).scalar():
            with dbapi.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        cursor = dbapi.cursor()
        try:
            cursor.executemany(sql, rows)
        finally:
            cursor.close()
    except connection.dialect.loaded_dbapi.IntegrityError as exc:
        raise IntegrityError(sql, None, exc) from exc


_NAME_MODELS: dict[str, Any] = {"unit": Unit, "person": Person, "signing_event": SigningEvent}
_DEAL_CHUNK = 5_000  # deals written (with their audit rows) at a time


class _BulkSigning:
    """New deals of a deals ledger, checked and written in bulk by crm.deals' rules (one savepoint).

    `plan` runs every row through the checks ``deals.sign`` and the transitions make, with the
    reference lists, investors and names read once (not per row), and keeps the good rows; `write`
    inserts the names, investors, deals and audit rows with a few statements per thousand rows.
    """

    def __init__(self, session: Session, *, actor: str, batch_id: int | None) -> None:
        from crm import deals

        self.session, self.batch_id = session, batch_id
        self.actor = deals._actor(actor)
        self.names: dict[str, dict[str, int | None]] = {
            kind: {name: id_ for id_, name in session.execute(select(model.id, model.name))}
            for kind, model in _NAME_MODELS.items()
        }
        self.by_code: dict[str, _Investor] = {}
        self.by_key: dict[str, _Investor] = {}
        for id_, name, key, code, region, city in session.execute(
            select(
                Investor.id,
                Investor.name,
                Investor.name_key,
                Investor.credit_code,
                Investor.origin_region_id,
                Investor.origin_city,
            )
        ):
            inv = _Investor(
                {"name": name, "name_key": key, "credit_code": code, "origin_region_id": region, "origin_city": city},
                id_,
            )
            self.by_key[key] = inv
            if code:
                self.by_code[code] = inv
        self.stored_deals: dict[tuple[int, str, date], tuple[int, str]] | None = None
        self.new_deals: set[tuple[int, str, date]] = set()
        self.lookups: dict[tuple[str, str], Any] = {}
        self.signed: list[_Signed] = []

    def _lookup(self, kind: str, text: str) -> int:
        """The id of the industry or region `text` names, by crm.reference (its error kept for the next row)."""
        from crm.reference import find_industry, find_region

        key = (kind, text)
        if key not in self.lookups:
            try:
                self.lookups[key] = (find_industry if kind == "industry" else find_region)(self.session, text).id
            except CrmError as exc:
                self.lookups[key] = exc
        found = self.lookups[key]
        if isinstance(found, CrmError):
            raise found
        return int(found)

    def _refuse_duplicate(self, inv: _Investor, project: str, day: date) -> None:
        """`deals._refuse_duplicate_deal` against the stored deals (read once) and this import's."""
        from crm import deals

        if (id(inv), project, day) in self.new_deals:
            raise _Fallback
        if inv.id is None:
            return
        if self.stored_deals is None:
            self.stored_deals = {
                (investor_id, project_, signed_on): (id_, project_)
                for id_, investor_id, project_, signed_on in self.session.execute(
                    select(Deal.id, Deal.investor_id, Deal.project_name, Deal.signed_on)
                )
            }
        found = self.stored_deals.get((inv.id, project, day))
        if found is not None:
            raise deals.duplicate_deal(SimpleNamespace(id=found[0], project_name=found[1]), day)

    def run(self, rows: list[_DealRow], *, partial: bool, advance: Advance) -> tuple[int, list[tuple[int, str]]]:
        """Plan and write the rows chunk by chunk (memory stays flat); returns (deals written, rows refused).
        Once a row is refused and not `partial`, the rest is only checked: the import will be refused."""
        inserted, failures = 0, []
        for start in range(0, len(rows), _DEAL_CHUNK):
            self.signed = []
            failures += self.plan(rows[start : start + _DEAL_CHUNK])
            if partial or not failures:
                inserted += self.write(advance)
        return inserted, failures

    def plan(self, rows: list[_DealRow]) -> list[tuple[int, str]]:
        """Check every row as crm.deals would, in order (a row sees the investors and names of the rows
        before it); returns the rows refused, (row index, reason). Raises _Fallback as said above."""
        from crm import deals

        failures: list[tuple[int, str]] = []
        for row in rows:
            try:
                self.signed.append(self._plan_row(row, deals))
            except CrmError as exc:
                failures.append((row.i, _plain(exc)))
        return failures

    def _plan_row(self, row: _DealRow, deals: Any) -> _Signed:
        f = row.fields
        checked = deals._check_signing(
            **f,
            industry_id=lambda text: self._lookup("industry", text),
            region_id=lambda text: self._lookup("region", text),
        )
        returned: list[_Investor] = []

        def remember(found: _Investor | None) -> _Investor | None:
            if found is not None:
                returned.append(found)
            return found

        try:
            found, display, key = deals._match_investor(
                f["investor"],
                checked.code,
                lambda c: remember(self.by_code.get(c)),
                lambda k: remember(self.by_key.get(k)),
            )
        except CrmError:
            if any(inv.id is None for inv in returned):
                raise _Fallback from None  # the message would name an investor this import creates
            raise
        if found is not None:
            self._refuse_duplicate(found, checked.project, checked.day)
        # the transitions, checked on the deal as it would stand (a refusal names its id: one by one then)
        state = SimpleNamespace(
            id=None,
            project_name=checked.project,
            state=DealState.signed,
            signed_on=checked.day,
            started_on=None,
            completed_on=None,
            terminated_on=None,
        )
        self._steps(row, state, deals)
        # the row stands: its investor and names change what the next rows find
        created = found is None
        blanks: dict[str, Any] = {}
        if found is None:
            inv = _Investor(deals.new_investor_values(display, key, checked.code, checked.region_id, checked.city))
            self.by_key[key] = inv
            if inv.credit_code:
                self.by_code[inv.credit_code] = inv
        else:
            inv = found
            blanks = deals._investor_blanks(inv, checked.code, checked.region_id, checked.city)
            for name, value in blanks.items():
                setattr(inv, name, value)
                if inv.id is not None:
                    inv.fills = {**(inv.fills or {}), name: value}
            if "credit_code" in blanks:
                self.by_code[blanks["credit_code"]] = inv
        self.new_deals.add((id(inv), checked.project, checked.day))
        created_names = []
        for kind, name in checked.names().values():
            if name is not None and name not in self.names[kind]:
                self.names[kind][name] = None  # created by this row; its id once written
                created_names.append((kind, name))
        owner = (row.after or {}).get("owner")
        if owner is not None:  # deal_extras.apply creates the follow-up owner next
            try:
                owner_name = deals._text("owner", owner, 64)
            except CrmError:
                raise _Fallback from None
            if owner_name is not None and owner_name not in self.names["person"]:
                self.names["person"][owner_name] = None
                created_names.append(("person", owner_name))
        return _Signed(row, checked, inv, created, blanks, (inv.origin_region_id, inv.origin_city), created_names)

    @staticmethod
    def _steps(row: _DealRow, state: Any, deals: Any) -> list[dict[str, Any]]:
        """The changes of the row's transitions on `state` (moved along), by crm.deals' rules."""
        out = []
        for step, day in row.steps:
            why = deals._required("reason", row.reason or "", 10_000) if step == "terminate" else ""
            try:
                if step == "start":
                    changes = deals.started(state, day)
                elif step == "complete":
                    changes = deals.completed(state, day)
                else:
                    changes = deals.terminated(state, day, why)
            except CrmError:
                raise _Fallback from None
            out.append(changes)
            for name, value in changes.items():
                setattr(state, name, value)
        return out

    def write(self, advance: Advance) -> int:
        """Insert what `plan` kept: names, then investors, then deals and their audit rows chunk by chunk
        (the driver's executemany, COPY on PostgreSQL; ids read back by each table's unique key)."""
        from crm import deals

        session, actor = self.session, self.actor
        now = utcnow()
        sqlite = session.get_bind().dialect.name == "sqlite"
        # SQLite keeps dates as ISO text and timestamps as SQLAlchemy writes them (no zone)
        stamp: Any = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
        for kind, model in _NAME_MODELS.items():
            fresh = [name for name, id_ in self.names[kind].items() if id_ is None]
            if fresh:
                table = model.__table__
                ids = session.execute(
                    insert(table).returning(table.c.id, sort_by_parameter_order=True), [{"name": n} for n in fresh]
                ).scalars()
                self.names[kind].update(zip(fresh, ids, strict=True))
        created = [s.investor for s in self.signed if s.created]
        if created:
            last = session.execute(select(func.coalesce(func.max(Investor.id), 0))).scalar_one()
            columns = (*_INVESTOR_FIELDS, "created_at")
            _insert_many(session, "investor", columns, [(*inv.values().values(), stamp) for inv in created])
            by_key = dict(session.execute(select(Investor.name_key, Investor.id).where(col(Investor.id) > last)).all())
            for inv in created:
                inv.id = by_key[inv.name_key]
        filled = {id(s.investor): s.investor for s in self.signed if s.investor.fills}
        for inv in filled.values():
            session.execute(update(Investor).where(col(Investor.id) == inv.id).values(**(inv.fills or {})))
            inv.fills = None
        deal_table = Deal.__table__  # type: ignore[attr-defined]
        columns = tuple(c.name for c in deal_table.columns if c.name != "id")
        dates = {c.name for c in deal_table.columns if isinstance(c.type, Date) and not isinstance(c.type, DateTime)}
        for start in range(0, len(self.signed), _DEAL_CHUNK):
            chunk = self.signed[start : start + _DEAL_CHUNK]
            rows: list[tuple[Any, ...]] = []
            histories: list[list[tuple[str, dict[str, Any]]]] = []
            for s in chunk:
                values, history = self._deal(s, deals)
                values["created_at"], values["import_batch_id"] = stamp, self.batch_id
                values["state"] = str(values["state"])
                if sqlite:
                    for name in dates:
                        if values.get(name) is not None:
                            values[name] = values[name].isoformat()
                rows.append(tuple(values.get(c) for c in columns))
                histories.append(history)
            last = session.execute(select(func.coalesce(func.max(Deal.id), 0))).scalar_one()
            _insert_many(session, "deal", columns, rows)
            keys = {
                (investor_id, project, day): id_
                for id_, investor_id, project, day in session.execute(
                    select(Deal.id, Deal.investor_id, Deal.project_name, Deal.signed_on).where(col(Deal.id) > last)
                )
            }
            deal_ids = [keys[(s.investor.id, s.checked.project, s.checked.day)] for s in chunk]
            audit_rows: list[tuple[Any, ...]] = []
            for s, deal_id, history in zip(chunk, deal_ids, histories, strict=True):
                audit_rows += [
                    (
                        stamp,
                        r["actor"],
                        r["action"],
                        r["entity"],
                        r["entity_id"],
                        r["field"],
                        r["old"],
                        r["new"],
                        r["note"],
                    )
                    for r in self._audit(s, deal_id, history, now)
                ]
            _insert_many(session, "audit_log", _AUDIT_COLUMNS, audit_rows)
            for s in chunk:
                if s.created:
                    s.investor.created = None  # written and audited: 80,000 investors need not keep it
            for s, deal_id in zip(chunk, deal_ids, strict=True):
                if s.row.after:
                    deal_extras.apply(session, deal_id, s.row.after, actor=actor)
            advance(len(chunk))
        return len(self.signed)

    def _deal(self, s: _Signed, deals: Any) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
        """The deal's columns once signed and moved to its state, and its history: (action, changes) in order."""
        ids = {
            column: None if name is None else self.names[kind][name]
            for column, (kind, name) in s.checked.names().items()
        }
        origin = SimpleNamespace(origin_region_id=s.origin[0], origin_city=s.origin[1])
        signed = deals.signed_values(s.checked, s.investor.id, origin, ids=ids)
        history: list[tuple[str, dict[str, Any]]] = [("sign", signed)]
        values = dict(signed)
        if s.row.extras:
            history.append(("import", s.row.extras))
            values.update(s.row.extras)
        state = SimpleNamespace(
            id=None,
            project_name=s.checked.project,
            state=DealState.signed,
            signed_on=s.checked.day,
            started_on=None,
            completed_on=None,
            terminated_on=None,
        )
        for (step, _), changes in zip(s.row.steps, self._steps(s.row, state, deals), strict=True):
            history.append((step, changes))
            values.update(changes)
        return values, history

    def _audit(
        self, s: _Signed, deal_id: int, history: list[tuple[str, dict[str, Any]]], at: datetime
    ) -> list[dict[str, Any]]:
        """The audit rows crm.deals writes for the row, in its order: investor, names, signing, extras, steps."""
        actor, inv = self.actor, s.investor
        out: list[dict[str, Any]] = []
        if s.created:
            assert inv.created is not None
            values = dict(zip(_INVESTOR_FIELDS, inv.created, strict=True))
            out += audit.creation_rows("investor", inv.id, values, actor=actor, at=at)
        elif s.blanks:
            out += audit.change_rows(
                "investor", inv.id, dict.fromkeys(s.blanks), s.blanks, actor=actor, action="update", at=at
            )
        for kind, name in s.names:
            out += audit.creation_rows(kind, self.names[kind][name], {"name": name}, actor=actor, at=at)
        current: dict[str, Any] = {}
        for action, changes in history:
            if action == "sign":
                note = s.checked.note
                out += audit.creation_rows("deal", deal_id, changes, actor=actor, action="sign", note=note, at=at)
            else:
                old = {name: current.get(name) for name in changes}
                out += audit.change_rows("deal", deal_id, old, changes, actor=actor, action=action, at=at)
            current.update(changes)
        return out


# ---------------------------------------------------------------- arrivals

_CURRENCIES = {
    "人民币": "CNY",
    "rmb": "CNY",
    "美元": "USD",
    "欧元": "EUR",
    "港币": "HKD",
    "港元": "HKD",
    "日元": "JPY",
    "英镑": "GBP",
}
ARRIVAL_COLUMNS = (
    "deal_id",
    "arrived_on",
    "arrived_yuan",
    "source",
    "use",
    "evidence_kind",
    "evidence_ref",
    "verified",
    "currency",
    "original_cents",
    "fx_rate",
    "note",
    "created_at",
    "import_batch_id",
)


_Deal = tuple[int, str, date, str, date | None]  # id, investor name key, signed_on, state, terminated_on
_CACHE_LIMIT = 50_000  # entries in a lookup cache; cleared when full, so memory stays flat on any ledger


class _ArrivalCheck:
    """Checks arrival rows chunk by chunk against the stored deals; what it keeps does not grow with the file."""

    def __init__(self, session: Session) -> None:
        from crm.arrivals import arrival_refusal
        from crm.deals import normalize_investor_name

        self.refusal = arrival_refusal
        self.normalize_investor_name = normalize_investor_name
        # folded project name -> its deals; held for the whole import, so kept compact (100,000 deals: ~45 MB)
        self.deals: dict[str, list[_Deal]] = {}
        shared: dict[Any, Any] = {}  # one object per distinct state and date
        query = select(
            Deal.id, Deal.project_name, Investor.name_key, Deal.signed_on, Deal.state, Deal.terminated_on
        ).join(Investor, Investor.id == Deal.investor_id)
        for id_, project, key, signed_on, state, terminated_on in session.execute(
            query.execution_options(yield_per=20_000)
        ):
            deal = (id_, key, shared.setdefault(signed_on, signed_on), shared.setdefault(state, state), terminated_on)
            self.deals.setdefault(fold(project), []).append(deal)
        self.investor_keys: dict[str, str] = {}  # investor as written -> name key (a cache)
        self.kept: list[int] = []

    def rows(self, batch: Batch) -> list[tuple[Any, ...]]:
        """The insert tuples of the good rows of `batch` (ARRIVAL_COLUMNS but created_at); bad rows go to batch."""
        if len(self.investor_keys) > _CACHE_LIMIT:
            self.investor_keys.clear()
        deals, investor_keys = self.deals, self.investor_keys
        refusals: dict[tuple[int, date], str | None] = {}
        v = batch.col
        projects, investors, signed, days = v("project_name"), v("investor"), v("signed_on"), v("arrived_on")
        amounts, sources, uses = v("arrived_yuan"), v("source"), v("use")
        ev_kind, ev_ref, verified, notes = v("evidence_kind"), v("evidence_ref"), v("verified"), v("note")
        currencies, originals, rates = v("currency"), v("original_amount"), v("fx_rate")
        rows: list[tuple[Any, ...]] = []
        self.kept = kept = []  # the batch index of each row (a re-import matches rows by 到位编号)
        for i in range(batch.n):
            project = projects[i]
            if project is None:
                continue
            investor = investors[i]
            ikey = None
            if investor is not None:
                ikey = investor_keys.get(investor)
                if ikey is None:
                    try:
                        ikey = investor_keys[investor] = self.normalize_investor_name(investor)
                    except InvalidValue as exc:
                        batch.fail(i, "investor", exc.reason)
                        continue
            day = days[i]
            candidates = deals.get(fold(project))
            if candidates is not None and len(candidates) == 1 and ikey in (None, candidates[0][1]):
                found: _Deal | str | list[_Deal] = candidates[0]  # the common case, without building lists
                if signed[i] is not None and signed[i] != found[2]:
                    found = f"no deal of this project signed on {signed[i]}"
            else:
                found = _resolve_deal(batch, candidates or [], ikey, signed[i])
            deal = _standing(batch, found, day) if isinstance(found, list) else found
            if isinstance(deal, str):
                batch.fail(
                    i,
                    "investor" if "investor" in deal else "project_name",
                    deal,
                    value=project if "investor" not in deal else investor,
                )
                continue
            deal_id = deal[0]
            if day is not None:
                rkey = (deal_id, day)
                if rkey not in refusals:
                    refusals[rkey] = self.refusal(deal[3], deal[2], deal[4], day)
                if refusals[rkey]:
                    batch.fail(i, "arrived_on", f"{project}: {refusals[rkey]}")
            currency = "CNY"
            cents = None
            rate = rates[i]
            amount = amounts[i]
            if currencies[i] is not None:
                text = currencies[i].strip()
                currency = _CURRENCIES.get(fold(text), text.upper())
                if len(currency) != 3 or not currency.isalpha():
                    batch.fail(i, "currency", "a three-letter code such as CNY, USD, EUR")
            if currency != "CNY":
                original = originals[i]
                if original is None or rate is None:
                    batch.fail(i, "currency", "a foreign-currency arrival needs 原币金额 and 汇率")
                else:
                    from crm.arrivals import convert_fx  # the capability's conversion rule

                    try:
                        amount, cents, rate = convert_fx(currency, original, rate, amount)
                    except InvalidValue as exc:
                        column = {"amount_yuan": "arrived_yuan"}.get(exc.field, exc.field)
                        batch.fail(i, column, exc.reason)
            elif originals[i] is not None or rate is not None:
                batch.fail(i, "currency", "原币金额 and 汇率 are for foreign currencies; give 币种")
            elif amount is None and batch.table.cells["arrived_yuan"][i] is None:
                batch.fail(i, "arrived_yuan", f"{batch.header('arrived_yuan')} is required")
            elif amount is None and is_placeholder(batch.table.cells["arrived_yuan"][i]):
                batch.fail(
                    i, "arrived_yuan", f"{batch.header('arrived_yuan')} is required; a placeholder is not a value"
                )
            if not batch.ok(i):
                continue
            rows.append(
                (
                    deal_id,
                    day,
                    amount,
                    sources[i],
                    uses[i],
                    ev_kind[i],
                    ev_ref[i],
                    bool(verified[i]),
                    currency,
                    cents,
                    rate,
                    notes[i],
                )
            )
            kept.append(i)
        return rows


def _resolve_deal(
    batch: Batch, candidates: list[_Deal], investor_key: str | None, signed_on: date | None
) -> _Deal | str | list[_Deal]:
    """The one deal a row names, why it names none, or the deals of a reassigned project (picked by date)."""
    if not candidates:
        return "no deal with this project name"
    found = candidates
    if investor_key is not None:
        found = [d for d in found if d[1] == investor_key]
        if not found:
            return f"no deal of this project with investor {investor_key}"
    if signed_on is not None:
        found = [d for d in found if d[2] == signed_on]
        if not found:
            return f"no deal of this project signed on {signed_on}"
    return found[0] if len(found) == 1 else found


def _standing(batch: Batch, found: list[_Deal], day: date | None) -> _Deal | str:
    """Of several deals with one project name, the one that stood on `day` (a reassigned project)."""
    if day is not None:
        standing = [d for d in found if d[2] <= day and (d[4] is None or d[4] >= day)]
        found = standing or found
    if len(found) > 1:
        return (
            f"{len(found)} deals have this project name; add the {batch.header('investor')} column "
            f"(and {batch.header('signed_on')}) to say which"
        )
    return found[0]


def _not_undone(t: type[CapitalArrival]) -> Any:
    """Not an arrival of an undone import: after ``crm import undo`` its rows are as if never imported."""
    undone = select(ImportBatch.id).where(col(ImportBatch.undone_at).is_not(None))
    return or_(col(t.import_batch_id).is_(None), col(t.import_batch_id).not_in(undone))


class _StoredArrivals:
    """Which ledger rows are stored already: a (deal, day, amount, source) repeated k times in the file and
    j times in the database gives k - j new rows, so a re-import adds nothing and equal payments on one day stay.

    Counted chunk by chunk against the rows stored before the import began (id <= the largest id then),
    so the rows this import inserts are never taken for stored ones. Only the stored rows already
    matched are remembered across chunks (one small int each); into a table without arrivals, nothing.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.before: int = session.execute(select(func.max(CapitalArrival.id))).scalar() or 0
        # an undone arrivals import: its rows are left out (only then: the filter leaves the covering index)
        self.undone = session.execute(
            select(func.count()).where(ImportBatch.kind == "arrivals", col(ImportBatch.undone_at).is_not(None))
        ).scalar()
        self.taken: dict[int, int] = {}  # key -> stored rows already matched by earlier rows of the file
        self._sources: dict[Any, int] = {}

    def key(self, deal_id: int, day: date, amount: int, source: Any) -> int:
        """(deal, day, amount, source) as one int: deal ids below 2**40, day ordinals below 2**22."""
        src = self._sources.setdefault(source, len(self._sources))
        return ((((amount << 8) | src) << 22 | day.toordinal()) << 40) | deal_id

    def new(self, rows: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], int]:
        """(the rows to insert, how many were present)."""
        if not rows or not self.before:
            return rows, 0
        key = self.key
        keys = [key(*row[:4]) for row in rows]
        wanted = set(keys)
        t = CapitalArrival
        query = (
            select(t.deal_id, t.arrived_on, t.arrived_yuan, t.source, func.count())
            .where(t.arrived_on >= min(r[1] for r in rows), t.arrived_on <= max(r[1] for r in rows))
            .where(col(t.id) <= self.before)
            .group_by(t.deal_id, t.arrived_on, t.arrived_yuan, t.source)
            .execution_options(yield_per=20_000)
        )
        if self.undone:
            query = query.where(_not_undone(t))
        stored: dict[int, int] = {}
        for deal_id, day, amount, source, count in self.session.execute(query):
            k = key(deal_id, day, amount, source)
            if k in wanted:
                stored[k] = count
        if not stored:
            return rows, 0
        new = []
        present = 0
        taken = self.taken
        for row, k in zip(rows, keys, strict=True):
            used = taken.get(k, 0)
            if used < stored.get(k, 0):
                taken[k] = used + 1
                present += 1
            else:
                new.append(row)
        return new, present


def _write_arrivals(session: Session, rows: list[tuple[Any, ...]], now: datetime, batch_id: int | None) -> int:
    """Insert in bulk on the session's own connection and transaction: no ORM objects, no RETURNING."""
    if not rows:
        return 0
    connection = session.connection()
    dbapi: Any = connection.connection.dbapi_connection
    columns = ", ".join(ARRIVAL_COLUMNS)
    if connection.dialect.name == "postgresql":
        if connection.execute(text("SELECT row_security_active('capital_arrival')")).scalar():
            # a unit account: PostgreSQL refuses COPY under row-level security; executemany obeys it
            sql = f"INSERT INTO capital_arrival ({columns}) VALUES ({', '.join(['%s'] * len(ARRIVAL_COLUMNS))})"
            with dbapi.cursor() as cursor:
                cursor.executemany(sql, [(*row, now, batch_id) for row in rows])
            return len(rows)
        with dbapi.cursor() as cursor, cursor.copy(f"COPY capital_arrival ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row, now, batch_id))
        return len(rows)
    # SQLite keeps dates as ISO text and timestamps as SQLAlchemy writes them (no zone)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    sql = f"INSERT INTO capital_arrival ({columns}) VALUES ({', '.join('?' * len(ARRIVAL_COLUMNS))})"
    cursor = dbapi.cursor()
    try:
        cursor.executemany(sql, [(r[0], r[1].isoformat(), *r[2:7], int(r[7]), *r[8:], stamp, batch_id) for r in rows])
    finally:
        cursor.close()
    return len(rows)


def _check_arrivals(
    session: Session, reader: LedgerReader, *, progress: bool | None, changes: list[Any] | None = None
) -> tuple[ImportResult, int, IO[bytes]]:
    """Read and check the ledger chunk by chunk (CHUNK rows); writes nothing.

    Holds one chunk at a time: the insert tuples of the good rows go to a temporary file.
    Every row is checked even after the first bad one, so a LedgerError lists them all.
    Returns (result, bad rows, the spool of checked rows). Rows naming a stored arrival by its
    到位编号 are left out of the spool, their differences appended to `changes` (reimport.arrival_rows).
    """
    spec, p = reader.kind, reader.path
    result = ImportResult(spec.name, 0, 0, 0, warnings=reader.warnings, file=p.name)
    check = _ArrivalCheck(session)
    totals = running_totals(spec)  # 累计 columns: the month's amount as a difference
    spool = tempfile.TemporaryFile(prefix="crm-import-")  # noqa: SIM115  (returned open; the caller closes it)
    bad = 0
    try:
        with progress_bar(f"check {p.name}", reader.expected_rows, progress) as advance:
            for table in reader.chunks(CHUNK):
                batch = parse_batch(spec, table)
                if totals is not None:
                    totals.apply(batch, "arrived_on")
                rows = check.rows(batch)
                if changes is not None:
                    rows, present = reimport.arrival_rows(session, batch, rows, check.kept, changes)
                    result.already_present += present
                result.rows += batch.n
                if batch.bad:
                    bad += len(batch.bad)
                    result.errors.extend(batch.errors())
                if rows:
                    pickle.dump(rows, spool, protocol=pickle.HIGHEST_PROTOCOL)
                advance(batch.n)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return result, bad, spool


def _write_spooled(
    session: Session,
    spool: IO[bytes],
    result: ImportResult,
    *,
    progress: bool | None,
    dry_run: bool = False,
    batch_for: Callable[[], int] | None = None,
) -> None:
    """Insert the checked rows of `spool`, leaving out those already stored (a re-import); with
    `dry_run` only count them. `batch_for` gives the import batch, opened with the first new row."""
    stored = _StoredArrivals(session)
    now = datetime.now(UTC)
    with progress_bar(f"write {result.file}", result.rows, progress) as advance:
        while True:
            try:
                rows = pickle.load(spool)
            except EOFError:
                break
            new, present = stored.new(rows)
            result.already_present += present
            if dry_run or batch_for is None or not new:
                result.inserted += len(new)
            else:
                result.inserted += _write_arrivals(session, new, now, batch_for())
            advance(len(rows))


# ---------------------------------------------------------------- targets


def _validate_targets(session: Session, batch: Batch) -> tuple[list[tuple[int, dict[str, Any], bool]], int]:
    unit_t, person_t = aliased(Unit), aliased(Person)
    existing: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for metric, kind, start, unit, leader, amount, growth, weight in session.execute(
        select(
            Target.metric,
            Target.period_kind,
            Target.period_start,
            unit_t.name,
            person_t.name,
            Target.amount,
            Target.growth,
            Target.weight,
        )
        .outerjoin(unit_t, unit_t.id == Target.unit_id)
        .outerjoin(person_t, person_t.id == Target.leader_id)
    ):
        existing[(metric, kind, start, unit, leader)] = (amount, growth, weight)
    v = batch.col
    plan: list[tuple[int, dict[str, Any], bool]] = []
    seen: set[tuple[Any, ...]] = set()
    present = 0
    unit_of_amount = batch.table.units.get("amount", "万元")
    for i in range(batch.n):
        metric, period, unit, leader = v("metric")[i], v("period")[i], v("unit")[i], v("leader")[i]
        raw, growth, weight = v("amount")[i], v("growth")[i], v("weight")[i]
        if unit is not None and leader is not None:
            batch.fail(
                i,
                "leader",
                f"a target is for the county, a unit or a leader: give {batch.header('unit')} "
                f"or {batch.header('leader')}, not both",
            )
        amount = count = None
        if raw is not None and metric is not None:
            try:
                if metric in MONEY_METRICS:
                    amount = parse_yuan(raw, unit_of_amount, field="amount")
                else:
                    number = parse_decimal(raw)
                    if number < 0 or number != number.to_integral_value():
                        raise InvalidValue("amount", raw, "a number of deals is a whole number, 0 or more")
                    count = int(number)
            except InvalidValue as exc:
                batch.fail(i, "amount", exc.reason)
        elif raw is None and growth is None:
            batch.fail(i, "amount", f"a target needs {batch.header('amount')} or {batch.header('growth')}")
        if growth is not None and growth <= -1:
            batch.fail(i, "growth", "a growth target is above -100%")
        if weight is not None and weight < 0:
            batch.fail(i, "weight", "a weight is 0 or more")
        if not batch.ok(i) or metric is None or period is None:
            continue
        key = (metric, period[0], period[1], unit, leader)
        if key in seen:
            batch.table.warnings.append(f"row {batch.table.rows[i]} repeats an earlier target; the later is ignored")
            present += 1
            continue
        seen.add(key)
        figure = amount if amount is not None else count
        stored = existing.get(key)
        if stored is not None:
            present += 1
            wanted = (figure, growth, weight)
            if all(w is None or w == s for w, s in zip(wanted, stored, strict=True)):
                continue
        scope_kind = "unit" if unit else "leader" if leader else "county"
        plan.append(
            (
                i,
                {
                    "metric": metric,
                    "period": format_period(*period),
                    "amount_yuan": amount,
                    "count": count,
                    "growth": growth,
                    "weight": weight,
                    "scope": unit or leader or "county",
                    "scope_kind": scope_kind,
                },
                stored is not None,
            )
        )
    return plan, present


def _write_targets(
    session: Session,
    batch: Batch,
    plan: list[tuple[int, dict[str, Any], bool]],
    *,
    actor: str,
    advance: Advance,
    batch_id: int | None,
) -> tuple[int, int]:
    from crm.targets import set_target

    units, people = _Names(session, Unit, actor=actor), _Names(session, Person, actor=actor)
    inserted = updated = 0
    for i, fields, known in plan:
        try:
            with session.begin_nested():
                if fields["scope_kind"] == "unit":
                    units.id(fields["scope"])
                elif fields["scope_kind"] == "leader":
                    people.id(fields["scope"])
                target = set_target(session, actor=actor, commit=False, **fields)
                if not known:
                    target.import_batch_id = batch_id
                    session.flush()
        except (CrmError, IntegrityError) as exc:
            batch.fail(i, "", _plain(exc))
            continue
        finally:
            advance(1)
        if known:
            updated += 1
        else:
            inserted += 1
    return inserted, updated


# ---------------------------------------------------------------- trips


def _validate_trips(session: Session, batch: Batch) -> tuple[list[tuple[int, dict[str, Any]]], int]:
    from crm import trips as trips_rules

    industries = _industries(session)
    squads = {name: leader for name, leader in session.execute(select(Squad.name, Squad.leader_id))}
    existing = {
        (name, month)
        for name, month in session.execute(select(Squad.name, Trip.month).join(Squad, Squad.id == Trip.squad_id))
    }
    v = batch.col
    plan: list[tuple[int, dict[str, Any]]] = []
    seen: set[tuple[str, date]] = set()
    present = 0
    for i in range(batch.n):
        squad, month, starts, ends = v("squad")[i], v("month")[i], v("starts_on")[i], v("ends_on")[i]
        places: list[tuple[str, str | None]] = []
        for item in v("destinations")[i] or []:
            try:
                places.append(split_place(item))
            except InvalidValue as exc:
                batch.fail(i, "destinations", exc.reason, value=item)
        if v("destinations")[i] is None:
            batch.fail(i, "destinations", f"a trip needs {batch.header('destinations')}")
        for name in v("industries")[i] or []:
            if fold(name) not in industries:
                batch.fail(
                    i,
                    "industries",
                    f"unknown industry; known: {'、'.join(n for _, n in industries.values())}",
                    value=name,
                )
        if month is not None:
            try:
                trips_rules.check_trip_dates(month, starts, ends)  # the capability's date rules
            except InvalidValue as exc:
                batch.fail(i, "ends_on" if exc.field == "starts_on" and starts is None else exc.field, exc.reason)
        if squad is not None and squad not in squads and v("leader")[i] is None:
            batch.fail(i, "squad", f"no such squad; give {batch.header('leader')} to create it")
        if not batch.ok(i) or squad is None or month is None:
            continue
        if (squad, month) in seen or (squad, month) in existing:
            present += 1
            continue
        seen.add((squad, month))
        squads.setdefault(squad, None)
        plan.append(
            (
                i,
                {
                    "squad": squad,
                    "month": month,
                    "starts_on": starts,
                    "ends_on": ends,
                    "destinations": places,
                    "industries": [industries[fold(n)][1] for n in v("industries")[i] or []],
                    "members": v("members")[i],
                    "budget_yuan": v("budget_yuan")[i],
                    "note": v("note")[i],
                    "leader": v("leader")[i],
                    "unit": v("unit")[i],
                    "spent_yuan": v("spent_yuan")[i],
                },
            )
        )
    return plan, present


def _write_trips(
    session: Session,
    batch: Batch,
    plan: list[tuple[int, dict[str, Any]]],
    *,
    actor: str,
    advance: Advance,
    batch_id: int | None,
) -> tuple[int, int]:
    from crm import trips

    squads = {name for (name,) in session.execute(select(Squad.name))}
    inserted = 0
    for i, fields in plan:
        leader, unit, spent = fields.pop("leader"), fields.pop("unit"), fields.pop("spent_yuan")
        try:
            with session.begin_nested():
                if fields["squad"] not in squads:
                    trips.create_squad(
                        session, name=fields["squad"], leader=leader, unit=unit, actor=actor, commit=False
                    )
                    squads.add(fields["squad"])
                trip = trips.plan_trip(session, actor=actor, commit=False, **fields)
                trip.import_batch_id = batch_id
                session.flush()
                if spent is not None:
                    assert trip.id is not None
                    trips.record_spending(session, trip.id, spent_yuan=spent, actor=actor, commit=False)
        except (CrmError, IntegrityError) as exc:
            batch.fail(i, "", _plain(exc))
            continue
        finally:
            advance(1)
        inserted += 1
    return inserted, 0


# ---------------------------------------------------------------- visits


def _validate_visits(session: Session, batch: Batch) -> tuple[list[tuple[int, dict[str, Any]]], int]:
    from crm import trips as trips_rules

    trips = {
        (name, month): (id_, starts, ends)
        for id_, name, month, starts, ends in session.execute(
            select(Trip.id, Squad.name, Trip.month, Trip.starts_on, Trip.ends_on).join(Squad, Squad.id == Trip.squad_id)
        )
    }
    regions = _regions(session)
    existing = {
        (trip, fold(who or ""), day)
        for trip, who, day in session.execute(select(Visit.trip_id, Visit.counterpart, Visit.visited_on))
    }
    v = batch.col
    plan: list[tuple[int, dict[str, Any]]] = []
    present = 0
    for i in range(batch.n):
        squad, day, who = v("squad")[i], v("visited_on")[i], v("counterpart")[i]
        month = v("month")[i] or (day.replace(day=1) if day else None)
        trip_id = None
        if squad is not None:
            if month is None:
                batch.fail(i, "month", f"give {batch.header('month')} or {batch.header('visited_on')} to find the trip")
            else:
                trip = trips.get((squad, month))
                if trip is None:
                    batch.fail(i, "squad", f"no trip of this squad in {month:%Y-%m}; import the trips ledger first")
                else:
                    trip_id, starts, ends = trip
                    if day is not None:
                        try:
                            trips_rules.check_visit_date(day, starts, ends)  # the capability's rule
                        except InvalidValue as exc:
                            batch.fail(i, "visited_on", exc.reason)
        status = v("status")[i] or (VisitStatus.done if day else VisitStatus.planned)
        if status == VisitStatus.done and day is None:
            batch.fail(i, "visited_on", f"a held visit needs {batch.header('visited_on')}")
        place = v("region")[i]
        if not batch.ok(i) or who is None:
            continue
        key = (trip_id, fold(who), day)
        if key in existing:
            present += 1
            continue
        existing.add(key)
        plan.append(
            (
                i,
                {
                    "trip_id": trip_id,
                    "status": str(status),
                    "visited_on": day,
                    "counterpart": who,
                    "counterpart_kind": v("counterpart_kind")[i] or "enterprise",
                    "region_id": regions[place[0]] if place else None,
                    "city": v("city")[i] or (place[1] if place else None),
                    "contact": v("contact")[i],
                    "purpose": v("purpose")[i],
                    "attendees": v("attendees")[i],
                    "notes": v("notes")[i],
                },
            )
        )
    return plan, present


def _insert_rows(
    session: Session, table: Any, plan: list[tuple[int, dict[str, Any]]], advance: Advance, batch_id: int | None
) -> int:
    rows = [{**fields, "import_batch_id": batch_id} for _, fields in plan]
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        session.execute(insert(table), chunk)
        advance(len(chunk))
    return len(rows)


# ---------------------------------------------------------------- leads


def _validate_leads(session: Session, batch: Batch) -> tuple[list[tuple[int, dict[str, Any]]], int]:
    from crm import trips as trips_rules

    industries = _industries(session)
    regions = _regions(session)
    existing = {
        (fold(p), fold(n or ""), d)
        for p, n, d in session.execute(select(Lead.project_name, Lead.investor_name, Lead.received_on))
    }
    v = batch.col
    plan: list[tuple[int, dict[str, Any]]] = []
    present = 0
    for i in range(batch.n):
        project, investor, day = v("project_name")[i], v("investor_name")[i], v("received_on")[i]
        industry_id = _check_industry(batch, i, v("industry")[i], industries)
        for name in ("acknowledged_on", "assessed_on", "feedback_on"):
            later = v(name)[i]
            if later is not None and day is not None:
                try:
                    trips_rules.check_lead_response(name, later, day)  # the capability's rule
                except InvalidValue:
                    batch.fail(i, name, f"{batch.header(name)} {later} is before {batch.header('received_on')} {day}")
        if not batch.ok(i) or project is None or day is None:
            continue
        key = (fold(project), fold(investor or ""), day)
        if key in existing:
            present += 1
            continue
        existing.add(key)
        origin = v("origin")[i]
        plan.append(
            (
                i,
                {
                    "project_name": project,
                    "investor_name": investor,
                    "received_on": day,
                    "source": v("source")[i],
                    "category": v("category")[i],
                    "industry_id": industry_id,
                    "origin_region_id": regions[origin[0]] if origin else None,
                    "planned_yuan": v("planned_yuan")[i],
                    "stage": v("stage")[i] or LeadStage.contact.value,
                    "owner": v("owner")[i],
                    "unit": v("unit")[i],
                    "acknowledged_on": v("acknowledged_on")[i],
                    "assessed_on": v("assessed_on")[i],
                    "feedback_on": v("feedback_on")[i],
                    "note": v("note")[i],
                },
            )
        )
    return plan, present


def _write_leads(
    session: Session, plan: list[tuple[int, dict[str, Any]]], *, actor: str, advance: Advance, batch_id: int | None
) -> int:
    units, people = _Names(session, Unit, actor=actor), _Names(session, Person, actor=actor)
    for _, fields in plan:
        fields["owner_id"] = people.id(fields.pop("owner"))
        fields["unit_id"] = units.id(fields.pop("unit"))
    return _insert_rows(session, Lead.__table__, plan, advance, batch_id)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- the import


def import_ledger(
    session: Session,
    kind: str,
    path: str | Path,
    *,
    actor: str,
    partial: bool = False,
    progress: bool | None = None,
    commit: bool = True,
    update: bool = False,
    dry_run: bool = False,
    new_names: bool = True,
) -> ImportResult:
    """Import the ledger file `path` (.xlsx or .csv) of `kind` (deals, arrivals, trips, visits, leads, targets).

    Every row is checked first. With bad rows and ``partial=False`` nothing is written and
    LedgerError lists every bad row (Excel row number, column header, value, reason); with
    ``partial=True`` the good rows are written and the bad ones come back in ``errors``.
    Rows whose natural key is already stored are counted in ``already_present``; for deals
    a ledger that moves a stored deal on (已开工 with its date) applies the transition
    (``updated``). Money cells are in the header's unit (元/万元/亿元), else 万元.
    `progress` None shows a bar when stderr is a terminal.

    Deals rows that are stored deals (by 项目编号, the natural key, or credit code) but differ
    from them refuse the import (``reimport.Differences``) unless `update`, which applies them
    as audited edits; so do arrivals rows naming a stored arrival by 到位编号 (``reimport.arrival_rows``).
    `dry_run` does everything, reports it and writes nothing. The names a
    ledger brings are created and listed in ``new_names``; ``new_names=False`` refuses them.
    """
    spec = ledger_kind(kind)
    p = Path(path)
    with LedgerReader(p, spec) as reader:
        if spec.name == "arrivals":
            return _import_streamed(
                session,
                reader,
                actor=actor,
                partial=partial,
                progress=progress,
                commit=commit,
                dry_run=dry_run,
                update=update,
            )
        table = next(reader.chunks())
    owns = commit or not session.in_transaction()
    warnings_before = len(table.warnings)
    try:
        before = _before_checking(session)
        checked = _check_all(session, spec, table, new_names=new_names)
        _refuse_checked(checked, partial, p, update=update, dry_run=dry_run)
        if owns and not dry_run and _take_write_lock(session, before):
            # another process wrote between the check and the lock: check again, now under the lock
            del table.warnings[warnings_before:]
            checked = _check_all(session, spec, table, new_names=new_names)
            _refuse_checked(checked, partial, p, update=update, dry_run=dry_run)
        batch, plan, changes = checked.batch, checked.plan, checked.changes
        result = ImportResult(
            spec.name, batch.n, 0, checked.present, warnings=table.warnings, file=p.name, dry_run=dry_run
        )
        result.new_names = checked.new_names
        result.differences = [c.text for c in changes]
        if dry_run:
            inserted, updated = _would(spec.name, plan, changes if update else [])
        else:
            if plan or (update and changes):  # an import that writes no record keeps no batch
                result.batch_id = batches.open_batch(session, spec.name, p, actor=actor)
            bid = result.batch_id
            with progress_bar(f"import {p.name}", batch.n, progress) as advance:
                if spec.name == "deals":
                    inserted, updated = _write_deals(
                        session, batch, plan, actor=actor, advance=advance, batch_id=bid, partial=partial
                    )
                    if update:
                        updated += reimport.apply(session, batch, changes, actor=actor, file=p.name)
                elif spec.name == "targets":
                    inserted, updated = _write_targets(session, batch, plan, actor=actor, advance=advance, batch_id=bid)
                elif spec.name == "trips":
                    inserted, updated = _write_trips(session, batch, plan, actor=actor, advance=advance, batch_id=bid)
                elif spec.name == "visits":
                    table_ = Visit.__table__  # type: ignore[attr-defined]
                    inserted, updated = _insert_rows(session, table_, plan, advance, bid), 0
                else:
                    inserted, updated = _write_leads(session, plan, actor=actor, advance=advance, batch_id=bid), 0
            _refuse_if_bad(batch, partial, p)  # a row the library or the database refused while writing
        result.inserted, result.updated = inserted, updated
        _finish(session, result, spec, actor=actor, commit=commit and not dry_run)
        if dry_run:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    result.errors = batch.errors()
    return result


@dataclass
class _Checked:
    """What checking a ledger found, before anything is written: the parsed batch, the write plan,
    rows already stored, differences from stored deals (re-import) and the names it brings."""

    batch: Batch
    plan: Any
    present: int
    changes: list[Any]
    new_names: dict[str, list[str]]


def _check_all(session: Session, spec: LedgerKind, table: Table, *, new_names: bool) -> _Checked:
    """Parse and check every row against the database (names, rules, stored records); writes nothing."""
    batch = parse_batch(spec, table)
    brought = reimport.new_names(session, batch, refuse=not new_names)
    plan, present = _CHECKS[spec.name](session, batch)
    changes: list[Any] = []
    if spec.name == "deals":
        plan, changes, taken = reimport.deal_changes(session, batch, plan)
        present += taken
    return _Checked(batch, plan, present, changes, brought)


def _refuse_checked(checked: _Checked, partial: bool, path: Path, *, update: bool, dry_run: bool) -> None:
    """Refuse a ledger with bad rows (unless partial) or, without update or dry_run, differences from stored deals."""
    _refuse_if_bad(checked.batch, partial, path)
    if not (update or dry_run):
        reimport.refuse(checked.changes, path)


def _would(kind: str, plan: Any, changes: list[Any]) -> tuple[int, int]:
    """(inserted, updated) of a dry run: what writing `plan` (and `changes`) would give."""
    if kind in ("deals", "targets", "trips"):
        return reimport.would(plan, changes)
    return len(plan), 0


# What a kind's check reads from the database and returns: (the parsed batch, the write plan, rows present).
_CHECKS: dict[str, Callable[[Session, Batch], tuple[Any, int]]] = {
    "deals": lambda session, batch: _validate_deals(session, batch),
    "targets": lambda session, batch: _validate_targets(session, batch),
    "trips": lambda session, batch: _validate_trips(session, batch),
    "visits": lambda session, batch: _validate_visits(session, batch),
    "leads": lambda session, batch: _validate_leads(session, batch),
}


# One PostgreSQL advisory lock for imports: two imports never check against each other's unfinished work.
_IMPORT_LOCK_KEY = 0x63726D_696D70  # "crm" "imp"


def _before_checking(session: Session) -> int | None:
    """Before an import checks its rows: on PostgreSQL wait for other imports (an advisory lock held to
    the end of the transaction; readers and other writers go on); on SQLite note where the audit log
    stands, to see after taking the write lock whether anything was written meanwhile."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _IMPORT_LOCK_KEY})
        return None
    return session.execute(select(func.max(AuditLog.id))).scalar()


def _take_write_lock(session: Session, before: int | None) -> bool:
    """Take the write lock for the writing (SQLite: ``BEGIN IMMEDIATE``, waiting for another writer);
    True when another process wrote since `before` (every write of the library adds an audit row)."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    begin_writing(session)
    return session.execute(select(func.max(AuditLog.id))).scalar() != before


def _import_streamed(
    session: Session,
    reader: LedgerReader,
    *,
    actor: str,
    partial: bool,
    progress: bool | None,
    commit: bool,
    dry_run: bool = False,
    update: bool = False,
) -> ImportResult:
    """Arrivals: check the whole ledger chunk by chunk (keeping the checked rows in a temporary
    file, not in memory), refuse it before taking the write lock, then write them all.
    Rows that are stored arrivals (by 到位编号) and differ refuse it unless `update` applies them."""
    owns = commit or not session.in_transaction()
    try:
        before = _before_checking(session)
        changes: list[Any] = []
        result, bad, spool = _check_arrivals(session, reader, progress=progress, changes=changes)
        with ExitStack() as stack:
            stack.enter_context(spool)
            if bad and not partial:
                raise LedgerError(result.errors, _refusal(reader.path, bad, result.rows))
            if not (update or dry_run):
                reimport.refuse_arrivals(changes, reader.path)
            if owns and not dry_run and _take_write_lock(session, before):
                changes = []
                with LedgerReader(reader.path, reader.kind) as again:
                    result, bad, spool = _check_arrivals(session, again, progress=progress, changes=changes)
                stack.enter_context(spool)
                if bad and not partial:
                    raise LedgerError(result.errors, _refusal(reader.path, bad, result.rows))
                if not update:
                    reimport.refuse_arrivals(changes, reader.path)

            def batch_for() -> int:
                if result.batch_id is None:
                    result.batch_id = batches.open_batch(session, reader.kind.name, reader.path, actor=actor)
                return result.batch_id

            _write_spooled(session, spool, result, progress=progress, dry_run=dry_run, batch_for=batch_for)
        result.differences = [c.text for c in changes]
        if update and not dry_run:
            result.updated += reimport.apply_arrivals(session, changes, actor=actor, file=reader.path.name)
        elif update:
            result.updated += reimport.changed_arrivals(changes)
        result.dry_run = dry_run
        _finish(session, result, reader.kind, actor=actor, commit=commit and not dry_run)
        if dry_run:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    return result


def _finish(session: Session, result: ImportResult, spec: LedgerKind, *, actor: str, commit: bool) -> None:
    """One audit row for an import that changed something, naming its batch; commit (or flush, for the
    caller to commit). An import that changed nothing keeps no batch."""
    if result.batch_id is not None:
        batches.close_batch(
            session,
            result.batch_id,
            rows=result.rows,
            inserted=result.inserted,
            updated=result.updated,
            present=result.already_present,
        )
    if result.inserted or result.updated:
        audit.record(
            session,
            actor=actor,
            action="import",
            entity=spec.entity,
            entity_id=None,
            field="rows",
            new=result.inserted,
            note=f"{result.file}: {spec.name} ledger, {result.inserted} rows inserted, "
            f"{result.updated} updated, {result.already_present} already present"
            + ("" if result.batch_id is None else f", {batches.NOTE_TAG}{result.batch_id}"),
        )
    if commit:
        session.commit()
    else:
        session.flush()


def _refusal(path: Path, bad: int, rows: int) -> str:
    return (
        f"{path.name}: {bad} bad row(s) of {rows}; nothing was "
        "imported (fix them, or import the good rows with --partial)"
    )


def _refuse_if_bad(batch: Batch, partial: bool, path: Path) -> None:
    if batch.bad and not partial:
        raise LedgerError(batch.errors(), _refusal(path, len(batch.bad), batch.n))

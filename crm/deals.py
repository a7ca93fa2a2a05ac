"""Signed deals (签约项目) from signing to production, and the signed-but-unstarted clean-up.

Every write takes the session first and the actor as a keyword, validates everything
before it changes anything, writes one audit row per changed field in the same
transaction, and commits unless ``commit=False`` (a batch caller commits once).
A refused or invalid call raises before the first change, so the session is left
as it was (with ``commit=True`` it is also rolled back).

Money is integer yuan (``contracted_yuan``); a capital increase (增资) holds only
the increment. Dates are ``datetime.date``.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, SQLModel, col, select

from crm import names
from crm.audit import record, record_changes, record_creation
from crm.db import unit_of_work
from crm.errors import Duplicate, InvalidValue, NotFound, Refused
from crm.major.registration import missing_documents, missing_labels
from crm.models import (
    DEAL_STATE_LABELS,
    PROCEDURE_LABELS,
    CapitalArrival,
    CountingRules,
    Deal,
    DealState,
    FollowUp,
    Industry,
    Investor,
    Person,
    Procedure,
    ProcedureKind,
    ProcedureState,
    Region,
    SigningEvent,
    StallReason,
    Unit,
)
from crm.money import MAX_YUAN
from crm.reference import find_industry, find_region, get_or_create_person, get_or_create_unit
from crm.rules import (
    cohort_start,
    deal_sizes,
    get_rules,
    not_replaced,
    size_class_index,
    size_class_labels,
    size_conditions,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "UNSTARTED_COLUMNS",
    "WARNING_LEVELS",
    "Ambiguous",
    "add_follow_up",
    "add_stall_reason",
    "assign_owner",
    "complete",
    "correct",
    "edit",
    "find_deal",
    "find_stall_reason",
    "get_deal",
    "get_or_create_investor",
    "history",
    "list_deals",
    "missing_procedures",
    "normalize_credit_code",
    "normalize_investor_name",
    "procedures",
    "reassign",
    "register",
    "set_procedure",
    "set_stall",
    "sign",
    "start",
    "terminate",
    "unstarted",
    "warning_level",
]

DEFAULT_THRESHOLDS: tuple[int, int] = (90, 180)
WARNING_LEVELS = ("green", "yellow", "red")
DEAL_TABLE = SQLModel.metadata.tables["deal"]

UNSTARTED_COLUMNS = [
    "deal_id",
    "project_name",
    "investor",
    "industry",
    "signed_on",
    "age_days",
    "level",
    "reason",
    "owner",
    "last_follow_up",
    "next_due",
    "follow_up_overdue",
    "missing_procedures",
    "leader",
    "unit",
    "signer",
    "size_yuan",
    "size_class",
]

# Longest first, so 股份有限公司 goes before 有限公司 and 公司.
_COMPANY_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团", "公司")
_BRACKETS = str.maketrans("", "", "()[]【】〔〕")
_CREDIT_CODE = re.compile(r"^[0-9A-Z]{18}$")
_STALL_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


# ---------------------------------------------------------------- small helpers


# NUL and the other C0/C1 control characters (tab and line breaks are text); they come from broken exports.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _text(field: str, value: object, max_length: int, *, required: bool = False) -> str | None:
    """`value` stripped (NFKC-normalised spaces), checked for type and length; None when blank."""
    if value is None:
        if required:
            raise InvalidValue(field, value, "required")
        return None
    if not isinstance(value, str):
        raise InvalidValue(field, value, f"expected text, not {type(value).__name__}")
    text = value.replace("\u3000", " ").strip()
    control = _CONTROL.search(text)
    if control:
        raise InvalidValue(
            field, value, f"contains the control character U+{ord(control.group()):04X}; remove it and try again"
        )
    if not text:
        if required:
            raise InvalidValue(field, value, "must not be empty")
        return None
    if len(text) > max_length:
        raise InvalidValue(field, value, f"at most {max_length} characters")
    return text


def _required(field: str, value: object, max_length: int) -> str:
    text = _text(field, value, max_length, required=True)
    assert text is not None
    return text


def _date(field: str, value: object, *, required: bool = True) -> date | None:
    if value is None:
        if required:
            raise InvalidValue(field, value, "a date is required")
        return None
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, date):
        raise InvalidValue(field, value, "expected a date (YYYY-MM-DD)")
    return value


def _required_date(field: str, value: object) -> date:
    day = _date(field, value)
    assert day is not None
    return day


def _actor(actor: object) -> str:
    return _required("actor", actor, 64)


def _yuan(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(field, value, "expected whole yuan as an integer (use crm.parse_yuan for text)")
    if value < 0:
        raise InvalidValue(field, value, "an amount cannot be negative")
    if value > MAX_YUAN:
        raise InvalidValue(field, value, "too large: an amount must be below 2^63 yuan")
    return value


def _id(row: Deal | Investor) -> int:
    """The id of a flushed row (typed as int, which SQLModel cannot express)."""
    assert row.id is not None
    return row.id


def _label(deal: Any) -> str:
    return f"deal {deal.id} ({deal.project_name})"


def get_deal(session: Session, deal_id: int, *, for_update: bool = False) -> Deal:
    """The deal with id `deal_id`; NotFound if there is none."""
    if isinstance(deal_id, bool) or not isinstance(deal_id, int):
        raise InvalidValue("deal_id", deal_id, "expected a deal id (an integer)")
    deal = session.get(Deal, deal_id, with_for_update=for_update or None)
    if deal is None:
        raise NotFound("deal", deal_id)
    return deal


_unit = get_or_create_unit
_person = get_or_create_person


def _signing_event(session: Session, name: str, *, actor: str) -> SigningEvent:
    event = session.exec(select(SigningEvent).where(SigningEvent.name == name)).first()
    if event is None:
        event = SigningEvent(name=name)
        session.add(event)
        session.flush()
        record_creation(session, event, actor=actor)
    return event


_NAMED: dict[str, Callable[..., Any]] = {
    "unit": get_or_create_unit,
    "person": get_or_create_person,
    "signing_event": _signing_event,
}


# ---------------------------------------------------------------- investors


def normalize_investor_name(name: str) -> str:
    """The key two spellings of one enterprise share (``Investor.name_key``).

    NFKC (full-width letters, digits and brackets become half-width), lower case,
    no spaces, no brackets, and company-form suffixes (股份有限公司, 有限责任公司,
    有限公司, 集团, 公司) stripped from the end, repeatedly:
    ``甘肃 示例（集团）股份有限公司`` and ``甘肃示例集团`` both give ``甘肃示例``.
    """
    if not isinstance(name, str):
        raise InvalidValue("investor", name, "expected an enterprise name")
    key = unicodedata.normalize("NFKC", name).casefold()
    key = "".join(key.split()).translate(_BRACKETS)
    stripped = True
    while stripped:
        stripped = False
        for suffix in _COMPANY_SUFFIXES:
            if key.endswith(suffix) and len(key) > len(suffix):
                key = key[: -len(suffix)]
                stripped = True
                break
    if not key:
        raise InvalidValue("investor", name, "an enterprise name is required")
    if len(key) > 200:
        raise InvalidValue("investor", name, "at most 200 characters")
    return key


def normalize_credit_code(code: str | None) -> str | None:
    """A unified social credit code (统一社会信用代码) in canonical form: 18 upper-case letters or digits."""
    if code is None:
        return None
    if not isinstance(code, str):
        raise InvalidValue("credit_code", code, "expected text")
    text = "".join(unicodedata.normalize("NFKC", code).split()).upper()
    if not text:
        return None
    if not _CREDIT_CODE.match(text):
        raise InvalidValue("credit_code", code, "a credit code is 18 letters or digits")
    return text


def _plan_investor(session: Session, name: str, credit_code: str | None) -> tuple[Investor | None, str, str]:
    """Find the investor `name` / `credit_code` denotes without changing anything.

    Returns (existing investor or None, clean display name, name key). Raises Refused when
    the credit code belongs to an investor of another name (both names shown: the clerk
    decides whether the code or the name is wrong), Duplicate when the name belongs to an
    investor with a different credit code.
    """
    return _match_investor(
        name,
        credit_code,
        lambda code: session.exec(select(Investor).where(Investor.credit_code == code)).first(),
        lambda key: session.exec(select(Investor).where(Investor.name_key == key)).first(),
    )


def _match_investor(
    name: str, credit_code: str | None, by_code: Callable[[str], Any], by_key: Callable[[str], Any]
) -> tuple[Any, str, str]:
    """`_plan_investor`'s rules over lookups (`by_code`, `by_key`: the investor with that credit code or
    name key, or None; anything with an Investor's id, name, name_key and credit_code)."""
    display = _required("investor", name, 200)
    key = normalize_investor_name(display)
    if credit_code is not None:
        found = by_code(credit_code)
        if found is not None:
            if found.name_key != key:
                raise Refused(
                    f"investor {display!r}: credit code {credit_code} belongs to investor {found.id} "
                    f"({found.name}); check the code, or record the deal under {found.name} "
                    "(rename or merge investors with `crm investor merge`)"
                )
            return found, display, key
    by_name = by_key(key)
    if by_name is not None and credit_code is not None and by_name.credit_code not in (None, credit_code):
        raise Duplicate(
            f"investor {display!r}: credit code {credit_code} differs from {by_name.credit_code} of investor "
            f"{by_name.id} ({by_name.name}), whose name is the same once normalised; check the code or the name"
        )
    return by_name, display, key


def _apply_investor(
    session: Session,
    found: Investor | None,
    display: str,
    key: str,
    *,
    credit_code: str | None,
    origin_region_id: int | None,
    origin_city: str | None,
    actor: str,
) -> Investor:
    if found is None:
        investor = Investor(**new_investor_values(display, key, credit_code, origin_region_id, origin_city))
        session.add(investor)
        session.flush()
        record_creation(session, investor, actor=actor)
        return investor
    blanks = _investor_blanks(found, credit_code, origin_region_id, origin_city)
    if blanks:
        record_changes(session, found, blanks, actor=actor, action="update")
        session.flush()
    return found


def new_investor_values(
    display: str, key: str, credit_code: str | None, origin_region_id: int | None, origin_city: str | None
) -> dict[str, Any]:
    """The columns of an investor a signing creates, in the model's order."""
    return {
        "name": display,
        "name_key": key,
        "credit_code": credit_code,
        "origin_region_id": origin_region_id,
        "origin_city": origin_city,
    }


def _investor_blanks(
    found: Any, credit_code: str | None, origin_region_id: int | None, origin_city: str | None
) -> dict[str, Any]:
    """What a signing teaches about a known investor: only its blanks are filled; nothing is overwritten."""
    blanks: dict[str, Any] = {}
    if found.credit_code is None and credit_code is not None:
        blanks["credit_code"] = credit_code
    if found.origin_region_id is None and origin_region_id is not None:
        blanks["origin_region_id"] = origin_region_id
    if found.origin_city is None and origin_city is not None:
        blanks["origin_city"] = origin_city
    return blanks


def get_or_create_investor(
    session: Session,
    name: str,
    *,
    actor: str,
    credit_code: str | None = None,
    origin: str | None = None,
    origin_city: str | None = None,
    commit: bool = True,
) -> Investor:
    """The investor with this credit code or (normalised) name, created when there is none.

    A known credit code under another name (once normalised) is Refused, naming both; a
    name known under a different credit code is a Duplicate. A found investor gets its blank credit code,
    origin province and city filled in (audited); nothing is overwritten.
    """
    actor = _actor(actor)
    code = normalize_credit_code(credit_code)
    origin_text = _text("origin", origin, 32)
    region_id = find_region(session, origin_text).id if origin_text else None
    city = _text("origin_city", origin_city, 64)
    with unit_of_work(session, commit=commit):
        found, display, key = _plan_investor(session, name, code)
        investor = _apply_investor(
            session, found, display, key, credit_code=code, origin_region_id=region_id, origin_city=city, actor=actor
        )
    return investor


# ---------------------------------------------------------------- signing


def sign(
    session: Session,
    *,
    actor: str,
    project_name: str,
    investor: str,
    signed_on: date,
    contracted_yuan: int,
    industry: str | None = None,
    origin: str | None = None,
    origin_city: str | None = None,
    unit: str | None = None,
    leader: str | None = None,
    introducer: str | None = None,
    credited_unit: str | None = None,
    signing_event: str | None = None,
    signer: str | None = None,
    credit_code: str | None = None,
    increases: int | None = None,
    note: str | None = None,
    commit: bool = True,
) -> Deal:
    """Record a signed deal (state ``signed``); the investor is found or created.

    `contracted_yuan` is whole yuan; for a capital increase (增资, `increases` = the
    parent deal's id) it is the increment only. Units and people named are created
    when missing; an unknown industry or province is an InvalidValue.
    """
    actor = _actor(actor)
    checked = _check_signing(
        project_name=project_name,
        signed_on=signed_on,
        contracted_yuan=contracted_yuan,
        industry=industry,
        origin=origin,
        origin_city=origin_city,
        unit=unit,
        leader=leader,
        introducer=introducer,
        credited_unit=credited_unit,
        signing_event=signing_event,
        signer=signer,
        credit_code=credit_code,
        note=note,
        industry_id=lambda name: find_industry(session, name).id,
        region_id=lambda name: find_region(session, name).id,
    )
    project, day, code, note_text = checked.project, checked.day, checked.code, checked.note
    parent: Deal | None = None
    if increases is not None:
        parent = get_deal(session, increases)
        if parent.state == DealState.terminated:
            raise Refused(
                f"{_label(parent)}: a terminated deal cannot take a capital increase "
                f"(terminated on {parent.terminated_on})"
            )
        if day < parent.signed_on:
            raise Refused(
                f"{_label(parent)}: a capital increase signed on {day} cannot precede the deal, "
                f"signed on {parent.signed_on}"
            )
    found, display, key = _plan_investor(session, investor, code)
    if found is not None:
        _refuse_duplicate_deal(session, found.id, project, day)

    with unit_of_work(session, commit=commit):
        inv = _apply_investor(
            session,
            found,
            display,
            key,
            credit_code=code,
            origin_region_id=checked.region_id,
            origin_city=checked.city,
            actor=actor,
        )
        # created in this order when missing (a bulk import creates them in the same order)
        ids = {
            column: None if name is None else _NAMED[kind](session, name, actor=actor).id
            for column, (kind, name) in checked.names().items()
        }
        deal = Deal(**signed_values(checked, _id(inv), inv, ids=ids, increases_id=parent.id if parent else None))
        session.add(deal)
        session.flush()
        record_creation(session, deal, actor=actor, action="sign", note=note_text)
    return deal


@dataclass(frozen=True, slots=True)
class _Signing:
    """The checked cells of a signing (`sign`'s arguments), names still as text, industry and origin as ids."""

    project: str
    day: date
    amount: int
    code: str | None
    industry_id: int | None
    region_id: int | None
    city: str | None
    unit: str | None
    leader: str | None
    introducer: str | None
    credited_unit: str | None
    signing_event: str | None
    signer: str | None
    note: str | None

    def names(self) -> dict[str, tuple[str, str | None]]:
        """The deal's column -> (kind, name) of the names it refers to, in the order `sign` creates them."""
        return {
            "signing_event_id": ("signing_event", self.signing_event),
            "leader_id": ("person", self.leader),
            "unit_id": ("unit", self.unit),
            "introducer_id": ("person", self.introducer),
            "credited_unit_id": ("unit", self.credited_unit),
        }


def _check_signing(
    *,
    investor: object = None,
    project_name: object,
    signed_on: object,
    contracted_yuan: object,
    industry: object,
    origin: object,
    origin_city: object,
    unit: object,
    leader: object,
    introducer: object,
    credited_unit: object,
    signing_event: object,
    signer: object,
    credit_code: object,
    note: object,
    industry_id: Callable[[str], int | None],
    region_id: Callable[[str], int | None],
) -> _Signing:
    """Check a signing's values (InvalidValue naming the first bad one, in `sign`'s order), touching nothing.
    `investor` is checked when it is matched (`_match_investor`); `industry_id` / `region_id` find the industry or province a text names (UnknownName when none)."""
    project = _required("project_name", project_name, 200)
    day = _required_date("signed_on", signed_on)
    amount = _yuan("contracted_yuan", contracted_yuan)
    code = normalize_credit_code(credit_code)  # type: ignore[arg-type]
    industry_text = _text("industry", industry, 64)
    industry_found = industry_id(industry_text) if industry_text else None
    origin_text = _text("origin", origin, 32)
    region_found = region_id(origin_text) if origin_text else None
    return _Signing(
        project=project,
        day=day,
        amount=amount,
        code=code,
        industry_id=industry_found,
        region_id=region_found,
        city=_text("origin_city", origin_city, 64),
        unit=_text("unit", unit, 64),
        leader=_text("leader", leader, 64),
        introducer=_text("introducer", introducer, 64),
        credited_unit=_text("credited_unit", credited_unit, 64),
        signing_event=_text("signing_event", signing_event, 128),
        signer=_text("signer", signer, 64),
        note=_text("note", note, 10_000),
    )


def signed_values(
    checked: _Signing, investor_id: int, investor: Any, *, ids: dict[str, int | None], increases_id: int | None = None
) -> dict[str, Any]:
    """The columns of a newly signed deal, in the model's order: `investor` (its origin_region_id and
    origin_city, after the signing filled its blanks) and `ids` (the named columns) resolved."""
    return {
        "project_name": checked.project,
        "investor_id": investor_id,
        "signed_on": checked.day,
        "contracted_yuan": checked.amount,
        "industry_id": checked.industry_id,
        # the deal keeps the investor's origin as it was at signing
        "origin_region_id": checked.region_id if checked.region_id is not None else investor.origin_region_id,
        "origin_city": checked.city or investor.origin_city,
        "signing_event_id": ids["signing_event_id"],
        "leader_id": ids["leader_id"],
        "unit_id": ids["unit_id"],
        "introducer_id": ids["introducer_id"],
        "credited_unit_id": ids["credited_unit_id"],
        "signer": checked.signer,
        "state": DealState.signed,
        "increases_id": increases_id,
    }


def _refuse_duplicate_deal(session: Session, investor_id: int | None, project: str, day: date) -> None:
    existing = session.exec(
        select(Deal).where(Deal.investor_id == investor_id, Deal.project_name == project, Deal.signed_on == day)
    ).first()
    if existing is not None:
        raise duplicate_deal(existing, day)


def duplicate_deal(existing: Any, day: date) -> Duplicate:
    """The error for signing again what `existing` (a deal, or its id and project_name) already holds."""
    return Duplicate(f"{_label(existing)}: this investor already signed this project on {day}")


# ---------------------------------------------------------------- transitions


def start(
    session: Session, deal_id: int, *, on: date, actor: str, note: str | None = None, commit: bool = True
) -> Deal:
    """Construction began (开工) on `on`: ``signed`` -> ``started``."""
    actor = _actor(actor)
    day = _required_date("on", on)
    note_text = _text("note", note, 10_000)
    with unit_of_work(session, commit=commit):
        deal = get_deal(session, deal_id, for_update=True)
        record_changes(session, deal, started(deal, day), actor=actor, action="start", note=note_text)
    return deal


def started(deal: Any, day: date) -> dict[str, Any]:
    """The changes starting `deal` on `day` makes (Refused when it cannot start); `deal` is a Deal or
    anything with its id, project_name, state and dates."""
    if deal.state == DealState.terminated:
        raise Refused(f"{_label(deal)}: cannot start a terminated deal (terminated on {deal.terminated_on})")
    if deal.state != DealState.signed:
        raise Refused(f"{_label(deal)}: cannot start a deal that already started (on {deal.started_on})")
    if day < deal.signed_on:
        raise Refused(f"{_label(deal)}: the start date {day} is before the signing date {deal.signed_on}")
    return {"state": DealState.started, "started_on": day}


def complete(
    session: Session, deal_id: int, *, on: date, actor: str, note: str | None = None, commit: bool = True
) -> Deal:
    """Completed and producing (竣工投产) on `on`: ``started`` -> ``in_production``."""
    actor = _actor(actor)
    day = _required_date("on", on)
    note_text = _text("note", note, 10_000)
    with unit_of_work(session, commit=commit):
        deal = get_deal(session, deal_id, for_update=True)
        record_changes(session, deal, completed(deal, day), actor=actor, action="complete", note=note_text)
    return deal


def completed(deal: Any, day: date) -> dict[str, Any]:
    """The changes completing `deal` on `day` makes (Refused when it cannot be completed)."""
    if deal.state == DealState.terminated:
        raise Refused(f"{_label(deal)}: cannot complete a terminated deal (terminated on {deal.terminated_on})")
    if deal.state == DealState.in_production:
        raise Refused(f"{_label(deal)}: cannot complete a deal already in production (since {deal.completed_on})")
    if deal.state == DealState.signed or deal.started_on is None:
        raise Refused(f"{_label(deal)}: cannot complete a deal that has not started")
    if day < deal.started_on:
        raise Refused(f"{_label(deal)}: the completion date {day} is before the start date {deal.started_on}")
    return {"state": DealState.in_production, "completed_on": day}


def terminate(session: Session, deal_id: int, *, on: date, reason: str, actor: str, commit: bool = True) -> Deal:
    """The investor cannot perform (终止 / 无法履约) from `on`: ``signed`` or ``started`` -> ``terminated``."""
    actor = _actor(actor)
    day = _required_date("on", on)
    why = _required("reason", reason, 10_000)
    with unit_of_work(session, commit=commit):
        deal = get_deal(session, deal_id, for_update=True)
        changes = terminated(deal, day, why)
        later = session.execute(
            sa_select(col(CapitalArrival.arrived_on), col(CapitalArrival.arrived_yuan))
            .where(col(CapitalArrival.deal_id) == deal.id, col(CapitalArrival.arrived_on) > day)
            .order_by(col(CapitalArrival.arrived_on))
        ).all()
        if later:
            shown = ", ".join(f"{on} ({amount:,} yuan)" for on, amount in later[:5]) + (
                " ..." if len(later) > 5 else ""
            )
            raise Refused(
                f"{_label(deal)}: the termination date {day} is before {len(later)} arrival(s) it already has: {shown}; "
                "terminate it on or after the last arrival"
            )
        record_changes(session, deal, changes, actor=actor, action="terminate")
    return deal


def terminated(deal: Any, day: date, why: str) -> dict[str, Any]:
    """The changes terminating `deal` on `day` for `why` makes (Refused when it cannot be terminated;
    arrivals after `day` are checked by `terminate`)."""
    if deal.state == DealState.terminated:
        raise Refused(f"{_label(deal)}: cannot terminate a deal already terminated (on {deal.terminated_on})")
    if deal.state == DealState.in_production:
        raise Refused(f"{_label(deal)}: cannot terminate a deal in production (since {deal.completed_on})")
    if day < deal.signed_on:
        raise Refused(f"{_label(deal)}: the termination date {day} is before the signing date {deal.signed_on}")
    if deal.started_on is not None and day < deal.started_on:
        raise Refused(f"{_label(deal)}: the termination date {day} is before the start date {deal.started_on}")
    return {"state": DealState.terminated, "terminated_on": day, "termination_reason": why}


def register(
    session: Session,
    deal_id: int,
    *,
    on: date,
    actor: str,
    note: str | None = None,
    force: bool = False,
    reason: str | None = None,
    commit: bool = True,
) -> Deal:
    """The started project entered the fixed-asset-investment statistics (入库) on `on`.

    Only a started (or producing) deal can be registered, and not before its start date;
    registering it again with another date corrects the date (audited). A deal that lacks a
    required registration document (crm.major.registration) is refused, naming what is
    missing, unless `force` with a `reason`, which the audit row keeps.
    """
    actor = _actor(actor)
    day = _required_date("on", on)
    note_text = _text("note", note, 10_000)
    why = _text("reason", reason, 10_000)
    with unit_of_work(session, commit=commit):
        deal = get_deal(session, deal_id, for_update=True)
        if deal.started_on is None or deal.state in (DealState.signed, DealState.terminated):
            raise Refused(f"{_label(deal)}: only a started deal can be registered (入库); this one is {deal.state}")
        if day < deal.started_on:
            raise Refused(f"{_label(deal)}: the registration date {day} is before the start date {deal.started_on}")
        missing = missing_documents(session, _id(deal))
        if missing and not force:
            raise Refused(
                f"{_label(deal)}: cannot register (入库) without {missing_labels(missing)}; record them with "
                "`crm major document`, or force with a reason"
            )
        if missing and why is None:
            raise InvalidValue("reason", reason, f"forcing 入库 without {missing_labels(missing)} needs a reason")
        if missing:
            note_text = "; ".join(t for t in (note_text, f"forced without {missing_labels(missing)}: {why}") if t)
        record_changes(session, deal, {"registered_on": day}, actor=actor, action="register", note=note_text)
    return deal


def reassign(
    session: Session,
    deal_id: int,
    *,
    investor: str,
    signed_on: date,
    actor: str,
    contracted_yuan: int | None = None,
    credit_code: str | None = None,
    origin: str | None = None,
    origin_city: str | None = None,
    note: str | None = None,
    commit: bool = True,
) -> Deal:
    """Hand a terminated deal's project to a new investor: a new ``signed`` deal that replaces it.

    The new deal keeps the project name, industry, responsible unit, leader,
    introducer, credited unit, signer and follow-up owner; the contracted amount
    defaults to the old one. The pair counts once, as the new deal.
    """
    actor = _actor(actor)
    day = _required_date("signed_on", signed_on)
    amount = None if contracted_yuan is None else _yuan("contracted_yuan", contracted_yuan)
    code = normalize_credit_code(credit_code)
    origin_text = _text("origin", origin, 32)
    region = find_region(session, origin_text) if origin_text else None
    city = _text("origin_city", origin_city, 64)
    note_text = _text("note", note, 10_000)
    with unit_of_work(session, commit=commit):
        old = get_deal(session, deal_id, for_update=True)
        if old.state != DealState.terminated or old.terminated_on is None:
            raise Refused(f"{_label(old)}: only a terminated deal can be reassigned (it is {old.state})")
        successor = session.exec(select(Deal).where(Deal.replaces_id == old.id)).first()
        if successor is not None:
            raise Refused(f"{_label(old)}: already reassigned to deal {successor.id}")
        if day < old.terminated_on:
            raise Refused(
                f"{_label(old)}: the new signing date {day} is before the termination date {old.terminated_on}"
            )
        found, display, key = _plan_investor(session, investor, code)
        if found is not None and found.id == old.investor_id:
            raise Refused(f"{_label(old)}: reassign to a new investor, not to {found.name} again")
        if found is not None:
            _refuse_duplicate_deal(session, found.id, old.project_name, day)

        inv = _apply_investor(
            session,
            found,
            display,
            key,
            credit_code=code,
            origin_region_id=region.id if region else None,
            origin_city=city,
            actor=actor,
        )
        new = Deal(
            project_name=old.project_name,
            investor_id=_id(inv),
            signed_on=day,
            contracted_yuan=old.contracted_yuan if amount is None else amount,
            industry_id=old.industry_id,
            origin_region_id=region.id if region else inv.origin_region_id,
            origin_city=city or inv.origin_city,
            leader_id=old.leader_id,
            unit_id=old.unit_id,
            introducer_id=old.introducer_id,
            credited_unit_id=old.credited_unit_id,
            signer=old.signer,
            follow_up_owner_id=old.follow_up_owner_id,
            increases_id=old.increases_id,
            location=old.location,
            description=old.description,
            replaces_id=old.id,
            state=DealState.signed,
        )
        session.add(new)
        session.flush()
        record_creation(session, new, actor=actor, action="reassign", note=note_text)
    return new


# ---------------------------------------------------------------- procedures


def _procedure_kind(kind: object) -> ProcedureKind:
    if isinstance(kind, str):
        text = kind.strip()
        for member, label in PROCEDURE_LABELS.items():
            if text in (member.value, label):
                return member
    known = ", ".join(f"{m.value} ({PROCEDURE_LABELS[m]})" for m in ProcedureKind)
    raise InvalidValue("kind", kind, f"unknown procedure; use one of {known}")


def _procedure_state(state: object) -> ProcedureState:
    if isinstance(state, str) and state.strip() in ProcedureState.__members__:
        return ProcedureState(state.strip())
    raise InvalidValue("state", state, f"use one of {', '.join(ProcedureState)}")


def set_procedure(
    session: Session,
    deal_id: int,
    kind: str,
    *,
    state: str,
    actor: str,
    started_on: date | None = None,
    done_on: date | None = None,
    note: str | None = None,
    commit: bool = True,
) -> Procedure:
    """Set one pre-construction procedure (前期手续) of a deal: its state and dates.

    `kind` is a ProcedureKind value or its label (立项, 用地, 环评, 规划许可, 施工许可).
    A date left None keeps the recorded one; ``not_started`` clears both dates and
    ``in_progress`` clears the done date. ``done`` may lack a date: ledgers often
    mark a procedure 已办结 without one.
    """
    actor = _actor(actor)
    member = _procedure_kind(kind)
    new_state = _procedure_state(state)
    start_day = _date("started_on", started_on, required=False)
    done_day = _date("done_on", done_on, required=False)
    note_text = _text("note", note, 10_000)
    deal = get_deal(session, deal_id)
    if deal.state == DealState.terminated:
        raise Refused(f"{_label(deal)}: the deal is terminated; its procedures are closed")
    row = session.exec(select(Procedure).where(Procedure.deal_id == deal.id, Procedure.kind == member.value)).first()
    merged_start = start_day if start_day is not None else (row.started_on if row else None)
    merged_done = done_day if done_day is not None else (row.done_on if row else None)
    if new_state == ProcedureState.not_started:
        if start_day is not None or done_day is not None:
            raise InvalidValue("state", state, "a procedure not started has no dates")
        merged_start = merged_done = None
    elif new_state == ProcedureState.in_progress:
        if done_day is not None:
            raise InvalidValue("done_on", done_day, "a procedure in progress is not done; set state done")
        merged_done = None
    if merged_start is not None and merged_done is not None and merged_done < merged_start:
        raise InvalidValue("done_on", merged_done, f"before the start date {merged_start}")

    values: dict[str, Any] = {"state": new_state.value, "started_on": merged_start, "done_on": merged_done}
    if note_text is not None:
        values["note"] = note_text
    with unit_of_work(session, commit=commit):
        if row is None:
            row = Procedure(deal_id=_id(deal), kind=member.value, **values)
            session.add(row)
            session.flush()
            record_creation(session, row, actor=actor, action="procedure")
        else:
            record_changes(session, row, values, actor=actor, action="procedure")
    return row


def missing_procedures(session: Session, deal_id: int) -> list[str]:
    """The procedure kinds (ProcedureKind values, in the usual order) not yet done for the deal."""
    deal = get_deal(session, deal_id)
    done = set(
        session.exec(
            select(Procedure.kind).where(Procedure.deal_id == deal.id, Procedure.state == ProcedureState.done.value)
        ).all()
    )
    return [k.value for k in ProcedureKind if k.value not in done]


def procedures(session: Session, deal_id: int) -> pd.DataFrame:
    """All five procedures of a deal, one row each: kind, label, state, started_on, done_on, note."""
    deal = get_deal(session, deal_id)
    rows = {p.kind: p for p in session.exec(select(Procedure).where(Procedure.deal_id == deal.id)).all()}
    records = []
    for kind in ProcedureKind:
        p = rows.get(kind.value)
        records.append(
            {
                "kind": kind.value,
                "label": PROCEDURE_LABELS[kind],
                "state": p.state if p else ProcedureState.not_started.value,
                "started_on": p.started_on if p else None,
                "done_on": p.done_on if p else None,
                "note": p.note if p else None,
            }
        )
    return pd.DataFrame(records, columns=["kind", "label", "state", "started_on", "done_on", "note"], dtype=object)


def history(session: Session, deal_id: int) -> pd.DataFrame:
    """Everything recorded about a deal, oldest first, from the audit log: at, actor, account (the
    database account on PostgreSQL), action, entity (deal, procedure, follow_up, capital_arrival),
    field, old, new, note.

    Fields that hold an id (unit_id, leader_id, industry_id ...) are shown by the name they
    denote (field ``unit``, ``县商务局``), like the rows `edit` writes."""
    from crm.models import AuditLog, CapitalArrival

    deal = get_deal(session, deal_id)
    owned = {
        "procedure": select(Procedure.id).where(Procedure.deal_id == deal.id),
        "follow_up": select(FollowUp.id).where(FollowUp.deal_id == deal.id),
        "capital_arrival": select(CapitalArrival.id).where(CapitalArrival.deal_id == deal.id),
    }
    about_deal = or_(
        and_(col(AuditLog.entity) == "deal", col(AuditLog.entity_id) == deal.id),
        *(and_(col(AuditLog.entity) == entity, col(AuditLog.entity_id).in_(ids)) for entity, ids in owned.items()),
    )
    rows = session.exec(select(AuditLog).where(about_deal).order_by(col(AuditLog.id))).all()
    columns = ["at", "actor", "account", "action", "entity", "field", "old", "new", "note"]
    named = _named_columns()
    cache: dict[tuple[str, str], Any] = {}

    def readable(field: str, value: str | None) -> Any:
        if value is None or not value.isdigit():
            return value
        key = (field, value)
        if key not in cache:
            cache[key] = _name_of(session, field, int(value))
        return cache[key]

    records = []
    for r in rows:
        field, old, new = r.field, r.old, r.new
        if field in named:  # ids recorded by creations and transitions are shown as the names they denote
            old, new, field = readable(field, old), readable(field, new), field.removesuffix("_id")
        records.append([r.at, r.actor, r.account, r.action, r.entity, field, old, new, r.note])
    return pd.DataFrame(records, columns=columns)


# ---------------------------------------------------------------- stalls and follow-ups


def find_stall_reason(session: Session, text: str) -> StallReason:
    """The stall reason whose code or label is `text`; InvalidValue naming the known ones."""
    key = _required("reason", text, 64)
    found = session.exec(select(StallReason).where((StallReason.code == key) | (StallReason.label == key))).first()
    if found is None:
        known = ", ".join(
            f"{r.code} ({r.label})" for r in session.exec(select(StallReason).order_by(col(StallReason.id))).all()
        )
        raise InvalidValue("reason", text, f"unknown stall reason; known: {known}")
    return found


def add_stall_reason(session: Session, *, code: str, label: str, actor: str, commit: bool = True) -> StallReason:
    """Add a bureau's own stall reason (未开工原因) to the reference table."""
    actor = _actor(actor)
    code_text = _required("code", code, 32)
    if not _STALL_CODE.match(code_text):
        raise InvalidValue("code", code, "lower-case letters, digits and _ , starting with a letter")
    label_text = _required("label", label, 64)
    clash = session.exec(
        select(StallReason).where((StallReason.code == code_text) | (StallReason.label == label_text))
    ).first()
    if clash is not None:
        raise Duplicate(f"stall reason {clash.code} ({clash.label}) already exists")
    with unit_of_work(session, commit=commit):
        reason = StallReason(code=code_text, label=label_text)
        session.add(reason)
        session.flush()
        record_creation(session, reason, actor=actor)
    return reason


def _refuse_unless_unstarted(deal: Deal, what: str) -> None:
    if deal.state != DealState.signed:
        raise Refused(f"{_label(deal)}: {what} applies to a signed deal not yet started (it is {deal.state})")


def set_stall(
    session: Session,
    deal_id: int,
    *,
    reason: str,
    actor: str,
    owner: str | None = None,
    note: str | None = None,
    commit: bool = True,
) -> Deal:
    """Record why a signed deal has not started: a coded reason (code or label), its follow-up owner and a note.

    `owner` (a person's name, created when missing) and `note` left None keep the recorded ones.
    """
    actor = _actor(actor)
    reason_row = find_stall_reason(session, reason)
    owner_name = _text("owner", owner, 64)
    note_text = _text("note", note, 10_000)
    with unit_of_work(session, commit=commit):
        deal = get_deal(session, deal_id, for_update=True)
        _refuse_unless_unstarted(deal, "a stall reason")
        changes: dict[str, Any] = {"stall_reason_id": reason_row.id}
        if owner_name is not None:
            changes["follow_up_owner_id"] = _person(session, owner_name, actor=actor).id
        if note_text is not None:
            changes["stall_note"] = note_text
        record_changes(session, deal, changes, actor=actor, action="stall")
    return deal


def assign_owner(session: Session, deal_id: int, *, owner: str, actor: str, commit: bool = True) -> Deal:
    """Give a deal the person who follows it up (专人跟踪); the person is created when missing."""
    actor = _actor(actor)
    owner_name = _required("owner", owner, 64)
    with unit_of_work(session, commit=commit):
        deal = get_deal(session, deal_id, for_update=True)
        if deal.state == DealState.terminated:
            raise Refused(f"{_label(deal)}: a terminated deal gets no follow-up owner")
        person = _person(session, owner_name, actor=actor)
        record_changes(session, deal, {"follow_up_owner_id": person.id}, actor=actor, action="assign_owner")
    return deal


def add_follow_up(
    session: Session,
    deal_id: int,
    *,
    on: date,
    action: str,
    actor: str,
    next_step: str | None = None,
    due_on: date | None = None,
    owner: str | None = None,
    commit: bool = True,
) -> FollowUp:
    """A dated follow-up (跟踪记录): what was done on `on`, the next step and when it is due.

    `owner` defaults to the deal's follow-up owner.
    """
    actor = _actor(actor)
    day = _required_date("on", on)
    what = _required("action", action, 10_000)
    step = _text("next_step", next_step, 10_000)
    due = _date("due_on", due_on, required=False)
    owner_name = _text("owner", owner, 64)
    if due is not None and due < day:
        raise InvalidValue("due_on", due, f"the next step cannot be due before the follow-up on {day}")
    deal = get_deal(session, deal_id)
    if day < deal.signed_on:
        raise Refused(f"{_label(deal)}: a follow-up on {day} is before the signing date {deal.signed_on}")
    with unit_of_work(session, commit=commit):
        owner_id = _person(session, owner_name, actor=actor).id if owner_name else deal.follow_up_owner_id
        row = FollowUp(deal_id=_id(deal), on=day, owner_id=owner_id, action=what, next_step=step, due_on=due)
        session.add(row)
        session.flush()
        record_creation(session, row, actor=actor, action="follow_up")
    return row


# ---------------------------------------------------------------- the signed-but-unstarted list


def _thresholds(thresholds: tuple[int, int]) -> tuple[int, int]:
    try:
        yellow, red = (int(t) for t in thresholds)
    except (TypeError, ValueError):
        raise InvalidValue("thresholds", thresholds, "expected two day counts, e.g. (90, 180)") from None
    if not 0 < yellow < red:
        raise InvalidValue("thresholds", thresholds, "need 0 < yellow days < red days")
    return yellow, red


def warning_level(age_days: int, thresholds: tuple[int, int] = DEFAULT_THRESHOLDS) -> str:
    """green below the first threshold (days since signing), yellow below the second, red from it on."""
    yellow, red = _thresholds(thresholds)
    if age_days < yellow:
        return "green"
    return "yellow" if age_days < red else "red"


def unstarted_conditions(rs: CountingRules, day: date) -> list[ColumnElement[bool]]:
    """The deals :func:`unstarted` lists before its filters, as conditions on the deal table: root
    deals signed by `day` within the rules' cohort window, neither started nor terminated by then,
    and not replaced by a deal signed by then."""
    d = DEAL_TABLE
    conditions: list[ColumnElement[bool]] = [
        d.c.increases_id.is_(None),
        d.c.signed_on <= day,
        or_(d.c.started_on.is_(None), d.c.started_on > day),
        or_(d.c.terminated_on.is_(None), d.c.terminated_on > day),
        not_replaced(d, day),
    ]
    cohort_from = cohort_start(rs, day)
    if cohort_from is not None:
        conditions.append(d.c.signed_on >= cohort_from)
    return conditions


def unstarted(
    session: Session,
    *,
    signed_since: date | None = None,
    as_of: date | None = None,
    unit: str | None = None,
    leader: str | None = None,
    industry: str | None = None,
    level: str | None = None,
    thresholds: tuple[int, int] = DEFAULT_THRESHOLDS,
    min_amount: int | None = None,
    max_amount: int | None = None,
    rules: str | CountingRules | None = None,
) -> pd.DataFrame:
    """Signed-but-unstarted deals (签约未开工) as of `as_of` (default today), one row per deal.

    Worked out from the dates as ``metrics.kpis`` does, not from each deal's state today:
    deals signed on or before `as_of` (and on or after `signed_since`), not started and
    not terminated on or before it, not replaced by a reassignment signed by then, within
    the counting rules' cohort window (`rules`, default the default set); capital increases
    are not deals. Oldest first. ``size_yuan`` is the deal's contracted amount with the
    increases signed by `as_of` and ``size_class`` its class by the rules' size classes;
    `min_amount` / `max_amount` keep min_amount <= size_yuan < max_amount. ``age_days`` counts days since signing; ``level`` is
    green / yellow / red by `thresholds` (days). The latest follow-up on or before
    `as_of` gives ``last_follow_up`` and ``next_due``; ``follow_up_overdue`` is true when
    that next step was due before `as_of`. ``missing_procedures`` lists the labels of the
    procedures not done (立项、用地 ...). `unit` (responsible unit), `leader` and `industry`
    are names; `level` one of green, yellow, red.
    """
    day = _date("as_of", as_of, required=False) or date.today()
    since = _date("signed_since", signed_since, required=False)
    yellow, red = _thresholds(thresholds)

    rs = get_rules(session, rules)
    conditions = unstarted_conditions(rs, day)
    sizes = deal_sizes(day)
    bounds = size_conditions(sizes.c.size_yuan, min_amount, max_amount)
    if bounds:
        conditions.append(col(Deal.id).in_(sa_select(sizes.c.root_id).where(*bounds)))
    if since is not None:
        conditions.append(col(Deal.signed_on) >= since)
    if _text("unit", unit, 64):
        conditions.append(col(Deal.unit_id) == names.resolve_id(session, "unit", _required("unit", unit, 64)))
    if _text("leader", leader, 64):
        conditions.append(col(Deal.leader_id) == names.resolve_id(session, "leader", _required("leader", leader, 64)))
    if _text("industry", industry, 64):
        conditions.append(col(Deal.industry_id) == find_industry(session, _required("industry", industry, 64)).id)
    if level is not None:
        # a level is a range of signing dates, so the database does the filtering
        yellow_from, red_from = day - timedelta(days=yellow), day - timedelta(days=red)
        if level == "green":
            conditions.append(col(Deal.signed_on) > yellow_from)
        elif level == "yellow":
            conditions.extend([col(Deal.signed_on) <= yellow_from, col(Deal.signed_on) > red_from])
        elif level == "red":
            conditions.append(col(Deal.signed_on) <= red_from)
        else:
            raise InvalidValue("level", level, f"use one of {', '.join(WARNING_LEVELS)}")
    where = and_(*conditions)

    # The latest follow-up on or before `as_of` (ties: the later entry), found per deal through the
    # (deal_id, on) index inside one statement; measured faster than a window over all follow-ups.
    latest_id = (
        select(col(FollowUp.id))
        .where(col(FollowUp.deal_id) == col(Deal.id), col(FollowUp.on) <= day)
        .order_by(col(FollowUp.on).desc(), col(FollowUp.id).desc())
        .limit(1)
        .correlate(Deal)
        .scalar_subquery()
    )
    listed = sa_select(col(Deal.id).label("deal_id"), latest_id.label("follow_up_id")).where(where).subquery("listed")
    owner_p, leader_p = aliased(Person), aliased(Person)
    stmt = (
        sa_select(
            col(Deal.id),
            col(Deal.project_name),
            col(Investor.name),
            col(Industry.name),
            col(Deal.signed_on),
            col(StallReason.label),
            col(owner_p.name),
            col(FollowUp.on),
            col(FollowUp.due_on),
            col(leader_p.name),
            col(Unit.name),
            col(Deal.signer),
            sizes.c.size_yuan,
            size_class_index(sizes.c.size_yuan, rs),
        )
        .select_from(listed)
        .join(Deal, col(Deal.id) == listed.c.deal_id)
        .join(Investor, col(Investor.id) == col(Deal.investor_id))
        .outerjoin(Industry, col(Industry.id) == col(Deal.industry_id))
        .outerjoin(StallReason, col(StallReason.id) == col(Deal.stall_reason_id))
        .outerjoin(owner_p, col(owner_p.id) == col(Deal.follow_up_owner_id))
        .outerjoin(leader_p, col(leader_p.id) == col(Deal.leader_id))
        .outerjoin(Unit, col(Unit.id) == col(Deal.unit_id))
        .outerjoin(FollowUp, col(FollowUp.id) == listed.c.follow_up_id)
        .join(sizes, sizes.c.root_id == col(Deal.id))
        .order_by(col(Deal.signed_on), col(Deal.id))
    )
    frame_columns = [
        "deal_id",
        "project_name",
        "investor",
        "industry",
        "signed_on",
        "reason",
        "owner",
        "last_follow_up",
        "next_due",
        "leader",
        "unit",
        "signer",
        "size_yuan",
        "size_class",
    ]
    rows = session.execute(stmt).all()
    df = pd.DataFrame([tuple(r) for r in rows], columns=frame_columns)
    labels = size_class_labels(rs)
    df["size_yuan"] = df["size_yuan"].astype("int64")
    df["size_class"] = pd.Series([labels[int(i)] for i in df["size_class"]], index=df.index, dtype="object")

    done_stmt = select(col(Procedure.deal_id), col(Procedure.kind)).where(
        col(Procedure.state) == ProcedureState.done.value,
        col(Procedure.deal_id).in_(select(col(Deal.id)).where(where)),
    )
    done: dict[int, set[str]] = {}
    for deal_id, kind in session.exec(done_stmt).all():
        done.setdefault(deal_id, set()).add(kind)

    df["age_days"] = pd.Series([(day - d).days for d in df["signed_on"]], index=df.index, dtype="int64")
    df["level"] = pd.Series(
        [warning_level(a, (yellow, red)) for a in df["age_days"].tolist()], index=df.index, dtype="object"
    )
    df["follow_up_overdue"] = pd.Series(
        [due is not None and not pd.isna(due) and due < day for due in df["next_due"]], index=df.index, dtype="bool"
    )
    kinds = [(k.value, PROCEDURE_LABELS[k]) for k in ProcedureKind]
    missing_text: dict[frozenset[str], str] = {}  # at most 32 combinations: build each text once
    combinations: set[frozenset[str]] = {frozenset(v) for v in done.values()} | {frozenset()}
    for kinds_done in combinations:
        missing_text[kinds_done] = "、".join(label for value, label in kinds if value not in kinds_done)
    frozen = {deal_id: frozenset(v) for deal_id, v in done.items()}
    nothing_done = missing_text[frozenset()]
    df["missing_procedures"] = pd.Series(
        [missing_text[frozen[i]] if i in frozen else nothing_done for i in df["deal_id"].tolist()],
        index=df.index,
        dtype="object",
    )
    for column in ("last_follow_up", "next_due", "reason", "owner", "leader", "unit", "signer", "industry"):
        df[column] = df[column].astype("object").where(df[column].notna(), None)
    return df[UNSTARTED_COLUMNS].reset_index(drop=True)


# ---------------------------------------------------------------- finding deals


class Ambiguous(Refused):
    """A project name (part) that several deals carry; `candidates` lists them."""

    def __init__(self, text: str, candidates: list[Deal]) -> None:
        self.candidates = candidates
        lines = [f"  deal {d.id}: {d.project_name} (signed {d.signed_on}, {d.state})" for d in candidates[:20]]
        more = [f"  ... and {len(candidates) - 20} more"] if len(candidates) > 20 else []
        super().__init__("\n".join([f"{text!r} names {len(candidates)} deals; give the id:", *lines, *more]))


def find_deal(session: Session, ref: int | str, *, for_update: bool = False) -> Deal:
    """The deal `ref` names: its id (an int or digits), else its project name or a unique part of it.

    Several deals containing the text: the one whose project name is exactly the text, else
    Ambiguous listing the candidates. None: NotFound with the closest project names.
    """
    if isinstance(ref, int) and not isinstance(ref, bool):
        return get_deal(session, ref, for_update=for_update)
    text = unicodedata.normalize("NFKC", str(ref)).strip()
    if not text:
        raise InvalidValue("deal", ref, "give a deal id or a project name")
    if text.isdigit():
        return get_deal(session, int(text), for_update=for_update)
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    found = list(
        session.exec(
            select(Deal).where(col(Deal.project_name).like(pattern, escape="\\")).order_by(col(Deal.id)).limit(200)
        ).all()
    )
    if len(found) > 1:
        exact = [d for d in found if d.project_name == text]
        if len(exact) == 1:
            found = exact
        else:
            raise Ambiguous(text, exact or found)
    if not found:
        projects = list(session.exec(select(Deal.project_name).distinct()).all())
        near = difflib.get_close_matches(text, projects, n=3, cutoff=0.4)
        hint = f"; did you mean {'、'.join(near)}?" if near else ""
        raise NotFound("deal", f"{text}{hint}")
    deal = found[0]
    if for_update:
        return get_deal(session, _id(deal), for_update=True)
    return deal


LIST_COLUMNS = [
    "deal_id",
    "project_name",
    "investor",
    "signed_on",
    "state",
    "contracted_yuan",
    "industry",
    "unit",
    "leader",
]


def list_deals(
    session: Session,
    *,
    search: str | None = None,
    state: str | None = None,
    unit: str | None = None,
    industry: str | None = None,
    min_amount_yuan: int | None = None,
) -> pd.DataFrame:
    """Deals matching every filter given, oldest signing first (LIST_COLUMNS; money in yuan).

    `search` is text found in the project or the investor name (case-insensitive);
    `state` a DealState value or its label (已签约 ...); `unit` and `industry` names that
    must exist; `min_amount_yuan` the smallest contracted amount.
    """
    leader_p = aliased(Person)
    stmt = (
        sa_select(
            col(Deal.id),
            col(Deal.project_name),
            col(Investor.name),
            col(Deal.signed_on),
            col(Deal.state),
            col(Deal.contracted_yuan),
            col(Industry.name),
            col(Unit.name),
            col(leader_p.name),
        )
        .join(Investor, col(Investor.id) == col(Deal.investor_id))
        .outerjoin(Industry, col(Industry.id) == col(Deal.industry_id))
        .outerjoin(Unit, col(Unit.id) == col(Deal.unit_id))
        .outerjoin(leader_p, col(leader_p.id) == col(Deal.leader_id))
        .order_by(col(Deal.signed_on), col(Deal.id))
    )
    text = _text("search", search, 200)
    if text:
        needle = unicodedata.normalize("NFKC", text).lower()
        stmt = stmt.where(
            or_(
                func.lower(col(Deal.project_name)).contains(needle, autoescape=True),
                func.lower(col(Investor.name)).contains(needle, autoescape=True),
            )
        )
    if state is not None and state.strip():
        labels = {label: member.value for member, label in DEAL_STATE_LABELS.items()}
        value = labels.get(state.strip(), state.strip())
        if value not in DealState.__members__:
            allowed = ", ".join(f"{m.value} ({DEAL_STATE_LABELS[m]})" for m in DealState)
            raise InvalidValue("state", state, f"use one of {allowed}")
        stmt = stmt.where(col(Deal.state) == value)
    if unit is not None and unit.strip():
        stmt = stmt.where(col(Deal.unit_id) == names.resolve_id(session, "unit", unit))
    if industry is not None and industry.strip():
        stmt = stmt.where(col(Deal.industry_id) == names.resolve_id(session, "industry", industry))
    if min_amount_yuan is not None:
        stmt = stmt.where(col(Deal.contracted_yuan) >= _yuan("min_amount", min_amount_yuan))
    return pd.DataFrame([tuple(r) for r in session.execute(stmt).all()], columns=LIST_COLUMNS)


# ---------------------------------------------------------------- corrections


# What `edit` may change: the keyword, the column, the reference kind of a named column.
EDITABLE: dict[str, tuple[str, str | None]] = {
    "project_name": ("project_name", None),
    "contracted_yuan": ("contracted_yuan", None),
    "industry": ("industry_id", "industry"),
    "origin": ("origin_region_id", "origin"),
    "origin_city": ("origin_city", None),
    "unit": ("unit_id", "unit"),
    "leader": ("leader_id", "leader"),
    "introducer": ("introducer_id", "introducer"),
    "credited_unit": ("credited_unit_id", "credited_unit"),
    "signing_event": ("signing_event_id", "signing_event"),
    "signer": ("signer", None),
    "location": ("location", None),
    "description": ("description", None),
}
_LENGTHS = {"project_name": 200, "origin_city": 64, "signer": 64, "location": 128, "description": 10_000}


def _named_columns() -> dict[str, tuple[Any, str]]:
    """A foreign-key column of a deal (or of what it owns), the table holding its name, and that column."""
    return {
        "unit_id": (Unit, "name"),
        "credited_unit_id": (Unit, "name"),
        "leader_id": (Person, "name"),
        "introducer_id": (Person, "name"),
        "follow_up_owner_id": (Person, "name"),
        "owner_id": (Person, "name"),
        "industry_id": (Industry, "name"),
        "origin_region_id": (Region, "name"),
        "signing_event_id": (SigningEvent, "name"),
        "stall_reason_id": (StallReason, "label"),
        "investor_id": (Investor, "name"),
    }


def _name_of(session: Session, column: str, value: Any) -> Any:
    """The readable name behind the id `value` of a named column (the id itself when unknown)."""
    named = _named_columns().get(column)
    if named is None or value is None:
        return value
    model, attr = named
    row = session.get(model, int(value))
    return getattr(row, attr) if row is not None else value


def _edit_value(session: Session, key: str, value: Any, *, actor: str, new_names: bool) -> Any:
    """The column value for `edit`'s keyword `key`: a checked amount or text, or the id a name denotes."""
    role = EDITABLE[key][1]
    if key == "contracted_yuan":
        return _yuan(key, value)
    if role is None:
        return _text(key, value, _LENGTHS[key], required=key == "project_name")
    text = _text(key, value, 128)
    if text is None:
        return None
    if new_names and role in ("unit", "credited_unit"):
        return get_or_create_unit(session, text, actor=actor).id
    if new_names and role in ("leader", "introducer"):
        return get_or_create_person(session, text, actor=actor).id
    if new_names and role == "signing_event":
        return _signing_event(session, text, actor=actor).id
    return names.resolve_id(session, role, text)


def edit(
    session: Session,
    deal: Deal | int | str,
    *,
    actor: str,
    note: str | None = None,
    new_names: bool = False,
    commit: bool = True,
    **changes: Any,
) -> dict[str, tuple[Any, Any]]:
    """Correct what was recorded about a deal; one audit row (action ``edit``) per changed field.

    `changes` use the keywords of EDITABLE: project_name, contracted_yuan (whole yuan),
    industry, origin, origin_city, unit, leader, introducer, credited_unit, signing_event,
    signer, location, description. Names must exist (UnknownName with the closest ones)
    unless `new_names` (a re-imported ledger's names are created). The audit rows carry the
    readable names, not ids (``unit: 县商务局 → 县发改局``). A deal's state and lifecycle
    dates are not edited here (see `correct`). Returns {keyword: (old, new)} of what changed.
    """
    actor = _actor(actor)
    note_text = _text("note", note, 10_000)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidValue(unknown[0], changes[unknown[0]], f"cannot be edited; edit one of {', '.join(EDITABLE)}")
    row = find_deal(session, deal.id if isinstance(deal, Deal) and deal.id is not None else deal, for_update=True)  # type: ignore[arg-type]
    done: dict[str, tuple[Any, Any]] = {}
    with unit_of_work(session, commit=commit):
        values = {
            key: _edit_value(session, key, value, actor=actor, new_names=new_names) for key, value in changes.items()
        }
        new_project = values.get("project_name", row.project_name)
        if new_project != row.project_name:
            clash = session.exec(
                select(Deal).where(
                    Deal.investor_id == row.investor_id,
                    Deal.project_name == new_project,
                    Deal.signed_on == row.signed_on,
                    Deal.id != row.id,
                )
            ).first()
            if clash is not None:
                raise Duplicate(f"{_label(clash)}: this investor already signed {new_project} on {row.signed_on}")
        rows = []
        for key, value in values.items():
            column = EDITABLE[key][0]
            old = getattr(row, column)
            if old == value:
                continue
            old_name, new_name = _name_of(session, column, old), _name_of(session, column, value)
            setattr(row, column, value)
            done[key] = (old_name, new_name)
            rows.append((key, old_name, new_name))
        session.add(row)
        session.flush()
        for key, old_name, new_name in rows:
            record(
                session,
                actor=actor,
                action="edit",
                entity="deal",
                entity_id=row.id,
                field=key,
                old=old_name,
                new=new_name,
                note=note_text,
            )
    return done


def correct(
    session: Session,
    deal: Deal | int | str,
    *,
    actor: str,
    started_on: date | None = None,
    completed_on: date | None = None,
    terminated_on: date | None = None,
    note: str | None = None,
    commit: bool = True,
) -> dict[str, tuple[Any, Any]]:
    """Correct a lifecycle date recorded wrongly (action ``correct``, one audit row per date).

    Only a date the deal's state has can be corrected (a signed deal has no start date to
    correct: start it instead), and the corrected dates keep the lifecycle's order: signing
    ≤ start ≤ completion, signing and start ≤ termination, start ≤ 入库, and a deal that
    replaced this one not signed before its termination. Returns {field: (old, new)}.
    """
    actor = _actor(actor)
    note_text = _text("note", note, 10_000)
    given = {
        "started_on": _date("started_on", started_on, required=False),
        "completed_on": _date("completed_on", completed_on, required=False),
        "terminated_on": _date("terminated_on", terminated_on, required=False),
    }
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        raise InvalidValue("dates", None, "give --started-on, --completed-on or --terminated-on")
    row = find_deal(session, deal.id if isinstance(deal, Deal) and deal.id is not None else deal, for_update=True)  # type: ignore[arg-type]
    for name in given:
        if getattr(row, name) is None:
            raise Refused(
                f"{_label(row)}: it is {row.state} and has no {name} to correct; use the transition "
                "(start, complete, terminate) to record it"
            )
    start = given.get("started_on", row.started_on)
    done_on = given.get("completed_on", row.completed_on)
    ended = given.get("terminated_on", row.terminated_on)
    if start is not None and start < row.signed_on:
        raise Refused(f"{_label(row)}: the start date {start} is before the signing date {row.signed_on}")
    if start is not None and done_on is not None and done_on < start:
        raise Refused(f"{_label(row)}: the completion date {done_on} is before the start date {start}")
    if ended is not None and ended < row.signed_on:
        raise Refused(f"{_label(row)}: the termination date {ended} is before the signing date {row.signed_on}")
    if ended is not None and start is not None and ended < start:
        raise Refused(f"{_label(row)}: the termination date {ended} is before the start date {start}")
    if row.registered_on is not None and start is not None and row.registered_on < start:
        raise Refused(f"{_label(row)}: the start date {start} is after the registration (入库) on {row.registered_on}")
    if ended is not None and "terminated_on" in given:
        successor = session.exec(select(Deal).where(Deal.replaces_id == row.id)).first()
        if successor is not None and successor.signed_on < ended:
            raise Refused(
                f"{_label(row)}: deal {successor.id} replaced it on {successor.signed_on}, "
                f"before the corrected termination date {ended}"
            )
    changed: dict[str, tuple[Any, Any]] = {}
    with unit_of_work(session, commit=commit):
        for name, day in given.items():
            if getattr(row, name) != day:
                changed[name] = (getattr(row, name), day)
        record_changes(session, row, given, actor=actor, action="correct", note=note_text)
    return changed

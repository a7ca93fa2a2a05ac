"""Capital arrivals (到位资金): money that actually arrived for a deal, recorded with its evidence.

Amounts are whole yuan. A foreign-currency arrival keeps its currency, the original
amount (stored in 1/100 units) and the rate as exact decimal text; its yuan value is
original × rate rounded half up to the yuan.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from crm import names
from crm.audit import record_changes, record_creation
from crm.db import core_select, unit_of_work
from crm.errors import InvalidValue, NotFound, Refused
from crm.models import (
    CAPITAL_SOURCE_LABELS,
    CAPITAL_USE_LABELS,
    CapitalArrival,
    CapitalSource,
    CapitalUse,
    Deal,
    Investor,
    Unit,
)
from crm.money import parse_yuan, to_decimal_yuan

if TYPE_CHECKING:  # only the functions that make a frame import pandas: an export or an import needs none
    import pandas as pd

_ARRIVALS: Table = CapitalArrival.__table__  # type: ignore[attr-defined]


def not_voided(arrivals: Any = None) -> ColumnElement[bool]:
    """The condition every figure puts on the arrivals it counts: the arrival is not voided.

    `arrivals` is the capital_arrival table (or an alias of it); default the table itself.
    A voided arrival stays in the database and in the deal's history, and nowhere else.
    """
    table = _ARRIVALS if arrivals is None else arrivals
    return table.c.voided_on.is_(None)


def _choice(field: str, value: object, labels: dict[CapitalSource, str] | dict[CapitalUse, str]) -> str:
    text = str(value).strip() if value is not None else ""
    for member, label in labels.items():
        if text in (member.value, label):
            return member.value
    allowed = ", ".join(f"{label} ({member.value})" for member, label in labels.items())
    raise InvalidValue(field, value, f"use one of {allowed}")


def parse_source(value: object) -> str:
    """The CapitalSource value for ``境外 / 省外 / 市外省内 / 县际`` or the English value."""
    return _choice("source", value, CAPITAL_SOURCE_LABELS)


def parse_use(value: object) -> str:
    """The CapitalUse value for ``固定资产 / 流动资金`` or the English value."""
    return _choice("use", value, CAPITAL_USE_LABELS)


def arrival_refusal(
    deal_state: str | None, signed_on: date | None, terminated_on: date | None, arrived_on: date
) -> str | None:
    """Why an arrival on `arrived_on` cannot be recorded for a deal in this state, or None if it can.

    Pure rule (no database), shared by `record_arrival` and the ledger importer. `deal_state`
    None means the deal does not exist. Money that arrived on or before the termination date
    of a terminated deal is still accepted (it arrived while the deal stood).
    """
    if deal_state is None or signed_on is None:
        return "no such deal"
    if arrived_on < signed_on:
        return f"arrival on {arrived_on.isoformat()} is before the deal was signed on {signed_on.isoformat()}"
    if deal_state == "terminated" and terminated_on is not None and arrived_on > terminated_on:
        return f"arrival on {arrived_on.isoformat()} is after the deal was terminated on {terminated_on.isoformat()}"
    return None


def convert_fx(
    currency: str, original_amount: object, fx_rate: object, amount_yuan: int | None
) -> tuple[int, int, str]:
    """(yuan, original_cents, rate text) of a foreign-currency arrival, checked: yuan = original × rate,
    rounded half up to the yuan; a given `amount_yuan` must agree."""
    if original_amount is None or fx_rate is None:
        raise InvalidValue(
            "currency", currency, "a foreign-currency arrival needs both the original amount and fx_rate"
        )
    original = to_decimal_yuan(original_amount, "元", field="original_amount")
    if original < 0:
        raise InvalidValue("original_amount", original_amount, "an amount cannot be negative")
    cents = original * 100
    if cents != cents.to_integral_value():
        raise InvalidValue("original_amount", original_amount, "more than two decimals")
    try:
        rate = Decimal(str(fx_rate).strip())
    except InvalidOperation:
        raise InvalidValue("fx_rate", fx_rate, "not a number (yuan per unit of the currency, e.g. 7.1)") from None
    if not rate.is_finite() or rate <= 0:
        raise InvalidValue("fx_rate", fx_rate, "must be a positive number of yuan per unit")
    yuan = int((original * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if amount_yuan is not None and amount_yuan != yuan:
        raise InvalidValue(
            "amount_yuan", amount_yuan, f"disagrees with original × fx_rate = {original} × {rate} = {yuan} yuan"
        )
    return yuan, int(cents), str(rate)


def record_arrival(
    session: Session,
    deal_id: int,
    *,
    on: date,
    amount_yuan: int | str | Decimal | None,
    source: str,
    actor: str,
    use: str | None = None,
    evidence_kind: str | None = None,
    evidence_ref: str | None = None,
    verified: bool = False,
    currency: str = "CNY",
    original_amount: int | str | Decimal | None = None,
    fx_rate: str | Decimal | None = None,
    note: str | None = None,
    commit: bool = True,
) -> CapitalArrival:
    """Record money that arrived for deal `deal_id` on `on`, with one audit row per field.

    `amount_yuan` is whole yuan (text such as ``500万`` is read exactly). For a currency other
    than CNY give `original_amount` (in that currency) and `fx_rate` (yuan per unit); the yuan
    amount is computed and `amount_yuan` may be None. `source` and `use` take the Chinese
    label or the English value. Refused before signing or after termination.
    """
    currency = (currency or "CNY").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise InvalidValue("currency", currency, "a three-letter code such as CNY, USD, EUR")
    parsed = None if amount_yuan is None else parse_yuan(amount_yuan, "元", field="amount_yuan")
    if currency == "CNY":
        if original_amount is not None or fx_rate is not None:
            raise InvalidValue("currency", currency, "original amount and fx_rate are for foreign currencies only")
        if parsed is None:
            raise InvalidValue("amount_yuan", amount_yuan, "an amount is required")
        yuan, cents, rate = parsed, None, None
    else:
        yuan, cents_, rate_ = convert_fx(currency, original_amount, fx_rate, parsed)
        cents, rate = cents_, rate_
    source_value = parse_source(source)
    use_value = None if use is None or str(use).strip() == "" else parse_use(use)
    deal = session.get(Deal, deal_id)
    if deal is None:
        raise NotFound("deal", deal_id)
    refusal = arrival_refusal(deal.state, deal.signed_on, deal.terminated_on, on)
    if refusal:
        raise Refused(f"deal {deal_id} ({deal.project_name}): {refusal}")

    arrival = CapitalArrival(
        deal_id=deal_id,
        arrived_on=on,
        arrived_yuan=yuan,
        source=source_value,
        use=use_value,
        evidence_kind=evidence_kind or None,
        evidence_ref=evidence_ref or None,
        verified=bool(verified),
        currency=currency,
        original_cents=cents,
        fx_rate=rate,
        note=note or None,
    )
    with unit_of_work(session, commit=commit):
        session.add(arrival)
        session.flush()
        record_creation(session, arrival, actor=actor)
    return arrival


# ---------------------------------------------------------------- list, verify, void

ARRIVAL_LIST_COLUMNS = [
    "arrival_id",
    "deal_id",
    "project_name",
    "investor",
    "unit",
    "arrived_on",
    "arrived_yuan",
    "source",
    "verified",
    "verified_on",
    "evidence_kind",
    "evidence_ref",
    "voided_on",
    "void_reason",
]


def list_arrivals(
    session: Session,
    *,
    deal_id: int | None = None,
    start: date | None = None,
    end: date | None = None,
    unit: str | None = None,
    verified: bool | None = None,
    voided: bool | None = False,
) -> pd.DataFrame:
    """Arrivals, oldest first, one row each (ARRIVAL_LIST_COLUMNS; source as its label, 省外 ...).

    Filters: the deal, arrival dates `start`..`end` inclusive, the deal's responsible `unit`
    (a name that must exist), `verified` True/False (None: both), `voided` False (default:
    standing arrivals only), True (only voided) or None (both).
    """
    import pandas as pd

    a = _ARRIVALS
    unit_t = aliased(Unit)
    query = (
        core_select(
            a.c.id,
            a.c.deal_id,
            Deal.project_name,
            Investor.name,
            unit_t.name,
            a.c.arrived_on,
            a.c.arrived_yuan,
            a.c.source,
            a.c.verified,
            a.c.verified_on,
            a.c.evidence_kind,
            a.c.evidence_ref,
            a.c.voided_on,
            a.c.void_reason,
        )
        .join(Deal, col(Deal.id) == a.c.deal_id)
        .join(Investor, col(Investor.id) == col(Deal.investor_id))
        .outerjoin(unit_t, unit_t.id == col(Deal.unit_id))
        .order_by(a.c.arrived_on, a.c.id)
    )
    if deal_id is not None:
        query = query.where(a.c.deal_id == deal_id)
    if start is not None:
        query = query.where(a.c.arrived_on >= start)
    if end is not None:
        query = query.where(a.c.arrived_on <= end)
    if unit is not None and unit.strip():
        query = query.where(col(Deal.unit_id) == names.resolve_id(session, "unit", unit))
    if verified is not None:
        query = query.where(a.c.verified.is_(bool(verified)))
    if voided is not None:
        query = query.where(not_voided(a) if not voided else a.c.voided_on.is_not(None))
    rows = [tuple(r) for r in session.execute(query).all()]
    df = pd.DataFrame(rows, columns=ARRIVAL_LIST_COLUMNS)
    labels = {m.value: label for m, label in CAPITAL_SOURCE_LABELS.items()}
    df["source"] = [labels.get(s, s) for s in df["source"]]
    df["verified"] = df["verified"].astype(bool)
    return df


def _arrival(session: Session, arrival_id: int) -> CapitalArrival:
    if isinstance(arrival_id, bool) or not isinstance(arrival_id, int):
        raise InvalidValue("arrival_id", arrival_id, "expected an arrival id (an integer)")
    row = session.get(CapitalArrival, arrival_id, with_for_update=True)
    if row is None:
        raise NotFound("arrival", arrival_id)
    return row


def _actor(actor: object) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise InvalidValue("actor", actor, "who makes the change is required")
    return actor.strip()[:64]


def verify(
    session: Session,
    arrival_ids: Sequence[int],
    *,
    actor: str,
    on: date | None = None,
    evidence_kind: str | None = None,
    evidence_ref: str | None = None,
    commit: bool = True,
) -> list[CapitalArrival]:
    """Mark reported arrivals verified on `on` (default today), with their evidence; audited.

    All or nothing: a voided, already verified or unknown arrival refuses the whole call.
    """
    who = _actor(actor)
    day = on or date.today()
    rows = [_arrival(session, i) for i in arrival_ids]
    if not rows:
        raise InvalidValue("arrival_ids", arrival_ids, "give at least one arrival id")
    for row in rows:
        if row.voided_on is not None:
            raise Refused(f"arrival {row.id}: voided on {row.voided_on} ({row.void_reason}); it cannot be verified")
        if row.verified:
            raise Refused(f"arrival {row.id}: already verified" + (f" on {row.verified_on}" if row.verified_on else ""))
    with unit_of_work(session, commit=commit):
        for row in rows:
            changes: dict[str, Any] = {"verified": True, "verified_on": day, "verified_by": who}
            if evidence_kind:
                changes["evidence_kind"] = evidence_kind.strip()[:32]
            if evidence_ref:
                changes["evidence_ref"] = evidence_ref.strip()[:128]
            record_changes(session, row, changes, actor=who, action="verify")
    return rows


def void(
    session: Session, arrival_id: int, *, reason: str, actor: str, on: date | None = None, commit: bool = True
) -> CapitalArrival:
    """Void an arrival recorded in error: the row stays (money is never deleted), leaves every
    figure (``not_voided``) and shows in the deal's history with the reason. Audited."""
    who = _actor(actor)
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidValue("reason", reason, "say why the arrival is voided")
    row = _arrival(session, arrival_id)
    if row.voided_on is not None:
        raise Refused(f"arrival {row.id}: already voided on {row.voided_on} ({row.void_reason})")
    with unit_of_work(session, commit=commit):
        record_changes(
            session,
            row,
            {"voided_on": on or date.today(), "void_reason": reason.strip(), "voided_by": who},
            actor=who,
            action="void",
            note=reason.strip(),
        )
    return row

"""Capital arrivals (到位资金): money that actually arrived for a deal, recorded with its evidence.

Amounts are whole yuan. A foreign-currency arrival keeps its currency, the original
amount (stored in 1/100 units) and the rate as exact decimal text; its yuan value is
original × rate rounded half up to the yuan.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlmodel import Session

from crm.audit import record_creation
from crm.db import unit_of_work
from crm.errors import InvalidValue, NotFound, Refused
from crm.models import CAPITAL_SOURCE_LABELS, CAPITAL_USE_LABELS, CapitalArrival, CapitalSource, CapitalUse, Deal
from crm.money import parse_yuan, to_decimal_yuan


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

"""Capital arrivals: the refusal rule, recording with audit, labels, foreign currency."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from factories import make_deal
from sqlalchemy import func
from sqlmodel import Session, select

from crm.arrivals import arrival_refusal, parse_source, parse_use, record_arrival
from crm.errors import BadAmount, InvalidValue, NotFound, Refused
from crm.models import AuditLog, CapitalArrival

SIGNED = date(2026, 3, 1)
TERMINATED = date(2026, 5, 31)


@pytest.mark.parametrize(
    ("state", "signed_on", "terminated_on", "arrived_on", "expected"),
    [
        ("signed", SIGNED, None, date(2026, 3, 1), None),  # on the signing day
        ("started", SIGNED, None, date(2026, 9, 1), None),
        ("terminated", SIGNED, TERMINATED, date(2026, 5, 31), None),  # on the termination day
        ("terminated", SIGNED, TERMINATED, date(2026, 4, 1), None),  # before termination: still money that arrived
        ("signed", SIGNED, None, date(2026, 2, 28), "before the deal was signed on 2026-03-01"),
        ("terminated", SIGNED, TERMINATED, date(2026, 6, 1), "after the deal was terminated on 2026-05-31"),
        (None, None, None, date(2026, 6, 1), "no such deal"),
    ],
)
def test_arrival_refusal_rule(
    state: str | None, signed_on: date | None, terminated_on: date | None, arrived_on: date, expected: str | None
) -> None:
    refusal = arrival_refusal(state, signed_on, terminated_on, arrived_on)
    if expected is None:
        assert refusal is None
    else:
        assert refusal is not None and expected in refusal


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("境外", "overseas"),
        ("省外", "other_province"),
        ("市外省内", "other_city"),
        ("县际", "other_county"),
        ("other_province", "other_province"),
        (" 省外 ", "other_province"),
    ],
)
def test_source_accepts_label_or_value(text: str, value: str) -> None:
    assert parse_source(text) == value


def test_use_accepts_label_or_value() -> None:
    assert parse_use("固定资产") == "fixed_assets"
    assert parse_use("流动资金") == "working_capital"
    assert parse_use("working_capital") == "working_capital"
    with pytest.raises(InvalidValue, match=r"use: use one of 固定资产 \(fixed_assets\)"):
        parse_use("设备")


def test_record_arrival_with_audit(session: Session) -> None:
    deal = make_deal(session)
    session.commit()
    arrival = record_arrival(
        session,
        deal.id,
        on=date(2026, 4, 2),
        amount_yuan="500万",
        source="省外",
        use="固定资产",
        evidence_kind="银行进账单",
        evidence_ref="NO.123",
        verified=True,
        actor="张科长",
    )
    stored = session.get(CapitalArrival, arrival.id)
    assert stored is not None
    assert stored.arrived_yuan == 5_000_000  # 500 × 10,000
    assert (stored.source, stored.use, stored.verified, stored.currency) == (
        "other_province",
        "fixed_assets",
        True,
        "CNY",
    )
    assert stored.original_cents is None and stored.fx_rate is None
    audit = session.exec(
        select(AuditLog).where(AuditLog.entity == "capital_arrival", AuditLog.entity_id == arrival.id)
    ).all()
    fields = {row.field: row.new for row in audit}
    assert all(row.actor == "张科长" and row.action == "create" for row in audit)
    assert fields["arrived_yuan"] == "5000000"
    assert fields["source"] == "other_province"
    assert fields["evidence_ref"] == "NO.123"


def test_foreign_currency_keeps_original_and_rate(session: Session) -> None:
    deal = make_deal(session)
    session.commit()
    arrival = record_arrival(
        session,
        deal.id,
        on=date(2026, 4, 2),
        amount_yuan=None,
        source="境外",
        currency="usd",
        original_amount="1234.56",
        fx_rate="7.12345",
        actor="t",
    )
    # 1234.56 × 7.12345 = 8641.92 + 152.406432 = 8794.326432 -> 8794 yuan
    assert arrival.arrived_yuan == 8794
    assert (arrival.currency, arrival.original_cents, arrival.fx_rate) == ("USD", 123456, "7.12345")


def test_foreign_currency_rounds_half_up(session: Session) -> None:
    deal = make_deal(session)
    session.commit()
    # 2.5 × 1 = 2.5 -> 3 (half up; banker's rounding would give 2)
    arrival = record_arrival(
        session,
        deal.id,
        on=date(2026, 4, 2),
        amount_yuan=None,
        source="境外",
        currency="HKD",
        original_amount="2.50",
        fx_rate="1",
        actor="t",
    )
    assert arrival.arrived_yuan == 3
    # 100万 USD × 7.1 = 7,100,000 yuan, and a matching amount_yuan is accepted
    second = record_arrival(
        session,
        deal.id,
        on=date(2026, 4, 3),
        amount_yuan=7_100_000,
        source="境外",
        currency="USD",
        original_amount="100万",
        fx_rate="7.1",
        actor="t",
    )
    assert (second.arrived_yuan, second.original_cents) == (7_100_000, 100_000_000)


def _args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"on": date(2026, 4, 2), "amount_yuan": 1000, "source": "省外", "actor": "t"}
    args.update(overrides)
    return args


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"on": date(2026, 2, 1)}, Refused, "before the deal was signed on 2026-03-01"),
        ({"source": "外省"}, InvalidValue, r"source: use one of 境外 \(overseas\)"),
        ({"use": "设备"}, InvalidValue, "use: use one of"),
        ({"amount_yuan": "五百万"}, BadAmount, "cannot read '五百万'"),
        ({"amount_yuan": -5}, BadAmount, "cannot be negative"),
        ({"amount_yuan": None}, InvalidValue, "an amount is required"),
        ({"currency": "US"}, InvalidValue, "three-letter code"),
        ({"currency": "USD", "original_amount": "100"}, InvalidValue, "needs both the original amount and fx_rate"),
        ({"currency": "USD", "original_amount": "100", "fx_rate": "abc"}, InvalidValue, "fx_rate: not a number"),
        ({"currency": "USD", "original_amount": "100", "fx_rate": "-7"}, InvalidValue, "positive"),
        ({"currency": "USD", "original_amount": "1.234", "fx_rate": "7"}, InvalidValue, "more than two decimals"),
        (
            {"currency": "USD", "original_amount": "100", "fx_rate": "7.1", "amount_yuan": 700},
            InvalidValue,
            "disagrees with original × fx_rate = 100 × 7.1 = 710 yuan",
        ),
        ({"fx_rate": "7.1"}, InvalidValue, "for foreign currencies only"),
    ],
)
def test_record_arrival_refuses_bad_input_and_writes_nothing(
    session: Session, overrides: dict[str, Any], error: type[Exception], match: str
) -> None:
    deal = make_deal(session)
    session.commit()
    with pytest.raises(error, match=match):
        record_arrival(session, deal.id, **_args(**overrides))
    session.rollback()
    assert session.exec(select(func.count()).select_from(CapitalArrival)).one() == 0
    assert session.exec(select(func.count()).select_from(AuditLog)).one() == 0


def test_arrival_after_termination_is_refused(session: Session) -> None:
    deal = make_deal(session, state="terminated", terminated_on=date(2026, 5, 31))
    session.commit()
    record_arrival(session, deal.id, **_args(on=date(2026, 5, 31)))  # the last day still counts
    with pytest.raises(
        Refused,
        match=r"deal \d+ \(100MW光伏发电项目\): arrival on 2026-06-01 is after the deal was "
        "terminated on 2026-05-31",
    ):
        record_arrival(session, deal.id, **_args(on=date(2026, 6, 1)))
    assert session.exec(select(func.count()).select_from(CapitalArrival)).one() == 1


def test_unknown_deal_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match="no deal 999"):
        record_arrival(session, 999, **_args())


def test_commit_false_leaves_the_transaction_to_the_caller(session: Session) -> None:
    deal = make_deal(session)
    session.commit()
    record_arrival(session, deal.id, commit=False, **_args())
    session.rollback()
    assert session.exec(select(func.count()).select_from(CapitalArrival)).one() == 0

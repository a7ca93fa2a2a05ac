"""Deterministic factories for tests: fixed values, overridable, rows inserted directly.

They build rows without going through crm.deals so a test of one capability does not
depend on another's workflow; tests of the workflows call the library instead.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, select

from crm.models import Deal, DealState, Industry, Investor, Person, Region, Unit


def get_or_make_unit(session: Session, name: str = "县商务局") -> Unit:
    unit = session.exec(select(Unit).where(Unit.name == name)).first()
    if unit is None:
        unit = Unit(name=name, kind="department")
        session.add(unit)
        session.flush()
    return unit


def get_or_make_person(session: Session, name: str = "王县长", **fields: Any) -> Person:
    person = session.exec(select(Person).where(Person.name == name)).first()
    if person is None:
        person = Person(name=name, **fields)
        session.add(person)
        session.flush()
    return person


def get_or_make_investor(session: Session, name: str = "甘肃示例能源有限公司", **fields: Any) -> Investor:
    key = fields.pop("name_key", name.replace("有限公司", ""))
    investor = session.exec(select(Investor).where(Investor.name_key == key)).first()
    if investor is None:
        investor = Investor(name=name, name_key=key, **fields)
        session.add(investor)
        session.flush()
    return investor


def industry_id(session: Session, name: str = "光伏发电") -> int:
    found = session.exec(select(Industry.id).where(Industry.name == name)).one()
    assert found is not None
    return found


def region_id(session: Session, name: str = "浙江") -> int:
    found = session.exec(select(Region.id).where(Region.name == name)).one()
    assert found is not None
    return found


def make_deal(session: Session, **overrides: Any) -> Deal:
    """A deal row (state and dates as given, no transitions, no audit) with fixed defaults.

    Names may be given instead of ids: investor=, industry=, origin=, unit=, leader=,
    introducer=, credited_unit=.
    """
    investor = get_or_make_investor(session, overrides.pop("investor", "甘肃示例能源有限公司"))
    fields: dict[str, Any] = {
        "project_name": "100MW光伏发电项目",
        "investor_id": investor.id,
        "signed_on": date(2026, 3, 1),
        "contracted_yuan": 100_000_000,
        "industry_id": industry_id(session, overrides.pop("industry", "光伏发电")),
        "origin_region_id": region_id(session, overrides.pop("origin", "浙江")),
        "unit_id": get_or_make_unit(session, overrides.pop("unit", "县商务局")).id,
        "leader_id": get_or_make_person(session, overrides.pop("leader", "王县长")).id,
        "state": DealState.signed,
    }
    if "introducer" in overrides:
        fields["introducer_id"] = get_or_make_person(session, overrides.pop("introducer")).id
    if "credited_unit" in overrides:
        fields["credited_unit_id"] = get_or_make_unit(session, overrides.pop("credited_unit")).id
    fields.update(overrides)
    deal = Deal(**fields)
    session.add(deal)
    session.flush()
    return deal

"""crm.deals: investors, signing, the lifecycle, procedures, stalls, follow-ups and their audit rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from factories import make_deal
from sqlalchemy import Engine, func
from sqlmodel import Session, SQLModel, select

from crm import deals
from crm.errors import Duplicate, InvalidValue, NotFound, Refused
from crm.major.registration import record_document
from crm.models import (
    AuditLog,
    Deal,
    DealState,
    FollowUp,
    Industry,
    Investor,
    Person,
    Procedure,
    Region,
    SigningEvent,
    StallReason,
    Unit,
)

ACTOR = "张三"
SIGNED = date(2026, 3, 1)
PROJECT = "100MW光伏发电项目"

TABLES: list[type[SQLModel]] = [Deal, Investor, Unit, Person, Procedure, FollowUp, StallReason, SigningEvent]


def snapshot(engine: Engine) -> dict[str, Any]:
    """Every committed row of the tables the module writes, plus the audit count (read on its own connection)."""
    state: dict[str, Any] = {}
    with engine.connect() as connection:
        for model in TABLES:
            table = model.__table__  # type: ignore[attr-defined]
            rows = connection.execute(select(table)).all()
            state[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
        state["audit"] = connection.execute(select(func.count()).select_from(AuditLog)).scalar_one()
    return state


def audit_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(AuditLog)).one()


def sign(session: Session, **overrides: Any) -> Deal:
    fields: dict[str, Any] = {
        "actor": ACTOR,
        "project_name": PROJECT,
        "investor": "甘肃示例能源有限公司",
        "signed_on": SIGNED,
        "contracted_yuan": 100_000_000,
        "industry": "光伏发电",
        "unit": "县商务局",
        "leader": "王县长",
    }
    fields.update(overrides)
    return deals.sign(session, **fields)


def region_id(session: Session, name: str) -> int:
    found = session.exec(select(Region.id).where(Region.name == name)).one()
    assert found is not None
    return found


# ---------------------------------------------------------------- investor names


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("甘肃示例能源有限公司", "甘肃示例能源"),
        ("甘肃示例能源有限责任公司", "甘肃示例能源"),
        ("甘肃示例能源股份有限公司", "甘肃示例能源"),
        ("甘肃示例能源公司", "甘肃示例能源"),
        ("甘肃 示例 能源 有限 公司", "甘肃示例能源"),
        ("\u3000甘肃示例能源\u3000有限公司 ", "甘肃示例能源"),
        ("甘肃示例能源集团有限公司", "甘肃示例能源"),
        ("甘肃示例能源（集团）股份有限公司", "甘肃示例能源"),
        ("甘肃示例能源(集团)", "甘肃示例能源"),
        ("ＡＢＣ新能源（北京）有限公司", "abc新能源北京"),
        ("abc新能源(北京)有限公司", "abc新能源北京"),
        ("甘肃示例能源科技有限公司", "甘肃示例能源科技"),  # a different enterprise stays different
        ("公司", "公司"),  # a suffix alone is kept rather than emptied
    ],
)
def test_normalize_investor_name(name: str, key: str) -> None:
    assert deals.normalize_investor_name(name) == key


@pytest.mark.parametrize("name", ["", "   ", "（）"])
def test_normalize_investor_name_refuses_empty(name: str) -> None:
    with pytest.raises(InvalidValue, match="investor: an enterprise name is required"):
        deals.normalize_investor_name(name)


@pytest.mark.parametrize(
    ("code", "clean"),
    [
        ("91620100MA7ABCDE1X", "91620100MA7ABCDE1X"),
        ("９１６２０１００ma7abcde1x", "91620100MA7ABCDE1X"),
        (" 91620100 MA7ABCDE1X ", "91620100MA7ABCDE1X"),
        ("", None),
        (None, None),
    ],
)
def test_normalize_credit_code(code: str | None, clean: str | None) -> None:
    assert deals.normalize_credit_code(code) == clean


@pytest.mark.parametrize("code", ["123", "91620100MA7ABCDE1X0", "91620100MA7ABCDE1-"])
def test_bad_credit_code_is_refused(code: str) -> None:
    with pytest.raises(InvalidValue, match="credit_code: a credit code is 18 letters or digits"):
        deals.normalize_credit_code(code)


# ---------------------------------------------------------------- investors


def test_investor_under_another_spelling_is_reused(session: Session) -> None:
    first = deals.get_or_create_investor(session, "甘肃示例能源有限公司", actor=ACTOR)
    again = deals.get_or_create_investor(session, "甘肃 示例能源（集团）股份有限公司", actor=ACTOR)
    assert again.id == first.id
    assert again.name == "甘肃示例能源有限公司"  # the first spelling stays the display name
    assert session.exec(select(func.count()).select_from(Investor)).one() == 1


def test_resigning_under_another_spelling_reuses_the_investor(session: Session) -> None:
    a = sign(session, investor="甘肃示例能源有限公司")
    b = sign(session, investor="甘肃示例能源有限责任公司", project_name="二期", signed_on=date(2026, 5, 1))
    c = sign(session, investor="ＡＢＣ新能源（北京）有限公司", project_name="风电")
    d = sign(session, investor="abc新能源(北京)公司", project_name="储能")
    assert a.investor_id == b.investor_id
    assert c.investor_id == d.investor_id != a.investor_id
    assert session.exec(select(func.count()).select_from(Investor)).one() == 2


def test_credit_code_of_an_investor_of_another_name_is_refused(session: Session, engine: Engine) -> None:
    """A known credit code under another name is refused with both names, not silently attached."""
    deals.get_or_create_investor(session, "甘肃旧名能源有限公司", actor=ACTOR, credit_code="91620100MA7ABCDE1X")
    before = snapshot(engine)
    with pytest.raises(
        Refused,
        match=r"investor '甘肃新名能源有限公司': credit code 91620100MA7ABCDE1X belongs to "
        r"investor \d+ \(甘肃旧名能源有限公司\)",
    ):
        deals.get_or_create_investor(session, "甘肃新名能源有限公司", actor=ACTOR, credit_code="91620100ma7abcde1x")
    with pytest.raises(Refused, match="甘肃旧名能源有限公司"):
        sign(session, investor="甘肃新名能源有限公司", credit_code="91620100MA7ABCDE1X")
    assert snapshot(engine) == before
    # the same enterprise written another way still meets its code
    same = deals.get_or_create_investor(session, "甘肃旧名能源公司", actor=ACTOR, credit_code="91620100MA7ABCDE1X")
    assert same.name == "甘肃旧名能源有限公司"


def test_same_name_with_another_credit_code_is_a_duplicate(session: Session, engine: Engine) -> None:
    deals.get_or_create_investor(session, "甘肃示例能源有限公司", actor=ACTOR, credit_code="91620100MA7ABCDE1X")
    before = snapshot(engine)
    with pytest.raises(Duplicate, match="credit code 91620100MA7ZZZZZ9Y differs from 91620100MA7ABCDE1X"):
        deals.get_or_create_investor(session, "甘肃示例能源公司", actor=ACTOR, credit_code="91620100MA7ZZZZZ9Y")
    with pytest.raises(Duplicate, match="whose name is the same once normalised"):
        sign(session, investor="甘肃示例能源公司", credit_code="91620100MA7ZZZZZ9Y")
    assert snapshot(engine) == before


def test_a_found_investor_gets_its_blanks_filled_not_overwritten(session: Session) -> None:
    investor = deals.get_or_create_investor(session, "甘肃示例能源有限公司", actor=ACTOR, origin="浙江")
    before = audit_count(session)
    again = deals.get_or_create_investor(
        session, "甘肃示例能源公司", actor="李四", credit_code="91620100MA7ABCDE1X", origin="江苏", origin_city="杭州"
    )
    assert again.id == investor.id
    assert again.credit_code == "91620100MA7ABCDE1X"
    assert again.origin_region_id == region_id(session, "浙江")  # kept
    assert again.origin_city == "杭州"
    rows = _audit_since(session, before)
    assert [(r.entity, r.field, r.old, r.new, r.actor) for r in rows] == [
        ("investor", "credit_code", None, "91620100MA7ABCDE1X", "李四"),
        ("investor", "origin_city", None, "杭州", "李四"),
    ]


# ---------------------------------------------------------------- signing


def test_sign_records_the_deal_and_creates_units_and_people(session: Session) -> None:
    deal = sign(
        session,
        origin="浙江省",
        origin_city="宁波",
        introducer="赵局长",
        credited_unit="某某镇",
        signing_event="兰洽会",
        signer="县长",
        credit_code="91620100MA7ABCDE1X",
        contracted_yuan=300_000_000,
    )
    session.expire_all()
    stored = session.get(Deal, deal.id)
    assert stored is not None
    assert (stored.state, stored.signed_on, stored.contracted_yuan, stored.project_name) == (
        DealState.signed,
        SIGNED,
        300_000_000,
        PROJECT,
    )
    investor = session.get(Investor, stored.investor_id)
    assert investor is not None
    assert (investor.name, investor.name_key, investor.credit_code) == (
        "甘肃示例能源有限公司",
        "甘肃示例能源",
        "91620100MA7ABCDE1X",
    )
    assert investor.origin_region_id == stored.origin_region_id == region_id(session, "浙江")
    assert investor.origin_city == stored.origin_city == "宁波"
    names = {p.id: p.name for p in session.exec(select(Person)).all()}
    units = {u.id: u.name for u in session.exec(select(Unit)).all()}
    assert names[stored.leader_id] == "王县长" and names[stored.introducer_id] == "赵局长"  # type: ignore[index]
    assert units[stored.unit_id] == "县商务局" and units[stored.credited_unit_id] == "某某镇"  # type: ignore[index]
    industry = session.get(Industry, stored.industry_id)
    assert industry is not None and industry.name == "光伏发电"
    event = session.get(SigningEvent, stored.signing_event_id)
    assert event is not None and event.name == "兰洽会"
    assert stored.signer == "县长"


def test_sign_reuses_existing_units_and_people(session: Session) -> None:
    sign(session)
    sign(session, project_name="二期")
    assert session.exec(select(func.count()).select_from(Unit)).one() == 1
    assert session.exec(select(func.count()).select_from(Person)).one() == 1


def test_deal_takes_the_known_origin_of_its_investor(session: Session) -> None:
    deals.get_or_create_investor(session, "甘肃示例能源有限公司", actor=ACTOR, origin="江苏", origin_city="苏州")
    deal = sign(session)
    assert deal.origin_region_id == region_id(session, "江苏") and deal.origin_city == "苏州"


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"industry": "造船"}, InvalidValue, "industry 造船 — no such industry; known: 光伏发电"),
        ({"origin": "火星"}, InvalidValue, "region 火星 — no such province-level division"),
        ({"contracted_yuan": -1}, InvalidValue, "contracted_yuan: an amount cannot be negative"),
        ({"contracted_yuan": "3000万"}, InvalidValue, "contracted_yuan: expected whole yuan as an integer"),
        ({"project_name": "  "}, InvalidValue, "project_name: must not be empty"),
        ({"project_name": "x" * 201}, InvalidValue, "project_name: at most 200 characters"),
        ({"investor": ""}, InvalidValue, "investor: must not be empty"),
        ({"signed_on": "2026-03-01"}, InvalidValue, r"signed_on: expected a date"),
        ({"actor": ""}, InvalidValue, "actor: must not be empty"),
        ({"unit": "单" * 65}, InvalidValue, "unit: at most 64 characters"),
        ({"credit_code": "123"}, InvalidValue, "credit_code: a credit code is 18 letters or digits"),
        ({"increases": 999}, NotFound, "no deal 999"),
    ],
)
def test_sign_refuses_bad_input_and_writes_nothing(
    session: Session, engine: Engine, overrides: dict[str, Any], error: type[Exception], match: str
) -> None:
    before = snapshot(engine)
    with pytest.raises(error, match=match):
        sign(session, **overrides)
    assert snapshot(engine) == before
    assert not session.new and not session.dirty


def test_signing_the_same_deal_twice_is_a_duplicate(session: Session, engine: Engine) -> None:
    deal = sign(session)
    before = snapshot(engine)
    with pytest.raises(Duplicate, match=rf"deal {deal.id} \({PROJECT}\): this investor already signed this project"):
        sign(session, investor="甘肃示例能源股份有限公司")
    assert snapshot(engine) == before


def test_commit_false_leaves_the_transaction_to_the_caller(session: Session, engine: Engine) -> None:
    before = snapshot(engine)
    first = sign(session, commit=False)
    with pytest.raises(Refused):  # a refusal in a batch leaves the batch's earlier work in place
        deals.start(session, first.id, on=date(2026, 1, 1), actor=ACTOR, commit=False)  # type: ignore[arg-type]
    sign(session, project_name="二期", commit=False)
    assert snapshot(engine) == before  # nothing committed yet
    assert session.exec(select(func.count()).select_from(Deal)).one() == 2
    session.rollback()
    assert snapshot(engine) == before
    sign(session, commit=False)
    session.commit()
    assert len(snapshot(engine)["deal"]) == 1


# ---------------------------------------------------------------- capital increase


def test_capital_increase_links_the_parent_and_holds_the_increment(session: Session) -> None:
    parent = sign(session, contracted_yuan=100_000_000)
    increase = sign(
        session,
        project_name=f"{PROJECT}增资",
        signed_on=date(2026, 9, 1),
        contracted_yuan=20_000_000,
        increases=parent.id,
    )
    assert increase.increases_id == parent.id
    assert increase.contracted_yuan == 20_000_000
    assert increase.investor_id == parent.investor_id
    assert session.get(Deal, parent.id).contracted_yuan == 100_000_000  # type: ignore[union-attr]


def test_capital_increase_of_a_started_deal_is_allowed(session: Session) -> None:
    parent = sign(session)
    deals.start(session, parent.id, on=date(2026, 4, 1), actor=ACTOR)  # type: ignore[arg-type]
    increase = sign(session, project_name="增资", signed_on=date(2026, 9, 1), contracted_yuan=1, increases=parent.id)
    assert increase.increases_id == parent.id


@pytest.mark.parametrize(
    ("terminate_parent", "signed_on", "match"),
    [
        (True, date(2026, 9, 1), r"deal 1 \(100MW光伏发电项目\): a terminated deal cannot take a capital increase"),
        (
            False,
            date(2026, 2, 1),
            r"deal 1 \(100MW光伏发电项目\): a capital increase signed on 2026-02-01 cannot "
            r"precede the deal, signed on 2026-03-01",
        ),
    ],
)
def test_capital_increase_refusals(
    session: Session, engine: Engine, terminate_parent: bool, signed_on: date, match: str
) -> None:
    parent = sign(session)
    assert parent.id == 1
    if terminate_parent:
        deals.terminate(session, 1, on=date(2026, 6, 1), reason="资金链断裂", actor=ACTOR)
    before = snapshot(engine)
    with pytest.raises(Refused, match=match):
        sign(session, project_name="增资", signed_on=signed_on, contracted_yuan=1, increases=1)
    assert snapshot(engine) == before


# ---------------------------------------------------------------- lifecycle: legal paths

START, COMPLETE, TERMINATE, REASSIGN = date(2026, 4, 1), date(2027, 6, 30), date(2026, 10, 1), date(2026, 11, 1)


def _start(session: Session, deal_id: int, day: date = START) -> Deal:
    return deals.start(session, deal_id, on=day, actor=ACTOR, note="开工仪式")


def _complete(session: Session, deal_id: int, day: date = COMPLETE) -> Deal:
    return deals.complete(session, deal_id, on=day, actor=ACTOR)


def _terminate(session: Session, deal_id: int, day: date = TERMINATE) -> Deal:
    return deals.terminate(session, deal_id, on=day, reason="投资方资金链断裂", actor=ACTOR)


def _reassign(session: Session, deal_id: int, day: date = REASSIGN) -> Deal:
    return deals.reassign(session, deal_id, investor="浙江新投资方有限公司", signed_on=day, actor=ACTOR)


Step = Callable[[Session, int], Deal]


@pytest.mark.parametrize(
    ("steps", "state", "started_on", "completed_on", "terminated_on"),
    [
        ([], DealState.signed, None, None, None),
        ([_start], DealState.started, START, None, None),
        ([_start, _complete], DealState.in_production, START, COMPLETE, None),
        ([_terminate], DealState.terminated, None, None, TERMINATE),
        ([_start, _terminate], DealState.terminated, START, None, TERMINATE),
        # every transition on the signing day itself is allowed
        (
            [lambda s, i: _start(s, i, SIGNED), lambda s, i: _complete(s, i, SIGNED)],
            DealState.in_production,
            SIGNED,
            SIGNED,
            None,
        ),
        ([lambda s, i: _terminate(s, i, SIGNED)], DealState.terminated, None, None, SIGNED),
    ],
    ids=["signed", "start", "start-complete", "terminate", "start-terminate", "same-day", "terminate-same-day"],
)
def test_legal_paths(
    session: Session,
    steps: list[Step],
    state: DealState,
    started_on: date | None,
    completed_on: date | None,
    terminated_on: date | None,
) -> None:
    deal = sign(session)
    assert deal.id is not None
    for step in steps:
        step(session, deal.id)
    session.expire_all()
    stored = session.get(Deal, deal.id)
    assert stored is not None
    assert (stored.state, stored.started_on, stored.completed_on, stored.terminated_on) == (
        state,
        started_on,
        completed_on,
        terminated_on,
    )
    if terminated_on:
        assert stored.termination_reason in ("投资方资金链断裂",)


def test_terminate_then_reassign_makes_a_new_deal_that_replaces_the_old(session: Session) -> None:
    old = sign(session, introducer="赵局长", credited_unit="某某镇", signer="县长", origin="浙江")
    assert old.id is not None
    deals.set_stall(session, old.id, reason="funding", owner="李四", actor=ACTOR)
    _terminate(session, old.id)
    new = _reassign(session, old.id)
    session.expire_all()
    old_row, new_row = session.get(Deal, old.id), session.get(Deal, new.id)
    assert old_row is not None and new_row is not None
    assert old_row.state == DealState.terminated  # untouched by the reassignment
    assert (new_row.state, new_row.replaces_id, new_row.signed_on) == (DealState.signed, old.id, REASSIGN)
    for field in (
        "project_name",
        "industry_id",
        "unit_id",
        "leader_id",
        "introducer_id",
        "credited_unit_id",
        "signer",
        "follow_up_owner_id",
        "contracted_yuan",
    ):
        assert getattr(new_row, field) == getattr(old_row, field), field
    assert new_row.investor_id != old_row.investor_id
    investor = session.get(Investor, new_row.investor_id)
    assert investor is not None and investor.name == "浙江新投资方有限公司"
    assert new_row.origin_region_id is None  # the new investor's origin is unknown, not the old one's
    assert new_row.stall_reason_id is None and new_row.started_on is None


def test_reassign_with_a_new_amount_on_the_termination_day(session: Session) -> None:
    old = sign(session)
    assert old.id is not None
    _terminate(session, old.id)
    new = deals.reassign(
        session,
        old.id,
        investor="浙江新投资方有限公司",
        signed_on=TERMINATE,
        actor=ACTOR,
        contracted_yuan=80_000_000,
        credit_code="91330100MA2XYZAB3C",
        origin="浙江",
    )
    assert new.contracted_yuan == 80_000_000 and new.signed_on == TERMINATE
    investor = session.get(Investor, new.investor_id)
    assert investor is not None and investor.credit_code == "91330100MA2XYZAB3C"
    assert new.origin_region_id == investor.origin_region_id == region_id(session, "浙江")


def test_reassigned_deal_can_be_started(session: Session) -> None:
    old = sign(session)
    assert old.id is not None
    _terminate(session, old.id)
    new = _reassign(session, old.id)
    assert new.id is not None
    assert _start(session, new.id, date(2026, 12, 1)).state == DealState.started


# ---------------------------------------------------------------- lifecycle: illegal moves

DEAL = rf"deal 1 \({PROJECT}\): "


@pytest.mark.parametrize(
    ("setup", "move", "match"),
    [
        ([_terminate], _start, DEAL + "cannot start a terminated deal"),
        ([_start], _start, DEAL + r"cannot start a deal that already started \(on 2026-04-01\)"),
        ([_start, _complete], _start, DEAL + "cannot start a deal that already started"),
        (
            [],
            lambda s, i: _start(s, i, date(2026, 2, 28)),
            DEAL + "the start date 2026-02-28 is before the signing date 2026-03-01",
        ),
        ([], _complete, DEAL + "cannot complete a deal that has not started"),
        (
            [_start],
            lambda s, i: _complete(s, i, date(2026, 3, 31)),
            DEAL + "the completion date 2026-03-31 is before the start date 2026-04-01",
        ),
        ([_start, _complete], _complete, DEAL + "cannot complete a deal already in production"),
        ([_terminate], _complete, DEAL + "cannot complete a terminated deal"),
        ([_start, _terminate], _complete, DEAL + "cannot complete a terminated deal"),
        ([_terminate], _terminate, DEAL + r"cannot terminate a deal already terminated \(on 2026-10-01\)"),
        (
            [],
            lambda s, i: _terminate(s, i, date(2026, 2, 1)),
            DEAL + "the termination date 2026-02-01 is before the signing date 2026-03-01",
        ),
        (
            [_start],
            lambda s, i: _terminate(s, i, date(2026, 3, 15)),
            DEAL + "the termination date 2026-03-15 is before the start date 2026-04-01",
        ),
        ([_start, _complete], _terminate, DEAL + "cannot terminate a deal in production"),
        ([], _reassign, DEAL + r"only a terminated deal can be reassigned \(it is signed\)"),
        ([_start], _reassign, DEAL + r"only a terminated deal can be reassigned \(it is started\)"),
        (
            [_terminate, _reassign],
            lambda s, i: deals.reassign(s, i, investor="第三家公司", signed_on=REASSIGN, actor=ACTOR),
            DEAL + "already reassigned to deal 2",
        ),
        (
            [_terminate],
            lambda s, i: _reassign(s, i, date(2026, 9, 30)),
            DEAL + "the new signing date 2026-09-30 is before the termination date 2026-10-01",
        ),
        (
            [_terminate],
            lambda s, i: deals.reassign(s, i, investor="甘肃示例能源集团", signed_on=REASSIGN, actor=ACTOR),
            DEAL + "reassign to a new investor, not to 甘肃示例能源有限公司 again",
        ),
    ],
    ids=[
        "start-terminated",
        "start-started",
        "start-in-production",
        "start-before-signing",
        "complete-unstarted",
        "complete-before-start",
        "complete-twice",
        "complete-terminated",
        "complete-started-then-terminated",
        "terminate-twice",
        "terminate-before-signing",
        "terminate-before-start",
        "terminate-in-production",
        "reassign-signed",
        "reassign-started",
        "reassign-twice",
        "reassign-before-termination",
        "reassign-same-investor",
    ],
)
def test_illegal_moves_are_refused_and_change_nothing(
    session: Session, engine: Engine, setup: list[Step], move: Step, match: str
) -> None:
    deal = sign(session)
    assert deal.id == 1
    for step in setup:
        step(session, 1)
    before = snapshot(engine)
    with pytest.raises(Refused, match=match):
        move(session, 1)
    assert snapshot(engine) == before
    assert not session.new and not session.dirty


@pytest.mark.parametrize(
    "move",
    [
        lambda s: deals.start(s, 42, on=START, actor=ACTOR),
        lambda s: deals.complete(s, 42, on=START, actor=ACTOR),
        lambda s: deals.terminate(s, 42, on=START, reason="x", actor=ACTOR),
        lambda s: deals.reassign(s, 42, investor="x公司", signed_on=START, actor=ACTOR),
        lambda s: deals.set_procedure(s, 42, "land", state="done", done_on=START, actor=ACTOR),
        lambda s: deals.set_stall(s, 42, reason="funding", actor=ACTOR),
        lambda s: deals.add_follow_up(s, 42, on=START, action="x", actor=ACTOR),
        lambda s: deals.missing_procedures(s, 42),
    ],
)
def test_unknown_deal_is_not_found(session: Session, move: Callable[[Session], Any]) -> None:
    with pytest.raises(NotFound, match="no deal 42"):
        move(session)


@pytest.mark.parametrize(
    ("move", "match"),
    [
        (lambda s: deals.start(s, 1, on=None, actor=ACTOR), "on: a date is required"),
        (lambda s: deals.start(s, 1, on=START, actor=" "), "actor: must not be empty"),
        (lambda s: deals.terminate(s, 1, on=START, reason="", actor=ACTOR), "reason: must not be empty"),
        (
            lambda s: deals.reassign(s, 1, investor="x公司", signed_on=START, actor=ACTOR, contracted_yuan=-5),
            "contracted_yuan: an amount cannot be negative",
        ),
        (lambda s: deals.start(s, "1", on=START, actor=ACTOR), "deal_id: expected a deal id"),
    ],
)
def test_transitions_refuse_bad_arguments(session: Session, move: Callable[[Session], Any], match: str) -> None:
    sign(session)
    with pytest.raises(InvalidValue, match=match):
        move(session)


# ---------------------------------------------------------------- audit: one row per changed field


def _audit_since(session: Session, before: int) -> list[AuditLog]:
    return list(session.exec(select(AuditLog).order_by(AuditLog.id)).all())[before:]  # type: ignore[arg-type]


def test_audit_rows_for_sign(session: Session) -> None:
    deals.sign(
        session, actor=ACTOR, project_name="风电", investor="新投资方有限公司", signed_on=SIGNED, contracted_yuan=0
    )
    rows = _audit_since(session, 0)
    # investor: name, name_key; deal: project_name, investor_id, signed_on, contracted_yuan (0 counts), state
    assert sorted((r.entity, r.field) for r in rows) == sorted(
        [
            ("investor", "name"),
            ("investor", "name_key"),
            ("deal", "project_name"),
            ("deal", "investor_id"),
            ("deal", "signed_on"),
            ("deal", "contracted_yuan"),
            ("deal", "state"),
        ]
    )
    assert {r.actor for r in rows} == {ACTOR}
    assert {r.action for r in rows if r.entity == "deal"} == {"sign"}
    assert all(r.old is None for r in rows)


def test_audit_rows_for_a_full_signing(session: Session) -> None:
    sign(session, origin="浙江", note="兰洽会签约")
    rows = _audit_since(session, 0)
    # investor 3 (name, name_key, origin_region_id) + unit 1 (name) + person 1 (name)
    # + deal 9 (project_name, investor_id, signed_on, contracted_yuan, industry_id, origin_region_id, unit_id,
    #   leader_id, state)
    assert len(rows) == 14
    assert [r.entity for r in rows].count("deal") == 9
    assert {r.note for r in rows if r.entity == "deal"} == {"兰洽会签约"}


@pytest.mark.parametrize(
    ("setup", "write", "expected"),
    [
        (
            [],
            lambda s: deals.start(s, 1, on=START, actor="李四"),
            [("start", "state", "signed", "started"), ("start", "started_on", None, "2026-04-01")],
        ),
        (
            [_start],
            lambda s: deals.complete(s, 1, on=COMPLETE, actor="李四"),
            [("complete", "state", "started", "in_production"), ("complete", "completed_on", None, "2027-06-30")],
        ),
        (
            [],
            lambda s: deals.terminate(s, 1, on=TERMINATE, reason="撤资", actor="李四"),
            [
                ("terminate", "state", "signed", "terminated"),
                ("terminate", "terminated_on", None, "2026-10-01"),
                ("terminate", "termination_reason", None, "撤资"),
            ],
        ),
        (
            [],
            lambda s: deals.set_stall(s, 1, reason="land", owner="王县长", note="等待土地报批", actor="李四"),
            # 王县长 exists (the leader); reason, owner and note change
            [
                ("stall", "stall_reason_id", None, "2"),
                ("stall", "follow_up_owner_id", None, "1"),
                ("stall", "stall_note", None, "等待土地报批"),
            ],
        ),
        (
            [],
            lambda s: deals.assign_owner(s, 1, owner="王县长", actor="李四"),
            [("assign_owner", "follow_up_owner_id", None, "1")],
        ),
        (
            [],
            lambda s: deals.set_procedure(s, 1, "land", state="done", done_on=START, actor="李四"),
            [
                ("procedure", "deal_id", None, "1"),
                ("procedure", "kind", None, "land"),
                ("procedure", "state", None, "done"),
                ("procedure", "done_on", None, "2026-04-01"),
            ],
        ),
        (
            [lambda s, i: deals.set_procedure(s, i, "land", state="in_progress", started_on=SIGNED, actor=ACTOR)],
            lambda s: deals.set_procedure(s, 1, "用地", state="done", done_on=START, actor="李四"),
            [("procedure", "state", "in_progress", "done"), ("procedure", "done_on", None, "2026-04-01")],
        ),
        (
            [],
            lambda s: deals.add_follow_up(
                s, 1, on=START, action="电话催办", next_step="落实资金", due_on=COMPLETE, owner="王县长", actor="李四"
            ),
            [
                ("follow_up", "deal_id", None, "1"),
                ("follow_up", "on", None, "2026-04-01"),
                ("follow_up", "owner_id", None, "1"),
                ("follow_up", "action", None, "电话催办"),
                ("follow_up", "next_step", None, "落实资金"),
                ("follow_up", "due_on", None, "2027-06-30"),
            ],
        ),
        (
            [],
            lambda s: deals.add_stall_reason(s, code="power", label="电力接入未落实", actor="李四"),
            [("create", "code", None, "power"), ("create", "label", None, "电力接入未落实")],
        ),
        (
            [],
            lambda s: deals.get_or_create_investor(
                s, "甘肃示例能源公司", credit_code="91620100MA7ABCDE1X", actor="李四"
            ),
            [("update", "credit_code", None, "91620100MA7ABCDE1X")],
        ),
    ],
    ids=[
        "start",
        "complete",
        "terminate",
        "set_stall",
        "assign_owner",
        "set_procedure-new",
        "set_procedure-update",
        "add_follow_up",
        "add_stall_reason",
        "investor-fill-blank",
    ],
)
def test_every_write_audits_one_row_per_changed_field(
    session: Session, setup: list[Step], write: Callable[[Session], Any], expected: list[tuple[Any, ...]]
) -> None:
    sign(session)
    for step in setup:
        step(session, 1)
    before = audit_count(session)
    write(session)
    rows = _audit_since(session, before)
    assert [(r.action, r.field, r.old, r.new) for r in rows] == expected
    assert {r.actor for r in rows} == {"李四"}


def test_audit_rows_for_reassign(session: Session) -> None:
    sign(session)
    _terminate(session, 1)
    before = audit_count(session)
    deals.reassign(session, 1, investor="浙江新投资方有限公司", signed_on=REASSIGN, actor="李四", note="县政府协调")
    rows = _audit_since(session, before)
    # new investor: name, name_key; new deal: project_name, investor_id, signed_on, contracted_yuan, industry_id,
    # leader_id, unit_id, state, replaces_id
    assert sorted((r.entity, r.field) for r in rows) == sorted(
        [("investor", "name"), ("investor", "name_key")]
        + [
            ("deal", f)
            for f in (
                "project_name",
                "investor_id",
                "signed_on",
                "contracted_yuan",
                "industry_id",
                "leader_id",
                "unit_id",
                "state",
                "replaces_id",
            )
        ]
    )
    assert {r.note for r in rows if r.entity == "deal"} == {"县政府协调"}
    assert {(r.entity_id, r.action) for r in rows if r.entity == "deal"} == {(2, "reassign")}


def test_a_write_that_changes_nothing_audits_nothing(session: Session) -> None:
    sign(session)
    deals.set_stall(session, 1, reason="funding", owner="李四", actor=ACTOR)
    deals.set_procedure(session, 1, "land", state="done", done_on=START, actor=ACTOR)
    deals.get_or_create_investor(session, "甘肃示例能源有限公司", actor=ACTOR)
    before = audit_count(session)
    deals.set_stall(session, 1, reason="资金未落实", owner="李四", actor=ACTOR)
    deals.set_procedure(session, 1, "用地", state="done", actor=ACTOR)
    deals.assign_owner(session, 1, owner="李四", actor=ACTOR)
    deals.get_or_create_investor(session, "甘肃示例能源公司", actor=ACTOR)
    assert audit_count(session) == before


# ---------------------------------------------------------------- procedures


def test_missing_procedures_and_the_procedure_table(session: Session) -> None:
    sign(session)
    assert deals.missing_procedures(session, 1) == [
        "approval",
        "land",
        "environment",
        "planning",
        "construction_permit",
    ]
    deals.set_procedure(session, 1, "立项", state="done", done_on=date(2026, 2, 1), actor=ACTOR)  # before signing: ok
    deals.set_procedure(session, 1, "environment", state="in_progress", started_on=date(2026, 3, 5), actor=ACTOR)
    deals.set_procedure(
        session,
        1,
        "施工许可",
        state="done",
        started_on=date(2026, 3, 2),
        done_on=date(2026, 3, 20),
        actor=ACTOR,
        note="县住建局",
    )
    assert deals.missing_procedures(session, 1) == ["land", "environment", "planning"]
    table = deals.procedures(session, 1)
    assert table.to_dict("records") == [
        {
            "kind": "approval",
            "label": "立项",
            "state": "done",
            "started_on": None,
            "done_on": date(2026, 2, 1),
            "note": None,
        },
        {"kind": "land", "label": "用地", "state": "not_started", "started_on": None, "done_on": None, "note": None},
        {
            "kind": "environment",
            "label": "环评",
            "state": "in_progress",
            "started_on": date(2026, 3, 5),
            "done_on": None,
            "note": None,
        },
        {
            "kind": "planning",
            "label": "规划许可",
            "state": "not_started",
            "started_on": None,
            "done_on": None,
            "note": None,
        },
        {
            "kind": "construction_permit",
            "label": "施工许可",
            "state": "done",
            "started_on": date(2026, 3, 2),
            "done_on": date(2026, 3, 20),
            "note": "县住建局",
        },
    ]
    assert session.exec(select(func.count()).select_from(Procedure)).one() == 3  # rows only where set


def test_a_procedure_may_be_done_without_a_known_date(session: Session) -> None:
    sign(session)
    row = deals.set_procedure(session, 1, "land", state="done", actor=ACTOR)
    assert (row.state, row.started_on, row.done_on) == ("done", None, None)
    assert deals.missing_procedures(session, 1) == ["approval", "environment", "planning", "construction_permit"]


def test_procedure_dates_follow_the_state(session: Session) -> None:
    sign(session)
    deals.set_procedure(session, 1, "land", state="in_progress", started_on=date(2026, 3, 5), actor=ACTOR)
    row = deals.set_procedure(session, 1, "land", state="done", done_on=date(2026, 4, 5), actor=ACTOR)
    assert (row.started_on, row.done_on) == (date(2026, 3, 5), date(2026, 4, 5))  # the start date is kept
    row = deals.set_procedure(session, 1, "land", state="in_progress", actor=ACTOR)  # reopened
    assert (row.started_on, row.done_on) == (date(2026, 3, 5), None)
    row = deals.set_procedure(session, 1, "land", state="not_started", actor=ACTOR)
    assert (row.state, row.started_on, row.done_on) == ("not_started", None, None)
    assert session.exec(select(func.count()).select_from(Procedure)).one() == 1


@pytest.mark.parametrize(
    ("kind", "fields", "error", "match"),
    [
        ("fire", {"state": "done", "done_on": START}, InvalidValue, "kind: unknown procedure; use one of approval"),
        ("land", {"state": "finished"}, InvalidValue, "state: use one of not_started, in_progress, done"),
        (
            "land",
            {"state": "done", "started_on": START, "done_on": SIGNED},
            InvalidValue,
            "done_on: before the start date 2026-04-01",
        ),
        ("land", {"state": "not_started", "started_on": START}, InvalidValue, "a procedure not started has no dates"),
        ("land", {"state": "in_progress", "done_on": START}, InvalidValue, "a procedure in progress is not done"),
    ],
)
def test_set_procedure_refuses_bad_input(
    session: Session, engine: Engine, kind: str, fields: dict[str, Any], error: type[Exception], match: str
) -> None:
    sign(session)
    before = snapshot(engine)
    with pytest.raises(error, match=match):
        deals.set_procedure(session, 1, kind, actor=ACTOR, **fields)
    assert snapshot(engine) == before


def test_procedures_of_a_terminated_deal_are_closed(session: Session, engine: Engine) -> None:
    sign(session)
    _terminate(session, 1)
    before = snapshot(engine)
    with pytest.raises(Refused, match=DEAL + "the deal is terminated; its procedures are closed"):
        deals.set_procedure(session, 1, "land", state="done", done_on=START, actor=ACTOR)
    assert snapshot(engine) == before


# ---------------------------------------------------------------- stalls, owners, follow-ups


def test_stall_reason_by_code_or_label_and_owner(session: Session) -> None:
    sign(session)
    deal = deals.set_stall(session, 1, reason="资金未落实", owner="李四", note="银行贷款未批", actor=ACTOR)
    funding = deals.find_stall_reason(session, "funding")
    owner = session.exec(select(Person).where(Person.name == "李四")).one()
    assert (deal.stall_reason_id, deal.follow_up_owner_id, deal.stall_note) == (funding.id, owner.id, "银行贷款未批")
    deal = deals.set_stall(session, 1, reason="market", actor=ACTOR)  # owner and note kept
    assert (deal.stall_reason_id, deal.follow_up_owner_id, deal.stall_note) == (
        deals.find_stall_reason(session, "市场变化").id,
        owner.id,
        "银行贷款未批",
    )


def test_a_bureau_extends_the_stall_reasons(session: Session, engine: Engine) -> None:
    sign(session)
    added = deals.add_stall_reason(session, code="power", label="电力接入未落实", actor=ACTOR)
    assert deals.set_stall(session, 1, reason="电力接入未落实", actor=ACTOR).stall_reason_id == added.id
    before = snapshot(engine)
    with pytest.raises(Duplicate, match=r"stall reason funding \(资金未落实\) already exists"):
        deals.add_stall_reason(session, code="funding2", label="资金未落实", actor=ACTOR)
    with pytest.raises(InvalidValue, match="code: lower-case letters"):
        deals.add_stall_reason(session, code="Power Cut", label="停电", actor=ACTOR)
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("setup", "write", "error", "match"),
    [
        (
            [],
            lambda s: deals.set_stall(s, 1, reason="没钱", actor=ACTOR),
            InvalidValue,
            r"reason: unknown stall reason; known: funding \(资金未落实\), land",
        ),
        (
            [_start],
            lambda s: deals.set_stall(s, 1, reason="funding", actor=ACTOR),
            Refused,
            DEAL + r"a stall reason applies to a signed deal not yet started \(it is started\)",
        ),
        (
            [_terminate],
            lambda s: deals.set_stall(s, 1, reason="funding", actor=ACTOR),
            Refused,
            DEAL + "a stall reason applies to a signed deal not yet started",
        ),
        (
            [_terminate],
            lambda s: deals.assign_owner(s, 1, owner="李四", actor=ACTOR),
            Refused,
            DEAL + "a terminated deal gets no follow-up owner",
        ),
        (
            [],
            lambda s: deals.add_follow_up(s, 1, on=date(2026, 2, 1), action="x", actor=ACTOR),
            Refused,
            DEAL + "a follow-up on 2026-02-01 is before the signing date 2026-03-01",
        ),
        (
            [],
            lambda s: deals.add_follow_up(s, 1, on=START, action="x", due_on=SIGNED, actor=ACTOR),
            InvalidValue,
            "due_on: the next step cannot be due before the follow-up on 2026-04-01",
        ),
        (
            [],
            lambda s: deals.add_follow_up(s, 1, on=START, action=" ", actor=ACTOR),
            InvalidValue,
            "action: must not be empty",
        ),
    ],
)
def test_stall_and_follow_up_refusals_change_nothing(
    session: Session,
    engine: Engine,
    setup: list[Step],
    write: Callable[[Session], Any],
    error: type[Exception],
    match: str,
) -> None:
    sign(session)
    for step in setup:
        step(session, 1)
    before = snapshot(engine)
    with pytest.raises(error, match=match):
        write(session)
    assert snapshot(engine) == before


def test_follow_up_owner_defaults_to_the_deal_owner(session: Session) -> None:
    sign(session)
    deals.assign_owner(session, 1, owner="李四", actor=ACTOR)
    first = deals.add_follow_up(session, 1, on=START, action="上门走访", actor=ACTOR)
    second = deals.add_follow_up(session, 1, on=START, action="电话", owner="王县长", actor=ACTOR)
    people = {p.name: p.id for p in session.exec(select(Person)).all()}
    assert (first.owner_id, second.owner_id) == (people["李四"], people["王县长"])
    assert (first.next_step, first.due_on) == (None, None)


# ---------------------------------------------------------------- warning levels


@pytest.mark.parametrize(
    ("age", "level"),
    [(0, "green"), (89, "green"), (90, "yellow"), (179, "yellow"), (180, "red"), (1000, "red")],
)
def test_warning_level_boundaries(age: int, level: str) -> None:
    assert deals.warning_level(age) == level


@pytest.mark.parametrize(("age", "level"), [(29, "green"), (30, "yellow"), (59, "yellow"), (60, "red")])
def test_warning_level_thresholds_are_configurable(age: int, level: str) -> None:
    assert deals.warning_level(age, (30, 60)) == level


@pytest.mark.parametrize("thresholds", [(180, 90), (90, 90), (0, 10), ("a", 5), (1,)])
def test_warning_level_refuses_bad_thresholds(thresholds: Any) -> None:
    with pytest.raises(InvalidValue, match="thresholds"):
        deals.warning_level(10, thresholds)


# ---------------------------------------------------------------- 入库 (registered in the statistics)


def test_register_a_started_deal_once_per_change(session: Session) -> None:
    deal = make_deal(session, state="started", started_on=date(2026, 4, 1))
    session.commit()
    assert deal.id is not None
    for kind in ("approval", "construction_permit", "main_contract"):  # 入库材料, else register refuses
        record_document(session, deal.id, kind=kind, number="1", issued_on=date(2026, 4, 1), actor="张三")
    deals.register(session, deal.id, on=date(2026, 6, 30), actor="张三")
    rows = session.exec(select(AuditLog).where(AuditLog.action == "register")).all()
    assert [(r.field, r.old, r.new, r.actor) for r in rows] == [("registered_on", None, "2026-06-30", "张三")]
    deals.register(session, deal.id, on=date(2026, 6, 30), actor="张三")  # the same date changes nothing
    assert len(session.exec(select(AuditLog).where(AuditLog.action == "register")).all()) == 1


@pytest.mark.parametrize(
    ("fields", "on", "message"),
    [
        ({}, date(2026, 6, 30), "only a started deal can be registered"),
        ({"state": "started", "started_on": date(2026, 4, 1)}, date(2026, 3, 31), "before the start date"),
        (
            {"state": "terminated", "terminated_on": date(2026, 5, 1)},
            date(2026, 6, 30),
            "only a started deal can be registered",
        ),
    ],
)
def test_register_refusals_change_nothing(session: Session, fields: dict[str, Any], on: date, message: str) -> None:
    deal = make_deal(session, **fields)
    session.commit()
    assert deal.id is not None
    with pytest.raises(Refused, match=message) as info:
        deals.register(session, deal.id, on=on, actor="张三")
    assert f"deal {deal.id}" in str(info.value)
    session.expire_all()
    assert session.get(Deal, deal.id).registered_on is None  # type: ignore[union-attr]


# ---------------------------------------------------------------- a deal's history


def test_history_lists_the_deal_and_what_belongs_to_it(session: Session, db_url: str) -> None:
    from typer.testing import CliRunner

    from crm.arrivals import record_arrival
    from crm.cli import app

    deal = deals.sign(
        session,
        actor="张三",
        project_name=PROJECT,
        investor="甘肃示例能源有限公司",
        signed_on=SIGNED,
        contracted_yuan=100_000_000,
        industry="光伏发电",
    )
    other = deals.sign(
        session,
        actor="张三",
        project_name="另一个项目",
        investor="乙公司",
        signed_on=SIGNED,
        contracted_yuan=1,
    )
    assert deal.id is not None and other.id is not None
    deals.set_procedure(session, deal.id, "environment", state="done", done_on=date(2026, 3, 20), actor="李四")
    deals.add_follow_up(session, deal.id, on=date(2026, 3, 25), action="约谈投资方", actor="李四")
    deals.start(session, deal.id, on=date(2026, 4, 1), actor="王五")
    record_arrival(session, deal.id, on=date(2026, 5, 1), amount_yuan=5_000_000, source="省外", actor="王五")
    deals.start(session, other.id, on=date(2026, 4, 2), actor="赵六")

    h = deals.history(session, deal.id)
    assert set(h["entity"]) == {"deal", "procedure", "follow_up", "capital_arrival"}
    assert "赵六" not in set(h["actor"])  # the other deal's start is not this deal's history
    started = h[(h["action"] == "start") & (h["field"] == "state")]
    assert started[["old", "new", "actor"]].values.tolist() == [["signed", "started", "王五"]]
    assert list(h["at"]) == sorted(h["at"])  # oldest first

    result = CliRunner().invoke(app, ["--db", db_url, "deal", "show", str(deal.id)])
    assert result.exit_code == 0, result.output
    assert f"deal {deal.id} started (已开工): {PROJECT}" in result.output
    assert "立项、用地、规划许可、施工许可" in result.output  # environment is done, the rest is missing
    missing = CliRunner().invoke(app, ["--db", db_url, "deal", "show", "999"])
    assert missing.exit_code == 1 and "999" in missing.output

"""Corrections in the library: deals.edit and deals.correct with readable audit rows, finding deals by
name, names that must exist, voided and verified arrivals, the reference lists and merging investors."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from factories import get_or_make_investor, get_or_make_person, get_or_make_unit, make_deal
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from crm import arrivals, deals, investors, metrics, names
from crm.arrivals import record_arrival
from crm.errors import Duplicate, InvalidValue, NotFound, Refused
from crm.models import AuditLog, CapitalArrival, Deal, Investor, Unit
from crm.reference import add_reference, find_region, list_reference, rename_reference

ACTOR = "张三"
AS_OF = date(2026, 12, 31)


def audit_rows(engine: Engine, action: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        table = AuditLog.__table__  # type: ignore[attr-defined]
        query = select(table.c.entity, table.c.field, table.c.old, table.c.new, table.c.note).where(
            table.c.action == action
        )
        return [tuple(r) for r in connection.execute(query.order_by(table.c.id)).all()]


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


# ---------------------------------------------------------------- edit


def test_edit_writes_one_audit_row_per_change_with_names(session: Session, engine: Engine) -> None:
    deal = make_deal(session, contracted_yuan=59_000_000, unit="县商务局", leader="王县长")
    get_or_make_unit(session, "县发改局")
    get_or_make_person(session, "李副县长")
    session.commit()
    changed = deals.edit(
        session,
        deal.id,
        actor=ACTOR,
        note="补充协议",
        contracted_yuan=60_000_000,
        unit="县发改局",
        leader="李副县长",
        industry="装备制造",
        origin="江苏省",
        project_name="100MW光伏发电项目",  # unchanged: no row
    )
    assert changed == {
        "contracted_yuan": (59_000_000, 60_000_000),
        "unit": ("县商务局", "县发改局"),
        "leader": ("王县长", "李副县长"),
        "industry": ("光伏发电", "装备制造"),
        "origin": ("浙江", "江苏"),
    }
    assert audit_rows(engine, "edit") == [
        ("deal", "contracted_yuan", "59000000", "60000000", "补充协议"),
        ("deal", "unit", "县商务局", "县发改局", "补充协议"),
        ("deal", "leader", "王县长", "李副县长", "补充协议"),
        ("deal", "industry", "光伏发电", "装备制造", "补充协议"),
        ("deal", "origin", "浙江", "江苏", "补充协议"),
    ]
    with Session(engine) as fresh:
        stored = fresh.get(Deal, deal.id)
        assert stored is not None and stored.contracted_yuan == 60_000_000
    history = deals.history(session, deal.id)
    assert history[history["action"] == "edit"][["field", "old", "new"]].values.tolist()[1] == [
        "unit",
        "县商务局",
        "县发改局",
    ]


def test_history_shows_names_for_the_ids_a_signing_recorded(session: Session) -> None:
    get_or_make_unit(session, "县能源局")
    get_or_make_person(session, "王建国")
    session.commit()
    deal = deals.sign(
        session,
        actor=ACTOR,
        project_name="风电",
        investor="甲公司",
        signed_on=date(2026, 3, 1),
        contracted_yuan=1,
        industry="光伏发电",
        unit="县能源局",
        leader="王建国",
    )
    shown = deals.history(session, deal.id).set_index("field")["new"].to_dict()
    assert (shown["unit"], shown["leader"], shown["industry"], shown["investor"]) == (
        "县能源局",
        "王建国",
        "光伏发电",
        "甲公司",
    )


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"unit": "县商务"}, InvalidValue, "unit 县商务 — no such unit; did you mean 县商务局?"),
        ({"leader": "王局长"}, InvalidValue, "leader 王局长 — no such person; did you mean 王县长?"),
        ({"industry": "光伏"}, InvalidValue, "industry 光伏 — no such industry; did you mean 光伏发电"),
        ({"contracted_yuan": -1}, InvalidValue, "an amount cannot be negative"),
        ({"state": "started"}, InvalidValue, "cannot be edited"),
        ({"project_name": "二期"}, Duplicate, "already signed 二期 on 2026-03-01"),
    ],
)
def test_edit_refuses_and_changes_nothing(
    session: Session, engine: Engine, changes: dict[str, Any], error: type[Exception], match: str
) -> None:
    deal = make_deal(session)
    make_deal(session, project_name="二期")
    session.commit()
    before = count(engine, AuditLog), count(engine, Unit)
    with pytest.raises(error, match=match):
        deals.edit(session, deal.id, actor=ACTOR, **changes)
    assert (count(engine, AuditLog), count(engine, Unit)) == before


def test_edit_creates_names_only_when_asked(session: Session, engine: Engine) -> None:
    deal = make_deal(session)
    session.commit()
    assert deals.edit(session, deal.id, actor=ACTOR, unit="县新区管委会", new_names=True) == {
        "unit": ("县商务局", "县新区管委会")
    }
    assert count(engine, Unit) == 2


# ---------------------------------------------------------------- correct


def test_correct_a_start_date_keeps_the_lifecycle_order(session: Session, engine: Engine) -> None:
    deal = make_deal(session, state="started", started_on=date(2026, 4, 1))
    session.commit()
    with pytest.raises(Refused, match="the start date 2026-02-01 is before the signing date 2026-03-01"):
        deals.correct(session, deal.id, actor=ACTOR, started_on=date(2026, 2, 1))
    with pytest.raises(Refused, match="has no completed_on to correct"):
        deals.correct(session, deal.id, actor=ACTOR, completed_on=date(2026, 9, 1))
    assert deals.correct(session, deal.id, actor=ACTOR, started_on=date(2026, 4, 5), note="以施工许可为准") == {
        "started_on": (date(2026, 4, 1), date(2026, 4, 5))
    }
    assert audit_rows(engine, "correct") == [("deal", "started_on", "2026-04-01", "2026-04-05", "以施工许可为准")]


def test_correct_refuses_a_termination_after_the_replacement(session: Session) -> None:
    old = make_deal(session, state="terminated", terminated_on=date(2026, 6, 1))
    make_deal(session, investor="乙公司", signed_on=date(2026, 7, 1), replaces_id=old.id)
    session.commit()
    with pytest.raises(Refused, match="replaced it on 2026-07-01, before the corrected termination date 2026-08-01"):
        deals.correct(session, old.id, actor=ACTOR, terminated_on=date(2026, 8, 1))


# ---------------------------------------------------------------- finding deals


def test_find_deal_by_id_or_unique_part_of_its_name(session: Session) -> None:
    a = make_deal(session, project_name="100MW光伏发电项目")
    b = make_deal(session, project_name="100MW光伏发电项目二期")
    c = make_deal(session, project_name="装备制造产业园")
    session.commit()
    assert deals.find_deal(session, str(c.id)).id == c.id
    assert deals.find_deal(session, "装备").id == c.id
    assert deals.find_deal(session, "100MW光伏发电项目").id == a.id  # exact name among several
    assert deals.find_deal(session, "二期").id == b.id
    with pytest.raises(deals.Ambiguous, match=r"'光伏' names 2 deals; give the id:\n  deal \d+: 100MW光伏发电项目 "):
        deals.find_deal(session, "光伏")
    with pytest.raises(NotFound, match="did you mean 装备制造产业园"):
        deals.find_deal(session, "装配制造产业园")


def test_list_deals_filters(session: Session) -> None:
    make_deal(session, project_name="光伏一期", contracted_yuan=50_000_000)
    make_deal(
        session, project_name="光伏二期", contracted_yuan=150_000_000, state="started", started_on=date(2026, 4, 1)
    )
    make_deal(session, project_name="商贸中心", contracted_yuan=200_000_000, industry="商贸流通", unit="县发改局")
    session.commit()
    assert deals.list_deals(session, search="光伏")["project_name"].tolist() == ["光伏一期", "光伏二期"]
    assert deals.list_deals(session, search="甘肃示例")["project_name"].tolist() == ["光伏一期", "光伏二期", "商贸中心"]
    assert deals.list_deals(session, state="已签约", min_amount_yuan=100_000_000)["project_name"].tolist() == [
        "商贸中心"
    ]
    assert deals.list_deals(session, unit="县商务局", industry="光伏发电")["contracted_yuan"].tolist() == [
        50_000_000,
        150_000_000,
    ]
    with pytest.raises(InvalidValue, match="unit 县发改 — no such unit; did you mean 县发改局"):
        deals.list_deals(session, unit="县发改")


# ---------------------------------------------------------------- names must exist


def test_names_resolve_folded_spellings_and_suggest_the_closest(session: Session) -> None:
    get_or_make_unit(session, "县商务局")
    session.commit()
    assert names.check(session, "unit", " 县商务局 ") == "县商务局"
    assert names.check(session, "origin", "广西壮族自治区") == "广西"
    assert names.check(session, "industry", "光伏发电") == "光伏发电"
    assert names.scope(session, "county") == "county"
    with pytest.raises(names.UnknownName, match=r"scope 县商务 — no such scope .*did you mean 县商务局"):
        names.scope(session, "县商务")
    with pytest.raises(names.UnknownName) as caught:
        names.resolve(session, "credited_unit", "县商务")
    assert caught.value.suggestions == ["县商务局"]


def test_figure_filters_refuse_unknown_names_instead_of_zeros(session: Session) -> None:
    make_deal(session)
    session.commit()
    assert metrics.kpis(session, as_of=AS_OF, unit="县商务局")["signed"].tolist() == [1]
    for field, typo, hint in [
        ("unit", "县商务", "县商务局"),
        ("industry", "光伏", "光伏发电"),
        ("leader", "王局长", "王县长"),
    ]:
        with pytest.raises(names.UnknownName, match=f"did you mean {hint}"):
            metrics.kpis(session, as_of=AS_OF, **{field: typo})
    with pytest.raises(names.UnknownName, match="scope 县商务"):
        metrics.target_progress(session, as_of=AS_OF, scope="县商务")
    with pytest.raises(names.UnknownName, match="unit 县商务"):
        deals.unstarted(session, as_of=AS_OF, unit="县商务")


# ---------------------------------------------------------------- arrivals


def test_a_voided_arrival_stays_but_leaves_every_figure(session: Session, engine: Engine) -> None:
    deal = make_deal(session, contracted_yuan=100_000_000)
    session.commit()
    kept = record_arrival(session, deal.id, on=date(2026, 5, 1), amount_yuan=5_000_000, source="省外", actor=ACTOR)
    twice = record_arrival(session, deal.id, on=date(2026, 5, 1), amount_yuan=5_000_000, source="省外", actor=ACTOR)
    assert metrics.kpis(session, as_of=AS_OF)["arrived_yuan"].tolist() == [10_000_000]
    arrivals.void(session, twice.id, reason="重复录入", actor="李四", on=date(2026, 5, 3))
    # 5,000,000 of 100,000,000 contracted: 0.05
    row = metrics.kpis(session, as_of=AS_OF).iloc[0]
    assert (row["arrived_yuan"], row["capital_arrival_rate"]) == (5_000_000, 0.05)
    assert metrics.arrivals_by_month(session, year=2026)["arrived_yuan"].tolist()[4] == 5_000_000
    assert count(engine, CapitalArrival) == 2  # the row stays
    assert arrivals.list_arrivals(session)["arrival_id"].tolist() == [kept.id]
    assert arrivals.list_arrivals(session, voided=True)[["arrival_id", "void_reason"]].values.tolist() == [
        [twice.id, "重复录入"]
    ]
    history = deals.history(session, deal.id)
    assert history[history["action"] == "void"][["field", "new"]].values.tolist() == [
        ["voided_on", "2026-05-03"],
        ["void_reason", "重复录入"],
        ["voided_by", "李四"],
    ]
    with pytest.raises(Refused, match="already voided on 2026-05-03"):
        arrivals.void(session, twice.id, reason="again", actor=ACTOR)
    with pytest.raises(Refused, match=r"voided on 2026-05-03 .*cannot be verified"):
        arrivals.verify(session, [kept.id, twice.id], actor=ACTOR)
    assert arrivals.list_arrivals(session, verified=True).empty  # all or nothing: kept not verified either


def test_verify_marks_reported_money_verified_with_evidence(session: Session) -> None:
    deal = make_deal(session)
    get_or_make_unit(session, "县发改局")
    other = make_deal(session, project_name="商贸中心", unit="县发改局")
    session.commit()
    a = record_arrival(session, deal.id, on=date(2026, 5, 1), amount_yuan=3_000_000, source="省外", actor=ACTOR)
    record_arrival(session, other.id, on=date(2026, 6, 1), amount_yuan=7_000_000, source="境外", actor=ACTOR)
    arrivals.verify(
        session, [a.id], actor="李四", on=date(2026, 5, 10), evidence_kind="银行进账单", evidence_ref="NO.1"
    )
    verified = arrivals.list_arrivals(session, verified=True)
    assert verified[["arrival_id", "verified_on", "evidence_kind", "evidence_ref"]].values.tolist() == [
        [a.id, date(2026, 5, 10), "银行进账单", "NO.1"]
    ]
    assert arrivals.list_arrivals(session, verified=False)["source"].tolist() == ["境外"]
    assert arrivals.list_arrivals(session, unit="县发改局", start=date(2026, 6, 1))["arrived_yuan"].tolist() == [
        7_000_000
    ]
    assert arrivals.list_arrivals(session, deal_id=deal.id, end=date(2026, 4, 30)).empty
    with pytest.raises(Refused, match="already verified on 2026-05-10"):
        arrivals.verify(session, [a.id], actor=ACTOR)


# ---------------------------------------------------------------- reference lists


def test_reference_lists_add_and_rename_with_audit(session: Session, engine: Engine) -> None:
    add_reference(session, "industries", "新型储能", actor=ACTOR, category="新能源")
    assert names.check(session, "industry", "新型储能") == "新型储能"
    with pytest.raises(Duplicate, match="industry 新型储能 already exists"):
        add_reference(session, "industry", "新型储能", actor=ACTOR)
    add_reference(session, "unit", "县商务局", actor=ACTOR)
    deal = make_deal(session)
    session.commit()
    rename_reference(session, "units", "县商务局", "县商务和经济合作局", actor=ACTOR)
    assert deals.list_deals(session, unit="县商务和经济合作局")["deal_id"].tolist() == [deal.id]
    assert ("unit", "name", "县商务局", "县商务和经济合作局", None) in audit_rows(engine, "rename")
    add_reference(session, "stall-reasons", "手续办理滞后", actor=ACTOR)
    assert list_reference(session, "stall_reason")["name"].tolist()[-1] == "手续办理滞后"
    add_reference(session, "region-alias", "内蒙", actor=ACTOR, region="内蒙古自治区")
    assert find_region(session, "内蒙").name == "内蒙古"
    regions = list_reference(session, "regions").set_index("name")
    assert regions.loc["内蒙古", "aliases"] == "内蒙"
    with pytest.raises(InvalidValue, match="kind: use one of"):
        list_reference(session, "planets")


# ---------------------------------------------------------------- investors


def test_investor_duplicates_and_merge(session: Session, engine: Engine) -> None:
    a = get_or_make_investor(session, "甘肃示例能源有限公司", credit_code="91620100MA7ABCDE1X")
    b = get_or_make_investor(session, "示例能源（甘肃）有限公司")  # the province written after the name
    c = get_or_make_investor(session, "甘肃示列能源有限公司")  # one character off: 2 × 5 / 12 = 0.83
    other = get_or_make_investor(session, "浙江新投资方有限公司")
    d1 = make_deal(session, investor="示例能源（甘肃）有限公司", project_name="二期")
    d2 = make_deal(session, investor="甘肃示列能源有限公司", project_name="三期")
    session.commit()
    found = investors.duplicates(session)
    assert found[["group", "investor_id", "reason"]].values.tolist() == [
        [1, a.id, "same name once normalised"],
        [1, b.id, "same name once normalised"],
        [1, c.id, "similar name (0.83)"],
    ]
    assert found["deals"].tolist() == [0, 1, 1]
    assert other.id not in found["investor_id"].tolist()

    investors.merge(session, a.id, [b.id, c.id], actor=ACTOR)
    with Session(engine) as fresh:
        moved = [fresh.get(Deal, d1.id), fresh.get(Deal, d2.id)]
        assert [d.investor_id for d in moved if d is not None] == [a.id, a.id]
        assert fresh.get(Investor, b.id) is None and fresh.get(Investor, c.id) is None
    assert [r for r in audit_rows(engine, "merge") if r[1] == "investor"] == [
        ("deal", "investor", "示例能源（甘肃）有限公司", "甘肃示例能源有限公司", None),
        ("deal", "investor", "甘肃示列能源有限公司", "甘肃示例能源有限公司", None),
    ]
    assert investors.duplicates(session).empty


def test_merge_refuses_different_credit_codes_and_repeated_deals(session: Session, engine: Engine) -> None:
    a = get_or_make_investor(session, "甲公司", credit_code="91620100MA7ABCDE1X")
    b = get_or_make_investor(session, "甲集团", credit_code="91620100MA7ZZZZZ9Y")
    c = get_or_make_investor(session, "甲有限")
    make_deal(session, investor="甲公司")
    make_deal(session, investor="甲有限")  # same project, same day
    session.commit()
    before = count(engine, AuditLog)
    with pytest.raises(Refused, match="different credit codes"):
        investors.merge(session, a.id, [b.id], actor=ACTOR)
    with pytest.raises(Duplicate, match="repeats deal"):
        investors.merge(session, a.id, [c.id], actor=ACTOR)
    assert count(engine, AuditLog) == before and count(engine, Investor) == 3

"""Promotion trips: squads, the June–October campaign plan and its checks, visits, leads, figures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from crm import trips
from crm.errors import Duplicate, InvalidValue, NotFound, Refused
from crm.models import AuditLog, CampaignMonth, CapitalArrival, Deal, Lead, Person, Squad, Trip, Visit
from crm.reference import find_region
from tests.factories import get_or_make_person, get_or_make_unit

ACTOR = "tester"
LEADERS = ["王县长", "李副县长", "张副县长", "赵部长", "刘主任"]
SQUADS = ["第一小分队", "第二小分队", "第三小分队", "第四小分队", "第五小分队"]
MEMBERS = ["招商干部甲", "招商干部乙", "招商干部丙", "招商干部丁", "招商干部戊"]

# The campaign of the issue: June–October, provinces and industries per month.
JUNE_INDUSTRIES = ["光伏发电", "装备制造", "商贸流通", "文化旅游"]
PLAN: dict[str, tuple[list[str], list[str]]] = {
    "2026-06": (["北京", "天津", "河北"], JUNE_INDUSTRIES),
    "2026-07": (["上海", "浙江", "江苏", "安徽"], JUNE_INDUSTRIES),
    "2026-08": (["陕西", "山西", "重庆", "四川"], JUNE_INDUSTRIES),
    "2026-09": (["广东", "福建", "江西"], ["新能源开发", "光伏发电", "装备制造"]),
    "2026-10": (["山东", "辽宁", "吉林"], ["光伏发电", "现代农业", "商贸流通", "文化旅游"]),
}


def month(text: str) -> date:
    return date.fromisoformat(text + "-01")


def make_squads(session: Session) -> None:
    """Five squads, each led by a county leader made by the test factories."""
    unit = get_or_make_unit(session, "县商务局")
    for leader in LEADERS:
        get_or_make_person(session, leader, title="县领导")
    session.commit()
    for name, leader, member in zip(SQUADS, LEADERS, MEMBERS, strict=True):
        trips.create_squad(session, name=name, leader=leader, members=[member], unit=unit.name, actor=ACTOR)


def trip_specs() -> list[dict[str, Any]]:
    """One trip per squad per month: squad i goes to province i and industry i of the month (cycling),
    10th–14th of the month, with one planned visit. Every planned province is visited."""
    specs = []
    for text, (regions, industries) in PLAN.items():
        m = month(text)
        for i, squad in enumerate(SQUADS):
            region = regions[i % len(regions)]
            specs.append(
                {
                    "squad": squad,
                    "month": m,
                    "destinations": [(region, "海淀区")] if (text, i) == ("2026-06", 0) else [region],
                    "industries": [industries[i % len(industries)]],
                    "starts_on": m.replace(day=10),
                    "ends_on": m.replace(day=14),
                    "budget_yuan": 50_000,
                    "visits": [
                        {
                            "counterpart": f"{region}某{industries[i % len(industries)]}企业",
                            "counterpart_kind": "企业",
                            "contact": "王经理",
                            "purpose": "项目推介",
                        }
                    ],
                }
            )
    return specs


def build_campaign(session: Session, change: Callable[[list[dict[str, Any]]], None] | None = None) -> None:
    """The June–October plan for five squads; `change` plants a conflict into the trip specs."""
    make_squads(session)
    trips.plan_month(session, month="2026-06", regions=PLAN["2026-06"][0], industries=JUNE_INDUSTRIES, actor=ACTOR)
    # July and August start as copies of June, then get their own provinces
    trips.copy_plan(session, from_month="2026-06", to_months=["2026-07", "2026-08"], actor=ACTOR)
    for text, (regions, industries) in PLAN.items():
        if text != "2026-06":
            trips.plan_month(session, month=text, regions=regions, industries=industries, actor=ACTOR)
    specs = trip_specs()
    if change is not None:
        change(specs)
    for spec in specs:
        trips.plan_trip(session, actor=ACTOR, **spec)


def spec_of(specs: list[dict[str, Any]], squad: str, text: str) -> dict[str, Any]:
    return next(s for s in specs if s["squad"] == squad and s["month"] == month(text))


# ---------------------------------------------------------------- the plan and its checks


def test_clean_campaign_has_no_findings(session: Session) -> None:
    build_campaign(session)
    assert trips.check_plan(session) == []
    assert session.exec(select(func.count()).select_from(Trip)).one() == 25
    assert trips.plan_of(session, month="2026-07") == (["上海", "江苏", "浙江", "安徽"], JUNE_INDUSTRIES)
    assert trips.plan_of(session, month="2026-09") == (["福建", "江西", "广东"], ["光伏发电", "新能源开发", "装备制造"])


def _drop(squad: str, text: str) -> Callable[[list[dict[str, Any]]], None]:
    def change(specs: list[dict[str, Any]]) -> None:
        specs.remove(spec_of(specs, squad, text))

    return change


def _second_trip(specs: list[dict[str, Any]]) -> None:
    extra = dict(spec_of(specs, "第一小分队", "2026-06"))
    extra.update(destinations=["北京"], starts_on=date(2026, 6, 20), ends_on=date(2026, 6, 22), visits=[])
    specs.append(extra)


def _double_book(specs: list[dict[str, Any]]) -> None:
    # 王县长 (squad 1 leader, June 10–14) also travels with squad 2, June 12–16
    spec = spec_of(specs, "第二小分队", "2026-06")
    spec.update(members=["李副县长", "招商干部乙", "王县长"], starts_on=date(2026, 6, 12), ends_on=date(2026, 6, 16))


def _outside_destination(specs: list[dict[str, Any]]) -> None:
    spec_of(specs, "第三小分队", "2026-06")["destinations"].append("上海市")


def _outside_industry(specs: list[dict[str, Any]]) -> None:
    spec_of(specs, "第三小分队", "2026-06")["industries"].append("现代农业")


def _unvisited(specs: list[dict[str, Any]]) -> None:
    spec_of(specs, "第三小分队", "2026-06")["destinations"] = ["北京"]  # nobody goes to 河北 any more


def _no_counterpart(specs: list[dict[str, Any]]) -> None:
    spec_of(specs, "第四小分队", "2026-09")["visits"].append({"counterpart": "  ", "purpose": "待定"})


PLANTED = [
    # (kind, change, month, squad, words in the detail)
    ("squad_without_trip", _drop("第五小分队", "2026-07"), "2026-07", "第五小分队", ["第五小分队"]),
    ("squad_two_trips", _second_trip, "2026-06", "第一小分队", ["2 次行程"]),
    ("person_double_booked", _double_book, "2026-06", "第二小分队", ["王县长", "2026-06-12", "2026-06-14"]),
    ("destination_outside_plan", _outside_destination, "2026-06", "第三小分队", ["上海"]),
    ("industry_outside_plan", _outside_industry, "2026-06", "第三小分队", ["现代农业"]),
    ("region_unvisited", _unvisited, "2026-06", None, ["河北"]),
    ("visit_without_counterpart", _no_counterpart, "2026-09", "第四小分队", ["拜访"]),
]


def test_every_kind_of_finding_is_planted_once() -> None:
    assert sorted(p[0] for p in PLANTED) == sorted(trips.FINDING_KINDS)


@pytest.mark.parametrize(("kind", "change", "when", "squad", "words"), PLANTED, ids=[p[0] for p in PLANTED])
def test_each_planted_conflict_is_found_and_named(
    session: Session,
    kind: str,
    change: Callable[[list[dict[str, Any]]], None],
    when: str,
    squad: str | None,
    words: list[str],
) -> None:
    build_campaign(session, change)
    findings = trips.check_plan(session)
    assert [f.kind for f in findings] == [kind], findings
    finding = findings[0]
    assert finding.month == month(when)
    assert finding.squad == squad
    for word in words:
        assert word in finding.detail
    assert kind in str(finding)
    if squad is not None and kind != "squad_without_trip":
        trip = session.get(Trip, finding.trip_id)
        assert trip is not None and trip.month == month(when)
    # limited to other months, the plan is clean
    other = "2026-10" if when != "2026-10" else "2026-06"
    assert trips.check_plan(session, months=[other]) == []
    assert trips.check_plan(session, months=when) == findings


def test_trips_that_touch_on_one_day_overlap_and_back_to_back_trips_do_not(session: Session) -> None:
    make_squads(session)
    trips.plan_month(session, month="2026-06", regions=["北京"], industries=["光伏发电"], actor=ACTOR)
    common = {"month": "2026-06", "destinations": ["北京"], "industries": ["光伏发电"]}
    trips.plan_trip(
        session, squad="第一小分队", starts_on=date(2026, 6, 10), ends_on=date(2026, 6, 14), actor=ACTOR, **common
    )
    later = trips.plan_trip(
        session,
        squad="第二小分队",
        starts_on=date(2026, 6, 15),
        ends_on=date(2026, 6, 18),
        members=["李副县长", "王县长"],
        actor=ACTOR,
        **common,
    )
    kinds = {f.kind for f in trips.check_plan(session, months="2026-06")}
    assert "person_double_booked" not in kinds
    later.starts_on = date(2026, 6, 14)
    session.add(later)
    session.commit()
    booked = [f for f in trips.check_plan(session, months="2026-06") if f.kind == "person_double_booked"]
    assert len(booked) == 1 and "王县长" in booked[0].detail and booked[0].trip_id == later.id


def test_month_without_plan_puts_every_destination_outside_plan(session: Session) -> None:
    make_squads(session)
    trips.plan_trip(
        session, squad="第一小分队", month="2026-11", destinations=["海南"], industries=["文化旅游"], actor=ACTOR
    )
    kinds = [f.kind for f in trips.check_plan(session, months="2026-11")]
    assert kinds.count("squad_without_trip") == 4
    assert "destination_outside_plan" in kinds and "industry_outside_plan" in kinds
    assert trips.check_plan(session, months="2026-12") == []  # neither planned nor travelled: nothing to check


def test_plan_trip_defaults_members_to_the_squad_and_audits(session: Session) -> None:
    make_squads(session)
    trip = trips.plan_trip(
        session,
        squad="第一小分队",
        month="2026-06",
        destinations=[("北京市", "海淀区"), "天津"],
        industries="光伏发电、装备制造",
        budget_yuan="5万",
        actor=ACTOR,
    )
    table = trips.trips_in_month(session, month="2026-06")
    row = table.iloc[0]
    assert row["trip_id"] == trip.id and row["members"] == "王县长、招商干部甲"
    assert row["destinations"] == "北京(海淀区)、天津" and row["industries"] == "光伏发电、装备制造"
    assert row["budget_yuan"] == 50_000
    audited = session.exec(
        select(AuditLog.field).where(AuditLog.entity == "trip", AuditLog.entity_id == trip.id, AuditLog.actor == ACTOR)
    ).all()
    assert {"squad_id", "month", "budget_yuan", "destinations", "industries", "members"} <= set(audited)


def test_copy_plan_with_trips_moves_dates_and_refuses_a_planned_month(session: Session) -> None:
    build_campaign(session)
    trips.copy_plan(session, from_month="2026-06", to_months=["2026-11"], with_trips=True, actor=ACTOR)
    assert trips.plan_of(session, month="2026-11") == (["北京", "天津", "河北"], JUNE_INDUSTRIES)
    copied = trips.trips_in_month(session, month="2026-11")
    assert len(copied) == 5
    assert set(copied["starts_on"]) == {date(2026, 11, 10)} and set(copied["ends_on"]) == {date(2026, 11, 14)}
    assert copied.iloc[0]["destinations"] == "北京(海淀区)"
    assert trips.check_plan(session, months="2026-11") == []
    with pytest.raises(Duplicate, match="2026-07 already has a plan"):
        trips.copy_plan(session, from_month="2026-06", to_months=["2026-12", "2026-07"], actor=ACTOR)
    assert trips.plan_of(session, month="2026-12") is None


def test_plan_month_again_replaces_the_lists_and_audits_old_and_new(session: Session) -> None:
    trips.plan_month(session, month="2026-06", regions="北京,天津", industries=["光伏发电"], actor=ACTOR)
    trips.plan_month(session, month=date(2026, 6, 15), regions=["河北省"], industries=["装备制造"], actor="other")
    assert trips.plan_of(session, month="2026年6月") == (["河北"], ["装备制造"])
    row = session.exec(select(AuditLog).where(AuditLog.field == "regions", AuditLog.actor == "other")).one()
    assert (row.old, row.new) == ("北京、天津", "河北")
    assert session.exec(select(func.count()).select_from(CampaignMonth)).one() == 1


def _count(session: Session, model: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda s: trips.plan_month(s, month="2026-13", regions=["北京"], industries=["光伏发电"], actor=ACTOR),
            InvalidValue,
            "month: not a month",
        ),
        (
            lambda s: trips.plan_month(s, month="2026-06", regions=["火星"], industries=["光伏发电"], actor=ACTOR),
            InvalidValue,
            "region 火星 — no such province-level division",
        ),
        (
            lambda s: trips.plan_month(s, month="2026-06", regions=["北京"], industries=["挖矿"], actor=ACTOR),
            InvalidValue,
            "industry 挖矿 — no such industry",
        ),
        (
            lambda s: trips.plan_month(s, month="2026-06", regions=[], industries=["光伏发电"], actor=ACTOR),
            InvalidValue,
            "at least one destination",
        ),
        (
            lambda s: trips.plan_trip(s, squad="第九小分队", month="2026-06", destinations=["北京"], actor=ACTOR),
            NotFound,
            "no squad '第九小分队'",
        ),
        (
            lambda s: trips.plan_trip(
                s, squad="第一小分队", month="2026-06", destinations=["北京"], starts_on=date(2026, 7, 1), actor=ACTOR
            ),
            InvalidValue,
            "must start in that month",
        ),
        (
            lambda s: trips.plan_trip(
                s,
                squad="第一小分队",
                month="2026-06",
                destinations=["北京"],
                starts_on=date(2026, 6, 10),
                ends_on=date(2026, 6, 9),
                actor=ACTOR,
            ),
            InvalidValue,
            "ends before it starts",
        ),
        (
            lambda s: trips.plan_trip(s, squad="第一小分队", month="2026-06", destinations=[], actor=ACTOR),
            InvalidValue,
            "at least one destination",
        ),
        (
            lambda s: trips.plan_trip(
                s, squad="第一小分队", month="2026-06", destinations=["北京"], budget_yuan="五万", actor=ACTOR
            ),
            InvalidValue,
            "budget_yuan: cannot read",
        ),
        (
            lambda s: trips.plan_trip(
                s,
                squad="第一小分队",
                month="2026-06",
                destinations=["北京"],
                members=["新来的人"],
                visits=[{"company": "x"}],
                actor=ACTOR,
            ),
            InvalidValue,
            r"visits\[0\]: unknown keys",
        ),
        (
            lambda s: trips.plan_trip(
                s,
                squad="第一小分队",
                month="2026-06",
                destinations=["北京"],
                visits=[{"counterpart": "x", "counterpart_kind": "政府"}],
                actor=ACTOR,
            ),
            InvalidValue,
            "counterpart_kind: not a kind",
        ),
        (
            lambda s: trips.create_squad(s, name="第一小分队", leader="某人", actor=ACTOR),
            Duplicate,
            "squad '第一小分队' already exists",
        ),
        (
            lambda s: trips.copy_plan(s, from_month="2026-05", to_months=["2026-06"], actor=ACTOR),
            NotFound,
            "no campaign month '2026-05'",
        ),
    ],
    ids=[
        "bad-month",
        "bad-region",
        "bad-industry",
        "no-region",
        "no-squad",
        "start-outside-month",
        "ends-first",
        "no-destination",
        "bad-budget",
        "bad-visit-key",
        "bad-kind",
        "duplicate-squad",
        "no-template",
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    session: Session, call: Callable[[Session], Any], error: type[Exception], match: str
) -> None:
    make_squads(session)
    before = [_count(session, m) for m in (Trip, CampaignMonth, Person, Squad, Visit, AuditLog)]
    with pytest.raises(error, match=match):
        call(session)
    session.rollback()
    assert [_count(session, m) for m in (Trip, CampaignMonth, Person, Squad, Visit, AuditLog)] == before


# ---------------------------------------------------------------- figures of the plan


def test_itinerary_is_month_by_squad(session: Session) -> None:
    build_campaign(session)
    table = trips.itinerary(session, year=2026)
    assert list(table.columns) == ["month", "plan", *SQUADS]
    assert list(table["month"]) == [month(m) for m in PLAN]
    june = table.iloc[0]
    assert june["plan"] == "北京、天津、河北 / 光伏发电、装备制造、商贸流通、文化旅游"
    assert june["第一小分队"] == "北京(海淀区) / 光伏发电"
    assert june["第五小分队"] == "天津 / 光伏发电"  # squad index 4: province 4 % 3 = 天津, industry 4 % 4 = 光伏发电
    assert table.iloc[4]["第三小分队"] == "吉林 / 商贸流通"
    assert trips.itinerary(session, year=2025).empty


def test_coverage_counts_planned_and_visited_cells(session: Session) -> None:
    build_campaign(session)
    cover = trips.coverage(session, year=2026)
    assert list(cover.columns) == ["month", "region", "industry", "planned", "trips", "visits", "visited"]
    # planned cells: 3×4 + 4×4 + 4×4 + 3×3 + 3×4
    assert int(cover["planned"].sum()) == 65 and len(cover) == 65
    june = cover[cover["month"] == month("2026-06")]
    visited = set(map(tuple, june[june["visited"]][["region", "industry"]].values.tolist()))
    assert visited == {
        ("北京", "光伏发电"),
        ("天津", "装备制造"),
        ("河北", "商贸流通"),
        ("北京", "文化旅游"),
        ("天津", "光伏发电"),
    }
    assert int(june["trips"].sum()) == 5 and int(june["visits"].sum()) == 0
    first = trips.trips_in_month(session, month="2026-06").iloc[0]
    visit = session.exec(select(Visit).where(Visit.trip_id == int(first["trip_id"]))).one()
    trips.record_visit(session, visit_id=visit.id, visited_on=date(2026, 6, 11), actor=ACTOR)
    cover = trips.coverage(session, year=2026)
    cell = cover[(cover["month"] == month("2026-06")) & (cover["region"] == "北京") & (cover["industry"] == "光伏发电")]
    assert cell[["trips", "visits"]].values.tolist() == [[1, 1]]


def test_an_unplanned_trip_shows_in_coverage_as_not_planned(session: Session) -> None:
    make_squads(session)
    trips.plan_trip(
        session, squad="第一小分队", month="2026-11", destinations=["海南"], industries=["文化旅游"], actor=ACTOR
    )
    cover = trips.coverage(session)
    assert cover.to_dict(orient="records") == [
        {
            "month": date(2026, 11, 1),
            "region": "海南",
            "industry": "文化旅游",
            "planned": False,
            "trips": 1,
            "visits": 0,
            "visited": True,
        }
    ]


# ---------------------------------------------------------------- one trip from visit to arrived capital


@pytest.fixture
def produced(session: Session) -> dict[str, Any]:
    """Squad 1's June trip to 北京 and 天津: two held visits, one still planned, two leads, one signed deal
    with two capital arrivals; squad 2's trip produced nothing."""
    make_squads(session)
    trip = trips.plan_trip(
        session,
        squad="第一小分队",
        month="2026-06",
        destinations=["北京", "天津"],
        industries=["光伏发电", "装备制造"],
        starts_on=date(2026, 6, 10),
        ends_on=date(2026, 6, 14),
        budget_yuan=50_000,
        visits=[
            {"counterpart": "天津浙江商会", "counterpart_kind": "商会", "region": "天津"},
            {"counterpart": "北京某材料公司", "region": "北京"},
        ],
        actor=ACTOR,
    )
    other = trips.plan_trip(
        session, squad="第二小分队", month="2026-06", destinations=["河北"], budget_yuan=30_000, actor=ACTOR
    )
    chamber, _ = session.exec(select(Visit).where(Visit.trip_id == trip.id).order_by(col(Visit.id))).all()
    assert chamber.id is not None and trip.id is not None
    held = trips.record_visit(
        session,
        visit_id=chamber.id,
        visited_on=date(2026, 6, 11),
        attendees=["王县长", "招商干部甲"],
        notes="商会推荐两家企业",
        actor=ACTOR,
    )
    met = trips.record_visit(
        session,
        trip_id=trip.id,
        visited_on=date(2026, 6, 12),
        counterpart="北京某光伏集团",
        region="北京",
        notes="有意向建组件厂",
        actor=ACTOR,
    )
    assert met.id is not None and held.id is not None
    solar = trips.add_lead(
        session,
        project_name="1GW光伏组件项目",
        investor_name="北京某光伏集团有限公司",
        visit_id=met.id,
        received_on=date(2026, 6, 12),
        planned_yuan="5亿",
        industry="光伏发电",
        category="新能源",
        actor=ACTOR,
    )
    machine = trips.add_lead(
        session,
        project_name="农机装备项目",
        investor_name="天津某机械公司",
        visit_id=held.id,
        received_on=date(2026, 6, 11),
        planned_yuan=200_000_000,
        industry="装备制造",
        category="先进制造",
        actor=ACTOR,
    )
    assert solar.id is not None and machine.id is not None
    trips.advance_lead(session, solar.id, stage="洽谈", actor=ACTOR)
    trips.advance_lead(session, solar.id, stage="intent", actor=ACTOR)
    deal = trips.sign_lead(
        session, solar.id, signed_on=date(2026, 7, 20), contracted_yuan="3亿", actor=ACTOR, leader="王县长"
    )
    assert deal.id is not None
    for day, amount in ((date(2026, 8, 1), 50_000_000), (date(2026, 9, 15), 30_000_000)):
        session.add(CapitalArrival(deal_id=deal.id, arrived_on=day, arrived_yuan=amount, source="other_province"))
    session.commit()
    trips.record_spending(session, trip.id, spent_yuan=42_000, actor=ACTOR)
    return {"trip": trip, "other": other, "deal": deal, "solar": solar, "machine": machine}


def test_sign_lead_creates_the_deal_and_keeps_the_link(session: Session, produced: dict[str, Any]) -> None:
    deal, solar = produced["deal"], produced["solar"]
    lead = session.get(Lead, solar.id)
    assert lead is not None and lead.stage == "signed" and lead.deal_id == deal.id
    stored = session.get(Deal, deal.id)
    assert stored is not None
    assert (stored.project_name, stored.contracted_yuan, stored.signed_on) == (
        "1GW光伏组件项目",
        300_000_000,
        date(2026, 7, 20),
    )
    assert stored.origin_region_id == lead.origin_region_id  # the visit's province, 北京
    audit = session.exec(
        select(AuditLog.field).where(
            AuditLog.entity == "lead", AuditLog.entity_id == solar.id, AuditLog.action == "sign"
        )
    ).all()
    assert set(audit) == {"stage", "deal_id"}


def test_funnel_by_trip_follows_the_capital(session: Session, produced: dict[str, Any]) -> None:
    df = trips.funnel(session, by="trip")
    assert list(df.columns) == [
        "trip_id",
        "month",
        "squad",
        "visits",
        "leads",
        "signed",
        "contracted_yuan",
        "arrived_yuan",
        "cost_yuan",
        "cost_per_signed_yuan",
    ]
    rows = df.set_index("trip_id")
    trip = rows.loc[produced["trip"].id]
    assert trip["squad"] == "第一小分队" and trip["month"] == date(2026, 6, 1)
    assert (trip["visits"], trip["leads"], trip["signed"]) == (2, 2, 1)  # the planned third visit is not counted
    assert (trip["contracted_yuan"], trip["arrived_yuan"]) == (300_000_000, 80_000_000)
    assert (trip["cost_yuan"], trip["cost_per_signed_yuan"]) == (42_000, 42_000)  # spent, not the 50,000 budget
    other = rows.loc[produced["other"].id]
    assert (other["visits"], other["leads"], other["signed"], other["arrived_yuan"]) == (0, 0, 0, 0)
    assert other["cost_yuan"] == 30_000 and pd.isna(other["cost_per_signed_yuan"])
    # the second arrival, on 2026-09-15, is not there yet on 2026-08-31
    early = trips.funnel(session, by="trip", as_of=date(2026, 8, 31)).set_index("trip_id")
    assert early.loc[produced["trip"].id, "arrived_yuan"] == 50_000_000
    assert trips.funnel(session, by="trip", year=2025).empty


def test_funnel_by_squad_region_and_industry(session: Session, produced: dict[str, Any]) -> None:
    squad = trips.funnel(session, by="squad").set_index("squad")
    assert squad.loc[
        "第一小分队", ["visits", "leads", "signed", "contracted_yuan", "arrived_yuan", "cost_yuan"]
    ].tolist() == [2, 2, 1, 300_000_000, 80_000_000, 42_000]
    assert squad.loc["第二小分队", "cost_yuan"] == 30_000

    # by region: each visit in its province; 42,000 split over 北京 and 天津
    region = trips.funnel(session, by="region").set_index("region")
    assert region.loc[
        "北京", ["visits", "leads", "signed", "contracted_yuan", "arrived_yuan", "cost_yuan", "cost_per_signed_yuan"]
    ].tolist() == [1, 1, 1, 300_000_000, 80_000_000, 21_000, 21_000]
    assert region.loc["天津", ["visits", "leads", "signed", "cost_yuan"]].tolist() == [1, 1, 0, 21_000]
    assert pd.isna(region.loc["天津", "cost_per_signed_yuan"])
    assert region.loc["河北", "cost_yuan"] == 30_000 and region.loc["河北", "visits"] == 0

    # by industry: leads by their own industry; visits and cost by the trip's industries
    industry = trips.funnel(session, by="industry").set_index("industry")
    assert industry.loc[
        "光伏发电", ["visits", "leads", "signed", "contracted_yuan", "arrived_yuan", "cost_yuan"]
    ].tolist() == [2, 1, 1, 300_000_000, 80_000_000, 21_000]
    assert industry.loc["装备制造", ["visits", "leads", "signed", "cost_yuan"]].tolist() == [2, 1, 0, 21_000]
    assert set(industry.index) == {"光伏发电", "装备制造"}  # squad 2's trip targets no industry


def test_funnel_rejects_an_unknown_dimension(session: Session) -> None:
    with pytest.raises(InvalidValue, match="by: group the funnel by one of trip, squad, region, industry"):
        trips.funnel(session, by="unit")


def test_reserve_by_category_against_the_target(session: Session, produced: dict[str, Any]) -> None:
    trips.add_lead(
        session,
        project_name="储备项目甲",
        received_on=date(2026, 5, 1),
        planned_yuan="10亿",
        category="先进制造",
        source="planned project",
        actor=ACTOR,
    )
    dropped = trips.add_lead(
        session,
        project_name="放弃的项目",
        received_on=date(2026, 5, 1),
        planned_yuan="8亿",
        category="先进制造",
        actor=ACTOR,
    )
    assert dropped.id is not None
    trips.advance_lead(session, dropped.id, stage="放弃", actor=ACTOR)
    trips.add_lead(session, project_name="无分类项目", received_on=date(2026, 5, 2), actor=ACTOR)
    df = trips.reserve(session, target_yuan="350亿")
    # open leads: 农机装备 2亿 + 储备项目甲 10亿 in 先进制造; 无分类项目 without an amount; the signed and dropped are out
    assert df.to_dict(orient="records") == [
        {
            "category": "先进制造",
            "leads": 2,
            "planned_yuan": 1_200_000_000,
            "target_yuan": 35_000_000_000,
            "share": 1_200_000_000 / 35_000_000_000,
        },
        {"category": "未分类", "leads": 1, "planned_yuan": 0, "target_yuan": 35_000_000_000, "share": 0.0},
    ]
    assert df.attrs["gap_yuan"] == 35_000_000_000 - 1_200_000_000
    no_target = trips.reserve(session)
    assert no_target["share"].isna().all() and no_target.attrs["target_yuan"] is None


# ---------------------------------------------------------------- leads: stages and deadlines


@pytest.mark.parametrize(
    ("steps", "error", "match"),
    [
        (["intent", "negotiation"], Refused, "cannot go back to negotiation"),
        (["signed"], Refused, "use sign_lead"),
        (["dropped", "intent"], Refused, "already dropped"),
        (["成交"], InvalidValue, "stage: not a lead stage"),
    ],
)
def test_lead_stages_move_forward_only(session: Session, steps: list[str], error: type[Exception], match: str) -> None:
    lead = trips.add_lead(session, project_name="项目", received_on=date(2026, 6, 1), actor=ACTOR)
    assert lead.id is not None
    with pytest.raises(error, match=match):
        for stage in steps:
            trips.advance_lead(session, lead.id, stage=stage, actor=ACTOR)


def test_signing_a_dropped_lead_or_one_without_investor_is_refused(session: Session) -> None:
    lead = trips.add_lead(session, project_name="无投资方项目", received_on=date(2026, 6, 1), actor=ACTOR)
    assert lead.id is not None
    with pytest.raises(InvalidValue, match="names no investor"):
        trips.sign_lead(session, lead.id, signed_on=date(2026, 6, 5), contracted_yuan=1, actor=ACTOR)
    with pytest.raises(InvalidValue, match="signed_on: before lead"):
        trips.sign_lead(session, lead.id, signed_on=date(2026, 5, 5), contracted_yuan=1, investor="某公司", actor=ACTOR)
    trips.advance_lead(session, lead.id, stage="dropped", actor=ACTOR)
    with pytest.raises(Refused, match="only an open lead can be signed"):
        trips.sign_lead(session, lead.id, signed_on=date(2026, 6, 5), contracted_yuan=1, investor="某公司", actor=ACTOR)
    assert _count(session, Deal) == 0


def test_visits_and_leads_refuse_impossible_records(session: Session) -> None:
    make_squads(session)
    trip = trips.plan_trip(
        session,
        squad="第一小分队",
        month="2026-06",
        destinations=["北京"],
        starts_on=date(2026, 6, 10),
        ends_on=date(2026, 6, 14),
        visits=[{"counterpart": None}, {"counterpart": "甲公司"}],
        actor=ACTOR,
    )
    blank, planned = session.exec(select(Visit).where(Visit.trip_id == trip.id).order_by(col(Visit.id))).all()
    assert blank.id is not None and planned.id is not None and trip.id is not None
    with pytest.raises(InvalidValue, match="counterpart: a held visit must name"):
        trips.record_visit(session, visit_id=blank.id, visited_on=date(2026, 6, 11), actor=ACTOR)
    with pytest.raises(InvalidValue, match="visited_on: outside trip"):
        trips.record_visit(session, visit_id=planned.id, visited_on=date(2026, 6, 15), actor=ACTOR)
    with pytest.raises(Refused, match="record it as held before adding its leads"):
        trips.add_lead(session, project_name="x", visit_id=planned.id, received_on=date(2026, 6, 11), actor=ACTOR)
    trips.record_visit(session, visit_id=planned.id, visited_on=date(2026, 6, 14), actor=ACTOR)
    with pytest.raises(Refused, match="already done"):
        trips.record_visit(session, visit_id=planned.id, visited_on=date(2026, 6, 14), actor=ACTOR)
    with pytest.raises(InvalidValue, match="received_on: before visit"):
        trips.add_lead(session, project_name="x", visit_id=planned.id, received_on=date(2026, 6, 13), actor=ACTOR)
    with pytest.raises(NotFound, match="no visit 999"):
        trips.record_visit(session, visit_id=999, visited_on=date(2026, 6, 14), actor=ACTOR)
    assert any(f.kind == "visit_without_counterpart" for f in trips.check_plan(session, months="2026-06"))
    trips.cancel_visit(session, blank.id, actor=ACTOR)
    assert not any(f.kind == "visit_without_counterpart" for f in trips.check_plan(session, months="2026-06"))


# A lead received 2026-06-01: acknowledge due 06-02, assess due 06-04, feedback due 06-08.
RECEIVED = date(2026, 6, 1)


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2026, 6, 2), []),  # acknowledgement due today: not missed yet
        (date(2026, 6, 3), [("acknowledge", date(2026, 6, 2), 1)]),
        (date(2026, 6, 4), [("acknowledge", date(2026, 6, 2), 2)]),  # assessment due today
        (date(2026, 6, 5), [("acknowledge", date(2026, 6, 2), 3), ("assess", date(2026, 6, 4), 1)]),
        (date(2026, 6, 8), [("acknowledge", date(2026, 6, 2), 6), ("assess", date(2026, 6, 4), 4)]),
        (
            date(2026, 6, 9),
            [("acknowledge", date(2026, 6, 2), 7), ("assess", date(2026, 6, 4), 5), ("feedback", date(2026, 6, 8), 1)],
        ),
    ],
)
def test_missed_deadlines_of_an_unanswered_lead(session: Session, as_of: date, expected: list[tuple[Any, ...]]) -> None:
    trips.add_lead(session, project_name="未答复项目", received_on=RECEIVED, actor=ACTOR)
    df = trips.overdue_leads(session, as_of=as_of)
    assert list(zip(df["step"], df["due_on"], df["days_late"], strict=True)) == expected
    assert df["done_on"].isna().all()


def test_late_steps_are_listed_and_on_time_steps_are_not(session: Session) -> None:
    lead = trips.add_lead(session, project_name="答复项目", received_on=RECEIVED, owner="招商干部甲", actor=ACTOR)
    assert lead.id is not None
    trips.record_lead_response(
        session,
        lead.id,
        acknowledged_on=date(2026, 6, 2),
        assessed_on=date(2026, 6, 5),
        feedback_on=date(2026, 6, 8),
        actor=ACTOR,
    )
    df = trips.overdue_leads(session, as_of=date(2026, 6, 30))
    assert df[["lead_id", "step", "step_label", "due_on", "done_on", "days_late", "owner"]].to_dict(
        orient="records"
    ) == [
        {
            "lead_id": lead.id,
            "step": "assess",
            "step_label": "研判",
            "due_on": date(2026, 6, 4),
            "done_on": date(2026, 6, 5),
            "days_late": 1,
            "owner": "招商干部甲",
        }
    ]
    # on 2026-06-04 the (later) assessment is not yet done, and due that very day
    assert trips.overdue_leads(session, as_of=date(2026, 6, 4)).empty
    # with a 2-day assessment deadline and a 1-week acknowledgement it is different
    custom = trips.overdue_leads(session, as_of=date(2026, 6, 30), deadlines=(7, 2, 7))
    assert list(zip(custom["step"], custom["days_late"], strict=True)) == [("assess", 2)]


def test_closed_leads_are_only_listed_for_steps_done_late(session: Session) -> None:
    late = trips.add_lead(session, project_name="放弃但迟答复", received_on=RECEIVED, actor=ACTOR)
    silent = trips.add_lead(session, project_name="放弃未答复", received_on=RECEIVED, actor=ACTOR)
    assert late.id is not None and silent.id is not None
    trips.record_lead_response(session, late.id, acknowledged_on=date(2026, 6, 3), actor=ACTOR)
    for lead_id in (late.id, silent.id):
        trips.advance_lead(session, lead_id, stage="dropped", actor=ACTOR)
    df = trips.overdue_leads(session, as_of=date(2026, 6, 30))
    assert df[["lead_id", "step", "days_late"]].values.tolist() == [[late.id, "acknowledge", 1]]


@pytest.mark.parametrize("deadlines", [(1, 3), (1, -3, 7), (1, 3.5, 7)])
def test_bad_deadlines_are_refused(session: Session, deadlines: Any) -> None:
    with pytest.raises(InvalidValue, match="deadlines: give three whole numbers"):
        trips.overdue_leads(session, as_of=date(2026, 6, 30), deadlines=deadlines)


def test_a_response_before_the_lead_came_in_is_refused(session: Session) -> None:
    lead = trips.add_lead(session, project_name="项目", received_on=RECEIVED, actor=ACTOR)
    assert lead.id is not None
    with pytest.raises(InvalidValue, match="acknowledged_on: before lead"):
        trips.record_lead_response(session, lead.id, acknowledged_on=date(2026, 5, 31), actor=ACTOR)
    with pytest.raises(InvalidValue, match="give at least one"):
        trips.record_lead_response(session, lead.id, actor=ACTOR)


def test_plan_visit_takes_the_trips_single_province(session: Session) -> None:
    make_squads(session)
    trip = trips.plan_trip(session, squad="第一小分队", month="2026-06", destinations=[("北京", "海淀区")], actor=ACTOR)
    assert trip.id is not None
    visit = trips.plan_visit(
        session,
        trip_id=trip.id,
        counterpart="北京河北商会",
        counterpart_kind="chamber",
        contact="秘书长",
        purpose="以商招商",
        actor=ACTOR,
    )
    beijing = session.exec(select(Visit.region_id).where(Visit.id == visit.id)).one()
    assert (visit.status, visit.counterpart_kind, visit.city) == ("planned", "chamber", "海淀区")
    assert beijing is not None and beijing == find_region(session, "北京市").id
    assert trips.trips_in_month(session, month="2026-06").iloc[0]["visits_planned"] == 1
    with pytest.raises(NotFound, match="no trip 99"):
        trips.plan_visit(session, trip_id=99, counterpart="x", actor=ACTOR)


def test_step_shortcuts_and_planned_visits(session: Session) -> None:
    make_squads(session)
    trip = trips.plan_trip(
        session,
        squad="第一小分队",
        month="2026-06",
        destinations=["北京"],
        starts_on=date(2026, 6, 10),
        ends_on=date(2026, 6, 14),
        visits=[{"counterpart": "甲公司"}, {"counterpart": "乙商会", "counterpart_kind": "商会"}],
        actor=ACTOR,
    )
    assert trip.id is not None
    first, second = trips.planned_visits(session, trip.id)
    assert (first.counterpart, second.counterpart_kind) == ("甲公司", "chamber")
    assert first.id is not None
    trips.record_visit(session, visit_id=first.id, visited_on=date(2026, 6, 10), actor=ACTOR)
    assert [v.counterpart for v in trips.planned_visits(session, trip.id)] == ["乙商会"]
    lead = trips.add_lead(session, project_name="项目", visit_id=first.id, received_on=date(2026, 6, 10), actor=ACTOR)
    assert lead.id is not None
    trips.acknowledge_lead(session, lead.id, on=date(2026, 6, 10), actor=ACTOR)
    trips.assess_lead(session, lead.id, on=date(2026, 6, 12), actor=ACTOR)
    trips.feedback_lead(session, lead.id, on=date(2026, 6, 20), actor=ACTOR)
    stored = session.get(Lead, lead.id)
    assert stored is not None
    assert (stored.acknowledged_on, stored.assessed_on, stored.feedback_on) == (
        date(2026, 6, 10),
        date(2026, 6, 12),
        date(2026, 6, 20),
    )
    assert stored.source == "外出招商"
    late = trips.overdue_leads(session, as_of=date(2026, 6, 30))
    assert late[["step", "days_late"]].values.tolist() == [["feedback", 3]]  # due 06-17, done 06-20

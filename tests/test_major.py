"""Major projects: the list, plans, weekly reports, status, missing reports, 季评比, 完成投资, 入库.

One hand-worked county (``county``) on both backends; every figure below is worked out by
hand in the comments from the plans and reports it sets up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlmodel import Session, col, select

from crm import deals, major
from crm.errors import Duplicate, InvalidValue, NotFound, Refused
from crm.major.common import LOCAL
from crm.metrics import major as metrics_major
from crm.metrics import target_progress
from crm.models import AuditLog, Deal, MajorProject, ProgressReport
from crm.targets import save_rules, set_target
from tests.factories import get_or_make_person, get_or_make_unit, make_deal

M = 1_000_000  # yuan in 100万


@dataclass
class County:
    a: int  # major project ids
    b: int
    c: int
    d: int
    deal_a: int
    deal_b: int
    deal_c: int
    deal_d: int


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def build_county(session: Session) -> County:
    for name in ("县工信局", "县发改局"):
        get_or_make_unit(session, name)
    for name in ("王县长", "李副县长"):
        get_or_make_person(session, name)
    da = make_deal(
        session, project_name="光伏组件项目", signed_on=date(2025, 10, 1), state="started", started_on=date(2026, 1, 10)
    )
    db = make_deal(
        session, project_name="装备制造项目", signed_on=date(2025, 10, 1), state="started", started_on=date(2026, 2, 15)
    )
    dc = make_deal(
        session, project_name="物流园项目", signed_on=date(2025, 10, 1), state="started", started_on=date(2026, 3, 1)
    )
    dd = make_deal(session, project_name="文旅项目")
    session.commit()
    add = major.add_major_project
    a = add(
        session, da.id, year=2026, source="市责任书", category="续建", unit="县工信局", leaders=["王县长"], actor="张三"
    )
    b = add(
        session,
        db.id,
        year=2026,
        source="县级包抓",
        category="新开工",
        unit="县工信局",
        leaders=["李副县长", "王县长"],
        actor="张三",
    )
    c = add(
        session,
        dc.id,
        year=2026,
        source="市责任书",
        category="新开工",
        unit="县发改局",
        leaders=["李副县长"],
        actor="张三",
    )
    d = add(
        session,
        dd.id,
        year=2026,
        source="县级包抓",
        category="前期",
        unit="县发改局",
        leaders=["李副县长"],
        actor="张三",
    )
    # A: 5,000,000 a month Jan-Jun, 10,000,000 Jul-Dec = 90,000,000
    major.set_plan(
        session,
        a.id,
        milestones={"主体完工": date(2026, 5, 31), "竣工": date(2026, 12, 20)},
        months={date(2026, m, 1): (5 if m <= 6 else 10) * M for m in range(1, 13)},
        actor="张三",
    )
    # B: 1,000,000 every month = 12,000,000
    major.set_plan(
        session,
        b.id,
        milestones={"开工": date(2026, 3, 1), "设备安装": date(2026, 8, 1)},
        months={date(2026, m, 1): M for m in range(1, 13)},
        actor="张三",
    )
    # C: 2,000,000 a month Mar-Dec = 20,000,000; both milestones will be overdue on 2026-06-30
    major.set_plan(
        session,
        c.id,
        milestones={"开工": date(2026, 2, 20), "主体完工": date(2026, 6, 10)},
        months={date(2026, m, 1): 2 * M for m in range(3, 13)},
        actor="张三",
    )
    report = major.report_progress
    report(
        session,
        a.id,
        week="2026-W24",
        cumulative_yuan=24 * M,
        progress="主体完工",
        milestones_reached={"主体完工": date(2026, 5, 28)},
        reported_at=_at("2026-06-12T02:00"),
        actor="张三",
    )
    report(session, a.id, week="2026-W25", week_yuan=1 * M, reported_at=_at("2026-06-19T03:59"), actor="张三")
    report(
        session,
        a.id,
        week="2026-W26",
        cumulative_yuan=26 * M,
        progress="设备进场",
        problems=[major.Problem("用电接入", "县发改局")],
        reported_at=_at("2026-06-26T03:00"),
        actor="张三",
    )
    # B reports at 13:00 China time: after the Friday 12:00 deadline
    report(
        session,
        b.id,
        week="2026-W26",
        cumulative_yuan=7 * M,
        milestones_reached={"开工": date(2026, 2, 15)},
        reported_at=_at("2026-06-26T05:00"),
        actor="张三",
    )
    return County(a.id, b.id, c.id, d.id, da.id, db.id, dc.id, dd.id)  # type: ignore[arg-type]


@pytest.fixture
def county(session: Session) -> County:
    return build_county(session)


# ---------------------------------------------------------------- the list


def test_list_has_leaders_unit_category_and_the_plan_sum(session: Session, county: County) -> None:
    df = major.major_projects(session, year=2026)
    assert list(df["project_name"]) == ["光伏组件项目", "装备制造项目", "物流园项目", "文旅项目"]
    assert list(df["category"]) == ["续建", "新开工", "新开工", "前期"]
    assert list(df["leaders"]) == ["王县长", "李副县长、王县长", "李副县长", "李副县长"]
    assert df["planned_yuan"].tolist()[:3] == [90 * M, 12 * M, 20 * M]
    assert pd.isna(df["planned_yuan"].iloc[3])
    assert list(major.major_projects(session, leader="王县长")["major_project_id"]) == [county.a, county.b]
    assert list(major.major_projects(session, category="前期")["major_project_id"]) == [county.d]


def test_add_refuses_twice_terminated_and_unknown_names(session: Session, county: County) -> None:
    with pytest.raises(Duplicate, match="already on the 2026 list"):
        major.add_major_project(session, county.deal_a, year=2026, source="市责任书", category="续建", actor="张三")
    with pytest.raises(InvalidValue, match="category"):
        major.add_major_project(session, county.deal_a, year=2027, source="市责任书", category="在建", actor="张三")
    with pytest.raises(InvalidValue, match="no such person; closest: 王县长"):
        major.add_major_project(
            session, county.deal_a, year=2027, source="市责任书", category="续建", leaders=["王县"], actor="张三"
        )
    ended = make_deal(session, project_name="终止项目", state="terminated", terminated_on=date(2026, 4, 1))
    session.commit()
    with pytest.raises(Refused, match="terminated"):
        major.add_major_project(session, ended.id, year=2026, source="市责任书", category="续建", actor="张三")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        major.add_major_project(session, 9999, year=2026, source="市责任书", category="续建", actor="张三")
    assert session.exec(select(MajorProject).where(MajorProject.year == 2027)).first() is None


def test_plan_months_replace_and_their_sum_is_the_year_plan(session: Session, county: County) -> None:
    major.set_plan(session, county.b, months={date(2026, 7, 1): 3 * M, date(2026, 8, 15): 4 * M}, actor="李四")
    months = major.plan_months(session, county.b)
    assert list(months["planned_yuan"]) == [3 * M, 4 * M]
    assert list(months["cumulative_yuan"]) == [3 * M, 7 * M]
    assert session.get(MajorProject, county.b).planned_yuan == 7 * M  # type: ignore[union-attr]
    audit = session.exec(
        select(AuditLog).where(
            AuditLog.entity == "major_project", AuditLog.field == "planned_yuan", AuditLog.actor == "李四"
        )
    ).one()
    assert (audit.old, audit.new) == (str(12 * M), str(7 * M))
    with pytest.raises(InvalidValue, match="the plan is for 2026"):
        major.set_plan(session, county.b, months={date(2027, 1, 1): M}, actor="李四")
    with pytest.raises(InvalidValue, match="negative"):
        major.set_plan(session, county.b, months={date(2026, 1, 1): -1}, actor="李四")
    session.rollback()
    assert list(major.plan_months(session, county.b)["planned_yuan"]) == [3 * M, 4 * M]


# ---------------------------------------------------------------- weekly reports


def test_reports_derive_the_missing_figure(session: Session, county: County) -> None:
    df = major.reports(session, county.a)
    assert list(df["week"]) == ["2026-W24", "2026-W25", "2026-W26"]
    # W24 is the first report: its week is the whole cumulative; W25 gave the week, W26 the cumulative
    assert list(df["week_yuan"]) == [24 * M, 1 * M, 1 * M]
    assert list(df["cumulative_yuan"]) == [24 * M, 25 * M, 26 * M]
    assert df["problems"].iloc[2] == "用电接入（县发改局）"
    assert major.milestones(session, county.a)["reached_on"].iloc[0] == date(2026, 5, 28)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"week": "2026-W27", "cumulative_yuan": 25 * M}, Refused, "cannot go down"),
        ({"week": "2026-W27", "week_yuan": M, "cumulative_yuan": 28 * M}, InvalidValue, "must be .* = 27000000"),
        ({"week": "2026-W23", "week_yuan": M}, Refused, "2026-W26 is already reported"),
        ({"week": "2027-W02", "week_yuan": M}, InvalidValue, "is on the 2026 list"),
        ({"week": "2026-W60", "week_yuan": M}, InvalidValue, "no such week"),
        ({"week": "2026-W27", "milestones_reached": {"封顶": date(2026, 7, 1)}}, InvalidValue, "主体完工、竣工"),
        ({"week": "2026-W27", "milestones_reached": {"竣工": date(2026, 7, 9)}}, InvalidValue, "after 2026-W27"),
    ],
)
def test_bad_reports_are_refused_and_change_nothing(
    session: Session, county: County, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    before = len(session.exec(select(ProgressReport)).all())
    with pytest.raises(error, match=message):
        major.report_progress(session, county.a, actor="张三", **kwargs)
    session.rollback()
    assert len(session.exec(select(ProgressReport)).all()) == before


def test_the_latest_week_can_be_corrected_with_an_audit_row(session: Session, county: County) -> None:
    major.report_progress(session, county.a, week="2026-W26", cumulative_yuan=27 * M, actor="李四")
    df = major.reports(session, county.a)
    assert (df["week_yuan"].iloc[2], df["cumulative_yuan"].iloc[2]) == (2 * M, 27 * M)
    assert df["progress"].iloc[2] == "设备进场"  # a correction without text keeps the text
    assert metrics_major.missing_reports(session, week="2026-W26")["project_name"].tolist() == [
        "装备制造项目",
        "物流园项目",
    ]  # and the time it first came in: still on time
    rows = session.exec(select(AuditLog).where(AuditLog.action == "correct", AuditLog.actor == "李四")).all()
    assert {(r.field, r.old, r.new) for r in rows} >= {("cumulative_yuan", str(26 * M), str(27 * M))}


# ---------------------------------------------------------------- status


def test_status_by_project_as_of_month_end(session: Session, county: County) -> None:
    df = metrics_major.major_status(session, as_of=date(2026, 6, 30)).set_index("major_project_id")
    # A: plan to date Jan-Jun 6 × 5,000,000 = 30,000,000; done 26,000,000 < 27,000,000 (10% tolerance)
    assert df.loc[county.a, "plan_to_date_yuan"] == 30 * M
    assert df.loc[county.a, "completed_yuan"] == 26 * M
    assert df.loc[county.a, "plan_share"] == pytest.approx(26 / 30)
    assert df.loc[county.a, "year_share"] == pytest.approx(26 / 90)
    assert df.loc[county.a, "status_label"] == "滞后"
    assert df.loc[county.a, "last_report"] == "2026-W26"
    assert df.loc[county.a, "open_problems"] == "用电接入（县发改局）"
    # B: 6,000,000 due, 7,000,000 done > 6,600,000: ahead
    assert (df.loc[county.b, "plan_to_date_yuan"], df.loc[county.b, "progress_status"]) == (6 * M, "ahead")
    # C: nothing done and two milestones overdue
    assert df.loc[county.c, "plan_to_date_yuan"] == 8 * M
    assert df.loc[county.c, "overdue_milestones"] == "开工(2026-02-20)、主体完工(2026-06-10)"
    assert df.loc[county.c, "progress_status"] == "behind"
    assert df.loc[county.d, "progress_status"] == "no_plan"
    assert set(df["rules"]) == {"default v1"}


def test_status_mid_month_counts_the_elapsed_days(session: Session, county: County) -> None:
    df = metrics_major.major_status(session, as_of=date(2026, 6, 15)).set_index("major_project_id")
    # 25,000,000 to May + 5,000,000 × 15/30 of June; only W24 (Friday 06-12) counts
    assert df.loc[county.a, "plan_to_date_yuan"] == 27_500_000
    assert df.loc[county.a, "completed_yuan"] == 24 * M
    assert df.loc[county.a, "progress_status"] == "behind"


def test_the_tolerance_is_stored_in_versioned_counting_rules(session: Session, county: County) -> None:
    rules = major.set_progress_rules(session, tolerance=0.15, actor="张三")
    assert (rules.version, rules.progress_tolerance) == (2, 0.15)
    df = metrics_major.major_status(session, as_of=date(2026, 6, 30)).set_index("major_project_id")
    assert df.loc[county.a, "progress_status"] == "normal"  # 26,000,000 ≥ 30,000,000 × 0.85
    assert set(df["rules"]) == {"default v2"}
    with pytest.raises(InvalidValue, match="tolerance"):
        major.set_progress_rules(session, tolerance=1.5, actor="张三")
    later = save_rules(session, "default", verified_only=True, actor="张三")  # another change keeps the tolerance
    assert (later.version, later.progress_tolerance, later.report_deadline_time) == (3, 0.15, "12:00")


def test_status_by_unit_and_by_leader(session: Session, county: County) -> None:
    by_unit = metrics_major.major_status(session, as_of=date(2026, 6, 30), by="unit").set_index("unit")
    assert by_unit.loc["县工信局", ["projects", "planned_yuan", "plan_to_date_yuan", "completed_yuan"]].tolist() == [
        2,
        102 * M,
        36 * M,
        33 * M,
    ]
    assert by_unit.loc["县工信局", ["behind", "ahead", "normal", "open_problems"]].tolist() == [1, 1, 0, 1]
    assert by_unit.loc["县发改局", ["behind", "overdue_milestones", "completed_yuan"]].tolist() == [1, 2, 0]
    by_leader = metrics_major.major_status(session, as_of=date(2026, 6, 30), by="leader").set_index("leader")
    # 李副县长 answers for B, C and D: 7,000,000 done of 6,000,000 + 8,000,000 due
    assert by_leader.loc["李副县长", ["projects", "plan_to_date_yuan", "completed_yuan"]].tolist() == [3, 14 * M, 7 * M]
    assert by_leader.loc["李副县长", "plan_share"] == pytest.approx(0.5)
    assert by_leader.loc["王县长", "projects"] == 2
    with pytest.raises(InvalidValue, match="leader, unit, category"):
        metrics_major.major_status(session, as_of=date(2026, 6, 30), by="industry")


# ---------------------------------------------------------------- missing weekly reports


def test_missing_reports_by_friday_noon(session: Session, county: County) -> None:
    df = metrics_major.missing_reports(session, week="2026-W26")
    # A on time; B at 13:00 is late; C never reported; D has not started
    assert df[["project_name", "status", "leader", "unit"]].values.tolist() == [
        ["装备制造项目", "late", "李副县长", "县工信局"],
        ["物流园项目", "missing", "李副县长", "县发改局"],
    ]
    assert df["deadline"].iloc[0] == "2026-06-26 12:00"
    assert df["reported_at"].iloc[0] == "2026-06-26 13:00"
    assert list(metrics_major.missing_reports(session, week="2026-W25")["project_name"]) == [
        "装备制造项目",
        "物流园项目",
    ]
    major.set_progress_rules(session, deadline_time="14:00", actor="张三")
    assert list(metrics_major.missing_reports(session, week="2026-W26")["project_name"]) == ["物流园项目"]


# ---------------------------------------------------------------- 季评比


def test_quarterly_scores_by_unit(session: Session, county: County) -> None:
    df = metrics_major.quarterly_scores(session, quarter="2026Q2", by="unit").set_index("name")
    # 县工信局 (A, B): 40 × 33/36 = 36.7; B started: 20; A's 主体完工 on time: 20; 3 of 26 reports on time:
    # 20 × 3/26 = 2.3; total 78.97
    assert df.loc["县工信局", ["plan_score", "start_score", "milestone_score", "report_score", "score"]].tolist() == [
        36.7,
        20.0,
        20.0,
        2.3,
        79.0,
    ]
    # 县发改局 (C, D): nothing done of 8,000,000; C started; C's 主体完工 missed; no report of 13 due
    assert df.loc["县发改局", ["plan_score", "start_score", "milestone_score", "report_score", "score"]].tolist() == [
        0.0,
        20.0,
        0.0,
        0.0,
        20.0,
    ]
    assert df.loc["县工信局", "rank"] == 1 and not df.loc["县工信局", "last"]
    assert df.loc["县发改局", "rank"] == 2 and df.loc["县发改局", "last"]
    assert set(df["weights"]) == {"default v0"}


def test_quarterly_scores_by_leader_with_saved_weights(session: Session, county: County) -> None:
    df = metrics_major.quarterly_scores(session, quarter="2026Q2", by="leader").set_index("name")
    assert df.loc["李副县长", "score"] == 40.0  # 40 × 7/14 + 20 × 2/2 + 0 + 0
    assert bool(df.loc["李副县长", "last"])
    major.save_weights(
        session,
        "督查",
        plan_points=50,
        start_points=10,
        milestone_points=20,
        report_points=20,
        default=True,
        actor="张三",
    )
    df = metrics_major.quarterly_scores(session, quarter="2026Q2", by="unit").set_index("name")
    assert df.loc["县工信局", "score"] == 78.1  # 50 × 33/36 + 10 + 20 + 20 × 3/26
    assert df.loc["县发改局", "score"] == 10.0
    assert set(df["weights"]) == {"督查 v1"}
    with pytest.raises(InvalidValue, match="quarter"):
        metrics_major.quarterly_scores(session, quarter="2026", by="unit")


# ---------------------------------------------------------------- 完成投资 as a figure and a target metric


def _last_year(session: Session, county: County) -> None:
    last = major.add_major_project(session, county.deal_a, year=2025, source="市责任书", category="前期", actor="张三")
    major.report_progress(session, last.id, week="2025-W25", cumulative_yuan=11 * M, actor="张三")  # type: ignore[arg-type]


def test_completed_investment_by_unit_with_yoy(session: Session, county: County) -> None:
    _last_year(session, county)
    major.add_zone(session, "光电园区", actor="张三")
    major.set_deal_zone(session, county.deal_a, "光电园区", actor="张三")
    df = metrics_major.completed_investment(session, start=date(2026, 6, 1), end=date(2026, 6, 30), by="unit")
    # June's Fridays: A 24,000,000 + 1,000,000 + 1,000,000, B 7,000,000; last June A 11,000,000
    row = df.set_index("unit").loc["县工信局"]
    assert (row["completed_investment_yuan"], row["completed_investment_yuan_last_year"]) == (33 * M, 11 * M)
    assert row["completed_investment_yuan_diff"] == 22 * M
    assert row["completed_investment_yuan_yoy"] == pytest.approx(2.0)
    by_zone = metrics_major.completed_investment(session, start=date(2026, 1, 1), end=date(2026, 6, 30), by="zone")
    zones = dict(zip(by_zone["zone"].fillna("(none)"), by_zone["completed_investment_yuan"], strict=True))
    assert zones == {"光电园区": 26 * M, "(none)": 7 * M}
    by_size = metrics_major.completed_investment(
        session, start=date(2026, 1, 1), end=date(2026, 6, 30), by="size_class"
    )
    assert by_size.set_index("size_class")["completed_investment_yuan"].to_dict() == {"亿元以上": 33 * M}


def test_completed_investment_is_a_target_metric(session: Session, county: County) -> None:
    _last_year(session, county)
    set_target(session, metric="completed_investment_yuan", period=2026, amount_yuan=100 * M, actor="张三")
    set_target(
        session, metric="completed_investment_yuan", period=2026, amount_yuan=50 * M, scope="县工信局", actor="张三"
    )
    df = target_progress(session, as_of=date(2026, 6, 30))
    county_row = df[(df["metric"] == "completed_investment_yuan") & (df["scope"] == "county")].iloc[0]
    assert (county_row["target"], county_row["actual"], county_row["last_year"]) == (100 * M, 33 * M, 11 * M)
    assert county_row["yoy"] == pytest.approx(2.0)
    assert county_row["time_progress"] == pytest.approx(181 / 365)
    unit_row = df[(df["metric"] == "completed_investment_yuan") & (df["scope"] == "县工信局")].iloc[0]
    assert unit_row["actual"] == 33 * M


# ---------------------------------------------------------------- 入库 readiness


def test_register_refuses_missing_documents_and_names_them(session: Session, county: County) -> None:
    major.record_document(
        session, county.deal_a, kind="备案", number="甘发改备〔2026〕12号", issued_on=date(2025, 12, 1), actor="张三"
    )
    major.record_document(
        session,
        county.deal_a,
        kind="施工许可证",
        number="620123202601100101",
        issued_on=date(2026, 1, 5),
        evidence_ref="档案室A-3",
        actor="张三",
    )
    with pytest.raises(Refused, match="without 主体工程施工合同"):
        deals.register(session, county.deal_a, on=date(2026, 6, 30), actor="张三")
    with pytest.raises(InvalidValue, match="needs a reason"):
        deals.register(session, county.deal_a, on=date(2026, 6, 30), force=True, actor="张三")
    assert session.get(Deal, county.deal_a).registered_on is None  # type: ignore[union-attr]
    report = metrics_major.registration_readiness(session).set_index("deal_id")
    assert report.loc[county.deal_a, "missing"] == "主体工程施工合同"
    assert report.loc[county.deal_a, "construction_permit"] == "620123202601100101"
    assert report.loc[county.deal_b, "missing"] == "审批/核准/备案文件、施工许可证、主体工程施工合同"
    assert county.deal_d not in report.index  # not started
    deals.register(session, county.deal_a, on=date(2026, 6, 30), force=True, reason="统计局同意先入库", actor="张三")
    audit = session.exec(select(AuditLog).where(AuditLog.action == "register")).one()
    assert audit.note == "forced without 主体工程施工合同: 统计局同意先入库"
    assert county.deal_a not in metrics_major.registration_readiness(session)["deal_id"].tolist()


def test_register_with_every_document(session: Session, county: County) -> None:
    for kind in ("approval", "construction_permit", "主体工程施工合同"):
        major.record_document(
            session, county.deal_b, kind=kind, number=f"{kind}-1", issued_on=date(2026, 2, 1), actor="张三"
        )
    assert major.missing_documents(session, county.deal_b) == []
    deals.register(session, county.deal_b, on=date(2026, 6, 30), actor="张三")
    assert session.get(Deal, county.deal_b).registered_on == date(2026, 6, 30)  # type: ignore[union-attr]
    assert not metrics_major.registration_readiness(session).set_index("deal_id").loc[county.deal_c, "ready"]
    with pytest.raises(InvalidValue, match="kind"):
        major.record_document(
            session, county.deal_b, kind="营业执照", number="1", issued_on=date(2026, 2, 1), actor="张三"
        )
    assert session.exec(select(col(AuditLog.id)).where(AuditLog.entity == "registration_document")).first() is not None


@pytest.mark.parametrize(("minute", "missing"), [(59, ["装备制造项目"]), (61, ["装备制造项目", "物流园项目"])])
def test_a_report_time_in_china_time_meets_the_deadline(
    session: Session, county: County, minute: int, missing: list[str]
) -> None:
    at = datetime(2026, 6, 26, 11, 0, tzinfo=LOCAL) + timedelta(minutes=minute)
    major.report_progress(session, county.c, week="2026-W26", week_yuan=M, reported_at=at, actor="张三")
    session.expire_all()
    assert list(metrics_major.missing_reports(session, week="2026-W26")["project_name"]) == missing

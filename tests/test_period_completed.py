"""完成投资 (completed investment of major projects) in the period figures, on both backends.

Every figure is worked out by hand from the two projects below. A week's investment counts on
its Friday (crm.metrics.major.completed_per_deal, the one definition).

  deal  unit     industry  contracted   zone      listed     weekly reports (week: Friday, yuan)
  X     县工信局  光伏发电   200,000,000  光电园区  2025, 2026  2025-W10: 03-07 3,000,000
                                                               2025-W20: 05-16 4,000,000
                                                               2025-W30: 07-25 9,000,000 (after 2025H1)
                                                               2026-W10: 03-06 5,000,000
                                                               2026-W20: 05-15 6,000,000
                                                               2026-W27: 07-03 7,000,000 (Monday 06-29 is
                                                                 in 2026H1, its Friday is not)
  Y     县发改局  装备制造    80,000,000  (none)    2026        2026-W02: 01-09 2,000,000
                                                               2026-W14: 04-03 3,000,000

2026H1: X 11,000,000, Y 5,000,000; 2025H1: X 7,000,000, Y nothing.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date

import pytest
from factories import make_deal
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from crm import major, metrics
from crm.cli import app
from crm.metrics import major as metrics_major
from crm.models import Deal

H1 = {"start": date(2026, 1, 1), "end": date(2026, 6, 30)}
M = 1_000_000
runner = CliRunner()


def build(session: Session) -> None:
    x = make_deal(
        session,
        project_name="X 光伏组件",
        unit="县工信局",
        signed_on=date(2024, 6, 1),
        contracted_yuan=200 * M,
        started_on=date(2025, 3, 1),
        state="started",
    )
    y = make_deal(
        session,
        project_name="Y 装备制造",
        unit="县发改局",
        industry="装备制造",
        signed_on=date(2025, 10, 1),
        contracted_yuan=80 * M,
        started_on=date(2026, 1, 5),
        state="started",
    )
    session.commit()
    major.add_zone(session, "光电园区", actor="张三")
    major.set_deal_zone(session, x.id, "光电园区", actor="张三")  # type: ignore[arg-type]
    add = major.add_major_project
    x25 = add(session, x.id, year=2025, source="市责任书", category="新开工", unit="县工信局", actor="张三")  # type: ignore[arg-type]
    x26 = add(session, x.id, year=2026, source="市责任书", category="续建", unit="县工信局", actor="张三")  # type: ignore[arg-type]
    y26 = add(session, y.id, year=2026, source="县级包抓", category="新开工", unit="县发改局", actor="张三")  # type: ignore[arg-type]
    for project, week, yuan in [
        (x25, "2025-W10", 3),
        (x25, "2025-W20", 4),
        (x25, "2025-W30", 9),
        (x26, "2026-W10", 5),
        (x26, "2026-W20", 6),
        (x26, "2026-W27", 7),
        (y26, "2026-W02", 2),
        (y26, "2026-W14", 3),
    ]:
        major.report_progress(session, project.id, week=week, week_yuan=yuan * M, actor="张三")  # type: ignore[arg-type]


def _row(df, column: str, value: object) -> dict[str, object]:  # type: ignore[no-untyped-def]
    found = df[df[column].isna()] if value is None else df[df[column] == value]
    assert len(found) == 1, (column, value, len(found))
    return found.iloc[0].to_dict()  # type: ignore[no-any-return]


def _figures(row: dict[str, object]) -> tuple[object, ...]:
    name = "completed_investment_yuan"
    return row[name], row[f"{name}_last_year"], row[f"{name}_diff"]


def test_completed_investment_in_the_period_against_last_year(session: Session) -> None:
    build(session)
    df = metrics.period_figures(session, **H1)
    assert list(df.columns) == metrics.PERIOD_COLUMNS
    row = df.iloc[0].to_dict()
    assert _figures(row) == (16 * M, 7 * M, 9 * M)
    assert row["completed_investment_yuan_yoy"] == pytest.approx(9 / 7)
    assert (row["started"], row["started_last_year"]) == (1, 1)  # Y in 2026H1, X in 2025H1
    # one definition: the same sums as crm.metrics.major.completed_investment
    same = metrics_major.completed_investment(session, **H1).iloc[0]
    assert (same["completed_investment_yuan"], same["completed_investment_yuan_last_year"]) == (16 * M, 7 * M)


def test_completed_investment_by_unit_size_class_and_zone(session: Session) -> None:
    build(session)
    by_unit = metrics.period_figures(session, **H1, by="unit")
    assert _figures(_row(by_unit, "unit", "县工信局")) == (11 * M, 7 * M, 4 * M)
    assert _row(by_unit, "unit", "县工信局")["completed_investment_yuan_yoy"] == pytest.approx(4 / 7)
    fagai = _row(by_unit, "unit", "县发改局")
    assert _figures(fagai) == (5 * M, 0, 5 * M)
    assert math.isnan(fagai["completed_investment_yuan_yoy"])  # type: ignore[arg-type]

    by_size = metrics.period_figures(session, **H1, by="size_class")
    assert _figures(_row(by_size, "size_class", "亿元以上")) == (11 * M, 7 * M, 4 * M)
    assert _figures(_row(by_size, "size_class", "500万以上")) == (5 * M, 0, 5 * M)

    by_zone = metrics.period_figures(session, **H1, by="zone")
    assert list(by_zone.columns) == ["zone", *metrics.PERIOD_COLUMNS]
    assert _figures(_row(by_zone, "zone", "光电园区")) == (11 * M, 7 * M, 4 * M)
    assert _figures(_row(by_zone, "zone", None)) == (5 * M, 0, 5 * M)

    both = metrics.period_figures(session, **H1, by=["signing_month", "zone", "industry"])
    assert list(both.columns[:3]) == ["signing_month", "zone", "industry"]
    assert list(both["signing_month"]) == [date(2024, 6, 1), date(2025, 10, 1)]  # sorted by the dims in order
    assert _figures(_row(both, "industry", "装备制造")) == (5 * M, 0, 5 * M)

    only = metrics.period_figures(session, **H1, industry="装备制造")
    assert _figures(only.iloc[0].to_dict()) == (5 * M, 0, 5 * M)
    assert len(metrics.period_figures(session, **H1, by="unit", unit="县工信局")) == 1


def test_groups_sort_by_the_dimensions_in_the_order_given(session: Session) -> None:
    build(session)
    y = session.exec(select(Deal).where(Deal.project_name == "Y 装备制造")).one()
    major.add_zone(session, "东区", actor="张三")
    major.set_deal_zone(session, y.id, "东区", actor="张三")  # type: ignore[arg-type]
    # by zone: 东区 (Y) before 光电园区 (X); by industry: 光伏发电 (X) before 装备制造 (Y)
    by_zone = metrics.period_figures(session, **H1, by=["zone", "industry"])
    assert list(by_zone["zone"]) == ["东区", "光电园区"]
    assert list(by_zone["completed_investment_yuan"]) == [5 * M, 11 * M]
    by_industry = metrics.period_figures(session, **H1, by=["industry", "zone"])
    assert list(by_industry["zone"]) == ["光电园区", "东区"]
    assert list(by_industry.columns[:2]) == ["industry", "zone"]


def test_a_period_with_nothing_last_year(session: Session) -> None:
    build(session)
    january = metrics.period_figures(session, start=date(2026, 1, 1), end=date(2026, 1, 31)).iloc[0]
    assert (january["completed_investment_yuan"], january["completed_investment_yuan_last_year"]) == (2 * M, 0)
    assert january["completed_investment_yuan_diff"] == 2 * M
    assert math.isnan(january["completed_investment_yuan_yoy"])
    # the week of 2026-06-29 counts in July, on its Friday
    july = metrics.period_figures(session, start=date(2026, 7, 1), end=date(2026, 7, 31)).iloc[0]
    assert (july["completed_investment_yuan"], july["completed_investment_yuan_last_year"]) == (7 * M, 9 * M)


def test_report_period_shows_completed_investment(engine: Engine, db_url: str) -> None:
    with Session(engine) as session:
        build(session)
    result = runner.invoke(app, ["--db", db_url, "report", "period", "--period", "2026H1", "--format", "csv"])
    assert result.exit_code == 0, result.output
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert (row["completed_investment_yuan"], row["completed_investment_yuan_last_year"]) == ("16000000", "7000000")

    args = ["--period", "2026H1", "--by", "zone", "--format", "json"]
    grouped = runner.invoke(app, ["--db", db_url, "report", "period", *args])
    assert grouped.exit_code == 0, grouped.output
    zones = {r["zone"]: r for r in json.loads(grouped.stdout)}
    assert zones["光电园区"]["completed_investment_yuan_diff"] == 4 * M
    assert zones[None]["completed_investment_yuan_yoy"] is None

    table = runner.invoke(app, ["--db", db_url, "report", "period", "--period", "2026H1"])
    assert table.exit_code == 0, table.output
    assert "完成投资去年同期" in table.stdout
    assert "1,600.00万元" in table.stdout and "700.00万元" in table.stdout  # money on the screen, in 万元

"""Figures on a small hand-built ledger; every expected value is worked out by hand here.

The ledger (as of 2026-06-30 unless a test says otherwise):

  deal  industry  unit      leader   signed      contracted  state as of 2026-06-30
  D1    光伏发电  县商务局  王县长   2024-03-01  100,000,000 in production (started 2024-06-01, done 2025-05-01)
  D2    光伏发电  县商务局  王县长   2025-04-01   50,000,000 started 2025-08-01
  D3    装备制造  工业园区  李副县长 2025-06-01   80,000,000 signed
  D4    装备制造  工业园区  李副县长 2025-09-01   40,000,000 terminated 2026-02-01
  D5    商贸流通  县商务局  李副县长 2024-05-01   60,000,000 terminated 2025-10-01, REPLACED by D6
  D6    商贸流通  县商务局  李副县长 2025-12-01   60,000,000 started 2026-03-01 (replaces D5, new investor)
  D7    光伏发电  县商务局  王县长   2026-02-01   30,000,000 capital increase of D1 (increment)
  D8    光伏发电  县商务局  王县长   2026-07-15   10,000,000 signed after as_of

  arrival  deal  on          yuan        source    verified
  A1       D1    2025-03-01  20,000,000  省外      yes
  A2       D1    2026-03-10  10,000,000  境外      no
  A3       D7    2026-04-01   5,000,000  省外      yes   (to D1's group)
  A4       D2    2026-05-01   8,000,000  县际      yes
  A5       D5    2025-01-10   3,000,000  省外      yes   (replaced deal: excluded)
  A6       D6    2026-04-15   6,000,000  市外省内  no
  A7       D3    2026-07-01   1,000,000  省外      yes   (after as_of)
  A8       D4    2025-12-01   2,000,000  境外      yes   (before its termination)
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pandas as pd
import pytest
from factories import make_deal
from sqlmodel import Session

from crm import metrics
from crm.errors import InvalidValue
from crm.models import CapitalArrival, Deal
from crm.targets import save_rules

AS_OF = date(2026, 6, 30)


def build_ledger(session: Session) -> dict[str, Deal]:
    d: dict[str, Deal] = {}
    d["D1"] = make_deal(
        session,
        project_name="D1",
        signed_on=date(2024, 3, 1),
        contracted_yuan=100_000_000,
        state="in_production",
        started_on=date(2024, 6, 1),
        completed_on=date(2025, 5, 1),
    )
    d["D2"] = make_deal(
        session,
        project_name="D2",
        signed_on=date(2025, 4, 1),
        contracted_yuan=50_000_000,
        state="started",
        started_on=date(2025, 8, 1),
    )
    d["D3"] = make_deal(
        session,
        project_name="D3",
        industry="装备制造",
        unit="工业园区",
        leader="李副县长",
        signed_on=date(2025, 6, 1),
        contracted_yuan=80_000_000,
    )
    d["D4"] = make_deal(
        session,
        project_name="D4",
        industry="装备制造",
        unit="工业园区",
        leader="李副县长",
        signed_on=date(2025, 9, 1),
        contracted_yuan=40_000_000,
        state="terminated",
        terminated_on=date(2026, 2, 1),
    )
    d["D5"] = make_deal(
        session,
        project_name="D5",
        industry="商贸流通",
        leader="李副县长",
        signed_on=date(2024, 5, 1),
        contracted_yuan=60_000_000,
        state="terminated",
        terminated_on=date(2025, 10, 1),
    )
    d["D6"] = make_deal(
        session,
        project_name="D5",
        investor="浙江新投资有限公司",
        industry="商贸流通",
        leader="李副县长",
        signed_on=date(2025, 12, 1),
        contracted_yuan=60_000_000,
        state="started",
        started_on=date(2026, 3, 1),
        replaces_id=d["D5"].id,
    )
    d["D7"] = make_deal(
        session, project_name="D1 增资", signed_on=date(2026, 2, 1), contracted_yuan=30_000_000, increases_id=d["D1"].id
    )
    d["D8"] = make_deal(session, project_name="D8", signed_on=date(2026, 7, 15), contracted_yuan=10_000_000)
    arrivals = [
        ("D1", date(2025, 3, 1), 20_000_000, "other_province", True),
        ("D1", date(2026, 3, 10), 10_000_000, "overseas", False),
        ("D7", date(2026, 4, 1), 5_000_000, "other_province", True),
        ("D2", date(2026, 5, 1), 8_000_000, "other_county", True),
        ("D5", date(2025, 1, 10), 3_000_000, "other_province", True),
        ("D6", date(2026, 4, 15), 6_000_000, "other_city", False),
        ("D3", date(2026, 7, 1), 1_000_000, "other_province", True),
        ("D4", date(2025, 12, 1), 2_000_000, "overseas", True),
    ]
    for key, on, yuan, source, verified in arrivals:
        session.add(
            CapitalArrival(deal_id=d[key].id, arrived_on=on, arrived_yuan=yuan, source=source, verified=verified)
        )
    session.commit()
    return d


def row(df: pd.DataFrame, **where: Any) -> dict[str, Any]:
    mask = pd.Series(True, index=df.index)
    for column, value in where.items():
        mask &= df[column] == value
    found = df[mask]
    assert len(found) == 1, f"{where}: {len(found)} rows"
    return found.iloc[0].to_dict()


def assert_figures(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        got = actual[key]
        if value is None:
            assert got is None or (isinstance(got, float) and math.isnan(got)) or pd.isna(got), (key, got)
        elif isinstance(value, float):
            assert got == pytest.approx(value), (key, got, value)
        else:
            assert got == value, (key, got, value)


# ---------------------------------------------------------------- kpis


def test_kpis_whole_cohort(session: Session) -> None:
    build_ledger(session)
    df = metrics.kpis(session, as_of=AS_OF)
    assert list(df.columns) == metrics.KPI_COLUMNS
    assert df.attrs["rules"] == "default v1"
    # cohort: D1 D2 D3 D4 D6 (D5 replaced by D6, D7 an increase, D8 signed after as_of)
    assert_figures(
        row(df),
        {
            "signed": 5,
            "started": 3,  # D1 (in production), D2, D6
            "in_production": 1,  # D1
            "terminated": 1,  # D4
            "contracted_yuan": 100_000_000 + 30_000_000 + 50_000_000 + 80_000_000 + 40_000_000 + 60_000_000,  # 360M
            "arrived_yuan": 20_000_000 + 10_000_000 + 5_000_000 + 8_000_000 + 6_000_000 + 2_000_000,  # A1-4, A6, A8
            "fulfillment_rate": 3 / 5,
            "capital_arrival_rate": 51_000_000 / 360_000_000,
            "completion_rate": 1 / 3,
        },
    )
    assert df["contracted_yuan"].dtype == "int64" and df["arrived_yuan"].dtype == "int64"


def test_kpis_by_industry(session: Session) -> None:
    build_ledger(session)
    df = metrics.kpis(session, by="industry", as_of=AS_OF)
    assert list(df.columns) == ["industry", *metrics.KPI_COLUMNS]
    assert_figures(
        row(df, industry="光伏发电"),
        {
            "signed": 2,
            "started": 2,
            "in_production": 1,
            "terminated": 0,
            "contracted_yuan": 100_000_000 + 30_000_000 + 50_000_000,  # D1 + increment D7 + D2
            "arrived_yuan": 20_000_000 + 10_000_000 + 5_000_000 + 8_000_000,  # A1 A2 A3 A4
            "fulfillment_rate": 2 / 2,
            "capital_arrival_rate": 43 / 180,
            "completion_rate": 1 / 2,
        },
    )
    assert_figures(
        row(df, industry="装备制造"),
        {
            "signed": 2,
            "started": 0,
            "in_production": 0,
            "terminated": 1,
            "contracted_yuan": 120_000_000,
            "arrived_yuan": 2_000_000,  # A8 only (A7 after as_of)
            "fulfillment_rate": 0.0,
            "capital_arrival_rate": 2 / 120,
            "completion_rate": None,  # no started deal: 0 ÷ 0 is empty, not an error
        },
    )
    assert_figures(
        row(df, industry="商贸流通"),
        {
            "signed": 1,
            "started": 1,
            "in_production": 0,
            "terminated": 0,
            "contracted_yuan": 60_000_000,
            "arrived_yuan": 6_000_000,  # D6 only; D5 and A5 left out
            "fulfillment_rate": 1.0,
            "capital_arrival_rate": 0.1,
            "completion_rate": 0.0,
        },
    )
    assert len(df) == 3


def test_kpis_by_two_dimensions_and_signing_month(session: Session) -> None:
    build_ledger(session)
    df = metrics.kpis(session, by=["leader", "signing_year"], as_of=AS_OF)
    assert list(df.columns)[:2] == ["leader", "signing_year"]
    # 王县长: D1 (2024) and D2 (2025); 李副县长: D3, D4 (2025), D6 (2025)
    assert row(df, leader="王县长", signing_year=2024)["contracted_yuan"] == 130_000_000  # D1 + D7 increment
    assert row(df, leader="李副县长", signing_year=2025)["signed"] == 3
    months = metrics.kpis(session, by="signing_month", as_of=AS_OF)
    assert list(months["signing_month"]) == [
        date(2024, 3, 1),
        date(2025, 4, 1),
        date(2025, 6, 1),
        date(2025, 9, 1),
        date(2025, 12, 1),
    ]


def test_kpis_filters_and_empty_group(session: Session) -> None:
    build_ledger(session)
    df = metrics.kpis(session, as_of=AS_OF, unit="工业园区")
    assert_figures(row(df), {"signed": 2, "contracted_yuan": 120_000_000})
    empty = metrics.kpis(session, as_of=AS_OF, industry="文化旅游")
    # no deal in the group: counts 0, every rate empty
    assert_figures(
        row(empty),
        {
            "signed": 0,
            "started": 0,
            "contracted_yuan": 0,
            "arrived_yuan": 0,
            "fulfillment_rate": None,
            "capital_arrival_rate": None,
            "completion_rate": None,
        },
    )
    assert metrics.kpis(session, by="industry", as_of=AS_OF, industry="文化旅游").empty


def test_kpis_signing_window(session: Session) -> None:
    build_ledger(session)
    df = metrics.kpis(session, as_of=AS_OF, signed_from=date(2025, 1, 1), signed_to=date(2025, 12, 31))
    # D2 D3 D4 D6
    assert_figures(
        row(df),
        {
            "signed": 4,
            "started": 2,
            "terminated": 1,
            "contracted_yuan": 50_000_000 + 80_000_000 + 40_000_000 + 60_000_000,
            "arrived_yuan": 8_000_000 + 2_000_000 + 6_000_000,
        },
    )


def test_kpis_as_of_takes_states_and_replacements_at_that_date(session: Session) -> None:
    build_ledger(session)
    # 2025-11-01: D6 not yet signed, so D5 still counts (terminated 2025-10-01); D7 not yet signed
    df = metrics.kpis(session, as_of=date(2025, 11, 1))
    assert_figures(
        row(df),
        {
            "signed": 5,  # D1 D2 D3 D4 D5
            "started": 2,  # D1 (in production), D2 (started 2025-08-01)
            "in_production": 1,
            "terminated": 1,  # D5; D4 ends only 2026-02-01
            "contracted_yuan": 100_000_000 + 50_000_000 + 80_000_000 + 40_000_000 + 60_000_000,
            "arrived_yuan": 20_000_000 + 3_000_000,  # A1 and A5 (D5 not yet replaced)
        },
    )
    # 2025-12-31: D6 replaced D5; the pair counts once, as D6
    df = metrics.kpis(session, as_of=date(2025, 12, 31))
    assert_figures(
        row(df),
        {
            "signed": 5,
            "terminated": 0,
            "started": 2,
            "contracted_yuan": 330_000_000,
            "arrived_yuan": 20_000_000 + 2_000_000,
        },
    )


def test_kpis_refuses_unknown_dimension_or_filter(session: Session) -> None:
    with pytest.raises(InvalidValue, match="by: group by one of industry"):
        metrics.kpis(session, by="colour")
    with pytest.raises(InvalidValue, match="filter: filter by one of industry"):
        metrics.kpis(session, colour="red")


# ---------------------------------------------------------------- counting-rule switches


DEFAULT_TOTALS = {
    "signed": 5,
    "started": 3,
    "in_production": 1,
    "terminated": 1,
    "contracted_yuan": 360_000_000,
    "arrived_yuan": 51_000_000,
    "fulfillment_rate": 3 / 5,
    "capital_arrival_rate": 51 / 360,
    "completion_rate": 1 / 3,
}


def _changed(session: Session, rules: str) -> dict[str, Any]:
    df = metrics.kpis(session, as_of=AS_OF, rules=rules)
    assert df.attrs["rules"] == f"{rules} v1"
    figures = row(df)
    return {k: figures[k] for k, v in DEFAULT_TOTALS.items() if figures[k] != pytest.approx(v)}


def test_rule_fulfillment_not_terminated_changes_only_fulfillment(session: Session) -> None:
    build_ledger(session)
    save_rules(session, "r", fulfillment_basis="not_terminated", actor="t")
    assert _changed(session, "r") == {"fulfillment_rate": pytest.approx((5 - 1) / 5)}


def test_rule_completion_over_signed_changes_only_completion(session: Session) -> None:
    build_ledger(session)
    save_rules(session, "r", completion_basis="signed", actor="t")
    assert _changed(session, "r") == {"completion_rate": pytest.approx(1 / 5)}


def test_rule_sources_change_only_arrived_capital(session: Session) -> None:
    build_ledger(session)
    save_rules(session, "r", sources=["省外", "县际"], actor="t")
    # A1 20 + A3 5 + A4 8 = 33M (境外 A2, A8 and 市外省内 A6 left out)
    assert _changed(session, "r") == {"arrived_yuan": 33_000_000, "capital_arrival_rate": pytest.approx(33 / 360)}


def test_rule_verified_only_changes_only_arrived_capital(session: Session) -> None:
    build_ledger(session)
    save_rules(session, "r", verified_only=True, actor="t")
    # A1 20 + A3 5 + A4 8 + A8 2 = 35M (A2 and A6 were only reported)
    assert _changed(session, "r") == {"arrived_yuan": 35_000_000, "capital_arrival_rate": pytest.approx(35 / 360)}


def test_rule_cohort_window_changes_the_cohort(session: Session) -> None:
    build_ledger(session)
    save_rules(session, "r", cohort_years=1, actor="t")
    # signed after 2025-06-30: D4 (2025-09-01) and D6 (2025-12-01)
    assert _changed(session, "r") == {
        "signed": 2,
        "started": 1,
        "in_production": 0,
        "contracted_yuan": 40_000_000 + 60_000_000,
        "arrived_yuan": 2_000_000 + 6_000_000,
        "fulfillment_rate": pytest.approx(1 / 2),
        "capital_arrival_rate": pytest.approx(8 / 100),
        "completion_rate": pytest.approx(0 / 1),
    }


# ---------------------------------------------------------------- arrivals by month


def test_arrivals_by_month(session: Session) -> None:
    build_ledger(session)
    df = metrics.arrivals_by_month(session, year=2026)
    assert list(df.columns) == ["month", "arrived_yuan", "last_year_yuan"]
    assert list(df["month"]) == list(range(1, 13))
    this = dict(zip(df["month"], df["arrived_yuan"], strict=True))
    last = dict(zip(df["month"], df["last_year_yuan"], strict=True))
    assert this == {
        1: 0,
        2: 0,
        3: 10_000_000,
        4: 5_000_000 + 6_000_000,
        5: 8_000_000,
        6: 0,
        7: 1_000_000,
        8: 0,
        9: 0,
        10: 0,
        11: 0,
        12: 0,
    }
    # 2025: A1 in March, A8 in December; A5 (January) is on the replaced D5
    assert {m: v for m, v in last.items() if v} == {3: 20_000_000, 12: 2_000_000}
    verified = metrics.arrivals_by_month(session, year=2026, rules=_save(session, verified_only=True))
    assert int(verified["arrived_yuan"].sum()) == 5_000_000 + 8_000_000 + 1_000_000  # A3 A4 A7
    as_of = metrics.arrivals_by_month(session, year=2026, as_of=date(2026, 4, 10))
    assert int(as_of["arrived_yuan"].sum()) == 10_000_000 + 5_000_000  # A2 A3, up to 2026-04-10
    assert int(as_of["last_year_yuan"].sum()) == 20_000_000  # A1, up to 2025-04-10


def _save(session: Session, **kwargs: Any) -> str:
    rules = save_rules(session, "r", actor="t", **kwargs)
    return f"r v{rules.version}"


def test_each_figure_is_one_grouped_query_over_the_ledger(session: Session) -> None:
    """The figures run in the database: one statement over deals/arrivals each, whatever the ledger size."""
    from sqlalchemy import event

    build_ledger(session)
    save_rules(session, "r", actor="t")
    engine = session.get_bind()
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "capital_arrival" in statement or "FROM deal" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for figure in (
            lambda: metrics.kpis(session, by="industry,unit", as_of=AS_OF, rules="r"),
            lambda: metrics.arrivals_by_month(session, year=2026, rules="r"),
        ):
            statements.clear()
            figure()
            assert len(statements) == 1, statements
            assert "GROUP BY" in statements[0] or "group by" in statements[0].lower()
    finally:
        event.remove(engine, "before_cursor_execute", count)

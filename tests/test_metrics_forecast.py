"""Forecast (预计完成) of targets and growth-only targets next to quarter targets; worked out by hand.

  deal  signed      contracted
  F1    2024-01-10  1,000,000,000
  F2    2026-02-01     10,000,000
  F3    2026-05-01     10,000,000

  arrivals of F1 (省外, verified): 2025-02-10 1,000,000; 2025-05-20 3,000,000; 2025-09-01 6,000,000
  (2025: 10,000,000 in all, 4,000,000 by 2025-06-30, a share of 0.4); 2026-03-01 2,000,000;
  2026-06-15 3,000,000 (5,000,000 by 2026-06-30).

As of 2026-06-30 (181 of 365 days of the year, the second quarter just ended).
"""

from __future__ import annotations

from datetime import date

from factories import make_deal
from sqlmodel import Session
from test_metrics_period import check, one

from crm import metrics
from crm.metrics.targets import forecast_of
from crm.models import CapitalArrival
from crm.targets import parse_period, set_target

AS_OF = date(2026, 6, 30)


def build(session: Session) -> None:
    f1 = make_deal(session, project_name="F1", signed_on=date(2024, 1, 10), contracted_yuan=1_000_000_000)
    make_deal(session, project_name="F2", signed_on=date(2026, 2, 1), contracted_yuan=10_000_000)
    make_deal(session, project_name="F3", signed_on=date(2026, 5, 1), contracted_yuan=10_000_000)
    for on, yuan in [
        (date(2025, 2, 10), 1_000_000),
        (date(2025, 5, 20), 3_000_000),
        (date(2025, 9, 1), 6_000_000),
        (date(2026, 3, 1), 2_000_000),
        (date(2026, 6, 15), 3_000_000),
    ]:
        session.add(
            CapitalArrival(deal_id=f1.id, arrived_on=on, arrived_yuan=yuan, source="other_province", verified=True)
        )
    session.commit()


def test_forecast_by_last_years_shape_and_by_straight_pace(session: Session) -> None:
    build(session)
    set_target(session, metric="arrived_yuan", period="2026", amount_yuan="2000万", actor="t")
    set_target(session, metric="arrived_yuan", period="2026Q3", amount_yuan="800万", actor="t")
    set_target(session, metric="deals_signed", period="2026", count=4, actor="t")
    df = metrics.target_progress(session, as_of=AS_OF)
    year = one(df, metric="arrived_yuan", period="2026")
    # last year reached 4,000,000 of 10,000,000 by 2026-06-30's day: 5,000,000 ÷ 0.4
    check(year, {"actual": 5_000_000, "last_year": 4_000_000, "forecast": 12_500_000, "forecast_gap": 7_500_000})
    assert "straight pace" not in year["note"]
    # nothing signed in 2025: straight pace, 2 × 365 ÷ 181 = 4.03 -> 4
    signed = one(df, metric="deals_signed", period="2026")
    check(signed, {"actual": 2, "forecast": 4, "forecast_gap": 0})
    assert "forecast at straight pace (nothing last year)" in signed["note"]
    # the quarter has not begun on 2026-06-30: no forecast
    later = metrics.target_progress(session, as_of=date(2026, 8, 15))
    q3 = one(later, metric="arrived_yuan", period="2026Q3")
    # Q3 2025 brought 6,000,000, none of it by 08-15: straight pace over 0 arrived so far = 0
    check(q3, {"actual": 0, "forecast": 0, "forecast_gap": 8_000_000})
    assert "nothing by this day last year" in q3["note"]
    check(one(later, metric="arrived_yuan", period="2026"), {"forecast": 12_500_000})  # 5,000,000 × 10 ÷ 4
    assert df["forecast"].dtype == "Int64" and df["forecast_gap"].dtype == "Int64"


def test_forecast_of_rules() -> None:
    q2 = parse_period("2026Q2")
    assert forecast_of(3, 1, 4, q2, date(2026, 5, 1)) == (12, "")  # 3 × 4 ÷ 1
    assert forecast_of(7, 0, 0, q2, date(2026, 6, 30)) == (7, "")  # the period has ended
    assert forecast_of(None, 1, 2, q2, date(2026, 5, 1)) == (None, "")
    assert forecast_of(5, 1, 2, q2, date(2026, 3, 31)) == (None, "")  # not begun
    # straight pace: 30 days of 91 elapsed on 04-30, 10 × 91 ÷ 30 = 30.33 -> 30
    assert forecast_of(10, 0, 0, q2, date(2026, 4, 30))[0] == 30


def test_growth_only_year_target_next_to_quarter_targets(session: Session) -> None:
    """A growth-only year target of a metric with quarter targets used to raise TypeError (Fraction(NaN))."""
    build(session)
    set_target(session, metric="arrived_yuan", period="2026", growth="10%", actor="t")
    set_target(session, metric="arrived_yuan", period="2026Q1", amount_yuan="300万", actor="t")
    set_target(session, metric="arrived_yuan", period="2026Q2", amount_yuan="400万", actor="t")
    set_target(session, metric="arrived_yuan", period="2026-06", amount_yuan="100万", actor="t")
    df = metrics.target_progress(session, as_of=date(2026, 6, 15))
    year = one(df, metric="arrived_yuan", period="2026")
    check(year, {"target": None, "target_to_date": None, "completion": None, "gap": None, "forecast_gap": None})
    # 5,000,000 against 4,000,000 by 2025-06-15: +25%, 15 points over the growth target
    check(year, {"actual": 5_000_000, "last_year": 4_000_000, "yoy": 0.25, "growth_target": 0.1, "growth_gap": 15.0})
    assert year["note"].startswith("growth target only")
    q2 = one(df, metric="arrived_yuan", period="2026Q2")
    # Q2: April and May whole (the finest targets that cover them: the quarter's daily rate),
    # June by the month target: 4,000,000 × 61 ÷ 91 + 1,000,000 × 15 ÷ 30 = 2,681,319 + 500,000
    check(q2, {"target": 4_000_000, "actual": 3_000_000, "target_to_date": 3_181_319})
    month = one(df, metric="arrived_yuan", period="2026-06")
    check(month, {"target": 1_000_000, "target_to_date": 500_000, "actual": 3_000_000, "completion": 3.0})

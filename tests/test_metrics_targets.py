"""Progress against targets, rankings and the scorecard; expected values worked out by hand.

Uses the ledger of test_metrics.py (see its docstring for the deals and arrivals).
"""

from __future__ import annotations

from datetime import date

import pytest
from factories import make_deal
from sqlmodel import Session
from test_metrics import AS_OF, assert_figures, build_ledger, row

from crm import metrics
from crm.errors import InvalidValue
from crm.models import CapitalArrival
from crm.targets import save_rules, set_target

# days of 2026 up to 2026-06-30: 31 + 28 + 31 + 30 + 31 + 30 = 181 of 365
YEAR_PROGRESS = 181 / 365


def test_county_arrivals_against_the_year_target(session: Session) -> None:
    build_ledger(session)
    set_target(session, metric="arrived_yuan", period="2026", amount_yuan="2亿", growth=0.1, actor="t")
    df = metrics.target_progress(session, as_of=AS_OF)
    assert list(df.columns) == metrics.TARGET_COLUMNS
    actual = 10_000_000 + 5_000_000 + 8_000_000 + 6_000_000  # A2 A3 A4 A6 in 2026 up to 06-30 = 29M
    last_year = 20_000_000  # A1 on 2025-03-01 (A5 is on the replaced D5)
    to_date = 99_178_082  # 200,000,000 × 181 = 36,200,000,000; ÷ 365 = 99,178,082.2 -> 99,178,082
    assert_figures(
        row(df, metric="arrived_yuan", scope="county"),
        {
            "period": "2026",
            "target": 200_000_000,
            "target_to_date": to_date,
            "actual": actual,
            "completion": 29 / 200,  # 0.145
            "time_progress": YEAR_PROGRESS,
            "gap": to_date - actual,  # 70,178,082 behind schedule
            "last_year": last_year,
            "yoy": (29 - 20) / 20,  # 0.45
            "yoy_diff": 9_000_000,
            "growth_target": 0.1,
            "growth_gap": (0.45 - 0.10) * 100,  # 35 percentage points
            "rules": "default v1",
            "note": "",
        },
    )
    assert df.attrs["rules"] == "default v1"


def test_unit_quarters_give_a_quarter_row_and_the_finest_target_to_date(session: Session) -> None:
    build_ledger(session)
    for period, amount in (("2026", "1亿"), ("2026Q1", "1000万"), ("2026Q2", "3000万")):
        set_target(session, metric="arrived_yuan", period=period, amount_yuan=amount, scope="县商务局", actor="t")
    as_of = date(2026, 5, 15)
    df = metrics.target_progress(session, as_of=as_of)
    # Q1 ended: 10,000,000; Q2: Apr 1..May 15 = 45 of 91 days: 30,000,000 × 45 / 91 = 14,835,164.8
    # year to date = 24,835,164.8 -> 24,835,165; Q2 alone -> 14,835,165
    year_row = row(df, scope="县商务局", period="2026")
    quarter_row = row(df, scope="县商务局", period="2026Q2")
    # 县商务局 deals: D1 (+D7), D2, D6. 2026 up to 05-15: A2 10M + A3 5M + A4 8M + A6 6M
    assert_figures(
        year_row,
        {
            "target": 100_000_000,
            "target_to_date": 24_835_165,
            "actual": 29_000_000,
            "completion": 0.29,
            "gap": 24_835_165 - 29_000_000,
            "time_progress": (31 + 28 + 31 + 30 + 15) / 365,
            "last_year": 20_000_000,
            "yoy": 0.45,
        },
    )  # A1 2025-03-01
    # Q2 up to 05-15: A3 5M + A4 8M + A6 6M; same days of 2025: nothing -> yoy empty
    assert_figures(
        quarter_row,
        {
            "target": 30_000_000,
            "target_to_date": 14_835_165,
            "actual": 19_000_000,
            "completion": 19 / 30,
            "time_progress": 45 / 91,
            "last_year": 0,
            "yoy": None,
            "yoy_diff": 19_000_000,
            "growth_gap": None,
        },
    )
    assert "no data last year" in quarter_row["note"]
    assert set(df["period"]) == {"2026", "2026Q2"}  # Q1 is over: no row of its own


def test_count_targets_and_leader_scope(session: Session) -> None:
    build_ledger(session)
    set_target(session, metric="deals_signed", period="2026", count=4, scope="李副县长", actor="t")
    set_target(session, metric="deals_started", period="2026", count=2, actor="t")
    set_target(session, metric="contracted_yuan", period="2026", amount_yuan="1亿", growth=0.2, actor="t")
    df = metrics.target_progress(session, as_of=AS_OF)
    # 李副县长 deals signed in 2026 up to 06-30: none (D6 was 2025-12-01); 2025 Jan..Jun: D3 (06-01)
    assert_figures(
        row(df, metric="deals_signed"), {"actual": 0, "last_year": 1, "yoy": -1.0, "yoy_diff": -1, "completion": 0.0}
    )
    # deals started in 2026 up to 06-30: D6 (2026-03-01); 2025 Jan..Jun: D1 started 2024, D2 2025-08 -> none
    assert_figures(row(df, metric="deals_started"), {"actual": 1, "last_year": 0, "yoy": None, "completion": 0.5})
    # contracted in 2026: D7's increment 30M (D8 after as_of); 2025 Jan..Jun: D2 50M + D3 80M = 130M
    assert_figures(
        row(df, metric="contracted_yuan"),
        {
            "actual": 30_000_000,
            "last_year": 130_000_000,
            "yoy": (30 - 130) / 130,
            "yoy_diff": -100_000_000,
            "growth_target": 0.2,
            "growth_gap": ((30 - 130) / 130 - 0.2) * 100,
            "completion": 0.3,
        },
    )


def test_zero_target_gives_no_completion_and_says_so(session: Session) -> None:
    build_ledger(session)
    set_target(session, metric="deals_signed", period="2026", count=0, actor="t")
    r = row(metrics.target_progress(session, as_of=AS_OF), metric="deals_signed")
    assert_figures(r, {"target": 0, "target_to_date": 0, "completion": None})
    assert "zero target" in r["note"]


def test_as_of_before_the_first_target(session: Session) -> None:
    build_ledger(session)
    set_target(session, metric="contracted_yuan", period="2026-04", amount_yuan="1000万", actor="t")
    set_target(session, metric="contracted_yuan", period="2026-05", amount_yuan="1000万", actor="t")
    r = row(metrics.target_progress(session, as_of=date(2026, 3, 15)), metric="contracted_yuan")
    # the year's target is the months' 20M; nothing is due before April
    assert_figures(
        r,
        {
            "period": "2026",
            "target": 20_000_000,
            "target_to_date": 0,
            "completion": None,
            "actual": 30_000_000,
            "gap": -30_000_000,
        },
    )  # D7 signed 2026-02-01
    assert "before the first target period (2026-04-01)" in r["note"]
    whole_year_before = metrics.target_progress(session, as_of=date(2025, 12, 31), year=2026)
    assert_figures(
        row(whole_year_before, metric="contracted_yuan"),
        {"target_to_date": 0, "completion": None, "time_progress": 0.0, "actual": 0},
    )


def test_growth_only_target(session: Session) -> None:
    build_ledger(session)
    set_target(session, metric="arrived_yuan", period="2026", growth="10%", actor="t")
    r = row(metrics.target_progress(session, as_of=AS_OF), metric="arrived_yuan")
    assert_figures(
        r, {"target": None, "target_to_date": None, "completion": None, "gap": None, "yoy": 0.45, "growth_gap": 35.0}
    )
    assert r["note"] == "growth target only"


def test_no_targets_gives_an_empty_frame_with_the_columns(session: Session) -> None:
    df = metrics.target_progress(session, as_of=AS_OF)
    assert df.empty and list(df.columns) == metrics.TARGET_COLUMNS


def test_rule_switch_changes_target_actuals(session: Session) -> None:
    build_ledger(session)
    set_target(session, metric="arrived_yuan", period="2026", amount_yuan="2亿", actor="t")
    set_target(session, metric="deals_signed", period="2026", count=2, actor="t")
    save_rules(session, "verified", verified_only=True, actor="t")
    default = metrics.target_progress(session, as_of=AS_OF).set_index("metric")
    verified = metrics.target_progress(session, as_of=AS_OF, rules="verified").set_index("metric")
    # verified only: 2026 A3 5M + A4 8M = 13M; 2025 Jan..Jun A1 20M (verified)
    assert_figures(
        verified.loc["arrived_yuan"].to_dict(),
        {
            "actual": 13_000_000,
            "completion": 13 / 200,
            "last_year": 20_000_000,
            "yoy": (13 - 20) / 20,
            "rules": "verified v1",
        },
    )
    assert default.loc["arrived_yuan", "actual"] == 29_000_000
    # deal counts do not depend on which arrivals count
    assert verified.loc["deals_signed", "actual"] == default.loc["deals_signed", "actual"] == 0


# ---------------------------------------------------------------- rankings


def _ranking_ledger(session: Session) -> None:
    """Three units with 2026 arrival targets; U2's deal is credited to U2 though U1 is responsible."""
    d1 = make_deal(session, project_name="P1", unit="U1", leader="甲")
    d2 = make_deal(session, project_name="P2", unit="U1", credited_unit="U2", leader="乙", introducer="张引资")
    d3 = make_deal(session, project_name="P3", unit="U3", leader="丙", introducer="李引资")
    for deal, yuan in ((d1, 5_000_000), (d2, 10_000_000), (d3, 1_000_000)):
        session.add(
            CapitalArrival(deal_id=deal.id, arrived_on=date(2026, 4, 1), arrived_yuan=yuan, source="other_province")
        )
    session.commit()
    for unit, amount in (("U1", 10_000_000), ("U2", 20_000_000), ("U3", 10_000_000)):
        set_target(session, metric="arrived_yuan", period="2026", amount_yuan=amount, scope=unit, actor="t")


def test_ranking_by_unit_ties_broken_by_amount_and_last_flagged(session: Session) -> None:
    _ranking_ledger(session)
    df = metrics.ranking(session, as_of=date(2026, 12, 31), by="unit")
    assert list(df.columns) == metrics.RANKING_COLUMNS
    # U1: 5M ÷ 10M = 0.5; U2: 10M ÷ 20M = 0.5 (credited unit) ; U3: 1M ÷ 10M = 0.1
    assert list(df["name"]) == ["U2", "U1", "U3"]  # U2 and U1 tie at 0.5; U2 has more
    assert list(df["rank"]) == [1, 2, 3]
    assert list(df["completion"]) == pytest.approx([0.5, 0.5, 0.1])
    assert list(df["last"]) == [False, False, True]
    assert list(df["target_to_date"]) == [20_000_000, 10_000_000, 10_000_000]  # year over: whole target


def test_ranking_mid_year_and_by_leader_and_introducer(session: Session) -> None:
    _ranking_ledger(session)
    df = metrics.ranking(session, as_of=AS_OF, by="unit")
    # 20,000,000 × 181 / 365 = 9,917,808.2 ; 10,000,000 × 181 / 365 = 4,958,904.1
    assert_figures(row(df, name="U2"), {"target_to_date": 9_917_808, "actual": 10_000_000, "completion": 0.5})
    assert_figures(row(df, name="U3"), {"target_to_date": 4_958_904, "last": True})
    leaders = metrics.ranking(session, as_of=AS_OF, by="leader")
    # no leader targets: order by amount; 乙 10M, 甲 5M, 丙 1M
    assert list(leaders["name"]) == ["乙", "甲", "丙"]
    assert leaders["completion"].isna().all() and set(leaders["note"]) == {"no target"}
    introducers = metrics.ranking(session, as_of=AS_OF, by="introducer")
    assert list(introducers["name"]) == ["张引资", "李引资"]  # P1 has no introducer
    assert list(introducers["actual"]) == [10_000_000, 1_000_000]
    assert list(introducers["last"]) == [False, True]


def test_ranking_of_one_is_not_last_and_bad_arguments(session: Session) -> None:
    make_deal(session)
    session.commit()
    set_target(session, metric="deals_signed", period="2026", count=2, scope="县商务局", actor="t")
    df = metrics.ranking(session, as_of=AS_OF, by="unit", metric="deals_signed")
    assert_figures(row(df), {"rank": 1, "actual": 1, "completion": 0.5, "last": False})
    with pytest.raises(InvalidValue, match="by: rank by one of unit, leader, introducer"):
        metrics.ranking(session, as_of=AS_OF, by="squad")
    with pytest.raises(InvalidValue, match="metric: rank by one of arrived_yuan"):
        metrics.ranking(session, as_of=AS_OF, metric="reserve_yuan")


def test_scorecard(session: Session) -> None:
    _ranking_ledger(session)
    for unit, count, weight in (("U1", 1, 0.4), ("U2", 2, 0.4)):
        set_target(session, metric="deals_signed", period="2026", count=count, scope=unit, weight=weight, actor="t")
    for unit in ("U1", "U2", "U3"):
        set_target(session, metric="arrived_yuan", period="2026", scope=unit, weight=0.6, actor="t")
    as_of = date(2026, 12, 31)  # the year is over: target to date = target
    df = metrics.scorecard(session, as_of=as_of, by="unit")
    assert list(df.columns) == [
        "rank",
        "name",
        "score",
        "arrived_yuan_ratio",
        "deals_signed_ratio",
        "last",
        "note",
        "rules",
    ]
    # U1: arrived 5M/10M = 0.5; signed P1 and P2 (unit_key: U1 for P1, U2 for P2) -> 1/1 = 1.0
    #     score = 0.6 × 0.5 + 0.4 × 1.0 = 0.70
    # U2: arrived 10M/20M = 0.5; signed P2 -> 1/2 = 0.5; score = 0.3 + 0.2 = 0.50
    # U3: arrived 1M/10M = 0.1; no deals target; score = 0.6 × 0.1 = 0.06
    assert list(df["name"]) == ["U1", "U2", "U3"]
    assert list(df["score"]) == pytest.approx([0.70, 0.50, 0.06])
    assert list(df["last"]) == [False, False, True]
    # weights given and a cap: U1's deals ratio 1.0 is not capped at 1.2; with cap 0.8 it is
    capped = metrics.scorecard(
        session, as_of=as_of, by="unit", weights={"arrived_yuan": 1.0, "deals_signed": 1.0}, cap=0.8
    )
    # U1: 0.5 + min(1.0, 0.8) = 1.3; U2: 0.5 + 0.5 = 1.0; U3: 0.1
    assert list(capped["score"]) == pytest.approx([1.3, 1.0, 0.1])
    with pytest.raises(InvalidValue, match="cap"):
        metrics.scorecard(session, as_of=as_of, cap=0)
    with pytest.raises(InvalidValue, match="weights are per metric"):
        metrics.scorecard(session, as_of=as_of, weights={"speed": 1.0})


def test_scorecard_before_any_target_is_due(session: Session) -> None:
    _ranking_ledger(session)
    df = metrics.scorecard(session, as_of=date(2025, 12, 31), year=2026)
    assert list(df["score"]) == [0.0, 0.0, 0.0]
    assert set(df["note"]) == {"no target to date yet: arrived_yuan"}
    assert not df["last"].any()  # all tied


def test_county_unit_and_leader_targets_in_one_report_and_the_cohort_window(session: Session) -> None:
    """County, unit and leader targets of different metrics together; the cohort rule on each."""
    build_ledger(session)
    set_target(session, metric="contracted_yuan", period="2026", amount_yuan="1亿", actor="t")
    set_target(session, metric="arrived_yuan", period="2026", amount_yuan="1000万", scope="工业园区", actor="t")
    set_target(session, metric="arrived_yuan", period="2026", amount_yuan="1000万", scope="李副县长", actor="t")
    save_rules(session, "one year", cohort_years=1, actor="t")
    as_of = date(2026, 7, 31)  # 31 + 28 + 31 + 30 + 31 + 30 + 31 = 212 days of 365
    df = metrics.target_progress(session, as_of=as_of)
    assert len(df) == 3
    # county contracted in 2026 up to 07-31: D7's increment 30M + D8 10M (07-15);
    # 2025 up to 07-31: D2 50M + D3 80M. 100,000,000 × 212 / 365 = 58,082,191.8 -> 58,082,192
    assert_figures(
        row(df, metric="contracted_yuan", scope="county"),
        {"actual": 40_000_000, "last_year": 130_000_000, "target_to_date": 58_082_192, "completion": 0.4},
    )
    # 工业园区 (D3, D4): A7 1M on D3 (07-01); nothing in 2025 up to 07-31 (A8 is 2025-12-01)
    # 10,000,000 × 212 / 365 = 5,808,219.2 -> 5,808,219
    assert_figures(
        row(df, scope="工业园区"),
        {"actual": 1_000_000, "last_year": 0, "yoy": None, "target_to_date": 5_808_219, "completion": 0.1},
    )
    # 李副县长 (D3, D4, D6; D5 replaced by D6): A6 6M + A7 1M; A5 (2025-01-10) is on the replaced D5
    leader = row(df, scope="李副县长")
    assert_figures(leader, {"actual": 7_000_000, "last_year": 0, "completion": 0.7})
    assert "no data last year" in leader["note"]

    # cohort of one year: deals signed after 2025-07-31 this year, after 2024-07-31 for last year
    one_year = metrics.target_progress(session, as_of=as_of, rules="one year")
    # D7 counts with its root D1 (signed 2024): out; D8 in. Last year: D2 and D3 signed after 2024-07-31
    assert_figures(row(one_year, scope="county"), {"actual": 10_000_000, "last_year": 130_000_000})
    assert_figures(row(one_year, scope="工业园区"), {"actual": 0})  # D3 signed 2025-06-01: out
    assert_figures(row(one_year, scope="李副县长"), {"actual": 6_000_000})  # D6 signed 2025-12-01: in

"""Period figures and size classes on a small hand-built ledger; every expected value is worked out here.

The period is 2026H1 (2026-01-01..2026-06-30); last year is 2025H1 (2025-01-01..2025-06-30).

  deal  signed      contracted     events
  P1    2024-02-01   80,000,000    started 2026-03-01 (signed two years before the period)
  P1i   2026-04-01   30,000,000    capital increase of P1: lifts P1 to 1.1亿 from 2026-04-01
  P2    2024-05-01  200,000,000    started 2026-05-10 (signed two years before)
  P3    2025-03-01   50,000,000    started 2025-06-01, in production 2026-02-01
  P4    2025-02-01  150,000,000    terminated 2025-09-01, REPLACED by P5 (new investor)
  P5    2026-01-15  150,000,000    replaces P4; started 2026-06-01
  P6    2026-02-01    3,000,000    装备制造; nothing else (below the 500万 floor)
  P7    2025-05-01 1,200,000,000   started 2025-05-20

  arrival  deal  on          yuan        source    verified
  R1       P1    2026-03-05  10,000,000  省外      yes
  R2       P1i   2026-05-01   5,000,000  省外      yes   (counts under P1)
  R3       P4    2025-04-01   2,000,000  境外      yes   (P4 not yet replaced on 2025-06-30)
  R4       P5    2026-06-10   8,000,000  县际      no
  R5       P7    2025-06-01  30,000,000  省外      yes
  R6       P3    2026-07-01   1,000,000  省外      yes   (after the period)
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pandas as pd
import pytest
from factories import make_deal
from sqlmodel import Session

from crm import deals, metrics
from crm.errors import InvalidValue
from crm.models import CapitalArrival, Deal
from crm.targets import save_rules, set_target

H1 = {"start": date(2026, 1, 1), "end": date(2026, 6, 30)}
YI = 100_000_000


def build_ledger(session: Session) -> dict[str, Deal]:
    d: dict[str, Deal] = {}
    d["P1"] = make_deal(
        session,
        project_name="P1",
        signed_on=date(2024, 2, 1),
        contracted_yuan=80_000_000,
        started_on=date(2026, 3, 1),
        state="started",
    )
    d["P1i"] = make_deal(
        session, project_name="P1 增资", signed_on=date(2026, 4, 1), contracted_yuan=30_000_000, increases_id=d["P1"].id
    )
    d["P2"] = make_deal(
        session,
        project_name="P2",
        signed_on=date(2024, 5, 1),
        contracted_yuan=2 * YI,
        started_on=date(2026, 5, 10),
        state="started",
    )
    d["P3"] = make_deal(
        session,
        project_name="P3",
        signed_on=date(2025, 3, 1),
        contracted_yuan=50_000_000,
        started_on=date(2025, 6, 1),
        completed_on=date(2026, 2, 1),
        state="in_production",
    )
    d["P4"] = make_deal(
        session,
        project_name="P4",
        signed_on=date(2025, 2, 1),
        contracted_yuan=150_000_000,
        terminated_on=date(2025, 9, 1),
        state="terminated",
    )
    d["P5"] = make_deal(
        session,
        project_name="P4",
        investor="浙江新投资有限公司",
        signed_on=date(2026, 1, 15),
        contracted_yuan=150_000_000,
        started_on=date(2026, 6, 1),
        state="started",
        replaces_id=d["P4"].id,
    )
    d["P6"] = make_deal(
        session, project_name="P6", industry="装备制造", signed_on=date(2026, 2, 1), contracted_yuan=3_000_000
    )
    d["P7"] = make_deal(
        session,
        project_name="P7",
        signed_on=date(2025, 5, 1),
        contracted_yuan=12 * YI,
        started_on=date(2025, 5, 20),
        state="started",
    )
    arrivals = [
        ("P1", date(2026, 3, 5), 10_000_000, "other_province", True),
        ("P1i", date(2026, 5, 1), 5_000_000, "other_province", True),
        ("P4", date(2025, 4, 1), 2_000_000, "overseas", True),
        ("P5", date(2026, 6, 10), 8_000_000, "other_county", False),
        ("P7", date(2025, 6, 1), 30_000_000, "other_province", True),
        ("P3", date(2026, 7, 1), 1_000_000, "other_province", True),
    ]
    for key, on, yuan, source, verified in arrivals:
        session.add(
            CapitalArrival(deal_id=d[key].id, arrived_on=on, arrived_yuan=yuan, source=source, verified=verified)
        )
    session.commit()
    return d


def one(df: pd.DataFrame, **where: Any) -> dict[str, Any]:
    mask = pd.Series(True, index=df.index)
    for column, value in where.items():
        mask &= df[column] == value
    found = df[mask]
    assert len(found) == 1, f"{where}: {len(found)} rows"
    return found.iloc[0].to_dict()


def check(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        got = actual[key]
        if value is None:
            assert got is None or got is pd.NA or (isinstance(got, float) and math.isnan(got)), (key, got)
        elif isinstance(value, float):
            assert got == pytest.approx(value), (key, got, value)
        else:
            assert got == value, (key, got, value)


def test_half_year_totals(session: Session) -> None:
    build_ledger(session)
    df = metrics.period_figures(session, **H1)
    assert list(df.columns) == metrics.PERIOD_COLUMNS
    assert df.attrs["rules"] == "default v1"
    assert (df.attrs["last_year_start"], df.attrs["last_year_end"]) == (date(2025, 1, 1), date(2025, 6, 30))
    check(
        one(df),
        {
            # P5 (a reassignment counts as a signing by the new investor) and P6; P1i is an increase
            "signed": 2,
            # last year P3, P4 (not replaced until 2026-01-15), P7
            "signed_last_year": 3,
            "signed_diff": -1,
            "signed_yoy": -1 / 3,
            # P1 and P2 signed in 2024 count, and P5
            "started": 3,
            "started_last_year": 2,  # P3, P7
            "started_diff": 1,
            "started_yoy": 0.5,
            "in_production": 1,  # P3
            "in_production_last_year": 0,
            "in_production_diff": 1,
            "in_production_yoy": None,  # nothing last year
            "terminated": 0,
            "terminated_last_year": 0,
            "terminated_yoy": None,
            # P5 + P6 + the increment P1i
            "contracted_yuan": 150_000_000 + 3_000_000 + 30_000_000,
            "contracted_yuan_last_year": 50_000_000 + 150_000_000 + 1_200_000_000,  # P3 P4 P7
            "contracted_yuan_diff": 183_000_000 - 1_400_000_000,
            "contracted_yuan_yoy": (183_000_000 - 1_400_000_000) / 1_400_000_000,
            "arrived_yuan": 10_000_000 + 5_000_000 + 8_000_000,  # R1 R2 R4
            "arrived_yuan_last_year": 2_000_000 + 30_000_000,  # R3 R5
            "arrived_yuan_diff": 23_000_000 - 32_000_000,
        },
    )
    for column in ("signed", "signed_diff", "contracted_yuan", "contracted_yuan_last_year", "arrived_yuan_diff"):
        assert df[column].dtype == "int64", column


def test_major_deals_by_size_then(session: Session) -> None:
    """≥ 1亿: P1 is major in 2026H1 thanks to its increase, not on 2025-06-30 (8000万 then)."""
    build_ledger(session)
    df = metrics.period_figures(session, **H1, min_amount=YI)
    check(
        one(df),
        {
            "signed": 1,  # P5
            "signed_last_year": 2,  # P4, P7
            "started": 3,  # P1 (1.1亿 with its increase), P2, P5
            "started_last_year": 1,  # P7 (P3 is 5000万)
            "started_diff": 2,
            "started_yoy": 2.0,
            "contracted_yuan": 150_000_000 + 30_000_000,  # P5, P1i
            "contracted_yuan_last_year": 150_000_000 + 1_200_000_000,
            "arrived_yuan": 23_000_000,
            "arrived_yuan_last_year": 32_000_000,
        },
    )
    small = metrics.period_figures(session, **H1, max_amount=YI)  # size < 1亿: P3, P6 (and P1 last year)
    check(one(small), {"signed": 1, "started": 0, "in_production": 1, "contracted_yuan": 3_000_000})
    check(one(small), {"signed_last_year": 1, "started_last_year": 1, "contracted_yuan_last_year": 50_000_000})


def test_by_size_class(session: Session) -> None:
    build_ledger(session)
    df = metrics.period_figures(session, **H1, by="size_class")
    assert list(df["size_class"]) == ["500万以下", "500万以上", "亿元以上", "10亿元以上"]
    check(one(df, size_class="500万以下"), {"signed": 1, "contracted_yuan": 3_000_000, "signed_last_year": 0})
    check(
        one(df, size_class="500万以上"),
        {"in_production": 1, "signed": 0, "signed_last_year": 1, "started_last_year": 1, "signed_yoy": -1.0},
    )
    check(
        one(df, size_class="亿元以上"),
        {
            "signed": 1,
            "started": 3,
            "contracted_yuan": 180_000_000,
            "arrived_yuan": 23_000_000,
            "signed_last_year": 1,  # P4
            "contracted_yuan_last_year": 150_000_000,
            "arrived_yuan_last_year": 2_000_000,
        },
    )
    # a group with nothing this half-year still shows last year's figures
    check(
        one(df, size_class="10亿元以上"),
        {"signed": 0, "started": 0, "signed_last_year": 1, "started_last_year": 1, "started_diff": -1},
    )
    assert df["signed"].sum() == 2 and df["started_last_year"].sum() == 2


def test_period_with_nothing_last_year(session: Session) -> None:
    build_ledger(session)
    df = metrics.period_figures(session, start=date(2024, 1, 1), end=date(2024, 6, 30))
    check(
        one(df),
        {
            "signed": 2,  # P1, P2
            "contracted_yuan": 280_000_000,
            "signed_last_year": 0,
            "contracted_yuan_last_year": 0,
            "signed_diff": 2,
            "signed_yoy": None,
            "contracted_yuan_yoy": None,
            "started": 0,
            "started_yoy": None,
        },
    )


def test_reassignment_counts_once_as_the_new_deal(session: Session) -> None:
    build_ledger(session)
    # P4's termination in 2025H2: not yet replaced on 2025-12-31, so it counts
    h2 = metrics.period_figures(session, start=date(2025, 7, 1), end=date(2025, 12, 31))
    check(one(h2), {"terminated": 1, "signed": 0})
    # over 2025-01-01..2026-06-30 P4 is replaced: the pair counts once, as P5 (and R3 leaves)
    long = metrics.period_figures(session, start=date(2025, 1, 1), end=date(2026, 6, 30))
    check(
        one(long),
        {
            "signed": 4,  # P3 P5 P6 P7
            "terminated": 0,
            "contracted_yuan": 50_000_000 + 150_000_000 + 3_000_000 + 1_200_000_000 + 30_000_000,
            "arrived_yuan": 10_000_000 + 5_000_000 + 8_000_000 + 30_000_000,
        },
    )


def test_counting_rules_and_filters(session: Session) -> None:
    build_ledger(session)
    save_rules(session, "strict", actor="test", sources=["省外"], verified_only=True)
    df = metrics.period_figures(session, **H1, rules="strict")
    assert df.attrs["rules"] == "strict v1"
    check(one(df), {"arrived_yuan": 15_000_000, "arrived_yuan_last_year": 30_000_000, "signed": 2})
    only = metrics.period_figures(session, **H1, industry="装备制造")
    check(one(only), {"signed": 1, "started": 0, "contracted_yuan": 3_000_000, "signed_last_year": 0})
    by = metrics.period_figures(session, **H1, by="industry")
    assert list(by["industry"]) == sorted(by["industry"])
    check(one(by, industry="光伏发电"), {"signed": 1, "started": 3, "signed_last_year": 3})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": date(2026, 7, 1), "end": date(2026, 6, 30)}, "start on or before"),
        ({**H1, "by": "squad"}, "group by one of"),
        ({**H1, "min_amount": YI, "max_amount": YI}, "above min_amount"),
        ({**H1, "squad": "一队"}, "filter by one of"),
    ],
)
def test_bad_arguments(session: Session, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidValue, match=match):
        metrics.period_figures(session, **kwargs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026H1", (date(2026, 1, 1), date(2026, 6, 30))),
        ("2026h2", (date(2026, 7, 1), date(2026, 12, 31))),
        ("2026年上半年", (date(2026, 1, 1), date(2026, 6, 30))),
        ("2026Q2", (date(2026, 4, 1), date(2026, 6, 30))),
        ("2026-06", (date(2026, 6, 1), date(2026, 6, 30))),
        ("2024-02", (date(2024, 2, 1), date(2024, 2, 29))),
        (2026, (date(2026, 1, 1), date(2026, 12, 31))),
    ],
)
def test_period_range(text: str, expected: tuple[date, date]) -> None:
    assert metrics.period_range(text) == expected


def test_period_range_refuses_nonsense() -> None:
    with pytest.raises(InvalidValue, match="half-year 2026H1"):
        metrics.period_range("2026H3")


# ---------------------------------------------------------------- kpis: size and where active deals stand


def test_kpis_where_active_deals_stand(session: Session) -> None:
    build_ledger(session)
    # as of 2026-06-30: P1 P2 P3 P5 P6 P7 (P4 replaced by P5)
    check(
        one(metrics.kpis(session, as_of=date(2026, 6, 30))),
        {"signed": 6, "started": 5, "in_production": 1, "terminated": 0}
        | {"unstarted": 1, "in_construction": 4, "active": 5, "start_rate": 5 / 6},
    )
    # as of 2025-12-31: P1 P2 not started yet, P3 P7 building, P4 terminated (not yet replaced)
    check(
        one(metrics.kpis(session, as_of=date(2025, 12, 31))),
        {"signed": 5, "started": 2, "terminated": 1, "unstarted": 2, "in_construction": 2, "active": 4}
        | {"start_rate": 0.4, "fulfillment_rate": 0.4},
    )


def test_kpis_major_deals_with_increase(session: Session) -> None:
    """ "亿元以上的重大项目N个（其中已开工M个，未开工K个）": P1 becomes major on 2026-04-01 with its increase."""
    build_ledger(session)
    march = metrics.kpis(session, as_of=date(2026, 3, 31), min_amount=YI)  # P2 P5 P7 (P1 is 8000万)
    check(one(march), {"signed": 3, "started": 1, "unstarted": 2, "in_construction": 1, "active": 3})
    check(one(march), {"contracted_yuan": 200_000_000 + 150_000_000 + 1_200_000_000, "start_rate": 1 / 3})
    june = metrics.kpis(session, as_of=date(2026, 6, 30), min_amount=YI)  # P1 P2 P5 P7
    check(one(june), {"signed": 4, "started": 4, "unstarted": 0, "in_construction": 4, "active": 4})
    check(one(june), {"contracted_yuan": 110_000_000 + 200_000_000 + 150_000_000 + 1_200_000_000})
    check(one(june), {"arrived_yuan": 10_000_000 + 5_000_000 + 8_000_000 + 30_000_000})
    below = metrics.kpis(session, as_of=date(2026, 6, 30), max_amount=YI)  # P3 P6
    check(one(below), {"signed": 2, "in_production": 1, "unstarted": 1, "active": 1})
    by = metrics.kpis(session, as_of=date(2026, 6, 30), by="size_class")
    assert list(by["size_class"]) == ["500万以下", "500万以上", "亿元以上", "10亿元以上"]
    check(one(by, size_class="亿元以上"), {"signed": 3, "started": 3, "contracted_yuan": 460_000_000})
    check(one(by, size_class="500万以下"), {"signed": 1, "unstarted": 1, "start_rate": 0.0})
    both = metrics.kpis(session, as_of=date(2026, 6, 30), by="industry,size_class")
    check(one(both, industry="装备制造", size_class="500万以下"), {"signed": 1})
    with pytest.raises(InvalidValue, match="above min_amount"):
        metrics.kpis(session, as_of=date(2026, 6, 30), min_amount=YI, max_amount=1)


# ---------------------------------------------------------------- unstarted as of a date, from the dates


def test_unstarted_as_of_agrees_with_kpis(session: Session) -> None:
    """On 2025-12-31 P1 and P2 had not started (they started in 2026) although today they have."""
    build_ledger(session)
    for day, expected in [
        (date(2025, 12, 31), ["P1", "P2"]),  # P4 terminated on 2025-09-01; P3, P7 started
        (date(2026, 1, 31), ["P1", "P2", "P4"]),  # P5 (signed 2026-01-15) replaced P4 and had not started
        (date(2026, 6, 30), ["P6"]),
    ]:
        listed = deals.unstarted(session, as_of=day)
        assert list(listed["project_name"]) == expected, day
        assert len(listed) == int(metrics.kpis(session, as_of=day)["unstarted"].iloc[0]), day
    major = deals.unstarted(session, as_of=date(2026, 3, 31), min_amount=YI)  # P2 and P5; P1 is 8000万 until April
    assert list(major["project_name"]) == ["P2", "P4"]  # P5 carries P4's project name
    assert list(major["size_yuan"]) == [2 * YI, 150_000_000] and list(major["size_class"]) == ["亿元以上"] * 2
    small = deals.unstarted(session, as_of=date(2025, 12, 31), max_amount=YI)
    assert list(small["project_name"]) == ["P1"] and list(small["size_class"]) == ["500万以上"]


# ---------------------------------------------------------------- size classes stored with the counting rules


def test_size_classes_are_stored_with_the_rules(session: Session) -> None:
    build_ledger(session)
    rules = save_rules(session, "major", actor="test", size_classes="重大项目=1亿, 特大项目=5亿")
    assert rules.size_classes == [{"name": "重大项目", "min_yuan": YI}, {"name": "特大项目", "min_yuan": 5 * YI}]
    again = save_rules(session, "major", actor="test", note="kept")  # a new version keeps them
    assert again.version == 2 and again.size_classes == rules.size_classes
    df = metrics.kpis(session, as_of=date(2026, 6, 30), by="size_class", rules="major")
    assert list(df["size_class"]) == ["1亿以下", "重大项目", "特大项目"]
    assert list(df["signed"]) == [2, 3, 1]  # P3 P6 | P1 P2 P5 | P7
    period = metrics.period_figures(session, **H1, by="size_class", rules="major")
    check(one(period, size_class="特大项目"), {"started": 0, "started_last_year": 1})
    back = save_rules(session, "major", actor="test", size_classes="")
    assert back.size_classes is None
    assert list(metrics.kpis(session, as_of=date(2026, 6, 30), by="size_class", rules="major")["size_class"]) == [
        "500万以下",
        "500万以上",
        "亿元以上",
        "10亿元以上",
    ]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("亿元以上", "name=floor"),
        ("a=1亿,a=2亿", "its own name"),
        ("a=1亿,b=1亿", "its own floor"),
        ("a=0", "its own floor"),
        ("a=lots", "size_classes"),
    ],
)
def test_bad_size_classes(session: Session, text: str, match: str) -> None:
    with pytest.raises(InvalidValue, match=match):
        save_rules(session, "bad", actor="test", size_classes=text)


def test_count_targets_of_major_deals(session: Session) -> None:
    build_ledger(session)
    set_target(session, metric="deals_started", period="2026", count=10, actor="test")
    set_target(session, metric="deals_signed", period="2026", count=4, actor="test")
    set_target(session, metric="arrived_yuan", period="2026", amount_yuan="1亿", actor="test")
    june = date(2026, 6, 30)
    every = metrics.target_progress(session, as_of=june)
    check(one(every, metric="deals_started"), {"actual": 3, "last_year": 2})  # P1 P2 P5 | P3 P7
    major = metrics.target_progress(session, as_of=june, min_amount=YI)
    # sizes as of 2026-06-30: P1 1.1亿, P2, P5, P7 are major; P3 (5000万) and P6 (300万) are not
    check(one(major, metric="deals_started"), {"actual": 3, "last_year": 1, "completion": 0.3})
    check(one(major, metric="deals_signed"), {"actual": 1, "last_year": 1})  # P5 | P7 (P4 replaced by P5)
    money = one(major, metric="arrived_yuan")
    check(money, {"actual": 23_000_000})  # not limited by size
    assert "size bounds apply to counts only" in money["note"]
    small = metrics.target_progress(session, as_of=june, max_amount=YI)
    check(one(small, metric="deals_signed"), {"actual": 1, "last_year": 1})  # P6 | P3

"""crm.deals.unstarted on a hand-built ledger of thirteen deals, against a hand-made expected table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session

from crm import deals
from crm.errors import InvalidValue

AS_OF = date(2026, 7, 1)
A = "张三"
ALL = "立项、用地、环评、规划许可、施工许可"

# id: project, investor, signed_on, industry, unit, leader
LEDGER: list[tuple[int, str, str, date, str, str, str]] = [
    (1, "A园区光伏", "甲能源有限公司", date(2026, 7, 1), "光伏发电", "县商务局", "王县长"),  # age 0
    (2, "B装备制造基地", "乙装备有限公司", date(2026, 4, 3), "装备制造", "某某镇", "李副县长"),  # age 89
    (3, "C商贸物流园", "丙商贸有限公司", date(2026, 4, 2), "商贸流通", "县商务局", "王县长"),  # age 90
    (4, "D文旅小镇", "丁文旅有限公司", date(2026, 1, 3), "文化旅游", "文旅局", "李副县长"),  # age 179
    (5, "E风电项目", "戊风电有限公司", date(2026, 1, 2), "新能源开发", "县商务局", "王县长"),  # age 180
    (6, "F农业产业园", "己农业有限公司", date(2025, 2, 16), "现代农业", "农业农村局", "李副县长"),  # age 500
    (7, "G已开工项目", "庚制造有限公司", date(2026, 2, 1), "光伏发电", "县商务局", "王县长"),  # started
    (8, "H新材料项目", "辛材料有限公司", date(2025, 10, 1), "新材料", "工信局", "孙副县长"),  # terminated
    # 9: H reassigned to 壬新材料有限公司 on 2026-03-15 (age 108)
    (10, "I已投产项目", "癸能源有限公司", date(2025, 6, 1), "光伏发电", "县商务局", "王县长"),  # in production
    (11, "J未来项目", "甲能源有限公司", date(2026, 7, 2), "光伏发电", "县商务局", "王县长"),  # signed after as_of
    # 12: K增资, a capital increase of 7 signed 2026-06-01: never listed (an increase is not a deal)
    (13, "L老项目", "子化工有限公司", date(2023, 5, 1), "化工", "招商局", "王县长"),  # age 1157
]


def build_ledger(session: Session) -> None:
    for deal_id, project, investor, signed_on, industry, unit, leader in LEDGER:
        if deal_id == 10:
            deals.terminate(session, 8, on=date(2026, 3, 1), reason="投资方撤资", actor=A)
            new = deals.reassign(session, 8, investor="壬新材料有限公司", signed_on=date(2026, 3, 15), actor=A)
            assert new.id == 9
        if deal_id == 13:
            k = deals.sign(
                session,
                actor=A,
                project_name="K增资",
                investor="庚制造有限公司",
                signed_on=date(2026, 6, 1),
                contracted_yuan=5_000_000,
                industry="光伏发电",
                unit="县商务局",
                leader="王县长",
                increases=7,
            )
            assert k.id == 12
        deal = deals.sign(
            session,
            actor=A,
            project_name=project,
            investor=investor,
            signed_on=signed_on,
            contracted_yuan=10_000_000,
            industry=industry,
            unit=unit,
            leader=leader,
            signer="县长" if deal_id in (2, 8) else None,
        )
        assert deal.id == deal_id
    deals.start(session, 7, on=date(2026, 5, 1), actor=A)
    deals.start(session, 10, on=date(2025, 8, 1), actor=A)
    deals.complete(session, 10, on=date(2026, 5, 1), actor=A)

    for kind in ("approval", "land", "environment", "planning", "construction_permit"):
        deals.set_procedure(session, 1, kind, state="done", done_on=date(2026, 6, 30), actor=A)
    deals.set_procedure(session, 3, "land", state="done", done_on=date(2026, 5, 1), actor=A)
    deals.set_procedure(session, 3, "environment", state="in_progress", started_on=date(2026, 5, 1), actor=A)
    deals.set_procedure(session, 7, "approval", state="done", done_on=date(2026, 3, 1), actor=A)  # not listed

    deals.set_stall(session, 2, reason="funding", owner="赵六", actor=A)
    deals.set_stall(session, 4, reason="用地未落实", owner="赵六", actor=A)
    deals.set_stall(session, 6, reason="confidence", owner="钱七", actor=A)
    deals.set_stall(session, 13, reason="market", actor=A)

    fu = deals.add_follow_up
    fu(session, 2, on=date(2026, 6, 1), action="电话催办", due_on=date(2026, 6, 30), actor=A)  # overdue
    fu(session, 2, on=date(2026, 7, 5), action="after as_of", due_on=date(2026, 8, 1), actor=A)  # ignored
    fu(session, 3, on=date(2026, 5, 1), action="上门走访", due_on=date(2026, 6, 1), actor=A)  # overdue
    fu(session, 4, on=date(2026, 2, 1), action="约谈", due_on=date(2026, 3, 1), actor=A)  # superseded
    fu(session, 4, on=date(2026, 6, 20), action="再约谈", due_on=date(2026, 7, 10), actor=A)
    fu(session, 5, on=date(2026, 6, 1), action="协调电网", due_on=date(2026, 7, 1), actor=A)  # due on as_of: not late
    fu(session, 6, on=date(2025, 3, 1), action="走访", actor=A)  # no due date: never overdue
    fu(session, 9, on=date(2026, 6, 10), action="签约后首访", due_on=date(2026, 6, 20), actor=A)
    fu(session, 9, on=date(2026, 6, 10), action="同日补充", due_on=date(2026, 7, 20), actor=A)  # same day, later: wins
    fu(session, 7, on=date(2026, 6, 1), action="not listed", due_on=date(2026, 6, 2), actor=A)


COLUMNS = [
    "deal_id",
    "signed_on",
    "age_days",
    "level",
    "reason",
    "owner",
    "last_follow_up",
    "next_due",
    "follow_up_overdue",
    "missing_procedures",
    "leader",
    "unit",
    "industry",
    "signer",
]
d = date
# deal_id, signed_on, age, level, reason, owner, last follow-up, next due, overdue, missing, leader, unit, industry, signer
EXPECTED: list[tuple[Any, ...]] = [
    (13, d(2023, 5, 1), 1157, "red", "市场变化", None, None, None, False, ALL, "王县长", "招商局", "化工", None),
    (
        6,
        d(2025, 2, 16),
        500,
        "red",
        "投资信心不足",
        "钱七",
        d(2025, 3, 1),
        None,
        False,
        ALL,
        "李副县长",
        "农业农村局",
        "现代农业",
        None,
    ),
    (
        5,
        d(2026, 1, 2),
        180,
        "red",
        None,
        None,
        d(2026, 6, 1),
        d(2026, 7, 1),
        False,
        ALL,
        "王县长",
        "县商务局",
        "新能源开发",
        None,
    ),
    (
        4,
        d(2026, 1, 3),
        179,
        "yellow",
        "用地未落实",
        "赵六",
        d(2026, 6, 20),
        d(2026, 7, 10),
        False,
        ALL,
        "李副县长",
        "文旅局",
        "文化旅游",
        None,
    ),
    (
        9,
        d(2026, 3, 15),
        108,
        "yellow",
        None,
        None,
        d(2026, 6, 10),
        d(2026, 7, 20),
        False,
        ALL,
        "孙副县长",
        "工信局",
        "新材料",
        "县长",
    ),
    (
        3,
        d(2026, 4, 2),
        90,
        "yellow",
        None,
        None,
        d(2026, 5, 1),
        d(2026, 6, 1),
        True,
        "立项、环评、规划许可、施工许可",
        "王县长",
        "县商务局",
        "商贸流通",
        None,
    ),
    (
        2,
        d(2026, 4, 3),
        89,
        "green",
        "资金未落实",
        "赵六",
        d(2026, 6, 1),
        d(2026, 6, 30),
        True,
        ALL,
        "李副县长",
        "某某镇",
        "装备制造",
        "县长",
    ),
    (1, d(2026, 7, 1), 0, "green", None, None, None, None, False, "", "王县长", "县商务局", "光伏发电", None),
]
PROJECTS = {
    1: "A园区光伏",
    2: "B装备制造基地",
    3: "C商贸物流园",
    4: "D文旅小镇",
    5: "E风电项目",
    6: "F农业产业园",
    9: "H新材料项目",
    13: "L老项目",
}
INVESTORS = {
    1: "甲能源有限公司",
    2: "乙装备有限公司",
    3: "丙商贸有限公司",
    4: "丁文旅有限公司",
    5: "戊风电有限公司",
    6: "己农业有限公司",
    9: "壬新材料有限公司",
    13: "子化工有限公司",
}


@pytest.fixture
def ledger(session: Session) -> Session:
    build_ledger(session)
    return session


def rows(df: Any, columns: list[str] = COLUMNS) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in df[columns].itertuples(index=False, name=None)]


def ids(df: Any) -> list[int]:
    return [int(i) for i in df["deal_id"]]


def test_unstarted_matches_the_hand_made_table(ledger: Session) -> None:
    df = deals.unstarted(ledger, as_of=AS_OF)
    assert list(df.columns) == deals.UNSTARTED_COLUMNS
    assert rows(df) == EXPECTED
    assert dict(zip(ids(df), df["project_name"], strict=True)) == PROJECTS
    assert dict(zip(ids(df), df["investor"], strict=True)) == INVESTORS
    assert df["age_days"].dtype == "int64" and df["follow_up_overdue"].dtype == bool


def test_as_of_in_the_past_ignores_later_deals_and_follow_ups(ledger: Session) -> None:
    df = deals.unstarted(ledger, as_of=date(2026, 6, 15))
    assert ids(df) == [13, 6, 5, 4, 9, 3, 2]  # deal 1 was signed after 2026-06-15
    by_id = {
        r[0]: r for r in rows(df, ["deal_id", "age_days", "level", "last_follow_up", "next_due", "follow_up_overdue"])
    }
    # deal 4's follow-up of 2026-06-20 is in the future: the one of 2026-02-01, due 2026-03-01, is late
    assert by_id[4] == (4, 163, "yellow", d(2026, 2, 1), d(2026, 3, 1), True)
    assert by_id[2] == (2, 73, "green", d(2026, 6, 1), d(2026, 6, 30), False)
    assert by_id[3] == (3, 74, "green", d(2026, 5, 1), d(2026, 6, 1), True)
    assert by_id[5] == (5, 164, "yellow", d(2026, 6, 1), d(2026, 7, 1), False)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"unit": "县商务局"}, [5, 3, 1]),
        ({"leader": "李副县长"}, [6, 4, 2]),
        ({"industry": "光伏发电"}, [1]),
        ({"level": "green"}, [2, 1]),
        ({"level": "yellow"}, [4, 9, 3]),
        ({"level": "red"}, [13, 6, 5]),
        ({"signed_since": date(2025, 1, 1)}, [6, 5, 4, 9, 3, 2, 1]),
        ({"signed_since": date(2026, 4, 2)}, [3, 2, 1]),  # on the day counts
        ({"signed_since": date(2025, 1, 1), "level": "red"}, [6, 5]),
        ({"unit": "县商务局", "leader": "王县长", "level": "green"}, [1]),
        ({"unit": "工信局"}, [9]),  # the reassigned deal keeps the old deal's unit
        ({"unit": "县商务局", "industry": "化工"}, []),
        ({"thresholds": (30, 60), "level": "yellow"}, []),
        ({"thresholds": (30, 60), "level": "green"}, [1]),
        ({"thresholds": (30, 60), "level": "red"}, [13, 6, 5, 4, 9, 3, 2]),
    ],
)
def test_unstarted_filters(ledger: Session, filters: dict[str, Any], expected: list[int]) -> None:
    assert ids(deals.unstarted(ledger, as_of=AS_OF, **filters)) == expected


def test_level_filter_agrees_with_the_level_column(ledger: Session) -> None:
    for thresholds in [(90, 180), (30, 60), (89, 90), (1, 1157), (1, 1158)]:
        full = deals.unstarted(ledger, as_of=AS_OF, thresholds=thresholds)
        assert [deals.warning_level(int(a), thresholds) for a in full["age_days"]] == list(full["level"])
        for level in deals.WARNING_LEVELS:
            filtered = deals.unstarted(ledger, as_of=AS_OF, thresholds=thresholds, level=level)
            assert ids(filtered) == ids(full[full["level"] == level]), (thresholds, level)


def test_custom_thresholds_move_the_levels(ledger: Session) -> None:
    df = deals.unstarted(ledger, as_of=AS_OF, thresholds=(30, 60))
    assert list(df["level"]) == ["red"] * 7 + ["green"]


def test_nothing_unstarted_gives_an_empty_frame_with_the_columns(ledger: Session) -> None:
    df = deals.unstarted(ledger, as_of=date(2020, 1, 1))
    assert df.empty and list(df.columns) == deals.UNSTARTED_COLUMNS


def test_empty_database(session: Session) -> None:
    df = deals.unstarted(session, as_of=AS_OF)
    assert df.empty and list(df.columns) == deals.UNSTARTED_COLUMNS


def test_a_started_deal_leaves_the_list(ledger: Session) -> None:
    deals.start(ledger, 3, on=date(2026, 6, 30), actor=A)
    deals.terminate(ledger, 2, on=date(2026, 6, 30), reason="撤资", actor=A)
    assert ids(deals.unstarted(ledger, as_of=AS_OF)) == [13, 6, 5, 4, 9, 1]


@pytest.mark.parametrize(
    ("filters", "match"),
    [
        ({"unit": "没有这个单位"}, "unit 没有这个单位 — no such unit"),
        ({"leader": "无名氏"}, "leader 无名氏 — no such person"),
        ({"industry": "造船"}, "industry 造船 — no such industry"),
        ({"level": "orange"}, "level: use one of green, yellow, red"),
        ({"thresholds": (180, 90)}, "thresholds: need 0 < yellow days < red days"),
        ({"as_of": "2026-07-01"}, "as_of: expected a date"),
    ],
)
def test_unstarted_refuses_bad_filters(session: Session, filters: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidValue, match=match):
        deals.unstarted(session, **{"as_of": AS_OF, **filters})


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_unstarted_is_set_based_not_a_query_per_deal(ledger: Session, statements: list[str]) -> None:
    ledger.commit()
    statements.clear()
    df = deals.unstarted(ledger, as_of=AS_OF)
    assert len(df) == 8
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    selects = [s for s in selects if "FROM counting_rules" not in s]  # the rules are looked up once, by name
    assert len(selects) == 2, selects  # the deals with their latest follow-up, and the procedures done


def test_unstarted_by_level_counts_the_listed_deals_at_warning_level(ledger: Session) -> None:
    from crm import metrics

    for thresholds in [(90, 180), (30, 60)]:
        listed = deals.unstarted(ledger, as_of=AS_OF, thresholds=thresholds)
        expected = [
            sum(deals.warning_level(int(a), thresholds) == lv for a in listed["age_days"])
            for lv in ("red", "yellow", "green")
        ]
        counts = metrics.unstarted_by_level(ledger, as_of=AS_OF, thresholds=thresholds)
        assert list(counts["level"]) == ["red", "yellow", "green"]
        assert list(counts["deals"]) == expected and sum(expected) == len(listed) == 8
    # the hand-made table at 90/180 days: red 13, 6, 5; yellow 4, 9, 3; green 2, 1 (12 is the
    # capital increase K增资, not a deal of its own under the counting rules)
    assert list(metrics.unstarted_by_level(ledger, as_of=AS_OF)["deals"]) == [3, 3, 2]


def test_unstarted_by_level_counts_in_the_database_without_listing(ledger: Session, statements: list[str]) -> None:
    from crm import metrics

    ledger.commit()
    for thresholds in [(90, 180), (30, 60), (1, 2)]:
        listed = metrics.count_levels(deals.unstarted(ledger, as_of=AS_OF, thresholds=thresholds))
        statements.clear()
        counts = metrics.unstarted_by_level(ledger, as_of=AS_OF, thresholds=thresholds)
        assert counts.to_dict("records") == listed.to_dict("records")
        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM counting_rules" not in s]
        assert len(selects) == 1 and "follow_up" not in selects[0], selects  # one count, no list
    # with a filter the list is built and counted
    unit = str(deals.unstarted(ledger, as_of=AS_OF)["unit"].dropna().iloc[0])
    filtered = metrics.unstarted_by_level(ledger, as_of=AS_OF, unit=unit)
    assert filtered.to_dict("records") == metrics.count_levels(deals.unstarted(ledger, as_of=AS_OF, unit=unit)).to_dict(
        "records"
    )

"""Property: whatever a deals or arrivals ledger holds, an import either writes it whole or refuses it
with a plain error and writes nothing — never a traceback, never part of the file.

Each run generates at least 10,000 ledger rows over both importers (``CRM_FUZZ_EXAMPLES`` examples
of 100-130 rows per importer; hypothesis keeps no example database in the tree). On SQLite, whose
transaction handling this guards (PostgreSQL's is exercised by tests/test_transactions.py).
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from factories import make_deal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlmodel import Session, SQLModel

from crm.db import make_engine
from crm.errors import CrmError
from crm.ledgers import import_ledger

EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "50"))
ROWS = st.integers(min_value=100, max_value=130)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROJECTS = ["光伏电站一期", "装备制造产业园", "文旅综合体"]

# Cells people type, cells broken exports carry, and cells nobody should: all must end in a plain answer.
nasty_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "-", "/", "无", "合计", "=1+1", "'=A1", "\x00", "a\x00b", "\x1b[31m", "\u3000", "０"]),
)
amounts = st.one_of(
    st.sampled_from(["3000", "1.5亿", "3,000.50", "1e30", "1e400", "-5", "9223372036854775808元", "NaN", "inf"]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.floats().map(repr),
    nasty_text,
)
days = st.one_of(
    st.dates(min_value=date(1990, 1, 1), max_value=date(2035, 12, 31)).map(date.isoformat),
    st.sampled_from(["2026-02-30", "2026/3/1", "2026年3月1日", "45000", "99999999", "0", "昨天"]),
    nasty_text,
)


def _good_or(strategy: st.SearchStrategy[str], good: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly good cells, sometimes not."""
    return st.one_of(good, good, good, good, good, good, good, good, good, strategy)


good_deal_names = st.tuples(
    st.sampled_from([f"项目{i}" for i in range(40)]),
    st.sampled_from([f"投资方{i}有限公司" for i in range(8)]),
    st.sampled_from(["2026-03-01", "2025-11-20"]),
    st.sampled_from(["3000", "1.5亿", "200", "3,000.50"]),
)
good_states = st.sampled_from(
    [("", "", ""), ("已签约", "", ""), ("在建", "2026-04-01", ""), ("已投产", "2026-04-01", "2026-06-01")]
)
good_deal_rows = st.tuples(good_deal_names, good_states).map(lambda r: (*r[0], *r[1]))
mixed_deal_rows = st.tuples(
    _good_or(nasty_text, st.sampled_from([f"项目{i}" for i in range(40)])),
    _good_or(nasty_text, st.sampled_from([f"投资方{i}有限公司" for i in range(8)])),
    _good_or(days, st.sampled_from(["2026-03-01", "2025-11-20"])),
    _good_or(amounts, st.sampled_from(["3000", "1.5亿", "200"])),
    _good_or(nasty_text, st.sampled_from(["", "已签约", "在建", "已投产", "终止"])),
    _good_or(days, st.sampled_from(["", "2026-04-01"])),
    _good_or(days, st.sampled_from(["", "2026-06-01"])),
)
good_arrival_rows = st.tuples(
    st.sampled_from(PROJECTS),
    st.dates(min_value=date(2026, 1, 10), max_value=date(2026, 12, 31)).map(date.isoformat),
    st.sampled_from(["500", "0.5", "12万", "1亿"]),
    st.sampled_from(["省外", "境外", "市外省内"]),
)
mixed_arrival_rows = st.tuples(
    _good_or(nasty_text, st.sampled_from(PROJECTS)),
    _good_or(days, st.sampled_from(["2026-04-01", "2026-05-15"])),
    _good_or(amounts, st.sampled_from(["500", "0.5", "12万"])),
    _good_or(nasty_text, st.sampled_from(["省外", "境外", "市外省内"])),
)


def _ledgers(good: st.SearchStrategy[Any], mixed: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """Half the ledgers clean (they must be written whole), half with cells of any kind."""
    return st.tuples(ROWS, st.booleans()).flatmap(
        lambda t: st.lists(good if t[1] else mixed, min_size=t[0], max_size=t[0])
    )


DEAL_HEADER = ["项目名称", "投资方名称", "签约日期", "总投资（万元）", "项目状态", "开工时间", "竣工投产时间"]
ARRIVAL_HEADER = ["项目名称", "到位日期", "到位资金（万元）", "资金来源"]


def _figures(engine: Engine) -> tuple[Any, ...]:
    """Rows in every table, Σ contracted and Σ arrived, in one statement."""
    from crm.models import CapitalArrival, Deal

    counts = [select(func.count()).select_from(t).scalar_subquery() for t in SQLModel.metadata.sorted_tables]
    sums = [
        select(func.coalesce(func.sum(Deal.contracted_yuan), 0)).scalar_subquery(),
        select(func.coalesce(func.sum(CapitalArrival.arrived_yuan), 0)).scalar_subquery(),
    ]
    with engine.connect() as connection:
        return tuple(connection.execute(select(*counts, *sums)).one())


def _write(path: Path, header: list[str], rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _import_all_or_nothing(engine: Engine, kind: str, path: Path, rows: int) -> None:
    before = _figures(engine)
    with Session(engine) as session:
        try:
            result = import_ledger(session, kind, path, actor="fuzz")
        except CrmError as refused:  # a plain refusal: nothing written
            assert str(refused)
            assert _figures(engine) == before
            return
    assert result.errors == [] and result.rows <= rows
    after = _figures(engine)
    if result.inserted == result.updated == 0:
        assert after == before
    else:
        assert after != before


@pytest.fixture
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture
def engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite database for the whole property (each example compares before and after)."""
    path = tmp_path / "crm.db"
    shutil.copyfile(sqlite_template, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


@pytest.mark.slow
def test_deals_import_is_all_or_nothing(engine: Engine, fuzz_dir: Path) -> None:
    @FUZZ
    @given(rows=_ledgers(good_deal_rows, mixed_deal_rows))
    def prop(rows: list[tuple[str, ...]]) -> None:
        _import_all_or_nothing(engine, "deals", _write(fuzz_dir / "deals.csv", DEAL_HEADER, rows), len(rows))

    prop()


@pytest.mark.slow
def test_arrivals_import_is_all_or_nothing(engine: Engine, fuzz_dir: Path) -> None:
    with Session(engine) as session:
        for project in PROJECTS:
            make_deal(session, project_name=project, signed_on=date(2026, 1, 10))
        session.commit()

    @FUZZ
    @given(rows=_ledgers(good_arrival_rows, mixed_arrival_rows))
    def prop(rows: list[tuple[str, ...]]) -> None:
        _import_all_or_nothing(engine, "arrivals", _write(fuzz_dir / "arrivals.csv", ARRIVAL_HEADER, rows), len(rows))

    prop()

"""The rows behind a figure add up to the figure: kpis, target actuals, ranking and trips.

Uses the ledger of test_metrics.py, with D3 credited to 县商务局 (招引单位) and 张三 as the
introducer of D1 and D3, and the trips of test_metrics_trip_cohort.py.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from factories import get_or_make_person, get_or_make_unit
from sqlmodel import Session
from test_metrics import AS_OF, build_ledger
from test_metrics_trip_cohort import _reassign_increase_and_noise, _trip_with_leads
from typer.testing import CliRunner

from crm import metrics, trips
from crm.cli import app
from crm.errors import InvalidValue
from crm.ledgers import export_ledger
from crm.targets import save_rules, set_target

KPI_SUMS = ["signed", "started", "in_production", "terminated", "contracted_yuan", "arrived_yuan"]


def _ledger(session: Session) -> None:
    deals = build_ledger(session)
    zhang = get_or_make_person(session, "张三")
    deals["D3"].credited_unit_id = get_or_make_unit(session, "县商务局").id
    for name in ("D1", "D3"):
        deals[name].introducer_id = zhang.id
        session.add(deals[name])
    session.commit()


@pytest.mark.parametrize("by", [None, "industry", "unit,leader", "credited_unit", "signing_year", "signing_month"])
def test_kpis_rows_add_up_to_every_group(session: Session, by: str | None) -> None:
    _ledger(session)
    save_rules(session, "verified", actor="t", verified_only=True, cohort_years=2)
    dims = [] if by is None else by.split(",")
    for rules in (None, "verified"):
        df = metrics.kpis(session, by=by, as_of=AS_OF, rules=rules)
        assert not df.empty
        for _, figure in df.iterrows():
            group = {dim: (None if pd.isna(figure[dim]) else figure[dim]) for dim in dims}
            rows = metrics.kpis_rows(session, group, as_of=AS_OF, rules=rules)
            assert [int(rows[c].sum()) for c in KPI_SUMS] == [int(figure[c]) for c in KPI_SUMS], group
            assert rows["member_via"].notna().all()


def test_kpis_rows_by_hand(session: Session) -> None:
    _ledger(session)
    rows = metrics.kpis_rows(session, {"industry": "光伏发电"}, as_of=AS_OF)
    # D1 and D2 (D8 signed after as_of), D7 the increase of D1, arrivals A1 A2 A3 (on D7) A4
    assert list(zip(rows["fact"], rows["deal_id"], strict=True)) == [
        ("arrival", 1),
        ("arrival", 1),
        ("arrival", 7),
        ("deal", 1),
        ("increase", 7),
        ("arrival", 2),
        ("deal", 2),
    ]
    assert set(rows["member_via"]) == {"产业 光伏发电", "产业 光伏发电 (root deal 1)", "产业 光伏发电 (root deal 2)"}


def test_target_rows_add_up_to_every_actual(session: Session) -> None:
    _ledger(session)
    for metric in ("arrived_yuan", "contracted_yuan", "deals_signed", "deals_started"):
        for scope in ("county", "县商务局", "王县长"):
            for period in ("2026", "2026Q2"):
                amount = {"count": 3} if metric.startswith("deals") else {"amount_yuan": "1亿"}
                set_target(session, metric=metric, period=period, scope=scope, actor="t", **amount)
    df = metrics.target_progress(session, as_of=AS_OF)
    assert len(df) == 24
    for _, figure in df.iterrows():
        rows = metrics.target_rows(
            session, metric=figure["metric"], scope=figure["scope"], period=figure["period"], as_of=AS_OF
        )
        assert int(rows["value"].sum()) == int(figure["actual"]), (figure["metric"], figure["scope"], figure["period"])


def test_ranking_rows_add_up_and_say_how_a_unit_is_credited(session: Session) -> None:
    _ledger(session)
    for by in ("unit", "leader", "introducer"):
        for metric in ("arrived_yuan", "contracted_yuan", "deals_signed", "deals_started"):
            df = metrics.ranking(session, as_of=AS_OF, by=by, metric=metric)
            assert not df.empty
            for name, actual in zip(df["name"], df["actual"], strict=True):
                rows = metrics.ranking_rows(session, name, as_of=AS_OF, by=by, metric=metric)
                assert int(rows["value"].sum()) == int(actual), (by, metric, name)
    # D3 (工业园区's) is credited to 县商务局 through its 招引单位: its rows say so
    rows = metrics.ranking_rows(session, "县商务局", as_of=AS_OF, metric="contracted_yuan", year=2025)
    via = dict(zip(rows["deal_id"], rows["member_via"], strict=True))
    assert via[3] == "credited via 招引单位 县商务局"
    assert via[2] == "via 责任单位 县商务局 (no 招引单位)"


def test_funnel_rows_add_up_to_every_group(session: Session) -> None:
    _trip_with_leads(session)
    _reassign_increase_and_noise(session)
    for by in ("trip", "squad", "region", "industry"):
        df = trips.funnel(session, by=by, as_of=AS_OF)
        key = "trip_id" if by == "trip" else by
        for _, figure in df.iterrows():
            if figure[key] is None or pd.isna(figure[key]):
                continue
            rows = metrics.funnel_rows(session, figure[key], by=by, as_of=AS_OF)
            got = [int(rows[c].sum()) for c in ("signed", "contracted_yuan", "arrived_yuan")]
            assert got == [int(figure[c]) for c in ("signed", "contracted_yuan", "arrived_yuan")], (by, figure[key])


def test_rows_behind_dispatches_and_refuses_unknown_figures(session: Session) -> None:
    _ledger(session)
    rows = metrics.rows_behind(session, "ranking", "县商务局", as_of=AS_OF)
    assert int(rows["value"].sum()) == int(
        metrics.ranking(session, as_of=AS_OF).set_index("name").loc["县商务局", "actual"]
    )
    with pytest.raises(InvalidValue, match="figure"):
        metrics.rows_behind(session, "weather", None)


def test_report_rows_on_the_command_line(session: Session, db_url: str, tmp_path: Path) -> None:
    _ledger(session)
    runner = CliRunner()
    day = ["--as-of", AS_OF.isoformat()]
    out = tmp_path / "rows.csv"
    result = runner.invoke(
        app,
        ["--db", db_url, "report", "kpis", "--by", "industry", *day, "--rows", "industry=光伏发电", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    assert int(written["contracted_yuan"].sum()) == 180_000_000 and "member_via" in written.columns
    xlsx = tmp_path / "rows.xlsx"
    result = runner.invoke(app, ["--db", db_url, "report", "ranking", *day, "--rows", "县商务局", "--out", str(xlsx)])
    assert result.exit_code == 0, result.output
    ranked = metrics.ranking(session, as_of=AS_OF).set_index("name").loc["县商务局", "actual"]
    assert int(pd.read_excel(xlsx, engine="openpyxl")["value"].sum()) == int(ranked)
    set_target(session, metric="arrived_yuan", period="2026", amount_yuan="1亿", actor="t")
    result = runner.invoke(
        app,
        ["--db", db_url, "report", "targets", *day, "--rows", "metric=arrived_yuan,scope=county", "--format", "csv"],
    )
    assert result.exit_code == 0, result.output
    assert "arrival" in result.stdout and "county (every deal)" in result.stdout
    bad = runner.invoke(app, ["--db", db_url, "report", "kpis", *day, "--rows", "colour=red"])
    assert bad.exit_code == 1 and "colour" in bad.stderr


def test_export_says_and_chooses_the_unit_field(session: Session, db_url: str, tmp_path: Path) -> None:
    _ledger(session)
    responsible = export_ledger(session, "deals", tmp_path / "r.csv", unit="县商务局")
    credited = export_ledger(session, "deals", tmp_path / "c.csv", unit="县商务局", unit_field="credited")
    assert (responsible, credited) == (6, 7)  # D3 (工业园区's) is credited to 县商务局
    with pytest.raises(InvalidValue, match="unit_field"):
        export_ledger(session, "targets", tmp_path / "t.csv", unit="县商务局", unit_field="credited")
    result = CliRunner().invoke(
        app,
        ["--db", db_url, "export", "deals", str(tmp_path / "x.csv"), "--unit", "县商务局", "--unit-field", "credited"],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 7 deals rows of unit 县商务局 by 招引单位, else 责任单位" in result.output

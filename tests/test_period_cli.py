"""``crm report period`` on the hand-worked ledger of test_metrics_period: csv, json and table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session
from test_metrics_period import build_ledger
from typer.testing import CliRunner

from crm.cli import app
from crm.metrics import PERIOD_COLUMNS

runner = CliRunner()


def _ledger(engine: Engine) -> None:
    with Session(engine) as session:
        build_ledger(session)


def test_period_csv_json_and_table(engine: Engine, db_url: str) -> None:
    _ledger(engine)
    result = runner.invoke(
        app, ["--db", db_url, "report", "period", "--period", "2026H1", "--min-amount", "1亿", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == PERIOD_COLUMNS
    assert (rows[0]["started"], rows[0]["started_last_year"], rows[0]["started_diff"]) == ("3", "1", "2")
    assert rows[0]["contracted_yuan"] == "180000000" and rows[0]["started_yoy"] == "2.0"

    args = ["--from", "2026-01-01", "--to", "2026-06-30", "--by", "size_class", "--format", "json"]
    same = runner.invoke(app, ["--db", db_url, "report", "period", *args])
    assert same.exit_code == 0, same.output
    groups = {row["size_class"]: row for row in json.loads(same.stdout)}
    assert list(groups) == ["500万以下", "500万以上", "亿元以上", "10亿元以上"]
    assert groups["亿元以上"]["started"] == 3 and groups["亿元以上"]["arrived_yuan"] == 23_000_000
    assert groups["500万以下"]["signed_yoy"] is None  # nothing last year: empty, not 0 or inf

    table = runner.invoke(app, ["--db", db_url, "report", "period", "--period", "2026H1", "--max-amount", "10000"])
    assert table.exit_code == 0, table.output
    assert "Period 2026-01-01..2026-06-30 against 2025-01-01..2025-06-30 (counting rules default v1)" in table.stdout
    assert "300.00万元" in table.stdout  # P6, below 1亿 (a bare amount is 万元)


def test_period_bad_input_exits_1(engine: Engine, db_url: str) -> None:
    for args, message in [
        (["--period", "2026H3"], "half-year 2026H1"),
        (["--period", "2026", "--from", "2026-01-01"], "not both"),
        (["--from", "2026-01-01"], "give the period"),
        (["--period", "2026", "--by", "squad"], "group by one of"),
        (["--period", "2026", "--min-amount", "lots"], "--min-amount"),
    ]:
        result = runner.invoke(app, ["--db", db_url, "report", "period", *args])
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr, (args, result.stderr)


def test_kpis_and_unstarted_by_size_on_the_command_line(engine: Engine, db_url: str) -> None:
    _ledger(engine)
    kpis = runner.invoke(
        app, ["--db", db_url, "report", "kpis", "--min-amount", "1亿", "--as-of", "2026-03-31", "--format", "json"]
    )
    assert kpis.exit_code == 0, kpis.output
    (row,) = json.loads(kpis.stdout)
    # P2 P5 P7 are 1亿 or more on 2026-03-31 (P1 only from its increase in April): 3 deals, 1 started, 2 not
    assert (row["signed"], row["started"], row["unstarted"], row["active"]) == (3, 1, 2, 3)
    assert row["start_rate"] == 1 / 3
    unstarted = runner.invoke(
        app,
        ["--db", db_url, "report", "unstarted", "--as-of", "2026-03-31", "--min-amount", "10000", "--format", "csv"],
    )
    assert unstarted.exit_code == 0, unstarted.output
    rows = list(csv.DictReader(io.StringIO(unstarted.stdout)))
    assert [(r["size_yuan"], r["size_class"]) for r in rows] == [("200000000", "亿元以上"), ("150000000", "亿元以上")]
    bad = runner.invoke(app, ["--db", db_url, "report", "kpis", "--min-amount", "2亿", "--max-amount", "1亿"])
    assert bad.exit_code == 1 and "above min_amount" in bad.stderr


def test_export_deals_by_size(engine: Engine, db_url: str, tmp_path: Path) -> None:
    _ledger(engine)
    out = tmp_path / "major.csv"
    result = runner.invoke(app, ["--db", db_url, "export", "deals", str(out), "--min-amount", "1亿"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    name = next(h for h in rows[0] if h.startswith("项目名称"))
    # P1 is 1.1亿 with its increase (exported with it); P3 (5000万) and P6 (300万) are left out
    assert sorted(r[name] for r in rows) == sorted(["P1", "P1 增资", "P2", "P4", "P4", "P7"])
    small = tmp_path / "small.csv"
    result = runner.invoke(app, ["--db", db_url, "export", "deals", str(small), "--max-amount", "1亿"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(small.read_text(encoding="utf-8-sig"))))
    assert sorted(r[name] for r in rows) == ["P3", "P6"]
    refused = runner.invoke(
        app, ["--db", db_url, "export", "arrivals", str(tmp_path / "arrivals.csv"), "--min-amount", "1亿"]
    )
    assert refused.exit_code == 1 and "cannot be filtered by min_amount" in refused.stderr

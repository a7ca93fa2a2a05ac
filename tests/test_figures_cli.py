"""The figures' command line: arrival add, target set, rules, and the csv/json report columns."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

from factories import make_deal
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from typer.testing import CliRunner

from crm.cli import app
from crm.models import CapitalArrival, Target

runner = CliRunner()

KPI_CSV = [
    "signed",
    "started",
    "in_production",
    "terminated",
    "contracted_yuan",
    "arrived_yuan",
    "fulfillment_rate",
    "capital_arrival_rate",
    "completion_rate",
    "unstarted",
    "in_construction",
    "active",
    "start_rate",
]
TARGET_CSV = [
    "metric",
    "period",
    "target",
    "actual",
    "completion",
    "time_progress",
    "gap",
    "yoy",
    "growth_target",
    "growth_gap",
]


def _deal(engine: Engine, **fields: object) -> int:
    with Session(engine) as session:
        deal = make_deal(session, **fields)
        session.commit()
        assert deal.id is not None
        return deal.id


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_arrival_add_then_kpis_csv(engine: Engine, db_url: str) -> None:
    deal_id = _deal(engine, signed_on=date(2026, 1, 5), contracted_yuan=100_000_000)
    result = runner.invoke(
        app,
        [
            "--db",
            db_url,
            "arrival",
            "add",
            str(deal_id),
            "--on",
            "2026-02-01",
            "--amount",
            "500万",
            "--source",
            "省外",
            "--use",
            "固定资产",
            "--verified",
            "--evidence-kind",
            "银行进账单",
            "--evidence-ref",
            "NO.1",
            "--actor",
            "张科长",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "5000000 yuan" in result.output and "省外" in result.output
    fx = runner.invoke(
        app,
        [
            "--db",
            db_url,
            "arrival",
            "add",
            str(deal_id),
            "--on",
            "2026-03-01",
            "--source",
            "境外",
            "--currency",
            "USD",
            "--original",
            "100万",
            "--fx-rate",
            "7.1",
        ],
    )
    assert fx.exit_code == 0, fx.output
    assert "7100000 yuan" in fx.output  # 1,000,000 × 7.1
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(CapitalArrival)).one() == 2

    report = runner.invoke(app, ["--db", db_url, "report", "kpis", "--as-of", "2026-06-30", "--format", "csv"])
    assert report.exit_code == 0, report.output
    rows = _csv(report.stdout)
    assert list(rows[0]) == KPI_CSV
    # 5,000,000 + 7,100,000 = 12,100,000 of 100,000,000 -> 0.121; no started deal -> completion empty
    assert rows == [
        {
            "signed": "1",
            "started": "0",
            "in_production": "0",
            "terminated": "0",
            "contracted_yuan": "100000000",
            "arrived_yuan": "12100000",
            "fulfillment_rate": "0.0",
            "capital_arrival_rate": "0.121",
            "completion_rate": "",
            "unstarted": "1",
            "in_construction": "0",
            "active": "1",
            "start_rate": "0.0",
        }
    ]
    by = runner.invoke(
        app,
        [
            "--db",
            db_url,
            "report",
            "kpis",
            "--by",
            "industry,signing_year",
            "--as-of",
            "2026-06-30",
            "--format",
            "json",
        ],
    )
    assert by.exit_code == 0, by.output
    data = json.loads(by.stdout)
    assert data[0]["industry"] == "光伏发电" and data[0]["signing_year"] == 2026
    assert data[0]["arrived_yuan"] == 12_100_000 and data[0]["completion_rate"] is None
    table = runner.invoke(app, ["--db", db_url, "report", "kpis", "--as-of", "2026-06-30"])
    assert (
        table.exit_code == 0 and "1.00亿元" in table.stdout and "12.1%" in table.stdout
    )  # 亿元: the column reaches 1亿
    assert "default v1" in table.stdout


def test_refused_arrival_exits_1_and_changes_nothing(engine: Engine, db_url: str) -> None:
    deal_id = _deal(engine, signed_on=date(2026, 1, 5))
    for args, message in (
        (["--on", "2026-01-04", "--amount", "5", "--source", "省外"], "before the deal was signed on 2026-01-05"),
        (["--on", "2026-02-01", "--amount", "5", "--source", "外地"], "source: use one of"),
        (["--on", "2026-02-01", "--amount", "five", "--source", "省外"], "cannot read 'five'"),
        (["--on", "2026-02-30", "--amount", "5", "--source", "省外"], "is not a date"),
    ):
        result = runner.invoke(app, ["--db", db_url, "arrival", "add", str(deal_id), *args])
        assert result.exit_code == 1, result.output
        assert message in result.output and "Traceback" not in result.output
    missing = runner.invoke(
        app, ["--db", db_url, "arrival", "add", "999", "--on", "2026-02-01", "--amount", "5", "--source", "省外"]
    )
    assert missing.exit_code == 1 and "no deal 999" in missing.output
    assert runner.invoke(app, ["--db", db_url, "arrival", "add", "1"]).exit_code == 2  # no --on
    by_name = runner.invoke(
        app, ["--db", db_url, "arrival", "add", "无此项目", "--on", "2026-02-01", "--source", "省外"]
    )
    assert by_name.exit_code == 1 and "no deal '无此项目'" in by_name.output
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(CapitalArrival)).one() == 0


def test_target_set_and_targets_csv(engine: Engine, db_url: str) -> None:
    deal_id = _deal(engine, signed_on=date(2026, 1, 5))
    with Session(engine) as session:
        session.add(
            CapitalArrival(
                deal_id=deal_id, arrived_on=date(2026, 2, 1), arrived_yuan=30_000_000, source="other_province"
            )
        )
        session.commit()
    for args in (
        ["--metric", "arrived_yuan", "--period", "2026", "--amount", "1亿", "--growth", "0.1"],
        ["--metric", "deals_signed", "--period", "2026", "--amount", "4", "--unit", "县商务局"],
        ["--metric", "arrived_yuan", "--period", "2026", "--amount", "5000", "--leader", "王县长"],  # bare = 万元
    ):
        result = runner.invoke(app, ["--db", db_url, "target", "set", *args, "--actor", "局长"])
        assert result.exit_code == 0, result.output
    with Session(engine) as session:
        amounts = sorted(t.amount or 0 for t in session.exec(select(Target)).all())
    assert amounts == [4, 50_000_000, 100_000_000]
    result = runner.invoke(app, ["--db", db_url, "report", "targets", "--as-of", "2026-03-31", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = _csv(result.stdout)
    assert all(column in rows[0] for column in TARGET_CSV)
    county = next(r for r in rows if r["metric"] == "arrived_yuan" and r["scope"] == "county")
    # 2026-03-31: 31 + 28 + 31 = 90 of 365 days; 100,000,000 × 90 / 365 = 24,657,534.2 -> 24,657,534
    assert county["target"] == "100000000" and county["actual"] == "30000000"
    assert county["completion"] == "0.3" and float(county["time_progress"]) == 90 / 365
    assert county["gap"] == str(24_657_534 - 30_000_000)
    assert county["yoy"] == "" and county["growth_target"] == "0.1" and county["growth_gap"] == ""
    assert county["rules"] == "default v1"
    bad = runner.invoke(
        app, ["--db", db_url, "target", "set", "--metric", "deals_signed", "--period", "2026", "--amount", "many"]
    )
    assert bad.exit_code == 1 and "deals_signed is a number of deals" in bad.output
    both = runner.invoke(
        app,
        [
            "--db",
            db_url,
            "target",
            "set",
            "--metric",
            "arrived_yuan",
            "--period",
            "2026",
            "--amount",
            "1",
            "--unit",
            "a",
            "--leader",
            "b",
        ],
    )
    assert both.exit_code == 1
    listed = runner.invoke(app, ["--db", db_url, "target", "list", "--year", "2026", "--format", "csv"])
    assert listed.exit_code == 0 and len(_csv(listed.stdout)) == 3


def test_ranking_scorecard_and_arrivals_reports(engine: Engine, db_url: str) -> None:
    deal_id = _deal(engine, signed_on=date(2026, 1, 5))
    _deal(engine, project_name="P2", unit="工业园区", signed_on=date(2026, 1, 6))
    with Session(engine) as session:
        session.add(
            CapitalArrival(
                deal_id=deal_id, arrived_on=date(2026, 2, 1), arrived_yuan=30_000_000, source="other_province"
            )
        )
        session.commit()
    for unit in ("县商务局", "工业园区"):
        assert (
            runner.invoke(
                app,
                [
                    "--db",
                    db_url,
                    "target",
                    "set",
                    "--metric",
                    "arrived_yuan",
                    "--period",
                    "2026",
                    "--amount",
                    "1亿",
                    "--unit",
                    unit,
                    "--weight",
                    "1",
                ],
            ).exit_code
            == 0
        )
    result = runner.invoke(
        app, ["--db", db_url, "report", "ranking", "--by", "unit", "--as-of", "2026-12-31", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    rows = _csv(result.stdout)
    assert [(r["rank"], r["name"], r["completion"], r["last"]) for r in rows] == [
        ("1", "县商务局", "0.3", "False"),
        ("2", "工业园区", "0.0", "True"),
    ]
    score = runner.invoke(
        app,
        [
            "--db",
            db_url,
            "report",
            "scorecard",
            "--as-of",
            "2026-12-31",
            "--weights",
            "arrived_yuan=2",
            "--format",
            "csv",
        ],
    )
    assert score.exit_code == 0, score.output
    assert _csv(score.stdout)[0]["score"] == "0.6"  # 2 × 30,000,000 ÷ 100,000,000
    assert runner.invoke(app, ["--db", db_url, "report", "scorecard", "--weights", "x"]).exit_code == 1
    monthly = runner.invoke(app, ["--db", db_url, "report", "arrivals", "--year", "2026", "--format", "csv"])
    assert monthly.exit_code == 0
    assert _csv(monthly.stdout)[1] == {"month": "2", "arrived_yuan": "30000000", "last_year_yuan": "0"}
    assert runner.invoke(app, ["--db", db_url, "report", "ranking", "--by", "squad"]).exit_code == 1


def test_rules_save_show_and_use(engine: Engine, db_url: str) -> None:
    saved = runner.invoke(
        app,
        [
            "--db",
            db_url,
            "rules",
            "save",
            "city",
            "--fulfillment-basis",
            "not_terminated",
            "--sources",
            "境外,省外",
            "--verified-only",
            "--cohort-years",
            "3",
            "--actor",
            "t",
        ],
    )
    assert saved.exit_code == 0 and "city v1" in saved.output
    again = runner.invoke(
        app, ["--db", db_url, "rules", "save", "city", "--all-arrivals", "--arrival-tolerance", "0.05"]
    )
    assert again.exit_code == 0 and "city v2" in again.output
    shown = runner.invoke(app, ["--db", db_url, "rules", "show", "city", "--format", "json"])
    assert shown.exit_code == 0
    assert json.loads(shown.stdout) == [
        {
            "rules": "city v2",
            "fulfillment_basis": "not_terminated",
            "completion_basis": "started",
            "sources": "overseas,other_province",
            "verified_only": False,
            "cohort_years": 3,
            "arrival_tolerance": 0.05,
            "size_classes": "500万以上=500万,亿元以上=1亿,10亿元以上=10亿",
            "is_default": False,
            "note": None,
        }
    ]
    report = runner.invoke(app, ["--db", db_url, "report", "kpis", "--rules", "city v1", "--as-of", "2026-06-30"])
    assert report.exit_code == 0 and "city v1" in report.stdout
    sized = runner.invoke(app, ["--db", db_url, "rules", "save", "city", "--size-classes", "重大=1亿,特大=5亿"])
    assert sized.exit_code == 0 and "city v3" in sized.output
    shown = runner.invoke(app, ["--db", db_url, "rules", "show", "city", "--format", "json"])
    assert json.loads(shown.stdout)[0]["size_classes"] == "重大=1亿,特大=5亿"
    by_size = runner.invoke(
        app, ["--db", db_url, "report", "kpis", "--rules", "city", "--by", "size_class", "--format", "csv"]
    )
    assert by_size.exit_code == 0, by_size.output
    unsized = runner.invoke(app, ["--db", db_url, "rules", "save", "city", "--size-classes", "重大"])
    assert unsized.exit_code == 1 and "name=floor" in unsized.stderr
    bad = runner.invoke(app, ["--db", db_url, "rules", "save", "city", "--completion-basis", "built"])
    assert bad.exit_code == 1 and "completion_basis" in bad.output
    assert runner.invoke(app, ["--db", db_url, "rules", "show", "nope"]).exit_code == 1

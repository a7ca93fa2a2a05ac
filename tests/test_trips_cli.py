"""``crm trips ...`` and ``crm report trips`` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm.cli import app

runner = CliRunner()


def run(db_url: str, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["--db", db_url, *args])
    assert result.exit_code == code, result.output
    return result.output


def json_rows(db_url: str, *args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["--db", db_url, *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def setup_june(db_url: str) -> None:
    assert "squad 1: 第一小分队" in run(
        db_url,
        "trips",
        "squad",
        "add",
        "第一小分队",
        "--leader",
        "王县长",
        "--member",
        "李科长,张干事",
        "--unit",
        "县商务局",
    )
    run(db_url, "trips", "squad", "add", "第二小分队", "--leader", "赵部长")
    out = run(
        db_url,
        "trips",
        "set-plan",
        "--month",
        "2026-06",
        "--region",
        "北京,天津",
        "--region",
        "河北省",
        "--industry",
        "光伏发电",
        "--industry",
        "装备制造",
    )
    assert "2026-06: 北京、天津、河北 / 光伏发电、装备制造" in out
    out = run(
        db_url,
        "trips",
        "add",
        "--squad",
        "第一小分队",
        "--month",
        "2026-06",
        "--dest",
        "北京:海淀区",
        "--industry",
        "光伏发电",
        "--starts-on",
        "2026-06-10",
        "--ends-on",
        "2026-06-14",
        "--budget",
        "5",
        "--visit",
        "北京某某能源集团|企业|王经理|光伏组件",
        "--visit",
        "|商会",
    )
    assert "trip 1: 第一小分队 2026-06" in out


def test_plan_check_visit_lead_sign_and_report(db_url: str, tmp_path: Path) -> None:
    setup_june(db_url)
    out = run(db_url, "trips", "plan", "--month", "2026-06")
    assert "2026-06 plan: 北京、天津、河北 / 光伏发电、装备制造" in out
    assert "北京(海淀区)" in out and "王县长、李科长、张干事" in out

    out = run(db_url, "trips", "check", "--month", "2026-06")  # findings still exit 0
    assert "[squad_without_trip] 2026-06 第二小分队" in out
    assert "[region_unvisited]" in out and "天津" in out and "河北" in out
    assert "[visit_without_counterpart]" in out and "4 finding(s)" in out
    kinds = sorted(str(r["kind"]) for r in json_rows(db_url, "trips", "check"))
    assert kinds == ["region_unvisited", "region_unvisited", "squad_without_trip", "visit_without_counterpart"]

    assert "visit 1 held on 2026-06-11: 北京某某能源集团" in run(
        db_url, "trips", "visit", "--visit", "1", "--on", "2026-06-11", "--attendee", "王县长", "--notes", "有意向"
    )
    assert "lead 1: 组件厂项目" in run(
        db_url,
        "trips",
        "lead",
        "add",
        "--project",
        "组件厂项目",
        "--investor",
        "北京某某能源集团有限公司",
        "--visit",
        "1",
        "--received-on",
        "2026-06-11",
        "--planned",
        "5亿",
        "--industry",
        "光伏发电",
        "--category",
        "新能源",
    )
    assert "lead 1 is at negotiation (洽谈)" in run(db_url, "trips", "lead", "advance", "1", "--stage", "洽谈")
    run(db_url, "trips", "lead", "respond", "1", "--acknowledged-on", "2026-06-12")
    overdue = json_rows(db_url, "trips", "lead", "overdue", "--as-of", "2026-06-20")
    assert [(r["step"], r["due_on"], r["done_on"], r["days_late"]) for r in overdue] == [
        ("assess", "2026-06-14", None, 6),
        ("feedback", "2026-06-18", None, 2),
    ]  # acknowledged on time
    reserve = json_rows(db_url, "trips", "reserve", "--target", "350亿")
    assert reserve == [
        {
            "category": "新能源",
            "leads": 1,
            "planned_yuan": 500_000_000,
            "target_yuan": 35_000_000_000,
            "share": 500_000_000 / 35_000_000_000,
        }
    ]
    out = run(
        db_url, "trips", "lead", "sign", "1", "--signed-on", "2026-07-20", "--amount", "30000", "--leader", "王县长"
    )
    assert "lead 1 signed as deal 1: 组件厂项目 30,000.00万元" in out
    run(db_url, "trips", "spend", "1", "--amount", "4.2")

    rows = json_rows(db_url, "report", "trips", "--by", "trip")
    assert rows == [
        {
            "trip_id": 1,
            "month": "2026-06-01",
            "squad": "第一小分队",
            "visits": 1,
            "leads": 1,
            "signed": 1,
            "contracted_yuan": 300_000_000,
            "arrived_yuan": 0,
            "cost_yuan": 42_000,
            "cost_per_signed_yuan": 42_000,
        }
    ]
    squads = json_rows(db_url, "report", "trips", "--by", "squad")
    # every squad is a row, the one without a trip with zeros
    assert [(r["squad"], r["visits"], r["signed"]) for r in squads] == [("第一小分队", 1, 1), ("第二小分队", 0, 0)]
    out_file = tmp_path / "trips.csv"
    run(db_url, "report", "trips", "--by", "region", "--format", "csv", "--out", str(out_file))
    assert out_file.read_text(encoding="utf-8").splitlines()[1].startswith("北京,1,1,1,300000000,0,42000,42000")

    itinerary = json_rows(db_url, "trips", "itinerary", "--year", "2026")
    assert itinerary == [
        {
            "month": "2026-06-01",
            "plan": "北京、天津、河北 / 光伏发电、装备制造",
            "第一小分队": "北京(海淀区) / 光伏发电",
            "第二小分队": "",
        }
    ]
    coverage = json_rows(db_url, "trips", "coverage")
    assert len(coverage) == 6 and sum(bool(r["visited"]) for r in coverage) == 1
    squads_listed = json_rows(db_url, "trips", "squad", "list")
    assert squads_listed[0] == {
        "squad": "第一小分队",
        "leader": "王县长",
        "members": "李科长、张干事",
        "unit": "县商务局",
        "trips": 1,
    }


def test_copy_plan_then_show_an_empty_month(db_url: str) -> None:
    setup_june(db_url)
    assert "planned 2026-07 from 2026-06" in run(
        db_url, "trips", "copy-plan", "--from", "2026-06", "--to", "2026-07", "--with-trips"
    )
    out = run(db_url, "trips", "plan", "--month", "2026-07")
    assert "2026-07 plan: 北京、天津、河北" in out and "2026-07-10" in out
    assert "no plan" in run(db_url, "trips", "plan", "--month", "2026-12")
    assert "no findings" in run(db_url, "trips", "check", "--month", "2026-12")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["trips", "add", "--squad", "第九小分队", "--month", "2026-06", "--dest", "北京"], 1, "no squad '第九小分队'"),
        (["trips", "set-plan", "--month", "2026-13", "--region", "北京", "--industry", "光伏发电"], 1, "not a month"),
        (
            ["trips", "set-plan", "--month", "2026-06", "--region", "火星", "--industry", "光伏发电"],
            1,
            "no such province-level division",
        ),
        (["report", "trips", "--by", "unit"], 1, "group the funnel by one of"),
        (["trips", "visit", "--on", "2026-06-11"], 1, "give --visit"),
        (["trips", "visit", "--visit", "1", "--on", "June 11"], 1, "is not a date"),
        (["trips", "lead", "overdue", "--deadlines", "1,x,7"], 1, "not three whole numbers"),
        (["trips", "lead", "advance", "7", "--stage", "洽谈"], 1, "no lead 7"),
        (
            ["trips", "lead", "add", "--project", "x", "--received-on", "2026-06-01", "--planned", "很多"],
            1,
            "cannot read",
        ),
        (["trips", "add", "--squad", "第一小分队", "--month", "2026-06"], 2, "--dest"),
    ],
)
def test_bad_command_lines(db_url: str, args: list[str], code: int, message: str) -> None:
    result = runner.invoke(app, ["--db", db_url, *args])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_visit_list_shows_visit_ids(db_url: str) -> None:
    setup_june(db_url)
    table = run(db_url, "trips", "visit", "list")
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in table.splitlines() if line.startswith("│")]
    # the two visits planned on trip 1: ids 1 and 2, the second without a counterpart yet
    assert [r[:5] for r in rows] == [
        ["1", "1", "第一小分队", "2026-06-01", "planned"],
        ["2", "1", "第一小分队", "2026-06-01", "planned"],
    ]
    assert "北京某某能源集团" in rows[0]
    assert "unknown action 'show'" in run(db_url, "trips", "visit", "show", code=1)

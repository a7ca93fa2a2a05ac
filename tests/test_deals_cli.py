"""``crm deal ...`` and ``crm report unstarted`` through the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, SQLModel, select
from typer.testing import CliRunner

from crm.cli import app
from crm.models import AuditLog, Deal, FollowUp, Investor, Person, Procedure, StallReason, Unit

runner = CliRunner()
SIGN = [
    "deal",
    "sign",
    "--project",
    "100MW光伏发电项目",
    "--investor",
    "甘肃示例能源有限公司",
    "--signed-on",
    "2026-03-01",
    "--industry",
    "光伏发电",
    "--unit",
    "县商务局",
    "--leader",
    "王县长",
]


def snapshot(engine: Engine) -> dict[str, Any]:
    tables: list[type[SQLModel]] = [Deal, Investor, Unit, Person, Procedure, FollowUp, StallReason]
    state: dict[str, Any] = {}
    with engine.connect() as connection:
        for model in tables:
            table = model.__table__  # type: ignore[attr-defined]
            state[table.name] = sorted(tuple(str(v) for v in r) for r in connection.execute(select(table)).all())
        state["audit"] = connection.execute(select(func.count()).select_from(AuditLog)).scalar_one()
    return state


def crm(db_url: str, *args: str) -> Any:
    return runner.invoke(app, ["--db", db_url, *args])


def deal(engine: Engine, deal_id: int) -> Deal:
    with Session(engine) as session:
        found = session.get(Deal, deal_id)
        assert found is not None
        return found


@pytest.mark.parametrize(
    ("amount", "yuan"),
    [
        ("3000", 30_000_000),
        ("3000万", 30_000_000),
        ("1.5亿", 150_000_000),
        ("30000000元", 30_000_000),
        ("3,000.5", 30_005_000),
    ],
)
def test_sign_reads_amounts_in_wan_by_default(db_url: str, engine: Engine, amount: str, yuan: int) -> None:
    result = crm(db_url, *SIGN, "--amount", amount, "--actor", "张三")
    assert result.exit_code == 0, result.output
    assert result.stdout == "deal 1 signed (已签约): 100MW光伏发电项目\n"
    assert deal(engine, 1).contracted_yuan == yuan
    with Session(engine) as session:
        actors = set(session.exec(select(AuditLog.actor)).all())
    assert actors == {"张三"}


def test_every_legal_path_through_the_cli(db_url: str, engine: Engine) -> None:
    assert crm(db_url, *SIGN, "--amount", "5000").exit_code == 0
    assert crm(db_url, *SIGN[:3], "二期", *SIGN[4:], "--amount", "100").exit_code == 0

    result = crm(db_url, "deal", "start", "1", "--on", "2026-04-01", "--note", "开工仪式")
    assert (result.exit_code, result.stdout) == (0, "deal 1 started (已开工): 100MW光伏发电项目\n")
    result = crm(db_url, "deal", "complete", "1", "--on", "2027-06-30")
    assert (result.exit_code, result.stdout) == (0, "deal 1 in_production (已竣工投产): 100MW光伏发电项目\n")

    result = crm(db_url, "deal", "terminate", "2", "--on", "2026-10-01", "--reason", "投资方撤资")
    assert (result.exit_code, result.stdout) == (0, "deal 2 terminated (已终止): 二期\n")
    result = crm(
        db_url,
        "deal",
        "reassign",
        "2",
        "--investor",
        "浙江新投资方有限公司",
        "--signed-on",
        "2026-11-01",
        "--amount",
        "80",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "deal 3 signed (已签约): 二期\nreplaces deal 2\n"
    new = deal(engine, 3)
    assert (new.replaces_id, new.contracted_yuan) == (2, 800_000)

    assert crm(db_url, *SIGN[:3], "增资", *SIGN[4:], "--amount", "1000", "--increases", "1").exit_code == 0
    assert deal(engine, 4).increases_id == 1 and deal(engine, 4).contracted_yuan == 10_000_000


def test_stall_follow_up_and_procedure(db_url: str, engine: Engine) -> None:
    assert crm(db_url, *SIGN, "--amount", "5000").exit_code == 0
    result = crm(db_url, "deal", "stall", "1", "--reason", "资金未落实", "--owner", "李四", "--note", "贷款未批")
    assert (result.exit_code, result.stdout) == (0, "deal 1 signed (已签约): 100MW光伏发电项目\n")
    result = crm(
        db_url,
        "deal",
        "follow-up",
        "1",
        "--on",
        "2026-04-01",
        "--action",
        "约谈投资方",
        "--next",
        "落实资金",
        "--due",
        "2026-04-15",
    )
    assert (result.exit_code, result.stdout) == (0, "follow-up 1 on deal 1, next due 2026-04-15\n")
    result = crm(db_url, "deal", "procedure", "1", "用地", "--state", "done", "--done-on", "2026-04-20")
    assert result.exit_code == 0, result.output
    assert result.stdout == "deal 1 procedure land: done\nmissing: 立项、环评、规划许可、施工许可\n"
    with Session(engine) as session:
        row = session.exec(select(FollowUp)).one()
        owner = session.exec(select(Person).where(Person.name == "李四")).one()
        assert (row.action, row.next_step, row.owner_id) == ("约谈投资方", "落实资金", owner.id)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["deal", "start", "1", "--on", "2026-02-01"],
            "error: deal 1 (100MW光伏发电项目): the start date 2026-02-01 is before the signing date 2026-03-01",
        ),
        (
            ["deal", "complete", "1", "--on", "2026-05-01"],
            "error: deal 1 (100MW光伏发电项目): cannot complete a deal that has not started",
        ),
        (
            ["deal", "reassign", "1", "--investor", "新公司", "--signed-on", "2026-05-01"],
            "error: deal 1 (100MW光伏发电项目): only a terminated deal can be reassigned (it is signed)",
        ),
        (
            ["deal", "terminate", "1", "--on", "2026-01-01", "--reason", "撤资"],
            "error: deal 1 (100MW光伏发电项目): the termination date 2026-01-01 is before the signing date",
        ),
        (["deal", "start", "99", "--on", "2026-04-01"], "error: no deal 99"),
        (["deal", "start", "1", "--on", "2026-13-01"], "error: --on: '2026-13-01' is not a date; write YYYY-MM-DD"),
        ([*SIGN[:3], "二期", *SIGN[4:], "--amount", "三千万"], "error: --amount: cannot read '三千万' as an amount"),
        ([*SIGN[:3], "二期", *SIGN[4:9], "造船", *SIGN[10:], "--amount", "1"], "error: industry: unknown industry"),
        ([*SIGN, "--amount", "5000"], "error: deal 1 (100MW光伏发电项目): this investor already signed this project"),
        (["deal", "stall", "1", "--reason", "没钱"], "error: reason: unknown stall reason"),
        (
            ["deal", "follow-up", "1", "--on", "2026-04-01", "--action", "x", "--due", "2026-03-01"],
            "error: due_on: the next step cannot be due before the follow-up",
        ),
        (["deal", "procedure", "1", "fire", "--state", "done"], "error: kind: unknown procedure"),
        (["report", "unstarted", "--level", "orange"], "error: level: use one of green, yellow, red"),
        (["report", "unstarted", "--unit", "没有这个单位"], "error: unit: no such unit"),
    ],
)
def test_refusals_exit_1_with_a_message_and_change_nothing(
    db_url: str, engine: Engine, args: list[str], message: str
) -> None:
    assert crm(db_url, *SIGN, "--amount", "5000").exit_code == 0
    before = snapshot(engine)
    result = crm(db_url, *args)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    "args",
    [
        ["deal", "start", "1"],  # --on missing
        ["deal", "start", "one", "--on", "2026-04-01"],  # not an id
        ["deal", "sign", "--project", "x"],  # required options missing
        ["deal", "frobnicate"],
        ["report", "unstarted", "--format", "xml"],
    ],
)
def test_malformed_command_lines_exit_2(db_url: str, engine: Engine, args: list[str]) -> None:
    before = snapshot(engine)
    assert crm(db_url, *args).exit_code == 2
    assert snapshot(engine) == before


def _ledger(db_url: str) -> None:
    assert crm(db_url, *SIGN, "--amount", "5000").exit_code == 0  # 1: 2026-03-01, age 122 on 2026-07-01
    assert (
        crm(
            db_url,
            *SIGN[:3],
            "二期",
            *SIGN[4:7],
            "2026-01-02",
            *SIGN[8:11],
            "某某镇",
            *SIGN[12:],
            "--amount",
            "1",
            "--signer",
            "县长",
        ).exit_code
        == 0
    )  # 2: age 180
    assert crm(db_url, *SIGN[:3], "三期", *SIGN[4:7], "2026-05-01", "--amount", "1").exit_code == 0  # 3: age 61
    assert crm(db_url, "deal", "start", "3", "--on", "2026-06-01").exit_code == 0
    assert crm(db_url, "deal", "stall", "2", "--reason", "land", "--owner", "李四").exit_code == 0
    assert (
        crm(db_url, "deal", "follow-up", "2", "--on", "2026-06-01", "--action", "走访", "--due", "2026-06-15").exit_code
        == 0
    )


def test_report_unstarted_as_csv(db_url: str) -> None:
    _ledger(db_url)
    result = crm(db_url, "report", "unstarted", "--as-of", "2026-07-01", "--format", "csv")
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [
        (
            r["deal_id"],
            r["signed_on"],
            r["age_days"],
            r["level"],
            r["reason"],
            r["owner"],
            r["next_due"],
            r["follow_up_overdue"],
            r["unit"],
            r["signer"],
        )
        for r in table
    ] == [
        ("2", "2026-01-02", "180", "red", "用地未落实", "李四", "2026-06-15", "True", "某某镇", "县长"),
        ("1", "2026-03-01", "122", "yellow", "", "", "", "False", "县商务局", ""),
    ]
    assert list(table[0]) == [
        "deal_id",
        "project_name",
        "investor",
        "industry",
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
        "signer",
        "size_yuan",
        "size_class",
    ]


def test_report_unstarted_as_json_with_filters(db_url: str) -> None:
    _ledger(db_url)
    result = crm(
        db_url,
        "report",
        "unstarted",
        "--as-of",
        "2026-07-01",
        "--format",
        "json",
        "--level",
        "red",
        "--unit",
        "某某镇",
        "--leader",
        "王县长",
        "--industry",
        "光伏发电",
        "--since",
        "2026-01-01",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(r["deal_id"], r["age_days"], r["level"], r["follow_up_overdue"], r["last_follow_up"]) for r in data] == [
        (2, 180, "red", True, "2026-06-01")
    ]
    assert data[0]["missing_procedures"] == "立项、用地、环评、规划许可、施工许可"
    result = crm(
        db_url,
        "report",
        "unstarted",
        "--as-of",
        "2026-07-01",
        "--format",
        "json",
        "--yellow-days",
        "30",
        "--red-days",
        "60",
        "--since",
        "2026-02-01",
    )
    assert [(r["deal_id"], r["level"]) for r in json.loads(result.stdout)] == [(1, "red")]


def test_report_unstarted_table_and_out_file(db_url: str, tmp_path: Path) -> None:
    _ledger(db_url)
    result = crm(db_url, "report", "unstarted", "--as-of", "2026-07-01")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("签约未开工 unstarted deals as of 2026-07-01: 2\n")
    assert "用地未落实" in result.stdout
    out = tmp_path / "unstarted.csv"
    result = crm(db_url, "report", "unstarted", "--as-of", "2026-07-01", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3


def test_report_unstarted_empty(db_url: str) -> None:
    result = crm(db_url, "report", "unstarted", "--as-of", "2026-07-01", "--format", "json")
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])

"""``crm major ...``, ``crm report major|registration`` and ``crm deal register`` refusing missing 入库材料."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from crm.cli import app
from crm.models import AuditLog, Deal
from tests.factories import get_or_make_person, get_or_make_unit, make_deal

runner = CliRunner()


def crm(db_url: str, *args: str) -> Any:
    return runner.invoke(app, ["--db", db_url, *args])


def _deal(engine: Engine) -> int:
    with Session(engine) as session:
        get_or_make_unit(session, "县工信局")
        get_or_make_person(session, "王县长")
        deal = make_deal(
            session,
            project_name="光伏组件项目",
            signed_on=date(2025, 10, 1),
            state="started",
            started_on=date(2026, 1, 10),
        )
        session.commit()
        assert deal.id is not None
        return deal.id


def test_add_plan_report_and_the_status_report(db_url: str, engine: Engine) -> None:
    deal_id = _deal(engine)
    r = crm(
        db_url,
        "major",
        "add",
        str(deal_id),
        "--year",
        "2026",
        "--source",
        "市责任书",
        "--category",
        "续建",
        "--unit",
        "县工信局",
        "--leader",
        "王县长",
        "--actor",
        "张三",
    )
    assert r.exit_code == 0, r.output
    project = r.output.split()[2].rstrip(":")
    months = [f"--month=2026-{m:02d}=500" for m in range(1, 7)]  # 500万 a month Jan-Jun
    r = crm(db_url, "major", "plan", project, "--milestone", "主体完工=2026-05-31", *months, "--actor", "张三")
    assert r.exit_code == 0, r.output
    assert "3,000.00万元" in r.output
    r = crm(
        db_url,
        "major",
        "report",
        project,
        "--week",
        "2026-W26",
        "--cumulative",
        "2900",
        "--progress",
        "设备安装",
        "--reached",
        "主体完工=2026-05-28",
        "--problem",
        "用电接入",
        "--problem-unit",
        "县工信局",
        "--reported-at",
        "2026-06-26T11:00",
        "--actor",
        "张三",
    )
    assert r.exit_code == 0, r.output
    assert "本年累计 2,900.00万元" in r.output
    r = crm(db_url, "report", "major", "--as-of", "2026-06-30", "--format", "json")
    assert r.exit_code == 0, r.output
    [row] = json.loads(r.output)
    assert (row["plan_to_date_yuan"], row["completed_yuan"], row["progress_status"]) == (
        30_000_000,
        29_000_000,
        "normal",
    )
    assert row["open_problems"] == "用电接入（县工信局）"
    r = crm(db_url, "report", "major", "--as-of", "2026-06-30", "--by", "unit", "--format", "csv")
    assert r.exit_code == 0 and r.output.splitlines()[1].startswith("县工信局,1,30000000,30000000,29000000")
    # a falling cumulative: exit 1, a plain message, nothing written
    r = crm(db_url, "major", "report", project, "--week", "2026-W27", "--cumulative", "2800")
    assert r.exit_code == 1 and "cannot go down" in r.stderr
    r = crm(db_url, "major", "missing", "--week", "2026-W26", "--format", "json")
    assert json.loads(r.output) == []  # 11:00 China time is before Friday 12:00
    r = crm(db_url, "major", "missing", "--week", "2026-W27", "--format", "json")
    assert [x["status"] for x in json.loads(r.output)] == ["missing"]
    r = crm(db_url, "major", "show", project)
    assert r.exit_code == 0 and "用电接入" in r.output and "主体完工" in r.output
    r = crm(db_url, "major", "resolve", "1", "--resolution", "已接入", "--on", "2026-07-03")
    assert r.exit_code == 0, r.output
    r = crm(db_url, "report", "major", "--as-of", "2026-07-10", "--format", "json")
    assert json.loads(r.output)[0]["open_problems"] == ""
    r = crm(
        db_url, "major", "investment", "--from", "2026-06-01", "--to", "2026-06-30", "--by", "unit", "--format", "csv"
    )
    assert r.output.splitlines()[1] == "县工信局,29000000,0,29000000,"
    r = crm(db_url, "major", "score", "--quarter", "2026Q2", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)[0]["name"] == "县工信局"


def test_register_refused_until_documents_or_forced(db_url: str, engine: Engine) -> None:
    deal_id = _deal(engine)
    r = crm(db_url, "deal", "register", str(deal_id), "--on", "2026-06-30")
    assert r.exit_code == 1
    assert "审批/核准/备案文件、施工许可证、主体工程施工合同" in r.stderr
    r = crm(db_url, "major", "document", str(deal_id), "--kind", "施工许可证", "--number", "6201", "--on", "2026-01-05")
    assert r.exit_code == 0 and "审批/核准/备案文件、主体工程施工合同" in r.output
    r = crm(db_url, "report", "registration", "--format", "json")
    assert json.loads(r.output)[0]["missing"] == "审批/核准/备案文件、主体工程施工合同"
    r = crm(db_url, "deal", "register", str(deal_id), "--on", "2026-06-30", "--force")
    assert r.exit_code == 1 and "needs a reason" in r.stderr
    r = crm(db_url, "deal", "register", str(deal_id), "--on", "2026-06-30", "--force", "--reason", "统计局同意")
    assert r.exit_code == 0, r.output
    with Session(engine) as session:
        assert session.get(Deal, deal_id).registered_on == date(2026, 6, 30)  # type: ignore[union-attr]
        audit = session.exec(select(AuditLog).where(AuditLog.action == "register")).one()
        assert "统计局同意" in (audit.note or "")


def test_unknown_names_and_malformed_lines(db_url: str, engine: Engine) -> None:
    deal_id = _deal(engine)
    r = crm(
        db_url,
        "major",
        "add",
        str(deal_id),
        "--year",
        "2026",
        "--source",
        "市责任书",
        "--category",
        "续建",
        "--leader",
        "王县",
    )
    assert r.exit_code == 1 and "closest: 王县长" in r.stderr
    r = crm(db_url, "major", "plan", "1", "--milestone", "开工")
    assert r.exit_code == 1 and "NAME=VALUE" in r.stderr
    assert crm(db_url, "major", "add", str(deal_id), "--year", "x").exit_code == 2


def test_list_import_export_and_weekly_ledger(db_url: str, engine: Engine, tmp_path: Path) -> None:
    _deal(engine)
    ledger = tmp_path / "责任清单.csv"
    ledger.write_text(
        "项目名称,建设性质,年度计划投资（万元）,包抓领导,责任单位\n光伏组件项目,续建,3000,王县长,县工信局\n",
        encoding="utf-8",
    )
    r = crm(db_url, "major", "import", str(ledger), "--year", "2026", "--actor", "张三")
    assert r.exit_code == 0 and "1 added to the list" in r.output
    r = crm(db_url, "major", "list", "--year", "2026", "--format", "json")
    [row] = json.loads(r.output)
    assert (row["planned_yuan"], row["leaders"], row["source"]) == (30_000_000, "王县长", "市责任书")
    out = tmp_path / "清单.xlsx"
    assert crm(db_url, "major", "export", str(out), "--year", "2026").exit_code == 0
    r = crm(db_url, "major", "import", str(out), "--year", "2026")
    assert r.exit_code == 0 and "0 added to the list, 1 already on it" in r.output
    weekly = tmp_path / "调度表.csv"
    weekly.write_text(
        "项目名称,实体进度,本周完成投资（万元）,本年累计完成投资（万元）\n光伏组件项目,基础施工,,1200\n",
        encoding="utf-8",
    )
    r = crm(db_url, "major", "progress", str(weekly), "--week", "2026-W26", "--actor", "张三")
    assert r.exit_code == 0 and "1 weekly reports recorded" in r.output
    weekly.write_text("项目名称,本年累计完成投资（万元）\n光伏组件项目,1100\n", encoding="utf-8")
    r = crm(db_url, "major", "progress", str(weekly), "--week", "2026-W27")
    assert r.exit_code == 1 and "row 2" in r.stderr and "cannot go down" in r.stderr

"""The correction commands through the command line: deal list|edit|correct, arrival list|verify|void,
ref list|add|rename, investor duplicates|merge, and names that must exist, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, select
from typer.testing import CliRunner

from crm.cli import app
from crm.models import AuditLog, CapitalArrival, Deal, Investor, Unit

runner = CliRunner()
SIGN_P = ["deal", "sign", "--project", "p", "--investor", "i", "--signed-on", "2026-03-01", "--amount", "1"]


def crm(db_url: str, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, ["--db", db_url, *args])
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.output
    return result


def rows(db_url: str, *args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(crm(db_url, *args, "--format", "json").stdout)
    return found


def audit_count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(AuditLog)).one())


def setup(db_url: str) -> None:
    crm(db_url, "ref", "add", "unit", "县商务局")
    crm(db_url, "ref", "add", "unit", "县发改局")
    crm(db_url, "ref", "add", "person", "王建国", "--title", "副县长", "--unit", "县商务局")
    sign = ["deal", "sign", "--investor", "甘肃示例能源有限公司", "--industry", "光伏发电", "--unit", "县商务局"]
    crm(db_url, *sign, "--project", "100MW光伏发电项目", "--signed-on", "2026-03-01", "--amount", "5900")
    crm(db_url, *sign, "--project", "100MW光伏发电项目二期", "--signed-on", "2026-05-01", "--amount", "1.5亿")
    crm(db_url, *sign, "--project", "装备制造产业园", "--signed-on", "2026-04-01", "--amount", "8000")


def test_deal_list_edit_show_and_correct_by_name(db_url: str, engine: Engine) -> None:
    setup(db_url)
    listed = rows(db_url, "deal", "list", "--search", "光伏", "--min-amount", "1亿")
    assert [(r["deal_id"], r["project_name"], r["contracted_yuan"]) for r in listed] == [
        (2, "100MW光伏发电项目二期", 150_000_000)
    ]
    assert [r["deal_id"] for r in rows(db_url, "deal", "list", "--unit", "县商务局")] == [1, 3, 2]
    table = crm(db_url, "deal", "list", "--state", "signed").stdout
    assert "deals: 3" in table and "0.59亿元" in table  # 万元 or 亿元 per column (crm.display)

    out = crm(db_url, "deal", "edit", "装备", "--amount", "8500万", "--unit", "县发改局", "--leader", "王建国").stdout
    assert out.splitlines() == [
        "deal 3 unit: 县商务局 → 县发改局",
        "deal 3 leader: — → 王建国",
        "deal 3 contracted_yuan: 8,000.00万元 → 8,500.00万元",
    ]
    shown = crm(db_url, "deal", "show", "装备制造产业园").stdout
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in shown.splitlines() if "│ edit │" in line]
    assert [c[-4:-1] for c in cells] == [  # names, not ids; the leader had none
        ["责任单位", "县商务局", "县发改局"],
        ["包抓领导", "", "王建国"],
        ["合同投资额", "80000000", "85000000"],
    ]

    ambiguous = crm(db_url, "deal", "start", "光伏", "--on", "2026-06-01", code=1)
    assert ambiguous.stderr.splitlines() == [
        "error: '光伏' names 2 deals; give the id:",
        "  deal 1: 100MW光伏发电项目 (signed 2026-03-01, signed)",
        "  deal 2: 100MW光伏发电项目二期 (signed 2026-05-01, signed)",
    ]
    crm(db_url, "deal", "start", "100MW光伏发电项目", "--on", "2026-06-01")  # the exact name is unique
    refused = crm(db_url, "deal", "correct", "1", "--started-on", "2026-02-01", code=1)
    assert "the start date 2026-02-01 is before the signing date 2026-03-01" in refused.stderr
    assert crm(db_url, "deal", "correct", "1", "--started-on", "2026-06-05").stdout == (
        "deal 1 started_on: 2026-06-01 → 2026-06-05\n"
    )
    before = audit_count(engine)
    typo = crm(db_url, "deal", "edit", "1", "--unit", "县发改", code=1)
    assert typo.stderr == "error: unit 县发改 — no such unit; did you mean 县发改局?\n"
    assert audit_count(engine) == before
    increase = ["deal", "sign", "--project", "增资", "--investor", "甘肃示例能源有限公司", "--signed-on", "2026-08-01"]
    crm(db_url, *increase, "--amount", "1000", "--increases", "装备制造")  # the parent named by its project
    with Session(engine) as session:
        assert session.exec(select(Deal.increases_id).where(Deal.project_name == "增资")).one() == 3


def test_names_on_the_command_line_must_exist(db_url: str, engine: Engine) -> None:
    setup(db_url)
    with Session(engine) as session:
        units_before = session.exec(select(func.count()).select_from(Unit)).one()
    for args, message in [
        (["report", "kpis", "--unit", "县商务"], "error: unit 县商务 — no such unit; did you mean 县商务局?"),
        (["report", "kpis", "--industry", "光伏"], "error: industry 光伏 — no such industry; did you mean 光伏发电"),
        (["report", "kpis", "--leader", "王局长"], "error: leader 王局长 — no such person"),
        (["report", "targets", "--scope", "县商务"], "error: scope 县商务 — no such scope"),
        (["report", "unstarted", "--industry", "光伏"], "error: industry 光伏 — no such industry"),
        (
            [*SIGN_P, "--unit", "不存在的单位"],
            "error: unit 不存在的单位 — no such unit",
        ),
        (
            [*SIGN_P, "--industry", "新型储能"],
            "error: industry 新型储能 — no such industry",
        ),
    ]:
        assert crm(db_url, *args, code=1).stderr.startswith(message), args
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Unit)).one() == units_before
    # a bureau adds its own industry, then it can be used
    assert crm(db_url, "ref", "add", "industries", "新型储能", "--category", "新能源").stdout.startswith(
        "added industry "
    )
    crm(
        db_url,
        "deal",
        "sign",
        "--project",
        "储能电站",
        "--investor",
        "宁夏储能",
        "--signed-on",
        "2026-03-01",
        "--amount",
        "1",
    )
    crm(db_url, "deal", "edit", "储能电站", "--industry", "新型储能")
    kpis = rows(db_url, "report", "kpis", "--unit", "县商务局", "--as-of", "2026-12-31")
    assert (kpis[0]["signed"], kpis[0]["contracted_yuan"]) == (3, 59_000_000 + 150_000_000 + 80_000_000)


def test_arrival_list_verify_void(db_url: str, engine: Engine) -> None:
    setup(db_url)
    crm(db_url, "arrival", "add", "100MW光伏发电项目", "--on", "2026-05-01", "--amount", "500", "--source", "省外")
    crm(db_url, "arrival", "add", "1", "--on", "2026-05-01", "--amount", "500", "--source", "省外")
    crm(db_url, "arrival", "add", "装备", "--on", "2026-06-01", "--amount", "300", "--source", "境外")
    listed = rows(db_url, "arrival", "list", "--deal", "100MW光伏发电项目")
    assert [(r["arrival_id"], r["arrived_yuan"], r["verified"]) for r in listed] == [
        (1, 5_000_000, False),
        (2, 5_000_000, False),
    ]
    assert crm(db_url, "arrival", "void", "2", "--reason", "重复录入", "--on", "2026-05-03").stdout == (
        "arrival 2 voided on 2026-05-03: 500.00万元 (重复录入)\n"
    )
    out = crm(db_url, "arrival", "verify", "1", "3", "--evidence", "银行进账单", "--on", "2026-06-30").stdout
    assert out.splitlines() == [
        "arrival 1 verified on 2026-06-30: 500.00万元",
        "arrival 3 verified on 2026-06-30: 300.00万元",
    ]
    assert [r["arrival_id"] for r in rows(db_url, "arrival", "list", "--verified")] == [1, 3]
    assert [r["arrival_id"] for r in rows(db_url, "arrival", "list", "--voided")] == [2]
    assert [
        r["arrival_id"] for r in rows(db_url, "arrival", "list", "--since", "2026-06-01", "--unit", "县商务局")
    ] == [3]
    # 1,000万 arrived of 5,900万 + 1.5亿 + 8,000万 contracted; the voided 500万 counts nowhere
    kpis = rows(db_url, "report", "kpis", "--as-of", "2026-12-31")
    assert kpis[0]["arrived_yuan"] == 8_000_000
    assert crm(db_url, "arrival", "void", "2", "--reason", "again", code=1).stderr.startswith(
        "error: arrival 2: already voided on 2026-05-03"
    )
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(CapitalArrival)).one() == 3


def test_ref_lists_and_investor_merge(db_url: str, engine: Engine) -> None:
    setup(db_url)
    assert [r["name"] for r in rows(db_url, "ref", "list", "units")] == ["县商务局", "县发改局"]
    assert rows(db_url, "ref", "list", "people") == [{"id": 1, "name": "王建国", "title": "副县长", "unit": "县商务局"}]
    crm(db_url, "ref", "rename", "unit", "县商务局", "县商务和经济合作局")
    assert [r["unit"] for r in rows(db_url, "deal", "list", "--search", "装备")] == ["县商务和经济合作局"]
    taken = crm(db_url, "ref", "rename", "unit", "县发改局", "县商务和经济合作局", code=1)
    assert "already exists" in taken.stderr
    crm(db_url, "ref", "add", "region_alias", "内蒙", "--region", "内蒙古")
    assert crm(db_url, "ref", "list", "planets", code=1).stderr.startswith("error: kind: use one of industry, unit")

    sign = ["deal", "sign", "--signed-on", "2026-07-01", "--amount", "100"]
    crm(db_url, *sign, "--project", "光伏三期", "--investor", "示例能源（甘肃）有限公司", "--origin", "内蒙")
    code = crm(db_url, *sign, "--project", "甲", "--investor", "乙公司", "--credit-code", "91620100MA7ABCDE1X")
    assert code.exit_code == 0
    clash = crm(db_url, *sign, "--project", "丙", "--investor", "丁公司", "--credit-code", "91620100MA7ABCDE1X", code=1)
    assert "credit code 91620100MA7ABCDE1X belongs to investor 3 (乙公司)" in clash.stderr
    assert "'丁公司'" in clash.stderr

    found = rows(db_url, "investor", "duplicates")
    assert [(r["group"], r["investor_id"], r["name"], r["deals"]) for r in found] == [
        (1, 1, "甘肃示例能源有限公司", 3),
        (1, 2, "示例能源（甘肃）有限公司", 1),
    ]
    out = crm(db_url, "investor", "merge", "1", "2", "--actor", "张三").stdout
    assert out == "merged 2 into investor 1 (甘肃示例能源有限公司)\n"
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Investor)).one() == 2
        moved = session.exec(select(Deal).where(Deal.project_name == "光伏三期")).one()
        assert moved.investor_id == 1
    assert rows(db_url, "investor", "duplicates") == []
    assert crm(db_url, "investor", "merge", "1", "99", code=1).stderr == "error: no investor 99\n"

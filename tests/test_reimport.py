"""Re-importing a corrected ledger: an exported deals workbook edited the way a clerk edits it (openpyxl
writes the changed cells), then imported: differences listed and refused, --dry-run, --update, names."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from typer.testing import CliRunner

from crm import deals
from crm.cli import app
from crm.errors import LedgerError
from crm.ledgers import export_ledger, import_ledger
from crm.ledgers.reimport import Differences
from crm.models import AuditLog, CapitalArrival, Deal, Unit

runner = CliRunner()


def build(session: Session) -> dict[str, int]:
    sign = {"actor": "t", "unit": "县商务局", "leader": "王县长", "industry": "光伏发电"}
    a = deals.sign(
        session,
        project_name="100MW光伏发电项目",
        investor="甘肃示例能源有限公司",
        signed_on=date(2026, 3, 1),
        contracted_yuan=59_000_000,  # 5900万
        **sign,
    )
    b = deals.sign(
        session,
        project_name="商贸中心",
        investor="浙江新投资方有限公司",
        signed_on=date(2026, 4, 1),
        contracted_yuan=150_000_000,  # 1.5亿
        **sign,
    )
    c = deals.sign(
        session,
        project_name="装备制造产业园",
        investor="江苏某装备集团有限公司",
        signed_on=date(2026, 4, 15),
        contracted_yuan=80_000_000,  # 8000万
        **sign,
    )
    deals.start(session, c.id, on=date(2026, 5, 1), actor="t")
    deals.sign(session, project_name="x", investor="y", signed_on=date(2026, 1, 1), contracted_yuan=1, actor="t")
    return {"a": a.id, "b": b.id, "c": c.id}  # type: ignore[dict-item]


def clerk_edits(exported: Path, edited: Path) -> None:
    """What a clerk does in Excel: corrects amounts (a number, then 亿 as text), a unit, a project's name,
    retypes a row with spaces and full-width digits, and adds a new deal with a new unit at the bottom."""
    book = openpyxl.load_workbook(exported)
    sheet = book.active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    at = {name: header.index(name) + 1 for name in header}
    rows = {sheet.cell(r, at["项目名称"]).value: r for r in range(2, sheet.max_row + 1)}
    a, b, c = rows["100MW光伏发电项目"], rows["商贸中心"], rows["装备制造产业园"]
    sheet.cell(a, at["合同投资额（万元）"]).value = 6000
    sheet.cell(a, at["项目名称"]).value = "100MW光伏发电项目（一期）"  # found again by its 项目编号
    sheet.cell(b, at["合同投资额（万元）"]).value = "2亿"
    sheet.cell(b, at["责任单位"]).value = "县发改局"
    sheet.cell(c, at["项目名称"]).value = " 装备制造 产业园"  # formatting only:
    sheet.cell(c, at["合同投资额（万元）"]).value = "０.８亿"  # 8000万 in full-width 亿
    sheet.cell(c, at["责任单位"]).value = "县商务局　"
    new = sheet.max_row + 1
    for name, value in {
        "项目名称": "新型储能电站",
        "投资方": "宁夏某储能有限公司",
        "合同投资额（万元）": 12000,
        "签约日期": datetime(2026, 6, 1),
        "责任单位": "县新区管委会",
    }.items():
        sheet.cell(new, at[name]).value = value
    book.save(edited)


@pytest.fixture
def ledgers(session: Session, tmp_path: Path) -> tuple[dict[str, int], Path, Path]:
    ids = build(session)
    exported, edited = tmp_path / "签约项目台账.xlsx", tmp_path / "签约项目台账（修改）.xlsx"
    assert export_ledger(session, "deals", exported) == 4
    session.add(Unit(name="县发改局"))
    session.commit()
    clerk_edits(exported, edited)
    return ids, exported, edited


def state(engine: Engine) -> tuple[Any, ...]:
    with Session(engine) as s:
        deals_now = sorted((d.id, d.project_name, d.contracted_yuan, d.unit_id) for d in s.exec(select(Deal)).all())
        return tuple(deals_now), s.exec(select(func.count()).select_from(AuditLog)).one()


EXPECTED = [
    "row 3 项目名称 100MW光伏发电项目: 项目名称 100MW光伏发电项目 → 100MW光伏发电项目（一期）",
    "row 3 项目名称 100MW光伏发电项目: 合同投资额 5900万 → 6000万",
    "row 4 项目名称 商贸中心: 合同投资额 15000万 → 20000万",
    "row 4 项目名称 商贸中心: 责任单位 县商务局 → 县发改局",
]


def test_differences_are_listed_and_nothing_is_written(
    session: Session, engine: Engine, ledgers: tuple[dict[str, int], Path, Path]
) -> None:
    _, exported, edited = ledgers
    before = state(engine)
    assert import_ledger(session, "deals", exported, actor="t").already_present == 4  # unchanged: fine
    with pytest.raises(Differences) as caught:
        import_ledger(session, "deals", edited, actor="t")
    assert caught.value.lines == EXPECTED
    assert isinstance(caught.value, LedgerError)
    assert state(engine) == before


def test_dry_run_reports_and_writes_nothing(
    session: Session, engine: Engine, ledgers: tuple[dict[str, int], Path, Path]
) -> None:
    _, _, edited = ledgers
    before = state(engine)
    result = import_ledger(session, "deals", edited, actor="t", dry_run=True, update=True)
    assert (result.rows, result.inserted, result.already_present, result.updated) == (5, 1, 4, 2)
    assert result.differences == EXPECTED
    assert result.new_names == {"unit": ["县新区管委会"]}
    assert result.summary().endswith("dry run: nothing was written")
    assert state(engine) == before


def test_update_applies_the_differences_as_audited_edits(
    session: Session, engine: Engine, ledgers: tuple[dict[str, int], Path, Path]
) -> None:
    ids, _, edited = ledgers
    result = import_ledger(session, "deals", edited, actor="李四", update=True)
    assert (result.inserted, result.already_present, result.updated) == (1, 4, 2)
    assert result.new_names == {"unit": ["县新区管委会"]}
    with Session(engine) as s:
        a, b, c = (s.get(Deal, ids[k]) for k in "abc")
        assert a is not None and b is not None and c is not None
        assert (a.project_name, a.contracted_yuan) == ("100MW光伏发电项目（一期）", 60_000_000)
        assert b.contracted_yuan == 200_000_000
        assert (c.project_name, c.contracted_yuan) == ("装备制造产业园", 80_000_000)  # formatting is no change
        edits = s.exec(select(AuditLog).where(AuditLog.action == "edit").order_by(AuditLog.id)).all()
        assert [(e.entity_id, e.field, e.old, e.new, e.actor) for e in edits] == [
            (ids["a"], "project_name", "100MW光伏发电项目", "100MW光伏发电项目（一期）", "李四"),
            (ids["a"], "contracted_yuan", "59000000", "60000000", "李四"),
            (ids["b"], "contracted_yuan", "150000000", "200000000", "李四"),
            (ids["b"], "unit", "县商务局", "县发改局", "李四"),
        ]
        assert {e.note for e in edits} == {
            "re-import of 签约项目台账（修改）.xlsx, row 3",
            "re-import of 签约项目台账（修改）.xlsx, row 4",
        }
        assert s.exec(select(func.count()).select_from(Deal)).one() == 5
    again = import_ledger(session, "deals", edited, actor="t")  # now the database agrees with the ledger
    assert (again.inserted, again.already_present, again.differences) == (0, 5, [])


def test_cli_exit_codes_and_new_names(db_url: str, engine: Engine, ledgers: tuple[dict[str, int], Path, Path]) -> None:
    _, _, edited = ledgers
    before = state(engine)
    refused = runner.invoke(app, ["--db", db_url, "import", "deals", str(edited)])
    assert refused.exit_code == 1
    assert refused.stderr.splitlines()[1:] == [f"error: {line}" for line in EXPECTED]
    no_new = runner.invoke(app, ["--db", db_url, "import", "deals", str(edited), "--update", "--no-new-names"])
    assert no_new.exit_code == 1
    assert "row 6, column 责任单位: no such unit; " in no_new.stderr and "(--no-new-names)" in no_new.stderr
    dry = runner.invoke(app, ["--db", db_url, "import", "deals", str(edited), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1 would be inserted, 4 already present" in dry.stdout
    assert "  difference: " + EXPECTED[2] in dry.stdout and "  new unit: 县新区管委会" in dry.stdout
    assert state(engine) == before
    applied = runner.invoke(app, ["--db", db_url, "import", "deals", str(edited), "--update"])
    assert applied.exit_code == 0, applied.output
    assert "1 inserted, 4 already present, 2 updated" in applied.stdout
    assert "  changed: " + EXPECTED[1] in applied.stdout


ARRIVALS = """
项目名称,到位日期,到位资金（万元）,资金来源
商贸中心,2026-05-01,500,省外
装备制造产业园,2026-06-01,0.03亿,境外
"""


def test_dry_run_of_an_arrivals_ledger_writes_nothing(session: Session, engine: Engine, tmp_path: Path) -> None:
    build(session)
    path = tmp_path / "到位资金.csv"
    path.write_text(ARRIVALS.strip() + "\n", encoding="utf-8")
    before = state(engine)
    dry = import_ledger(session, "arrivals", path, actor="t", dry_run=True)
    assert (dry.rows, dry.inserted, dry.already_present) == (2, 2, 0)
    assert state(engine) == before
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(CapitalArrival)).one() == 0
    done = import_ledger(session, "arrivals", path, actor="t")
    assert done.inserted == 2
    with Session(engine) as s:
        assert s.exec(select(func.sum(CapitalArrival.arrived_yuan))).one() == 5_000_000 + 3_000_000

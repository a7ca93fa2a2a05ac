"""Re-importing a corrected arrivals ledger: an exported workbook whose rows carry 到位编号, edited the way a
clerk edits it (openpyxl writes the changed cells), then imported: a corrected amount is a difference
(refused, --dry-run, --update as an audited edit), never a second arrival; formatting is no difference;
an id from another database (another deal) or of a voided arrival is not matched."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from typer.testing import CliRunner

from crm import arrivals, deals, metrics
from crm.arrivals import record_arrival
from crm.cli import app
from crm.ledgers import export_ledger, import_ledger
from crm.ledgers.reimport import Differences
from crm.models import AuditLog, CapitalArrival

runner = CliRunner()
AS_OF = date(2026, 6, 30)


def build(session: Session) -> dict[str, int]:
    sign = {"actor": "t", "unit": "县商务局", "leader": "王县长", "industry": "光伏发电"}
    a = deals.sign(
        session,
        project_name="商贸中心",
        investor="浙江新投资方有限公司",
        signed_on=date(2026, 4, 1),
        contracted_yuan=150_000_000,
        **sign,
    )
    b = deals.sign(
        session,
        project_name="装备制造产业园",
        investor="江苏某装备集团有限公司",
        signed_on=date(2026, 4, 15),
        contracted_yuan=80_000_000,
        **sign,
    )
    assert a.id is not None and b.id is not None
    deals.start(session, b.id, on=date(2026, 5, 1), actor="t")
    one = record_arrival(session, a.id, on=date(2026, 5, 1), amount_yuan=5_000_000, source="省外", actor="t")
    two = record_arrival(session, a.id, on=date(2026, 6, 1), amount_yuan=3_000_000, source="境外", actor="t")
    three = record_arrival(session, b.id, on=date(2026, 6, 1), amount_yuan=2_000_000, source="省外", actor="t")
    void = record_arrival(session, a.id, on=date(2026, 5, 10), amount_yuan=1_000_000, source="省外", actor="t")
    arrivals.void(session, void.id, reason="重复录入", actor="t")  # type: ignore[arg-type]
    return {"one": one.id, "two": two.id, "three": three.id, "void": void.id}  # type: ignore[dict-item]


def edit(exported: Path, edited: Path, cells: dict[tuple[int, str], Any]) -> None:
    """What a clerk does in Excel: overwrite cells (row number, header) and save."""
    book = openpyxl.load_workbook(exported)
    sheet = book.active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    for (row, title), value in cells.items():
        sheet.cell(row, header.index(title) + 1).value = value
    book.save(edited)


def cell(path: Path, row: int, title: str) -> Any:
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    return sheet.cell(row, header.index(title) + 1).value


AMOUNT = "到位资金（万元）"


@pytest.fixture
def ledger(session: Session, tmp_path: Path) -> tuple[dict[str, int], Path, Path]:
    ids = build(session)
    exported, edited = tmp_path / "到位资金台账.xlsx", tmp_path / "到位资金台账（修改）.xlsx"
    assert export_ledger(session, "arrivals", exported) == 3  # the voided arrival is not exported
    # rows by date then id: 2 = 商贸中心 05-01 500万, 3 = 商贸中心 06-01 300万, 4 = 装备制造产业园 06-01 200万
    assert [cell(exported, r, "到位编号") for r in (2, 3, 4)] == [ids["one"], ids["two"], ids["three"]]
    assert [cell(exported, r, AMOUNT) for r in (2, 3, 4)] == [500, 300, 200]
    edit(
        exported,
        edited,
        {
            (2, AMOUNT): 600,  # the correction: 500万 -> 600万
            (3, AMOUNT): "３００",  # formatting only: full-width digits
            (4, AMOUNT): "2000000元",  # formatting only: the same amount in 元
            (4, "是否核实"): "是",  # a second correction: now verified
        },
    )
    return ids, exported, edited


def state(engine: Engine) -> tuple[Any, ...]:
    with Session(engine) as s:
        rows = s.exec(select(CapitalArrival).order_by(CapitalArrival.id)).all()
        audit_rows = s.exec(select(func.count()).select_from(AuditLog)).one()
        return tuple((a.id, a.deal_id, a.arrived_on, a.arrived_yuan, a.verified, a.voided_on) for a in rows), audit_rows


def arrived(session: Session) -> int:
    return int(metrics.kpis(session, as_of=AS_OF)["arrived_yuan"].sum())


def expected(ids: dict[str, int]) -> list[str]:
    return [
        f"row 2 到位编号 {ids['one']} 商贸中心: 到位资金 500万 → 600万",
        f"row 4 到位编号 {ids['three']} 装备制造产业园: 是否核实 否 → 是",
    ]


def test_an_unchanged_export_is_already_present(
    session: Session, engine: Engine, ledger: tuple[dict[str, int], Path, Path]
) -> None:
    _, exported, _ = ledger
    before = state(engine)
    result = import_ledger(session, "arrivals", exported, actor="t")
    assert (result.rows, result.inserted, result.already_present, result.updated) == (3, 0, 3, 0)
    assert state(engine) == before


def test_a_corrected_amount_is_a_difference_and_nothing_is_written(
    session: Session, engine: Engine, ledger: tuple[dict[str, int], Path, Path]
) -> None:
    ids, _, edited = ledger
    before = state(engine)
    assert arrived(session) == 10_000_000  # 500万 + 300万 + 200万; the voided 100万 never counts
    with pytest.raises(Differences) as caught:
        import_ledger(session, "arrivals", edited, actor="t")
    assert caught.value.lines == expected(ids)
    assert state(engine) == before
    assert arrived(session) == 10_000_000


def test_dry_run_reports_and_writes_nothing(
    session: Session, engine: Engine, ledger: tuple[dict[str, int], Path, Path]
) -> None:
    ids, _, edited = ledger
    before = state(engine)
    dry = import_ledger(session, "arrivals", edited, actor="t", dry_run=True)
    assert (dry.inserted, dry.already_present, dry.updated, dry.differences) == (0, 3, 0, expected(ids))
    both = import_ledger(session, "arrivals", edited, actor="t", dry_run=True, update=True)
    assert (both.inserted, both.already_present, both.updated) == (0, 3, 2)
    assert both.summary().endswith("dry run: nothing was written")
    assert state(engine) == before


def test_update_corrects_the_arrival_with_audit_and_counts_it_once(
    session: Session, engine: Engine, ledger: tuple[dict[str, int], Path, Path]
) -> None:
    ids, _, edited = ledger
    result = import_ledger(session, "arrivals", edited, actor="李四", update=True)
    assert (result.inserted, result.already_present, result.updated) == (0, 3, 2)
    assert result.differences == expected(ids)
    # the figure moves by exactly the correction, 600万 - 500万: 10,000,000 -> 11,000,000, not 16,000,000
    assert arrived(session) == 11_000_000
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(CapitalArrival)).one() == 4  # no arrival added or removed
        one, three, void = (s.get(CapitalArrival, ids[k]) for k in ("one", "three", "void"))
        assert one is not None and three is not None and void is not None
        assert (one.arrived_yuan, one.arrived_on, one.voided_on) == (6_000_000, date(2026, 5, 1), None)
        assert (three.arrived_yuan, three.verified, three.verified_by) == (2_000_000, True, "李四")
        assert (void.arrived_yuan, void.void_reason) == (1_000_000, "重复录入")
        edits = s.exec(
            select(AuditLog)
            .where(AuditLog.action == "edit", AuditLog.entity == "capital_arrival")
            .order_by(AuditLog.id)
        ).all()
        assert [(e.entity_id, e.field, e.old, e.new, e.actor) for e in edits if e.field != "verified_on"] == [
            (ids["one"], "arrived_yuan", "5000000", "6000000", "李四"),
            (ids["three"], "verified", "False", "True", "李四"),
            (ids["three"], "verified_by", None, "李四", "李四"),
        ]
        assert {e.note for e in edits} == {
            "re-import of 到位资金台账（修改）.xlsx, row 2",
            "re-import of 到位资金台账（修改）.xlsx, row 4",
        }
    again = import_ledger(session, "arrivals", edited, actor="t")  # the database now agrees with the ledger
    assert (again.inserted, again.already_present, again.differences) == (0, 3, [])
    assert arrived(session) == 11_000_000


def test_an_id_of_another_deal_or_of_a_voided_arrival_is_not_matched(
    session: Session, engine: Engine, ledger: tuple[dict[str, int], Path, Path], tmp_path: Path
) -> None:
    ids, exported, _ = ledger
    other = tmp_path / "另一个库的台账.xlsx"
    edit(
        exported,
        other,
        {
            # a ledger from another database: its 到位编号 of the 装备制造产业园 arrival is, here, 商贸中心's
            # 500万; the deal disagrees, so the row is its own arrival (by natural key: already present)
            (4, "到位编号"): ids["one"],
            # the voided arrival's id on a 商贸中心 row with another amount: never matched, so a new arrival
            (3, "到位编号"): ids["void"],
            (3, AMOUNT): 400,
        },
    )
    result = import_ledger(session, "arrivals", other, actor="t")
    assert (result.inserted, result.already_present, result.differences) == (1, 2, [])
    assert arrived(session) == 10_000_000 + 4_000_000
    with Session(engine) as s:
        one, void = s.get(CapitalArrival, ids["one"]), s.get(CapitalArrival, ids["void"])
        assert one is not None and void is not None
        assert one.arrived_yuan == 5_000_000
        assert (void.arrived_yuan, void.void_reason) == (1_000_000, "重复录入")
        assert s.exec(select(func.count()).select_from(CapitalArrival)).one() == 5


def test_a_row_without_an_id_is_matched_by_natural_key(session: Session, engine: Engine, tmp_path: Path) -> None:
    build(session)
    path = tmp_path / "到位资金.csv"
    path.write_text(
        "项目名称,到位日期,到位资金（万元）,资金来源\n商贸中心,2026-05-01,500,省外\n商贸中心,2026-05-01,600,省外\n"
    )
    result = import_ledger(session, "arrivals", path, actor="t")
    assert (result.inserted, result.already_present, result.differences) == (1, 1, [])  # as before: no id, no match
    assert arrived(session) == 16_000_000


def test_cli_exit_codes(db_url: str, engine: Engine, ledger: tuple[dict[str, int], Path, Path]) -> None:
    ids, _, edited = ledger
    before = state(engine)
    refused = runner.invoke(app, ["--db", db_url, "import", "arrivals", str(edited)])
    assert refused.exit_code == 1
    assert refused.stderr.splitlines()[1:] == [f"error: {line}" for line in expected(ids)]
    dry = runner.invoke(app, ["--db", db_url, "import", "arrivals", str(edited), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "0 would be inserted, 3 already present" in dry.stdout
    assert "  difference: " + expected(ids)[0] in dry.stdout
    assert state(engine) == before
    applied = runner.invoke(app, ["--db", db_url, "import", "arrivals", str(edited), "--update"])
    assert applied.exit_code == 0, applied.output
    assert "0 inserted, 3 already present, 2 updated" in applied.stdout
    assert "  changed: " + expected(ids)[0] in applied.stdout


def test_a_corrected_foreign_amount_updates_yuan_and_original_together(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    ids = build(session)
    usd = record_arrival(
        session,
        ids_deal(engine, ids["one"]),
        on=date(2026, 6, 15),
        amount_yuan=None,
        source="境外",
        actor="t",
        currency="USD",
        original_amount="100000",
        fx_rate="7.1",
    )  # 100,000 USD × 7.1 = 710,000 yuan
    exported, edited = tmp_path / "到位资金台账.xlsx", tmp_path / "到位资金台账（外币）.xlsx"
    assert export_ledger(session, "arrivals", exported) == 4
    assert (cell(exported, 5, "到位编号"), cell(exported, 5, "原币金额")) == (usd.id, 100000)
    # the clerk corrects the dollars and clears the yuan cell, which the rate gives again
    edit(exported, edited, {(5, "原币金额"): 200000, (5, AMOUNT): None})
    with pytest.raises(Differences) as caught:
        import_ledger(session, "arrivals", edited, actor="t")
    assert caught.value.lines == [
        f"row 5 到位编号 {usd.id} 商贸中心: 到位资金 71万 → 142万",
        f"row 5 到位编号 {usd.id} 商贸中心: 原币金额 100000 → 200000",
    ]
    assert arrived(session) == 10_710_000
    import_ledger(session, "arrivals", edited, actor="t", update=True)
    assert arrived(session) == 11_420_000  # 10,000,000 + 200,000 × 7.1
    with Session(engine) as s:
        stored = s.get(CapitalArrival, usd.id)
        assert stored is not None
        assert (stored.arrived_yuan, stored.original_cents, stored.fx_rate) == (1_420_000, 20_000_000, "7.1")
        assert s.exec(select(func.count()).select_from(CapitalArrival)).one() == 5


def ids_deal(engine: Engine, arrival_id: int) -> int:
    with Session(engine) as s:
        arrival = s.get(CapitalArrival, arrival_id)
        assert arrival is not None
        return arrival.deal_id


def test_a_bureau_code_in_the_id_column_is_ignored_and_full_width_ids_match(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    ids = build(session)
    path = tmp_path / "到位资金.csv"
    wide = "".join(chr(ord(c) + 0xFEE0) for c in str(ids["one"]))  # the id in full-width digits
    path.write_text(
        "到位编号,项目名称,到位日期,到位资金（万元）,资金来源\n"
        "DW-2026-001,装备制造产业园,2026-06-20,100,省外\n"  # the bureau's own code: a new arrival, no bad row
        f"{wide},商贸中心,2026-05-01,600,省外\n",  # 商贸中心's 500万 arrival, corrected
        encoding="utf-8",
    )
    with pytest.raises(Differences) as caught:
        import_ledger(session, "arrivals", path, actor="t")
    assert caught.value.lines == [f"row 3 到位编号 {ids['one']} 商贸中心: 到位资金 500万 → 600万"]
    result = import_ledger(session, "arrivals", path, actor="t", update=True)
    assert (result.inserted, result.already_present, result.updated, result.errors) == (1, 1, 1, [])
    assert arrived(session) == 10_000_000 + 1_000_000 + 1_000_000  # the new 100万 and the 100万 correction

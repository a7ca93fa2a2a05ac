"""Ledgers out and back in: every kind exported, the database emptied, the files imported, nothing changed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import delete, func, update
from sqlmodel import Session, select

from crm import deals, trips
from crm.arrivals import record_arrival
from crm.ledgers import export as export_module
from crm.ledgers import export_ledger, import_ledger, ledger_rows
from crm.ledgers.schema import ledger_kind
from crm.models import (
    CapitalArrival,
    Deal,
    FollowUp,
    Investor,
    Lead,
    Procedure,
    SigningEvent,
    Squad,
    SquadMember,
    Target,
    Trip,
    TripDestination,
    TripIndustry,
    TripMember,
    Visit,
)
from crm.targets import set_target

ORDER = ["deals", "arrivals", "targets", "trips", "visits", "leads"]


def _without_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in ("deal_id", "arrival_id")} for row in rows]


INJECTED_PROJECT = '=HYPERLINK("http://evil.example","光伏")'


def build_county(session: Session) -> None:
    """A small county through the library: every state, a reassigned deal, foreign money, tricky text."""
    a = deals.sign(
        session,
        actor="t",
        project_name=INJECTED_PROJECT,
        investor="+甲能源有限公司",
        signed_on=date(2026, 1, 10),
        contracted_yuan=123_456_789,
        industry="光伏发电",
        origin="浙江",
        origin_city="杭州市",
        unit="县商务局",
        leader="王县长",
        introducer="小李",
        credited_unit="县招商局",
        signing_event="兰洽会",
        signer="张三",
        credit_code="91620100MA74ABCD1X",
    )
    deals.start(session, a.id or 0, on=date(2026, 3, 1), actor="t")
    b = deals.sign(
        session,
        actor="t",
        project_name="装备制造产业园",
        investor="乙装备集团股份有限公司",
        signed_on=date(2026, 2, 1),
        contracted_yuan=150_000_000,
        industry="装备制造",
        origin="江苏",
        unit="县发改局",
        leader="李县长",
    )
    deals.start(session, b.id or 0, on=date(2026, 3, 1), actor="t")
    deals.complete(session, b.id or 0, on=date(2026, 10, 1), actor="t")
    deals.sign(
        session,
        actor="t",
        project_name="商贸中心",
        investor="丙商贸公司",
        signed_on=date(2026, 3, 5),
        contracted_yuan=30_005_000,
        unit="县发改局",
    )
    d = deals.sign(
        session,
        actor="t",
        project_name="文旅项目",
        investor="丁文旅公司",
        signed_on=date(2026, 1, 2),
        contracted_yuan=80_000_000,
        industry="文化旅游",
    )
    deals.terminate(session, d.id or 0, on=date(2026, 4, 1), reason="资金链断裂", actor="t")
    e = deals.reassign(session, d.id or 0, investor="戊文旅公司", signed_on=date(2026, 5, 1), actor="t")

    record_arrival(
        session,
        a.id or 0,
        on=date(2026, 4, 1),
        amount_yuan=12_345_678,
        source="省外",
        use="固定资产",
        evidence_kind="银行进账单",
        evidence_ref="-001",
        verified=True,
        note="@首笔",
        actor="t",
    )
    for _ in range(2):
        record_arrival(session, b.id or 0, on=date(2026, 5, 1), amount_yuan=100_000_000, source="境外", actor="t")
    record_arrival(session, d.id or 0, on=date(2026, 3, 1), amount_yuan=5_000_000, source="县际", actor="t")
    record_arrival(
        session,
        e.id or 0,
        on=date(2026, 6, 1),
        amount_yuan=None,
        source="境外",
        currency="USD",
        original_amount="1000.50",
        fx_rate="7.1",
        actor="t",
    )

    set_target(session, metric="arrived_yuan", period="2026", amount_yuan=26_300_000_000, growth=0.1, actor="t")
    set_target(
        session, metric="deals_signed", period="2026Q1", count=12, scope="县商务局", scope_kind="unit", actor="t"
    )
    set_target(
        session,
        metric="arrived_yuan",
        period="2026-03",
        amount_yuan=150_000_000,
        scope="王县长",
        scope_kind="leader",
        weight=0.3,
        actor="t",
    )
    set_target(session, metric="contracted_yuan", period="2026", growth=1.5, actor="t")

    trips.create_squad(session, name="第一小分队", leader="王县长", members="小李、小王", unit="县商务局", actor="t")
    trips.create_squad(session, name="第二小分队", leader="李县长", actor="t")
    first = trips.plan_trip(
        session,
        squad="第一小分队",
        month="2026-06",
        destinations=[("广东", "深圳"), ("浙江", None)],
        industries=["光伏发电", "装备制造"],
        starts_on=date(2026, 6, 10),
        ends_on=date(2026, 6, 14),
        budget_yuan=25_000,
        note="-注意安全",
        actor="t",
    )
    trips.record_spending(session, first.id or 0, spent_yuan=21_000, actor="t")
    second = trips.plan_trip(session, squad="第二小分队", month="2026-07", destinations=["江苏"], actor="t")
    visit = trips.record_visit(
        session,
        trip_id=first.id,
        visited_on=date(2026, 6, 11),
        counterpart="深圳某光伏集团",
        counterpart_kind="企业",
        attendees="王县长、小李",
        notes="有意向",
        contact="陈总",
        purpose="光伏组件",
        region="广东",
        city="深圳",
        actor="t",
    )
    trips.plan_visit(session, trip_id=second.id or 0, counterpart="江苏某商会", counterpart_kind="商会", actor="t")
    trips.add_lead(
        session,
        project_name="储能电站",
        investor_name="深圳某光伏集团",
        visit_id=visit.id,
        received_on=date(2026, 6, 11),
        planned_yuan=500_000_000,
        industry="新能源开发",
        owner="小李",
        unit="县商务局",
        stage="洽谈",
        actor="t",
    )
    cold = trips.add_lead(session, project_name="冷链", received_on=date(2026, 6, 15), stage="意向", actor="t")
    trips.advance_lead(session, cold.id or 0, stage="放弃", actor="t")


def wipe(session: Session) -> None:
    """Delete every row the ledgers hold (people and units stay; the audit log is append-only)."""
    session.execute(update(Deal).values(replaces_id=None, increases_id=None))
    for model in (
        CapitalArrival,
        FollowUp,
        Procedure,
        Lead,
        Visit,
        TripMember,
        TripIndustry,
        TripDestination,
        Trip,
        SquadMember,
        Squad,
        Target,
        Deal,
        Investor,
        SigningEvent,
    ):
        session.execute(delete(model))
    session.commit()


def totals(session: Session) -> tuple[int, int, int, int]:
    return (
        session.exec(select(func.count()).select_from(Deal)).one(),
        int(session.exec(select(func.sum(Deal.contracted_yuan))).one() or 0),
        session.exec(select(func.count()).select_from(CapitalArrival)).one(),
        int(session.exec(select(func.sum(CapitalArrival.arrived_yuan))).one() or 0),
    )


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_every_kind_round_trips_exactly(session: Session, tmp_path: Path, fmt: str) -> None:
    build_county(session)
    before = {kind: ledger_rows(session, kind) for kind in ORDER}
    before_totals = totals(session)
    assert before_totals == (5, 463_461_789, 5, 217_352_782)
    files = {}
    for kind in ORDER:
        files[kind] = tmp_path / f"{kind}.{fmt}"
        assert export_ledger(session, kind, files[kind]) == len(before[kind])
    wipe(session)
    assert totals(session) == (0, 0, 0, 0)
    for kind in ORDER:
        result = import_ledger(session, kind, files[kind], actor="t")
        assert (result.inserted, result.errors, result.warnings) == (len(before[kind]), [], []), kind
    assert totals(session) == before_totals
    for kind in ORDER:  # the same rows; deals and arrivals carry new ids (项目编号, 到位编号) in the emptied database
        assert _without_ids(ledger_rows(session, kind)) == _without_ids(before[kind]), kind
    for kind in ORDER:  # and once more: nothing new
        again = import_ledger(session, kind, files[kind], actor="t")
        assert (again.inserted, again.already_present) == (0, len(before[kind])), kind


def test_exported_workbook_is_formatted_and_neutralised(session: Session, tmp_path: Path) -> None:
    build_county(session)
    path = tmp_path / "deals.xlsx"
    export_ledger(session, "deals", path)
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    assert header[:8] == [
        "项目名称",
        "投资方",
        "统一社会信用代码",
        "投资方所在地",
        "来源城市",
        "所属行业",
        "合同投资额（万元）",
        "签约日期",
    ]
    assert all(c.font.bold for c in sheet[1])
    assert (sheet.column_dimensions["A"].width or 0) > 10
    rows = [{h: c for h, c in zip(header, row, strict=True)} for row in sheet.iter_rows(min_row=2)]
    first = next(r for r in rows if r["签约日期"].value == datetime(2026, 1, 10))
    # formula text is stored as text with Excel's quote prefix (a style): no quote in the value itself
    assert first["项目名称"].value == INJECTED_PROJECT and first["项目名称"].data_type == "s"
    assert first["项目名称"].quotePrefix and first["投资方"].quotePrefix
    assert first["投资方"].value == "+甲能源有限公司"
    assert not any(str(c.value).startswith("'") for row in sheet.iter_rows() for c in row if c.value is not None)
    assert not first["签约日期"].quotePrefix
    # printed: A4 landscape, one page wide, the header row on every page
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.paperSize == 9
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)
    assert sheet.print_title_rows == "$1:$1"
    assert first["合同投资额（万元）"].value == pytest.approx(12345.6789)
    assert first["合同投资额（万元）"].number_format == "#,##0.00"
    assert isinstance(first["签约日期"].value, datetime) and first["签约日期"].value.date() == date(2026, 1, 10)
    assert first["项目状态"].value == "已开工"


def test_exported_csv_has_a_bom_exact_wan_and_neutralised_text(session: Session, tmp_path: Path) -> None:
    build_county(session)
    path = tmp_path / "arrivals.csv"
    export_ledger(session, "arrivals", path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("项目名称,投资方,签约日期,到位日期,到位资金（万元）,资金来源")
    first = next(line for line in lines if "HYPERLINK" in line)
    assert first.startswith(
        f"\"'{INJECTED_PROJECT.replace(chr(34), chr(34) * 2)}\",'+甲能源有限公司,2026-01-10,"
        "2026-04-01,1234.5678,省外,固定资产,银行进账单,'-001,是,,,,'@首笔"
    )
    assert sum(",10000.00," in line for line in lines) == 2  # 1亿 in 万元, two decimals
    usd = lines[-1]
    assert ",0.7104,境外," in usd and ",USD,1000.5,7.1," in usd


def test_export_filters_by_date_unit_and_industry(session: Session, tmp_path: Path) -> None:
    build_county(session)
    assert [
        r["project_name"] for r in ledger_rows(session, "deals", since=date(2026, 2, 1), until=date(2026, 3, 31))
    ] == ["装备制造产业园", "商贸中心"]
    assert [r["project_name"] for r in ledger_rows(session, "deals", unit="县发改局")] == ["装备制造产业园", "商贸中心"]
    assert [r["arrived_yuan"] for r in ledger_rows(session, "arrivals", industry="装备制造")] == [100_000_000] * 2
    assert [r["squad"] for r in ledger_rows(session, "trips", industry="光伏发电")] == ["第一小分队"]
    assert [r["unit"] for r in ledger_rows(session, "targets", unit="县商务局")] == ["县商务局"]
    assert [r["stage"] for r in ledger_rows(session, "leads", since=date(2026, 6, 12))] == ["dropped"]
    assert [r["counterpart"] for r in ledger_rows(session, "visits", unit="县商务局")] == ["深圳某光伏集团"]


@pytest.mark.parametrize("chunk", [50_000, 7_000])
def test_large_arrivals_import_in_bulk_and_export(
    session: Session, tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20,000 rows go through the bulk path (executemany / COPY), in one chunk or three, and come back
    with the same sum; the re-import of the export finds every row present across chunks."""
    monkeypatch.setattr("crm.ledgers.imports.CHUNK", chunk)
    deal = deals.sign(
        session, actor="t", project_name="大项目", investor="大集团", signed_on=date(2026, 1, 1), contracted_yuan=10**12
    )
    lines = ["项目名称,到位日期,到位资金（元）,资金来源"]
    lines += [f"大项目,2026-{1 + i % 12:02d}-{1 + i % 28:02d},{i + 1},省外" for i in range(20_000)]
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = import_ledger(session, "arrivals", path, actor="t")
    assert result.inserted == 20_000
    total = session.exec(select(func.sum(CapitalArrival.arrived_yuan)).where(CapitalArrival.deal_id == deal.id)).one()
    assert int(total or 0) == 20_000 * 20_001 // 2
    out = tmp_path / "out.csv"
    assert export_ledger(session, "arrivals", out) == 20_000
    assert import_ledger(session, "arrivals", out, actor="t").already_present == 20_000


def test_wan_keeps_exact_yuan() -> None:
    from crm.ledgers.export import _wan

    assert _wan(12_345_678) == Decimal("1234.5678")
    assert _wan(100_000_000) == Decimal("10000.00")
    assert _wan(1) == Decimal("0.0001")


def test_deal_export_names_its_units_people_and_places_as_text(session: Session, tmp_path: Path) -> None:
    """The deals export names its reference columns from the tables read whole (not joined): each name
    in its column, formula text marked as text in .xlsx and neutralised in .csv, an empty reference blank."""
    deals.sign(
        session,
        actor="t",
        project_name="名称带公式的项目",
        investor="丙公司",
        signed_on=date(2026, 5, 1),
        contracted_yuan=10_000_000,
        industry="装备制造",
        origin="江苏",
        unit="=县商务局",
        leader="+王县长",
        introducer="@小李",
        credited_unit="县招商局",
        signing_event="-兰洽会",
    )
    deals.sign(
        session,
        actor="t",
        project_name="无引荐人项目",
        investor="丁公司",
        signed_on=date(2026, 5, 2),
        contracted_yuan=1,
    )
    rows = {r["project_name"]: r for r in ledger_rows(session, "deals")}
    named = rows["名称带公式的项目"]
    assert (named["unit"], named["leader"], named["introducer"], named["credited_unit"]) == (
        "=县商务局",
        "+王县长",
        "@小李",
        "县招商局",
    )
    assert (named["origin"], named["industry"], named["signing_event"]) == ("江苏", "装备制造", "-兰洽会")
    bare = rows["无引荐人项目"]
    assert bare["introducer"] is None and bare["signing_event"] is None and bare["credited_unit"] is None

    export_ledger(session, "deals", tmp_path / "deals.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "deals.xlsx").active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    cells = {row[0].value: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)}
    unit, leader = cells["名称带公式的项目"]["责任单位"], cells["名称带公式的项目"]["包抓领导"]
    assert (unit.value, unit.data_type, unit.quotePrefix) == ("=县商务局", "s", True)
    assert (leader.value, leader.quotePrefix) == ("+王县长", True)
    assert cells["名称带公式的项目"]["所属行业"].value == "装备制造"
    assert cells["无引荐人项目"]["第一引资人"].value is None and cells["无引荐人项目"]["签约活动"].value is None

    export_ledger(session, "deals", tmp_path / "deals.csv")
    text = (tmp_path / "deals.csv").read_text(encoding="utf-8-sig")
    line = next(line for line in text.splitlines() if line.startswith("名称带公式的项目"))
    assert "'=县商务局" in line and "'+王县长" in line and "'@小李" in line and "'-兰洽会" in line
    again = import_ledger(session, "deals", tmp_path / "deals.csv", actor="t")
    assert (again.inserted, again.already_present) == (0, 2)


def test_deal_export_names_a_unit_added_after_the_names_were_read(session: Session) -> None:
    """The names are read before the rows: a unit and person another writer adds in between (PostgreSQL's
    statements each see what is committed by then) are looked up when their deal comes."""
    deals.sign(
        session, actor="t", project_name="早签项目", investor="戊公司", signed_on=date(2026, 5, 1), contracted_yuan=1
    )
    records = export_module._records(
        session,
        ledger_kind("deals"),
        since=None,
        until=None,
        unit=None,
        industry=None,
        unit_field="responsible",
        min_amount=None,
        max_amount=None,
    )
    deals.sign(
        session,
        actor="t",
        project_name="后签项目",
        investor="己公司",
        signed_on=date(2026, 5, 2),
        contracted_yuan=1,
        unit="新设的开发区管委会",
        leader="新来的副县长",
    )
    at = records.fields.index
    rows = {row[at("project_name")]: row for row in records.named()}
    assert (rows["后签项目"][at("unit")], rows["后签项目"][at("leader")]) == ("新设的开发区管委会", "新来的副县长")
    assert rows["早签项目"][at("unit")] is None

"""Ledgers in: schemas, header matching, cells, all-or-nothing and partial imports, re-imports, the CLI."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import openpyxl
import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from crm.cli import app
from crm.errors import InvalidValue, LedgerError
from crm.ledgers import KINDS, import_ledger, json_schema, ledger_kind
from crm.ledgers.cells import parse_date, parse_percent, parse_period, parse_text, split_place
from crm.ledgers.progress import progress_bar
from crm.ledgers.schema import SCHEMA_KINDS, match_header, normalise_header, schema_text
from crm.models import AuditLog, CapitalArrival, Deal, DealState, Investor, Region, Unit
from tests.factories import make_deal

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = ".venv/bin/python -c 'from crm.ledgers import write_schemas; write_schemas(\"schemas\")'"
runner = CliRunner()


def write_csv(tmp_path: Path, text: str, name: str = "ledger.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.strip("\n").encode(encoding) + b"\n")
    return path


def write_xlsx(tmp_path: Path, rows: list[list[Any]], *, title: str | None = None, name: str = "ledger.xlsx") -> Path:
    """A workbook as bureaus send them: a merged title row, then the header and the rows."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    if title:
        sheet.append([title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[0]))
    for row in rows:
        sheet.append(row)
    path = tmp_path / name
    book.save(path)
    return path


def count(session: Session, model: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def deal_by_project(session: Session, project: str) -> Deal:
    return session.exec(select(Deal).where(Deal.project_name == project)).one()


# ---------------------------------------------------------------- schemas


def test_schemas_directory_equals_what_the_code_generates() -> None:
    directory = ROOT / "schemas"
    on_disk = {p.stem for p in directory.glob("*.json")}
    assert on_disk == set(SCHEMA_KINDS), f"schemas/ holds {sorted(on_disk)}; regenerate with: {REGENERATE}"
    for name in SCHEMA_KINDS:
        assert (directory / f"{name}.json").read_text(encoding="utf-8") == schema_text(name), (
            f"schemas/{name}.json is out of date; regenerate with: {REGENERATE}"
        )


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_schema_is_valid_json_schema_naming_aliases_units_and_the_natural_key(kind: str) -> None:
    schema = json_schema(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["x-natural-key"] == list(ledger_kind(kind).natural_key)
    money = [p for p in schema["properties"].values() if p["x-type"] == "money"]
    assert all(p["x-unit"] == "万元" for p in money)


def test_deal_and_arrival_schemas_carry_the_headers_real_ledgers_use() -> None:
    deals = json_schema("deals")["properties"]
    assert {"项目名称"} <= set(deals["project_name"]["x-aliases"])
    assert {"投资方", "投资方名称", "签约企业", "签约单位"} <= set(deals["investor"]["x-aliases"])
    assert {"投资方所在地", "投资方注册地", "客商来源地"} <= set(deals["origin"]["x-aliases"])
    assert {"所属行业", "产业类别", "产业大类"} <= set(deals["industry"]["x-aliases"])
    assert {"总投资", "总投资（万元）", "合同投资额", "协议投资额", "计划总投资（万元）"} <= set(
        deals["contracted_yuan"]["x-aliases"]
    )
    assert {"签约日期", "签约时间"} <= set(deals["signed_on"]["x-aliases"])
    assert {"竣工时间", "投产时间", "竣工投产时间"} <= set(deals["completed_on"]["x-aliases"])
    assert {"包抓领导", "责任领导"} <= set(deals["leader"]["x-aliases"])
    assert "统一社会信用代码" in deals["credit_code"]["x-aliases"]
    assert deals["state"]["x-values"]["已投产"] == "in_production"
    arrivals = json_schema("arrivals")["properties"]
    assert {"到位资金", "当月到位资金（万元）", "实际到位资金", "到位资金（万元）"} <= set(
        arrivals["arrived_yuan"]["x-aliases"]
    )
    assert {"到位日期", "到位时间", "月份"} <= set(arrivals["arrived_on"]["x-aliases"])


def test_schema_columns_are_named_after_model_columns_or_reference_names() -> None:
    from sqlmodel import SQLModel

    references = {
        "investor",
        "industry",
        "origin",
        "unit",
        "leader",
        "introducer",
        "credited_unit",
        "signing_event",
        "squad",
        "owner",
        "region",
        "destinations",
        "industries",
        "members",
        "period",
        "scope",
        "original_amount",
        "note",
        "month",
        "stall_reason",  # a StallReason by code or label
        "follow_up_owner",  # a Person, by name
        "approval",  # the procedures (Procedure rows, by ProcedureKind)
        "land",
        "environment",
        "planning",
        "construction_permit",
        "arrived_cumulative_yuan",  # a running total the month's arrived_yuan is derived from
        "arrival_id",  # the CapitalArrival's id (到位编号), as exported: a re-import matches by it
    }
    model_columns = {c.name for table in SQLModel.metadata.tables.values() for c in table.columns}
    for kind in KINDS.values():
        assert kind.entity in SQLModel.metadata.tables
        for column in kind.columns:
            assert column.name in model_columns or column.name in references, (kind.name, column.name)


# ---------------------------------------------------------------- headers and cells


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("总投资（万元）", ("总投资", "万元")),
        ("到位资金 (亿元)", ("到位资金", "亿元")),
        ("合同投资额(元)", ("合同投资额", "元")),
        ("总投资【万元】", ("总投资", "万元")),
        (" 项 目\n名称 ", ("项目名称", None)),
        ("*签约日期", ("签约日期", None)),
        ("Project_Name", ("project_name", None)),
    ],
)
def test_headers_are_normalised_with_their_unit(header: str, expected: tuple[str, str | None]) -> None:
    assert normalise_header(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("投资方名称", ("investor", None)),
        ("计划总投资（万元）", ("contracted_yuan", "万元")),
        ("协议投资额（亿元）", ("contracted_yuan", "亿元")),
        ("签约日期(年月日)", ("signed_on", None)),
        ("contracted_yuan", ("contracted_yuan", "元")),  # the English *_yuan name holds yuan
        ("联系电话", (None, None)),
    ],
)
def test_headers_match_deal_columns(header: str, expected: tuple[str | None, str | None]) -> None:
    assert match_header(ledger_kind("deals"), header) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2026-06-01",
        "2026/6/1",
        "2026.6.1",
        "2026年6月1日",
        "2026 年 6 月 1 日",
        "20260601",
        "2026-06-01 00:00:00",
        46174,
        46174.0,
        datetime(2026, 6, 1, 10, 30),
        date(2026, 6, 1),
        "２０２６-０６-０１",
        "2026-06",
        "2026年6月",
    ],
)
def test_dates_in_every_spelling(value: Any) -> None:
    assert parse_date(value) == date(2026, 6, 1)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2026-02-30", "no such day"),
        ("下个月", "not a date"),
        (True, "yes/no"),
        (-3, "not an Excel date"),
        ("2026-13", "no such day"),
    ],
)
def test_bad_dates_say_why(value: Any, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        parse_date(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026", ("year", date(2026, 1, 1))),
        ("2026年", ("year", date(2026, 1, 1))),
        (2026.0, ("year", date(2026, 1, 1))),
        ("2026Q2", ("quarter", date(2026, 4, 1))),
        ("2026年第三季度", ("quarter", date(2026, 7, 1))),
        ("2026年一季度", ("quarter", date(2026, 1, 1))),
        ("2026-03", ("month", date(2026, 3, 1))),
        ("2026年3月", ("month", date(2026, 3, 1))),
        ("2026-3", ("month", date(2026, 3, 1))),
    ],
)
def test_periods(value: Any, expected: tuple[str, date]) -> None:
    assert parse_period(value) == expected


@pytest.mark.parametrize(("value", "expected"), [("10%", 0.1), (0.1, 0.1), ("0.1", 0.1), ("10", 0.1), ("150%", 1.5)])
def test_percentages(value: Any, expected: float) -> None:
    assert parse_percent(value) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("广东深圳", ("广东", "深圳")),
        ("浙江省杭州市", ("浙江", "杭州市")),
        ("广西壮族自治区", ("广西", None)),
        ("内蒙古包头", ("内蒙古", "包头")),
    ],
)
def test_places_split_into_province_and_city(text: str, expected: tuple[str, str | None]) -> None:
    assert split_place(text) == expected


def test_text_cells_lose_a_float_fraction_and_our_neutralising_quote() -> None:
    assert parse_text(91620100.0) == "91620100"
    assert parse_text("'=SUM(A1)") == "=SUM(A1)"
    assert parse_text("'quoted") == "'quoted"


# ---------------------------------------------------------------- deals

DEALS_ROWS: list[list[Any]] = [
    [
        "序号",
        "项目名称",
        "投资方名称",
        "投资方所在地",
        "所属行业",
        "总投资（万元）",
        "签约日期",
        "项目状态",
        "开工时间",
        "竣工投产时间",
        "终止时间",
        "责任单位",
        "包抓领导",
        "联系电话",
    ],
    [
        1,
        "100MW光伏发电项目",
        "甘肃示例能源有限公司",
        "浙江省杭州市",
        "光伏发电",
        50000,
        date(2026, 3, 1),
        "在建",
        "2026/4/15",
        None,
        None,
        "县商务局",
        "王县长",
        "0931-1234567",
    ],
    [
        2,
        "装备制造产业园",
        "江苏某某装备集团股份有限公司",
        "江苏",
        "装备制造",
        "1.5亿",
        "2026年3月8日",
        "竣工投产",
        "2026.4.1",
        datetime(2026, 9, 30),
        None,
        "县发改局",
        "李县长",
        None,
    ],
    [
        3,
        "商贸物流中心",
        "广西某商贸有限公司",
        "广西壮族自治区",
        "商贸流通",
        3000.5,
        46150,
        "前期",
        None,
        None,
        None,
        "县商务局",
        "王县长",
        None,
    ],
    [
        4,
        "文旅综合体",
        "陕西文旅公司",
        "陕西",
        "文化旅游",
        8000,
        "2026-02",
        "终止",
        None,
        None,
        "2026-05-20",
        "县文旅局",
        None,
        None,
    ],
    [None] * 14,
    ["合计", None, None, None, None, 61000.5, None, None, None, None, None, None, None, None],
    [None] * 14,
]


def test_a_real_shaped_deals_workbook_lands_with_states_dates_units_and_warnings(
    session: Session, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path, DEALS_ROWS, title="2026年全县招商引资签约项目台账")
    result = import_ledger(session, "deals", path, actor="张三")
    assert (result.rows, result.inserted, result.already_present, result.errors) == (4, 4, 0, [])
    assert any("联系电话" in w for w in result.warnings)
    assert any("row 8" in w and "合计" in w for w in result.warnings)  # title row 1, header row 2
    solar = deal_by_project(session, "100MW光伏发电项目")
    assert (solar.state, solar.started_on, solar.contracted_yuan) == (DealState.started, date(2026, 4, 15), 500_000_000)
    assert solar.origin_city == "杭州市"
    assert session.get(Region, solar.origin_region_id).name == "浙江"  # type: ignore[union-attr]
    park = deal_by_project(session, "装备制造产业园")
    assert (park.state, park.completed_on, park.contracted_yuan) == (
        DealState.in_production,
        date(2026, 9, 30),
        150_000_000,
    )
    hub = deal_by_project(session, "商贸物流中心")
    assert (hub.state, hub.signed_on, hub.contracted_yuan) == (DealState.signed, date(2026, 5, 8), 30_005_000)
    tour = deal_by_project(session, "文旅综合体")
    assert (tour.state, tour.signed_on, tour.terminated_on) == (
        DealState.terminated,
        date(2026, 2, 1),
        date(2026, 5, 20),
    )
    imports = session.exec(select(AuditLog).where(AuditLog.action == "import")).all()
    assert [(a.entity, a.new, a.actor) for a in imports] == [("deal", "4", "张三")]
    assert "ledger.xlsx" in (imports[0].note or "")
    starts = session.exec(select(AuditLog).where(AuditLog.action == "start")).all()
    assert {a.entity_id for a in starts} == {solar.id, park.id}


def test_header_unit_yi_and_a_unit_line_above_the_header(session: Session, tmp_path: Path) -> None:
    yi = write_csv(
        tmp_path,
        """
项目名称,签约企业,协议投资额（亿元）,签约时间
新材料项目,兰州新材料有限公司,2.5,2026-01-10
""",
        name="yi.csv",
    )
    import_ledger(session, "deals", yi, actor="t")
    assert deal_by_project(session, "新材料项目").contracted_yuan == 250_000_000
    line = write_csv(
        tmp_path,
        """
2026年签约项目
单位：元
项目名称,签约企业,协议投资额,签约时间
化工项目,兰州化工有限公司,"1,234,567",2026-01-10
""",
        name="yuan.csv",
    )
    import_ledger(session, "deals", line, actor="t")
    assert deal_by_project(session, "化工项目").contracted_yuan == 1_234_567


BAD_DEALS = """
项目名称,投资方,所属行业,总投资（万元）,签约日期,项目状态,开工时间,竣工投产时间
好项目一,甲公司,光伏发电,100,2026-03-01,已签约,,
坏行业,乙公司,挖矿,100,2026-03-01,已签约,,
坏日期,丙公司,光伏发电,100,2026-02-30,已签约,,
投产无开工,丁公司,光伏发电,100,2026-03-01,已投产,,2026-08-01
开工早于签约,戊公司,光伏发电,100,2026-03-01,已开工,2026-02-01,
,己公司,光伏发电,100,2026-03-01,已签约,,
坏金额,庚公司,光伏发电,一百万,2026-03-01,已签约,,
已签约却有开工,辛公司,光伏发电,100,2026-03-01,已签约,2026-04-01,
开工无日期,壬公司,光伏发电,100,2026-03-01,已开工,,
好项目二,癸公司,装备制造,200,2026-03-02,已开工,2026-03-20,
"""
EXPECTED_BAD = [
    (3, "所属行业", "挖矿", "unknown industry"),
    (4, "签约日期", "2026-02-30", "no such day"),
    (5, "开工时间", "", "已投产 needs 开工时间"),
    (6, "开工时间", "2026-02-01", "is before 签约日期"),
    (7, "项目名称", "", "项目名称 is required"),
    (8, "总投资（万元）", "一百万", "not a number"),
    (9, "开工时间", "2026-04-01", "says the deal has not started"),
    (10, "开工时间", "", "已开工 needs 开工时间"),
]


def _assert_bad_rows(errors: list[Any]) -> None:
    got = [(e.row, e.column, e.value) for e in errors]
    assert got == [(r, c, v) for r, c, v, _ in EXPECTED_BAD]
    for error, (_, _, _, reason) in zip(errors, EXPECTED_BAD, strict=True):
        assert reason in error.message


def test_a_ledger_with_bad_rows_reports_every_one_and_writes_nothing(session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path, BAD_DEALS)
    audit_before = count(session, AuditLog)
    with pytest.raises(LedgerError, match="8 bad row") as caught:
        import_ledger(session, "deals", path, actor="t")
    _assert_bad_rows(caught.value.errors)
    assert count(session, Deal) == 0
    assert count(session, Investor) == 0
    assert count(session, AuditLog) == audit_before


def test_partial_lands_only_the_good_rows(session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path, BAD_DEALS)
    result = import_ledger(session, "deals", path, actor="t", partial=True)
    _assert_bad_rows(result.errors)
    assert result.inserted == 2
    assert sorted(session.exec(select(Deal.project_name)).all()) == ["好项目一", "好项目二"]
    assert deal_by_project(session, "好项目二").state == DealState.started


def test_reimport_creates_nothing_and_a_later_ledger_moves_deals_on(session: Session, tmp_path: Path) -> None:
    first = write_csv(
        tmp_path,
        """
项目名称,投资方,总投资（万元）,签约日期,项目状态,开工时间,竣工时间
光伏项目,甲能源有限公司,100,2026-03-01,已签约,,
风电项目,乙能源有限公司,200,2026-03-01,已开工,2026-04-01,
""",
        name="march.csv",
    )
    assert import_ledger(session, "deals", first, actor="t").inserted == 2
    again = import_ledger(session, "deals", first, actor="t")
    assert (again.inserted, again.already_present, again.updated) == (0, 2, 0)
    assert count(session, Deal) == 2
    later = write_csv(
        tmp_path,
        """
项目名称,投资方,总投资（万元）,签约日期,项目状态,开工时间,竣工时间
光伏项目,甲能源公司,100,2026-03-01,在建,2026-05-01,
风电项目,乙能源有限公司,200,2026-03-01,已投产,2026-04-01,2026-10-01
""",
        name="october.csv",
    )  # 甲能源公司: the same investor written differently
    moved = import_ledger(session, "deals", later, actor="t")
    assert (moved.inserted, moved.already_present, moved.updated) == (0, 2, 2)
    assert deal_by_project(session, "光伏项目").started_on == date(2026, 5, 1)
    assert deal_by_project(session, "风电项目").state == DealState.in_production
    older = import_ledger(session, "deals", first, actor="t")  # an older ledger changes nothing back
    assert older.updated == 0 and any("left as it is" in w for w in older.warnings)
    assert deal_by_project(session, "风电项目").state == DealState.in_production


def test_gb18030_csv_from_chinese_excel(session: Session, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        """
项目名称,投资方名称,客商来源地,总投资（万元）,签约日期
𠮷祥光伏项目,甘肃瑞祥新能源有限公司,广东深圳,300,2026/3/1
""",
        encoding="gb18030",
    )
    result = import_ledger(session, "deals", path, actor="t")
    assert result.inserted == 1
    deal = deal_by_project(session, "𠮷祥光伏项目")
    assert deal.origin_city == "深圳"


def test_utf8_with_bom(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("项目名称,投资方,总投资,签约日期\n光伏项目,甲公司,1,2026-03-01\n".encode("utf-8-sig"))
    assert import_ledger(session, "deals", path, actor="t").inserted == 1


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("名称,金额\n甲,1\n", "no header row found"),
        ("项目名称,签约日期\n光伏项目,2026-03-01\n", "missing required column 投资方"),
    ],
)
def test_a_file_that_is_not_a_ledger_of_the_kind(session: Session, tmp_path: Path, text: str, match: str) -> None:
    path = write_csv(tmp_path, text)
    with pytest.raises(LedgerError, match=match):
        import_ledger(session, "deals", path, actor="t")


@pytest.mark.parametrize(
    ("name", "match"), [("x.pdf", r"use \.xlsx, \.xls, \.ods or \.csv"), ("missing.csv", "no such file")]
)
def test_files_that_cannot_be_read(session: Session, tmp_path: Path, name: str, match: str) -> None:
    if name.endswith(".pdf"):
        (tmp_path / name).write_bytes(b"%PDF")
    with pytest.raises(InvalidValue, match=match):
        import_ledger(session, "deals", tmp_path / name, actor="t")


def test_unknown_kind(session: Session, tmp_path: Path) -> None:
    with pytest.raises(InvalidValue, match="unknown ledger kind"):
        import_ledger(session, "contracts", tmp_path / "x.csv", actor="t")


# ---------------------------------------------------------------- arrivals


@pytest.fixture
def two_investors_one_project(session: Session) -> dict[str, int]:
    """Three deals: a project name two investors share, and one unique project."""
    a = make_deal(session, project_name="光伏项目", investor="甲能源有限公司", signed_on=date(2026, 1, 1))
    b = make_deal(session, project_name="光伏项目", investor="乙能源有限公司", signed_on=date(2026, 2, 1))
    c = make_deal(session, project_name="物流园", investor="丙物流有限公司", signed_on=date(2026, 3, 1))
    session.commit()
    return {"a": a.id or 0, "b": b.id or 0, "c": c.id or 0}


ARRIVALS = """
项目名称,投资方,到位时间,当月到位资金（万元）,资金来源,资金用途,是否核实
物流园,,2026年6月,1200.5,省外,固定资产,是
光伏项目,甲能源公司,2026-04-03,300,境外,,否
光伏项目,乙能源有限公司,2026/5/1,"1,000",市外省内,流动资金,
物流园,,2026-07-01,0.01,县际,,
物流园,,2026-07-01,0.01,县际,,
"""


def test_arrivals_name_the_deal_by_project_and_investor(
    session: Session, tmp_path: Path, two_investors_one_project: dict[str, int]
) -> None:
    ids = two_investors_one_project
    result = import_ledger(session, "arrivals", write_csv(tmp_path, ARRIVALS), actor="财务")
    assert (result.inserted, result.already_present) == (5, 0)
    by_deal = dict(
        session.exec(
            select(CapitalArrival.deal_id, func.sum(CapitalArrival.arrived_yuan)).group_by(col(CapitalArrival.deal_id))
        ).all()
    )
    assert by_deal == {ids["c"]: 12_005_000 + 200, ids["a"]: 3_000_000, ids["b"]: 10_000_000}
    june = session.exec(select(CapitalArrival).where(CapitalArrival.arrived_yuan == 12_005_000)).one()
    assert (june.arrived_on, june.source, june.use, june.verified, june.currency) == (
        date(2026, 6, 1),
        "other_province",
        "fixed_assets",
        True,
        "CNY",
    )
    assert june.created_at is not None
    audit_rows = session.exec(select(AuditLog).where(AuditLog.entity == "capital_arrival")).all()
    assert [(a.action, a.new) for a in audit_rows] == [("import", "5")]


def test_reimporting_arrivals_adds_nothing_but_keeps_equal_payments(
    session: Session, tmp_path: Path, two_investors_one_project: dict[str, int]
) -> None:
    path = write_csv(tmp_path, ARRIVALS)
    import_ledger(session, "arrivals", path, actor="t")
    again = import_ledger(session, "arrivals", path, actor="t")
    assert (again.inserted, again.already_present) == (0, 5)
    assert count(session, CapitalArrival) == 5  # the two equal 0.01万 payments both stay
    imports = session.exec(select(AuditLog).where(AuditLog.action == "import")).all()
    assert len(imports) == 1


BAD_ARRIVALS = """
项目名称,投资方,到位日期,到位资金（亿元）,资金来源
光伏项目,,2026-04-03,1,境外
无此项目,,2026-04-03,1,境外
物流园,,2026-02-01,1,境外
物流园,,2026-04-03,-1,境外
物流园,,2026-04-03,1,火星
光伏项目,丁公司,2026-04-03,1,境外
物流园,,2026-04-03,0.5,省外
"""


def test_bad_arrivals_are_reported_and_nothing_lands(
    session: Session, tmp_path: Path, two_investors_one_project: dict[str, int]
) -> None:
    path = write_csv(tmp_path, BAD_ARRIVALS)
    with pytest.raises(LedgerError) as caught:
        import_ledger(session, "arrivals", path, actor="t")
    got = [(e.row, e.column, e.value) for e in caught.value.errors]
    assert got == [
        (2, "项目名称", "光伏项目"),
        (3, "项目名称", "无此项目"),
        (4, "到位日期", "2026-02-01"),
        (5, "到位资金（亿元）", "-1"),
        (6, "资金来源", "火星"),
        (7, "投资方", "丁公司"),
    ]
    messages = [e.message for e in caught.value.errors]
    assert "2 deals have this project name" in messages[0]
    assert "no deal with this project name" in messages[1]
    assert "before the deal was signed on 2026-03-01" in messages[2]
    assert "cannot be negative" in messages[3]
    assert count(session, CapitalArrival) == 0
    partial = import_ledger(session, "arrivals", path, actor="t", partial=True)
    assert partial.inserted == 1 and len(partial.errors) == 6
    assert session.exec(select(CapitalArrival.arrived_yuan)).all() == [50_000_000]


# The importer reads, checks and inserts arrivals chunk by chunk (CHUNK rows); these tests use chunks
# of two rows so that a seven-row ledger spans four chunks.
CHUNKED = """
项目名称,投资方,到位日期,到位资金（万元）,资金来源
物流园,,2026-04-01,1,省外
物流园,,2026-04-02,2,省外
物流园,,2026-04-03,3,省外
无此项目,,2026-04-04,4,省外
物流园,,2026-04-05,5,省外
物流园,,2026-02-01,6,省外
物流园,,2026-04-07,7,省外
"""


def test_a_bad_row_in_a_later_chunk_undoes_the_chunks_already_inserted(
    session: Session, tmp_path: Path, two_investors_one_project: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("crm.ledgers.imports.CHUNK", 2)
    path = write_csv(tmp_path, CHUNKED)
    with pytest.raises(LedgerError, match=r"2 bad row\(s\) of 7; nothing was imported") as caught:
        import_ledger(session, "arrivals", path, actor="t")
    assert [(e.row, e.column, e.value) for e in caught.value.errors] == [
        (5, "项目名称", "无此项目"),  # chunk 2: chunk 1 was already inserted
        (7, "到位日期", "2026-02-01"),  # chunk 3: found though nothing more is written
    ]
    assert count(session, CapitalArrival) == 0
    assert session.exec(select(AuditLog).where(AuditLog.action == "import")).all() == []

    partial = import_ledger(session, "arrivals", path, actor="t", partial=True)
    assert (partial.rows, partial.inserted, len(partial.errors)) == (7, 5, 2)
    assert sorted(session.exec(select(CapitalArrival.arrived_yuan)).all()) == [10_000, 20_000, 30_000, 50_000, 70_000]


REPEATS = """
项目名称,到位日期,到位资金（万元）,资金来源
物流园,2026-07-01,0.01,县际
物流园,2026-07-02,1,县际
物流园,2026-07-03,1,县际
物流园,2026-07-01,0.01,县际
物流园,2026-07-03,1,县际
物流园,2026-07-01,0.01,县际
"""


def test_reimport_in_chunks_counts_repeats_against_the_rows_stored_before(
    session: Session, tmp_path: Path, two_investors_one_project: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("crm.ledgers.imports.CHUNK", 2)
    ids = two_investors_one_project
    stored_one = write_csv(tmp_path, "项目名称,到位日期,到位资金（万元）,资金来源\n物流园,2026-07-01,0.01,县际\n")
    import_ledger(session, "arrivals", stored_one, actor="t")
    path = write_csv(tmp_path, REPEATS, name="repeats.csv")
    # 0.01万 on 07-01 three times in three chunks, one stored: two are new; the rows this import
    # inserts in chunk 1 are not taken for stored ones in chunks 2 and 3
    result = import_ledger(session, "arrivals", path, actor="t")
    assert (result.inserted, result.already_present) == (5, 1)
    payments = session.exec(
        select(CapitalArrival.arrived_on, func.count())
        .where(CapitalArrival.deal_id == ids["c"])
        .group_by(col(CapitalArrival.arrived_on))
        .order_by(col(CapitalArrival.arrived_on))
    ).all()
    assert payments == [(date(2026, 7, 1), 3), (date(2026, 7, 2), 1), (date(2026, 7, 3), 2)]
    again = import_ledger(session, "arrivals", path, actor="t")
    assert (again.inserted, again.already_present) == (0, 6)
    assert count(session, CapitalArrival) == 6


def test_reader_yields_chunks_with_excel_row_numbers(tmp_path: Path) -> None:
    from crm.ledgers import LedgerReader, read_table

    rows: list[list[Any]] = [["项目名称", "到位日期", "到位资金（万元）", "资金来源"]]
    rows += [["物流园", date(2026, 7, d), d, "县际"] for d in (1, 2, 3)]
    rows += [[None, None, None, None], ["物流园", date(2026, 7, 4), 4, "县际"], ["合计", None, 10, None]]
    rows += [["物流园", date(2026, 7, 5), 5, "县际"]]
    xlsx = write_xlsx(tmp_path, rows, title="2026年到位资金台账")  # title row 1, header row 2
    csv_path = write_csv(
        tmp_path, "2026年到位资金台账\n" + "\n".join(",".join("" if c is None else str(c) for c in r) for r in rows)
    )
    kind = ledger_kind("arrivals")
    for path in (xlsx, csv_path):
        with LedgerReader(path, kind) as reader:
            assert reader.header_row == 2
            assert reader.expected_rows == (7 if path.suffix == ".xlsx" else None)
            chunks = list(reader.chunks(3))
        assert [t.rows for t in chunks] == [[3, 4, 5], [7], [9]]  # row 6 blank, row 8 a total
        assert [[float(c) for c in t.cells["arrived_yuan"]] for t in chunks] == [[1, 2, 3], [4], [5]]
        assert any("row 8" in w and "合计" in w for w in reader.warnings)
        whole = read_table(path, kind)
        assert whole.rows == [3, 4, 5, 7, 9]
        assert [float(c) for c in whole.cells["arrived_yuan"]] == [1, 2, 3, 4, 5]


def test_reader_of_a_ledger_without_data_rows_yields_one_empty_table(tmp_path: Path) -> None:
    from crm.ledgers import LedgerReader

    path = write_csv(tmp_path, "项目名称,到位日期,到位资金,资金来源\n,,,\n")
    with LedgerReader(path, ledger_kind("arrivals")) as reader:
        assert [t.rows for t in reader.chunks(2)] == [[]]


def test_arrival_after_termination_is_refused(session: Session, tmp_path: Path) -> None:
    make_deal(
        session,
        project_name="停建项目",
        state=DealState.terminated,
        signed_on=date(2026, 1, 1),
        terminated_on=date(2026, 3, 1),
    )
    session.commit()
    path = write_csv(tmp_path, "项目名称,到位日期,到位资金,资金来源\n停建项目,2026-04-01,10,省外\n")
    with pytest.raises(LedgerError, match="after the deal was terminated on 2026-03-01"):
        import_ledger(session, "arrivals", path, actor="t")


def test_foreign_currency_arrivals(session: Session, tmp_path: Path) -> None:
    make_deal(session, project_name="外资项目", signed_on=date(2026, 1, 1))
    session.commit()
    path = write_csv(
        tmp_path,
        """
项目名称,到位日期,到位资金（元）,资金来源,币种,原币金额,汇率
外资项目,2026-04-01,,境外,美元,"1,000.50",7.1
外资项目,2026-04-02,100,境外,USD,10,7.1
""",
    )
    with pytest.raises(
        LedgerError, match=r"row 3, column 到位资金（元）: disagrees with original × fx_rate = 10 × 7.1 = 71 yuan"
    ):
        import_ledger(session, "arrivals", path, actor="t")
    result = import_ledger(session, "arrivals", path, actor="t", partial=True)
    assert result.inserted == 1
    row = session.exec(select(CapitalArrival)).one()
    assert (row.arrived_yuan, row.currency, row.original_cents, row.fx_rate) == (7104, "USD", 100050, "7.1")


# ---------------------------------------------------------------- targets, trips, visits, leads


def test_targets_for_county_unit_and_leader_with_units_and_percentages(session: Session, tmp_path: Path) -> None:
    from crm.models import Target

    path = write_csv(
        tmp_path,
        """
考核指标,考核期间,责任单位,责任领导,目标任务（亿元）,增长目标,权重
到位资金,2026年,,,263,10%,
签约项目个数,2026年第一季度,县商务局,,12,,
到位资金,2026-03,,王县长,1.5,,0.3
开工项目个数,2026,县商务局,王县长,3,,
签约投资额,2026,,,,,
""",
    )
    with pytest.raises(LedgerError) as caught:
        import_ledger(session, "targets", path, actor="t")
    assert [(e.row, e.column) for e in caught.value.errors] == [(5, "责任领导"), (6, "目标任务（亿元）")]
    result = import_ledger(session, "targets", path, actor="t", partial=True)
    assert result.inserted == 3
    rows = {
        (t.metric, t.period_kind, t.scope_kind): (t.amount, t.growth, t.weight)
        for t in session.exec(select(Target)).all()
    }
    assert rows == {
        ("arrived_yuan", "year", "county"): (26_300_000_000, 0.1, None),
        ("deals_signed", "quarter", "unit"): (12, None, None),
        ("arrived_yuan", "month", "leader"): (150_000_000, None, 0.3),
    }
    again = import_ledger(session, "targets", path, actor="t", partial=True)
    assert (again.inserted, again.already_present, again.updated) == (0, 3, 0)
    revised = write_csv(tmp_path, "考核指标,考核期间,目标任务（亿元）\n到位资金,2026,280\n", name="revised.csv")
    changed = import_ledger(session, "targets", revised, actor="t")
    assert (changed.inserted, changed.updated) == (0, 1)
    assert session.exec(select(Target.amount).where(Target.scope_kind == "county")).one() == 28_000_000_000


def test_trips_then_visits_then_leads(session: Session, tmp_path: Path) -> None:
    from crm.models import Lead, Squad, Trip, TripDestination, Visit

    trips = write_csv(
        tmp_path,
        """
招商小分队,月份,出发日期,返回日期,目的地,目标产业,带队领导,责任单位,成员,经费预算（万元）,实际支出（万元）
第一小分队,2026年6月,2026-06-10,2026-06-14,广东深圳、浙江杭州,光伏发电、装备制造,王县长,县商务局,王县长、小李,2.5,2.1
第二小分队,2026-06,,,江苏,新材料,李县长,,,1,
第三小分队,2026-07,2026-06-30,,上海,,,,,,
""",
        name="trips.csv",
    )
    with pytest.raises(LedgerError) as caught:
        import_ledger(session, "trips", trips, actor="t")
    assert [(e.row, e.column) for e in caught.value.errors] == [(4, "出发日期"), (4, "招商小分队")]
    result = import_ledger(session, "trips", trips, actor="t", partial=True)
    assert result.inserted == 2
    first = session.exec(select(Trip).join(Squad).where(Squad.name == "第一小分队")).one()
    assert (first.budget_yuan, first.spent_yuan, first.month) == (25_000, 21_000, date(2026, 6, 1))
    places = session.exec(select(TripDestination.city).where(TripDestination.trip_id == first.id)).all()
    assert sorted(p or "" for p in places) == ["杭州", "深圳"]
    assert import_ledger(session, "trips", trips, actor="t", partial=True).already_present == 2

    visits = write_csv(
        tmp_path,
        """
招商小分队,拜访日期,拜访对象,对象类型,省份,城市,拜访事由
第一小分队,2026-06-11,深圳某光伏集团,企业,广东,深圳,光伏组件
第一小分队,2026-06-12,浙江甘肃商会,商会,浙江省,杭州,以商招商
第一小分队,2026-06-20,迟到企业,企业,广东,,
第九小分队,2026-06-11,无此分队,企业,,,
""",
        name="visits.csv",
    )
    with pytest.raises(LedgerError) as caught:
        import_ledger(session, "visits", visits, actor="t")
    assert [(e.row, e.column) for e in caught.value.errors] == [(4, "拜访日期"), (5, "招商小分队")]
    assert import_ledger(session, "visits", visits, actor="t", partial=True).inserted == 2
    chamber = session.exec(select(Visit).where(Visit.counterpart == "浙江甘肃商会")).one()
    assert (chamber.counterpart_kind, chamber.status, chamber.trip_id) == ("chamber", "done", first.id)
    assert import_ledger(session, "visits", visits, actor="t", partial=True).already_present == 2

    leads = write_csv(
        tmp_path,
        """
项目名称,投资方,获取日期,所属行业,计划总投资（万元）,项目阶段,跟踪责任人,责任单位,响应日期
储能电站,深圳某光伏集团,2026-06-11,新能源开发,50000,洽谈,小李,县商务局,2026-06-12
农产品冷链,,2026-06-15,农产品加工,3000,意向,,,2026-06-01
""",
        name="leads.csv",
    )
    with pytest.raises(LedgerError, match=r"row 3, column 响应日期: 响应日期 2026-06-01 is before 获取日期"):
        import_ledger(session, "leads", leads, actor="t")
    assert import_ledger(session, "leads", leads, actor="t", partial=True).inserted == 1
    lead = session.exec(select(Lead)).one()
    assert (lead.planned_yuan, lead.stage, lead.acknowledged_on) == (500_000_000, "negotiation", date(2026, 6, 12))
    assert session.get(Unit, lead.unit_id).name == "县商务局"  # type: ignore[union-attr]


# ---------------------------------------------------------------- progress and CLI


def test_progress_bar_draws_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar("import", 10, enabled=False) as advance:
        advance(10)
    with progress_bar("import", 10_000) as advance:  # stderr is not a terminal under pytest
        advance(10_000)
    assert capsys.readouterr().err == ""
    with progress_bar("import", 3, enabled=True) as advance:
        advance(3)


def test_cli_import_reports_every_bad_row_and_exits_1(db_url: str, session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path, BAD_DEALS)
    result = runner.invoke(app, ["--db", db_url, "import", "deals", str(path)])
    assert result.exit_code == 1
    for row, column, _, _ in EXPECTED_BAD:
        assert f"row {row}, column {column}" in result.output
    assert count(session, Deal) == 0
    partial = runner.invoke(app, ["--db", db_url, "import", "deals", str(path), "--partial", "--actor", "张三"])
    assert partial.exit_code == 0, partial.output
    assert "2 inserted" in partial.output and "8 bad rows skipped" in partial.output
    session.rollback()  # a new snapshot: the CLI wrote through its own connection
    assert count(session, Deal) == 2
    assert session.exec(select(AuditLog.actor).where(AuditLog.action == "import")).all() == ["张三"]


def test_cli_export_with_filters_then_import(db_url: str, session: Session, tmp_path: Path) -> None:
    make_deal(session, project_name="一号", unit="县商务局", industry="光伏发电", signed_on=date(2026, 1, 5))
    make_deal(session, project_name="二号", unit="县发改局", industry="光伏发电", signed_on=date(2026, 3, 5))
    make_deal(session, project_name="三号", unit="县商务局", industry="装备制造", signed_on=date(2026, 5, 5))
    session.commit()
    out = tmp_path / "deals.csv"
    result = runner.invoke(
        app,
        [
            "--db",
            db_url,
            "export",
            "deals",
            str(out),
            "--unit",
            "县商务局",
            "--since",
            "2026-01-01",
            "--until",
            "2026-04-30",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 1 deals rows" in result.output
    assert "一号" in out.read_text(encoding="utf-8-sig")
    industry = runner.invoke(app, ["--db", db_url, "export", "deals", str(out), "--industry", "光伏发电", "--force"])
    assert "wrote 2 deals rows" in industry.output
    again = runner.invoke(app, ["--db", db_url, "import", "deals", str(out)])
    assert again.exit_code == 0 and "2 already present" in again.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["export", "deals", "x.csv", "--unit", "无此单位"], 1, "unit 无此单位 — no such unit"),
        (["export", "deals", "x.pdf"], 1, "export to a .xlsx or .csv file"),
        (["export", "visits", "x.csv", "--industry", "光伏发电"], 1, "cannot be filtered by industry"),
        (["export", "deals", "x.csv", "--since", "2026-13-01"], 1, "is not a date"),
        (["import", "contracts", "x.csv"], 2, ""),
    ],
)
def test_cli_refusals(db_url: str, tmp_path: Path, args: list[str], code: int, message: str) -> None:
    args = [str(tmp_path / a) if a.startswith("x.") else a for a in args]
    result = runner.invoke(app, ["--db", db_url, *args])
    assert result.exit_code == code, result.output
    assert message in result.output


def test_schema_json_is_what_write_schemas_writes(tmp_path: Path) -> None:
    from crm.ledgers import write_schemas

    paths = write_schemas(tmp_path)
    assert {p.name for p in paths} == {f"{k}.json" for k in SCHEMA_KINDS}
    assert json.loads((tmp_path / "deals.json").read_text(encoding="utf-8")) == json_schema("deals")

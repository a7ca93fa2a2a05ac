"""Ledgers as governments lay them out: header blocks, 本月/累计, 小计, placeholders, wide sheets, .ods.

Each ledger is built here with openpyxl (merged cells, formulas, vertical merges) and its
expected records and sums are counted by hand in the test.
"""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import openpyxl
import pytest
import xlwt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import Session, select
from typer.testing import CliRunner

from crm.cli import app
from crm.errors import LedgerError
from crm.ledgers import import_ledger, ledger_kind, read_table
from crm.ledgers.explain import explain_ledger
from crm.models import CapitalArrival, Deal, Person, Procedure, SigningEvent, StallReason, Target, Unit
from tests.factories import make_deal

runner = CliRunner()


def workbook(
    path: Path, rows: list[list[Any]], merges: tuple[str, ...] = (), *, sheet: str = "Sheet1", before: int = 0
) -> Path:
    """An .xlsx of `rows` (row 1 first) with `merges` ("A1:P1"); `before` blank sheets come first."""
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    for n in range(before):
        book.create_sheet(f"说明{n}", 0)
    first.title = sheet
    for r, row in enumerate(rows, 1):
        for c, value in enumerate(row, 1):
            if value is not None:
                first.cell(r, c, value)
    for span in merges:
        first.merge_cells(span)
    book.save(path)
    return path


def total(session: Session, model: Any, column: Any) -> int:
    return int(session.exec(select(func.coalesce(func.sum(column), 0)).select_from(model)).one())


def count(session: Session, model: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def name_of(session: Session, model: Any, id_: int | None) -> str | None:
    row = session.get(model, id_) if id_ is not None else None
    return None if row is None else row.name


# ---------------------------------------------------------------- 1. deals: two-level header, 小计, extras

DEALS_HEADER_GROUPS = [
    "序号",
    "责任单位",
    "项目名称",
    "投资方",
    "签约情况",
    None,
    "项目状态",
    "开工时间",
    "未开工原因",
    "跟踪责任人",
    "前期手续",
    None,
    None,
    "招引单位",
    "第一引资人",
    "签约活动",
]
DEALS_HEADER_LEAVES = (
    [None] * 4 + ["签约日期", "合同投资额（万元）"] + [None] * 4 + ["立项", "用地", "环评"] + [None] * 3
)
DEALS_LAYOUT: list[list[Any]] = [
    ["2026年上半年招商引资签约项目台账"],
    ["填报单位：县商务局", None, None, None, None, None, None, "填报日期：2026年7月5日"],
    ["单位：万元"],
    DEALS_HEADER_GROUPS,
    DEALS_HEADER_LEAVES,
    ["合计", None, None, None, None, "=SUM(F8:F9,F11:F12)"],  # row 6: a total at the top, a formula
    # row 7 a blank row
    [],
    [
        1,
        "县发改局",
        "光伏电站",
        "浙江光伏科技有限公司",
        "2026年3月15日",
        50000,
        "已开工",
        date(2026, 5, 1),
        None,
        None,
        date(2026, 1, 10),
        "已办",
        "已办",
        "县发改局",
        "张三",
        "兰洽会",
    ],
    [
        2,
        None,
        "储能项目",
        "江苏储能有限公司",
        "2026/4/20",
        12000.5,
        "前期",
        None,
        "资金未落实",
        "李四",
        "办理中",
        "未办",
        "-",
        "县发改局",
        "李四",
        "-",
    ],
    [None, None, "小计", None, None, "=SUM(F8:F9)"],  # row 10
    [
        3,
        "县工信局",
        "装备制造园",
        "陕西装备集团",
        202605,
        30000,
        "已签约",
        None,
        "手续办理慢",
        "王五",
        None,
        None,
        None,
        "县工信局",
        "王五",
        "县签约日",
    ],
    [
        4,
        None,
        "农产品加工",
        "甘肃农业公司",
        date(2026, 6, 30),
        "8000",
        "已注册",
        None,
        "用地未落实",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],
    [None, None, "小计", None, None, "=SUM(F11:F12)"],  # row 13
    ["注：1.合同投资额单位为万元；2.项目状态按月更新。"],  # row 14
]
DEALS_MERGES = (
    "A1:P1",
    "E4:F4",
    "K4:M4",
    *(f"{c}4:{c}5" for c in "ABCDGHIJNOP"),
    "B8:B9",  # a unit over its rows
    "B11:B12",
    "A14:P14",
)


def deals_layout(tmp_path: Path) -> Path:
    return workbook(tmp_path / "签约项目台账.xlsx", DEALS_LAYOUT, DEALS_MERGES)


def test_deals_with_a_two_level_header_subtotals_and_the_extra_columns(session: Session, tmp_path: Path) -> None:
    result = import_ledger(session, "deals", deals_layout(tmp_path), actor="张三")
    assert (result.rows, result.inserted, result.errors) == (4, 4, [])
    # 50000 + 12000.5 + 30000 + 8000 万元; the 合计 and 小计 rows are not added
    assert total(session, Deal, Deal.contracted_yuan) == 1_000_005_000
    deals = {d.project_name: d for d in session.exec(select(Deal)).all()}
    solar, storage, park, farm = (deals[n] for n in ("光伏电站", "储能项目", "装备制造园", "农产品加工"))
    assert (solar.signed_on, solar.state, solar.started_on) == (date(2026, 3, 15), "started", date(2026, 5, 1))
    assert (storage.signed_on, park.signed_on, farm.signed_on) == (
        date(2026, 4, 20),
        date(2026, 5, 1),
        date(2026, 6, 30),
    )
    # the unit merged down over its rows belongs to each of them
    assert [name_of(session, Unit, d.unit_id) for d in (solar, storage, park, farm)] == ["县发改局"] * 2 + [
        "县工信局"
    ] * 2
    assert name_of(session, Unit, solar.credited_unit_id) == "县发改局"
    assert name_of(session, Person, solar.introducer_id) == "张三"
    assert name_of(session, SigningEvent, solar.signing_event_id) == "兰洽会"
    assert storage.signing_event_id is None  # "-" is a placeholder, not an event called "-"
    reasons = {r.id: r.code for r in session.exec(select(StallReason)).all()}
    assert (reasons[storage.stall_reason_id], name_of(session, Person, storage.follow_up_owner_id)) == (
        "funding",
        "李四",
    )
    assert (reasons[park.stall_reason_id], park.stall_note) == ("other", "手续办理慢")
    assert reasons[farm.stall_reason_id] == "land" and solar.stall_reason_id is None
    procedures = {(p.deal_id, p.kind): (p.state, p.done_on) for p in session.exec(select(Procedure)).all()}
    assert procedures == {
        (solar.id, "approval"): ("done", date(2026, 1, 10)),
        (solar.id, "land"): ("done", None),
        (solar.id, "environment"): ("done", None),
        (storage.id, "approval"): ("in_progress", None),
        (storage.id, "land"): ("not_started", None),
    }
    skipped = "\n".join(result.warnings)
    for row, what in ((6, "合计"), (10, "小计"), (13, "小计"), (14, "note")):
        assert f"row {row}: " in skipped and what in skipped
    assert any("手续办理慢" in w and "其他" in w for w in result.warnings)


def test_explain_prints_each_column_and_each_skipped_row_and_writes_nothing(
    db_url: str, session: Session, tmp_path: Path
) -> None:
    path = deals_layout(tmp_path)
    explained = explain_ledger("deals", path)
    assert explained.header_rows == (4, 5) and explained.rows == 4
    by_letter = {c.letter: c for c in explained.columns}
    assert (by_letter["E"].path, by_letter["E"].field) == ("签约情况/签约日期", "signed_on")
    assert (by_letter["F"].path, by_letter["F"].field, by_letter["F"].unit) == (
        "签约情况/合同投资额（万元）",
        "contracted_yuan",
        "万元",
    )
    assert (by_letter["K"].path, by_letter["K"].field) == ("前期手续/立项", "approval")
    assert by_letter["A"].field is None and "row numbers" in by_letter["A"].note
    assert dict(explained.skipped) == {
        1: "above the header: a title row (2026年上半年招商引资签约项目台账)",
        2: "above the header: a 填报单位/填报人/日期 line",
        3: "above the header: a unit line (单位：…)",
        6: "a total row (合计)",
        10: "a subtotal row (小计)",
        13: "a subtotal row (小计)",
        14: "a note row (注：1.合同投资额单位为万元；2.项目状态按月更新。)",
    }
    result = runner.invoke(app, ["--db", db_url, "import", "deals", str(path), "--explain"])
    assert result.exit_code == 0, result.output
    assert "F       签约情况/合同投资额（万元）" in result.output and "contracted_yuan" in result.output
    assert "row 10: a subtotal row (小计)" in result.output and "header rows 4-5" in result.output
    assert count(session, Deal) == 0


# ---------------------------------------------------------------- 2. arrivals: 本月 | 累计 under a group, 其中


@pytest.fixture
def two_deals(session: Session) -> dict[str, int]:
    a = make_deal(session, project_name="光伏电站", investor="浙江光伏科技有限公司", signed_on=date(2025, 12, 5))
    b = make_deal(session, project_name="储能项目", investor="江苏储能有限公司", signed_on=date(2025, 12, 6))
    session.commit()
    return {"光伏电站": a.id or 0, "储能项目": b.id or 0}


def arrivals_by_deal(session: Session) -> dict[tuple[int, date], int]:
    rows = session.exec(select(CapitalArrival.deal_id, CapitalArrival.arrived_on, CapitalArrival.arrived_yuan)).all()
    return {(d, day): amount for d, day, amount in rows}


def test_arrivals_month_and_cumulative_under_a_group_with_its_unit_and_a_subset_column(
    session: Session, tmp_path: Path, two_deals: dict[str, int]
) -> None:
    rows: list[list[Any]] = [
        ["2026年6月到位资金统计表"],
        [
            "序号",
            "项目名称",
            "到位日期",
            "资金来源",
            "到位资金（万元）",
            None,
            "其中：省外资金（万元）",
            "新开工（个）",
            None,
        ],
        [None, None, None, None, "本月", "累计", None, "本月", "累计"],  # 本月 twice, under different groups
        [1, "光伏电站", "2026-06", "省外", 100, 300, 100, 1, 3],
        [2, "储能项目", date(2026, 6, 15), "县际", 50.5, 50.5, "-", 0, 1],
        ["合计", None, None, None, "=SUM(E4:E5)", "=SUM(F4:F5)", "=SUM(G4:G5)", 1, 4],
    ]
    merges = ("A1:I1", "E2:F2", "H2:I2", "A2:A3", "B2:B3", "C2:C3", "D2:D3", "G2:G3")
    path = workbook(tmp_path / "到位资金.xlsx", rows, merges)
    result = import_ledger(session, "arrivals", path, actor="t")
    assert (result.rows, result.inserted, result.errors) == (2, 2, [])
    assert arrivals_by_deal(session) == {
        (two_deals["光伏电站"], date(2026, 6, 1)): 1_000_000,
        (two_deals["储能项目"], date(2026, 6, 15)): 505_000,
    }  # 本月 only: the 累计 and 其中 columns are never added
    columns = {c.path: c for c in explain_ledger("arrivals", path).columns}
    assert (columns["到位资金（万元）/本月"].field, columns["到位资金（万元）/本月"].unit) == ("arrived_yuan", "万元")
    assert columns["到位资金（万元）/累计"].field == "arrived_cumulative_yuan"
    assert columns["其中：省外资金（万元）"].field is None and "其中" in columns["其中：省外资金（万元）"].note
    assert columns["新开工（个）/本月"].field is None and columns["新开工（个）/累计"].field is None


# ---------------------------------------------------------------- 3. arrivals: only 累计, month by month


CUMULATIVE = [
    ["项目名称", "月份", "资金来源", "本年累计到位资金（万元）"],
    ["光伏电站", "2026年1月", "省外", 100],
    ["光伏电站", "2026年2月", "省外", 250],
    ["光伏电站", "2026年3月", "省外", 250],  # did not move: no arrival in March
    ["光伏电站", "2026年1-4月", "省外", 400],
    ["储能项目", 202603, "县际", 80],
]


def test_a_ledger_of_running_totals_gives_each_month_as_the_difference(
    session: Session, tmp_path: Path, two_deals: dict[str, int]
) -> None:
    path = workbook(tmp_path / "累计.xlsx", CUMULATIVE)
    result = import_ledger(session, "arrivals", path, actor="t")
    assert (result.inserted, result.errors) == (4, [])
    solar, storage = two_deals["光伏电站"], two_deals["储能项目"]
    assert arrivals_by_deal(session) == {
        (solar, date(2026, 1, 1)): 1_000_000,
        (solar, date(2026, 2, 1)): 1_500_000,
        (solar, date(2026, 4, 1)): 1_500_000,
        (storage, date(2026, 3, 1)): 800_000,
    }
    assert total(session, CapitalArrival, CapitalArrival.arrived_yuan) == 4_800_000  # the last running totals
    assert any("row 4" in w and "did not move" in w for w in result.warnings)
    again = import_ledger(session, "arrivals", path, actor="t")
    assert (again.inserted, again.already_present) == (0, 4)


def test_a_running_total_that_falls_is_a_bad_row(session: Session, tmp_path: Path, two_deals: dict[str, int]) -> None:
    path = workbook(tmp_path / "累计.xlsx", [*CUMULATIVE, ["光伏电站", "2026年5月", "省外", 380]])
    with pytest.raises(LedgerError) as caught:
        import_ledger(session, "arrivals", path, actor="t")
    (error,) = caught.value.errors
    assert error.row == 7 and "cannot decrease" in error.message and "400万元" in error.message
    assert count(session, CapitalArrival) == 0


# ---------------------------------------------------------------- 4. targets: quarters as columns


def targets_of(session: Session) -> dict[tuple[str, str, date], int | None]:
    out = {}
    for t in session.exec(select(Target)).all():
        out[(name_of(session, Unit, t.unit_id) or "county", t.period_kind, t.period_start)] = t.amount
    return out


def test_targets_with_the_year_and_quarters_as_columns(session: Session, tmp_path: Path) -> None:
    rows: list[list[Any]] = [
        ["2026年招商引资目标任务分解表"],
        ["责任单位", "考核指标", "全年目标（万元）", "一季度", "二季度", "三季度", "四季度"],
        ["县商务局", "到位资金", 10000, 2000, 3000, 2500, 2500],
        ["县发改局", "到位资金", 5000, 1000, 1000, "-", "—"],  # placeholders: no target, not a zero one
        ["合计", None, "=SUM(C3:C4)", "=SUM(D3:D4)", None, None, None],
    ]
    path = workbook(tmp_path / "目标.xlsx", rows, ("A1:G1",))
    result = import_ledger(session, "targets", path, actor="t")
    assert (result.rows, result.inserted, result.errors) == (8, 8, [])
    wan = 10_000
    assert targets_of(session) == {
        ("县商务局", "year", date(2026, 1, 1)): 10000 * wan,
        ("县商务局", "quarter", date(2026, 1, 1)): 2000 * wan,
        ("县商务局", "quarter", date(2026, 4, 1)): 3000 * wan,
        ("县商务局", "quarter", date(2026, 7, 1)): 2500 * wan,
        ("县商务局", "quarter", date(2026, 10, 1)): 2500 * wan,
        ("县发改局", "year", date(2026, 1, 1)): 5000 * wan,
        ("县发改局", "quarter", date(2026, 1, 1)): 1000 * wan,
        ("县发改局", "quarter", date(2026, 4, 1)): 1000 * wan,
    }
    assert total(session, Target, Target.amount) == 27_000 * wan


# ---------------------------------------------------------------- 5. targets: a three-row header over months


def test_targets_with_months_under_a_year_under_a_group(session: Session, tmp_path: Path) -> None:
    months = [f"{m}月" for m in range(1, 13)]
    rows: list[list[Any]] = [
        ["招商引资月度目标任务"],
        ["责任单位", "考核指标", "目标任务（万元）", *[None] * 11],
        [None, None, "2026年", *[None] * 11],
        [None, None, *months],
        ["县商务局", "到位资金", *[10 * m for m in range(1, 13)]],
        ["县工信局", "签约项目个数", *[1] * 12],
    ]
    merges = ("A1:N1", "C2:N2", "C3:N3", "A2:A4", "B2:B4")
    path = workbook(tmp_path / "月度目标.xlsx", rows, merges)
    explained = explain_ledger("targets", path)
    assert explained.header_rows == (2, 4)
    assert explained.columns[2].path == "目标任务（万元）/2026年/1月" and explained.columns[2].unit == "万元"
    result = import_ledger(session, "targets", path, actor="t")
    assert (result.inserted, result.errors) == (24, [])
    targets = targets_of(session)
    assert targets[("县商务局", "month", date(2026, 3, 1))] == 300_000
    assert sum(v or 0 for (u, _, _), v in targets.items() if u == "县商务局") == 780 * 10_000
    assert sum(v or 0 for (u, _, _), v in targets.items() if u == "县工信局") == 12


# ---------------------------------------------------------------- 6. arrivals: months as columns


def test_arrivals_with_months_as_columns_and_placeholders(
    session: Session, tmp_path: Path, two_deals: dict[str, int]
) -> None:
    rows: list[list[Any]] = [
        ["单位：万元"],
        ["项目名称", "资金来源", "2026年1月", "2026年2月", "2026年3月", "合计"],
        ["光伏电站", "省外", 100, "—", 50, "=SUM(C3:E3)"],
        ["储能项目", "县际", "本月未上报", 20, "/", "=SUM(C4:E4)"],
    ]
    path = workbook(tmp_path / "分月到位.xlsx", rows)
    result = import_ledger(session, "arrivals", path, actor="t")
    assert (result.rows, result.inserted, result.errors) == (3, 3, [])
    solar, storage = two_deals["光伏电站"], two_deals["储能项目"]
    assert arrivals_by_deal(session) == {
        (solar, date(2026, 1, 1)): 1_000_000,
        (solar, date(2026, 3, 1)): 500_000,
        (storage, date(2026, 2, 1)): 200_000,
    }


# ---------------------------------------------------------------- 7. placeholders, dates, ranges and states


def test_placeholders_ranges_and_states_that_are_not_deals_are_bad_rows_saying_why(
    session: Session, tmp_path: Path
) -> None:
    rows: list[list[Any]] = [
        ["项目名称", "投资方", "合同投资额（亿元）", "签约日期", "项目状态", "备注"],
        ["甲项目", "-", 1.5, "2026/6/30", "已签约", None],
        ["乙项目", "乙公司", "5000万-1亿", "2026-06", "已签约", None],
        ["丙项目", "丙公司", 2, "2026年6月30日", "在谈", None],
        ["丁项目", "丁公司", "/", "2026年6月30日", "已签约", None],
        ["戊项目", "戊公司", 0.8, 202606, "前期", "无"],
    ]
    path = workbook(tmp_path / "deals.xlsx", rows)
    with pytest.raises(LedgerError) as caught:
        import_ledger(session, "deals", path, actor="t")
    reasons = {(e.row, e.column): e.message for e in caught.value.errors}
    assert set(reasons) == {(2, "投资方"), (3, "合同投资额（亿元）"), (4, "项目状态"), (5, "合同投资额（亿元）")}
    assert "'-' is a placeholder" in reasons[(2, "投资方")]
    assert "a range is not an amount" in reasons[(3, "合同投资额（亿元）")]
    assert "leads ledger" in reasons[(4, "项目状态")]
    assert "'/' is a placeholder" in reasons[(5, "合同投资额（亿元）")]
    assert count(session, Deal) == 0
    result = import_ledger(session, "deals", path, actor="t", partial=True)
    assert result.inserted == 1
    deal = session.exec(select(Deal)).one()
    assert (deal.project_name, deal.signed_on, deal.contracted_yuan) == ("戊项目", date(2026, 6, 1), 80_000_000)


# ---------------------------------------------------------------- 8. .ods, read by python-calamine


def write_ods(path: Path, rows: list[list[Any]], title: str) -> Path:
    """A minimal OpenDocument spreadsheet: a title merged over the columns, then `rows` (text and numbers)."""

    def cell(value: Any) -> str:
        if value is None:
            return "<table:table-cell/>"
        if isinstance(value, int | float):
            return f'<table:table-cell office:value-type="float" office:value="{value}"><text:p>{value}</text:p></table:table-cell>'
        return f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'

    width = len(rows[0])
    body = (
        f'<table:table-row><table:table-cell table:number-columns-spanned="{width}" office:value-type="string">'
        f"<text:p>{escape(title)}</text:p></table:table-cell>"
        + "<table:covered-table-cell/>" * (width - 1)
        + "</table:table-row>"
    )
    body += "".join("<table:table-row>" + "".join(map(cell, row)) + "</table:table-row>" for row in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="到位资金">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return path


def test_an_ods_ledger_imports_like_an_xlsx(session: Session, tmp_path: Path, two_deals: dict[str, int]) -> None:
    rows: list[list[Any]] = [
        ["项目名称", "到位日期", "到位资金（万元）", "资金来源"],
        ["光伏电站", "2026-07-01", 120, "省外"],
        ["储能项目", "2026年7月2日", 30.5, "县际"],
        ["合计", None, 150.5, None],
    ]
    path = write_ods(tmp_path / "到位资金.ods", rows, "2026年7月到位资金")
    result = import_ledger(session, "arrivals", path, actor="t")
    assert (result.rows, result.inserted, result.errors) == (2, 2, [])
    assert total(session, CapitalArrival, CapitalArrival.arrived_yuan) == 1_505_000
    assert any("row 5" in w and "合计" in w for w in result.warnings)  # title row 1, header row 2


def test_an_xls_ledger_with_merged_cells_imports_like_an_xlsx(
    session: Session, tmp_path: Path, two_deals: dict[str, int]
) -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("到位资金")
    sheet.write_merge(0, 0, 0, 4, "2026年7月到位资金")
    sheet.write_merge(1, 2, 0, 0, "项目名称")
    sheet.write_merge(1, 2, 1, 1, "资金来源")
    sheet.write_merge(1, 1, 2, 3, "到位资金（万元）")
    sheet.write(2, 2, "本月")
    sheet.write(2, 3, "累计")
    sheet.write_merge(1, 2, 4, 4, "到位日期")
    sheet.write_merge(3, 4, 0, 0, "光伏电站")  # one project over two rows
    for r, (source, month, cumulative, day) in enumerate(
        [("省外", 120, 120, "2026-07-01"), ("境外", 30.5, 150.5, "2026年7月9日")], 3
    ):
        for c, value in enumerate((source, month, cumulative, day), 1):
            sheet.write(r, c, value)
    sheet.write(5, 0, "合计")
    sheet.write(5, 2, 150.5)
    path = tmp_path / "到位资金.xls"
    book.save(str(path))
    result = import_ledger(session, "arrivals", path, actor="t")
    assert (result.rows, result.inserted, result.errors) == (2, 2, [])
    solar = two_deals["光伏电站"]
    assert arrivals_by_deal(session) == {(solar, date(2026, 7, 1)): 1_200_000, (solar, date(2026, 7, 9)): 305_000}
    assert any("row 6" in w and "合计" in w for w in result.warnings)


def test_workbook_formats_that_are_not_read_are_refused_by_name(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "台账.xlsb"
    path.write_bytes(b"PK")
    with pytest.raises(Exception, match=r"\.xlsb workbooks are not read; save the sheet as \.xlsx"):
        import_ledger(session, "deals", path, actor="t")


# ---------------------------------------------------------------- the same records however the sheet is dressed

KNOWN_HEADER = ["项目名称", "到位日期", "到位资金（万元）", "资金来源"]
KNOWN_ROWS: list[list[Any]] = [
    ["光伏电站", date(2026, 7, 1), 120, "省外"],
    ["储能项目", date(2026, 7, 2), 30.5, "县际"],
    ["光伏电站", date(2026, 7, 9), 7, "境外"],
    ["物流园", date(2026, 8, 1), 1, "市外省内"],
]


def _records(table: Any) -> list[tuple[Any, ...]]:
    cells = table.cells
    return sorted(
        zip(cells["project_name"], cells["arrived_on"], cells["arrived_yuan"], cells["source"], strict=True),
        key=repr,
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    titles=st.integers(0, 3),
    blank_columns=st.lists(st.integers(0, 4), max_size=3),
    total_at_top=st.booleans(),
    total_at_bottom=st.booleans(),
    subtotals=st.lists(st.integers(0, 3), max_size=2, unique=True),
    blank_rows=st.lists(st.integers(0, 3), max_size=2),
)
def test_title_rows_blank_columns_and_total_rows_never_change_the_records(
    tmp_path: Path,
    titles: int,
    blank_columns: list[int],
    total_at_top: bool,
    total_at_bottom: bool,
    subtotals: list[int],
    blank_rows: list[int],
) -> None:
    body: list[list[Any]] = []
    for i, row in enumerate(KNOWN_ROWS):
        body.append(list(row))
        if i in subtotals:
            body.append(["小计", None, "=SUM(C1:C2)", None])
        if i in blank_rows:
            body.append([None] * 4)
    if total_at_top:
        body.insert(0, ["合计", None, "=SUM(C3:C9)", None])
    if total_at_bottom:
        body.append(["总计", None, 158.5, None])
    heads = [
        ["2026年到位资金台账"],
        ["填报单位：县商务局", None, "日期：2026年8月"],
        ["单位：万元"],
    ][:titles]
    rows = [*heads, list(KNOWN_HEADER), *body]
    for at in sorted(blank_columns, reverse=True):  # blank columns pushed in among the others
        rows = [[*row[:at], None, *row[at:]] for row in rows]
    path = tmp_path / f"p{titles}-{len(blank_columns)}-{total_at_top}{total_at_bottom}-{subtotals}-{blank_rows}.xlsx"
    workbook(path, rows, ("A1:F1",) if titles else ())
    expected = read_table(workbook(tmp_path / "plain.xlsx", [KNOWN_HEADER, *KNOWN_ROWS]), ledger_kind("arrivals"))
    got = read_table(path, ledger_kind("arrivals"))
    assert _records(got) == _records(expected)
    assert len(got.rows) == len(KNOWN_ROWS)


# ---------------------------------------------------------------- the streamed .xlsx reader


def _rewrite_sheet(path: Path, out: Path, change: Any) -> Path:
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = change(data.decode()).encode()
            target.writestr(item, data)
    return out


@pytest.mark.parametrize("reorder", [False, True])
def test_the_streamed_xlsx_reader_gives_the_cells_calamine_gives(tmp_path: Path, reorder: bool) -> None:
    """Shared strings, numbers, dates, booleans, escaped text, gaps, merged cells; attributes in any order."""
    import re

    from python_calamine import CalamineWorkbook

    from crm.ledgers.xlsx import FORMULA_WITHOUT_VALUE, XlsxBook

    rows: list[list[Any]] = [
        ["标题 & <说明>"],
        ["项目名称", "日期", "金额", "是否", None, "备注"],
        ["光伏", date(2026, 6, 1), 12.5, True, None, "a\nb"],
        [],
        [None, None, 3, False, None, "=SUM(C3:C5)"],
    ]
    uniform = [[f"项目{i}", date(2026, 1, 1 + i), i + 0.5, i % 2 == 0, "x&y", "备注"] for i in range(20)]
    rows += [*uniform[:10], ["缺一格", None, 1, True, "z", "w"], *uniform[10:]]  # one shape, broken once
    path = workbook(tmp_path / "cells.xlsx", rows, ("A1:F1", "A3:A4"))
    if reorder:  # s= and t= before r=, as some writers put them
        path = _rewrite_sheet(
            path, tmp_path / "reordered.xlsx", lambda x: re.sub(r'<c r="(\w+)"([^>]*?)(/?)>', r'<c\2 r="\1"\3>', x)
        )
    book = XlsxBook(str(path))
    try:
        (sheet,) = book.sheets
        got = list(book.rows(sheet))
        assert sorted(sheet.merges) == [(0, 0, 0, 5), (2, 0, 3, 0)]
    finally:
        book.close()
    calamine = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
    expected = [[None if v == "" else v for v in row] for row in calamine.iter_rows()]
    assert got[4][5] is FORMULA_WITHOUT_VALUE  # openpyxl saves formulas without their values
    got[4][5] = None
    assert [row + [None] * (6 - len(row)) for row in got] == expected


def test_a_placeholder_where_an_arrival_needs_its_amount_is_a_bad_row(
    session: Session, tmp_path: Path, two_deals: dict[str, int]
) -> None:
    rows: list[list[Any]] = [
        ["项目名称", "到位日期", "到位资金（万元）", "资金来源"],
        ["光伏电站", "2026-07-01", "本月未上报", "省外"],
        ["储能项目", "2026-07-02", 3, "县际"],
    ]
    with pytest.raises(LedgerError) as caught:
        import_ledger(session, "arrivals", workbook(tmp_path / "a.xlsx", rows), actor="t")
    (error,) = caught.value.errors
    assert (error.row, error.column) == (2, "到位资金（万元）") and "placeholder" in error.message
    assert count(session, CapitalArrival) == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("202606", date(2026, 6, 1)),
        (202606, date(2026, 6, 1)),
        (202606.0, date(2026, 6, 1)),
        ("2026-06", date(2026, 6, 1)),
        ("2026/6/30", date(2026, 6, 30)),
        ("2026年6月30日", date(2026, 6, 30)),
        ("2026年1-6月", date(2026, 6, 1)),
    ],
)
def test_dates_and_months_as_ledgers_write_them(value: Any, expected: date) -> None:
    from crm.ledgers.cells import parse_date

    assert parse_date(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026年1-3月", ("quarter", date(2026, 1, 1))),
        ("2026年1-12月", ("year", date(2026, 1, 1))),
        ("2026年7-9月", ("quarter", date(2026, 7, 1))),
    ],
)
def test_periods_of_months(value: str, expected: tuple[str, date]) -> None:
    from crm.ledgers.cells import parse_period

    assert parse_period(value) == expected


def test_other_spans_are_not_target_periods_and_ranges_are_not_amounts() -> None:
    from crm.errors import InvalidValue
    from crm.ledgers.cells import money_parser, parse_period

    with pytest.raises(InvalidValue, match="only as a quarter"):
        parse_period("2026年1-6月")
    for text in ("5000万-1亿", "1~2亿", "100至200"):
        with pytest.raises(InvalidValue, match="a range is not an amount"):
            money_parser("万元", "合同投资额")(text)
    with pytest.raises(InvalidValue, match="cannot be negative"):  # a sign is not a range
        money_parser("万元", "合同投资额")("-5")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 3, 1), ("done", date(2026, 3, 1))),
        ("2026年3月1日", ("done", date(2026, 3, 1))),
        ("已办", ("done", None)),
        ("办理中", ("in_progress", None)),
        ("未办", ("not_started", None)),
    ],
)
def test_procedure_cells(value: Any, expected: tuple[str, date | None]) -> None:
    from crm.ledgers.cells import parse_procedure

    assert parse_procedure(value) == expected


def test_equal_cells_of_a_column_are_one_string(tmp_path: Path) -> None:
    """A reader gives each cell its own string; the table keeps one per distinct text (the 100,000-deal
    ledger's repeated industries, units and dates were 76 MB of its import's peak)."""
    path = tmp_path / "deals.csv"
    rows = ["项目名称,投资方名称,签约日期,总投资（万元）,所属行业,责任单位"]
    rows += [f"项目{i},公司{i},2026-03-01,100,光伏发电,县商务局" for i in range(3)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    table = read_table(path, ledger_kind("deals"))
    industry, unit, names = table.cells["industry"], table.cells["unit"], table.cells["project_name"]
    assert industry == ["光伏发电"] * 3 and industry[0] is industry[1] is industry[2]
    assert unit[0] is unit[2]
    assert names == ["项目0", "项目1", "项目2"]  # distinct texts stay distinct

"""The 责任清单 workbook in and out, and the weekly 调度表 with a two-row header, on both backends."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import Session, select

from crm import major
from crm.errors import LedgerError
from crm.major.ledgers import export_major_list, import_major_list, import_progress_ledger
from crm.models import MajorProject, Person, ProgressReport
from tests.factories import make_deal

M = 1_000_000

LIST_CSV = """2026年市级重点项目责任清单,,,,,,,,
序号,项目名称,建设单位,建设性质,建设内容及规模,总投资（万元）,年度计划投资（万元）,包抓县级领导,责任单位
1,光伏组件项目,甘肃示例能源有限公司,续建,年产2GW组件,50000,9000,王县长、赵常委,县工信局
2,装备制造项目,甘肃示例能源有限公司,新建,装备制造基地,20000,1200.5,李副县长,县发改局
合计,,,,,70000,10200.5,,
"""


def _deals(session: Session) -> None:
    make_deal(
        session, project_name="光伏组件项目", signed_on=date(2025, 10, 1), state="started", started_on=date(2026, 1, 10)
    )
    make_deal(
        session, project_name="装备制造项目", signed_on=date(2025, 10, 1), state="started", started_on=date(2026, 2, 15)
    )
    session.commit()


def test_the_list_imports_once_and_round_trips(session: Session, tmp_path: Path) -> None:
    _deals(session)
    path = tmp_path / "责任清单.csv"
    path.write_text(LIST_CSV, encoding="utf-8")
    result = import_major_list(session, path, year=2026, actor="张三")
    assert (result.rows, result.written, result.unchanged) == (2, 2, 0)
    df = major.major_projects(session, year=2026)
    assert list(df["category"]) == ["续建", "新开工"]  # 新建 reads as 新开工
    assert list(df["leaders"]) == ["王县长、赵常委", "李副县长"]
    assert list(df["planned_yuan"]) == [90 * M, 12_005_000]
    assert list(df["source"]) == ["市责任书", "市责任书"]
    assert session.exec(select(Person).where(Person.name == "赵常委")).first() is not None  # created, audited
    again = import_major_list(session, path, year=2026, actor="张三")
    assert (again.written, again.unchanged) == (0, 2)
    for suffix in (".xlsx", ".csv"):
        out = tmp_path / f"export{suffix}"
        assert export_major_list(session, out, year=2026) == 2
        back = import_major_list(session, out, year=2026, actor="张三")
        assert (back.rows, back.written, back.unchanged) == (2, 0, 2)


def test_a_bad_row_imports_nothing_and_names_row_and_column(session: Session, tmp_path: Path) -> None:
    _deals(session)
    path = tmp_path / "责任清单.csv"
    path.write_text(LIST_CSV.replace("装备制造项目", "装备制造项").replace("续建", "在建"), encoding="utf-8")
    with pytest.raises(LedgerError) as info:
        import_major_list(session, path, year=2026, actor="张三")
    text = str(info.value)
    assert "row 3, column 建设性质" in text and "在建" in text
    assert "row 4, column 项目名称" in text and "closest: 装备制造项目" in text
    assert session.exec(select(MajorProject)).first() is None


def _progress_book(path: Path, rows: list[list[object]]) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["2026年第27周重点项目调度表"])
    sheet.append(["序号", "项目名称", "实体进度", "完成投资（万元）", None, "存在问题", None, None])
    sheet.append([None, None, None, "本周", "本年累计", "问题", "责任单位", "协调结果"])
    sheet.merge_cells("D2:E2")
    sheet.merge_cells("F2:H2")
    for row in rows:
        sheet.append(row)
    book.save(path)


def test_the_weekly_ledger_with_a_two_row_header(session: Session, tmp_path: Path) -> None:
    _deals(session)
    list_path = tmp_path / "责任清单.csv"
    list_path.write_text(LIST_CSV, encoding="utf-8")
    import_major_list(session, list_path, year=2026, actor="张三")
    a, b = (int(i) for i in major.major_projects(session, year=2026)["major_project_id"])
    major.report_progress(session, a, week="2026-W26", cumulative_yuan=26 * M, actor="张三")
    path = tmp_path / "调度表.xlsx"
    _progress_book(
        path,
        [
            [1, "光伏组件项目", "设备安装", None, 2800, "用电接入", "县供电公司", None],
            [2, "装备制造项目", "基础施工", 150, None, "无", None, None],
        ],
    )
    result = import_progress_ledger(session, path, week="2026-W27", actor="张三")
    assert (result.rows, result.written) == (2, 2)
    ra = major.reports(session, a).iloc[-1]
    assert (ra["week"], ra["week_yuan"], ra["cumulative_yuan"]) == ("2026-W27", 2 * M, 28 * M)
    assert ra["problems"] == "用电接入（县供电公司）"
    rb = major.reports(session, b).iloc[-1]
    assert (rb["week_yuan"], rb["cumulative_yuan"], rb["problems"]) == (1_500_000, 1_500_000, "")


def test_a_weekly_ledger_with_a_falling_cumulative_writes_nothing(session: Session, tmp_path: Path) -> None:
    _deals(session)
    list_path = tmp_path / "责任清单.csv"
    list_path.write_text(LIST_CSV, encoding="utf-8")
    import_major_list(session, list_path, year=2026, actor="张三")
    a, _ = (int(i) for i in major.major_projects(session, year=2026)["major_project_id"])
    major.report_progress(session, a, week="2026-W26", cumulative_yuan=26 * M, actor="张三")
    path = tmp_path / "调度表.xlsx"
    _progress_book(
        path,
        [
            [1, "光伏组件项目", "设备安装", None, 2500, None, None, None],
            [2, "装备制造项目", "基础施工", 150, None, None, None, None],
        ],
    )
    with pytest.raises(LedgerError, match=r"row 4: 2026-W27: the cumulative .* cannot go down"):
        import_progress_ledger(session, path, week="2026-W27", actor="张三")
    assert len(session.exec(select(ProgressReport)).all()) == 1

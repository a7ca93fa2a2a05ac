"""Tables and files for people: the display layer, every report's --out by suffix, neutralised text cells.

Every written file is opened the way a recipient's program opens it (openpyxl for .xlsx, the csv
module with the BOM for .csv) and checked for what a person sees: typed numbers with number
formats, Chinese headers, print settings, and no stray quote.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from factories import make_deal
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from crm import record_arrival, set_target
from crm.cli import app
from crm.db import init_db, make_engine
from crm.display import column_formats, for_people, label, money_unit, print_table, styled
from crm.files import csv_text, write_table
from crm.ledgers import export_ledger, import_ledger
from crm.ledgers.cells import neutralise, parse_text
from crm.models import Deal

runner = CliRunner()
AS_OF = "2026-06-30"
FORMULA = '=HYPERLINK("http://evil.example","光伏")'


def _county(session: Session) -> None:
    """Two units with targets, one far behind (a negative growth and a last place), arrivals both years."""
    a = make_deal(
        session, project_name=FORMULA, signed_on=date(2025, 3, 1), contracted_yuan=30_000_000_000, unit="县商务局"
    )
    b = make_deal(
        session, project_name="-负号开头的项目", signed_on=date(2026, 2, 1), contracted_yuan=5_000_000, unit="县发改局"
    )
    session.commit()
    assert a.id is not None and b.id is not None
    for deal_id, day, yuan in [
        (a.id, date(2025, 5, 1), 9_000_000_000),
        (a.id, date(2026, 5, 1), 6_000_000_000),
        (b.id, date(2026, 4, 1), 1_000_000),
    ]:
        record_arrival(session, deal_id, on=day, amount_yuan=yuan, source="other_province", actor="t")
    set_target(session, metric="arrived_yuan", period="2026", amount_yuan=26_300_000_000, growth=0.1, actor="t")
    for unit in ("县商务局", "县发改局"):
        set_target(
            session,
            metric="arrived_yuan",
            period="2026",
            amount_yuan=10_000_000_000,
            scope=unit,
            scope_kind="unit",
            actor="t",
        )


# ---------------------------------------------------------------- the display layer


def test_for_people_headers_units_levels_blanks_and_yes_no() -> None:
    df = pd.DataFrame(
        {
            "arrived_yuan": [26_300_000_000, None],
            "cost_yuan": [52_000, 1_000],
            "fulfillment_rate": [0.2214, float("nan")],
            "level": ["red", "yellow"],
            "last": [True, False],
            "signed_yoy": [-0.098, None],
            "note": [None, "x"],
        }
    )
    shown = for_people(df)
    assert list(shown.columns) == ["到位资金", "费用", "履约率", "预警", "末位", "签约项目同比", "说明"]
    assert shown["到位资金"].tolist() == ["263.00亿元", ""]  # 亿元: the column reaches 1亿
    assert shown["费用"].tolist() == ["5.20万元", "0.10万元"]  # 万元: it does not
    assert shown["履约率"].tolist() == ["22.1%", ""]
    assert shown["预警"].tolist() == ["红灯", "黄灯"]
    assert shown["末位"].tolist() == ["是", "否"]
    assert shown["签约项目同比"].tolist() == ["-9.8%", ""]
    assert shown["说明"].tolist() == ["", "x"]
    assert not shown.isin(["None", "NaN", "nan", "True", "False", "<NA>"]).any().any()
    assert (
        label("contracted_yuan_last_year") == "合同投资额去年同期" and label("arrived_yuan_diff") == "到位资金同比增减"
    )
    assert money_unit([99_999_999]) == "万元" and money_unit([-100_000_000]) == "亿元"


def test_target_rows_are_money_only_for_money_metrics() -> None:
    df = pd.DataFrame(
        {"metric": ["arrived_yuan", "deals_signed"], "target": [26_300_000_000, 120], "growth_gap": [-7.7, None]}
    )
    shown = for_people(df)
    assert shown["目标"].tolist() == ["263.00亿元", "120"]
    assert shown["指标"].tolist() == ["到位资金", "签约项目个数"]
    assert shown["增速差距"].tolist() == ["-7.7个百分点", ""]
    formats = {f.name: f for f in column_formats(df)}
    assert formats["target"].excel(26_300_000_000, 0) == (263.0, '#,##0.00"亿元";-#,##0.00"亿元"')
    assert formats["target"].excel(120, 1) == (120, "#,##0")


def test_styler_hides_the_index_and_colours_levels_and_last_place() -> None:
    df = pd.DataFrame({"rank": [1, 2], "name": ["甲", "乙"], "level": ["green", "red"], "last": [False, True]})
    page = styled(df).to_html()
    assert '<th class="blank' not in page and "row_heading" not in page  # no 0-based index
    assert "红灯" in page and "background-color: #F4B6B6" in page and "background-color: #F8CBAD" in page


def test_terminal_table_fits_the_width_and_wraps_instead_of_cutting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    df = pd.DataFrame({"project_name": ["一个名字很长很长很长很长很长很长很长很长的招商引资项目"], "arrived_yuan": [1]})
    out = io.StringIO()
    print_table(df, title="标题", file=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "标题"
    assert max(sum(2 if ord(ch) > 0x2E80 else 1 for ch in line) for line in lines) <= 60
    assert "项目名称" in out.getvalue() and "0.00万元" in out.getvalue()


# ---------------------------------------------------------------- neutralising text, not numbers


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+86", "'+86"),
        ("-负面", "'-负面"),
        ("@首笔", "'@首笔"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=already", "''=already"),  # a stored text that starts with a quote keeps it on the way back
        ("''-x", "'''-x"),
        ("'plain", "'plain"),
        ("普通", "普通"),
    ],
)
def test_neutralise_round_trips_every_text(text: str, written: str) -> None:
    assert neutralise(text) == written
    assert parse_text(neutralise(text)) == text


def test_report_csv_quotes_text_but_never_numbers() -> None:
    gap = pd.array([-2_203_000_000, 5, None], dtype="Int64")
    df = pd.DataFrame({"name": ["=1+1", "-x", "ok"], "gap": gap, "yoy": [-0.098, 0.1, None]})
    rows = list(csv.reader(io.StringIO(csv_text(df, neutralised=True))))
    assert rows[1:] == [["'=1+1", "-2203000000", "-0.098"], ["'-x", "5", "0.1"], ["ok", "", ""]]


def test_ledger_texts_round_trip_through_xlsx_and_csv(engine: Engine, tmp_path: Path) -> None:
    names = [FORMULA, "'=already quoted", "-5号地块", "''+two quotes"]
    with Session(engine) as session:
        for i, name in enumerate(names):
            make_deal(session, project_name=name, signed_on=date(2026, 1, 1 + i))
        session.commit()
        for suffix in (".xlsx", ".csv"):
            export_ledger(session, "deals", tmp_path / f"deals{suffix}")
    for suffix in (".xlsx", ".csv"):
        target = make_engine(f"sqlite:///{tmp_path / f'back{suffix}.db'}")
        init_db(target)
        with Session(target) as session:
            result = import_ledger(session, "deals", tmp_path / f"deals{suffix}", actor="t")
            assert result.errors == []
            back = sorted(session.exec(select(Deal.project_name)).all())
        target.dispose()
        assert back == sorted(names), suffix


# ---------------------------------------------------------------- every report's --out


def _cells(path: Path) -> list[openpyxl.cell.cell.Cell]:
    book = openpyxl.load_workbook(path)
    return [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value is not None]


def _assert_printable(sheet: openpyxl.worksheet.worksheet.Worksheet) -> None:
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)
    assert sheet.print_title_rows == "$1:$2"
    assert sheet.freeze_panes == "A3"


def test_targets_workbook_numbers_formats_and_print_setup(session: Session, db_url: str, tmp_path: Path) -> None:
    _county(session)
    path = tmp_path / "t.xlsx"
    result = runner.invoke(app, ["--db", db_url, "report", "targets", "--as-of", AS_OF, "--out", str(path)])
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    _assert_printable(sheet)
    assert "统计口径" in str(sheet["A1"].value) and "Targets as of 2026-06-30" in str(sheet["A1"].value)
    header = [c.value for c in sheet[2]]
    assert header[:6] == ["指标", "范围", "期间", "目标", "序时目标", "完成"] and "rules" not in header
    rows = [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=3)]
    county = next(r for r in rows if r["范围"].value == "全县" and r["期间"].value == "2026")
    assert county["目标"].value == pytest.approx(263.0) and county["目标"].data_type == "n"
    assert "亿元" in county["目标"].number_format
    assert county["完成"].value == pytest.approx(60.01)  # 6,000,000,000 + 1,000,000 yuan
    assert county["同比"].number_format == "0.0%" and county["同比"].value == pytest.approx(60.01 / 90 - 1)
    assert county["增速差距"].value < 0 and "个百分点" in county["增速差距"].number_format  # a negative stays a number
    for cell in _cells(path):
        assert not (isinstance(cell.value, str) and cell.value.startswith("'")), cell.coordinate


def test_ranking_workbook_marks_the_last_place(session: Session, db_url: str, tmp_path: Path) -> None:
    _county(session)
    path = tmp_path / "r.xlsx"
    result = runner.invoke(app, ["--db", db_url, "report", "ranking", "--as-of", AS_OF, "--out", str(path)])
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    header = [c.value for c in sheet[2]]
    last = [row for row in sheet.iter_rows(min_row=3) if row[header.index("末位")].value == "是"]
    assert [r[header.index("名称")].value for r in last] == ["县发改局"]
    assert all(c.fill.fgColor.rgb.endswith("F8CBAD") for c in last[0])
    assert "亿元" in last[0][header.index("目标")].number_format  # --metric arrived_yuan: money


@pytest.mark.parametrize("report", ["kpis", "unstarted", "ranking", "targets", "trips", "arrivals"])
def test_every_report_writes_what_its_suffix_says(session: Session, db_url: str, tmp_path: Path, report: str) -> None:
    _county(session)
    base = ["--db", db_url, "report", report, "--as-of", AS_OF]
    xlsx = tmp_path / "r.xlsx"
    assert runner.invoke(app, [*base, "--out", str(xlsx)]).exit_code == 0
    assert openpyxl.load_workbook(xlsx).active is not None  # a real workbook
    csv_path = tmp_path / "r.csv"
    assert runner.invoke(app, [*base, "--out", str(csv_path)]).exit_code == 0
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")
    stdout = runner.invoke(app, [*base, "--format", "csv"]).stdout
    machine = stdout.splitlines()[0]
    assert csv_path.read_text(encoding="utf-8-sig").splitlines()[0] == machine  # the same snake_case contract
    json_path = tmp_path / "r.json"
    assert runner.invoke(app, [*base, "--out", str(json_path)]).exit_code == 0
    assert json.loads(json_path.read_text(encoding="utf-8")) == json.loads(
        runner.invoke(app, [*base, "--format", "json"]).stdout
    )
    html_path = tmp_path / "r.html"
    assert runner.invoke(app, [*base, "--out", str(html_path)]).exit_code == 0
    page = html_path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<table" in page and "name='viewport'" in page
    refused = runner.invoke(app, [*base, "--out", str(tmp_path / "r.txt")])
    assert refused.exit_code == 1 and "writes .xlsx, .csv, .json, .html" in refused.stderr
    assert not (tmp_path / "r.txt").exists()


def test_kpis_csv_keeps_the_machine_contract_but_neutralises_text(
    session: Session, db_url: str, tmp_path: Path
) -> None:
    _county(session)
    path = tmp_path / "u.csv"
    result = runner.invoke(app, ["--db", db_url, "report", "unstarted", "--as-of", AS_OF, "--out", str(path)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert {r["project_name"] for r in rows} == {"'" + FORMULA, "'-负号开头的项目"}
    assert all(r["age_days"].isdigit() for r in rows)


def test_table_output_is_chinese_with_blanks(session: Session, db_url: str) -> None:
    _county(session)
    result = runner.invoke(app, ["--db", db_url, "report", "ranking", "--as-of", AS_OF])
    assert result.exit_code == 0
    assert "名称" in result.stdout and "末位" in result.stdout and "亿元" in result.stdout
    for word in ("None", "NaN", "True", "False", "<NA>", "target_to_date"):
        assert word not in result.stdout


def test_write_table_refuses_an_unknown_suffix(tmp_path: Path) -> None:
    from crm.errors import InvalidValue

    with pytest.raises(InvalidValue, match=r"writes \.xlsx, \.csv, \.json, \.html files, not \.pdf"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "x.pdf")


def test_deal_show_history_names_not_ids(session: Session, db_url: str) -> None:
    result = runner.invoke(
        app,
        [
            "--db",
            db_url,
            "deal",
            "sign",
            "--project",
            "光伏项目",
            "--investor",
            "浙江示例能源有限公司",
            "--signed-on",
            "2026-03-01",
            "--amount",
            "3000万",
            "--industry",
            "光伏发电",
            "--actor",
            "张三",
        ],
    )
    assert result.exit_code == 0, result.output
    shown = runner.invoke(app, ["--db", db_url, "deal", "show", "1"])
    assert shown.exit_code == 0, shown.output
    assert "浙江示例能源有限公司" in shown.stdout and "光伏发电" in shown.stdout
    assert "investor_id" not in shown.stdout and "投资方" in shown.stdout


def test_connect_and_today_replace_the_notebook_setup(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import crm

    session = crm.connect(db_url)
    try:
        assert crm.kpis(session, as_of=date(2026, 6, 30))["signed"].tolist() == [0]
    finally:
        session.close()
    monkeypatch.setenv("CRM_DATABASE_URL", db_url)
    with crm.connect() as from_env:
        assert from_env.get_bind().url.render_as_string(hide_password=False) == make_engine(
            db_url
        ).url.render_as_string(hide_password=False)
    monkeypatch.setenv("CRM_AS_OF", "2026-06-30")
    assert crm.today() == date(2026, 6, 30)
    monkeypatch.setenv("CRM_AS_OF", "30/6/2026")
    with pytest.raises(crm.InvalidValue, match="CRM_AS_OF"):
        crm.today()
    monkeypatch.delenv("CRM_AS_OF")
    assert crm.today() == date.today()

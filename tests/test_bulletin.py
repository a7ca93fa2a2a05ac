"""The 通报 (crm report weekly|monthly --out FILE) as a recipient opens it: Word, Excel, a browser.

The .docx is read with python-docx and its lead paragraph's numbers are checked against the
library's figures; the .xlsx with openpyxl (types, number formats, print settings, fills, no
stray quote); the .html in a real headless Chromium (a screenshot that is not blank, at phone
and desktop width, and the rendered page's text holding the figures).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import docx
import openpyxl
import pytest
from factories import make_deal
from sqlmodel import Session
from typer.testing import CliRunner

from crm import deals, metrics, record_arrival, set_target
from crm.bulletin import bulletin, lead_paragraph, load_wording, write_bulletin
from crm.cli import app
from crm.db import make_engine
from crm.money import format_yuan

runner = CliRunner()
AS_OF = date(2026, 6, 30)  # a Tuesday: the week is 06-29..06-30
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _county(session: Session) -> None:
    a = make_deal(
        session, project_name="光伏电站", signed_on=date(2025, 3, 1), contracted_yuan=30_000_000_000, unit="县商务局"
    )
    b = make_deal(
        session, project_name="装备园", signed_on=date(2026, 6, 29), contracted_yuan=500_000_000, unit="县发改局"
    )
    make_deal(session, project_name="老项目", signed_on=date(2025, 6, 1), unit="县发改局")
    make_deal(
        session,
        project_name="已开工",
        signed_on=date(2025, 1, 5),
        state="started",
        started_on=date(2026, 6, 30),
        unit="县商务局",
    )
    session.commit()
    assert a.id is not None and b.id is not None
    for deal_id, day, yuan in [
        (a.id, date(2025, 5, 1), 9_000_000_000),
        (a.id, date(2026, 5, 1), 6_000_000_000),
        (b.id, date(2026, 6, 30), 12_345_678),
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


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+(?:\.\d+)?", text)


def test_lead_paragraph_numbers_are_the_librarys_figures(session: Session, db_url: str, tmp_path: Path) -> None:
    _county(session)
    path = tmp_path / "周报.docx"
    result = runner.invoke(app, ["--db", db_url, "report", "weekly", "--as-of", AS_OF.isoformat(), "--out", str(path)])
    assert result.exit_code == 0, result.output
    document = docx.Document(str(path))
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "全县招商引资工作周通报"
    assert "截至2026年6月30日" in paragraphs
    assert any(p.startswith("统计口径：default v1") for p in paragraphs)
    lead = next(p for p in paragraphs if p.startswith("截至6月30日，"))

    # the figures, asked of the library here, independently of the report code
    rates = metrics.kpis(session, as_of=AS_OF).iloc[0]
    targets = metrics.target_progress(session, as_of=AS_OF, scope="county")
    year = targets[(targets["metric"] == "arrived_yuan") & (targets["period"] == "2026")].iloc[0]
    waiting = deals.unstarted(session, as_of=AS_OF)
    week = metrics.period_figures(session, start=date(2026, 6, 29), end=AS_OF).iloc[0]
    units = metrics.ranking(session, as_of=AS_OF, by="unit")
    expected = [
        "6",
        "30",
        str(int(rates["signed"])),
        str(int(rates["started"])),
        str(int(rates["in_production"])),
        format_yuan(int(year["actual"]), "亿元").replace(",", "")[:-2],
        f"{abs(year['yoy']) * 100:.1f}",
        format_yuan(int(year["gap"]), "亿元")[:-2],
        f"{abs(year['growth_gap']):.1f}",
        f"{rates['fulfillment_rate'] * 100:.1f}",
        f"{rates['capital_arrival_rate'] * 100:.1f}",
        f"{rates['completion_rate'] * 100:.1f}",
        str(len(waiting)),
        *(str(int((waiting["level"] == level).sum())) for level in ("red", "yellow", "green")),
        str(int(week["signed"])),
        str(int(week["started"])),
        format_yuan(int(week["arrived_yuan"]), "万元").replace(",", "")[:-2],
    ]
    assert _numbers(lead) == expected, lead
    assert f"开工{int(rates['started'])}个" in lead and "同比下降" in lead and "低于市定序时目标" in lead
    assert year["yoy"] == pytest.approx(6_012_345_678 / 9_000_000_000 - 1)
    assert year["gap"] > 0 and year["growth_gap"] < 0
    assert f"末位的责任单位为{units.loc[units['last'], 'name'].iloc[0]}" in lead

    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings[:3] == ["一、目标任务完成情况", "二、本周情况", "三、履约率、资金到位率、竣工投产率"]
    period_table = document.tables[1]
    rows = [[c.text for c in row.cells] for row in period_table.rows]
    assert rows[0] == ["项目", "本周", "去年同期", "同比增减", "同比"]
    assert rows[1][:2] == ["签约项目", str(int(week["signed"]))]
    ranking = document.tables[3]
    last_row = [r for r in ranking.rows if r.cells[-1].text == "是"]
    assert len(last_row) == 1 and 'w:fill="F8CBAD"' in last_row[0].cells[0]._tc.xml


def test_a_bureau_edits_the_wording(session: Session, tmp_path: Path) -> None:
    _county(session)
    own = tmp_path / "wording.toml"
    own.write_text('[lead]\nopening = "{month}月{day}日统计："\n[title]\nweekly = "某县招商周报"\n', encoding="utf-8")
    report = bulletin(session, kind="weekly", as_of=AS_OF, wording=load_wording(own), charts=False)
    assert report.title == "某县招商周报" and report.lead.startswith("6月30日统计：全县签约招商引资项目")
    assert report.lead == lead_paragraph(report.numbers, load_wording(own))


def test_workbook_sheets_are_typed_and_printable(session: Session, db_url: str, tmp_path: Path) -> None:
    _county(session)
    path = tmp_path / "月报.xlsx"
    result = runner.invoke(app, ["--db", db_url, "report", "monthly", "--as-of", AS_OF.isoformat(), "--out", str(path)])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[:4] == ["目标任务", "本月情况", "三率", "责任单位排名"]
    for sheet in book.worksheets:
        assert "全县招商引资工作月通报（截至2026年6月30日）" in str(sheet["A1"].value)
        assert "统计口径" in str(sheet["A1"].value)
        assert sheet.page_setup.orientation == "landscape" and sheet.sheet_properties.pageSetUpPr.fitToPage
        assert sheet.page_setup.fitToWidth == 1 and sheet.print_title_rows == "$1:$2"
        for row in sheet.iter_rows():
            for cell in row:
                assert not (isinstance(cell.value, str) and cell.value.startswith("'")), (sheet.title, cell.coordinate)
    month = book["本月情况"]
    header = [c.value for c in month[2]]
    assert header == ["项目", "本月", "去年同期", "同比增减", "同比"]
    arrived = next(r for r in month.iter_rows(min_row=3) if r[0].value == "到位资金")
    # the column holds the 5亿 signed this month, so it is in 亿元; the cell is a number, not text
    assert arrived[1].data_type == "n" and "亿元" in arrived[1].number_format
    assert arrived[1].value == pytest.approx(0.12345678)  # 12,345,678 yuan this June
    rates = book["三率"]
    rate_header = [c.value for c in rates[2]]
    fulfilled = rates.cell(row=3, column=rate_header.index("履约率") + 1)
    assert fulfilled.number_format == "0.0%" and isinstance(fulfilled.value, float)
    levels = book["签约未开工"]
    level_rows = [[c.value for c in row] for row in levels.iter_rows(min_row=2)]
    assert level_rows[0] == ["预警", "项目个数"] and [r[0] for r in level_rows[1:]] == ["红灯", "黄灯", "绿灯"]
    assert levels["A3"].fill.fgColor.rgb.endswith("F4B6B6")
    units = book["责任单位排名"]
    last = [r for r in units.iter_rows(min_row=3) if r[-1].value == "是"]
    assert len(last) == 1 and last[0][1].fill.fgColor.rgb.endswith("F8CBAD")


def test_unsupported_suffix_is_refused(session: Session, db_url: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", db_url, "report", "weekly", "--out", str(tmp_path / "周报.pdf")])
    assert result.exit_code == 1 and "writes .docx, .xlsx, .html, .json" in result.stderr
    assert not (tmp_path / "周报.pdf").exists()


# ---------------------------------------------------------------- in a real browser


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "chromium is not installed (python3 dev.py test installs it with apt-get when run as root)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _browser(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.mark.slow
def test_html_page_renders_in_chromium(demo_url: str, demo_as_of: date, tmp_path: Path) -> None:
    import numpy as np
    from matplotlib import image

    engine = make_engine(demo_url)
    with Session(engine) as session:
        report = bulletin(session, kind="weekly", as_of=demo_as_of)
        page = write_bulletin(report, tmp_path / "周报.html")
    engine.dispose()
    source = page.read_text(encoding="utf-8")
    assert "src='data:image/png;base64," in source and 'src="http' not in source and "href=" not in source

    dom = _browser(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = re.sub(r"<[^>]+>", "", dom.stdout)
    assert report.lead in text
    assert f"签约未开工项目{report.numbers['unstarted']}个" in text and report.numbers["last_unit"] in text
    for width in (390, 1280):  # a phone and a desktop
        shot = tmp_path / f"shot-{width}.png"
        done = _browser(page, f"--window-size={width},1600", f"--screenshot={shot}")
        assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
        pixels = image.imread(str(shot))[..., :3]
        assert pixels.shape[1] == width
        ink = (pixels.mean(axis=2) < 0.9).mean()  # share of pixels that are not (near) white
        assert ink > 0.03, f"blank screenshot at {width}px: {ink:.3%}"
        assert len(np.unique((pixels * 255).astype(int).reshape(-1, 3), axis=0)) > 50  # text, charts, fills


@pytest.mark.slow
def test_the_page_for_leaders_has_no_code(demo_url: str, demo_as_of: date, tmp_path: Path) -> None:
    """What `python3 dev.py demo` builds: notebooks without code cells, the 通报 files, an index linking them."""
    from crm.showcase import execute_notebooks, write_index, write_reports

    notebook = Path(__file__).parent.parent / "notebooks" / "02_rates.ipynb"
    env = {"CRM_DATABASE_URL": demo_url, "CRM_AS_OF": demo_as_of.isoformat()}
    [with_code] = execute_notebooks([notebook], tmp_path / "notebooks", env=env, pages_dir=tmp_path / "pages")
    page = (tmp_path / "pages" / "02_rates.html").read_text(encoding="utf-8")
    seen = re.sub(r"<[^>]+>", "", page)
    assert "crm.connect()" in re.sub(r"<[^>]+>", "", with_code.read_text(encoding="utf-8"))
    assert "crm.connect()" not in seen and "metrics.kpis(" not in seen  # no code for leaders
    assert "<table" in page and "履约率" in page and "data:image/png;base64," in page
    engine = make_engine(demo_url)
    reports = write_reports(engine, tmp_path / "reports", as_of=demo_as_of)
    engine.dispose()
    assert sorted(p.name for p in reports) == sorted(
        f"{kind}{suffix}" for kind in ("weekly", "monthly") for suffix in (".html", ".docx", ".xlsx")
    )
    index = write_index(tmp_path, reports, as_of=demo_as_of).read_text(encoding="utf-8")
    assert "href='reports/weekly.html'" in index and "href='pages/02_rates.html'" in index


def test_an_empty_database_gives_a_bulletin_not_an_error(session: Session, tmp_path: Path) -> None:
    report = bulletin(session, kind="monthly", as_of=AS_OF)
    assert report.lead.startswith("截至6月30日，全县签约招商引资项目0个，开工0个，竣工投产0个。履约率—")
    assert "实际到位资金" not in report.lead  # no target set: the clause is left out, not written as 0
    for suffix in (".docx", ".xlsx", ".html", ".json"):
        assert write_bulletin(report, tmp_path / f"月报{suffix}").stat().st_size > 0
    assert openpyxl.load_workbook(tmp_path / "月报.xlsx")["签约未开工"]["B3"].value == 0

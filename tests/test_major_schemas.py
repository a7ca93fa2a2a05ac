"""schemas/major_list.json and major_progress.json describe what crm.major.ledgers reads.

The files themselves are kept equal to the code by test_ledgers' schema sync test; here: they are
valid JSON Schema, every header alias they list is one the importer reads as that column, and a
workbook written with the schema's own English field names imports (both backends).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import jsonschema
import pytest
from openpyxl import Workbook
from sqlmodel import Session, select

from crm import major
from crm.ledgers.schema import MAJOR_KINDS, json_schema, normalise_header
from crm.major import ledgers as major_ledgers
from crm.models import ProgressReport
from tests.factories import make_deal

ROOT = Path(__file__).resolve().parent.parent
M = 1_000_000
COLUMNS = {"major_list": major_ledgers.LIST_COLUMNS, "major_progress": major_ledgers.PROGRESS_COLUMNS}


@pytest.mark.parametrize("kind", list(MAJOR_KINDS))
def test_major_schemas_are_valid_and_name_what_the_importer_reads(kind: str) -> None:
    schema = json.loads((ROOT / "schemas" / f"{kind}.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    accepted = major_ledgers._aliases(COLUMNS[kind])
    assert list(schema["properties"]) == [c.name for c in COLUMNS[kind]]
    for name, prop in schema["properties"].items():
        for alias in prop["x-aliases"]:
            assert accepted[normalise_header(alias)[0]] == name, (kind, alias)
        if prop["x-type"] == "money":
            assert prop["x-unit"] == "万元"
    assert schema["required"] == [c.name for c in COLUMNS[kind] if c.required]


def test_major_schema_contents() -> None:
    listing = json_schema("major_list")
    assert listing["required"] == ["project_name", "category"]
    assert listing["properties"]["category"]["x-values"]["新建"] == "new_start"
    assert {"包抓领导", "包抓县级领导", "leaders"} <= set(listing["properties"]["leaders"]["x-aliases"])
    weekly = json_schema("major_progress")["properties"]
    assert {"完成投资/本周", "本周完成投资"} <= set(weekly["week_yuan"]["x-aliases"])
    assert weekly["cumulative_yuan"]["x-cumulative-of"] == "week_yuan"
    assert weekly["cumulative_yuan"]["x-unit"] == "万元"


def test_ledgers_headed_with_the_schema_field_names_import(session: Session, tmp_path: Path) -> None:
    deal = make_deal(
        session, project_name="光伏组件项目", signed_on=date(2025, 10, 1), state="started", started_on=date(2026, 1, 10)
    )
    session.commit()
    listing = json_schema("major_list")["properties"]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(listing))
    values = {
        "project_name": "光伏组件项目",
        "category": "续建",
        "planned_yuan": 9000,
        "leaders": "王县长",
        "year": 2026,
    }
    sheet.append([values.get(name) for name in listing])
    path = tmp_path / "list.xlsx"
    book.save(path)
    result = major_ledgers.import_major_list(session, path, year=2026, actor="张三")
    assert (result.rows, result.written) == (1, 1)
    (row,) = major.major_projects(session, year=2026).to_dict("records")
    assert (row["planned_yuan"], row["category"], row["leaders"]) == (90 * M, "续建", "王县长")

    weekly = json_schema("major_progress")["properties"]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(weekly))
    values = {"project_name": "光伏组件项目", "week": "2026-W10", "progress": "主体施工", "week_yuan": 300}
    sheet.append([values.get(name) for name in weekly])
    path = tmp_path / "weekly.xlsx"
    book.save(path)
    result = major_ledgers.import_progress_ledger(session, path, actor="张三")
    assert result.written == 1
    report = session.exec(select(ProgressReport)).one()
    assert (report.week_yuan, report.cumulative_yuan, report.week_start) == (3 * M, 3 * M, date(2026, 3, 2))
    assert deal.id is not None

"""The major-project ledgers: the city's 责任清单 workbook (in and out) and the weekly 调度表 (in).

责任清单: one row per project (项目名称, 建设单位, 项目来源, 建设性质, 建设内容及规模,
总投资（万元）, 年度计划投资（万元）, 包抓领导, 责任单位). Each row names a signed deal by
项目名称 (and 建设单位 where names repeat); it goes on the year's list. A project already on
the list is left as it is, so importing the same workbook again adds nothing.

调度表: one row per project for one week: 项目名称, 实体进度, 本周完成投资 and 本年累计完成投资
(a two-row header 完成投资（万元） over 本周 | 本年累计 is read as paths), 存在问题, the
problem's 责任单位 and 协调结果. Either money column may be blank; the other is derived.

Both validate every row first and write nothing unless all pass; every bad row is reported
with its Excel row number, column and reason. Money is read in the header's unit, else 万元.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from crm.errors import CrmError, InvalidValue, LedgerError, RowError
from crm.ledgers.cells import fold, is_blank, neutralise, parse_date, parse_list, parse_text
from crm.ledgers.read import read_sheets
from crm.ledgers.schema import MAJOR_LIST, MAJOR_PROGRESS, Column, normalise_header
from crm.major import common
from crm.major.common import LOCAL
from crm.major.progress import Problem, parse_week, report_progress, week_label
from crm.major.projects import add_major_project, leaders_of
from crm.models import MAJOR_CATEGORY_LABELS, Deal, Investor, MajorCategory, MajorProject, Unit
from crm.money import UNITS, parse_yuan

__all__ = ["MajorImport", "export_major_list", "import_major_list", "import_progress_ledger"]

HEADER_SCAN_ROWS = 30
_TOTALS = {"合计", "总计", "小计"}


# The columns (headers accepted, units, what is required) are described with the other ledger
# kinds in crm.ledgers.schema, which writes them to schemas/major_list.json and major_progress.json.
LIST_COLUMNS = MAJOR_LIST.columns
PROGRESS_COLUMNS = MAJOR_PROGRESS.columns


@dataclass
class MajorImport:
    """What an import did: rows read, records written, rows left as they were."""

    rows: int = 0
    written: int = 0
    unchanged: int = 0


def _aliases(columns: tuple[Column, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in columns:
        for alias in (c.name, c.title, *c.aliases):
            out.setdefault(normalise_header(alias)[0], c.name)
    return out


def _combine(
    top: list[Any], below: list[Any], aliases: dict[str, str]
) -> tuple[dict[str, tuple[int, str | None]], bool]:
    """Field -> (column, unit) named by header row `top`, read with the row `below` as a second
    header row where a cell there names a column under a group of `top` (完成投资（万元）
    merged over 本周 | 本年累计 is read as the paths 完成投资/本周 and 完成投资/本年累计)."""
    found: dict[str, tuple[int, str | None]] = {}
    group, group_unit = "", None
    two_rows = False
    for index in range(max(len(top), len(below))):
        head = top[index] if index < len(top) else None
        sub = below[index] if index < len(below) else None
        name, unit = None, None
        if not is_blank(head):
            group, group_unit = normalise_header(head)
            name, unit = aliases.get(group), group_unit
        if isinstance(sub, str) and not is_blank(sub):
            sub_key, sub_unit = normalise_header(sub)
            path = aliases.get(f"{group}/{sub_key}")
            if path is None and name is None:
                path = aliases.get(sub_key)
            if path is not None:
                found.setdefault(path, (index, sub_unit or group_unit))
                two_rows = True
                continue
        if name is not None:
            found.setdefault(name, (index, unit))
    return found, two_rows


def _header(rows: list[list[Any]], columns: tuple[Column, ...]) -> tuple[int, dict[str, tuple[int, str | None]], int]:
    """(index of the header row, field -> (column, unit), index of the first data row): the
    row (with the one under it as a possible second header row) that names the most columns."""
    aliases = _aliases(columns)
    best: tuple[int, dict[str, tuple[int, str | None]], int] = (-1, {}, 0)
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        below = rows[i + 1] if i + 1 < len(rows) else []
        found, two_rows = _combine(row, below, aliases)
        if len(found) >= 2 and len(found) > len(best[1]):
            best = (i, found, i + (2 if two_rows else 1))
    return best


@dataclass
class _Rows:
    numbers: list[int]
    cells: list[dict[str, Any]]
    units: dict[str, str]


def _read(path: str | Path, columns: tuple[Column, ...], what: str) -> _Rows:
    sheets = read_sheets(path)
    for sheet in sheets:
        rows = [list(r) for r in sheet.rows]
        header, found, start = _header(rows, columns)
        if header < 0:
            continue
        missing = [c for c in columns if c.required and c.name not in found]
        if missing:
            raise LedgerError(
                [
                    RowError(sheet.first_row + header + 1, c.title, "", f"missing required column {c.title}")
                    for c in missing
                ],
                f"{Path(path).name}: the {what} lacks required columns; nothing was imported",
            )
        sheet_unit = "万元"
        for row in rows[:header]:
            for cell in row:
                text = str(cell or "")
                for unit in ("亿元", "万元"):
                    if f"单位：{unit}" in text or f"单位:{unit}" in text:
                        sheet_unit = unit
        units = {c.name: (found[c.name][1] or sheet_unit) for c in columns if c.type == "money" and c.name in found}
        numbers, cells = [], []
        for offset, row in enumerate(rows[start:]):
            values = {n: (row[i] if i < len(row) and not is_blank(row[i]) else None) for n, (i, _) in found.items()}
            if all(v is None for v in values.values()):
                continue
            first = next((v for v in row[:3] if isinstance(v, str)), "")
            if fold(first) in _TOTALS:
                continue
            numbers.append(sheet.first_row + start + offset + 1)
            cells.append(values)
        return _Rows(numbers, cells, units)
    names = "、".join(c.title for c in columns if c.required)
    raise LedgerError([RowError(0, "", "", f"no header row found; the {what} needs columns such as {names}")])


def _deal_by_name(session: Session, name: str, investor: str | None) -> Deal:
    statement = select(Deal).where(Deal.project_name == name, col(Deal.increases_id).is_(None))
    deals = list(session.exec(statement).all())
    if investor and len(deals) > 1:
        ids = set(session.exec(select(Investor.id).where(Investor.name == investor)).all())
        deals = [d for d in deals if d.investor_id in ids]
    if not deals:
        names = session.exec(select(Deal.project_name)).all()
        raise InvalidValue("项目名称", name, "no signed deal of that name" + common.closest(name, names))
    if len(deals) > 1:
        raise InvalidValue("项目名称", name, f"{len(deals)} deals have that name; give the 建设单位 (investor)")
    return deals[0]


def _money(field: str, value: Any, unit: str) -> int | None:
    return None if value is None else parse_yuan(value, unit, field=field)


def _run(session: Session, rows: _Rows, handle: Callable[[dict[str, Any]], bool]) -> MajorImport:
    """Apply `handle` to every row in one transaction; any bad row rolls everything back."""
    result = MajorImport(rows=len(rows.numbers))
    errors: list[RowError] = []
    try:
        for number, cells in zip(rows.numbers, rows.cells, strict=True):
            try:
                if handle(cells):
                    result.written += 1
                else:
                    result.unchanged += 1
            except InvalidValue as exc:
                errors.append(RowError(number, exc.field, "" if exc.value is None else str(exc.value), exc.reason))
            except CrmError as exc:
                errors.append(RowError(number, "", "", str(exc)))
        if errors:
            raise LedgerError(errors)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def import_major_list(
    session: Session,
    path: str | Path,
    *,
    year: int,
    actor: str,
    source: str = "市责任书",
) -> MajorImport:
    """Import a 责任清单 workbook: each row's deal goes on `year`'s list (a 年度 column wins).

    Units and leaders the ledger names are created (audited) when missing. `source` applies
    to rows without a 项目来源. A row whose deal is already on the year's list is unchanged.
    """
    actor = common.actor_name(actor)
    year = common.year("year", year)
    rows = _read(path, LIST_COLUMNS, "责任清单")
    batch = f"{Path(path).name}@{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}"

    def handle(cells: dict[str, Any]) -> bool:
        name = parse_text(cells["project_name"])
        investor = parse_text(cells["investor"]) if cells.get("investor") is not None else None
        deal = _deal_by_name(session, name, investor)
        row_year = year
        if cells.get("year") is not None:
            text = parse_text(cells["year"]).removesuffix("年")
            if not text.isdigit():
                raise InvalidValue("年度", cells["year"], "not a year")
            row_year = int(text)
        if cells.get("category") is None:
            raise InvalidValue("建设性质", "", "required (续建, 新开工 or 前期)")
        category_text = parse_text(cells["category"]).replace("新建", "新开工")
        existing = session.exec(
            select(MajorProject.id).where(MajorProject.deal_id == deal.id, MajorProject.year == row_year)
        ).first()
        if existing is not None:
            return False
        try:
            category = common.category(category_text)
        except InvalidValue as exc:
            raise InvalidValue("建设性质", cells["category"], exc.reason) from None
        add_major_project(
            session,
            int(deal.id or 0),
            year=row_year,
            source=parse_text(cells["source"]) if cells.get("source") is not None else source,
            category=category,
            unit=parse_text(cells["unit"]) if cells.get("unit") is not None else None,
            leaders=parse_list(cells["leaders"]) if cells.get("leaders") is not None else (),
            planned_yuan=_money("年度计划投资", cells.get("planned_yuan"), rows.units.get("planned_yuan", "万元")),
            content=parse_text(cells["content"]) if cells.get("content") is not None else None,
            actor=actor,
            create_names=True,
            import_batch=batch,
            commit=False,
        )
        return True

    return _run(session, rows, handle)


def import_progress_ledger(
    session: Session,
    path: str | Path,
    *,
    actor: str,
    week: str | date | None = None,
    year: int | None = None,
    reported_at: datetime | None = None,
) -> MajorImport:
    """Import a weekly 调度表: one report per row, for `week` (or the row's 周次).

    Rows name the project by 项目名称 on the week's list year. Problem units are created
    when missing. A blank money cell is derived from the other and the previous report.
    """
    actor = common.actor_name(actor)
    rows = _read(path, PROGRESS_COLUMNS, "调度表")
    given_week = None if week is None else parse_week(week)
    batch = f"{Path(path).name}@{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}"

    def handle(cells: dict[str, Any]) -> bool:
        if cells.get("week") is not None:
            monday = parse_week(parse_text(cells["week"]))
        elif given_week is not None:
            monday = given_week
        else:
            raise InvalidValue("周次", "", "no week: give --week or a 周次 column (2026-W26)")
        list_year = year or (monday + timedelta(days=4)).year
        name = parse_text(cells["project_name"])
        found = session.exec(
            select(MajorProject)
            .join(Deal, col(Deal.id) == MajorProject.deal_id)
            .where(Deal.project_name == name, MajorProject.year == list_year)
        ).all()
        if len(found) != 1:
            names = session.exec(
                select(Deal.project_name)
                .join(MajorProject, col(MajorProject.deal_id) == Deal.id)
                .where(MajorProject.year == list_year)
            ).all()
            reason = "not on the list" if not found else "more than one project of that name on the list"
            raise InvalidValue("项目名称", name, f"{reason} of {list_year}" + common.closest(name, names))
        at = reported_at
        if isinstance(cells.get("reported_at"), datetime):  # a date-and-time cell, in China time
            at = cells["reported_at"].replace(tzinfo=LOCAL)
        elif cells.get("reported_at") is not None:  # a date alone: the start of that day, China time
            at = datetime.combine(parse_date(cells["reported_at"]), datetime.min.time(), tzinfo=LOCAL)
        problems = []
        if cells.get("problem") is not None:
            problem_text = parse_text(cells["problem"])
            if problem_text not in ("无", "/", "-"):
                problems.append(
                    Problem(
                        problem_text,
                        parse_text(cells["problem_unit"]) if cells.get("problem_unit") is not None else None,
                        parse_text(cells["resolution"]) if cells.get("resolution") is not None else None,
                    )
                )
        try:
            report_progress(
                session,
                int(found[0].id or 0),
                week=monday,
                progress=parse_text(cells["progress"]) if cells.get("progress") is not None else None,
                week_yuan=_money("本周完成投资", cells.get("week_yuan"), rows.units.get("week_yuan", "万元")),
                cumulative_yuan=_money(
                    "本年累计完成投资", cells.get("cumulative_yuan"), rows.units.get("cumulative_yuan", "万元")
                ),
                problems=problems,
                reported_at=at,
                actor=actor,
                create_names=True,
                import_batch=batch,
                commit=False,
            )
        except InvalidValue as exc:
            raise InvalidValue(f"{exc.field} ({week_label(monday)})", exc.value, exc.reason) from None
        return True

    return _run(session, rows, handle)


# ---------------------------------------------------------------- export


def _wan(yuan: int | None) -> Decimal | None:
    if yuan is None:
        return None
    value = Decimal(yuan) / UNITS["万元"]
    two = value.quantize(Decimal("0.01"))
    return two if two == value else value.normalize()


def export_major_list(session: Session, path: str | Path, *, year: int) -> int:
    """Write `year`'s major-project list to `path` (.xlsx or .csv) in the 责任清单 layout that
    import_major_list reads back; money in 万元. Returns the number of projects written."""
    year = common.year("year", year)
    p = Path(path)
    if p.suffix.lower() not in (".xlsx", ".csv"):
        raise InvalidValue("file", str(p), "export to a .xlsx or .csv file")
    rows = session.exec(
        select(MajorProject, Deal, Investor.name, Unit.name)
        .join(Deal, col(Deal.id) == MajorProject.deal_id)
        .join(Investor, col(Investor.id) == Deal.investor_id)
        .join(Unit, col(Unit.id) == MajorProject.unit_id, isouter=True)
        .where(MajorProject.year == year)
        .order_by(col(MajorProject.id))
    ).all()
    leaders = leaders_of(session, [int(r[0].id or 0) for r in rows])
    headers = ["序号", *[f"{c.title}（万元）" if c.type == "money" else c.title for c in LIST_COLUMNS]]
    body = []
    for n, (project, deal, investor, unit) in enumerate(rows, start=1):
        values = {
            "project_name": deal.project_name,
            "investor": investor,
            "source": project.source,
            "category": MAJOR_CATEGORY_LABELS[MajorCategory(project.category)],
            "content": project.content,
            "contracted_yuan": _wan(deal.contracted_yuan),
            "planned_yuan": _wan(project.planned_yuan),
            "leaders": "、".join(leaders.get(int(project.id or 0), [])),
            "unit": unit,
            "year": project.year,
        }
        body.append([n, *[neutralise(v) if isinstance(v, str) else v for v in (values[c.name] for c in LIST_COLUMNS)]])
    if p.suffix.lower() == ".csv":
        with p.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f, lineterminator="\r\n")
            writer.writerow(headers)
            writer.writerows(
                ["" if v is None else (f"{v:f}" if isinstance(v, Decimal) else str(v)) for v in r] for r in body
            )
        return len(body)
    from openpyxl import Workbook  # openpyxl is heavy; only an .xlsx export needs it
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"{year}年重点项目责任清单"
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for r in body:
        sheet.append(r)
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, Decimal):
                cell.number_format = "#,##0.00"
    book.save(p)
    return len(body)

"""The raw floors of the imports and the export, with the bare driver and no pandas.

``python -m bench.floor arrivals|deals|export PATH URL`` runs one floor as a whole process (the
whole-process baseline of ``crm import arrivals|deals`` and ``crm export deals``) and prints what
it wrote as JSON on its last line.

- arrivals: the CSV parsed into insert tuples with the least exact work, then one
  ``sqlite3.executemany`` (foreign keys on) or ``COPY`` (psycopg, FK in place);
- deals: the same deal, investor and audit rows ``crm import deals`` writes today (an import batch,
  per new investor 3 creation audit rows, per deal 9 ``sign`` rows, 2 rows for its start and for its
  completion and 3 for its termination, one ``import`` row), inserted with ``executemany``;
  the ledger read with the csv module or python-calamine (.xlsx); names looked up in dicts;
- export: the deals with their names in one SELECT, written with the csv module, or
  openpyxl's write-only mode for .xlsx.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import time
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.hand import Sql, connect

SOURCE_VALUES = {"境外": "overseas", "省外": "other_province", "市外省内": "other_city", "县际": "other_county"}
INSERT_COLUMNS = ["deal_id", "arrived_on", "arrived_yuan", "source", "verified", "currency", "created_at"]
DEAL_SIGN_FIELDS = (
    "project_name",
    "investor_id",
    "signed_on",
    "contracted_yuan",
    "industry_id",
    "origin_region_id",
    "leader_id",
    "unit_id",
    "state",
)
INVESTOR_FIELDS = ("name", "name_key", "origin_region_id")
NO_REASON = "台账导入：未注明原因"  # what the library stores for a terminated ledger row without a reason


# ---------------------------------------------------------------- arrivals


def floor_rows(path: Path, deal_ids: dict[tuple[str, str], int], created_at: str) -> list[tuple[Any, ...]]:
    """The arrivals CSV parsed into insert tuples with the least work that is still exact.

    (deal_id, arrived_on ISO text, arrived_yuan int, source, verified 0/1, 'CNY', created_at);
    万元 with up to four decimals becomes whole yuan by string arithmetic, no float.
    """
    sources = SOURCE_VALUES
    rows = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        next(reader)
        for project, investor, on, wan, source, verified in reader:
            rows.append(
                (deal_ids[(project, investor)], on, _yuan(wan), sources[source], verified == "是", "CNY", created_at)
            )
    return rows


def _yuan(wan: str) -> int:
    whole, _, frac = wan.partition(".")
    return int(whole) * 10_000 + (int(frac.ljust(4, "0")) if frac else 0)


def sqlite_executemany(connection: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    marks = ", ".join("?" * len(INSERT_COLUMNS))
    connection.execute("BEGIN")
    connection.executemany(f"INSERT INTO capital_arrival ({', '.join(INSERT_COLUMNS)}) VALUES ({marks})", rows)
    connection.execute("COMMIT")


def postgres_copy(connection: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    with connection.cursor() as cur, cur.copy(f"COPY capital_arrival ({', '.join(INSERT_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    connection.commit()


def deal_id_map(db: Sql) -> dict[tuple[str, str], int]:
    rows = db.run("SELECT d.project_name, i.name, d.id FROM deal d JOIN investor i ON i.id = d.investor_id", {})
    return {(p, i): d for p, i, d in rows}


def _prepare_sqlite(db: Sql) -> None:
    if db.dialect == "sqlite":
        for pragma in ("foreign_keys = ON", "journal_mode = WAL", "synchronous = NORMAL"):
            db.connection.execute(f"PRAGMA {pragma}")
        db.connection.isolation_level = None


def arrivals_floor(path: Path, url: str) -> dict[str, Any]:
    db = connect(url)
    _prepare_sqlite(db)
    created = "2026-09-30 12:00:00.000000" if db.dialect == "sqlite" else "2026-09-30 12:00:00+00"
    t = time.perf_counter()
    rows = floor_rows(path, deal_id_map(db), created)
    tuples_s = time.perf_counter() - t
    t = time.perf_counter()
    (sqlite_executemany if db.dialect == "sqlite" else postgres_copy)(db.connection, rows)
    insert_s = time.perf_counter() - t
    count, total = db.run("SELECT COUNT(*), COALESCE(SUM(arrived_yuan), 0) FROM capital_arrival", {})[0]
    return {"tuples_s": tuples_s, "insert_s": insert_s, "rows": int(count), "arrived_yuan": int(total)}


# ---------------------------------------------------------------- deals


def _name_key(name: str) -> str:
    key = "".join(unicodedata.normalize("NFKC", name).casefold().split())
    for suffix in ("股份有限公司", "有限责任公司", "有限公司", "集团", "公司"):
        key = key.removesuffix(suffix)
    return key


def _ledger(path: Path) -> list[list[Any]]:
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            return list(csv.reader(f))[1:]
    from python_calamine import CalamineWorkbook

    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()[1:]


def _day(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _money(value: Any) -> int:
    if isinstance(value, str):
        return _yuan(value)
    return round(float(value) * 10_000)


def deals_floor(path: Path, url: str) -> dict[str, Any]:
    """Insert the ledger's deals, their new investors and the audit rows the library writes, in one transaction."""
    db = connect(url)
    _prepare_sqlite(db)
    sqlite = db.dialect == "sqlite"
    now = datetime.now(UTC).replace(tzinfo=None)
    stamp: Any = now.isoformat(sep=" ") if sqlite else datetime.now(UTC)

    def ids(table: str) -> dict[str, int]:
        return {name: i for i, name in db.run(f"SELECT id, name FROM {table}", {})}

    regions, industries, units, people = ids("region"), ids("industry"), ids("unit"), ids("person")
    investors = {name: i for i, name in db.run("SELECT id, name FROM investor", {})}

    def next_id(table: str) -> int:
        return int(db.run(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}", {})[0][0])

    deal_id, investor_id, audit_id, batch_id = (next_id(t) for t in ("deal", "investor", "audit_log", "import_batch"))
    rows = _ledger(path)
    new_investors: list[tuple[Any, ...]] = []
    deals: list[tuple[Any, ...]] = []
    audit: list[tuple[Any, ...]] = []

    def log(action: str, entity: str, entity_id: int | None, field: str, old: Any, new: Any, note: Any = None) -> None:
        nonlocal audit_id
        audit.append((audit_id, stamp, "bench", action, entity, entity_id, field, old, new, note))
        audit_id += 1

    for project, investor, signed, wan, industry, origin, unit, leader, _state, started, done, ended in rows:
        region = regions.get(origin)
        if investor not in investors:
            investors[investor] = investor_id
            key = _name_key(investor)
            new_investors.append((investor_id, investor, key, region, stamp))
            for field, value in zip(INVESTOR_FIELDS, (investor, key, region), strict=True):
                log("create", "investor", investor_id, field, None, value)
            investor_id += 1
        signed_on, started_on, done_on, ended_on = _day(signed), _day(started), _day(done), _day(ended)
        state = "terminated" if ended_on else "in_production" if done_on else "started" if started_on else "signed"
        yuan = _money(wan)
        values = (project, investors[investor], signed_on, yuan, industries.get(industry), region)
        values += (people.get(leader), units.get(unit), "signed")
        for field, value in zip(DEAL_SIGN_FIELDS, values, strict=True):
            if value is not None:
                log("sign", "deal", deal_id, field, None, value.isoformat() if isinstance(value, date) else value)
        current = "signed"
        for action, on, after, field in (
            ("start", started_on, "started", "started_on"),
            ("complete", done_on, "in_production", "completed_on"),
            ("terminate", ended_on, "terminated", "terminated_on"),
        ):
            if on is not None:
                log(action, "deal", deal_id, "state", current, after)
                log(action, "deal", deal_id, field, None, on.isoformat())
                if action == "terminate":
                    log(action, "deal", deal_id, "termination_reason", None, NO_REASON)
                current = after
        deals.append(
            (
                deal_id,
                project,
                investors[investor],
                _iso(signed_on, sqlite),
                yuan,
                industries.get(industry),
                region,
                people.get(leader),
                units.get(unit),
                None,
                state,
                _iso(started_on, sqlite),
                _iso(done_on, sqlite),
                _iso(ended_on, sqlite),
                NO_REASON if ended_on else None,
                stamp,
                batch_id,
            )
        )
        deal_id += 1
    note = (
        f"{path.name}: deals ledger, {len(deals)} rows inserted, 0 updated, 0 already present, import batch {batch_id}"
    )
    log("import", "deal", None, "rows", None, str(len(deals)), note)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    batch = (batch_id, "deals", path.name, digest, stamp, stamp, "bench", len(rows), len(deals), 0, 0)

    def many(table: str, columns: str, values: list[tuple[Any, ...]]) -> None:
        marks = ", ".join(["?" if sqlite else "%s"] * len(columns.split(",")))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
        if sqlite:
            db.connection.executemany(sql, values)
        else:
            with db.connection.cursor() as cur:
                cur.executemany(sql, values)

    if sqlite:
        db.connection.execute("BEGIN")
    many(
        "import_batch",
        "id, kind, file_name, file_hash, started_at, finished_at, actor, rows, inserted, updated, already_present",
        [batch],
    )
    many("investor", "id, name, name_key, origin_region_id, created_at", new_investors)
    many(
        "deal",
        "id, project_name, investor_id, signed_on, contracted_yuan, industry_id, origin_region_id, leader_id, "
        "unit_id, credited_unit_id, state, started_on, completed_on, terminated_on, termination_reason, created_at, "
        "import_batch_id",
        deals,
    )
    many("audit_log", "id, at, actor, action, entity, entity_id, field, old, new, note", audit)
    if sqlite:
        db.connection.execute("COMMIT")
    else:
        with db.connection.cursor() as cur:
            for table in ("deal", "investor", "audit_log", "import_batch"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        db.connection.commit()
    return stored_deals(db)


def _iso(day: date | None, sqlite: bool) -> Any:
    return day.isoformat() if sqlite and day is not None else day


def stored_deals(db: Sql) -> dict[str, Any]:
    """What a deals import left behind: deals, investors, audit rows, Σ contracted yuan (compared across runs)."""
    deals, yuan = db.run("SELECT COUNT(*), COALESCE(SUM(contracted_yuan), 0) FROM deal", {})[0]
    investors = db.run("SELECT COUNT(*) FROM investor", {})[0][0]
    audit = db.run("SELECT COUNT(*) FROM audit_log", {})[0][0]
    return {"deals": int(deals), "investors": int(investors), "audit_rows": int(audit), "contracted_yuan": int(yuan)}


# ---------------------------------------------------------------- export

EXPORT_SQL = """
SELECT d.id, d.project_name, v.name, v.credit_code, d.signed_on, d.contracted_yuan, i.name, r.name, d.origin_city,
       u.name, p.name, q.name, c.name, d.state, d.started_on, d.completed_on, d.terminated_on, d.termination_reason
FROM deal d JOIN investor v ON v.id = d.investor_id
LEFT JOIN industry i ON i.id = d.industry_id LEFT JOIN region r ON r.id = d.origin_region_id
LEFT JOIN unit u ON u.id = d.unit_id LEFT JOIN person p ON p.id = d.leader_id
LEFT JOIN person q ON q.id = d.introducer_id LEFT JOIN unit c ON c.id = d.credited_unit_id
ORDER BY d.id
"""
EXPORT_HEADERS = [
    "项目编号",
    "项目名称",
    "投资方名称",
    "统一社会信用代码",
    "签约日期",
    "总投资（万元）",
    "所属行业",
    "投资方所在地",
    "投资方所在城市",
    "责任单位",
    "包抓领导",
    "引荐人",
    "招引单位",
    "项目状态",
    "开工时间",
    "竣工投产时间",
    "终止时间",
    "终止原因",
]


def export_floor(path: Path, url: str) -> dict[str, Any]:
    db = connect(url)
    rows = db.run(EXPORT_SQL, {})
    if path.suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8-sig") as f:
            writer = csv.writer(f)
            writer.writerow(EXPORT_HEADERS)
            for row in rows:
                out = list(row)
                out[5] = out[5] / 10_000
                writer.writerow(out)
    else:
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("签约项目")
        sheet.append(EXPORT_HEADERS)
        for row in rows:
            out = list(row)
            out[5] = out[5] / 10_000
            sheet.append(out)
        workbook.save(path)
    return {"rows": len(rows)}


FLOORS = {"arrivals": arrivals_floor, "deals": deals_floor, "export": export_floor}


def main(argv: list[str]) -> int:
    kind, path, url = argv
    result = FLOORS[kind](Path(path), url)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The bulk deals import writes exactly what crm.deals writes row by row (sign, start, complete, terminate).

Each ledger is imported twice in one database: once by the bulk path, rolled back, then with the bulk
path turned off (every row through crm.deals); the deals, investors, names and audit rows they leave
must be the same, ids read as the names they stand for (PostgreSQL's sequences do not roll back).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from crm import deals
from crm.errors import LedgerError
from crm.ledgers import import_ledger
from crm.ledgers import imports as imports_module
from crm.models import AuditLog, Deal, Investor, Person, Procedure, SigningEvent, Unit
from tests.factories import make_deal

HEADER = (
    "项目名称,投资方,统一社会信用代码,投资方所在地,来源城市,所属行业,合同投资额,签约日期,签约活动,责任单位,"
    "包抓领导,第一引资人,招引单位,签约人,项目状态,开工时间,竣工投产时间,终止时间,终止原因,入库时间,"
    "未开工原因,跟踪责任人,立项,用地,建设地点,建设内容,备注"
)
ROWS = [
    # a new investor, every name new, signed only, with a stall reason, an owner and procedures
    "光伏一期,甘肃甲能源有限公司,,浙江,杭州,光伏发电,1000,2026-01-05,兰洽会,县商务局,王县长,李引资,县招商局,张三,"
    "已签约,,,,,,资金未落实,赵跟踪,2026-01-20,办理中,,,首批",
    # the same investor again (by name): fills its credit code; names found; started and registered
    "光伏二期,甘肃甲能源有限公司,91620100MA00000001,,,光伏发电,2000,2026-01-06,兰洽会,县商务局,王县长,,,,"
    "已开工,2026-02-01,,,,2026-03-01,,,,,城东,建设内容甲,",
    # a stored investor (blank origin): found by name, its blank origin filled; completed
    "装备厂,已有装备制造有限公司,,四川,成都,装备制造,3000.5,2026-01-07,,县发改局,钱县长,钱县长,县发改局,,"
    "已竣工投产,2026-02-02,2026-05-01,,,,,,,,,,",
    # terminated after starting, with a reason; another new investor with a credit code
    "化工项目,乙化工股份有限公司,91620100MA00000002,陕西,,化工,500,2026-01-08,县签约日,县商务局,孙副县长,,,,"
    "已终止,2026-02-03,,2026-04-01,资金链断裂,,,,,,,,",
    # terminated without starting, no reason given (the import's default reason); other text as stall reason
    "新材料项目,丙材料有限公司,,,,新材料,800,2026-01-09,,,,,,,终止,,,2026-02-01,,,,,,,,,",
    # a known investor by credit code, another spelling of its name
    "光伏三期,甘肃甲能源(有限公司),91620100MA00000001,,,光伏发电,100,2026-01-10,,县商务局,,,,,,,,,,,,,,,,,",
    # no industry, no origin, a stall reason that is not a code (recorded as other)
    "储备项目,丁贸易有限公司,,,,,50,2026-01-11,,,,,,,已签约,,,,,,土地指标待定,王县长,,,,,",
]


def write(tmp_path: Path, rows: list[str], name: str = "deals.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _names(session: Session) -> dict[str, dict[int, str]]:
    out: dict[str, dict[int, str]] = {}
    for table, model in (("unit", Unit), ("person", Person), ("signing_event", SigningEvent)):
        out[table] = {i: n for i, n in session.execute(select(model.id, model.name))}  # type: ignore[attr-defined]
    out["investor"] = {i: k for i, k in session.execute(select(Investor.id, Investor.name_key))}  # type: ignore[call-overload]
    out["deal"] = {
        i: f"{p}@{d}"
        for i, p, d in session.execute(select(Deal.id, Deal.project_name, Deal.signed_on))  # type: ignore[call-overload]
    }
    out["procedure"] = {
        i: f"{out['deal'][d]}/{k}"
        for i, d, k in session.execute(select(Procedure.id, Procedure.deal_id, Procedure.kind))  # type: ignore[call-overload]
    }
    return out


_REF = {
    "investor_id": "investor",
    "unit_id": "unit",
    "credited_unit_id": "unit",
    "leader_id": "person",
    "introducer_id": "person",
    "follow_up_owner_id": "person",
    "signing_event_id": "signing_event",
    "deal_id": "deal",
}


def snapshot(session: Session, audit_after: int) -> dict[str, Any]:
    """What an import left, ids read as names: deals, investors, names, procedures and audit rows."""
    names = _names(session)

    def named(column: str, value: Any) -> Any:
        table = _REF.get(column)
        if table is None or value is None:
            return value
        return names[table].get(int(value), f"?{value}")

    deal_rows = []
    for deal in session.exec(select(Deal)).scalars():  # type: ignore[call-overload]
        values = deal.model_dump(exclude={"id", "created_at"})
        values["import_batch_id"] = values["import_batch_id"] is not None
        deal_rows.append(tuple(sorted((k, named(k, v)) for k, v in values.items())))
    investors = sorted(
        (
            tuple(sorted(i.model_dump(exclude={"id", "created_at"}).items()))
            for i in session.exec(select(Investor)).scalars()  # type: ignore[call-overload]
        ),
        key=repr,
    )
    audit_rows = []
    for a in session.exec(select(AuditLog).where(AuditLog.id > audit_after).order_by(AuditLog.id)).scalars():  # type: ignore[call-overload, arg-type]
        entity = names.get(a.entity, {}).get(a.entity_id, a.entity_id) if a.entity_id is not None else None
        note = re.sub(r"batch \d+", "batch N", a.note) if a.note else a.note
        audit_rows.append(
            (
                a.actor,
                a.action,
                a.entity,
                entity,
                a.field,
                named(a.field or "", a.old),
                named(a.field or "", a.new),
                note,
                a.account,
            )
        )
    by_entity: dict[tuple[str, Any], list[Any]] = {}
    for row in audit_rows:
        by_entity.setdefault((row[2], row[3]), []).append(row)
    return {
        "deals": sorted(deal_rows, key=repr),
        "investors": investors,
        "names": {k: sorted(v.values()) for k, v in names.items() if k in ("unit", "person", "signing_event")},
        "procedures": sorted(names["procedure"].values()),
        "audit": sorted(audit_rows, key=repr),
        "histories": by_entity,  # each record's audit rows in the order written
    }


def _one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Any, rows: Any) -> Any:
        raise imports_module._Fallback

    monkeypatch.setattr(imports_module._BulkSigning, "plan", refuse)


def both_ways(session: Session, monkeypatch: pytest.MonkeyPatch, path: Path, **kwargs: Any) -> tuple[Any, Any]:
    """(result, snapshot) of the bulk import and of the one-by-one import of `path`, each from the same start."""
    before = session.execute(select(func.coalesce(func.max(AuditLog.id), 0))).scalar_one()
    session.commit()
    out = []
    for bulk in (True, False):
        with monkeypatch.context() as m:
            if not bulk:
                _one_by_one(m)
            try:
                result: Any = import_ledger(session, "deals", path, actor="clerk", commit=False, **kwargs)
            except LedgerError as exc:
                result = exc
            out.append((result, snapshot(session, before)))
            session.rollback()
    return out[0], out[1]


def _stored_investor(session: Session) -> None:
    make_deal(session, investor="已有装备制造有限公司", project_name="旧项目")
    investor = session.execute(select(Investor).where(Investor.name == "已有装备制造有限公司")).scalar_one()
    investor.origin_region_id = None
    session.add(investor)
    session.commit()


def test_bulk_import_writes_what_the_one_by_one_path_writes(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stored_investor(session)
    path = write(tmp_path, ROWS)
    (bulk, got), (one, want) = both_ways(session, monkeypatch, path)
    assert (bulk.inserted, bulk.updated, bulk.already_present) == (one.inserted, one.updated, one.already_present)
    assert bulk.inserted == len(ROWS)
    assert got == want
    # the figures are there: states, dates, the filled investor, the default termination reason
    states = {dict(d)["project_name"]: dict(d)["state"] for d in got["deals"]}
    assert states["装备厂"] == "in_production" and states["新材料项目"] == "terminated"
    assert ("deal", "新材料项目@2026-01-09") in got["histories"]
    assert any(r[1] == "update" and r[2] == "investor" for r in got["audit"])
    assert any(r[1] == "import" and r[4] == "registered_on" for r in got["audit"])


def test_bulk_import_refuses_what_the_one_by_one_path_refuses(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows refused at write time (a stored investor's credit code under another name, a stored investor's
    name with another credit code) are the same row errors; with --partial the rest is the same."""
    _stored_investor(session)
    deals.get_or_create_investor(session, "戊科技有限公司", actor="clerk", credit_code="91620100MA00000009")
    rows = [
        *ROWS,
        "冒名项目,己能源有限公司,91620100MA00000009,,,光伏发电,100,2026-02-01,,,,,,,,,,,,,,,,,,,",
        "另一代码,戊科技（有限公司）,91620100MA00000008,,,光伏发电,100,2026-02-02,,,,,,,,,,,,,,,,,,,",
    ]
    path = write(tmp_path, rows)
    (bulk, got), (one, want) = both_ways(session, monkeypatch, path)
    assert isinstance(bulk, LedgerError) and isinstance(one, LedgerError)
    assert [(e.row, e.column, e.message) for e in bulk.errors] == [(e.row, e.column, e.message) for e in one.errors]
    assert [e.row for e in bulk.errors] == [len(ROWS) + 2, len(ROWS) + 3]
    assert "belongs to investor" in bulk.errors[0].message and "differs from" in bulk.errors[1].message
    assert got == want and len(got["deals"]) == 1  # nothing written either way

    (bulk, got), (one, want) = both_ways(session, monkeypatch, path, partial=True)
    assert [(e.row, e.message) for e in bulk.errors] == [(e.row, e.message) for e in one.errors]
    assert bulk.inserted == one.inserted == len(ROWS)
    assert got == want


def test_a_refusal_naming_a_record_of_the_same_import_goes_one_by_one(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A credit code two new investors of one ledger claim: the error names the investor the ledger
    created (its id), so those rows go through crm.deals, with the same outcome."""
    rows = [
        "项目甲,辛能源有限公司,91620100MA00000007,,,光伏发电,100,2026-02-01,,,,,,,,,,,,,,,,,,,",
        "项目乙,壬能源有限公司,91620100MA00000007,,,光伏发电,100,2026-02-02,,,,,,,,,,,,,,,,,,,",
    ]
    path = write(tmp_path, rows)
    (bulk, got), (one, want) = both_ways(session, monkeypatch, path, partial=True)

    def shown(result: Any) -> list[tuple[int, str]]:  # PostgreSQL's sequences do not roll back: ids differ
        return [(e.row, re.sub(r"investor \d+", "investor N", e.message)) for e in result.errors]

    assert shown(bulk) == shown(one)
    assert len(bulk.errors) == 1 and bulk.errors[0].row == 3 and "belongs to investor" in bulk.errors[0].message
    assert got == want and len(got["deals"]) == 1


def test_a_row_the_database_refuses_in_bulk_goes_one_by_one(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refusing the bulk insert (here a deal made to break a CHECK) rolls the bulk signing
    back to its savepoint; the rows then go one by one, each refusal naming its row, nothing half-written."""
    _stored_investor(session)
    path = write(tmp_path, ROWS)
    (one, want) = both_ways(session, monkeypatch, path)[1]
    deal_of = imports_module._BulkSigning._deal

    def broken(self: Any, s: Any, deals_: Any) -> Any:
        values, history = deal_of(self, s, deals_)
        return {**values, "contracted_yuan": -1}, history

    monkeypatch.setattr(imports_module._BulkSigning, "_deal", broken)
    one_by_one = imports_module._write_one_by_one
    went: list[int] = []

    def spy(session_: Session, batch: Any, plan: list[Any], **kwargs: Any) -> Any:
        went.extend(row.i for row in plan if row.deal_id is None)
        return one_by_one(session_, batch, plan, **kwargs)

    monkeypatch.setattr(imports_module, "_write_one_by_one", spy)
    before = session.execute(select(func.coalesce(func.max(AuditLog.id), 0))).scalar_one()
    session.commit()
    result = import_ledger(session, "deals", path, actor="clerk", commit=False)
    assert result.inserted == one.inserted == len(ROWS)
    assert went == list(range(len(ROWS)))  # the database refused the bulk insert: every new row one by one
    assert snapshot(session, before) == want
    session.rollback()


def test_bulk_import_in_chunks_writes_the_same(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunk by chunk (here one row each): an investor a chunk created is found, and its blanks filled
    (an UPDATE, audited), by the rows of the next chunks as by the one-by-one path."""
    _stored_investor(session)
    monkeypatch.setattr(imports_module, "_DEAL_CHUNK", 1)
    path = write(tmp_path, ROWS)
    (bulk, got), (one, want) = both_ways(session, monkeypatch, path)
    assert bulk.inserted == one.inserted == len(ROWS)
    assert got == want

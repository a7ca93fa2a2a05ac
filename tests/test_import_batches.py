"""Import batches (导入批次) and ``crm import undo``: every imported record carries its batch's id;
undoing a batch voids its arrivals (figures back to before) and removes what it created, unless
something was built on it. Both backends (tests/conftest.py)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from typer.testing import CliRunner

from crm import deals
from crm.cli import app
from crm.errors import LedgerError, NotFound, Refused
from crm.ledgers import import_ledger, undo_import
from crm.ledgers.batches import list_batches
from crm.metrics import kpis
from crm.models import (
    AuditLog,
    CapitalArrival,
    Deal,
    ImportBatch,
    Lead,
    Procedure,
    Target,
    Trip,
    TripDestination,
    Visit,
)

DEALS = """
项目名称,投资方,总投资（万元）,签约日期,项目状态,开工时间,竣工时间
光伏项目,甲能源有限公司,100,2026-03-01,已签约,,
风电项目,乙能源有限公司,200,2026-03-01,已开工,2026-04-01,
"""
ARRIVALS = """
项目名称,到位日期,到位资金（万元）,资金来源
光伏项目,2026-05-01,30,省外
风电项目,2026-06-01,50,省外
"""
LEADS = """
项目名称,投资方,获取日期
储能电站,丙储能公司,2026-05-10
数据中心,丁科技公司,2026-05-12
"""


def write(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def n(session: Session, model: Any, *where: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def arrived(session: Session) -> int:
    return int(kpis(session, as_of=date(2026, 12, 31))["arrived_yuan"].sum())


def test_every_imported_row_carries_its_batch_and_undo_puts_the_figures_back(session: Session, tmp_path: Path) -> None:
    deals_file = write(tmp_path, DEALS, "签约台账.csv")
    done = import_ledger(session, "deals", deals_file, actor="张三")
    assert done.batch_id is not None and done.inserted == 2
    batch = session.get(ImportBatch, done.batch_id)
    assert batch is not None
    assert (batch.kind, batch.file_name, batch.actor, batch.rows, batch.inserted) == (
        "deals",
        "签约台账.csv",
        "张三",
        2,
        2,
    )
    assert batch.file_hash == hashlib.sha256(deals_file.read_bytes()).hexdigest()
    assert batch.finished_at is not None and batch.undone_at is None
    if session.get_bind().dialect.name == "postgresql":
        assert batch.account == session.exec(select(func.current_user())).one()
    else:
        assert batch.account is None
    assert {d.import_batch_id for d in session.exec(select(Deal))} == {done.batch_id}
    summary = session.exec(select(AuditLog).where(AuditLog.action == "import")).one()
    assert summary.note is not None and summary.note.endswith(f"import batch {done.batch_id}")

    assert arrived(session) == 0
    money = import_ledger(session, "arrivals", write(tmp_path, ARRIVALS, "到位资金.csv"), actor="财务")
    assert money.batch_id is not None and money.batch_id != done.batch_id
    rows = session.exec(select(CapitalArrival)).all()
    assert [r.import_batch_id for r in rows] == [money.batch_id, money.batch_id]
    assert arrived(session) == 300_000 + 500_000  # 30万 + 50万

    undone = undo_import(session, money.batch_id, actor="李四", reason="wrong month")
    assert undone.voided == 2
    assert arrived(session) == 0  # back to before
    session.expire_all()
    kept = session.exec(select(CapitalArrival)).all()
    assert len(kept) == 2  # money is never deleted
    assert {(r.voided_by, r.void_reason) for r in kept} == {
        ("李四", f"import batch {money.batch_id} undone: wrong month")
    }
    gone = session.get(ImportBatch, money.batch_id)
    assert gone is not None and (gone.undone_by, gone.undo_reason) == ("李四", "wrong month")
    assert gone.undone_at is not None
    assert n(session, AuditLog, AuditLog.action == "undo import", AuditLog.entity == "import_batch") == 1
    with pytest.raises(Refused, match="already undone"):
        undo_import(session, money.batch_id, actor="李四")
    again = import_ledger(session, "arrivals", write(tmp_path, ARRIVALS, "到位资金（更正）.csv"), actor="财务")
    assert (again.inserted, again.already_present) == (2, 0)  # an undone import's rows are not taken as stored
    assert arrived(session) == 800_000
    assert undo_import(session, again.batch_id or 0, actor="李四").voided == 2
    assert arrived(session) == 0

    # the (voided) arrivals still name the deals: the deals batch was built on
    with pytest.raises(Refused, match=r"deal \d+ has 2 arrival row") as refused:
        undo_import(session, done.batch_id, actor="李四")
    assert "cannot be undone" in str(refused.value)
    assert n(session, Deal) == 2
    session.expire_all()
    still = session.get(ImportBatch, done.batch_id)
    assert still is not None and still.undone_at is None

    frame = list_batches(session)
    assert list(frame["id"]) == [again.batch_id, money.batch_id, done.batch_id]
    assert list(frame["kind"]) == ["arrivals", "arrivals", "deals"]


def test_a_follow_up_or_a_later_edit_on_an_imported_deal_refuses_the_undo(session: Session, tmp_path: Path) -> None:
    done = import_ledger(session, "deals", write(tmp_path, DEALS, "签约台账.csv"), actor="t")
    assert done.batch_id is not None
    deal = session.exec(select(Deal).where(Deal.project_name == "光伏项目")).one()
    assert deal.id is not None
    deals.add_follow_up(session, deal.id, on=date(2026, 4, 1), action="电话回访", actor="t")
    with pytest.raises(Refused, match=rf"deal {deal.id} has 1 follow-up row"):
        undo_import(session, done.batch_id, actor="t")
    assert n(session, Deal) == 2

    other = import_ledger(
        session, "deals", write(tmp_path, DEALS.replace("2026-03-01", "2026-03-02"), "三月.csv"), actor="t"
    )
    assert other.batch_id is not None
    moved = session.exec(select(Deal).where(Deal.signed_on == date(2026, 3, 2), Deal.project_name == "光伏项目")).one()
    assert moved.id is not None
    deals.start(session, moved.id, on=date(2026, 5, 1), actor="t")  # an edit after the import
    with pytest.raises(Refused, match=rf"deal {moved.id} was changed after the import \(start"):
        undo_import(session, other.batch_id, actor="t")


def test_undoing_a_deals_batch_nothing_was_built_on_removes_its_deals(session: Session, tmp_path: Path) -> None:
    done = import_ledger(session, "deals", write(tmp_path, DEALS, "签约台账.csv"), actor="t")
    assert done.batch_id is not None
    ids = sorted(d.id for d in session.exec(select(Deal)))
    result = undo_import(session, done.batch_id, actor="李四")
    assert result.removed["deal"] == 2
    assert n(session, Deal) == 0
    assert n(session, Procedure) == 0
    audited = session.exec(
        select(AuditLog.entity_id).where(AuditLog.action == "undo import", AuditLog.entity == "deal")
    ).all()
    assert sorted(audited) == ids
    again = import_ledger(session, "deals", write(tmp_path, DEALS, "签约台账.csv"), actor="t")
    assert again.inserted == 2  # the ledger imports again after its undo


def test_bulk_leads_carry_the_batch_and_are_removed_by_undo(session: Session, tmp_path: Path) -> None:
    done = import_ledger(session, "leads", write(tmp_path, LEADS, "线索.csv"), actor="t")
    assert done.batch_id is not None and done.inserted == 2
    assert {lead.import_batch_id for lead in session.exec(select(Lead))} == {done.batch_id}
    assert undo_import(session, done.batch_id, actor="t").removed["lead"] == 2
    assert n(session, Lead) == 0


def test_a_refused_import_a_dry_run_and_an_unchanged_reimport_leave_no_batch(session: Session, tmp_path: Path) -> None:
    bad = write(tmp_path, DEALS + "坏项目,某公司,abc,2026-03-01,已签约,,\n", "坏.csv")
    with pytest.raises(LedgerError):
        import_ledger(session, "deals", bad, actor="t")
    assert n(session, ImportBatch) == 0
    good = write(tmp_path, DEALS, "签约台账.csv")
    dry = import_ledger(session, "deals", good, actor="t", dry_run=True)
    assert dry.batch_id is None and dry.inserted == 2
    assert n(session, ImportBatch) == 0
    import_ledger(session, "deals", good, actor="t")
    bad_money = write(tmp_path, ARRIVALS + "没有的项目,2026-05-01,30,省外\n", "坏到位.csv")
    with pytest.raises(LedgerError):
        import_ledger(session, "arrivals", bad_money, actor="t")
    dry_money = import_ledger(session, "arrivals", write(tmp_path, ARRIVALS, "到位.csv"), actor="t", dry_run=True)
    assert dry_money.batch_id is None
    again = import_ledger(session, "deals", good, actor="t")  # everything already present
    assert again.batch_id is None
    assert n(session, ImportBatch) == 1
    with pytest.raises(NotFound):
        undo_import(session, 999, actor="t")


def test_cli_lists_and_undoes_batches(db_url: str, engine: Engine, tmp_path: Path) -> None:
    runner = CliRunner()
    deals_file = write(tmp_path, DEALS, "签约台账.csv")
    imported = runner.invoke(app, ["--db", db_url, "import", "deals", str(deals_file), "--actor", "张三"])
    assert imported.exit_code == 0, imported.output
    with Session(engine) as s:
        batch_id = s.exec(select(ImportBatch.id)).one()
    assert f"import batch {batch_id}" in imported.output
    listed = runner.invoke(app, ["--db", db_url, "import", "batches"])
    assert listed.exit_code == 0 and f"{batch_id}\tdeals\t签约台账.csv" in listed.output
    assert runner.invoke(app, ["--db", db_url, "import", "undo", "x"]).exit_code == 2
    assert runner.invoke(app, ["--db", db_url, "import", "undo"]).exit_code == 2
    undone = runner.invoke(
        app, ["--db", db_url, "import", "undo", str(batch_id), "--reason", "错文件", "--actor", "李四"]
    )
    assert undone.exit_code == 0, undone.output
    assert "2 deal removed" in undone.output
    twice = runner.invoke(app, ["--db", db_url, "import", "undo", str(batch_id), "--actor", "李四"])
    assert twice.exit_code == 1 and "already undone" in twice.stderr
    with Session(engine) as s:
        assert n(s, Deal) == 0


TRIPS = """
招商小分队,月份,出发日期,返回日期,目的地,带队领导
第一招商小分队,2026-06,2026-06-03,2026-06-06,北京,王县长
"""
VISITS = """
招商小分队,月份,拜访日期,拜访对象
第一招商小分队,2026-06,2026-06-04,某科技有限公司
"""
TARGETS = """
考核指标,考核期间,目标任务（亿元）
到位资金,2026,280
"""


def test_trips_visits_and_targets_carry_their_batch_and_a_trip_with_visits_is_not_removed(
    session: Session, tmp_path: Path
) -> None:
    trips = import_ledger(session, "trips", write(tmp_path, TRIPS, "外出.csv"), actor="t")
    visits = import_ledger(session, "visits", write(tmp_path, VISITS, "拜访.csv"), actor="t")
    targets = import_ledger(session, "targets", write(tmp_path, TARGETS, "目标.csv"), actor="t")
    assert trips.inserted == visits.inserted == targets.inserted == 1
    trip = session.exec(select(Trip)).one()
    assert trip.import_batch_id == trips.batch_id
    assert session.exec(select(Visit.import_batch_id)).one() == visits.batch_id
    assert session.exec(select(Target.import_batch_id)).one() == targets.batch_id
    assert trips.batch_id is not None and visits.batch_id is not None and targets.batch_id is not None
    with pytest.raises(Refused, match=rf"trip {trip.id} has 1 visit row"):
        undo_import(session, trips.batch_id, actor="t")
    assert undo_import(session, visits.batch_id, actor="t").removed == {"visit": 1}
    assert undo_import(session, trips.batch_id, actor="t").removed == {"trip": 1}
    assert n(session, Trip) == 0 and n(session, TripDestination) == 0
    assert undo_import(session, targets.batch_id, actor="t").removed == {"target": 1}
    assert n(session, Target) == 0

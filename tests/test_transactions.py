"""Nothing half-written: a refused, killed or concurrent write leaves the database whole.

Imports, lifecycle calls and the CLI run in real subprocesses where concurrency or a kill matters;
on SQLite that exercises BEGIN IMMEDIATE and the busy timeout, on PostgreSQL row and advisory locks.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from factories import make_deal
from sqlalchemy import Engine, MetaData, func, select
from sqlmodel import Session

from crm import deals
from crm.db import backup, make_engine
from crm.errors import LedgerError
from crm.ledgers import import_ledger, imports
from crm.models import AuditLog, CapitalArrival, Deal

CLI = [sys.executable, "-c", "from crm.cli import main; main()"]
START_SCRIPT = """
import sys
from datetime import date
from sqlmodel import Session
from crm import deals
from crm.db import make_engine
from crm.errors import Refused

engine = make_engine(sys.argv[1])
started = 0
with Session(engine) as session:
    for deal_id in map(int, sys.argv[3].split(",")):
        try:
            deals.start(session, deal_id, on=date(2026, 5, 1), actor=sys.argv[2])
            started += 1
        except Refused:
            pass
print(started)
"""


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _snapshot(engine: Engine) -> dict[str, Any]:
    """Rows per table, every money column's sum and the audit log's last id."""
    stored = MetaData()
    stored.reflect(engine)
    out: dict[str, Any] = {}
    with engine.connect() as connection:
        for table in stored.sorted_tables:
            money = [c for c in table.columns if c.name.endswith("_yuan")]
            row = connection.execute(
                select(func.count(), *[func.coalesce(func.sum(c), 0) for c in money]).select_from(table)
            ).one()
            out[table.name] = tuple(int(v) for v in row)
        out["last audit id"] = connection.execute(select(func.max(AuditLog.id))).scalar()
    return out


def _deals_csv(path: Path, n: int, prefix: str = "项目", *, long_name_at: int | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["项目名称", "投资方名称", "签约日期", "总投资（万元）"])
        for i in range(n):
            name = "长" * 201 if i == long_name_at else f"{prefix}{i}"
            writer.writerow([name, f"{prefix}投资方{i % 300}有限公司", "2026-03-01", 100 + i % 7])
    return path


def _seed(engine: Engine) -> list[int]:
    """Two deals and an arrival, so that counts and sums start above zero."""
    with Session(engine) as session:
        ids = [make_deal(session).id, make_deal(session, project_name="二期项目").id]
        session.add(
            CapitalArrival(deal_id=ids[0], arrived_on=date(2026, 4, 1), arrived_yuan=5_000_000, source="overseas")
        )
        session.commit()
    return [i for i in ids if i is not None]


# ---------------------------------------------------------------- refused while writing


def test_a_row_refused_while_writing_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    _seed(engine)
    before = _snapshot(engine)
    path = _deals_csv(tmp_path / "deals.csv", 11, long_name_at=10)  # only signing (the write) refuses it
    with Session(engine) as session, pytest.raises(LedgerError, match=r"row 12.*at most 200 characters"):
        import_ledger(session, "deals", path, actor="张三")
    assert _snapshot(engine) == before
    from typer.testing import CliRunner

    from crm.cli import app

    result = CliRunner().invoke(app, ["--db", _url(engine), "import", "deals", str(path)])
    assert result.exit_code == 1 and "nothing was imported" in result.output
    assert _snapshot(engine) == before


def test_a_failure_in_the_middle_of_writing_arrivals_changes_nothing(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _seed(engine)
    with Session(engine) as session:
        project = session.get(Deal, ids[1]).project_name  # type: ignore[union-attr]
    path = tmp_path / "arrivals.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["项目名称", "到位日期", "到位资金（万元）", "资金来源"])
        for i in range(300):
            writer.writerow([project, f"2026-05-{1 + i % 28:02d}", 1 + i, "省外"])
    before = _snapshot(engine)
    monkeypatch.setattr(imports, "CHUNK", 100)
    real, calls = imports._write_arrivals, []

    def failing(session: Session, rows: list[Any], *rest: Any) -> int:
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("disk full (injected)")
        return real(session, rows, *rest)

    monkeypatch.setattr(imports, "_write_arrivals", failing)
    with Session(engine) as session, pytest.raises(RuntimeError, match="injected"):
        import_ledger(session, "arrivals", path, actor="张三")
    assert calls == [100, 100, 100]  # two chunks were written before the failure
    assert _snapshot(engine) == before


# ---------------------------------------------------------------- killed while writing


def _holds_write_lock(path: Path) -> bool:
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


@pytest.mark.slow
def test_an_import_killed_while_writing_leaves_the_database_as_before(sqlite_template: Path, tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    shutil.copyfile(sqlite_template, db)
    engine = make_engine(f"sqlite:///{db}")
    _seed(engine)
    before = _snapshot(engine)
    ledger = _deals_csv(tmp_path / "deals.csv", 50_000)  # written in ten chunks: seconds of writing to kill
    child = subprocess.Popen([*CLI, "--db", str(db), "import", "deals", str(ledger)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not _holds_write_lock(db) and _snapshot(engine)["deal"] == before["deal"]:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the import never started writing"
            time.sleep(0.05)
        time.sleep(1.0)  # hundreds of deals signed inside the transaction
        copy = backup(engine, tmp_path / "backup.db")  # the online backup API, during the import
        assert child.poll() is None
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert _snapshot(engine) == before
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    copied = make_engine(f"sqlite:///{copy}")
    assert _snapshot(copied) == before
    with copied.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    engine.dispose()
    copied.dispose()


# ---------------------------------------------------------------- concurrent writers


def test_two_imports_at_once_both_land(sqlite_template: Path, tmp_path: Path) -> None:
    """Both imports reach the write lock while another writer holds it, so they surely overlap;
    on its release they race for it, one writes while the other waits its turn, and both land.

    Holding the lock makes the overlap certain with small ledgers (it once took 20,000 rows each,
    hoping the two imports would be writing at the same moment)."""
    db = tmp_path / "crm.db"
    shutil.copyfile(sqlite_template, db)
    ledgers = [_deals_csv(tmp_path / f"{p}.csv", 500, prefix=p) for p in ("甲", "乙")]
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing
    children = [
        subprocess.Popen([*CLI, "--db", str(db), "import", "deals", str(path)], stderr=subprocess.PIPE, text=True)
        for path in ledgers
    ]
    try:
        for child in children:
            assert child.stderr is not None
            said = ""
            while "waiting for another process writing this database" not in said:
                said = child.stderr.readline()
                assert said, f"the import ended without waiting for the lock: {child.wait()}"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    errors = [child.communicate(timeout=600)[1] for child in children]
    assert [child.returncode for child in children] == [0, 0], errors
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(Deal)).scalar() == 1_000
        imported = session.execute(select(func.count()).where(AuditLog.action == "import")).scalar()
        assert imported == 2
    engine.dispose()


def test_two_processes_starting_the_same_deals_start_each_once(engine: Engine) -> None:
    with Session(engine) as session:
        ids = [make_deal(session, project_name=f"项目{i}").id for i in range(400)]
        session.commit()
    listed = ",".join(str(i) for i in ids)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", START_SCRIPT, _url(engine), actor, listed],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for actor in ("甲", "乙")
    ]
    outputs = [child.communicate(timeout=300) for child in children]
    assert [child.returncode for child in children] == [0, 0], [err for _, err in outputs]
    assert sum(int(out) for out, _ in outputs) == 400
    with Session(engine) as session:
        starts = session.execute(
            select(AuditLog.entity_id, func.count())
            .where(AuditLog.action == "start", AuditLog.field == "state")
            .group_by(AuditLog.entity_id)
        ).all()
    assert len(starts) == 400 and {n for _, n in starts} == {1}


def test_a_writer_waits_for_another_and_says_so_when_it_gives_up(sqlite_template: Path, tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    shutil.copyfile(sqlite_template, db)
    engine = make_engine(f"sqlite:///{db}")
    deal_id = _seed(engine)[0]
    engine.dispose()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing
    command = [*CLI, "--db", str(db), "deal", "start", str(deal_id), "--on", "2026-05-01"]
    try:
        gave_up = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "CRM_BUSY_TIMEOUT": "1"})
        assert gave_up.returncode == 1
        assert "another process is writing this database; try again" in gave_up.stderr
        assert "Traceback" not in gave_up.stderr and "did you run" not in gave_up.stderr
        waiting = subprocess.Popen(
            command, stderr=subprocess.PIPE, text=True, env={**os.environ, "CRM_BUSY_TIMEOUT": "120"}
        )
        assert waiting.stderr is not None
        said = waiting.stderr.readline()  # it says so while it waits its turn
        assert "waiting for another process writing this database" in said
        assert waiting.poll() is None
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, said + err


def test_a_reader_keeps_its_snapshot_and_never_blocks_a_writer(sqlite_template: Path, tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    shutil.copyfile(sqlite_template, db)
    reader_engine, writer_engine = make_engine(f"sqlite:///{db}"), make_engine(f"sqlite:///{db}")
    _seed(writer_engine)
    with Session(reader_engine) as reader:  # a notebook in the middle of its analysis
        count = select(func.count()).select_from(Deal)
        assert reader.execute(count).scalar() == 2
        started = time.monotonic()
        with Session(writer_engine) as writer:
            deals.sign(
                writer,
                actor="张三",
                project_name="三期",
                investor="乙公司",
                signed_on=date(2026, 3, 1),
                contracted_yuan=1,
            )
        assert time.monotonic() - started < 5  # the writer did not wait for the reader
        assert reader.execute(count).scalar() == 2  # one consistent snapshot until the reader's transaction ends
        reader.rollback()
        assert reader.execute(count).scalar() == 3
    reader_engine.dispose()
    writer_engine.dispose()

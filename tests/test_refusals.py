"""Inputs that used to crash get a plain refusal (exit 1, no traceback) and leave the database as it was."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from factories import make_deal
from sqlalchemy import Engine, func, select
from sqlmodel import Session
from typer.testing import CliRunner

from crm import deals
from crm.arrivals import record_arrival
from crm.cli import app
from crm.errors import BadAmount, InvalidValue, LedgerError, Refused
from crm.ledgers import import_ledger
from crm.models import Deal
from crm.money import MAX_YUAN, parse_yuan

runner = CliRunner()


def _refused(result: object) -> None:
    """Exit 1 with a message, and no exception escaped (a traceback)."""
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    assert isinstance(result.exception, SystemExit), result.exception  # type: ignore[attr-defined]
    assert "error:" in result.output and "Traceback" not in result.output  # type: ignore[attr-defined]


@pytest.mark.parametrize("written", ["1e30", "1e400", "1e999999999", str(2**63), "9223372036854775808元", "1e15亿"])
def test_amounts_beyond_64_bits_are_refused_in_plain_words(written: str) -> None:
    with pytest.raises(BadAmount, match="too large"):
        parse_yuan(written, "万元")


def test_the_largest_amount_still_reads() -> None:
    assert parse_yuan(str(MAX_YUAN), "元") == MAX_YUAN
    assert parse_yuan(1e10, "万元") == 10**14


def test_cli_refuses_a_huge_amount_and_a_huge_id(db_url: str, engine: Engine) -> None:
    sign = ["--db", db_url, "deal", "sign", "--project", "光伏电站", "--investor", "甘肃示例能源有限公司"]
    _refused(runner.invoke(app, [*sign, "--signed-on", "2026-03-01", "--amount", "1e30"]))
    _refused(runner.invoke(app, [*sign, "--signed-on", "2026-03-01", "--amount", "1e400"]))
    _refused(runner.invoke(app, ["--db", db_url, "deal", "start", str(2**70), "--on", "2026-05-01"]))
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(Deal)).scalar() == 0


def test_library_refuses_a_huge_integer_amount(session: Session) -> None:
    with pytest.raises(InvalidValue, match="too large"):
        deals.sign(
            session,
            actor="张三",
            project_name="光伏",
            investor="甲公司",
            signed_on=date(2026, 3, 1),
            contracted_yuan=2**63,
        )


@pytest.mark.parametrize("name", ["光伏\x00电站", "\x1b[31m光伏", "光伏\x7f"])
def test_control_characters_in_names_are_refused_and_said_so(session: Session, name: str) -> None:
    with pytest.raises(InvalidValue, match="control character U\\+00"):
        deals.sign(
            session, actor="张三", project_name=name, investor="甲公司", signed_on=date(2026, 3, 1), contracted_yuan=1
        )


def test_control_characters_in_a_ledger_are_bad_rows(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["项目名称", "投资方名称", "签约日期", "总投资（万元）"])
        writer.writerow(["光伏电站", "甲公司", "2026-03-01", "100"])
        writer.writerow(["光伏\x01二期", "甲公司", "2026-03-01", "100"])
    with Session(engine) as session, pytest.raises(LedgerError, match=r"row 3, column 项目名称: .*U\+0001"):
        import_ledger(session, "deals", path, actor="张三")
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(Deal)).scalar() == 0


def test_terminate_refuses_a_date_before_the_deals_arrivals(session: Session) -> None:
    deal = make_deal(session)
    session.commit()
    assert deal.id is not None
    record_arrival(session, deal.id, on=date(2026, 6, 1), amount_yuan=5_000_000, source="overseas", actor="张三")
    with pytest.raises(Refused, match=r"before 1 arrival\(s\) it already has: 2026-06-01 \(5,000,000 yuan\)"):
        deals.terminate(session, deal.id, on=date(2026, 5, 1), reason="资金链断裂", actor="张三")
    assert session.get(Deal, deal.id).state == "signed"  # type: ignore[union-attr]
    deals.terminate(session, deal.id, on=date(2026, 6, 1), reason="资金链断裂", actor="张三")
    assert session.get(Deal, deal.id).state == "terminated"  # type: ignore[union-attr]


def test_out_into_a_missing_folder_or_onto_a_folder_is_refused(db_url: str, tmp_path: Path) -> None:
    report = ["--db", db_url, "report", "kpis", "--format", "csv", "--out"]
    _refused(runner.invoke(app, [*report, str(tmp_path / "missing" / "kpis.csv")]))
    _refused(runner.invoke(app, [*report, str(tmp_path)]))
    assert runner.invoke(app, [*report, str(tmp_path / "kpis.csv")]).exit_code == 0


def test_status_on_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nothing-here.db"
    _refused(runner.invoke(app, ["--db", str(path), "status"]))
    assert not path.exists()


def test_backup_copies_the_live_database_and_refuses_to_overwrite(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    assert runner.invoke(app, ["--db", str(db), "init"]).exit_code == 0
    sign = ["--db", str(db), "deal", "sign", "--project", "光伏电站", "--investor", "甘肃示例能源有限公司"]
    assert runner.invoke(app, [*sign, "--signed-on", "2026-03-01", "--amount", "3000万"]).exit_code == 0
    copy = tmp_path / "backup.db"
    made = runner.invoke(app, ["--db", str(db), "backup", str(copy)])
    assert made.exit_code == 0, made.output
    _refused(runner.invoke(app, ["--db", str(db), "backup", str(copy)]))
    _refused(runner.invoke(app, ["--db", str(db), "backup", str(tmp_path / "missing" / "b.db")]))
    assert runner.invoke(app, ["--db", str(db), "backup", str(copy), "--force"]).exit_code == 0
    listed = runner.invoke(app, ["--db", str(copy), "deal", "show", "1"])
    assert listed.exit_code == 0 and "光伏电站" in listed.output
    assert "-wal" not in " ".join(p.name for p in tmp_path.glob("backup.db*"))


def test_backup_on_postgresql_prints_the_pg_dump_command(postgres_engine: Engine, tmp_path: Path) -> None:
    url = postgres_engine.url.render_as_string(hide_password=False)
    result = runner.invoke(app, ["--db", url, "backup", str(tmp_path / "crm.dump")])
    assert result.exit_code == 0 and result.output.startswith("pg_dump --format=custom --file=")


WRITERS = {
    "report table": (["report", "kpis", "--as-of", "2026-06-30", "--out"], "kpis.xlsx", "--out"),
    "rows behind a figure": (
        ["report", "kpis", "--as-of", "2026-06-30", "--rows", "industry=光伏发电", "--out"],
        "rows.xlsx",
        "--out",
    ),
    "通报": (["report", "weekly", "--as-of", "2026-06-30", "--out"], "周报.xlsx", "--out"),
    "ledger export": (["export", "deals"], "招商台账.xlsx", "FILE"),
    "major list export": (["major", "export", "--year", "2026"], "责任清单.xlsx", "FILE"),
    "check": (["check", "--as-of", "2026-06-30", "--format", "csv", "--out"], "findings.csv", "--out"),
}


@pytest.mark.parametrize("writer", WRITERS)
def test_a_file_that_exists_is_refused_unless_force(db_url: str, tmp_path: Path, writer: str) -> None:
    args, name, option = WRITERS[writer]
    out = tmp_path / name

    def write(*extra: str) -> object:
        command = [*args, str(out)] if args[-1] == "--out" else [*args[:2], str(out), *args[2:]]
        return runner.invoke(app, ["--db", db_url, *command, *extra])

    first = write()
    assert first.exit_code == 0, first.output  # type: ignore[attr-defined]
    written = out.read_bytes()
    out.write_bytes(b"kept")  # what a second write would lose
    second = write()
    _refused(second)
    assert f"{option} {out}: the file exists already; give --force to overwrite it" in second.output  # type: ignore[attr-defined]
    assert out.read_bytes() == b"kept"
    forced = write("--force")
    assert forced.exit_code == 0, forced.output  # type: ignore[attr-defined]
    again = out.read_bytes()
    assert again != b"kept" and again[:4] == written[:4]  # the report again: a workbook (PK), CSV with its BOM

"""Migration 0005 on an SQLite database that holds rows at 0001: nothing lost, constraints kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from crm.db import alembic_config, make_engine


def test_upgrade_from_0001_keeps_rows_and_checks(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            text(
                "INSERT INTO counting_rules (name, version, fulfillment_basis, completion_basis, sources, verified_only,"
                " is_default, created_at) VALUES ('default', 1, 'started_or_later', 'started', '[]', 0, 1,"
                " '2026-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO target (metric, period_kind, period_start, scope_kind, scope_key, amount)"
                " VALUES ('arrived_yuan', 'year', '2026-01-01', 'county', 'county', 100)"
            )
        )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
    with engine.begin() as connection:
        rules = connection.execute(
            text("SELECT progress_tolerance, report_deadline_weekday, report_deadline_time FROM counting_rules")
        ).one()
        assert tuple(rules) == (0.1, 5, "12:00")
        assert connection.execute(text("SELECT amount FROM target")).scalar_one() == 100
        connection.execute(
            text(
                "INSERT INTO target (metric, period_kind, period_start, scope_kind, scope_key, amount)"
                " VALUES ('completed_investment_yuan', 'year', '2026-01-01', 'county', 'county', 5)"
            )
        )
    for bad in (
        "INSERT INTO target (metric, period_kind, period_start, scope_kind, scope_key, amount)"
        " VALUES ('nonsense', 'year', '2026-01-01', 'county', 'county', 5)",
        "INSERT INTO target (metric, period_kind, period_start, scope_kind, unit_id, scope_key, amount)"
        " VALUES ('arrived_yuan', 'month', '2026-01-01', 'county', 1, 'x', 5)",
        "UPDATE counting_rules SET progress_tolerance = 2",
    ):
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text(bad))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
        assert connection.execute(text("SELECT count(*) FROM target")).scalar_one() == 1
    engine.dispose()

#!/usr/bin/env python3
"""Regenerate the initial migration from crm/models.py (development only, before the first release).

Nothing has been deployed yet, so the schema still lives in one revision, 0001. Once a
database exists in the field, never regenerate: add a new revision with
``alembic revision --autogenerate`` instead.

    .venv/bin/python tools/regen_migration.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = ROOT / "crm" / "migrations" / "versions"
TARGET = VERSIONS / "0001_initial_schema.py"

TRIGGERS = """
# The audit log is append-only in the database (copied from crm.models, frozen with this revision).
AUDIT_APPEND_ONLY_DDL: dict[str, list[str]] = {
    "sqlite": [
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    ],
}
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ini = Path(tmp) / "alembic.ini"
        ini.write_text(f"[alembic]\nscript_location = {ROOT / 'crm' / 'migrations'}\nurl = sqlite:///{tmp}/gen.db\n")
        old = TARGET.read_text() if TARGET.exists() else None
        TARGET.unlink(missing_ok=True)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "alembic",
                "-c",
                str(ini),
                "revision",
                "--autogenerate",
                "-m",
                "initial schema",
                "--rev-id",
                "0001",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            if old is not None:
                TARGET.write_text(old)
            sys.exit(result.stderr)
    s = TARGET.read_text()
    s = s.replace("Revises: \n", "Revises:\n")
    s = s.replace(
        "depends_on: str | Sequence[str] | None = None\n",
        "depends_on: str | Sequence[str] | None = None\n" + TRIGGERS,
        1,
    )
    marker = "        batch_op.create_index('ix_audit_entity', ['entity', 'entity_id'], unique=False)\n"
    assert marker in s, "audit_log index not found; update tools/regen_migration.py"
    s = s.replace(
        marker,
        marker + "    for statement in AUDIT_APPEND_ONLY_DDL.get(op.get_bind().dialect.name, []):\n"
        "        op.execute(statement)\n",
        1,
    )
    s = s.replace(
        "    op.drop_table('audit_log')\n",
        "    op.drop_table('audit_log')\n"
        '    if op.get_bind().dialect.name == "postgresql":\n'
        '        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")\n',
    )
    s = "\n".join(line for line in s.splitlines() if not line.startswith("Create Date:")) + "\n"
    TARGET.write_text(s)
    print(f"wrote {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

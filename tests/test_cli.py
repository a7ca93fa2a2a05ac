"""The command line: shape, exit codes and help for every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from crm.cli import app

runner = CliRunner()


def test_init_twice_then_status(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'crm.db'}"
    first = runner.invoke(app, ["--db", db, "init"])
    assert first.exit_code == 0, first.output
    assert "migrated empty ->" in first.output
    second = runner.invoke(app, ["--db", db, "init"])
    assert second.exit_code == 0 and "up to date" in second.output
    status = runner.invoke(app, ["--db", db, "status"])
    assert status.exit_code == 0
    assert "region" in status.output and "34" in status.output


def test_init_on_every_backend(db_url: str) -> None:
    result = runner.invoke(app, ["--db", db_url, "init"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0 and result.output.startswith("crm ")


def test_malformed_command_line_exits_2() -> None:
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2
    assert runner.invoke(app, ["init", "--no-such-option"]).exit_code == 2


def test_unreachable_database_exits_1_with_a_plain_message(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path}/missing/dir/x.db", "status"])
    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output


def test_console_script_runs() -> None:
    bindir = Path(sys.executable).parent
    result = subprocess.run([str(bindir / "crm"), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "招商引资" in result.stdout


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command and sub-command of a (Typer-vendored) click group."""
    found: list[tuple[tuple[str, ...], Any]] = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append((path, command))
        if hasattr(command, "commands"):
            found.extend(_commands(command, path))
    return found


ALL_COMMANDS = _commands(typer.main.get_group(app))


@pytest.mark.parametrize(("path", "command"), ALL_COMMANDS, ids=[" ".join(p) for p, _ in ALL_COMMANDS])
def test_every_command_has_help_with_an_example(path: tuple[str, ...], command: Any) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example" in (command.help or ""), f"`crm {' '.join(path)}` help has no example"

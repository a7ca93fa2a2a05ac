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


GROUPS = [path for path, command in ALL_COMMANDS if len(path) == 1 and hasattr(command, "commands")]


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--db", "x.db", "--help"], ["init", "--help"]] + [[*path, "--help"] for path in GROUPS],
    ids=" ".join,
)
def test_the_command_line_built_for_one_group_says_what_the_whole_one_says(args: list[str]) -> None:
    from crm.cli import app_for

    assert app_for(args) is not app, "nothing was left out"
    whole, pruned = runner.invoke(app, args), runner.invoke(app_for(args), args)
    assert (pruned.exit_code, pruned.output) == (whole.exit_code, whole.output)


def test_only_the_group_called_is_built() -> None:
    from crm.cli import app_for

    built = typer.main.get_group(app_for(["--db", "x.db", "report", "kpis"]))
    assert set(built.commands["report"].commands) == set(typer.main.get_group(app).commands["report"].commands)
    assert built.commands["deal"].commands == {}
    assert app_for(["--db", "x.db", "no-such-command"]) is app  # its error is worded by the whole app
    assert runner.invoke(app_for(["report", "no-such"]), ["report", "no-such"]).exit_code == 2


def test_the_console_script_runs_a_command_of_a_group(tmp_path: Path) -> None:
    bindir = Path(sys.executable).parent
    db = str(tmp_path / "crm.db")
    subprocess.run([str(bindir / "crm"), "--db", db, "init"], capture_output=True, check=True)
    result = subprocess.run(
        [str(bindir / "crm"), "--db", db, "ref", "list", "regions", "--format", "csv"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "北京市" in result.stdout, result.stdout + result.stderr

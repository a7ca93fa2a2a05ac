"""``crm report NAME``: one dispatcher, each report registered by its capability's CLI module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

report_app = typer.Typer(
    rich_markup_mode=None,
    help="Print a report: kpis, unstarted, targets, ranking, trips, weekly.\n\n"
    "Example: crm report kpis --by industry --format csv",
    no_args_is_help=True,
)


def register_report(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: add a ``crm report <name>`` command."""
    return report_app.command(name)

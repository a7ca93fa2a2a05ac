"""The ``crm`` command: a thin, scriptable face of the library.

Each capability adds its commands in its own module here; this module opens the
app, the global ``--db`` option and the ``report`` dispatcher.
"""

from __future__ import annotations

from typing import Any

import typer

from crm.cli import common
from crm.cli.core import register as _register_core
from crm.cli.reports import report_app

app = typer.Typer(
    name="crm",
    help="招商引资 CRM: signed deals, capital arrivals, promotion trips and targets.\n\nExample: crm --db crm.db init",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(ctx: typer.Context, db: str | None = common.DbOption) -> None:
    ctx.obj = {"db": db}


_register_core(app)
app.add_typer(report_app, name="report")


def _load_capabilities() -> None:
    """Attach the commands of every capability module that exists."""
    import importlib

    for name in ("deals", "figures", "ledgers", "trips", "demo"):
        try:
            module = importlib.import_module(f"crm.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"crm.cli.{name}":
                raise
            continue
        module.register(app)


_load_capabilities()


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``crm`` console script."""
    return app(args=argv, prog_name="crm")

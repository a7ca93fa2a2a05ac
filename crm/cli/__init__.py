"""The ``crm`` command: a thin, scriptable face of the library.

Each capability adds its commands in its own module here (``register(app)``); this
module holds the app, the global ``--db`` option and the ``report`` dispatcher.
"""

from __future__ import annotations

from typing import Any

import typer

from crm.cli import accounts, arrivals, common, corrections, deals, demo, figures, ledgers, quality, reference, trips
from crm.cli import major as _major
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


for _capability in (deals, figures, ledgers, trips, demo, quality, accounts):
    _capability.register(app)
corrections.register(app)
arrivals.register(app)
reference.register(app)
_major.register(app)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``crm`` console script."""
    return app(args=argv, prog_name="crm")

"""The ``crm`` command: a thin, scriptable face of the library.

Each capability adds its commands in its own module here (``register(app)``); this
module holds the app, the global ``--db`` option and the ``report`` dispatcher.
"""

from __future__ import annotations

import copy
import sys
from typing import Any

import typer
import typer.main

from crm.cli import accounts, arrivals, common, corrections, deals, demo, figures, ledgers, quality, reference, trips
from crm.cli import major as _major
from crm.cli.core import register as _register_core
from crm.cli.reports import report_app

app = typer.Typer(
    rich_markup_mode=None,
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


def _keep_example_lines(typer_app: typer.Typer) -> None:
    """Keep a help text's examples one a line in ``--help``.

    The help is click's plain formatter (``rich_markup_mode=None``: rich's help costs every
    command 0.2 s of imports), which rewraps each paragraph; a paragraph marked with ``\\b``
    keeps its lines."""
    import inspect

    def kept(text: str | None) -> str | None:
        if not isinstance(text, str):
            return text
        return "\n\n".join(
            "\b\n" + part if all(line.startswith("Example") for line in part.splitlines()) else part
            for part in text.split("\n\n")
        )

    typer_app.info.help = kept(typer_app.info.help)
    for info in typer_app.registered_commands:
        info.help = kept(info.help or (inspect.getdoc(info.callback) if info.callback else None))
    for group in typer_app.registered_groups:
        group.help = kept(group.help)
        if group.typer_instance is not None:
            _keep_example_lines(group.typer_instance)


_keep_example_lines(app)


def _command_name(args: list[str]) -> str | None:
    """The command or group `args` name first: the first word after the root's options (``--db URL``)."""
    words = iter(args)
    for word in words:
        if word == "--db":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def app_for(args: list[str]) -> typer.Typer:
    """`app` with every command group but the one `args` call left empty: Typer builds the whole command
    tree before it parses a word, and the 80 commands' options take 0.1 s of every ``crm`` process.

    An emptied group keeps its name, help and callback, so ``crm --help`` lists it as before; the group
    called is whole (none when `args` call no group: ``crm --help``). A word that names no command gives
    `app` itself, so the error is worded as ever."""
    name = _command_name(args)
    commands = {
        c.name or typer.main.get_command_name(c.callback.__name__) for c in app.registered_commands if c.callback
    }
    if name is not None and name not in {group.name for group in app.registered_groups} | commands:
        return app
    pruned = copy.copy(app)
    pruned.registered_groups = []
    for group in app.registered_groups:
        if group.name != name and group.typer_instance is not None:
            empty = copy.copy(group.typer_instance)
            empty.registered_commands, empty.registered_groups = [], []
            group = copy.copy(group)
            group.typer_instance = empty
        pruned.registered_groups.append(group)
    return pruned


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``crm`` console script."""
    args = sys.argv[1:] if argv is None else argv
    return app_for(args)(args=args, prog_name="crm")

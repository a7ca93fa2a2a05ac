"""A progress bar on stderr for long imports and exports, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Advance = Callable[[int], None]
MIN_ROWS = 5_000  # below this a bar only flickers


def _noop(_: int) -> None:
    return None


@contextmanager
def progress_bar(description: str, total: int | None, enabled: bool | None = None) -> Iterator[Advance]:
    """Yield ``advance(n)``; draws a rich bar when `enabled` (None: stderr is a TTY and the job is long).

    `total` None (a CSV read in chunks: its row count is known only at the end) counts rows without a bar end.
    """
    if enabled is None:
        enabled = (total is None or total >= MIN_ROWS) and sys.stderr.isatty()
    if not enabled:
        yield _noop
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int) -> None:
            bar.advance(task, n)

        yield advance

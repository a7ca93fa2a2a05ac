"""One measurement in a fresh process: its wall time and its peak RSS.

``python -m bench.child '<json task>'`` runs one task and prints ``BENCH-RESULT <json>`` as
its last line. Each measurement runs in its own process so that its peak RSS
(``resource.getrusage``) is its own and no earlier measurement's heap slows it down.

Tasks: ``dashboard`` (the library's figures), ``hand_sql`` (the floor), ``pandas`` (the
ledgers), ``import`` (the library's ledger import), ``floor`` (tuples + executemany/COPY),
``calamine`` (reading the .xlsx), ``idle`` (the interpreter with the libraries imported).
Figures are pickled to ``task["figures"]`` for the parent to compare.
"""

from __future__ import annotations

import gc
import json
import pickle
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

MARK = "BENCH-RESULT "


def _rss_mb() -> float:
    """Peak RSS of this process in MB.

    VmHWM belongs to this program's own address space. ``ru_maxrss`` would not do: Linux keeps it
    across fork and exec, so every child would report at least the bench parent's peak.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:  # pragma: no cover
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:  # pragma: no cover
        return float("nan")


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    t = time.perf_counter()
    value = fn()
    return time.perf_counter() - t, value


def _profiled(task: dict[str, Any], fn: Callable[[], Any]) -> Any:
    """Run `fn` under pyinstrument (if installed) or cProfile; write the report to task['profile']."""
    out = Path(task["profile"])
    try:
        from pyinstrument import Profiler
    except ImportError:
        import cProfile
        import io
        import pstats

        profile = cProfile.Profile()
        value = profile.runcall(fn)
        buffer = io.StringIO()
        stats = pstats.Stats(profile, stream=buffer).strip_dirs()
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
        out.write_text(buffer.getvalue())
        return value
    profiler = Profiler()
    profiler.start()
    value = fn()
    profiler.stop()
    out.write_text(profiler.output_text(unicode=True, color=False))
    return value


def _engine(url: str) -> Any:
    from crm.db import make_engine

    return make_engine(url)


def _sql(url: str) -> Any:
    from bench.baselines import Sql

    if url.startswith("sqlite"):
        import sqlite3

        return Sql(sqlite3.connect(url.split("///", 1)[1]), "sqlite")
    import psycopg

    return Sql(psycopg.connect("postgresql://" + url.split("://", 1)[1]), "postgresql")


def _repeat(task: dict[str, Any], figures: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Warm up once, then time every figure `repeats` times; medians per figure and of the total."""
    first = {name: fn() for name, fn in figures.items()}
    if task.get("figures"):
        Path(task["figures"]).write_bytes(pickle.dumps(first))
    if task.get("profile"):
        _profiled(task, lambda: [fn() for fn in figures.values()])
    per: dict[str, list[float]] = {name: [] for name in figures}
    totals = []
    for _ in range(task["repeats"]):
        total = 0.0
        for name, fn in figures.items():
            seconds, _ = _timed(fn)
            per[name].append(seconds)
            total += seconds
        totals.append(total)
    return {
        "seconds": statistics.median(totals),
        "figures_s": {k: statistics.median(v) for k, v in per.items()},
        "all_s": totals,
    }


def run(task: dict[str, Any]) -> dict[str, Any]:
    kind = task["task"]
    as_of = date.fromisoformat(task.get("as_of", "2026-08-20"))
    if kind == "idle":
        import pandas  # noqa: F401
        from sqlmodel import Session

        import crm.ledgers
        import crm.metrics  # noqa: F401

        engine = _engine(task["url"])
        with Session(engine) as session:
            session.connection()
        return {"seconds": 0.0}
    if kind == "dashboard":
        from sqlmodel import Session

        from crm import metrics

        engine = _engine(task["url"])
        session = Session(engine)

        def fresh(fn: Callable[[], Any]) -> Callable[[], Any]:
            def call() -> Any:
                try:
                    return fn()
                finally:
                    session.rollback()  # a new transaction per figure, as separate requests would have

            return call

        return _repeat(
            task,
            {
                "kpis": fresh(lambda: metrics.kpis(session, by=["industry", "signing_year"], as_of=as_of)),
                "targets": fresh(lambda: metrics.target_progress(session, as_of=as_of)),
                "ranking": fresh(lambda: metrics.ranking(session, as_of=as_of, by="unit")),
            },
        )
    if kind == "hand_sql":
        from bench.baselines import HAND_SQL

        db = _sql(task["url"])

        def figure(fn: Callable[[Any, date], Any]) -> Callable[[], Any]:
            return lambda: fn(db, as_of)

        return _repeat(task, {name: figure(fn) for name, fn in HAND_SQL.items()})
    if kind == "pandas":
        from bench.baselines import pandas_figures

        directory, ext = Path(task["dir"]), task["ext"]
        result = _repeat(task, {"all": lambda: pandas_figures(directory, ext, as_of)})
        return result
    if kind == "import":
        from sqlmodel import Session

        from crm.ledgers import import_ledger

        engine = _engine(task["url"])
        with Session(engine) as session:
            session.connection()  # connect before the clock starts, as a running CLI has

            def call() -> Any:
                return import_ledger(session, "arrivals", task["path"], actor="bench", progress=False)

            seconds, result = _timed(lambda: _profiled(task, call) if task.get("profile") else call())
        db = _sql(task["url"])
        count, total = db.run("SELECT COUNT(*), COALESCE(SUM(arrived_yuan), 0) FROM capital_arrival", {})[0]
        return {
            "seconds": seconds,
            "rows": int(count),
            "arrived_yuan": int(total),
            "inserted": result.inserted,
            "errors": len(result.errors),
        }
    if kind == "floor":
        from bench.baselines import deal_id_map, floor_rows, postgres_copy, sqlite_executemany

        db = _sql(task["url"])
        if db.dialect == "sqlite":
            for pragma in ("foreign_keys = ON", "journal_mode = WAL", "synchronous = NORMAL"):
                db.connection.execute(f"PRAGMA {pragma}")
            db.connection.isolation_level = None
        created = "2026-09-30 12:00:00.000000" if db.dialect == "sqlite" else "2026-09-30 12:00:00+00"
        tuples_s, rows = _timed(lambda: floor_rows(Path(task["path"]), deal_id_map(db), created))
        insert = sqlite_executemany if db.dialect == "sqlite" else postgres_copy
        insert_s, _ = _timed(lambda: insert(db.connection, rows))
        count, total = db.run("SELECT COUNT(*), COALESCE(SUM(arrived_yuan), 0) FROM capital_arrival", {})[0]
        return {
            "seconds": tuples_s + insert_s,
            "tuples_s": tuples_s,
            "insert_s": insert_s,
            "rows": int(count),
            "arrived_yuan": int(total),
        }
    if kind == "calamine":
        from bench.baselines import calamine_read

        seconds, n = _timed(lambda: calamine_read(Path(task["path"])))
        return {"seconds": seconds, "rows": n}
    raise SystemExit(f"unknown task {kind!r}")


def main() -> None:
    task = json.loads(sys.argv[1])
    result = run(task)
    result["end_rss_mb"] = _current_rss_mb()
    result["peak_rss_mb"] = _rss_mb()
    print(MARK + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

"""One measurement in a fresh process: its wall time and its peak RSS.

``python -m bench.child '<json task>'`` runs one task and prints ``BENCH-RESULT <json>`` as
its last line. Each measurement runs in its own process so that its peak RSS
(``resource.getrusage``) is its own and no earlier measurement's heap slows it down.

Tasks: ``figures`` (the library's reports, in-process), ``hand_sql`` (the fair hand SQL),
``duckdb`` (the same hand SQL in an in-memory DuckDB loaded from the SQLite file), ``pandas`` (the
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
    from bench.hand import connect

    return connect(url)


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


def _weekly(session: Any, as_of: date) -> Any:
    import pandas as pd

    from crm.bulletin import bulletin

    return pd.DataFrame([bulletin(session, kind="weekly", as_of=as_of, charts=False).numbers])


def _period(session: Any, as_of: date) -> Any:
    from bench.hand import period_range
    from crm import metrics

    start, end = period_range(as_of)
    return metrics.period_figures(session, start=start, end=end)


def _trips(session: Any, as_of: date) -> Any:
    from crm import trips

    return trips.funnel(session, by="trip", as_of=as_of)


def _kpis(session: Any, as_of: date) -> Any:
    from crm import metrics

    return metrics.kpis(session, by=["industry", "signing_year"], as_of=as_of)


def _targets(session: Any, as_of: date) -> Any:
    from crm import metrics

    return metrics.target_progress(session, as_of=as_of)


def _ranking(session: Any, as_of: date) -> Any:
    from crm import metrics

    return metrics.ranking(session, as_of=as_of, by="unit")


def _unstarted(session: Any, as_of: date) -> Any:
    from crm import deals

    return deals.unstarted(session, as_of=as_of)


# What each report computes in the library (the code path of ``crm report NAME``, as_of the bench's date).
LIBRARY: dict[str, Callable[[Any, date], Any]] = {
    "weekly": _weekly,
    "kpis": _kpis,
    "targets": _targets,
    "ranking": _ranking,
    "unstarted": _unstarted,
    "period": _period,
    "trips": _trips,
}


def duckdb_from_sqlite(path: Path) -> Any:
    """Every table of the SQLite file copied into an in-memory DuckDB, with the declared column types."""
    import sqlite3

    import duckdb
    import pandas as pd

    from bench.hand import Sql

    source = sqlite3.connect(path)
    duck = duckdb.connect(":memory:")
    types = {"DATE": "DATE", "DATETIME": "TIMESTAMP", "BIGINT": "BIGINT", "INTEGER": "BIGINT", "BOOLEAN": "BOOLEAN"}
    tables = [r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        columns = [(r[1], str(r[2]).upper()) for r in source.execute(f'PRAGMA table_info("{table}")')]
        names = [c for c, _ in columns]
        frame = pd.DataFrame(source.execute(f'SELECT * FROM "{table}"').fetchall(), columns=names)
        casts = []
        for name, declared in columns:
            kind = types.get(
                declared.split("(")[0], "DOUBLE" if declared.startswith(("FLOAT", "NUMERIC", "REAL")) else "VARCHAR"
            )
            casts.append(f'CAST("{name}" AS {kind}) AS "{name}"')
        duck.register("frame", frame)
        duck.execute(f'CREATE TABLE "{table}" AS SELECT {", ".join(casts)} FROM frame')
        duck.unregister("frame")
    source.close()
    return Sql(duck, "duckdb")


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
    if kind == "figures":
        from sqlmodel import Session

        engine = _engine(task["url"])
        session = Session(engine)

        def fresh(fn: Callable[[Any, date], Any]) -> Callable[[], Any]:
            def call() -> Any:
                try:
                    return fn(session, as_of)
                finally:
                    session.rollback()  # a new transaction per figure, as separate requests would have

            return call

        return _repeat(task, {name: fresh(LIBRARY[name]) for name in task["reports"]})
    if kind == "hand_sql":
        from bench.baselines import HAND_SQL

        db = _sql(task["url"])

        def figure(fn: Callable[[Any, date], Any]) -> Callable[[], Any]:
            return lambda: fn(db, as_of)

        return _repeat(task, {name: figure(HAND_SQL[name]) for name in task["reports"]})
    if kind == "duckdb":
        from bench.baselines import HAND_SQL

        load_s, db = _timed(lambda: duckdb_from_sqlite(Path(task["path"])))

        def duck(fn: Callable[[Any, date], Any]) -> Callable[[], Any]:
            return lambda: fn(db, as_of)

        result = _repeat(task, {name: duck(HAND_SQL[name]) for name in task["reports"]})
        result["load_s"] = load_s
        return result
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
        from bench.floor import arrivals_floor

        seconds, result = _timed(lambda: arrivals_floor(Path(task["path"]), task["url"]))
        return {"seconds": seconds, **result}
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

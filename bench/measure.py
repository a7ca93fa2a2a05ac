"""Run the benchmark: every real command as a whole process and every figure in-process, each against a baseline.

    python -m bench --scale county|city|province --backend sqlite|postgresql|both [--write bench/RESULTS.md]

Every scale from county up to --scale is measured (so growth is measured, not extrapolated):

- **whole process** (``bench.launch``: wall time and the peak RSS of that one process): the real
  ``crm report weekly|kpis|targets|ranking|unstarted|period|trips``, ``crm import deals|arrivals``
  (.csv and .xlsx) and ``crm export deals`` (.xlsx and .csv), each against a whole-process baseline
  (``python -m bench.hand`` running the fair hand SQL with the bare driver; ``python -m bench.floor``,
  the executemany/COPY floors and a csv/openpyxl export; pandas over the .xlsx ledgers), and
  ``crm --help`` against ``python -c pass``;
- **in-process** (``bench.child``): each report's figures from the library, the fair hand SQL and
  the same SQL in an in-memory DuckDB (loaded from the SQLite file; load time left out), the three
  dashboard figures from pandas over the .xlsx/.csv ledgers, and the library's arrivals import;
- **checks**: every library figure equals the hand-SQL, DuckDB and pandas figures (counts and yuan
  exactly, rates within 1e-9); every import stores the rows the ledger holds, and the deals import
  the same deals, investors and audit rows as the floor. A difference fails the run;
- **weekly** is not like for like: the hand SQL computes the numbers of the 通报's lead paragraph
  (the figures compared), while ``crm report weekly`` and the library's ``bulletin`` make the whole
  通报, which also counts its data-quality findings (near-duplicate investors among them) and sums
  its major projects. The hand SQL leaves that work out, so the weekly ratios overstate the
  library's cost;
- **goals** of issue #19, each printed as met / MISSED with its target (they are set at province
  scale; at smaller scales they are shown for orientation).

Times are medians of N repeats. Results go to stdout, to ``bench/out/`` (JSON and Markdown) and,
with ``--write FILE``, to a RESULTS.md naming the commit, the machine and its load.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.baselines import compare
from bench.child import MARK
from bench.generate import AS_OF, BENCH_DIR, DATA_DIR, SCALES, Prepared, fill_postgres, prepare
from bench.hand import HAND_REPORTS

OUT_DIR = BENCH_DIR / "out"
ROOT = BENCH_DIR.parent
ORDER = list(SCALES)
REPORTS = ("weekly", "kpis", "targets", "ranking", "unstarted", "period", "trips")
PANDAS_REPORTS = ("kpis", "targets", "ranking")  # what the pandas baseline computes
MEMORY_TARGET_MB = 300
TIMEOUT_S = 900.0
AS_OF_TEXT = AS_OF.isoformat()
REPORT_ARGS = {
    "weekly": ["report", "weekly", "--as-of", AS_OF_TEXT],
    "kpis": ["report", "kpis", "--by", "industry,signing_year", "--as-of", AS_OF_TEXT],
    "targets": ["report", "targets", "--as-of", AS_OF_TEXT],
    "ranking": ["report", "ranking", "--as-of", AS_OF_TEXT],
    "unstarted": ["report", "unstarted", "--as-of", AS_OF_TEXT],
    "period": ["report", "period", "--from", f"{AS_OF.year}-01-01", "--to", AS_OF_TEXT],
    "trips": ["report", "trips", "--as-of", AS_OF_TEXT],
}


@dataclass
class Row:
    measurement: str
    scale: str
    backend: str
    library_s: float | None
    baseline: str
    baseline_s: float | None
    ratio: float | None
    library_mb: float | None = None
    baseline_mb: float | None = None
    note: str = ""


@dataclass
class Goal:
    goal: str
    scale: str
    backend: str
    value: str
    target: str
    status: str  # met, MISSED, not measured


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.failures

    def add(
        self,
        measurement: str,
        scale: str,
        backend: str,
        library: dict[str, Any] | float | None,
        baseline: str,
        base: dict[str, Any] | float | None,
        note: str = "",
    ) -> Row:
        lib_s, lib_mb = _split(library)
        base_s, base_mb = _split(base)
        ratio = lib_s / base_s if lib_s is not None and base_s else None
        row = Row(measurement, scale, backend, lib_s, baseline, base_s, ratio, lib_mb, base_mb, note)
        self.rows.append(row)
        return row

    def goal(
        self,
        goal: str,
        scale: str,
        backend: str,
        value: float | None,
        target: float,
        unit: str = "×",
        *,
        at_least: bool = False,
    ) -> None:
        """A goal met when value <= target (>= with at_least); value None: not measured."""
        sign = "≥" if at_least else "≤"
        if value is None:
            self.goals.append(Goal(goal, scale, backend, "-", f"{sign} {target:g}{unit}", "not measured"))
            return
        status = "met" if (value >= target if at_least else value <= target) else "MISSED"
        self.goals.append(Goal(goal, scale, backend, f"{value:.3g}{unit}", f"{sign} {target:g}{unit}", status))


def _split(value: dict[str, Any] | float | None) -> tuple[float | None, float | None]:
    if isinstance(value, dict):
        return value.get("seconds"), value.get("peak_rss_mb")
    return value, None


# ---------------------------------------------------------------- processes


class ChildTimeout(RuntimeError):
    """A measurement that did not finish within --timeout seconds."""


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def child(task: dict[str, Any], log: Any) -> dict[str, Any]:
    """Run one in-process task in a fresh interpreter; its result dict (raises with the child's stderr)."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.child", json.dumps(task)],
            capture_output=True,
            text=True,
            env=_env(),
            cwd=ROOT,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ChildTimeout(f"timed out after {TIMEOUT_S:g}s") from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    if proc.returncode or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-12:])
        raise RuntimeError(f"{task['task']} failed (exit {proc.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1][len(MARK) :])
    log(f"[bench]   in-process {task['task']:<9} {result['seconds']:.3f}s peak {result['peak_rss_mb']:.0f} MB")
    return result


def whole(argv: list[str], log: Any, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `argv` as a whole process under bench.launch: wall seconds, peak RSS (MB), exit code, stdout tail."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.launch", json.dumps(argv)],
            capture_output=True,
            text=True,
            env=_env(env),
            cwd=ROOT,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ChildTimeout(f"timed out after {TIMEOUT_S:g}s") from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    if not lines:
        raise RuntimeError(f"{' '.join(argv)}: the launcher failed:\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len(MARK) :])
    if result["exit"]:
        raise RuntimeError(f"{' '.join(argv[:4])} exited {result['exit']}:\n{result['stderr'][-2000:]}")
    log(
        f"[bench]   process {' '.join(Path(a).name for a in argv[:5])[:60]:<60} {result['seconds']:.3f}s "
        f"peak {result['peak_rss_mb']:.0f} MB"
    )
    return result


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median wall time of the runs and the largest peak RSS."""
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "last": runs[-1],
    }


# ---------------------------------------------------------------- backends


class Backend:
    name = ""
    version = ""

    def url(self, prepared: Prepared, kind: str) -> str:
        """A database of `kind`: full (reports, shared), deals (fresh, for arrivals imports), base (fresh, deals)."""
        raise NotImplementedError

    def close(self) -> None:
        return None


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, work: Path) -> None:
        self.work = work
        self.version = sqlite3.sqlite_version

    def url(self, prepared: Prepared, kind: str) -> str:
        source = {"full": prepared.full_db, "deals": prepared.deals_db, "base": prepared.base_db}[kind]
        target = self.work / f"{prepared.scale}-{kind}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source, target)
        return f"sqlite:///{target}"


class PostgresBackend(Backend):
    name = "postgresql"

    def __init__(self, url: str | None, log: Any) -> None:
        self.server: Any = None
        self.tmp: str | None = None
        if url is None:
            import pgserver

            self.tmp = tempfile.mkdtemp(prefix="bench-pg-")
            self.server = pgserver.get_server(self.tmp, cleanup_mode="stop")
            url = str(self.server.get_uri())
            log(f"[bench] PostgreSQL started in {self.tmp}")
        from crm.db import database_url

        self.base_url = database_url(url)
        self.filled: set[str] = set()
        self.version = self._admin("SHOW server_version")[0]

    def _url(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.base_url).set(database=database).render_as_string(hide_password=False)

    def _admin(self, *statements: str) -> list[Any]:
        import psycopg

        out = []
        with psycopg.connect("postgresql://" + self._url("postgres").split("://", 1)[1], autocommit=True) as c:
            for statement in statements:
                cur = c.execute(statement.encode())
                if cur.description:
                    out.append(cur.fetchone()[0])  # type: ignore[index]
        return out

    def _template(self, prepared: Prepared, kind: str) -> str:
        name = f"bench_{prepared.scale}_s{prepared.seed}_{kind}"
        if name not in self.filled:
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
            fill_postgres(self._url(name), prepared, arrivals=kind == "full", deals=kind != "base")
            self.filled.add(name)
        return name

    def url(self, prepared: Prepared, kind: str) -> str:
        template = self._template(prepared, kind)
        if kind == "full":
            return self._url(template)
        self._admin(
            "DROP DATABASE IF EXISTS bench_fresh WITH (FORCE)", f"CREATE DATABASE bench_fresh TEMPLATE {template}"
        )
        return self._url("bench_fresh")

    def close(self) -> None:
        if self.server is not None:
            self.server.cleanup()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- the bench


class Bench:
    def __init__(self, args: argparse.Namespace, report: Report, log: Any) -> None:
        self.args = args
        self.report = report
        self.log = log
        self.out: Path = args.out_dir
        self.crm = str(Path(sys.executable).with_name("crm"))
        # (measurement, backend) -> {scale: seconds}, for the growth rows
        self.timings: dict[tuple[str, str], dict[str, float]] = {}
        self.data: dict[str, int] = {}

    def repeats(self, scale: str) -> int:
        return int(self.args.repeats or (1 if scale == "province" else 3))

    def _figures(self, label: str) -> str:
        return str(self.out / f"figures-{label}.pickle")

    def _load(self, label: str) -> dict[str, Any]:
        loaded: dict[str, Any] = pickle.loads(Path(self._figures(label)).read_bytes())
        return loaded

    def _check(self, names: Any, lib: dict[str, Any], base: dict[str, Any], against: str) -> str:
        problems = []
        for name in names:
            problems += compare(name, lib[name], base[name], against=against)
        self.report.mismatches += problems
        return "figures equal" if not problems else f"{len(problems)} MISMATCHES"

    def _time(self, measurement: str, backend: str, scale: str, seconds: float | None) -> None:
        if seconds is not None:
            self.timings.setdefault((measurement, backend), {})[scale] = seconds

    def _try(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except ChildTimeout as exc:
            self.report.failures.append(f"{what}: {exc}")
        except RuntimeError as exc:
            self.report.failures.append(f"{what}: {exc}")
        self.log(f"[bench]   FAILED {what}")
        return None

    # -- shared by the backends of one scale

    def shared(self, prepared: Prepared) -> dict[str, Any]:
        """DuckDB and pandas (in-process), pandas as a whole process and the calamine read: once per scale."""
        scale, n = prepared.scale, self.repeats(prepared.scale)
        out: dict[str, Any] = {}
        out["duckdb"] = self._try(
            f"duckdb {scale}",
            lambda: child(
                {
                    "task": "duckdb",
                    "path": str(prepared.full_db),
                    "reports": list(HAND_REPORTS),
                    "as_of": AS_OF_TEXT,
                    "repeats": n,
                    "figures": self._figures(f"{scale}-duckdb"),
                },
                self.log,
            ),
        )
        for ext in ("xlsx", "csv"):
            out[f"pandas-{ext}"] = self._try(
                f"pandas {scale} .{ext}",
                lambda ext=ext: child(
                    {
                        "task": "pandas",
                        "dir": str(prepared.directory),
                        "ext": ext,
                        "as_of": AS_OF_TEXT,
                        "repeats": n,
                        "figures": self._figures(f"{scale}-pandas-{ext}"),
                    },
                    self.log,
                ),
            )
        code = (
            "import sys; from datetime import date; from pathlib import Path; "
            "from bench.baselines import pandas_figures; "
            f"pandas_figures(Path({str(prepared.directory)!r}), 'xlsx', date.fromisoformat({AS_OF_TEXT!r}))"
        )
        out["pandas-process"] = self._try(
            f"pandas process {scale}",
            lambda: _median([whole([sys.executable, "-c", code], self.log) for _ in range(n)]),
        )
        out["python-pass"] = _median([whole([sys.executable, "-c", "pass"], self.log) for _ in range(n)])
        out["calamine"] = self._try(
            f"calamine {scale}",
            lambda: child({"task": "calamine", "path": str(prepared.ledger("arrivals", "xlsx"))}, self.log),
        )
        return out

    # -- in-process figures

    def in_process(self, backend: Backend, prepared: Prepared, shared: dict[str, Any]) -> None:
        scale, b, n = prepared.scale, backend.name, self.repeats(prepared.scale)
        url = backend.url(prepared, "full")
        task = {"url": url, "as_of": AS_OF_TEXT, "repeats": n}
        lib = self._try(
            f"library figures {scale} {b}",
            lambda: child(
                {"task": "figures", "reports": list(REPORTS), "figures": self._figures(f"{scale}-{b}-lib"), **task},
                self.log,
            ),
        )
        hand = self._try(
            f"hand SQL {scale} {b}",
            lambda: child(
                {
                    "task": "hand_sql",
                    "reports": list(HAND_REPORTS),
                    "figures": self._figures(f"{scale}-{b}-hand"),
                    **task,
                },
                self.log,
            ),
        )
        if lib is None or hand is None:
            return
        lib_figures, hand_figures = self._load(f"{scale}-{b}-lib"), self._load(f"{scale}-{b}-hand")
        duck = shared.get("duckdb")
        duck_figures = self._load(f"{scale}-duckdb") if duck else None
        for name in REPORTS:
            lib_s = lib["figures_s"][name]
            self._time(f"figure {name}", b, scale, lib_s)
            if name not in HAND_REPORTS:
                self.report.add(f"figure {name}", scale, b, lib_s, "(no hand SQL written)", None, "library only")
                continue
            equal = self._check([name], lib_figures, hand_figures, f"hand SQL ({scale}, {b})")
            self.report.add(f"figure {name}", scale, b, lib_s, "fair hand SQL", hand["figures_s"][name], equal)
            if duck and duck_figures is not None:
                equal = self._check([name], lib_figures, duck_figures, f"DuckDB ({scale}, {b})")
                row = self.report.add(
                    f"figure {name}", scale, b, lib_s, "DuckDB in memory", duck["figures_s"][name], equal
                )
                self.report.goal(f"figure {name} within 5× of DuckDB in memory", scale, b, row.ratio, 5)
            else:
                self.report.goal(f"figure {name} within 5× of DuckDB in memory", scale, b, None, 5)
        dashboard = sum(lib["figures_s"][n] for n in PANDAS_REPORTS)
        self._time("dashboard (kpis+targets+ranking)", b, scale, dashboard)
        for ext in ("xlsx", "csv"):
            pandas = shared.get(f"pandas-{ext}")
            if pandas is None:
                continue
            equal = self._check(
                PANDAS_REPORTS, lib_figures, self._load(f"{scale}-pandas-{ext}")["all"], f"pandas .{ext} ({scale}, {b})"
            )
            self.report.add(
                "dashboard (kpis+targets+ranking)", scale, b, dashboard, f"pandas reading .{ext} ledgers", pandas, equal
            )
        self.report.add(
            "memory: library figures process",
            scale,
            b,
            None,
            "hand SQL process",
            None,
            f"peak {lib['peak_rss_mb']:.0f} MB vs {hand['peak_rss_mb']:.0f} MB",
        ).library_mb = lib["peak_rss_mb"]

    # -- whole processes

    def processes(self, backend: Backend, prepared: Prepared, shared: dict[str, Any]) -> None:
        scale, b, n = prepared.scale, backend.name, self.repeats(prepared.scale)
        url = backend.url(prepared, "full")
        env = {"CRM_DATABASE_URL": url, "COLUMNS": "200"}
        pandas = shared.get("pandas-process")
        for name in REPORTS:
            measurement = f"crm report {name}"
            lib = self._try(
                f"{measurement} {scale} {b}",
                lambda name=name: _median([whole([self.crm, *REPORT_ARGS[name]], self.log, env) for _ in range(n)]),
            )
            self._record(measurement, scale, b, lib)
            if name in HAND_REPORTS:
                hand = self._try(
                    f"hand SQL process {name} {scale} {b}",
                    lambda name=name: _median(
                        [whole([sys.executable, "-m", "bench.hand", name, url, AS_OF_TEXT], self.log) for _ in range(n)]
                    ),
                )
                row = self.report.add(measurement, scale, b, lib, "python -m bench.hand (fair hand SQL)", hand)
                self.report.goal(f"{measurement} ≤ 1.5× the fair hand SQL (whole processes)", scale, b, row.ratio, 1.5)
            else:
                self.report.add(measurement, scale, b, lib, "(no hand SQL written)", None, "library only")
                self.report.goal(f"{measurement} ≤ 1.5× the fair hand SQL (whole processes)", scale, b, None, 1.5)
            if name not in PANDAS_REPORTS:
                self.report.goal(
                    f"{measurement} ≥ 10× faster than pandas over the .xlsx ledgers (whole processes; "
                    "the pandas baseline computes kpis, targets and ranking only)",
                    scale,
                    b,
                    None,
                    10,
                    at_least=True,
                )
            elif pandas is not None:
                row = self.report.add(
                    measurement, scale, b, lib, "pandas over the .xlsx ledgers (process, 3 figures)", pandas
                )
                self.report.goal(
                    f"{measurement} ≥ 10× faster than pandas over the .xlsx ledgers (whole processes)",
                    scale,
                    b,
                    1 / row.ratio if row.ratio else None,
                    10,
                    at_least=True,
                )
        helped = self._try(
            f"crm --help {scale} {b}", lambda: _median([whole([self.crm, "--help"], self.log, env) for _ in range(n)])
        )
        self._record("crm --help", scale, b, helped)
        self.report.add("crm --help", scale, b, helped, "python -c pass", shared.get("python-pass"))
        self.report.goal("start-up: crm --help", scale, b, helped["seconds"] if helped else None, 0.3, " s")
        self.imports(backend, prepared)
        self.exports(backend, prepared, env)

    def _record(self, measurement: str, scale: str, b: str, result: dict[str, Any] | None) -> None:
        if result is None:
            self.report.goal(f"{measurement} ≤ {MEMORY_TARGET_MB} MB peak", scale, b, None, MEMORY_TARGET_MB, " MB")
            return
        self._time(measurement, b, scale, result["seconds"])
        self.report.goal(
            f"{measurement} ≤ {MEMORY_TARGET_MB} MB peak", scale, b, result["peak_rss_mb"], MEMORY_TARGET_MB, " MB"
        )

    def imports(self, backend: Backend, prepared: Prepared) -> None:
        scale, b, n = prepared.scale, backend.name, self.repeats(prepared.scale)
        expected_arrivals = {
            "rows": prepared.counts["capital_arrival"],
            "arrived_yuan": prepared.totals["arrived_yuan"],
        }
        for kind, fresh in (("arrivals", "deals"), ("deals", "base")):
            floors: dict[str, Any] = {}
            for ext in ("csv", "xlsx") if kind == "deals" else ("csv",):
                floor_runs, floor_stored = [], None
                for _ in range(n):
                    url = backend.url(prepared, fresh)
                    ledger = prepared.ledger(kind, ext)
                    floor_runs.append(whole([sys.executable, "-m", "bench.floor", kind, str(ledger), url], self.log))
                    floor_stored = self._stored(kind, url)
                floors[ext] = (_median(floor_runs), floor_stored)
                if kind == "arrivals":
                    self._expect(floor_stored, expected_arrivals, f"arrivals floor {scale} {b}")
            floor_name = (
                "COPY floor (process)" if kind == "arrivals" and b == "postgresql" else "executemany floor (process)"
            )
            for ext in ("csv", "xlsx"):
                floor_ext = ext if ext in floors else "csv"
                floor, floor_stored = floors[floor_ext]
                measurement = f"crm import {kind} .{ext}"
                ledger = prepared.ledger(kind, ext)

                def once(ledger: Path = ledger, kind: str = kind, fresh: str = fresh) -> dict[str, Any]:
                    url = backend.url(prepared, fresh)
                    result = whole(
                        [self.crm, "import", kind, str(ledger), "--actor", "bench"], self.log, {"CRM_DATABASE_URL": url}
                    )
                    result["stored"] = self._stored(kind, url)
                    return result

                runs = self._try(f"{measurement} {scale} {b}", lambda once=once: [once() for _ in range(n)])
                lib = _median(runs) if runs else None
                note = ""
                if runs:
                    stored = runs[-1]["stored"]
                    if kind == "arrivals":
                        self._expect(stored, expected_arrivals, f"{measurement} {scale} {b}")
                    else:
                        same = stored == floor_stored
                        self._expect(stored, floor_stored or {}, f"{measurement} {scale} {b} vs the floor")
                        note = ", ".join(f"{k} {v:,}" for k, v in stored.items())
                        self.report.goal(
                            f"{measurement} stores the floor's deal, investor and audit rows (differences)",
                            scale,
                            b,
                            0 if same else 1,
                            0,
                            "",
                        )
                self._record(measurement, scale, b, lib)
                row = self.report.add(measurement, scale, b, lib, f"{floor_name} .{floor_ext}", floor, note)
                if kind == "deals":
                    self.report.goal(f"{measurement} ≤ 3× the executemany floor", scale, b, row.ratio, 3)
                    self.report.goal(
                        f"{measurement} in tens of seconds, not minutes",
                        scale,
                        b,
                        lib["seconds"] if lib else None,
                        99,
                        " s",
                    )

    def _stored(self, kind: str, url: str) -> dict[str, Any]:
        from bench.floor import stored_deals
        from bench.hand import connect

        db = connect(url)
        try:
            if kind == "deals":
                return stored_deals(db)
            count, total = db.run("SELECT COUNT(*), COALESCE(SUM(arrived_yuan), 0) FROM capital_arrival", {})[0]
            return {"rows": int(count), "arrived_yuan": int(total)}
        finally:
            db.connection.close()

    def _expect(self, got: dict[str, Any] | None, expected: dict[str, Any], what: str) -> None:
        if got != expected:
            self.report.mismatches.append(f"{what}: stored {got}, expected {expected}")

    def exports(self, backend: Backend, prepared: Prepared, env: dict[str, str]) -> None:
        scale, b, n = prepared.scale, backend.name, self.repeats(prepared.scale)
        url = env["CRM_DATABASE_URL"]
        work = self.out / "work"
        work.mkdir(parents=True, exist_ok=True)
        for ext in ("xlsx", "csv"):
            measurement = f"crm export deals .{ext}"
            target = work / f"export-{scale}-{b}.{ext}"

            def once(argv: list[str], target: Path = target) -> dict[str, Any]:
                target.unlink(missing_ok=True)
                return whole(argv, self.log, env)

            lib = self._try(
                f"{measurement} {scale} {b}",
                lambda once=once, target=target: _median(
                    [once([self.crm, "export", "deals", str(target)]) for _ in range(n)]
                ),
            )
            floor = self._try(
                f"export floor {scale} {b} .{ext}",
                lambda once=once, target=target: _median(
                    [once([sys.executable, "-m", "bench.floor", "export", str(target), url]) for _ in range(n)]
                ),
            )
            writer = "csv module" if ext == "csv" else "openpyxl write-only"
            self._record(measurement, scale, b, lib)
            self.report.add(measurement, scale, b, lib, f"one SELECT + {writer} (process)", floor)
            if ext == "xlsx":
                self.report.goal(f"{measurement} of the deals", scale, b, lib["seconds"] if lib else None, 5, " s")

    # -- the library's arrivals import in-process (next to the whole process)

    def import_in_process(self, backend: Backend, prepared: Prepared, shared: dict[str, Any]) -> None:
        scale, b, n = prepared.scale, backend.name, self.repeats(prepared.scale)
        floors = [
            child(
                {
                    "task": "floor",
                    "url": backend.url(prepared, "deals"),
                    "path": str(prepared.ledger("arrivals", "csv")),
                },
                self.log,
            )
            for _ in range(n)
        ]
        floor = _median(floors)
        for ext in ("csv", "xlsx"):
            path = str(prepared.ledger("arrivals", ext))
            runs = self._try(
                f"in-process import {scale} {b} .{ext}",
                lambda path=path: [
                    child({"task": "import", "url": backend.url(prepared, "deals"), "path": path}, self.log)
                    for _ in range(n)
                ],
            )
            lib = _median(runs) if runs else None
            name = "COPY + tuples (in-process)" if b == "postgresql" else "executemany + tuples (in-process)"
            self.report.add(f"import arrivals .{ext} (in-process)", scale, b, lib, name, floor)
            if ext == "xlsx" and shared.get("calamine"):
                self.report.add(
                    "import arrivals .xlsx (in-process)",
                    scale,
                    b,
                    lib,
                    "calamine read of the .xlsx",
                    shared["calamine"],
                )

    # -- growth

    def growth(self, scales: list[Prepared], backends: list[str]) -> None:
        for (measurement, b), by_scale in sorted(self.timings.items()):
            for small, large in itertools.pairwise(scales):
                t_small, t_large = by_scale.get(small.scale), by_scale.get(large.scale)
                key = "deal" if "import deals" in measurement or "export" in measurement else "capital_arrival"
                size = large.counts[key] / small.counts[key]
                row = self.report.add(
                    f"growth: {measurement}",
                    large.scale,
                    b,
                    t_large,
                    f"the same at {small.scale}",
                    t_small,
                    f"data ×{size:g}",
                )
                if "import" in measurement:
                    self.report.goal(
                        f"growth of {measurement}, {small.scale}→{large.scale}: time × ≤ data ×{size:g}",
                        large.scale,
                        b,
                        row.ratio,
                        size,
                    )


# ---------------------------------------------------------------- printing


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


HEADERS = ["measurement", "scale", "backend", "library_s", "MB", "baseline", "baseline_s", "MB", "ratio", "note"]


def _cells(r: Row) -> list[str]:
    return [
        r.measurement,
        r.scale,
        r.backend,
        _fmt(r.library_s),
        _mb(r.library_mb),
        r.baseline,
        _fmt(r.baseline_s),
        _mb(r.baseline_mb),
        _fmt(r.ratio, 2),
        r.note,
    ]


def table(rows: list[Row]) -> str:
    cells = [_cells(r) for r in rows]
    widths = [max(_width(str(x)) for x in [h, *(c[i] for c in cells)]) for i, h in enumerate(HEADERS)]
    lines = ["  ".join(_pad(h, w) for h, w in zip(HEADERS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(_pad(str(x), w) for x, w in zip(c, widths, strict=True)) for c in cells]
    return "\n".join(line.rstrip() for line in lines)


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|---|---|---|---:|---:|---|---:|---:|---:|---|"]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def goals_text(goals: list[Goal], *, md: bool = False) -> str:
    if md:
        lines = ["| goal | scale | backend | measured | target | status |", "|---|---|---|---:|---|---|"]
        lines += [
            f"| {g.goal} | {g.scale} | {g.backend} | {g.value} | {g.target} | "
            f"{'**MISSED**' if g.status == 'MISSED' else g.status} |"
            for g in goals
        ]
        return "\n".join(lines)
    return "\n".join(f"{g.status:<12} {g.goal} [{g.scale}, {g.backend}]: {g.value} (target {g.target})" for g in goals)


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


# ---------------------------------------------------------------- the machine and the commit


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    dirty = [line for line in git("status", "--porcelain", "--untracked-files=no").splitlines() if line]
    return {
        "commit": git("rev-parse", "--short=10", "HEAD"),
        "subject": git("log", "-1", "--format=%s"),
        "dirty": dirty,
    }


def machine() -> dict[str, Any]:
    ram = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:  # pragma: no cover
        pass
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:  # pragma: no cover
        pass
    try:
        import duckdb

        duck = duckdb.__version__
    except ImportError:
        duck = "not installed"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "ram": ram,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "duckdb": duck,
        "platform": platform.platform(),
    }


def results_markdown(report: Report, args: argparse.Namespace) -> str:
    info = report.info
    m, g = info["machine"], info["git"]
    commit = f"`{g['commit']}` ({g['subject']})"
    if g["dirty"]:
        commit += f" — **dirty tree**: {len(g['dirty'])} uncommitted changes ({', '.join(g['dirty'][:5])})"
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m bench --write bench/RESULTS.md` (`python3 dev.py bench --write bench/RESULTS.md`);",
        "see `bench/measure.py` for what is measured and how. Do not edit by hand: run it again.",
        "",
        f"- **Commit**: {commit}",
        f"- **Run**: {info['started']} – {info['finished']} UTC, `{' '.join(info['argv'])}`, {info['seconds']} s",
        f"- **Machine**: {m['cores']} cores ({m['cpu']}), {m['ram']} RAM; {m['platform']}",
        f"- **Versions**: Python {m['python']}, SQLite {m['sqlite']}, PostgreSQL {info.get('postgresql', '-')}, "
        f"DuckDB {m['duckdb']}",
        "- **Load** (1/5/15-minute load average before → after each scale):",
    ]
    for scale, load in info["load"].items():
        before, after = load["before"], load["after"]
        lines.append(f"  - {scale}: {' / '.join(f'{x:.2f}' for x in before)} → {' / '.join(f'{x:.2f}' for x in after)}")
    lines += [
        "",
        "Timings on a shared machine are noisy: compare the ratios measured side by side in one run, not seconds.",
        f"Data: `bench/generate.py`, seed {info['seed']}, reporting date {info['as_of']}.",
        "",
        "| scale | deals | arrivals | units | targets | trips | visits |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scale, c in info["counts"].items():
        lines.append(
            f"| {scale} | {c['deal']:,} | {c['capital_arrival']:,} | {c['unit']:,} | {c['target']:,} | "
            f"{c['trip']:,} | {c['visit']:,} |"
        )
    how = (__doc__ or "").split("\n\n", 2)[2].rsplit("\n\nTimes are", 1)[0]
    lines += ["", "## How it measures", "", how.strip()]
    met = sum(goal.status == "met" for goal in report.goals)
    missed = sum(goal.status == "MISSED" for goal in report.goals)
    lines += [
        "",
        "## Checks",
        "",
        f"- figure and stored-row mismatches: {len(report.mismatches)}" + ("" if report.mismatches else " (all equal)"),
        f"- failed measurements: {len(report.failures)}",
        *(f"  - MISMATCH: {x}" for x in report.mismatches[:20]),
        *(f"  - FAILED: {x.splitlines()[0]}" for x in report.failures[:20]),
        "",
        f"## Goals of issue #19 ({met} met, {missed} MISSED; the goals are set at province scale)",
        "",
        goals_text(report.goals, md=True),
        "",
        "## Measurements",
        "",
        "ratio = library ÷ baseline, measured in the same run; MB = peak RSS of that process.",
        "",
    ]
    for scale in info["counts"]:
        lines += [f"### {scale}", "", markdown([r for r in report.rows if r.scale == scale]), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- running


@contextmanager
def _backends(names: list[str], args: argparse.Namespace, log: Any) -> Iterator[list[Backend]]:
    made: list[Backend] = []
    try:
        for name in names:
            if name == "sqlite":
                work = args.out_dir / "work"
                work.mkdir(parents=True, exist_ok=True)
                made.append(SqliteBackend(work))
            else:
                made.append(PostgresBackend(args.pg_url, log))
        yield made
    finally:
        for backend in made:
            backend.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--scale", choices=ORDER, default="county", help="the largest scale (smaller ones run too)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=None, help="default: 3, or 1 at province scale")
    parser.add_argument("--pg-url", default=None, help="use this PostgreSQL server instead of starting one")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--write", type=Path, default=None, help="write the results as Markdown here (RESULTS.md)")
    parser.add_argument(
        "--allow-dirty", action="store_true", help="with --write: run on uncommitted changes (marked 'dirty tree')"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the table")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds one process may take")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> Report:
    global TIMEOUT_S
    TIMEOUT_S = args.timeout
    report = Report()
    log = (lambda *_: None) if args.quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    scales = [prepare(s, args.seed, data_dir=args.data_dir, log=log) for s in ORDER[: ORDER.index(args.scale) + 1]]
    report.info = {
        "argv": ["python", "-m", "bench", *(args.argv or [])],
        "scale": args.scale,
        "seed": args.seed,
        "as_of": AS_OF_TEXT,
        "counts": {p.scale: p.counts for p in scales},
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine(),
        "git": git_state(),
        "load": {},
    }
    bench = Bench(args, report, log)
    names = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    with _backends(names, args, log) as backends:
        for backend in backends:
            if backend.name == "postgresql":
                report.info["postgresql"] = backend.version
        for prepared in scales:
            before = os.getloadavg()
            log(f"[bench] {prepared.scale}: DuckDB, pandas, start-up")
            shared = bench.shared(prepared)
            for backend in backends:
                log(f"[bench] {prepared.scale} on {backend.name}: figures in-process")
                bench.in_process(backend, prepared, shared)
                log(f"[bench] {prepared.scale} on {backend.name}: whole processes")
                bench.processes(backend, prepared, shared)
                bench.import_in_process(backend, prepared, shared)
            report.info["load"][prepared.scale] = {"before": before, "after": os.getloadavg()}
    bench.growth(scales, names)
    report.goal(
        "figures and stored rows equal across library and baselines (differences)",
        args.scale,
        "both",
        len(report.mismatches),
        0,
        "",
    )
    report.info["seconds"] = round(time.perf_counter() - started, 1)
    report.info["finished"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.write is not None:
        dirty = git_state()["dirty"]
        if dirty and not args.allow_dirty:
            print(
                f"refusing to --write {args.write}: {len(dirty)} uncommitted changes (commit them, or pass "
                "--allow-dirty to mark the results 'dirty tree')",
                file=sys.stderr,
            )
            return 2
    report = run(args)
    print(table(report.rows))
    print()
    print(goals_text(report.goals))
    for message in report.mismatches:
        print(f"MISMATCH: {message}", file=sys.stderr)
    for message in report.failures:
        print(f"FAILED: {message}", file=sys.stderr)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    payload = {
        "info": report.info,
        "rows": [asdict(r) for r in report.rows],
        "goals": [asdict(g) for g in report.goals],
        "mismatches": report.mismatches,
        "failures": report.failures,
    }
    for name in (f"results-{args.scale}-{stamp}.json", f"results-{args.scale}.json"):
        (args.out_dir / name).write_text(json.dumps(payload, indent=1, ensure_ascii=False, default=str))
    (args.out_dir / f"results-{args.scale}.md").write_text(results_markdown(report, args) + "\n")
    if args.write is not None:
        args.write.write_text(results_markdown(report, args) + "\n")
        print(f"wrote {args.write}", file=sys.stderr)
    if not report.ok:
        print(f"\n{len(report.mismatches)} mismatches, {len(report.failures)} failures: see above", file=sys.stderr)
    return 0 if report.ok else 1

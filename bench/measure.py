"""Run the benchmark: import, dashboard, growth and memory, each against its baseline, as ratios.

    python -m bench --scale county|city|province --backend sqlite|postgresql|both

Every measurement runs in a fresh subprocess (``bench.child``) that reports its wall time
and peak RSS; times are medians of N repeats. The library's figures are compared with the
hand-SQL and pandas baselines' figures and any difference is printed and fails the run.
Results go to stdout (one table) and to ``bench/out/`` (JSON and Markdown).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.baselines import compare
from bench.child import MARK
from bench.generate import AS_OF, BENCH_DIR, DATA_DIR, SCALES, Prepared, fill_postgres, prepare

OUT_DIR = BENCH_DIR / "out"
ORDER = list(SCALES)
MEMORY_TARGET_MB = 300
FIGURES = ("kpis", "targets", "ranking")


@dataclass
class Row:
    measurement: str
    scale: str
    backend: str
    library_s: float | None
    baseline: str
    baseline_s: float | None
    ratio: float | None
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
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
        library_s: float | None,
        baseline: str,
        baseline_s: float | None,
        note: str = "",
        *,
        target: float | None = None,
        at_most: bool = True,
    ) -> Row:
        ratio = library_s / baseline_s if library_s is not None and baseline_s else None
        if ratio is not None and target is not None:
            met = ratio <= target if at_most else ratio >= target
            verdict = f"target {'≤' if at_most else '≥'} {target:g}×: {'met' if met else 'MISSED'}"
            if at_most and target < 1:
                verdict = f"target ≥ {1 / target:g}× faster: {'met' if met else 'MISSED'}"
            note = f"{note}; {verdict}" if note else verdict
        row = Row(measurement, scale, backend, library_s, baseline, baseline_s, ratio, note)
        self.rows.append(row)
        return row


# ---------------------------------------------------------------- subprocesses


class ChildTimeout(RuntimeError):
    """A measurement that did not finish within --timeout seconds (the library misses its target)."""


TIMEOUT_S = 300.0


def child(task: dict[str, Any], log: Any) -> dict[str, Any]:
    """Run one task in a fresh interpreter; its result dict (raises with the child's stderr on failure)."""
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR.parent), env.get("PYTHONPATH")]))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.child", json.dumps(task)],
            capture_output=True,
            text=True,
            env=env,
            cwd=BENCH_DIR.parent,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        log(f"[bench]   {task['task']:<9} timed out after {TIMEOUT_S:g}s")
        raise ChildTimeout(f"timed out after {TIMEOUT_S:g}s") from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    if proc.returncode or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-12:])
        raise RuntimeError(f"{task['task']} failed (exit {proc.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1][len(MARK) :])
    log(
        f"[bench]   {task['task']:<9} {task.get('ext', '')}{Path(task.get('path', '')).suffix} "
        f"{result['seconds']:.3f}s peak {result['peak_rss_mb']:.0f} MB"
    )
    return result


# ---------------------------------------------------------------- backends


class Backend:
    name = ""

    def dashboard_url(self, prepared: Prepared) -> str:
        raise NotImplementedError

    def fresh_import_url(self, prepared: Prepared) -> str:
        """A database holding the deals and no capital arrivals, new for each import."""
        raise NotImplementedError

    def close(self) -> None:
        return None


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, work: Path) -> None:
        self.work = work

    def _copy(self, source: Path, name: str) -> str:
        target = self.work / name
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source, target)
        return f"sqlite:///{target}"

    def dashboard_url(self, prepared: Prepared) -> str:
        return self._copy(prepared.full_db, f"{prepared.scale}-full.db")

    def fresh_import_url(self, prepared: Prepared) -> str:
        return self._copy(prepared.deals_db, "import.db")


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

        self.url = database_url(url)
        self.filled: set[str] = set()

    def _url(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.url).set(database=database).render_as_string(hide_password=False)

    def _admin(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect("postgresql://" + self._url("postgres").split("://", 1)[1], autocommit=True) as c:
            for statement in statements:
                c.execute(statement.encode())

    def _database(self, prepared: Prepared, *, arrivals: bool) -> str:
        name = f"bench_{prepared.scale}_s{prepared.seed}_{'full' if arrivals else 'deals'}"
        if name not in self.filled:
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
            t = time.perf_counter()
            fill_postgres(self._url(name), prepared, arrivals=arrivals)
            self.filled.add(name)
            prepared.seconds[f"postgres_{name}"] = time.perf_counter() - t
        return name

    def dashboard_url(self, prepared: Prepared) -> str:
        return self._url(self._database(prepared, arrivals=True))

    def fresh_import_url(self, prepared: Prepared) -> str:
        template = self._database(prepared, arrivals=False)
        self._admin(
            "DROP DATABASE IF EXISTS bench_import WITH (FORCE)", f"CREATE DATABASE bench_import TEMPLATE {template}"
        )
        return self._url("bench_import")

    def close(self) -> None:
        if self.server is not None:
            self.server.cleanup()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- measurements


def _median(results: list[dict[str, Any]], key: str = "seconds") -> float:
    return statistics.median(r[key] for r in results)


def _peak(results: list[dict[str, Any]]) -> float:
    return max(r["peak_rss_mb"] for r in results)


class Bench:
    def __init__(self, args: argparse.Namespace, report: Report, log: Any) -> None:
        self.args = args
        self.report = report
        self.log = log
        self.out: Path = args.out_dir
        self.as_of = AS_OF.isoformat()
        self.memory: dict[tuple[str, str, str], float] = {}

    def repeats(self, scale: str) -> int:
        return self.args.repeats or (1 if scale == "province" else 3)

    def figures_path(self, label: str) -> str:
        return str(self.out / f"figures-{label}.pickle")

    def library_missing(self, module: str, attribute: str) -> str | None:
        try:
            imported = __import__(module, fromlist=[attribute])
        except ImportError as exc:
            return f"not available: {module} ({exc})"
        return None if hasattr(imported, attribute) else f"not available: {module}.{attribute}"

    def _check(self, lib: dict[str, Any], base: dict[str, Any], against: str) -> str:
        problems = []
        for name in FIGURES:
            problems += compare(name, lib[name], base[name], against=against)
        self.report.mismatches += problems
        return "figures equal" if not problems else f"{len(problems)} MISMATCHES"

    # -- dashboard

    def pandas_baselines(self, prepared: Prepared) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        """pandas over the .xlsx and .csv ledgers: measured once per scale, shared by the backends."""
        found = {}
        for ext in ("xlsx", "csv"):
            label = f"{prepared.scale}-pandas-{ext}"
            result = child(
                {
                    "task": "pandas",
                    "dir": str(prepared.directory),
                    "ext": ext,
                    "as_of": self.as_of,
                    "repeats": self.repeats(prepared.scale),
                    "figures": self.figures_path(label),
                },
                self.log,
            )
            found[ext] = (result, pickle.loads(Path(self.figures_path(label)).read_bytes())["all"])
        return found

    def dashboard(
        self, backend: Backend, prepared: Prepared, pandas: dict[str, tuple[dict[str, Any], dict[str, Any]]]
    ) -> float | None:
        scale, b = prepared.scale, backend.name
        url = backend.dashboard_url(prepared)
        n = self.repeats(scale)
        hand = child(
            {
                "task": "hand_sql",
                "url": url,
                "as_of": self.as_of,
                "repeats": n,
                "figures": self.figures_path(f"{scale}-{b}-hand"),
            },
            self.log,
        )
        hand_figures = pickle.loads(Path(self.figures_path(f"{scale}-{b}-hand")).read_bytes())
        missing = self.library_missing("crm.metrics", "ranking")
        lib: dict[str, Any] | None = None
        if missing is None:
            try:
                lib = child(
                    {
                        "task": "dashboard",
                        "url": url,
                        "as_of": self.as_of,
                        "repeats": n,
                        "figures": self.figures_path(f"{scale}-{b}-lib"),
                        **(
                            {"profile": str(self.out / f"profile-dashboard-{scale}-{b}.txt")}
                            if self.args.profile
                            else {}
                        ),
                    },
                    self.log,
                )
            except ChildTimeout as exc:
                missing = f"library {exc}"
            except RuntimeError as exc:
                self.report.failures.append(f"dashboard {scale} {b}: {exc}")
                missing = f"error: {str(exc).splitlines()[-1]}"
        if lib is None:
            for name in FIGURES:
                self.report.add(
                    f"dashboard.{name}", scale, b, None, "hand SQL (1 query)", hand["figures_s"][name], missing or ""
                )
            self.report.add("dashboard", scale, b, None, "hand SQL (3 queries)", hand["seconds"], missing or "")
            return None
        lib_figures = pickle.loads(Path(self.figures_path(f"{scale}-{b}-lib")).read_bytes())
        equal_sql = self._check(lib_figures, hand_figures, f"hand SQL ({scale}, {b})")
        for name in FIGURES:
            self.report.add(
                f"dashboard.{name}",
                scale,
                b,
                lib["figures_s"][name],
                "hand SQL (1 query)",
                hand["figures_s"][name],
                target=1.5,
            )
        self.report.add(
            "dashboard", scale, b, lib["seconds"], "hand SQL (3 queries)", hand["seconds"], equal_sql, target=1.5
        )
        for ext, (result, figures) in pandas.items():
            equal = self._check(lib_figures, figures, f"pandas .{ext} ({scale}, {b})")
            self.report.add(
                "dashboard",
                scale,
                b,
                lib["seconds"],
                f"pandas reading .{ext} ledgers",
                result["seconds"],
                equal,
                target=0.1 if ext == "xlsx" else None,
            )
        try:
            import duckdb  # noqa: F401

            duck_note = "DuckDB installed but not wired: see RESULTS.md"
        except ImportError:
            duck_note = "DuckDB not installed: skipped (not a dependency)"
        self.report.add("dashboard", scale, b, lib["seconds"], "DuckDB over frames", None, duck_note)
        self.memory[("dashboard", scale, b)] = lib["peak_rss_mb"]
        self.memory[("dashboard-pandas-csv", scale, b)] = pandas["csv"][0]["peak_rss_mb"]
        return float(lib["seconds"])

    def growth(self, backend: Backend, scales: list[Prepared], measured: dict[str, float | None]) -> None:
        b = backend.name
        for prepared in scales:
            if prepared.scale in measured or self.library_missing("crm.metrics", "ranking"):
                continue
            url = backend.dashboard_url(prepared)
            try:
                result = child(
                    {"task": "dashboard", "url": url, "as_of": self.as_of, "repeats": self.repeats(prepared.scale)},
                    self.log,
                )
                measured[prepared.scale] = float(result["seconds"])
            except ChildTimeout:
                measured[prepared.scale] = None
        top = scales[-1]
        if len(scales) == 1:
            self.report.add(
                "growth",
                top.scale,
                b,
                measured.get(top.scale),
                "(smallest scale)",
                None,
                "nothing smaller to compare with",
            )
            return
        for small, large in itertools.pairwise(scales):
            size = large.counts["capital_arrival"] / small.counts["capital_arrival"]
            t_small, t_large = measured.get(small.scale), measured.get(large.scale)
            row = self.report.add(
                "growth",
                large.scale,
                b,
                t_large,
                f"dashboard at {small.scale}",
                t_small,
                f"data ×{size:g}",
                target=size,
            )
            if t_large is None or t_small is None:
                row.note = f"data ×{size:g}; a dashboard did not finish (timeout {TIMEOUT_S:g}s) or is unavailable"

    # -- import

    def imports(self, backend: Backend, prepared: Prepared, calamine: dict[str, Any]) -> None:
        scale, b, n = prepared.scale, backend.name, self.repeats(prepared.scale)
        expected = (prepared.counts["capital_arrival"], prepared.totals["arrived_yuan"])
        floors = []
        for _ in range(n):
            floors.append(
                child(
                    {
                        "task": "floor",
                        "url": backend.fresh_import_url(prepared),
                        "path": str(prepared.ledger("arrivals", "csv")),
                    },
                    self.log,
                )
            )
            self._expect(floors[-1], expected, f"floor import {scale} {b}")
        floor_s = _median(floors)
        tuples_s, insert_s = _median(floors, "tuples_s"), _median(floors, "insert_s")
        floor_name = "sqlite3.executemany + tuples" if b == "sqlite" else "COPY (FK on) + tuples"
        missing = self.library_missing("crm.ledgers", "import_ledger")
        self.memory[("import-floor", scale, b)] = _peak(floors)
        for ext in ("csv", "xlsx"):
            path = str(prepared.ledger("arrivals", ext))
            runs: list[dict[str, Any]] = []
            note = missing or ""
            if missing is None:
                try:
                    for _ in range(n):
                        runs.append(
                            child({"task": "import", "url": backend.fresh_import_url(prepared), "path": path}, self.log)
                        )
                        self._expect(runs[-1], expected, f"library import {scale} {b} .{ext}")
                    if self.args.profile:
                        child(
                            {
                                "task": "import",
                                "url": backend.fresh_import_url(prepared),
                                "path": path,
                                "profile": str(self.out / f"profile-import-{ext}-{scale}-{b}.txt"),
                            },
                            self.log,
                        )
                except ChildTimeout as exc:
                    note = f"library {exc}"
                    runs = []
                except RuntimeError as exc:
                    self.report.failures.append(f"import {scale} {b} .{ext}: {exc}")
                    note = f"error: {str(exc).splitlines()[-1]}"
                    runs = []
            lib_s = _median(runs) if runs else None
            detail = f"insert {insert_s:.3f}s + tuples {tuples_s:.3f}s"
            if ext == "csv":
                self.report.add(
                    "import.csv",
                    scale,
                    b,
                    lib_s,
                    floor_name,
                    floor_s,
                    "; ".join(filter(None, [note, detail])),
                    target=3.0,
                )
            else:
                self.report.add(
                    "import.xlsx", scale, b, lib_s, "calamine read of the .xlsx", calamine["seconds"], note, target=1.3
                )
                self.report.add("import.xlsx", scale, b, lib_s, floor_name, floor_s, detail)
            if runs:
                self.memory[(f"import-{ext}", scale, b)] = _peak(runs)
        self.memory[("import-calamine", scale, b)] = calamine["peak_rss_mb"]

    def _expect(self, result: dict[str, Any], expected: tuple[int, int], what: str) -> None:
        got = (result["rows"], result["arrived_yuan"])
        if got != expected:
            self.report.mismatches.append(
                f"{what}: stored {got[0]} rows, {got[1]} yuan; the ledger holds {expected[0]} rows, {expected[1]} yuan"
            )

    # -- memory

    def memory_rows(self, backend: Backend, prepared: Prepared, idle: float) -> None:
        scale, b = prepared.scale, backend.name
        pairs = [
            ("memory.dashboard", "dashboard", "pandas reading .csv ledgers", "dashboard-pandas-csv"),
            ("memory.import.csv", "import-csv", floor_name_for(b), "import-floor"),
            ("memory.import.xlsx", "import-xlsx", "calamine read of the .xlsx", "import-calamine"),
        ]
        for measurement, key, baseline, base_key in pairs:
            lib = self.memory.get((key, scale, b))
            base = self.memory.get((base_key, scale, b))
            note = f"peak RSS in MB (idle interpreter {idle:.0f} MB)"
            if lib is None:
                note = "not available; " + note
            elif scale == "province":
                note += f"; target ≤ {MEMORY_TARGET_MB} MB: {'met' if lib <= MEMORY_TARGET_MB else 'MISSED'}"
            self.report.add(measurement, scale, b, lib, baseline, base, note)


def floor_name_for(backend: str) -> str:
    return "sqlite3.executemany + tuples" if backend == "sqlite" else "COPY (FK on) + tuples"


# ---------------------------------------------------------------- running and printing


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def table(rows: list[Row]) -> str:
    headers = ["measurement", "scale", "backend", "library_s", "baseline", "baseline_s", "ratio", "note"]
    cells = [
        [r.measurement, r.scale, r.backend, _fmt(r.library_s), r.baseline, _fmt(r.baseline_s), _fmt(r.ratio, 2), r.note]
        for r in rows
    ]
    widths = [max(_width(str(x)) for x in [h, *(c[i] for c in cells)]) for i, h in enumerate(headers)]
    lines = ["  ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(_pad(str(x), w) for x, w in zip(c, widths, strict=True)) for c in cells]
    return "\n".join(line.rstrip() for line in lines)


def markdown(rows: list[Row]) -> str:
    lines = [
        "| measurement | scale | backend | library_s | baseline | baseline_s | ratio | note |",
        "|---|---|---|---:|---|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.measurement} | {r.scale} | {r.backend} | {_fmt(r.library_s)} | {r.baseline} | "
            f"{_fmt(r.baseline_s)} | {_fmt(r.ratio, 2)} | {r.note} |"
        )
    return "\n".join(lines)


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


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
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=ORDER, default="county")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=None, help="default: 3, or 1 at province scale")
    parser.add_argument("--pg-url", default=None, help="use this PostgreSQL server instead of starting one")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--profile", action="store_true", help="also profile the library's paths (bench/out/)")
    parser.add_argument("--quiet", action="store_true", help="print only the table")
    parser.add_argument(
        "--timeout",
        type=float,
        default=TIMEOUT_S,
        help="seconds one measurement may take before it is reported as not finished",
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> Report:
    global TIMEOUT_S
    TIMEOUT_S = args.timeout
    report = Report()
    log = (lambda *_: None) if args.quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    scales = [prepare(s, args.seed, data_dir=args.data_dir, log=log) for s in ORDER[: ORDER.index(args.scale) + 1]]
    prepared = scales[-1]
    report.info = {
        "scale": args.scale,
        "seed": args.seed,
        "as_of": AS_OF.isoformat(),
        "counts": prepared.counts,
        "started": datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "generation_s": prepared.seconds,
    }
    bench = Bench(args, report, log)
    names = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    log(f"[bench] {args.scale}: pandas over the ledgers")
    pandas = bench.pandas_baselines(prepared)
    calamine = child({"task": "calamine", "path": str(prepared.ledger("arrivals", "xlsx"))}, log)
    with _backends(names, args, log) as backends:
        for backend in backends:
            log(f"[bench] {args.scale} on {backend.name}: dashboard")
            measured: dict[str, float | None] = {}
            measured[prepared.scale] = bench.dashboard(backend, prepared, pandas)
            bench.growth(backend, scales, measured)
            log(f"[bench] {args.scale} on {backend.name}: import")
            bench.imports(backend, prepared, calamine)
            idle = child({"task": "idle", "url": backend.dashboard_url(prepared)}, log)["peak_rss_mb"]
            bench.memory_rows(backend, prepared, idle)
    report.info["seconds"] = round(time.perf_counter() - started, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    print(table(report.rows))
    for message in report.mismatches:
        print(f"MISMATCH: {message}", file=sys.stderr)
    for message in report.failures:
        print(f"FAILED: {message}", file=sys.stderr)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    payload = {
        "info": report.info,
        "rows": [asdict(r) for r in report.rows],
        "mismatches": report.mismatches,
        "failures": report.failures,
    }
    for name in (f"results-{args.scale}-{stamp}.json", f"results-{args.scale}.json"):
        (args.out_dir / name).write_text(json.dumps(payload, indent=1, ensure_ascii=False, default=str))
    (args.out_dir / f"results-{args.scale}.md").write_text(markdown(report.rows) + "\n")
    if not report.ok:
        print(
            f"\n{len(report.mismatches)} figure mismatches, {len(report.failures)} failures: see above", file=sys.stderr
        )
    return 0 if report.ok else 1

"""The benchmark never rots: `python -m bench --scale county` runs on SQLite and PostgreSQL.

Asserts only that it ran, produced every measurement row (whole processes, in-process figures, imports,
exports, goals) and that the library's figures equal the fair hand-SQL, DuckDB and pandas figures and
every import stored the ledger's rows; never a time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bench.baselines import compare, ranking_rows, target_rows

ROOT = Path(__file__).resolve().parent.parent

REPORTS = ("weekly", "kpis", "targets", "ranking", "unstarted", "period", "trips")
EXPECTED_ROWS = {
    *((f"figure {name}", "fair hand SQL") for name in REPORTS),
    *((f"figure {name}", "DuckDB in memory") for name in REPORTS),
    ("dashboard (kpis+targets+ranking)", "pandas reading .xlsx ledgers"),
    ("dashboard (kpis+targets+ranking)", "pandas reading .csv ledgers"),
    *((f"crm report {name}", "python -m bench.hand (fair hand SQL)") for name in REPORTS),
    *((f"crm report {name}", "pandas over the .xlsx ledgers (process, 3 figures)") for name in ("kpis", "targets")),
    ("crm --help", "python -c pass"),
    ("crm import deals .csv", "executemany floor (process) .csv"),
    ("crm import deals .xlsx", "executemany floor (process) .xlsx"),
    ("crm export deals .xlsx", "one SELECT + openpyxl write-only (process)"),
    ("crm export deals .csv", "one SELECT + csv module (process)"),
    ("import arrivals .xlsx (in-process)", "calamine read of the .xlsx"),
}
ARRIVAL_FLOORS = {"sqlite": "executemany floor (process) .csv", "postgresql": "COPY floor (process) .csv"}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_county_benchmark_runs_and_figures_equal_the_baselines(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """One backend a test, so that the two test workers run the two benchmarks side by side."""
    pg = ["--pg-url", request.getfixturevalue("postgres_url")] if backend == "postgresql" else []
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--scale",
            "county",
            "--backend",
            backend,
            "--repeats",
            "1",
            *pg,
            "--data-dir",
            str(tmp_path / "data"),
            "--out-dir",
            str(out),
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "results-county.json").read_text())
    # library = hand SQL = DuckDB = pandas (counts and yuan exactly), and every import stored the
    # ledger's rows (the deals import the same deals, investors and audit rows as the floor)
    assert result["mismatches"] == []
    assert result["failures"] == []
    rows = result["rows"]
    assert {r["backend"] for r in rows} == {backend}
    floor = ARRIVAL_FLOORS[backend]
    have = {(r["measurement"], r["baseline"]) for r in rows}
    expected = EXPECTED_ROWS | {("crm import arrivals .csv", floor), ("crm import arrivals .xlsx", floor)}
    assert expected <= have, f"{backend}: missing rows {sorted(expected - have)}"
    compared = [
        r for r in rows if r["baseline"] in ("fair hand SQL", "DuckDB in memory") or "pandas reading" in r["baseline"]
    ]
    assert len(compared) == 2 * len(REPORTS) + 2
    assert all(r["note"] == "figures equal" for r in compared), [r for r in compared if r["note"] != "figures equal"]
    processes = [r for r in rows if r["measurement"].startswith(("crm ", "figure "))]
    assert all(r["library_s"] is not None for r in processes), "a library measurement was not available"
    assert all(r["library_mb"] for r in rows if r["measurement"].startswith("crm ")), "a peak RSS is missing"
    goals = result["goals"]
    assert goals and {g["status"] for g in goals} <= {"met", "MISSED", "not measured"}
    assert any(g["goal"].startswith("crm import deals .csv ≤ 3×") for g in goals)
    written = (out / "results-county.md").read_text()
    for part in ("**Commit**", "**Machine**", "**Load**", "## Goals of issue #19", "### county"):
        assert part in written
    assert backend != "postgresql" or "PostgreSQL" in written
    assert "crm report weekly" in proc.stdout  # the printed table
    assert any(line.startswith(("met ", "MISSED ")) for line in proc.stdout.splitlines())  # the printed goals


def test_compare_tells_text_that_differs() -> None:
    library = pd.DataFrame({"last_unit": ["甲镇"], "signed": [3]})
    baseline = pd.DataFrame({"last_unit": ["乙镇"], "signed": [3]})
    from bench import baselines

    keys = {"weekly": (["_row"], ["last_unit", "signed"], [])}
    saved = baselines.COMPARE
    baselines.COMPARE = {**saved, **keys}
    try:
        assert baselines.compare("weekly", library, library.copy(), against="itself") == []
        problems = baselines.compare("weekly", library, baseline, against="b")
    finally:
        baselines.COMPARE = saved
    assert len(problems) == 1 and "last_unit" in problems[0] and "乙镇" in problems[0]


def test_compare_reports_a_count_a_money_and_a_rate_that_differ() -> None:
    library = pd.DataFrame(
        {
            "industry": ["光伏发电", "装备制造"],
            "signing_year": [2025, 2025],
            "signed": [3, 2],
            "started": [2, 1],
            "in_production": [1, 0],
            "terminated": [0, 1],
            "contracted_yuan": [300, 200],
            "arrived_yuan": [30, 20],
            "fulfillment_rate": [2 / 3, 0.5],
            "capital_arrival_rate": [0.1, 0.1],
            "completion_rate": [0.5, 0.0],
        }
    )
    assert compare("kpis", library, library.copy(), against="itself") == []
    baseline = library.copy()
    baseline.loc[0, "signed"] = 4
    baseline.loc[1, "arrived_yuan"] = 21
    baseline.loc[1, "fulfillment_rate"] = 0.5 + 1e-6
    problems = compare("kpis", library, baseline, against="b")
    assert len(problems) == 3
    assert any("signed of ('光伏发电', '2025')" in p for p in problems)
    assert any("arrived_yuan" in p and "21" in p for p in problems)
    assert any("fulfillment_rate" in p for p in problems)
    assert compare("kpis", library, baseline.iloc[:1], against="b")[0] == (
        "kpis vs b: 2 rows in the library, 1 in the baseline"
    )


def test_target_rows_credit_ended_quarters_whole_and_the_current_one_by_elapsed_days() -> None:
    # as of 2026-08-20: Q1 + Q2 ended (100 + 200); Q3 has 51 of 92 days elapsed: 300 × 51/92 = 166.3 -> 166
    targets = pd.DataFrame(
        {
            "metric": ["arrived_yuan"] * 5,
            "scope": ["county"] * 5,
            "period_kind": ["year", "quarter", "quarter", "quarter", "quarter"],
            "period_start": [date(2026, 1, 1), date(2026, 1, 1), date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 1)],
            "amount": [1000, 100, 200, 300, 400],
            "growth": [0.1, None, None, None, None],
        }
    )
    actuals = {("arrived_yuan", "county"): [500, 400, 150, 100, 0, 0]}
    rows = target_rows(targets, actuals, date(2026, 8, 20)).set_index("period")
    assert rows.loc["2026", "target_to_date"] == 100 + 200 + 166
    assert rows.loc["2026", "gap"] == 466 - 500
    assert rows.loc["2026", "completion"] == 0.5
    assert rows.loc["2026", "yoy"] == 0.25
    assert rows.loc["2026", "growth_gap"] == pytest.approx(15.0)
    assert rows.loc["2026Q3", "target_to_date"] == 166
    assert rows.loc["2026Q3", "time_progress"] == 51 / 92


def test_ranking_rows_order_by_completion_then_amount_and_flag_the_last() -> None:
    units = pd.DataFrame(
        {"name": ["甲镇", "乙镇", "丙镇"], "amount": pd.array([100, 200, 100], dtype="Int64"), "actual": [50, 100, 40]}
    )
    ranked = ranking_rows(units, date(2026, 12, 31))
    assert list(ranked["name"]) == ["乙镇", "甲镇", "丙镇"]  # 0.5 with 100 before 0.5 with 50
    assert list(ranked["rank"]) == [1, 2, 3]
    assert list(ranked["last"]) == [False, False, True]
    assert list(ranked["target_to_date"]) == [200, 100, 100]


def test_write_refuses_a_dirty_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import measure

    monkeypatch.setattr(measure, "git_state", lambda: {"commit": "abc", "subject": "s", "dirty": [" M crm/x.py"]})
    monkeypatch.setattr(measure, "run", lambda args: pytest.fail("ran on a dirty tree"))
    target = tmp_path / "RESULTS.md"
    assert measure.main(["--write", str(target), "--out-dir", str(tmp_path)]) == 2
    assert not target.exists()

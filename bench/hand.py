"""The fair hand-written SQL of every measured report, with no pandas: what a programmer would write.

``python -m bench.hand REPORT URL AS_OF`` runs the statements of one report with the bare driver
(sqlite3 or psycopg) and prints the rows: the whole-process baseline of ``crm report REPORT``.
``bench.baselines`` turns the same rows into the library's figures for the equality checks.

Fair means the same shape of work as the library: money is summed per deal first (arrivals per
root deal, increases per parent) and then grouped; a report that shows counts counts in SQL.
The rules are the library's defaults (crm.metrics): states as of as_of from the dates; a deal
replaced by a reassignment is left out; a capital increase adds to its parent deal; units are
credited through the credited unit, else the responsible unit.
"""

from __future__ import annotations

import calendar
import sys
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

YELLOW_DAYS, RED_DAYS = 90, 180  # crm.deals.DEFAULT_THRESHOLDS

Statement = tuple[str, dict[str, Any]]


class Sql:
    """A raw DBAPI connection (sqlite3, psycopg or duckdb) and how to write dialect-specific bits."""

    def __init__(self, connection: Any, dialect: str) -> None:
        self.connection = connection
        self.dialect = dialect

    def year(self, column: str) -> str:
        if self.dialect == "sqlite":
            return f"CAST(strftime('%Y', {column}) AS INTEGER)"
        return f"CAST(EXTRACT(YEAR FROM {column}) AS INTEGER)"

    def run(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        if self.dialect == "sqlite":
            values = {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()}
            return self.connection.execute(sql, values).fetchall()
        names = sorted(params, key=len, reverse=True)
        if self.dialect == "duckdb":
            for name in names:
                sql = sql.replace(f":{name}", f"${name}")
            used = {k: v for k, v in params.items() if f"${k}" in sql}
            return self.connection.execute(sql, used).fetchall()
        sql = sql.replace("%", "%%")
        for name in names:
            sql = sql.replace(f":{name}", f"%({name})s")
        with self.connection.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        self.connection.rollback()
        return rows


def connect(url: str) -> Sql:
    if url.startswith("sqlite"):
        import sqlite3

        return Sql(sqlite3.connect(url.split("///", 1)[1]), "sqlite")
    import psycopg

    return Sql(psycopg.connect("postgresql://" + url.split("://", 1)[1]), "postgresql")


# ---------------------------------------------------------------- periods (independent of crm.targets)


def last_year(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def period_end(kind: str, start: date) -> date:
    months = {"year": 12, "quarter": 3, "month": 1}[kind]
    last = start.month + months - 1
    return date(start.year, last, calendar.monthrange(start.year, last)[1])


def current_periods(as_of: date) -> list[tuple[str, date]]:
    q = date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
    return [("year", date(as_of.year, 1, 1)), ("quarter", q), ("month", as_of.replace(day=1))]


def windows(as_of: date) -> list[tuple[date, date]]:
    """(start, end) of the year, quarter and month up to as_of, each followed by the same days last year."""
    out = []
    for kind, start in current_periods(as_of):
        end = min(as_of, period_end(kind, start))
        out += [(start, end), (last_year(start), last_year(end))]
    return out


def week_start(as_of: date) -> date:
    return as_of - timedelta(days=as_of.weekday())


# ---------------------------------------------------------------- statements

NOT_REPLACED = "NOT EXISTS (SELECT 1 FROM deal r WHERE r.replaces_id = d.id AND r.signed_on <= :as_of)"
COHORT = f"d.increases_id IS NULL AND d.signed_on <= :as_of AND {NOT_REPLACED}"
UNIT_KEY = "COALESCE(d.credited_unit_id, d.unit_id)"


def kpis_sql(db: Sql, as_of: date, *, grouped: bool = True) -> Statement:
    """Per deal first (its increases' and its arrivals' sums, each grouped once), then by industry × year."""
    # The CAST gives the per-root arrival sums a column SQLite can index: on a bare COALESCE it scans
    # the materialized sums once per deal (deals × roots; 7 s instead of 0.1 s at city scale).
    year = db.year("d.signed_on")
    keys = f"i.name, {year}" if grouped else "NULL, NULL"
    sql = f"""
    SELECT {keys}, COUNT(*),
           SUM(CASE WHEN d.terminated_on <= :as_of THEN 0 WHEN d.started_on <= :as_of THEN 1 ELSE 0 END),
           SUM(CASE WHEN d.terminated_on <= :as_of THEN 0 WHEN d.completed_on <= :as_of THEN 1 ELSE 0 END),
           SUM(CASE WHEN d.terminated_on <= :as_of THEN 1 ELSE 0 END),
           SUM(d.contracted_yuan + COALESCE(inc.yuan, 0)), SUM(COALESCE(arr.yuan, 0))
    FROM deal d
    LEFT JOIN (SELECT m.increases_id AS root_id, SUM(m.contracted_yuan) AS yuan FROM deal m
               WHERE m.increases_id IS NOT NULL AND m.signed_on <= :as_of GROUP BY m.increases_id) inc
           ON inc.root_id = d.id
    LEFT JOIN (SELECT CAST(COALESCE(m.increases_id, m.id) AS INTEGER) AS root_id, SUM(c.arrived_yuan) AS yuan
               FROM capital_arrival c JOIN deal m ON m.id = c.deal_id
               WHERE c.arrived_on <= :as_of GROUP BY COALESCE(m.increases_id, m.id)) arr
           ON arr.root_id = d.id
    LEFT JOIN industry i ON i.id = d.industry_id
    WHERE {COHORT}
    {f"GROUP BY i.name, {year} ORDER BY i.name, {year}" if grouped else ""}
    """
    return sql, {"as_of": as_of}


def _window_sums(column: str, value: str, as_of: date) -> tuple[str, dict[str, date]]:
    params: dict[str, date] = {}
    parts = []
    for i, (start, end) in enumerate(windows(as_of)):
        params[f"w{i}s"], params[f"w{i}e"] = start, end
        parts.append(f"SUM(CASE WHEN {column} BETWEEN :w{i}s AND :w{i}e THEN {value} ELSE 0 END)")
    return ", ".join(parts), params


def targets_sql(as_of: date, *, county_only: bool = False) -> Statement:
    """Targets of as_of's year with their actuals: one statement (targets UNION ALL window sums per unit)."""
    arrived, params = _window_sums("c.arrived_on", "c.arrived_yuan", as_of)
    signed, _ = _window_sums("m.signed_on", "CASE WHEN m.increases_id IS NULL THEN 1 ELSE 0 END", as_of)
    started, _ = _window_sums("m.started_on", "CASE WHEN m.increases_id IS NULL THEN 1 ELSE 0 END", as_of)
    contracted, _ = _window_sums("m.signed_on", "m.contracted_yuan", as_of)
    nulls6 = ", ".join(["NULL"] * 6)
    lo = min(s for s, _ in windows(as_of))
    params.update(as_of=as_of, lo=lo, hi=as_of, y0=date(as_of.year, 1, 1), y1=date(as_of.year, 12, 31))
    key = "'county'" if county_only else f"CAST({UNIT_KEY} AS VARCHAR(16))"
    group = "" if county_only else f"GROUP BY {UNIT_KEY}"
    scope = "AND t.scope_kind = 'county'" if county_only else ""
    deals_from = "FROM deal m JOIN deal d ON d.id = COALESCE(m.increases_id, m.id) WHERE d.signed_on <= :hi"
    sql = f"""
    SELECT 'target', t.metric, t.period_kind, t.period_start, COALESCE(u.name, p.name, 'county'), t.amount,
           t.growth, {nulls6}
    FROM target t LEFT JOIN unit u ON u.id = t.unit_id LEFT JOIN person p ON p.id = t.leader_id
    WHERE t.period_start BETWEEN :y0 AND :y1 {scope}
    UNION ALL
    SELECT 'arrived_yuan', NULL, NULL, NULL, {key}, NULL, NULL, {arrived}
    FROM capital_arrival c JOIN deal m ON m.id = c.deal_id JOIN deal d ON d.id = COALESCE(m.increases_id, m.id)
    WHERE c.arrived_on BETWEEN :lo AND :hi AND {NOT_REPLACED}
    {group}
    UNION ALL
    SELECT 'deals_signed', NULL, NULL, NULL, {key}, NULL, NULL, {signed}
    {deals_from} AND {NOT_REPLACED} {group}
    UNION ALL
    SELECT 'deals_started', NULL, NULL, NULL, {key}, NULL, NULL, {started}
    {deals_from} AND {NOT_REPLACED} {group}
    UNION ALL
    SELECT 'contracted_yuan', NULL, NULL, NULL, {key}, NULL, NULL, {contracted}
    {deals_from} AND {NOT_REPLACED} {group}
    """
    return sql, params


def ranking_sql(as_of: date, by: str = "unit") -> Statement:
    """Year targets of the units (or leaders) and the year's arrivals per credited unit (or leader), one pass."""
    if by == "unit":
        key, scope, names = UNIT_KEY, "t.unit_id", "unit"
    else:
        key, scope, names = "d.leader_id", "t.leader_id", "person"
    sql = f"""
    SELECT u.name, x.amount, x.actual
    FROM (
        SELECT owner_id, SUM(amount) AS amount, SUM(actual) AS actual FROM (
            SELECT {scope} AS owner_id, t.amount AS amount, 0 AS actual FROM target t
            WHERE t.metric = 'arrived_yuan' AND t.scope_kind = '{by}' AND t.period_kind = 'year'
              AND t.period_start = :y0
            UNION ALL
            SELECT {key}, NULL, c.arrived_yuan
            FROM capital_arrival c JOIN deal m ON m.id = c.deal_id JOIN deal d ON d.id = COALESCE(m.increases_id, m.id)
            WHERE c.arrived_on BETWEEN :y0 AND :as_of AND {NOT_REPLACED}
        ) y WHERE owner_id IS NOT NULL GROUP BY owner_id
    ) x JOIN {names} u ON u.id = x.owner_id
    """
    return sql, {"as_of": as_of, "y0": date(as_of.year, 1, 1)}


def period_sql(start: date, end: date) -> Statement:
    """Signed, started, in production, terminated (root deals), contracted and arrived yuan in [start, end]."""
    inside = "BETWEEN :s AND :e"
    root = "m.increases_id IS NULL"
    sql = f"""
    SELECT SUM(x.signed), SUM(x.started), SUM(x.done), SUM(x.ended), SUM(x.contracted), SUM(x.arrived)
    FROM (
        SELECT COALESCE(m.increases_id, m.id) AS root_id,
               CASE WHEN {root} AND m.signed_on {inside} THEN 1 ELSE 0 END AS signed,
               CASE WHEN {root} AND m.started_on {inside} THEN 1 ELSE 0 END AS started,
               CASE WHEN {root} AND m.completed_on {inside} THEN 1 ELSE 0 END AS done,
               CASE WHEN {root} AND m.terminated_on {inside} THEN 1 ELSE 0 END AS ended,
               CASE WHEN m.signed_on {inside} THEN m.contracted_yuan ELSE 0 END AS contracted, 0 AS arrived
        FROM deal m
        WHERE m.signed_on {inside} OR ({root} AND (m.started_on {inside} OR m.completed_on {inside}
                                                   OR m.terminated_on {inside}))
        UNION ALL
        SELECT COALESCE(m.increases_id, m.id), 0, 0, 0, 0, 0, a.yuan
        FROM (SELECT c.deal_id AS deal_id, SUM(c.arrived_yuan) AS yuan FROM capital_arrival c
              WHERE c.arrived_on {inside} GROUP BY c.deal_id) a JOIN deal m ON m.id = a.deal_id
    ) x JOIN deal d ON d.id = x.root_id
    WHERE d.increases_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM deal r WHERE r.replaces_id = d.id AND r.signed_on <= :e)
    """
    return sql, {"s": start, "e": end}


def unstarted_sql(as_of: date) -> Statement:
    """The signed-but-unstarted deals, oldest first, with their names and size (contract plus increases)."""
    sql = f"""
    SELECT d.id, d.project_name, v.name, i.name, d.signed_on, u.name, p.name,
           d.contracted_yuan + COALESCE(inc.yuan, 0)
    FROM deal d
    JOIN investor v ON v.id = d.investor_id
    LEFT JOIN industry i ON i.id = d.industry_id
    LEFT JOIN unit u ON u.id = d.unit_id
    LEFT JOIN person p ON p.id = d.leader_id
    LEFT JOIN (SELECT m.increases_id AS root_id, SUM(m.contracted_yuan) AS yuan FROM deal m
               WHERE m.increases_id IS NOT NULL AND m.signed_on <= :as_of GROUP BY m.increases_id) inc
           ON inc.root_id = d.id
    WHERE {COHORT} AND (d.started_on IS NULL OR d.started_on > :as_of)
      AND (d.terminated_on IS NULL OR d.terminated_on > :as_of)
    ORDER BY d.signed_on, d.id
    """
    return sql, {"as_of": as_of}


def unstarted_levels_sql(as_of: date) -> Statement:
    """Count only, as the 通报 shows: red, yellow, green by days since signing."""
    sql = f"""
    SELECT SUM(CASE WHEN d.signed_on <= :red THEN 1 ELSE 0 END),
           SUM(CASE WHEN d.signed_on > :red AND d.signed_on <= :yellow THEN 1 ELSE 0 END),
           SUM(CASE WHEN d.signed_on > :yellow THEN 1 ELSE 0 END)
    FROM deal d
    WHERE {COHORT} AND (d.started_on IS NULL OR d.started_on > :as_of)
      AND (d.terminated_on IS NULL OR d.terminated_on > :as_of)
    """
    return sql, {
        "as_of": as_of,
        "red": as_of - timedelta(days=RED_DAYS),
        "yellow": as_of - timedelta(days=YELLOW_DAYS),
    }


def trips_sql(as_of: date) -> Statement:
    """Per trip: visits held, leads from them, the kpis cohort of the deals signed from those leads, and cost."""
    sql = f"""
    SELECT t.id, t.month, s.name, COALESCE(vc.n, 0), COALESCE(lc.n, 0), COALESCE(mo.signed, 0),
           COALESCE(mo.contracted, 0), COALESCE(mo.arrived, 0), COALESCE(t.spent_yuan, t.budget_yuan)
    FROM trip t JOIN squad s ON s.id = t.squad_id
    LEFT JOIN (SELECT v.trip_id AS trip_id, COUNT(*) AS n FROM visit v WHERE v.status = 'done' GROUP BY v.trip_id) vc
           ON vc.trip_id = t.id
    LEFT JOIN (SELECT v.trip_id AS trip_id, COUNT(*) AS n FROM lead l JOIN visit v ON v.id = l.visit_id
               GROUP BY v.trip_id) lc ON lc.trip_id = t.id
    LEFT JOIN (
        SELECT fl.trip_id AS trip_id, COUNT(*) AS signed, SUM(d.contracted_yuan + COALESCE(inc.yuan, 0)) AS contracted,
               SUM(COALESCE(arr.yuan, 0)) AS arrived
        FROM (SELECT DISTINCT v.trip_id AS trip_id, l.deal_id AS deal_id FROM lead l JOIN visit v ON v.id = l.visit_id
              WHERE l.deal_id IS NOT NULL) fl
        JOIN deal d ON d.id = fl.deal_id
        LEFT JOIN (SELECT m.increases_id AS root_id, SUM(m.contracted_yuan) AS yuan FROM deal m
                   WHERE m.increases_id IS NOT NULL AND m.signed_on <= :as_of GROUP BY m.increases_id) inc
               ON inc.root_id = d.id
        LEFT JOIN (SELECT CAST(COALESCE(m.increases_id, m.id) AS INTEGER) AS root_id, SUM(c.arrived_yuan) AS yuan
                   FROM capital_arrival c JOIN deal m ON m.id = c.deal_id
                   WHERE c.arrived_on <= :as_of GROUP BY COALESCE(m.increases_id, m.id)) arr
               ON arr.root_id = d.id
        WHERE {COHORT}
        GROUP BY fl.trip_id
    ) mo ON mo.trip_id = t.id
    ORDER BY t.month, t.id
    """
    return sql, {"as_of": as_of}


def period_range(as_of: date) -> tuple[date, date]:
    """The period ``crm report period`` is measured on: the year to as_of."""
    return date(as_of.year, 1, 1), as_of


def statements(report: str, db: Sql, as_of: date) -> dict[str, Statement]:
    """The statements of one report by name (a report's figures come from these rows)."""
    if report == "kpis":
        return {"kpis": kpis_sql(db, as_of)}
    if report == "targets":
        return {"targets": targets_sql(as_of)}
    if report == "ranking":
        return {"ranking": ranking_sql(as_of, "unit")}
    if report == "unstarted":
        return {"unstarted": unstarted_sql(as_of)}
    if report == "period":
        start, end = period_range(as_of)
        return {"this": period_sql(start, end), "last": period_sql(last_year(start), last_year(end))}
    if report == "trips":
        return {"trips": trips_sql(as_of)}
    if report == "weekly":
        start = week_start(as_of)
        return {
            "kpis": kpis_sql(db, as_of, grouped=False),
            "targets": targets_sql(as_of, county_only=True),
            "period": period_sql(start, as_of),
            "period_last": period_sql(last_year(start), last_year(as_of)),
            "units": ranking_sql(as_of, "unit"),
            "leaders": ranking_sql(as_of, "leader"),
            "levels": unstarted_levels_sql(as_of),
        }
    raise KeyError(report)


HAND_REPORTS = ("weekly", "kpis", "targets", "ranking", "unstarted", "period", "trips")


def run_report(report: str, db: Sql, as_of: date) -> dict[str, list[tuple[Any, ...]]]:
    return {name: db.run(sql, params) for name, (sql, params) in statements(report, db, as_of).items()}


def main(argv: list[str]) -> int:
    """Run one report's statements and print every row (the whole-process baseline)."""
    report, url, as_of = argv
    db = connect(url)
    out: Callable[[str], Any] = sys.stdout.write
    for name, rows in run_report(report, db, date.fromisoformat(as_of)).items():
        out(f"{name}: {len(rows)} rows\n")
        for row in rows:
            out("\t".join("" if v is None else str(v) for v in row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

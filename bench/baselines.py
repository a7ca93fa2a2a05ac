"""The baselines the library is measured against, computing the library's figures independently.

- ``hand_sql_*``: one hand-written SQL query per figure on the same database (the floor), plus
  a little Python on the few rows it returns (rates, targets to date, ranks);
- ``pandas_figures``: what an analyst does today, pandas reading the deal, arrival and target
  ledgers (.xlsx or .csv) and computing the same figures;
- ``calamine_read``: the .xlsx read alone. The import floors (rows parsed into tuples and
  inserted with the driver's fastest path) are in ``bench.floor``, which loads no pandas.

The rules are the library's (crm.metrics docstrings): states as of as_of from the dates; a
deal replaced by a reassignment is left out; a capital increase adds to its parent deal;
units are credited through the credited unit, else the responsible unit; completion is
actual ÷ the period's target; the target to date credits each day at the daily rate of the
finest target covering it, rounded half up. Money is integer yuan throughout.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from bench.hand import (
    RED_DAYS,
    YELLOW_DAYS,
    Sql,
    kpis_sql,
    ranking_sql,
    run_report,
    targets_sql,
    trips_sql,
    unstarted_sql,
)
from bench.hand import current_periods as _current_periods
from bench.hand import period_end as _period_end
from bench.hand import windows as _windows

KPI_KEYS = ["industry", "signing_year"]
KPI_EXACT = ["signed", "started", "in_production", "terminated", "contracted_yuan", "arrived_yuan"]
KPI_RATES = ["fulfillment_rate", "capital_arrival_rate", "completion_rate"]
TARGET_KEYS = ["metric", "scope", "period"]
TARGET_EXACT = ["target", "target_to_date", "actual", "gap", "last_year", "yoy_diff"]
TARGET_RATES = ["completion", "time_progress", "yoy", "growth_target", "growth_gap"]
RANK_KEYS = ["name"]
RANK_EXACT = ["rank", "target", "target_to_date", "actual", "last"]
RANK_RATES = ["completion"]
COMPARE = {
    "kpis": (KPI_KEYS, KPI_EXACT, KPI_RATES),
    "targets": (TARGET_KEYS, TARGET_EXACT, TARGET_RATES),
    "ranking": (RANK_KEYS, RANK_EXACT, RANK_RATES),
    "weekly": (
        ["_row"],
        [
            "signed",
            "started",
            "in_production",
            "terminated",
            "arrived_yuan",
            "gap",
            "unstarted",
            "red",
            "yellow",
            "green",
            "last_unit",
            "last_leader",
            "period_signed",
            "period_started",
            "period_in_production",
            "period_terminated",
            "period_contracted_yuan",
            "period_arrived_yuan",
        ],
        ["yoy", "growth_gap", "fulfillment", "arrival", "completion", "period_arrived_yoy"],
    ),
    "unstarted": (["deal_id"], ["project_name", "signed_on", "age_days", "level", "size_yuan"], []),
    "trips": (
        ["trip_id"],
        ["squad", "visits", "leads", "signed", "contracted_yuan", "arrived_yuan", "cost_yuan", "cost_per_signed_yuan"],
        [],
    ),
    "period": (
        ["_row"],
        [
            f"{n}{s}"
            for n in ("signed", "started", "in_production", "terminated", "contracted_yuan", "arrived_yuan")
            for s in ("", "_last_year", "_diff")
        ],
        [f"{n}_yoy" for n in ("signed", "started", "in_production", "terminated", "contracted_yuan", "arrived_yuan")],
    ),
}
METRICS = ("arrived_yuan", "contracted_yuan", "deals_signed", "deals_started")


# ---------------------------------------------------------------- periods (independent of crm.targets)


def _label(kind: str, start: date) -> str:
    if kind == "year":
        return str(start.year)
    if kind == "quarter":
        return f"{start.year}Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02d}"


def _days(kind: str, start: date) -> int:
    return (_period_end(kind, start) - start).days + 1


def _elapsed(kind: str, start: date, as_of: date) -> int:
    return max(0, min((as_of - start).days + 1, _days(kind, start)))


def _due_by(amounts: dict[tuple[str, date], int], until: date) -> int | None:
    """Target due by `until`: each month credited at the daily rate of the finest target covering it."""
    if not amounts:
        return None
    kinds = {k for k, _ in amounts}
    if kinds == {"year"}:  # the common case in closed form
        num, den = 0, 1
        for (kind, start), amount in amounts.items():
            e, n = _elapsed(kind, start, until), _days(kind, start)
            num, den = num * n + amount * e * den, den * n
        return (2 * num + den) // (2 * den)
    from fractions import Fraction

    total = Fraction(0)
    for year in sorted({s.year for _, s in amounts}):
        for month in range(1, 13):
            m_start = date(year, month, 1)
            e = _elapsed("month", m_start, until)
            if not e:
                continue
            q_start = date(year, 3 * ((month - 1) // 3) + 1, 1)
            for kind, start in (("month", m_start), ("quarter", q_start), ("year", date(year, 1, 1))):
                if (kind, start) in amounts:
                    total += Fraction(amounts[(kind, start)] * e, _days(kind, start))
                    break
    return int((total + Fraction(1, 2)) // 1)


# ---------------------------------------------------------------- figures from actuals (shared post-processing)


def target_rows(targets: pd.DataFrame, actuals: dict[tuple[str, str], list[int]], as_of: date) -> pd.DataFrame:
    """target_progress rows from the year's targets and per-(metric, scope) window sums.

    `targets`: metric, scope, period_kind, period_start, amount, growth (scope 'county' or a unit
    name); `actuals[(metric, scope)]`: sums over `_windows(as_of)` in that order.
    """
    records = []
    periods = _current_periods(as_of)
    for (metric, scope), rows in targets.groupby(["metric", "scope"], sort=True):
        own = {
            (k, s): (a, g)
            for k, s, a, g in zip(
                rows["period_kind"], rows["period_start"], rows["amount"], rows["growth"], strict=True
            )
        }
        for index, (kind, start) in enumerate(periods):
            if kind != "year" and (kind, start) not in own:
                continue
            end = _period_end(kind, start)
            finer = {
                (k, s): int(a)
                for (k, s), (a, _) in own.items()
                if a is not None and not pd.isna(a) and start <= s <= end and _days(k, s) <= _days(kind, start)
            }
            amount, growth = own.get((kind, start), (None, None))
            target = int(amount) if amount is not None and not pd.isna(amount) else _due_by(finer, end)
            to_date = _due_by(finer, min(as_of, end))
            sums = actuals.get((str(metric), str(scope)), [0] * 6)
            actual, last = sums[2 * index], sums[2 * index + 1]
            completion = actual / target if target else None
            yoy = (actual - last) / last if last else None
            growth = None if growth is None or pd.isna(growth) else float(growth)
            records.append(
                {
                    "metric": metric,
                    "scope": scope,
                    "period": _label(kind, start),
                    "target": target,
                    "target_to_date": to_date,
                    "actual": actual,
                    "completion": completion,
                    "time_progress": _elapsed(kind, start, as_of) / _days(kind, start),
                    "gap": None if to_date is None else to_date - actual,
                    "last_year": last,
                    "yoy": yoy,
                    "yoy_diff": actual - last,
                    "growth_target": growth,
                    "growth_gap": None if yoy is None or growth is None else (yoy - growth) * 100,
                }
            )
    return pd.DataFrame.from_records(records)


def ranking_rows(units: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """ranking rows from name, amount (the year target, may be missing) and actual per unit."""
    year_start = date(as_of.year, 1, 1)
    e, n = _elapsed("year", year_start, as_of), _days("year", year_start)
    df = units.copy()
    has = df["amount"].notna()
    amount = df["amount"].fillna(0).astype("int64")
    df["target"] = amount.where(has)
    df["target_to_date"] = ((2 * amount * e + n) // (2 * n)).where(has)
    df["completion"] = (df["actual"] / amount.where(amount != 0)).where(has)
    df = (
        df.assign(_s=df["completion"].fillna(-math.inf))
        .sort_values(["_s", "actual", "name"], ascending=[False, False, True], kind="stable")
        .reset_index(drop=True)
    )
    key = list(zip(df["_s"], df["actual"], strict=True))
    ranks: list[int] = []
    for i, k in enumerate(key):
        ranks.append(ranks[-1] if i and k == key[i - 1] else i + 1)
    df["rank"] = ranks
    df["last"] = (df["rank"] == max(ranks)) & (max(ranks) > 1) if ranks else False
    return df[["rank", "name", "target", "target_to_date", "actual", "completion", "last"]]


def kpi_rates(df: pd.DataFrame) -> pd.DataFrame:
    def ratio(a: pd.Series, b: pd.Series) -> pd.Series:
        b = b.astype("float64")
        return a.astype("float64") / b.where(b != 0)

    df["fulfillment_rate"] = ratio(df["started"], df["signed"])
    df["capital_arrival_rate"] = ratio(df["arrived_yuan"], df["contracted_yuan"])
    df["completion_rate"] = ratio(df["in_production"], df["started"])
    return df


# ---------------------------------------------------------------- hand-written SQL (the floor): bench.hand's rows


def hand_sql_kpis(db: Sql, as_of: date) -> pd.DataFrame:
    """Per deal first, then grouped by industry × signing year (bench.hand.kpis_sql)."""
    sql, params = kpis_sql(db, as_of)
    df = pd.DataFrame(db.run(sql, params), columns=[*KPI_KEYS, *KPI_EXACT])
    df[KPI_EXACT] = df[KPI_EXACT].astype("int64")
    return kpi_rates(df)


def _targets_from_rows(db: Sql, rows: list[tuple[Any, ...]], as_of: date) -> pd.DataFrame:
    targets = pd.DataFrame(
        [r[1:7] for r in rows if r[0] == "target"],
        columns=["metric", "period_kind", "period_start", "scope", "amount", "growth"],
    )
    targets["period_start"] = [
        v if isinstance(v, date) else date.fromisoformat(str(v)) for v in targets["period_start"]
    ]
    unit_names = dict(db.run("SELECT CAST(id AS VARCHAR(16)), name FROM unit", {}))
    actuals: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        if r[0] == "target":
            continue
        sums = [int(v or 0) for v in r[7:]]
        scopes = ["county"] if r[4] == "county" else ["county", unit_names.get(str(r[4]), str(r[4]))]
        for scope in scopes:
            acc = actuals.setdefault((r[0], scope), [0] * 6)
            for i, v in enumerate(sums):
                acc[i] += v
    return target_rows(targets, actuals, as_of)


def hand_sql_targets(db: Sql, as_of: date) -> pd.DataFrame:
    """Targets of as_of's year with their actuals: one statement (targets UNION ALL window sums per unit)."""
    sql, params = targets_sql(as_of)
    return _targets_from_rows(db, db.run(sql, params), as_of)


def _ranking_from_rows(rows: list[tuple[Any, ...]], as_of: date) -> pd.DataFrame:
    units = pd.DataFrame(
        {
            "name": [r[0] for r in rows],
            "amount": pd.array([None if r[1] is None else int(r[1]) for r in rows], dtype="Int64"),
            "actual": pd.array([int(r[2] or 0) for r in rows], dtype="int64"),
        }
    )
    return ranking_rows(units, as_of)


def hand_sql_ranking(db: Sql, as_of: date) -> pd.DataFrame:
    """Unit year targets and the year's arrivals per credited unit, in one grouped pass."""
    sql, params = ranking_sql(as_of, "unit")
    return _ranking_from_rows(db.run(sql, params), as_of)


PERIOD_ITEMS = ("signed", "started", "in_production", "terminated", "contracted_yuan", "arrived_yuan")


def _period_row(this: tuple[Any, ...], last: tuple[Any, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, name in enumerate(PERIOD_ITEMS):
        a, b = int(this[i] or 0), int(last[i] or 0)
        out[name], out[f"{name}_last_year"], out[f"{name}_diff"] = a, b, a - b
        out[f"{name}_yoy"] = (a - b) / b if b else None
    return out


def hand_sql_period(db: Sql, as_of: date) -> pd.DataFrame:
    """The year to as_of against the same days a year earlier (what ``crm report period`` is run on)."""
    rows = run_report("period", db, as_of)
    return pd.DataFrame([_period_row(rows["this"][0], rows["last"][0])])


def hand_sql_unstarted(db: Sql, as_of: date) -> pd.DataFrame:
    """The signed-but-unstarted list with age and level worked out in Python (bench.hand.unstarted_sql)."""
    sql, params = unstarted_sql(as_of)
    rows = db.run(sql, params)
    df = pd.DataFrame(
        rows, columns=["deal_id", "project_name", "investor", "industry", "signed_on", "unit", "leader", "size_yuan"]
    )
    signed = [v if isinstance(v, date) else date.fromisoformat(str(v)) for v in df["signed_on"]]
    df["age_days"] = [(as_of - d).days for d in signed]
    df["level"] = ["green" if a < YELLOW_DAYS else "yellow" if a < RED_DAYS else "red" for a in df["age_days"]]
    df["size_yuan"] = df["size_yuan"].astype("int64")
    return df


def hand_sql_trips(db: Sql, as_of: date) -> pd.DataFrame:
    """The trips' funnel by trip (bench.hand.trips_sql); cost per signed deal rounded half up in Python."""
    sql, params = trips_sql(as_of)
    columns = ["trip_id", "month", "squad", "visits", "leads", "signed", "contracted_yuan", "arrived_yuan", "cost_yuan"]
    df = pd.DataFrame(db.run(sql, params), columns=columns)
    df["cost_per_signed_yuan"] = [
        None if cost is None or not signed else (2 * int(cost) + int(signed)) // (2 * int(signed))
        for cost, signed in zip(df["cost_yuan"], df["signed"], strict=True)
    ]
    return df


def hand_sql_weekly(db: Sql, as_of: date) -> pd.DataFrame:
    """The numbers of the weekly 通报's lead paragraph (crm.bulletin.bulletin ``numbers``), one row."""
    rows = run_report("weekly", db, as_of)
    k = rows["kpis"][0]
    signed, started, done, ended, contracted, arrived_all = (int(v or 0) for v in k[2:])
    targets = _targets_from_rows(db, rows["targets"], as_of)
    year = targets[(targets["metric"] == "arrived_yuan") & (targets["period"] == str(as_of.year))]

    def first(column: str) -> Any:
        if not len(year):
            return None
        value = year[column].iloc[0]
        return None if value is None or pd.isna(value) else value

    def last_of(ranked: pd.DataFrame) -> str | None:
        return "、".join(ranked.loc[ranked["last"].astype(bool), "name"]) or None

    red, yellow, green = (int(v or 0) for v in rows["levels"][0])
    numbers: dict[str, Any] = {
        "signed": signed,
        "started": started,
        "in_production": done,
        "terminated": ended,
        "arrived_yuan": first("actual"),
        "yoy": first("yoy"),
        "gap": first("gap"),
        "growth_gap": first("growth_gap"),
        "fulfillment": started / signed if signed else None,
        "arrival": arrived_all / contracted if contracted else None,
        "completion": done / started if started else None,
        "unstarted": red + yellow + green,
        "red": red,
        "yellow": yellow,
        "green": green,
        "last_unit": last_of(_ranking_from_rows(rows["units"], as_of)),
        "last_leader": last_of(_ranking_from_rows(rows["leaders"], as_of)),
    }
    period = _period_row(rows["period"][0], rows["period_last"][0])
    for name in PERIOD_ITEMS:
        numbers[f"period_{name}"] = period[name]
    numbers["period_arrived_yoy"] = period["arrived_yuan_yoy"]
    return pd.DataFrame([numbers])


def hand_sql_figures(db: Sql, as_of: date) -> dict[str, pd.DataFrame]:
    return {name: fn(db, as_of) for name, fn in HAND_SQL.items()}


HAND_SQL: dict[str, Callable[[Sql, date], pd.DataFrame]] = {
    "kpis": hand_sql_kpis,
    "targets": hand_sql_targets,
    "ranking": hand_sql_ranking,
    "weekly": hand_sql_weekly,
    "unstarted": hand_sql_unstarted,
    "period": hand_sql_period,
    "trips": hand_sql_trips,
}

# ---------------------------------------------------------------- pandas over the ledgers (what analysts do today)


def read_ledger(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"是否核实": "string"})
    return pd.read_excel(path, engine="calamine")


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s.replace("", None), errors="coerce")


def pandas_figures(directory: Path, ext: str, as_of: date) -> dict[str, pd.DataFrame]:
    """The three figures from the ledgers in `directory` (deals, arrivals, targets .`ext`)."""
    deals = read_ledger(directory / f"deals.{ext}")
    arrivals = read_ledger(directory / f"arrivals.{ext}")
    targets = read_ledger(directory / f"targets.{ext}")
    return pandas_compute(deals, arrivals, targets, as_of)


def pandas_compute(
    deals: pd.DataFrame, arrivals: pd.DataFrame, targets: pd.DataFrame, as_of: date
) -> dict[str, pd.DataFrame]:
    cut = pd.Timestamp(as_of)
    key = ["项目名称", "投资方名称"]
    signed = _dates(deals["签约日期"])
    started_on, done_on, ended_on = (_dates(deals[c]) for c in ("开工时间", "竣工投产时间", "终止时间"))
    terminated = ended_on <= cut
    d = pd.DataFrame(
        {
            "项目名称": deals["项目名称"],
            "投资方名称": deals["投资方名称"],
            "industry": deals["所属行业"],
            "unit": deals["责任单位"],
            "signed_on": signed,
            "signing_year": signed.dt.year,
            "started": ((started_on <= cut) & ~terminated).astype("int64"),
            "in_production": ((done_on <= cut) & ~terminated).astype("int64"),
            "terminated": terminated.astype("int64"),
            "contracted_yuan": (deals["总投资（万元）"].astype("float64") * 10_000).round().astype("int64"),
            "started_on": started_on,
        }
    )
    a = pd.DataFrame(
        {
            "项目名称": arrivals["项目名称"],
            "投资方名称": arrivals["投资方名称"],
            "arrived_on": _dates(arrivals["到位日期"]),
            "yuan": (arrivals["到位资金（万元）"].astype("float64") * 10_000).round().astype("int64"),
        }
    ).merge(d[[*key, "unit"]], on=key, how="inner", validate="many_to_one")

    # kpis by industry x signing year
    cohort = d[d["signed_on"] <= cut]
    arrived = a[a["arrived_on"] <= cut].groupby(key, sort=False)["yuan"].sum().rename("arrived_yuan")
    cohort = cohort.merge(arrived, left_on=key, right_index=True, how="left")
    cohort["arrived_yuan"] = cohort["arrived_yuan"].fillna(0).astype("int64")
    kpis = (
        cohort.groupby(KPI_KEYS, sort=True)
        .agg(
            signed=("项目名称", "size"),
            started=("started", "sum"),
            in_production=("in_production", "sum"),
            terminated=("terminated", "sum"),
            contracted_yuan=("contracted_yuan", "sum"),
            arrived_yuan=("arrived_yuan", "sum"),
        )
        .reset_index()
    )
    kpis[KPI_EXACT] = kpis[KPI_EXACT].astype("int64")
    kpis = kpi_rates(kpis)

    # actuals per unit and window
    windows = _windows(as_of)
    actuals: dict[tuple[str, str], list[int]] = {}

    def add(metric: str, frame: pd.DataFrame, on: str, value: str | None) -> None:
        for i, (start, end) in enumerate(windows):
            inside = frame[(frame[on] >= pd.Timestamp(start)) & (frame[on] <= pd.Timestamp(end))]
            sums = inside.groupby("unit")[value].sum() if value else inside.groupby("unit").size()
            for scope, v in [("county", int(sums.sum())), *((str(u), int(x)) for u, x in sums.items())]:
                actuals.setdefault((metric, scope), [0] * 6)[i] += v

    add("arrived_yuan", a, "arrived_on", "yuan")
    add("contracted_yuan", d, "signed_on", "contracted_yuan")
    add("deals_signed", d, "signed_on", None)
    add("deals_started", d, "started_on", None)

    t = targets.rename(columns={"指标": "metric", "范围": "scope", "目标": "amount", "增长目标": "growth"})
    t["scope"] = t["scope"].replace({"全县": "county"})
    t["period_kind"] = ["quarter" if "Q" in str(p) else "year" for p in t["期间"]]
    t["period_start"] = [
        date(int(str(p)[:4]), 3 * int(str(p)[5]) - 2, 1) if "Q" in str(p) else date(int(str(p)[:4]), 1, 1)
        for p in t["期间"]
    ]
    t = t[[s.year == as_of.year for s in t["period_start"]]]
    t["amount"] = t["amount"].astype("Int64")
    t["growth"] = t["growth"].astype("float64")
    progress = target_rows(t, actuals, as_of)

    unit_targets = t[(t["metric"] == "arrived_yuan") & (t["scope"] != "county") & (t["period_kind"] == "year")]
    year_actual = {
        scope: sums[0] for (metric, scope), sums in actuals.items() if metric == "arrived_yuan" and scope != "county"
    }
    names = sorted(set(unit_targets["scope"]) | {u for u, v in year_actual.items() if v})
    amounts = dict(zip(unit_targets["scope"], unit_targets["amount"], strict=True))
    units = pd.DataFrame(
        {
            "name": names,
            "amount": pd.array([amounts.get(n) for n in names], dtype="Int64"),
            "actual": [year_actual.get(n, 0) for n in names],
        }
    )
    units["actual"] = units["actual"].astype("int64")
    return {"kpis": kpis, "targets": progress, "ranking": ranking_rows(units, as_of)}


# ---------------------------------------------------------------- comparing figures


def _numeric(s: pd.Series) -> bool:
    values = [v for v in s.tolist() if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _text(v: Any) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, bool):
        return str(v)
    return str(v)


def compare(name: str, library: pd.DataFrame, baseline: pd.DataFrame, *, against: str) -> list[str]:
    """Differences between the library's figure and a baseline's, as plain messages (empty: equal)."""
    keys, exact, rates = COMPARE[name]
    problems: list[str] = []
    if len(library) != len(baseline):
        problems.append(f"{name} vs {against}: {len(library)} rows in the library, {len(baseline)} in the baseline")
    lib = library.copy()
    base = baseline.copy()
    for frame in (lib, base):
        for k in keys:
            frame[k] = list(range(len(frame))) if k == "_row" else frame[k].astype(str)
    merged = lib.merge(base, on=keys, how="outer", suffixes=("", "_b"), indicator=True)
    lonely = merged[merged["_merge"] != "both"]
    for _, row in lonely.head(5).iterrows():
        side = "library" if row["_merge"] == "left_only" else "baseline"
        problems.append(f"{name} vs {against}: group {tuple(row[k] for k in keys)} only in the {side}")
    both = merged[merged["_merge"] == "both"]
    for column in exact:
        a, b = both[column], both[f"{column}_b"]
        if column == "last" or not (_numeric(a) and _numeric(b)):
            differ = a.map(_text) != b.map(_text)
        else:
            differ = ~((a.isna() & b.isna()) | (pd.to_numeric(a, errors="coerce") == pd.to_numeric(b, errors="coerce")))
        for _, row in both[differ].head(3).iterrows():
            problems.append(
                f"{name} vs {against}: {column} of {tuple(row[k] for k in keys)}: library "
                f"{row[column]!r}, baseline {row[f'{column}_b']!r}"
            )
    for column in rates:
        a = pd.to_numeric(both[column], errors="coerce").astype("float64")
        b = pd.to_numeric(both[f"{column}_b"], errors="coerce").astype("float64")
        differ = ~((a.isna() & b.isna()) | ((a - b).abs() <= 1e-9))
        for _, row in both[differ].head(3).iterrows():
            problems.append(
                f"{name} vs {against}: {column} of {tuple(row[k] for k in keys)}: library "
                f"{row[column]!r}, baseline {row[f'{column}_b']!r}"
            )
    return problems


def calamine_read(path: Path) -> int:
    """Read every cell of the first sheet with python-calamine; returns the row count."""
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    return len(rows)


__all__ = [
    "HAND_SQL",
    "Sql",
    "calamine_read",
    "compare",
    "hand_sql_figures",
    "pandas_figures",
]

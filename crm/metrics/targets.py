"""Targets and rankings: progress against targets (目标任务), rankings and scorecards."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import pandas as pd
from sqlalchemy import func, literal, select
from sqlmodel import Session

from crm.errors import InvalidValue
from crm.metrics.common import (
    KEY_OF_SCOPE,
    PERSON,
    TARGET,
    UNIT,
    Actuals,
    Window,
    frame,
    partials,
    resolve_rules,
    window_of,
)
from crm.metrics.reserve import reserve_by_unit
from crm.models import CountingRules, PeriodKind, ScopeKind, TargetMetric
from crm.rules import check_size_bounds, rules_label
from crm.targets import Period, same_day_last_year, target_to_date, time_progress

TARGET_COLUMNS = [
    "metric",
    "scope",
    "period",
    "target",
    "target_to_date",
    "actual",
    "completion",
    "time_progress",
    "gap",
    "last_year",
    "yoy",
    "yoy_diff",
    "growth_target",
    "growth_gap",
    "forecast",
    "forecast_gap",
    "note",
    "rules",
]
RANKING_COLUMNS = ["rank", "name", "target", "target_to_date", "actual", "completion", "last", "note", "rules"]
RANK_BY = ("unit", "leader", "introducer")


def _targets_of_year(session: Session, year: int, metric: str | None = None) -> pd.DataFrame:
    """Target rows of `year` with a readable scope name (tiny: a county sets dozens)."""
    unit = UNIT.alias("t_unit")
    leader = PERSON.alias("t_leader")
    statement = (
        select(
            TARGET.c.metric,
            TARGET.c.period_kind,
            TARGET.c.period_start,
            TARGET.c.scope_kind,
            TARGET.c.scope_key,
            TARGET.c.amount,
            TARGET.c.growth,
            TARGET.c.weight,
            func.coalesce(unit.c.name, leader.c.name, literal("county")).label("scope"),
        )
        .select_from(
            TARGET.outerjoin(unit, unit.c.id == TARGET.c.unit_id).outerjoin(leader, leader.c.id == TARGET.c.leader_id)
        )
        .where(TARGET.c.period_start >= date(year, 1, 1), TARGET.c.period_start <= date(year, 12, 31))
        .order_by(TARGET.c.metric, TARGET.c.scope_key, TARGET.c.period_start)
    )
    if metric is not None:
        statement = statement.where(TARGET.c.metric == metric)
    df = frame(session, statement)
    if not df.empty:
        df["amount"] = [None if pd.isna(a) else int(a) for a in df["amount"]]
        df["period_start"] = [v if isinstance(v, date) else date.fromisoformat(str(v)) for v in df["period_start"]]
    return df


def targets_of_year(session: Session, year: int) -> pd.DataFrame:
    """The targets set for `year`: metric, scope, period (2026 / 2026Q2 / 2026-05), amount, growth, weight."""
    df = _targets_of_year(session, year)
    columns = ["metric", "scope", "period", "amount", "growth", "weight"]
    if df.empty:
        return pd.DataFrame(columns=columns)
    df["period"] = [Period(s, k).label for k, s in zip(df["period_kind"], df["period_start"], strict=True)]
    df["amount"] = df["amount"].astype("Int64")
    return df[columns]


@dataclass(frozen=True)
class _Entry:
    """One target row of a metric and scope."""

    period: Period
    amount: int | None
    growth: float | None
    weight: float | None
    days: int  # of the period


@lru_cache(maxsize=256)
def _span(period: Period) -> tuple[date, int]:
    """(last day, number of days) of a period; a dashboard asks this of the same few periods thousands of times."""
    return period.end, period.days


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _whole(value: Any) -> int | None:
    """A target amount as an int, None when missing: a frame column mixing None and ints holds NaN and floats."""
    return None if value is None or pd.isna(value) else int(value)


def _group_targets(targets: pd.DataFrame) -> dict[tuple[str, str], tuple[str, list[_Entry]]]:
    """Target rows by (metric, scope_key), sorted: the scope's name and its entries, in one pass."""
    groups: dict[tuple[str, str], tuple[str, list[_Entry]]] = {}
    if targets.empty:
        return groups
    columns = ("metric", "scope_key", "scope", "period_kind", "period_start", "amount", "growth", "weight")
    for metric, key, name, kind, start, amount, growth, weight in zip(
        *(targets[c].tolist() for c in columns), strict=True
    ):
        period = Period(start, kind)
        entry = _Entry(period, _whole(amount), _number(growth), _number(weight), _span(period)[1])
        groups.setdefault((str(metric), str(key)), (name, []))[1].append(entry)
    return dict(sorted(groups.items()))


def _entity(scope_key: str) -> int | None:
    """The unit or leader id of a scope key (``unit:12`` -> 12), None for the county."""
    return None if scope_key == "county" else int(scope_key.partition(":")[2])


@dataclass
class _Due:
    """What one scope must reach for one period."""

    period: Period
    target: int | None
    to_date: int | None
    growth: float | None
    weight: float | None
    first_start: date | None  # start of the earliest target period with an amount
    time_progress: float


def _due_by(finer: Sequence[tuple[Period, int]], until: date) -> int | None:
    """crm.targets.target_to_date, in closed form for the common case of one year target.

    amount × elapsed ÷ days rounded half up is exactly what target_to_date sums month by month.
    """
    if len(finer) == 1 and finer[0][0].kind == PeriodKind.year:
        period, amount = finer[0]
        days, elapsed = period.days, period.elapsed_days(until)
        return (2 * amount * elapsed + days) // (2 * days)
    return target_to_date(finer, until)


def _due(entries: Sequence[_Entry], period: Period, as_of: date) -> _Due:
    """Target, target to date and growth of `period` from the target entries of one metric and scope."""
    end, days = _span(period)
    inside = [e for e in entries if period.start <= e.period.start <= end]
    own = next((e for e in inside if e.period == period), None)
    finer = [(e.period, e.amount) for e in inside if e.amount is not None and e.days <= days]
    if own is not None and own.amount is None and own.growth is not None:
        # a growth-only target for this period: no amount, whatever its quarters or months say
        target, to_date = None, None
    else:
        target = own.amount if own is not None and own.amount is not None else _due_by(finer, end)
        to_date = _due_by(finer, min(as_of, end)) if finer else None
    if to_date is not None and as_of < period.start:
        to_date = 0
    growth = None if own is None else own.growth
    weight = next((e.weight for e in inside if e.weight is not None), None)
    first = min((p.start for p, _ in finer), default=None)
    return _Due(period, target, to_date, growth, weight, first, time_progress(period, as_of))


def _completion(actual: int | None, due: _Due, as_of: date) -> tuple[float | None, str]:
    """actual ÷ target of the period, or None with the reason."""
    if due.target is None:
        return None, "growth target only" if due.growth is not None else "no target"
    if due.first_start is not None and as_of < due.first_start:
        return None, f"as of {as_of.isoformat()} is before the first target period ({due.first_start.isoformat()})"
    if due.target == 0:
        return None, "zero target"
    if actual is None:
        return None, "no actual"
    return actual / due.target, ""


def _actuals_by_scope(
    session: Session,
    rs: CountingRules,
    as_of: date,
    windows: Sequence[Window],
    targets: pd.DataFrame,
    bounds: tuple[int | None, int | None] = (None, None),
) -> dict[str, Actuals]:
    """Window sums for every scope kind with targets, one grouped query per kind and table.

    The county's totals come with the first kind's query (every group counts for the county),
    so the county alone costs no query of its own when units or leaders have targets.
    """
    wanted: dict[str, set[str]] = {}
    for kind, metric in set(zip(targets["scope_kind"], targets["metric"], strict=True)):
        if metric != TargetMetric.reserve_yuan:
            wanted.setdefault(str(kind), set()).add(str(metric))
    keyed = [kind for kind in ("unit", "leader") if kind in wanted]
    county = wanted.pop(ScopeKind.county.value, set())
    out: dict[str, Actuals] = {}
    if not keyed:
        out[ScopeKind.county.value] = partials(session, rs, as_of, windows, county, None, *bounds)
        return out
    for index, kind in enumerate(keyed):
        metrics = wanted[kind] | (county if index == 0 else set())
        out[kind] = partials(session, rs, as_of, windows, metrics, KEY_OF_SCOPE[kind], *bounds)
    out[ScopeKind.county.value] = out[keyed[0]]
    return out


def target_progress(
    session: Session,
    *,
    as_of: date,
    year: int | None = None,
    scope: str | None = None,
    rules: str | CountingRules | None = None,
    min_amount: int | None = None,
    max_amount: int | None = None,
) -> pd.DataFrame:
    """Progress against every target of `year` (default: as_of's year) as of `as_of`.

    One row per metric and scope for the year, plus one for the quarter and the month that
    contain as_of when they have targets. actual sums the period up to as_of (reserve_yuan:
    the reserve now); last_year the same days a year earlier. completion = actual ÷ target;
    gap = target_to_date − actual (positive: behind schedule); yoy = (actual − last_year) ÷
    last_year, None when last year is 0; yoy_diff = actual − last_year; growth_gap =
    (yoy − growth_target) in percentage points. `scope`: 'county' or a unit or leader name.

    forecast (预计完成) is the period-end actual projected by last year's seasonal shape (see
    ``forecast_of``): actual ÷ (last year to the same day ÷ last year's whole period), else
    by straight pace (actual ÷ time_progress) when last year is empty; the actual itself once
    the period has ended; None before it begins and for reserve_yuan (a stock, not a flow).
    forecast_gap = target − forecast (positive: expected to fall short). A growth-only target
    has no target amount, so no completion, gap or forecast_gap ("growth target only").

    `min_amount` / `max_amount` (yuan) limit the actuals of the count metrics (deals_signed,
    deals_started) to deals whose size as of `as_of` (contracted amount with its increases)
    is min_amount <= size < max_amount, e.g. a target for 亿元以上 deals started; the
    money metrics are not limited (their rows say so in ``note``).
    """
    check_size_bounds(min_amount, max_amount)
    sized = min_amount is not None or max_amount is not None
    rs = resolve_rules(session, rules)
    year = year or as_of.year
    targets = _targets_of_year(session, year)
    if scope is not None:
        targets = targets[targets["scope"] == scope]
    if targets.empty:
        empty = pd.DataFrame(columns=TARGET_COLUMNS)
        empty.attrs["rules"] = rules_label(rs)
        return empty

    periods: list[Period] = [Period(date(year, 1, 1), PeriodKind.year.value)]
    for kind, start in set(zip(targets["period_kind"], targets["period_start"], strict=True)):
        p = Period(start, kind)
        if kind != PeriodKind.year and p.contains(as_of):
            periods.append(p)
    periods.sort(key=lambda p: (-p.days, p.start))
    # three windows per period: to as_of, last year to the same day, last year's whole period
    windows: list[Window] = []
    for p in periods:
        end = min(as_of, p.end)
        windows.append(window_of(rs, p.start, end))
        windows.append(window_of(rs, same_day_last_year(p.start), same_day_last_year(end)))
        windows.append(window_of(rs, same_day_last_year(p.start), same_day_last_year(p.end)))
    actuals = _actuals_by_scope(session, rs, as_of, windows, targets, (min_amount, max_amount))
    reserve = reserve_by_unit(session) if TargetMetric.reserve_yuan in set(targets["metric"]) else None
    label = rules_label(rs)

    records: list[dict[str, Any]] = []
    for (metric, scope_key), (name, entries) in _group_targets(targets).items():
        scope_kind = scope_key.partition(":")[0]
        entity = _entity(scope_key)
        for index, period in enumerate(periods):
            if period.kind != PeriodKind.year and not any(e.period == period for e in entries):
                continue
            due = _due(entries, period, as_of)
            forecast: int | None = None
            forecast_note = ""
            if metric == TargetMetric.reserve_yuan:
                actual: int | None = None if reserve is None else _reserve_total(reserve, scope_kind, entity)
                last: int | None = None
            elif as_of < period.start:
                actual, last = 0, None
            else:
                sums = actuals[scope_kind]
                actual = sums.get(f"{metric}__{3 * index}", entity)
                last = sums.get(f"{metric}__{3 * index + 1}", entity)
                forecast, forecast_note = forecast_of(
                    actual, last, sums.get(f"{metric}__{3 * index + 2}", entity), period, as_of
                )
            completion, note = _completion(actual, due, as_of)
            size_note = "size bounds apply to counts only" if sized and metric in MONEY_METRIC_NAMES else ""
            note = "; ".join(n for n in (note, forecast_note, size_note) if n)
            yoy = (actual - last) / last if actual is not None and last else None
            if last == 0:
                note = "; ".join(n for n in (note, "no data last year: yoy empty") if n)
            records.append(
                {
                    "metric": metric,
                    "scope": name,
                    "period": period.label,
                    "target": due.target,
                    "target_to_date": due.to_date,
                    "actual": actual,
                    "completion": completion,
                    "time_progress": due.time_progress,
                    "gap": None if due.to_date is None or actual is None else due.to_date - actual,
                    "last_year": last,
                    "yoy": yoy,
                    "yoy_diff": None if last is None or actual is None else actual - last,
                    "growth_target": due.growth,
                    "growth_gap": None if yoy is None or due.growth is None else (yoy - due.growth) * 100,
                    "forecast": forecast,
                    "forecast_gap": None if forecast is None or due.target is None else due.target - forecast,
                    "note": note,
                    "rules": label,
                }
            )
    df = pd.DataFrame.from_records(records, columns=TARGET_COLUMNS)
    for column in ("target", "target_to_date", "actual", "gap", "last_year", "yoy_diff", "forecast", "forecast_gap"):
        df[column] = df[column].astype("Int64")
    for column in ("completion", "yoy", "growth_target", "growth_gap"):
        df[column] = df[column].astype("float64")
    df.attrs["rules"] = label
    df.attrs["as_of"] = as_of
    return df


MONEY_METRIC_NAMES = frozenset(
    {TargetMetric.arrived_yuan.value, TargetMetric.contracted_yuan.value, TargetMetric.reserve_yuan.value}
)

FORECAST_METHOD = (
    "forecast = actual ÷ share of last year's period total reached by the same day; "
    "straight pace (actual ÷ time progress) where last year is empty"
)


def forecast_of(
    actual: int | None, last_to_date: int | None, last_total: int | None, period: Period, as_of: date
) -> tuple[int | None, str]:
    """预计完成: the period-end actual projected from `actual` on `as_of`, and a note when by straight pace.

    Seasonal shape: last year reached `last_to_date` of its whole-period `last_total` by the
    same day, so forecast = actual × last_total ÷ last_to_date. When last year has nothing
    (or nothing yet by that day) the forecast goes at straight pace: actual × days of the
    period ÷ days elapsed. Rounded half up to a whole yuan (or count). Once the period has
    ended the forecast is the actual; before it begins there is none.
    """
    if actual is None or as_of < period.start:
        return None, ""
    if as_of >= period.end:
        return actual, ""
    if last_total and last_to_date:
        return (2 * actual * last_total + last_to_date) // (2 * last_to_date), ""
    days, elapsed = period.days, period.elapsed_days(as_of)
    why = "nothing last year" if not last_total else "nothing by this day last year"
    return (2 * actual * days + elapsed) // (2 * elapsed), f"forecast at straight pace ({why})"


def _reserve_total(reserve: tuple[int, dict[int, int]], scope_kind: str, entity: int | None) -> int | None:
    total, by_unit = reserve
    if scope_kind == ScopeKind.county:
        return total
    if scope_kind != ScopeKind.unit or entity is None:
        return None
    return by_unit.get(entity, 0)


# ---------------------------------------------------------------- rankings


def _names(session: Session, by: str) -> dict[int, str]:
    table = UNIT if by == "unit" else PERSON
    return {int(i): str(n) for i, n in session.connection().execute(select(table.c.id, table.c.name)).all()}


def _check_rank_args(by: str, metric: str) -> None:
    if by not in RANK_BY:
        raise InvalidValue("by", by, f"rank by one of {', '.join(RANK_BY)}")
    allowed = [m.value for m in TargetMetric if m != TargetMetric.reserve_yuan]
    if metric not in allowed:
        raise InvalidValue("metric", metric, f"rank by one of {', '.join(allowed)}")


def _year_progress(
    session: Session, rs: CountingRules, *, as_of: date, year: int, by: str, metrics: Sequence[str]
) -> tuple[Actuals, dict[str, dict[int, list[_Entry]]], Period]:
    """Actuals of the year up to as_of per entity (columns ``<metric>__0``) and the year's target
    entries per metric and entity."""
    period = Period(date(year, 1, 1), PeriodKind.year.value)
    window = window_of(rs, period.start, min(as_of, period.end))
    actuals = partials(session, rs, as_of, [window] if as_of >= period.start else [], set(metrics), KEY_OF_SCOPE[by])
    targets: dict[str, dict[int, list[_Entry]]] = {}
    if by != "introducer":
        all_targets = _targets_of_year(session, year)
        if not all_targets.empty:
            all_targets = all_targets[all_targets["scope_kind"] == by]
        for metric in metrics:
            targets[metric] = {}
        for (metric, scope_key), (_, entries) in _group_targets(all_targets).items():
            if metric in targets:
                targets[metric][int(scope_key.partition(":")[2])] = entries
    return actuals, targets, period


def ranking(
    session: Session,
    *,
    as_of: date,
    by: str = "unit",
    metric: str = "arrived_yuan",
    year: int | None = None,
    rules: str | CountingRules | None = None,
) -> pd.DataFrame:
    """Units, leaders or introducers ranked by completion of `metric` in as_of's year, ties by actual.

    Units are credited through the deal's credited unit (招引单位), else its responsible unit.
    completion = actual ÷ the year's target (as in target_progress); entities without a target
    (introducers have none) rank after those with one, by actual. ``last`` flags the last place.
    """
    _check_rank_args(by, metric)
    rs = resolve_rules(session, rules)
    year = year or as_of.year
    actuals, targets, period = _year_progress(session, rs, as_of=as_of, year=year, by=by, metrics=[metric])
    names = _names(session, by)
    records: list[dict[str, Any]] = []
    by_entity = targets.get(metric, {})
    for entity in sorted(actuals.entities | set(by_entity)):
        actual = actuals.get(f"{metric}__0", entity)
        entries = by_entity.get(entity)
        if entries is None:
            target, to_date, completion, note = None, None, None, "no target"
        else:
            due = _due(entries, period, as_of)
            target, to_date = due.target, due.to_date
            completion, note = _completion(actual, due, as_of)
        records.append(
            {
                "name": names.get(entity, str(entity)),
                "target": target,
                "target_to_date": to_date,
                "actual": actual,
                "completion": completion,
                "note": note,
            }
        )
    df = pd.DataFrame.from_records(
        records, columns=["name", "target", "target_to_date", "actual", "completion", "note"]
    )
    df = _rank(df, "completion")
    df["rules"] = rules_label(rs)
    df = df[RANKING_COLUMNS]
    for column in ("target", "target_to_date"):
        df[column] = df[column].astype("Int64")
    df["actual"] = df["actual"].astype("int64")
    df["completion"] = df["completion"].astype("float64")
    df.attrs["rules"] = rules_label(rs)
    return df


def _rank(df: pd.DataFrame, score: str) -> pd.DataFrame:
    """Order by `score` desc (missing last), ties by actual desc; rank 1.. (ties share); flag the last place."""
    if df.empty:
        return df.assign(rank=pd.Series(dtype="int64"), last=pd.Series(dtype="bool"))
    ordered = df.assign(_score=df[score].astype("float64").fillna(float("-inf"))).sort_values(
        ["_score", "actual", "name"], ascending=[False, False, True], kind="stable"
    )
    keys = list(zip(ordered["_score"], ordered["actual"], strict=True))
    ranks: list[int] = []
    for position, key in enumerate(keys, start=1):
        ranks.append(ranks[-1] if position > 1 and key == keys[position - 2] else position)
    ordered = ordered.drop(columns="_score").reset_index(drop=True)
    ordered.insert(0, "rank", ranks)
    # one entity, or all tied, is not "last"
    ordered["last"] = (ordered["rank"] == max(ranks)) & (max(ranks) > 1)
    return ordered


def scorecard(
    session: Session,
    *,
    as_of: date,
    by: str = "unit",
    weights: Mapping[str, float] | None = None,
    cap: float = 1.2,
    year: int | None = None,
    rules: str | CountingRules | None = None,
) -> pd.DataFrame:
    """A weighted scorecard of units or leaders: score = Σ weight × min(actual ÷ target_to_date, cap).

    Metrics are those with targets for `by` in the year. `weights` maps metric -> weight;
    by default each target's own weight, else 1. A metric whose target to date is 0 (the
    period has not begun) adds nothing and is named in ``note``. Columns: rank, name, score,
    ``<metric>ratio`` per metric, last, note, rules.
    """
    if by not in ("unit", "leader"):
        raise InvalidValue("by", by, "a scorecard is by unit or by leader (targets are set for them)")
    if cap <= 0:
        raise InvalidValue("cap", cap, "the cap must be positive (1.2 caps a ratio at 120%)")
    rs = resolve_rules(session, rules)
    year = year or as_of.year
    all_targets = _targets_of_year(session, year)
    metrics = (
        sorted(
            {str(m) for m in all_targets["metric"][all_targets["scope_kind"] == by]} - {TargetMetric.reserve_yuan.value}
        )
        if not all_targets.empty
        else []
    )
    for metric in weights or {}:
        if metric not in [m.value for m in TargetMetric]:
            raise InvalidValue("weights", metric, f"weights are per metric: {', '.join(m.value for m in TargetMetric)}")
    actuals, targets, period = _year_progress(session, rs, as_of=as_of, year=year, by=by, metrics=metrics)
    names = _names(session, by)
    entities = sorted({entity for by_entity in targets.values() for entity in by_entity})
    records: list[dict[str, Any]] = []
    for entity in entities:
        record: dict[str, Any] = {"name": names.get(entity, str(entity)), "score": 0.0}
        skipped: list[str] = []
        for metric in metrics:
            entries = targets[metric].get(entity)
            record[f"{metric}_ratio"] = None
            if not entries:
                continue
            due = _due(entries, period, as_of)
            actual = actuals.get(f"{metric}__0", entity)
            if not due.to_date:
                skipped.append(metric)
                continue
            ratio = min(actual / due.to_date, cap)
            weight = (weights or {}).get(metric, due.weight if due.weight is not None else 1.0)
            record[f"{metric}_ratio"] = ratio
            record["score"] += weight * ratio
        record["actual"] = record["score"]  # ties: no amount to break them across metrics
        record["note"] = f"no target to date yet: {', '.join(skipped)}" if skipped else ""
        records.append(record)
    df = pd.DataFrame.from_records(
        records, columns=["name", "score", *[f"{m}_ratio" for m in metrics], "actual", "note"]
    )
    df = _rank(df, "score").drop(columns="actual")
    df["rules"] = rules_label(rs)
    df = df[["rank", "name", "score", *[f"{m}_ratio" for m in metrics], "last", "note", "rules"]]
    df.attrs["rules"] = rules_label(rs)
    return df

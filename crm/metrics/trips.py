"""Trip figures: what trips covered (``coverage``) and produced (``funnel``).

The funnel's money is the cohort figure of ``kpis``: the deals signed from a group's leads,
counted under the counting rules (not replaced, within the cohort window, capital increases
adding their increment and arrivals, only the counted arrivals), so ``funnel(by="trip")``
agrees with ``kpis(trip=…)`` row by row. Every frame names its rules in ``df.attrs["rules"]``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
from sqlalchemy import func
from sqlmodel import Session, col, select

from crm.errors import InvalidValue
from crm.metrics.common import DEAL, LEAD, TRIP, VISIT, resolve_rules
from crm.models import (
    CampaignIndustry,
    CampaignMonth,
    CampaignRegion,
    CountingRules,
    Industry,
    Lead,
    Region,
    Squad,
    Trip,
    TripDestination,
    TripIndustry,
    Visit,
    VisitStatus,
)
from crm.rules import big_sum, cohort_conditions, cohort_facts, rules_label

FUNNEL_DIMENSIONS = ("trip", "squad", "region", "industry")
FUNNEL_COLUMNS = ["visits", "leads", "signed", "contracted_yuan", "arrived_yuan", "cost_yuan", "cost_per_signed_yuan"]


def _year_filter(column: Any, year: int | None) -> list[Any]:
    if year is None:
        return []
    return [column >= date(year, 1, 1), column <= date(year, 12, 31)]


def _query(*columns: Any) -> Any:
    """``select`` over several columns, untyped (sqlmodel types at most four)."""
    return select(*columns)


def coverage(session: Session, *, year: int | None = None) -> pd.DataFrame:
    """Month × region × industry: whether it was planned, how many trips and held visits covered it.

    A trip covers every pair of its destination provinces and target industries; a held visit
    counts for the province it took place in (its own, else its trip's single province) and
    each industry of its trip. Columns: month, region, industry, planned, trips, visits, visited
    (a trip went there for that industry).
    """
    planned = session.exec(
        _query(CampaignMonth.month, Region.id, Region.name, Industry.id, Industry.name)
        .join(CampaignRegion, col(CampaignRegion.campaign_month_id) == col(CampaignMonth.id))
        .join(Region, col(Region.id) == col(CampaignRegion.region_id))
        .join(CampaignIndustry, col(CampaignIndustry.campaign_month_id) == col(CampaignMonth.id))
        .join(Industry, col(Industry.id) == col(CampaignIndustry.industry_id))
        .where(*_year_filter(col(CampaignMonth.month), year))
    ).all()
    covered = session.exec(
        _query(Trip.month, Region.id, Region.name, Industry.id, Industry.name, func.count(func.distinct(Trip.id)))
        .join(TripDestination, col(TripDestination.trip_id) == col(Trip.id))
        .join(Region, col(Region.id) == col(TripDestination.region_id))
        .join(TripIndustry, col(TripIndustry.trip_id) == col(Trip.id))
        .join(Industry, col(Industry.id) == col(TripIndustry.industry_id))
        .where(*_year_filter(col(Trip.month), year))
        .group_by(col(Trip.month), col(Region.id), col(Region.name), col(Industry.id), col(Industry.name))
    ).all()
    visits = session.exec(
        _query(Trip.month, Region.id, Region.name, Industry.id, Industry.name, func.count(func.distinct(Visit.id)))
        .join(Trip, col(Trip.id) == col(Visit.trip_id))
        .join(Region, col(Region.id) == col(Visit.region_id))
        .join(TripIndustry, col(TripIndustry.trip_id) == col(Trip.id))
        .join(Industry, col(Industry.id) == col(TripIndustry.industry_id))
        .where(Visit.status == VisitStatus.done.value, *_year_filter(col(Trip.month), year))
        .group_by(col(Trip.month), col(Region.id), col(Region.name), col(Industry.id), col(Industry.name))
    ).all()
    keys = ["month", "region_id", "region", "industry_id", "industry"]
    frame = pd.DataFrame([(*r, True) for r in planned], columns=[*keys, "planned"])
    frame = frame.merge(pd.DataFrame(covered, columns=[*keys, "trips"]), on=keys, how="outer")
    frame = frame.merge(pd.DataFrame(visits, columns=[*keys, "visits"]), on=keys, how="outer")
    frame["planned"] = frame["planned"].astype("boolean").fillna(False).astype(bool)
    frame["trips"] = frame["trips"].fillna(0).astype("int64")
    frame["visits"] = frame["visits"].fillna(0).astype("int64")
    frame["visited"] = frame["trips"] > 0
    frame = frame.sort_values(["month", "region_id", "industry_id"]).reset_index(drop=True)
    return frame[["month", "region", "industry", "planned", "trips", "visits", "visited"]]


def _split(total: int, parts: int) -> list[int]:
    """`total` yuan in `parts` whole-yuan shares that add up exactly (the remainder goes to the first)."""
    share, remainder = divmod(total, parts)
    return [share + (1 if i < remainder else 0) for i in range(parts)]


def funnel_key(by: str) -> tuple[Any, Any]:
    """(visit key, lead key) of a funnel dimension, as columns of the visit, trip and lead tables."""
    if by == "trip":
        return VISIT.c.trip_id, VISIT.c.trip_id
    if by == "squad":
        return TRIP.c.squad_id, TRIP.c.squad_id
    if by == "region":
        return VISIT.c.region_id, VISIT.c.region_id
    return None, LEAD.c.industry_id  # visits by industry go through the trip's industries


def funnel_deals(by: str, year: int | None) -> Any:
    """The deals signed from each group's leads: a subquery of distinct (``key``, ``deal_id``)."""
    _, lead_key = funnel_key(by)
    return (
        _query(lead_key.label("key"), LEAD.c.deal_id.label("deal_id"))
        .select_from(LEAD.join(VISIT, VISIT.c.id == LEAD.c.visit_id).join(TRIP, TRIP.c.id == VISIT.c.trip_id))
        .where(LEAD.c.deal_id.is_not(None), *_year_filter(TRIP.c.month, year))
        .distinct()
        .subquery("funnel_deals")
    )


def _money(
    session: Session, rs: CountingRules, as_of: date, by: str, year: int | None
) -> dict[Any, tuple[int, int, int]]:
    """signed, contracted_yuan, arrived_yuan per group: the kpis cohort of the group's deals."""
    linked = funnel_deals(by, year)
    facts = cohort_facts(rs, as_of, roots=select(linked.c.deal_id))
    d = DEAL.alias("d")
    statement = (
        _query(
            linked.c.key,
            big_sum(facts.c.is_deal),
            big_sum(facts.c.contracted),
            big_sum(facts.c.arrived),
        )
        .select_from(facts.join(d, d.c.id == facts.c.root_id).join(linked, linked.c.deal_id == d.c.id))
        .where(*cohort_conditions(d, rs, as_of))
        .group_by(linked.c.key)
    )
    return {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in session.connection().execute(statement)}


def funnel(
    session: Session,
    *,
    by: str = "trip",
    year: int | None = None,
    as_of: date | None = None,
    rules: str | CountingRules | None = None,
) -> pd.DataFrame:
    """What trips produced, per trip, squad, region or industry: visits → leads → signed → money, and cost.

    Columns: the group (``trip_id`` with ``month`` and ``squad``; or ``squad``, ``region``,
    ``industry``), visits (held), leads (from those visits), then the figures of ``kpis`` over
    the deals signed from those leads as of `as_of` (default today) under `rules`: signed
    (deals in the cohort), contracted_yuan (with increases), arrived_yuan (counted arrivals);
    cost_yuan (spent, else budget) and cost_per_signed_yuan (whole yuan; None when nothing was
    signed). `year` keeps the trips of that year.

    Every squad is a row; by region every province a trip went to or a visit or lead names,
    by industry every industry a trip targeted or a lead names, with zeros when nothing came of it.
    By region, a visit counts for its own province, and a trip's cost is split evenly over its
    destination provinces. By industry, leads count for their own industry, while visits count
    for every industry their trip targeted and a trip's cost is split evenly over them.
    """
    if by not in FUNNEL_DIMENSIONS:
        raise InvalidValue("by", by, f"group the funnel by one of {', '.join(FUNNEL_DIMENSIONS)}")
    day = as_of or date.today()
    rs = resolve_rules(session, rules)
    trip_filter = _year_filter(col(Trip.month), year)
    done = Visit.status == VisitStatus.done.value

    visit_key: Any
    lead_key: Any
    if by == "trip":
        visit_key = lead_key = col(Trip.id)
    elif by == "squad":
        visit_key = lead_key = col(Trip.squad_id)
    elif by == "region":
        visit_key = lead_key = col(Visit.region_id)
    else:
        visit_key, lead_key = col(TripIndustry.industry_id), col(Lead.industry_id)

    visit_q = select(visit_key, func.count(func.distinct(Visit.id))).join(Trip, col(Trip.id) == col(Visit.trip_id))
    if by == "industry":
        visit_q = visit_q.join(TripIndustry, col(TripIndustry.trip_id) == col(Trip.id))
    visit_counts = {k: n for k, n in session.exec(visit_q.where(done, *trip_filter).group_by(visit_key)).all()}

    lead_q = (
        _query(lead_key, func.count(col(Lead.id)))
        .select_from(Lead)
        .join(Visit, col(Visit.id) == col(Lead.visit_id))
        .join(Trip, col(Trip.id) == col(Visit.trip_id))
        .where(*trip_filter)
        .group_by(lead_key)
    )
    lead_counts = {row[0]: int(row[1]) for row in session.exec(lead_q).all()}
    money = _money(session, rs, day, by, year)

    cost_expr = func.coalesce(col(Trip.spent_yuan), col(Trip.budget_yuan))
    costs: dict[Any, int] = defaultdict(int)  # absent key: no trip of the group has a budget or spending
    linked: set[Any] = set()  # every group a trip of the year goes to or targets
    if by in ("trip", "squad"):
        key = col(Trip.id) if by == "trip" else col(Trip.squad_id)
        for k, total in session.exec(select(key, func.sum(cost_expr)).where(*trip_filter).group_by(key)).all():
            if total is not None:
                costs[k] = int(total)
    else:
        link = TripDestination if by == "region" else TripIndustry
        link_key = col(TripDestination.region_id) if by == "region" else col(TripIndustry.industry_id)
        shared: dict[int, tuple[int, list[Any]]] = {}
        for tid, cost, k in session.exec(
            _query(Trip.id, cost_expr, link_key)
            .join(link, col(link.trip_id) == col(Trip.id))
            .where(*trip_filter)
            .distinct()
            .order_by(col(Trip.id), link_key)
        ).all():
            assert tid is not None
            linked.add(k)
            if cost is not None:
                shared.setdefault(tid, (int(cost), []))[1].append(k)
        for cost, keys in shared.values():
            for k, part in zip(keys, _split(cost, len(keys)), strict=True):
                costs[k] += part

    if by == "trip":
        groups = session.exec(
            _query(Trip.id, Trip.month, Squad.name)
            .join(Squad, col(Squad.id) == col(Trip.squad_id))
            .where(*trip_filter)
            .order_by(col(Trip.month), col(Trip.id))
        ).all()
        labels: list[tuple[Any, dict[str, Any]]] = [
            (tid, {"trip_id": tid, "month": m, "squad": name}) for tid, m, name in groups
        ]
    else:
        entity: Any = {"squad": Squad, "region": Region, "industry": Industry}[by]
        present = set(visit_counts) | set(lead_counts) | set(money) | set(costs) | linked
        if by == "squad":
            present |= set(session.exec(select(Squad.id)).all())
        names = dict(
            session.exec(
                select(entity.id, entity.name).where(col(entity.id).in_([k for k in present if k is not None]))
            ).all()
        )
        ordered = sorted(present, key=lambda k: (k is None, k or 0))
        labels = [(k, {by: names.get(k) if k is not None else None}) for k in ordered]

    rows = []
    for k, label in labels:
        signed, contracted, arrived_total = money.get(k, (0, 0, 0))
        group_cost: int | None = costs.get(k)
        per_signed = (
            int((Decimal(group_cost) / signed).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            if group_cost is not None and signed
            else None
        )
        rows.append(
            {
                **label,
                "visits": int(visit_counts.get(k, 0)),
                "leads": lead_counts.get(k, 0),
                "signed": signed,
                "contracted_yuan": contracted,
                "arrived_yuan": arrived_total,
                "cost_yuan": group_cost,
                "cost_per_signed_yuan": per_signed,
            }
        )
    group_columns = ["trip_id", "month", "squad"] if by == "trip" else [by]
    df = pd.DataFrame(rows, columns=[*group_columns, *FUNNEL_COLUMNS])
    for name in ("visits", "leads", "signed", "contracted_yuan", "arrived_yuan"):
        df[name] = df[name].astype("int64")
    df["cost_yuan"] = df["cost_yuan"].astype("Int64")
    df["cost_per_signed_yuan"] = df["cost_per_signed_yuan"].astype("Int64")
    df.attrs["rules"] = rules_label(rs)
    df.attrs["as_of"] = day
    return df

"""The reserve (项目储备): planned money of open leads (neither signed nor dropped), one definition.

A lead is in the reserve as of a day when it is in an open stage and was received on or before
that day (``crm.rules.in_reserve``). ``reserve`` shows it by category against a target;
``target_progress`` reads the same figure per unit through ``reserve_by_unit``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session

from crm.errors import InvalidValue
from crm.metrics.common import LEAD, TARGET
from crm.models import PeriodKind, ScopeKind, TargetMetric
from crm.money import parse_yuan
from crm.rules import big_sum, in_reserve

NO_CATEGORY = "未分类"


def reserve_by_unit(session: Session, as_of: date | None) -> tuple[int, dict[int, int]]:
    """Planned yuan of the leads in the reserve as of `as_of`: in total and per unit."""
    statement = (
        select(LEAD.c.unit_id, big_sum(func.coalesce(LEAD.c.planned_yuan, 0)))
        .where(*in_reserve(as_of))
        .group_by(LEAD.c.unit_id)
    )
    rows = session.connection().execute(statement).all()
    return sum(int(r) for _, r in rows), {int(u): int(r) for u, r in rows if u is not None}


def reserve_target(session: Session, as_of: date) -> int | None:
    """The county's reserve (项目储备) target for the year of `as_of`, if one is set."""
    found = (
        session.connection()
        .execute(
            select(TARGET.c.amount).where(
                TARGET.c.metric == TargetMetric.reserve_yuan.value,
                TARGET.c.scope_kind == ScopeKind.county.value,
                TARGET.c.period_kind == PeriodKind.year.value,
                TARGET.c.period_start == date(as_of.year, 1, 1),
            )
        )
        .first()
    )
    return None if found is None or found[0] is None else int(found[0])


def _yuan(value: int | str | Decimal, field: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise InvalidValue(field, value, "an amount cannot be negative")
        return value
    return parse_yuan(value, "元", field=field)


def reserve(session: Session, *, target_yuan: int | str | None = None, as_of: date | None = None) -> pd.DataFrame:
    """The project reserve (项目储备): open leads and planned projects by category, against a target.

    Open means neither signed nor dropped (and received by `as_of` when given). `target_yuan`
    (e.g. ``"350亿"``) defaults to the county's reserve_yuan year target for `as_of`'s year.
    Columns: category, leads, planned_yuan, target_yuan, share (planned ÷ target, None without
    a target). ``df.attrs`` holds total_yuan, target_yuan and gap_yuan (target − total).
    """
    target = (
        _yuan(target_yuan, "target_yuan") if target_yuan is not None else reserve_target(session, as_of or date.today())
    )
    category = func.coalesce(LEAD.c.category, NO_CATEGORY).label("category")
    planned = big_sum(func.coalesce(LEAD.c.planned_yuan, 0))
    query = (
        select(category, func.count(LEAD.c.id), planned)
        .where(*in_reserve(as_of))
        .group_by(category)
        .order_by(planned.desc(), category)
    )
    rows = session.connection().execute(query).all()
    df = pd.DataFrame([tuple(r) for r in rows], columns=["category", "leads", "planned_yuan"])
    df["leads"] = df["leads"].astype("int64")
    df["planned_yuan"] = df["planned_yuan"].astype("int64")
    df["target_yuan"] = pd.array([target] * len(df), dtype="Int64")
    df["share"] = [float(p) / target if target else None for p in df["planned_yuan"]]
    df["share"] = df["share"].astype("float64")
    total = int(df["planned_yuan"].sum())
    df.attrs.update(
        {"total_yuan": total, "target_yuan": target, "gap_yuan": (target - total) if target is not None else None}
    )
    return df

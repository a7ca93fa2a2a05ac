"""Arrived capital month by month, this year and last."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import Integer, case, cast, func, select
from sqlmodel import Session

from crm.metrics.common import ARRIVAL, DEAL, frame, in_window, resolve_rules, window_of
from crm.models import CountingRules
from crm.rules import big_sum, counted_arrival_conditions, not_replaced, root_deal_id, rules_label
from crm.targets import same_day_last_year


def arrivals_by_month(
    session: Session, *, year: int, rules: str | CountingRules | None = None, as_of: date | None = None
) -> pd.DataFrame:
    """Arrived yuan per month of `year` (up to `as_of`, default the year's end) and in the same month last year.

    Columns: month (1..12), arrived_yuan, last_year_yuan; every month present, 0 when nothing arrived.
    """
    rs = resolve_rules(session, rules)
    as_of = as_of or date(year, 12, 31)
    this = window_of(rs, date(year, 1, 1), min(as_of, date(year, 12, 31)))
    last = window_of(rs, date(year - 1, 1, 1), same_day_last_year(this.end))
    m, d = DEAL.alias("m"), DEAL.alias("d")
    month = cast(func.extract("month", ARRIVAL.c.arrived_on), Integer).label("month")
    conditions = [
        not_replaced(d, as_of, per_arrival=True),
        *counted_arrival_conditions(rs, start=last.start, end=this.end),
    ]
    statement = (
        select(
            month,
            big_sum(case((in_window(ARRIVAL.c.arrived_on, d, this), ARRIVAL.c.arrived_yuan), else_=0)).label(
                "arrived_yuan"
            ),
            big_sum(case((in_window(ARRIVAL.c.arrived_on, d, last), ARRIVAL.c.arrived_yuan), else_=0)).label(
                "last_year_yuan"
            ),
        )
        .select_from(ARRIVAL.join(m, ARRIVAL.c.deal_id == m.c.id).join(d, d.c.id == root_deal_id(m)))
        .where(*conditions)
        .group_by(month)
    )
    found = frame(session, statement).set_index("month")
    df = pd.DataFrame({"month": range(1, 13)})
    df["arrived_yuan"] = [int(found["arrived_yuan"].get(mo, 0)) for mo in df["month"]]
    df["last_year_yuan"] = [int(found["last_year_yuan"].get(mo, 0)) for mo in df["month"]]
    df.attrs["rules"] = rules_label(rs)
    return df

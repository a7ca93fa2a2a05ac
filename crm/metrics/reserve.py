"""The reserve (项目储备): planned money of leads not yet signed nor dropped."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from crm.metrics.common import LEAD
from crm.models import LeadStage
from crm.rules import big_sum

RESERVE_STAGES = (LeadStage.contact.value, LeadStage.negotiation.value, LeadStage.intent.value)


def reserve_by_unit(session: Session) -> tuple[int, dict[int, int]]:
    """Planned yuan of leads still in the reserve (not signed, not dropped): in total and per unit."""
    statement = (
        select(LEAD.c.unit_id, big_sum(func.coalesce(LEAD.c.planned_yuan, 0)))
        .where(LEAD.c.stage.in_(RESERVE_STAGES))
        .group_by(LEAD.c.unit_id)
    )
    rows = session.connection().execute(statement).all()
    return sum(int(r) for _, r in rows), {int(u): int(r) for u, r in rows if u is not None}

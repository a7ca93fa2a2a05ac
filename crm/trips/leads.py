"""Leads (洽谈项目 / 线索): add, advance, respond within deadlines, list the overdue, sign into a deal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlmodel import Session, col

from crm import audit
from crm.db import unit_of_work
from crm.errors import InvalidValue, Refused
from crm.models import (
    LEAD_STAGE_LABELS,
    Deal,
    Industry,
    Lead,
    LeadStage,
    Person,
    Region,
    Unit,
    VisitStatus,
)
from crm.reference import find_industry, find_region
from crm.rules import OPEN_LEAD_STAGES
from crm.trips.common import _lead, _lead_stage, _person, _query, _text, _unit, _visit, _yuan

# Response deadlines of a lead: (step, the Lead column that records it, label).
LEAD_STEPS: tuple[tuple[str, str, str], ...] = (
    ("acknowledge", "acknowledged_on", "答复"),
    ("assess", "assessed_on", "研判"),
    ("feedback", "feedback_on", "反馈"),
)


DEFAULT_DEADLINES = (1, 3, 7)  # days after received_on: acknowledge, assess, feed back


_STAGE_ORDER = {LeadStage.contact: 0, LeadStage.negotiation: 1, LeadStage.intent: 2, LeadStage.signed: 3}


def check_lead_response(field: str, day: date, received_on: date, *, lead_id: int | None = None) -> None:
    """A lead's response (`field`: acknowledged_on, assessed_on, feedback_on) is not before its receipt."""
    if day < received_on:
        lead = f"lead {lead_id}" if lead_id is not None else "the lead"
        raise InvalidValue(field, day, f"before {lead} was received ({received_on})")


def add_lead(
    session: Session,
    *,
    project_name: str,
    investor_name: str | None = None,
    visit_id: int | None = None,
    received_on: date,
    planned_yuan: int | str | None = None,
    industry: str | None = None,
    category: str | None = None,
    source: str | None = None,
    origin: str | None = None,
    owner: str | None = None,
    unit: str | None = None,
    stage: str = LeadStage.contact.value,
    note: str | None = None,
    actor: str,
    commit: bool = True,
) -> Lead:
    """A new lead (洽谈项目), from a held visit (`visit_id`) or from elsewhere.

    `planned_yuan` is the planned investment in yuan (text such as ``"5亿"`` is read exactly).
    A lead from a visit defaults its source to 外出招商 and its origin to the visit's province.
    """
    name = _text(project_name)
    if name is None:
        raise InvalidValue("project_name", project_name, "a lead needs a project name")
    start_stage = _lead_stage(stage)
    if start_stage not in OPEN_LEAD_STAGES:
        raise InvalidValue(
            "stage", stage, "a new lead starts as contact, negotiation or intent; sign it with sign_lead"
        )
    visit = _visit(session, visit_id) if visit_id is not None else None
    if visit is not None:
        if visit.status != VisitStatus.done:
            raise Refused(f"visit {visit_id} is {visit.status}; record it as held before adding its leads")
        if visit.visited_on is not None and received_on < visit.visited_on:
            raise InvalidValue("received_on", received_on, f"before visit {visit_id} took place ({visit.visited_on})")
    planned = _yuan(planned_yuan, "planned_yuan")
    industry_row = find_industry(session, str(industry)) if _text(industry) else None
    origin_id = find_region(session, str(origin)).id if _text(origin) else (visit.region_id if visit else None)
    with unit_of_work(session, commit=commit):
        owner_row = _person(session, str(_text(owner)), actor=actor) if _text(owner) else None
        unit_row = _unit(session, str(_text(unit)), actor=actor) if _text(unit) else None
        lead = Lead(
            project_name=name,
            investor_name=_text(investor_name),
            visit_id=visit_id,
            source=_text(source) or ("外出招商" if visit is not None else None),
            category=_text(category),
            industry_id=industry_row.id if industry_row else None,
            origin_region_id=origin_id,
            planned_yuan=planned,
            stage=start_stage.value,
            owner_id=owner_row.id if owner_row else None,
            unit_id=unit_row.id if unit_row else None,
            received_on=received_on,
            note=_text(note),
        )
        session.add(lead)
        session.flush()
        audit.record_creation(session, lead, actor=actor)
    return lead


def advance_lead(
    session: Session, lead_id: int, *, stage: str, actor: str, note: str | None = None, commit: bool = True
) -> Lead:
    """Move a lead forward (接洽 → 洽谈 → 意向/框架协议) or drop it (放弃); signing goes through sign_lead."""
    lead = _lead(session, lead_id)
    new = _lead_stage(stage)
    current = LeadStage(lead.stage)
    if new == LeadStage.signed:
        raise Refused(f"lead {lead_id}: signing creates a deal; use sign_lead")
    if current in (LeadStage.signed, LeadStage.dropped):
        raise Refused(
            f"lead {lead_id} is already {current.value} ({LEAD_STAGE_LABELS[current]}); it cannot move to {new.value}"
        )
    if new != LeadStage.dropped and _STAGE_ORDER[new] < _STAGE_ORDER[current]:
        raise Refused(
            f"lead {lead_id} is at {current.value} ({LEAD_STAGE_LABELS[current]}); it cannot go back to "
            f"{new.value} ({LEAD_STAGE_LABELS[new]})"
        )
    with unit_of_work(session, commit=commit):
        audit.record_changes(session, lead, {"stage": new.value}, actor=actor, action="advance", note=note)
        session.flush()
    return lead


def record_lead_response(
    session: Session,
    lead_id: int,
    *,
    acknowledged_on: date | None = None,
    assessed_on: date | None = None,
    feedback_on: date | None = None,
    actor: str,
    commit: bool = True,
) -> Lead:
    """Record when a lead was acknowledged (答复), assessed (研判) and fed back (反馈)."""
    lead = _lead(session, lead_id)
    given = {"acknowledged_on": acknowledged_on, "assessed_on": assessed_on, "feedback_on": feedback_on}
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes:
        raise InvalidValue("dates", None, "give at least one of acknowledged_on, assessed_on, feedback_on")
    for field, day in changes.items():
        check_lead_response(field, day, lead.received_on, lead_id=lead_id)
    with unit_of_work(session, commit=commit):
        audit.record_changes(session, lead, changes, actor=actor, action="respond")
        session.flush()
    return lead


def acknowledge_lead(session: Session, lead_id: int, *, on: date, actor: str, commit: bool = True) -> Lead:
    """Record that a lead was acknowledged (答复) on `on`."""
    return record_lead_response(session, lead_id, acknowledged_on=on, actor=actor, commit=commit)


def assess_lead(session: Session, lead_id: int, *, on: date, actor: str, commit: bool = True) -> Lead:
    """Record that a lead was assessed (研判) on `on`."""
    return record_lead_response(session, lead_id, assessed_on=on, actor=actor, commit=commit)


def feedback_lead(session: Session, lead_id: int, *, on: date, actor: str, commit: bool = True) -> Lead:
    """Record that the investor got feedback (反馈) on a lead on `on`."""
    return record_lead_response(session, lead_id, feedback_on=on, actor=actor, commit=commit)


def overdue_leads(
    session: Session, *, as_of: date | None = None, deadlines: Sequence[int] = DEFAULT_DEADLINES
) -> pd.DataFrame:
    """Each missed response deadline of the leads received by `as_of` (default today).

    The deadlines are days after ``received_on`` for acknowledge, assess and feedback
    (default 1, 3, 7). A deadline is missed when the step was done after it, or is not done
    (by `as_of`) and `as_of` is past it; a step due on `as_of` itself is not yet missed. Steps
    not done of a signed or dropped lead are no longer chased; steps done late are listed for
    every lead. Columns: lead_id, project_name, investor_name, stage, owner, received_on, step,
    step_label, due_on, done_on, days_late.
    """
    as_of = as_of or date.today()
    days = list(deadlines)
    if len(days) != len(LEAD_STEPS) or any(not isinstance(d, int) or isinstance(d, bool) or d < 0 for d in days):
        raise InvalidValue("deadlines", deadlines, "give three whole numbers of days: acknowledge, assess, feedback")
    columns = [
        "lead_id",
        "project_name",
        "investor_name",
        "stage",
        "owner",
        "received_on",
        "step",
        "step_label",
        "due_on",
        "done_on",
        "days_late",
    ]
    earliest = min(days)
    lead_rows = session.exec(
        _query(
            Lead.id,
            Lead.project_name,
            Lead.investor_name,
            Lead.stage,
            Person.name,
            Lead.received_on,
            Lead.acknowledged_on,
            Lead.assessed_on,
            Lead.feedback_on,
        )
        .outerjoin(Person, col(Person.id) == col(Lead.owner_id))
        .where(col(Lead.received_on) <= as_of - timedelta(days=earliest))
        .order_by(col(Lead.received_on), col(Lead.id))
    ).all()
    rows: list[dict[str, Any]] = []
    for lead_id, project, investor, stage, owner, received, *done_dates in lead_rows:
        closed = stage in (LeadStage.signed, LeadStage.dropped)
        for (step, _, label), limit, done in zip(LEAD_STEPS, days, done_dates, strict=True):
            due = received + timedelta(days=limit)
            done_by = done if done is not None and done <= as_of else None
            if done_by is not None:
                if done_by <= due:
                    continue
                late = (done_by - due).days
            else:
                if closed or as_of <= due:
                    continue
                late = (as_of - due).days
            rows.append(
                {
                    "lead_id": lead_id,
                    "project_name": project,
                    "investor_name": investor,
                    "stage": stage,
                    "owner": owner,
                    "received_on": received,
                    "step": step,
                    "step_label": label,
                    "due_on": due,
                    "done_on": done_by,
                    "days_late": late,
                }
            )
    df = pd.DataFrame(rows, columns=columns)
    step_order = {step: i for i, (step, _, _) in enumerate(LEAD_STEPS)}
    df = (
        df.assign(_order=df["step"].map(step_order))
        .sort_values(["due_on", "lead_id", "_order"])
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    df["days_late"] = df["days_late"].astype("int64")
    df["lead_id"] = df["lead_id"].astype("int64")
    return df


def sign_lead(
    session: Session,
    lead_id: int,
    *,
    signed_on: date,
    contracted_yuan: int | str,
    actor: str,
    commit: bool = True,
    **deal_fields: Any,
) -> Deal:
    """Sign a lead: create its Deal through ``crm.deals.sign`` and link it (lead.stage = signed).

    The deal takes the lead's project name, investor, industry, origin province and unit unless
    `deal_fields` give them (any keyword of ``crm.deals.sign``). Capital that later arrives on the
    deal is credited to the lead's visit, trip and squad.
    """
    from crm.deals import sign  # written by the deals capability; imported here to keep the modules apart

    lead = _lead(session, lead_id)
    stage = LeadStage(lead.stage)
    if stage in (LeadStage.signed, LeadStage.dropped) or lead.deal_id is not None:
        raise Refused(f"lead {lead_id} is {stage.value} ({LEAD_STAGE_LABELS[stage]}); only an open lead can be signed")
    if signed_on < lead.received_on:
        raise InvalidValue("signed_on", signed_on, f"before lead {lead_id} was received ({lead.received_on})")
    contracted = _yuan(contracted_yuan, "contracted_yuan")
    if contracted is None:
        raise InvalidValue("contracted_yuan", contracted_yuan, "a signed deal needs its contracted investment")
    fields = dict(deal_fields)
    fields.setdefault("project_name", lead.project_name)
    fields.setdefault("investor", lead.investor_name)
    if not _text(fields["investor"]):
        raise InvalidValue("investor", fields["investor"], f"lead {lead_id} names no investor; pass investor=")
    if "industry" not in fields and lead.industry_id is not None:
        industry = session.get(Industry, lead.industry_id)
        fields["industry"] = industry.name if industry else None
    if "origin" not in fields and lead.origin_region_id is not None:
        region = session.get(Region, lead.origin_region_id)
        fields["origin"] = region.name if region else None
    if "unit" not in fields and lead.unit_id is not None:
        unit = session.get(Unit, lead.unit_id)
        fields["unit"] = unit.name if unit else None
    with unit_of_work(session, commit=commit):
        deal = sign(session, actor=actor, signed_on=signed_on, contracted_yuan=contracted, commit=False, **fields)
        session.flush()
        audit.record_changes(
            session, lead, {"stage": LeadStage.signed.value, "deal_id": deal.id}, actor=actor, action="sign"
        )
        session.flush()
    return deal

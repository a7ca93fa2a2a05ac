"""Promotion trips (外出招商): squads, monthly campaign plans, trips, visits, leads and what they produced.

A campaign month (``CampaignMonth``) names the destination provinces and target
industries of one month; each squad (招商小分队) makes one trip a month to some of
them and plans visits to enterprises and chambers of commerce (商会). ``check_plan``
returns the plan's problems as data (``Finding``), never as exceptions. Held visits
may create leads (洽谈项目); a lead has response deadlines and, when signed,
becomes a Deal through ``crm.deals`` and keeps the link, so capital arriving later
is credited to the trip.

Conventions: a month is the first day of the month (``date(2026, 6, 1)``; ``"2026-06"``
is accepted); money is integer yuan (text such as ``"5万"`` or ``"1.5亿"`` is parsed with
``crm.money.parse_yuan``); provinces are written short or long (北京 / 北京市).

The capability is split by what it handles: ``crm.trips.plans`` (squads and monthly plans),
``crm.trips.visits`` (trips and visits), ``crm.trips.leads`` (leads); the figures (funnel,
coverage, reserve) are in ``crm.metrics``. Every public name is importable from here.
"""

from __future__ import annotations

from crm.metrics.reserve import reserve
from crm.metrics.trips import coverage, funnel
from crm.trips.common import COUNTERPART_KIND_LABELS, month_start
from crm.trips.leads import (
    LEAD_STEPS,
    acknowledge_lead,
    add_lead,
    advance_lead,
    assess_lead,
    check_lead_response,
    feedback_lead,
    overdue_leads,
    record_lead_response,
    sign_lead,
)
from crm.trips.plans import (
    FINDING_KINDS,
    Finding,
    check_plan,
    copy_plan,
    create_squad,
    itinerary,
    plan_month,
    plan_of,
    squads,
)
from crm.trips.visits import (
    cancel_visit,
    check_trip_dates,
    check_visit_date,
    list_visits,
    plan_trip,
    plan_visit,
    planned_visits,
    record_spending,
    record_visit,
    trips_in_month,
)

__all__ = [
    "COUNTERPART_KIND_LABELS",
    "FINDING_KINDS",
    "LEAD_STEPS",
    "Finding",
    "acknowledge_lead",
    "add_lead",
    "advance_lead",
    "assess_lead",
    "cancel_visit",
    "check_lead_response",
    "check_plan",
    "check_trip_dates",
    "check_visit_date",
    "copy_plan",
    "coverage",
    "create_squad",
    "feedback_lead",
    "funnel",
    "itinerary",
    "list_visits",
    "month_start",
    "overdue_leads",
    "plan_month",
    "plan_of",
    "plan_trip",
    "plan_visit",
    "planned_visits",
    "record_lead_response",
    "record_spending",
    "record_visit",
    "reserve",
    "sign_lead",
    "squads",
    "trips_in_month",
]

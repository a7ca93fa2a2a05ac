"""Major projects under construction (重点项目): the year's list, construction plans, weekly
reports, 入库 documents, and the rules of their status and scoring.

    from crm import major
    project = major.add_major_project(session, deal.id, year=2026, source="市责任书",
                                      category="新开工", actor="张三")
    major.set_plan(session, project.id, milestones={"开工": date(2026, 3, 1)},
                   months={date(2026, m, 1): 10_000_000 for m in range(1, 13)}, actor="张三")
    major.report_progress(session, project.id, week="2026-W26", cumulative_yuan=55_000_000,
                          progress="主体结构施工", actor="张三")

Figures (status, 完成投资, missing reports, the quarterly score) are in ``crm.metrics.major``;
the 责任清单 and 调度表 ledgers in ``crm.major.ledgers``.
"""

from crm.major.common import get_major_project
from crm.major.plans import get_plan, milestones, plan_months, set_plan
from crm.major.progress import Problem, parse_week, problems, report_progress, reports, resolve_problem, week_label
from crm.major.projects import (
    add_major_project,
    add_zone,
    get_weights,
    leaders_of,
    major_projects,
    save_weights,
    set_deal_zone,
    set_progress_rules,
    weights_label,
)
from crm.major.registration import REQUIRED_DOCUMENTS, missing_documents, missing_labels, record_document

__all__ = [
    "REQUIRED_DOCUMENTS",
    "Problem",
    "add_major_project",
    "add_zone",
    "get_major_project",
    "get_plan",
    "get_weights",
    "leaders_of",
    "major_projects",
    "milestones",
    "missing_documents",
    "missing_labels",
    "parse_week",
    "plan_months",
    "problems",
    "record_document",
    "report_progress",
    "reports",
    "resolve_problem",
    "save_weights",
    "set_deal_zone",
    "set_plan",
    "set_progress_rules",
    "week_label",
    "weights_label",
]

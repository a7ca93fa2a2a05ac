"""The figures leadership reads, as pandas DataFrames computed by grouped SQL in the database.

Every figure is computed in this package, one module per family: deals (kpis and rates),
targets (target progress, rankings, scorecards), arrivals (by month), reserve, period
(what happened in a reporting period, against the same dates a year earlier), trips (funnel,
coverage), major (重点项目: status, 完成投资, missing reports, 季评比, 入库 readiness), rows (the
records behind a figure) and quality (the data-quality audit). The counting
rules and the SQL that applies them live in ``crm.rules``.

Money columns are integer yuan, rates are fractions (0.221), empty groups and zero
denominators give NaN/None. Every frame names its counting rules in ``df.attrs["rules"]``
(``default v1``) and a ``rules`` column where it is a report.

Rules applied always, whatever the counting rules say:
- a deal replaced by a reassignment (another deal signed on or before as_of has
  ``replaces_id`` = its id) is left out: the pair counts once, as the new deal;
- a capital increase (``increases_id`` set) adds its contracted amount (the increment) and
  its arrivals to its parent deal's group and cohort, and is never counted as a deal.

The counting rules (crm.rules.get_rules) decide what counts as 履约, the denominator of
竣工投产率, which capital sources and whether only verified arrivals count, and the cohort
window (deals signed in the last N years before as_of).

A deal's state is taken as of `as_of` from its dates: terminated when terminated_on <= as_of,
else in production when completed_on <= as_of, else started when started_on <= as_of.
"""

from crm.metrics.arrivals import arrivals_by_month
from crm.metrics.common import DIMENSIONS
from crm.metrics.deals import KPI_COLUMNS, count_levels, kpis, unstarted_by_level
from crm.metrics.major import (
    completed_investment,
    major_status,
    missing_reports,
    quarterly_scores,
    registration_readiness,
)
from crm.metrics.period import PERIOD_COLUMNS, PERIOD_DIMENSIONS, period_figures, period_range
from crm.metrics.quality import QUALITY_COLUMNS, QUALITY_KINDS, count_quality, quality, quality_counts
from crm.metrics.rows import funnel_rows, kpis_rows, ranking_rows, rows_behind, target_rows
from crm.metrics.targets import (
    FORECAST_METHOD,
    RANK_BY,
    RANKING_COLUMNS,
    TARGET_COLUMNS,
    ranking,
    scorecard,
    target_progress,
    targets_of_year,
)

__all__ = [
    "DIMENSIONS",
    "FORECAST_METHOD",
    "KPI_COLUMNS",
    "PERIOD_COLUMNS",
    "PERIOD_DIMENSIONS",
    "QUALITY_COLUMNS",
    "QUALITY_KINDS",
    "RANKING_COLUMNS",
    "RANK_BY",
    "TARGET_COLUMNS",
    "arrivals_by_month",
    "completed_investment",
    "count_levels",
    "count_quality",
    "funnel_rows",
    "kpis",
    "kpis_rows",
    "major_status",
    "missing_reports",
    "period_figures",
    "period_range",
    "quality",
    "quality_counts",
    "quarterly_scores",
    "ranking",
    "ranking_rows",
    "registration_readiness",
    "rows_behind",
    "scorecard",
    "target_progress",
    "target_rows",
    "targets_of_year",
    "unstarted_by_level",
]

"""The counting rules (统计口径): stored, versioned and named here, and the SQL that applies them.

Places count differently, so the rules are data (``CountingRules`` rows, a new version on
every save, named ``default v1`` in every report). This module also holds the SQL every figure
uses to apply them, so that one rule has one definition:

- counted arrivals: arrivals of the rules' capital sources, verified ones only if the rules
  say so, dated within a range (``counted_arrival_conditions``, ``arrivals_per_deal``);
- the root deal: a capital increase (``increases_id`` set) counts its increment and its
  arrivals under the deal it increases (``root_deal_id``);
- not replaced: a deal replaced by a reassignment signed on or before as_of is left out, the
  pair counting once as the new deal (``not_replaced``);
- a deal's state as of a day from its dates (``state_flags``): terminated when
  terminated_on <= as_of, else in production when completed_on <= as_of, else started when
  started_on <= as_of;
- the cohort window: deals signed in the last N years before as_of (``cohort_start``);
- the reserve (项目储备): leads in an open stage (``OPEN_LEAD_STAGES``: neither signed nor
  dropped) received on or before as_of (``in_reserve``);
- a deal's size (规模): its contracted amount with the increases signed by a day
  (``deal_sizes``), and the size classes stored with the rules (``size_classes``, defaults
  500万以上, 亿元以上, 10亿元以上; ``size_class_index``, ``size_conditions``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Integer, and_, case, cast, func, literal, or_, select, union_all
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel, col
from sqlmodel import select as sqlmodel_select

from crm.arrivals import not_voided
from crm.audit import record_creation
from crm.db import unit_of_work
from crm.errors import InvalidValue, NotFound
from crm.models import CapitalSource, CompletionBasis, CountingRules, FulfillmentBasis, LeadStage
from crm.money import parse_yuan

DEAL = SQLModel.metadata.tables["deal"]
ARRIVAL = SQLModel.metadata.tables["capital_arrival"]
LEAD = SQLModel.metadata.tables["lead"]

# The stages of a lead still open: neither signed nor dropped. A lead is in the reserve in them.
OPEN_LEAD_STAGES = (LeadStage.contact, LeadStage.negotiation, LeadStage.intent)

# ---------------------------------------------------------------- counting rules


def rules_label(rules: CountingRules) -> str:
    """How every report names its rule set: ``default v1``."""
    return f"{rules.name} v{rules.version}"


_NAMED_VERSION = re.compile(r"^(?P<name>.+?)(?:\s+v|@)(?P<version>\d+)$")


def get_rules(session: Session, name: str | CountingRules | None = None) -> CountingRules:
    """The rule set `name` (its newest version; ``name v2`` or ``name@2`` for an older one).

    None gives the default rule set: the newest row saved as default.
    """
    if isinstance(name, CountingRules):
        return name
    if name is None:
        found = session.exec(
            sqlmodel_select(CountingRules)
            .where(col(CountingRules.is_default).is_(True))
            .order_by(col(CountingRules.id).desc())
        ).first()
        if found is None:
            raise NotFound("default counting rules", "(run `crm init` to add them)")
        name = found.name
    text = name.strip()
    statement = sqlmodel_select(CountingRules)
    match = _NAMED_VERSION.match(text)
    if match and session.exec(sqlmodel_select(CountingRules.id).where(CountingRules.name == text)).first() is None:
        statement = statement.where(
            CountingRules.name == match["name"].strip(), CountingRules.version == int(match["version"])
        )
    else:
        statement = statement.where(CountingRules.name == text)
    rules = session.exec(statement.order_by(col(CountingRules.version).desc())).first()
    if rules is None:
        raise NotFound("counting rules", text)
    return rules


def _sources(values: Sequence[str]) -> list[str]:
    from crm.arrivals import parse_source

    chosen = {parse_source(v) for v in values}
    if not chosen:
        raise InvalidValue("sources", list(values), "name at least one source (境外, 省外, 市外省内, 县际)")
    return [s.value for s in CapitalSource if s.value in chosen]


def save_rules(
    session: Session,
    name: str,
    *,
    actor: str,
    fulfillment_basis: str | None = None,
    completion_basis: str | None = None,
    sources: Sequence[str] | None = None,
    verified_only: bool | None = None,
    cohort_years: int | None = None,
    arrival_tolerance: float | None = None,
    default: bool | None = None,
    note: str | None = None,
    size_classes: str | Sequence[tuple[str, int]] | None = None,
    commit: bool = True,
) -> CountingRules:
    """Save a NEW version of rule set `name` (versions are never edited in place).

    Arguments left None keep the previous version's value (or DESIGN.md's default for a new
    name). `cohort_years=0` removes the cohort window. `arrival_tolerance` is how far arrivals
    may exceed a deal's contracted amount before ``crm check`` reports them (0.1: 10%). `sources` take Chinese labels or values.
    `default=True` makes this rule set the one reports use when none is named.
    `size_classes` are (name, floor in yuan) pairs or text ``500万以上=500万,亿元以上=1亿``
    (see parse_size_classes); an empty text goes back to DEFAULT_SIZE_CLASSES.
    """
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise InvalidValue("name", name, "a rule set needs a name of 1 to 64 characters")
    previous = session.exec(
        sqlmodel_select(CountingRules).where(CountingRules.name == name).order_by(col(CountingRules.version).desc())
    ).first()
    base = previous or CountingRules(name=name, version=0)
    try:
        fulfillment = FulfillmentBasis(fulfillment_basis or base.fulfillment_basis).value
    except ValueError:
        allowed = ", ".join(m.value for m in FulfillmentBasis)
        raise InvalidValue("fulfillment_basis", fulfillment_basis, f"use one of {allowed}") from None
    try:
        completion = CompletionBasis(completion_basis or base.completion_basis).value
    except ValueError:
        allowed = ", ".join(m.value for m in CompletionBasis)
        raise InvalidValue("completion_basis", completion_basis, f"use one of {allowed}") from None
    chosen_sources = _sources(sources) if sources is not None else list(base.sources)
    if cohort_years is not None and (isinstance(cohort_years, bool) or cohort_years < 0):
        raise InvalidValue("cohort_years", cohort_years, "a number of years, 1 or more (0 for no window)")
    years = base.cohort_years if cohort_years is None else (cohort_years or None)
    if arrival_tolerance is not None and not (0 <= arrival_tolerance < 100):
        raise InvalidValue("arrival_tolerance", arrival_tolerance, "a fraction of 0 or more (0.1: arrivals up to 110%)")
    tolerance = base.arrival_tolerance if arrival_tolerance is None else float(arrival_tolerance)
    rules = CountingRules(
        name=name,
        version=base.version + 1,
        fulfillment_basis=fulfillment,
        completion_basis=completion,
        sources=chosen_sources,
        verified_only=base.verified_only if verified_only is None else bool(verified_only),
        cohort_years=years,
        arrival_tolerance=tolerance,
        is_default=base.is_default if default is None else bool(default),
        note=note if note is not None else base.note,
        size_classes=base.size_classes if size_classes is None else _stored_size_classes(size_classes),
        progress_tolerance=base.progress_tolerance,
        report_deadline_weekday=base.report_deadline_weekday,
        report_deadline_time=base.report_deadline_time,
    )
    with unit_of_work(session, commit=commit):
        session.add(rules)
        session.flush()
        record_creation(session, rules, actor=actor)
    return rules


def cohort_start(rules: CountingRules, as_of: date) -> date | None:
    """The first signing date in the rules' cohort window as of `as_of` (None: no window).

    ``cohort_years=3`` on 2026-06-30 keeps deals signed after 2023-06-30.
    """
    if not rules.cohort_years:
        return None
    try:
        cut = as_of.replace(year=as_of.year - rules.cohort_years)
    except ValueError:  # 29 February
        cut = as_of.replace(year=as_of.year - rules.cohort_years, day=28)
    return cut + timedelta(days=1)


# ---------------------------------------------------------------- the SQL that applies them


def big_sum(expr: ColumnElement[Any]) -> ColumnElement[int]:
    """SUM as a BIGINT that is 0 over no rows (PostgreSQL sums BIGINT into NUMERIC otherwise)."""
    return cast(func.coalesce(func.sum(expr), 0), BigInteger)


def root_deal_id(m: Any) -> ColumnElement[Any]:
    """The root deal of deal alias `m`: the deal a capital increase increases, else the deal itself."""
    return func.coalesce(m.c.increases_id, m.c.id)


def state_flags(d: Any, as_of: date) -> tuple[ColumnElement[Any], ColumnElement[Any], ColumnElement[Any]]:
    """(started-or-later, in production, terminated) of deal alias `d` as of `as_of`, each 1 or 0."""
    terminated = and_(d.c.terminated_on.is_not(None), d.c.terminated_on <= as_of)
    started = case((terminated, 0), (and_(d.c.started_on.is_not(None), d.c.started_on <= as_of), 1), else_=0)
    in_production = case((terminated, 0), (and_(d.c.completed_on.is_not(None), d.c.completed_on <= as_of), 1), else_=0)
    return started, in_production, case((terminated, 1), else_=0)


def not_replaced(d: Any, as_of: date, *, per_arrival: bool = False) -> ColumnElement[bool]:
    """Root deal `d` was not replaced by a deal signed on or before `as_of`.

    Over one row per deal (the usual case, arrivals summed per deal first): a correlated NOT
    EXISTS, which SQLite answers by probing the unique index on replaces_id and PostgreSQL
    as an anti-join. Over one row per arrival (`per_arrival`): an uncorrelated NOT IN, the
    (small) set of replaced ids built once and probed per row, cheaper than an index probe
    per arrival on both databases (measured on 1M arrivals). Never a LEFT JOIN on
    replaces_id: SQLite, rating that mostly-NULL index as useless, then scans the deal
    table for every row.
    """
    if per_arrival:
        replaced = select(DEAL.c.replaces_id).where(DEAL.c.replaces_id.is_not(None), DEAL.c.signed_on <= as_of)
        return d.c.id.not_in(replaced)
    r = DEAL.alias("r")
    return ~select(r.c.id).where(r.c.replaces_id == d.c.id, r.c.signed_on <= as_of).exists()


def counted_arrival_conditions(rs: CountingRules, *, start: date | None, end: date) -> list[ColumnElement[bool]]:
    """The arrivals the rules count: not voided, of the rules' sources, verified if asked, dated start..end."""
    conditions: list[ColumnElement[bool]] = [
        ARRIVAL.c.arrived_on <= end,
        ARRIVAL.c.source.in_(list(rs.sources)),
        not_voided(ARRIVAL),
    ]
    if start is not None:
        conditions.append(ARRIVAL.c.arrived_on >= start)
    if rs.verified_only:
        conditions.append(ARRIVAL.c.verified.is_(True))
    return conditions


def arrivals_per_deal(
    rs: CountingRules,
    *,
    start: date | None,
    end: date,
    windows: Mapping[str, tuple[date, date]] | None = None,
    roots: Any = None,
) -> Any:
    """Counted arrivals dated start..end, summed per deal (with `roots`, a select of root deal
    ids, only the arrivals on those deals and their capital increases, found by deal).

    A subquery with ``deal_id`` and one BIGINT column per window (named by
    `windows`, each the sum of arrivals dated in its inclusive range) or, without windows,
    ``arrived``. Summing per deal first (one pass over the covering index
    ix_arrival_deal_on_cover) leaves one row per deal, not per arrival, to be mapped to its
    root deal and grouped.
    """
    conditions = counted_arrival_conditions(rs, start=start, end=end)
    if roots is not None:
        conditions.append(ARRIVAL.c.deal_id.in_(select(DEAL.c.id).where(root_deal_id(DEAL).in_(roots))))
    if windows is None:
        sums = [big_sum(ARRIVAL.c.arrived_yuan).label("arrived")]
    else:
        sums = [
            big_sum(
                ARRIVAL.c.arrived_yuan
                if (lo, hi) == (start, end)  # the window is the whole range
                else case(
                    (and_(ARRIVAL.c.arrived_on >= lo, ARRIVAL.c.arrived_on <= hi), ARRIVAL.c.arrived_yuan), else_=0
                )
            ).label(name)
            for name, (lo, hi) in windows.items()
        ]
    return select(ARRIVAL.c.deal_id, *sums).where(*conditions).group_by(ARRIVAL.c.deal_id).subquery("arrivals_per_deal")


def in_reserve(as_of: date | None) -> list[ColumnElement[bool]]:
    """Conditions on the lead table: the lead is in the reserve (open stage, received by as_of)."""
    conditions: list[ColumnElement[bool]] = [LEAD.c.stage.in_([s.value for s in OPEN_LEAD_STAGES])]
    if as_of is not None:
        conditions.append(LEAD.c.received_on <= as_of)
    return conditions


def cohort_facts(rs: CountingRules, as_of: date, *, detail: bool = False, roots: Any = None) -> Any:
    """The facts of a cohort figure, one row per fact, each tagged with its root deal (``root_id``).

    `roots` (a select of root deal ids, without `detail`) keeps the facts of those deals only,
    read by deal rather than by scanning every arrival: for a figure over a few deals.

    The root's own row (``is_deal`` = 1, its contracted amount), each capital increase's
    increment (counted when the increase is signed by as_of), each deal's counted arrivals up
    to as_of (``arrived``; summed per deal first, or one row per arrival with `detail`). Join it
    to the root deal by primary key, filter with ``cohort_conditions`` and group once.

    With `detail` the rows also say what they are: ``fact`` (deal, increase, arrival),
    ``fact_id`` (the deal's or the arrival's id), ``deal_id`` (the deal it is on) and ``on``
    (signing or arrival date), so that the rows behind a figure can be listed.
    """
    m = DEAL.alias("m")
    zero = literal(0, BigInteger)
    contracted = case(
        (or_(DEAL.c.increases_id.is_(None), DEAL.c.signed_on <= as_of), cast(DEAL.c.contracted_yuan, BigInteger)),
        else_=zero,
    )
    if not detail:
        arrived = arrivals_per_deal(rs, start=None, end=as_of, roots=roots)
        deal_rows = select(
            root_deal_id(DEAL).label("root_id"),
            case((DEAL.c.increases_id.is_(None), 1), else_=0).label("is_deal"),
            contracted.label("contracted"),
            zero.label("arrived"),
        )
        if roots is not None:
            deal_rows = deal_rows.where(root_deal_id(DEAL).in_(roots))
        return union_all(
            # every deal row once (a plain scan): a root counts as a deal with its amount, an
            # increase signed by as_of adds its increment to its root
            deal_rows,
            select(root_deal_id(m), literal(0, Integer), zero, arrived.c.arrived).select_from(
                arrived.join(m, arrived.c.deal_id == m.c.id)
            ),
        ).subquery("facts")
    return union_all(
        select(
            root_deal_id(DEAL).label("root_id"),
            case((DEAL.c.increases_id.is_(None), 1), else_=0).label("is_deal"),
            contracted.label("contracted"),
            zero.label("arrived"),
            case((DEAL.c.increases_id.is_(None), literal("deal")), else_=literal("increase")).label("fact"),
            DEAL.c.id.label("fact_id"),
            DEAL.c.id.label("deal_id"),
            DEAL.c.signed_on.label("on"),
        ),
        select(
            root_deal_id(m),
            literal(0, Integer),
            zero,
            cast(ARRIVAL.c.arrived_yuan, BigInteger),
            literal("arrival"),
            ARRIVAL.c.id,
            ARRIVAL.c.deal_id,
            ARRIVAL.c.arrived_on,
        )
        .select_from(ARRIVAL.join(m, ARRIVAL.c.deal_id == m.c.id))
        .where(*counted_arrival_conditions(rs, start=None, end=as_of)),
    ).subquery("facts")


def cohort_conditions(d: Any, rs: CountingRules, as_of: date) -> list[ColumnElement[bool]]:
    """Root deal alias `d` is in the cohort as of `as_of`: a root (not an increase), not replaced,
    signed on or before as_of and within the rules' cohort window."""
    conditions: list[ColumnElement[bool]] = [
        d.c.increases_id.is_(None),
        not_replaced(d, as_of),
        d.c.signed_on <= as_of,
    ]
    start = cohort_start(rs, as_of)
    if start is not None:
        conditions.append(d.c.signed_on >= start)
    return conditions


# ---------------------------------------------------------------- size classes (规模)

# (name, floor in yuan): 500万以上 is the statistical reporting floor, 亿元以上 a major
# project (重大项目). A class runs from its floor up to the next class's floor.
DEFAULT_SIZE_CLASSES: tuple[tuple[str, int], ...] = (
    ("500万以上", 5_000_000),
    ("亿元以上", 100_000_000),
    ("10亿元以上", 1_000_000_000),
)


def size_classes(rules: CountingRules) -> list[tuple[str, int]]:
    """The rules' size classes as (name, floor in yuan), smallest first (DEFAULT_SIZE_CLASSES when unset)."""
    stored = rules.size_classes
    if not stored:
        return list(DEFAULT_SIZE_CLASSES)
    return sorted(((str(c["name"]), int(c["min_yuan"])) for c in stored), key=lambda c: c[1])


def parse_size_classes(text: str) -> list[tuple[str, int]]:
    """``500万以上=500万,亿元以上=1亿,10亿元以上=10亿`` -> [(name, floor in yuan), ...]; a bare floor is 万元."""
    classes: list[tuple[str, int]] = []
    for item in [i for i in text.replace("，", ",").split(",") if i.strip()]:
        name, sep, floor = item.partition("=")
        if not sep or not name.strip() or not floor.strip():
            raise InvalidValue("size_classes", item, "write each class as name=floor, e.g. 亿元以上=1亿")
        classes.append((name.strip(), parse_yuan(floor.strip(), "万元", field="size_classes")))
    return classes


def _stored_size_classes(value: str | Sequence[tuple[str, int]]) -> list[dict[str, Any]] | None:
    """Checked size classes as stored in CountingRules.size_classes (None: the defaults)."""
    classes = parse_size_classes(value) if isinstance(value, str) else [(str(n), int(f)) for n, f in value]
    if not classes:
        return None
    names = [n for n, _ in classes]
    floors = [f for _, f in classes]
    if any(not n or len(n) > 32 for n in names) or len(set(names)) != len(names):
        raise InvalidValue("size_classes", names, "each class needs its own name of 1 to 32 characters")
    if any(f <= 0 for f in floors) or len(set(floors)) != len(floors):
        raise InvalidValue("size_classes", floors, "each class needs its own floor above 0 yuan")
    return [{"name": n, "min_yuan": f} for n, f in sorted(classes, key=lambda c: c[1])]


def size_class_labels(rules: CountingRules) -> list[str]:
    """Label of each size-class index: 0 is below the lowest floor (``500万以下``), i the i-th class."""
    floor = size_classes(rules)[0][1]
    return [f"{short_amount(floor)}以下", *(name for name, _ in size_classes(rules))]


def short_amount(yuan: int) -> str:
    """5000000 -> 500万, 100000000 -> 1亿, 1234 -> 1234元 (a class floor in a label)."""
    for unit, factor in (("亿", 100_000_000), ("万", 10_000)):
        if yuan >= factor:
            text = f"{Decimal(yuan) / factor:f}"
            return (text.rstrip("0").rstrip(".") if "." in text else text) + unit
    return f"{yuan}元"


def deal_sizes(as_of: date) -> Any:
    """Each root deal's size as of `as_of`: its contracted amount plus the increases signed by then.

    A subquery with ``root_id`` and ``size_yuan`` (BIGINT), one row per root deal.
    """
    root = root_deal_id(DEAL)
    counted = case(
        (or_(DEAL.c.increases_id.is_(None), DEAL.c.signed_on <= as_of), cast(DEAL.c.contracted_yuan, BigInteger)),
        else_=0,
    )
    return select(root.label("root_id"), big_sum(counted).label("size_yuan")).group_by(root).subquery("deal_sizes")


def size_class_index(size: ColumnElement[Any], rules: CountingRules) -> ColumnElement[int]:
    """The size-class index (see size_class_labels) of a size in yuan: 0 below the floor, else 1.. upwards."""
    classes = size_classes(rules)
    whens = [(size >= floor, index) for index, (_, floor) in reversed(list(enumerate(classes, start=1)))]
    return case(*whens, else_=0)


def size_conditions(
    size: ColumnElement[Any], min_amount: int | None, max_amount: int | None
) -> list[ColumnElement[bool]]:
    """min_amount <= size < max_amount (either bound may be None), so bounds at class floors tile."""
    conditions: list[ColumnElement[bool]] = []
    if min_amount is not None:
        conditions.append(size >= min_amount)
    if max_amount is not None:
        conditions.append(size < max_amount)
    return conditions


def check_size_bounds(min_amount: int | None, max_amount: int | None) -> None:
    """Size bounds in yuan: each 0 or more, max above min."""
    for name, value in (("min_amount", min_amount), ("max_amount", max_amount)):
        if value is not None and value < 0:
            raise InvalidValue(name, value, "an amount in yuan, 0 or more")
    if min_amount is not None and max_amount is not None and max_amount <= min_amount:
        raise InvalidValue("max_amount", max_amount, f"must be above min_amount ({min_amount})")

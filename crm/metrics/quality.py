"""The data-quality audit (查漏补缺): what in the ledger is impossible, missing or suspicious.

``quality(session, as_of=…)`` returns one finding per row: ``kind`` (see QUALITY_KINDS),
``severity`` (error: the data cannot be right; warning: something is missing or late; info:
worth a look), ``entity`` and ``record_id`` (the table and id of the record), ``record`` (a
readable label) and ``reason`` in plain words. A clean ledger gives an empty frame with these
columns. ``quality_counts`` counts the findings by kind for the weekly report.

A deal in production without a start date is not a kind: the schema refuses it
(``ck_deal_complete_after_start``); a producing deal without its procedures is
``started_without_procedures``.

The tolerance for arrivals above the contracted amount is stored with the counting rules
(``CountingRules.arrival_tolerance``); the registration and follow-up delays are arguments.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import and_, func, literal, or_, select, union_all
from sqlmodel import Session, SQLModel

from crm.arrivals import not_voided
from crm.metrics.common import ARRIVAL, DEAL, PERSON, TARGET, UNIT, resolve_rules
from crm.models import PROCEDURE_LABELS, CountingRules, PeriodKind, ProcedureKind, ProcedureState
from crm.rules import big_sum, get_rules, not_replaced, root_deal_id

QUALITY_COLUMNS = ["kind", "severity", "entity", "record_id", "record", "reason"]
SEVERITIES = ("error", "warning", "info")

# kind: (severity, what it finds), in the order findings are listed
QUALITY_KINDS: dict[str, tuple[str, str]] = {
    "arrival_over_contracted": ("error", "a deal's arrivals exceed its contracted amount beyond the tolerance"),
    "arrival_in_future": ("error", "an arrival dated after as_of"),
    "arrival_after_termination": ("error", "an arrival dated after its deal was terminated"),
    "duplicate_arrival": ("warning", "a second arrival of the same deal, date and amount"),
    "started_without_procedures": (
        "warning",
        "a started or producing deal whose 立项, 用地 or 施工许可 is not done",
    ),
    "started_not_registered": ("warning", "a deal started long ago and not registered (入库)"),
    "unstarted_without_owner": ("warning", "a signed, unstarted deal without a follow-up owner (专人跟踪)"),
    "unstarted_without_follow_up": ("warning", "a signed, unstarted deal without a follow-up in the last days"),
    "deal_incomplete": ("warning", "a deal without industry, responsible unit, leader or credited unit"),
    "duplicate_investor": ("warning", "two investors whose names are nearly the same"),
    "lonely_reference": ("info", "a unit or person referenced by one record only (a typo?)"),
    "targets_above_year": ("warning", "quarter or month targets adding up to more than their year (or quarter)"),
}
# what each kind is called in the weekly report and on the dashboard
QUALITY_LABELS: dict[str, str] = {
    "arrival_over_contracted": "到位资金超过合同投资额",
    "arrival_in_future": "到位日期晚于统计日",
    "arrival_after_termination": "终止后仍有到位资金",
    "duplicate_arrival": "重复的到位记录",
    "started_without_procedures": "已开工但立项、用地或施工许可未办结",
    "started_not_registered": "开工已久尚未入库",
    "unstarted_without_owner": "签约未开工项目无专人跟踪",
    "unstarted_without_follow_up": "签约未开工项目近期无跟踪记录",
    "deal_incomplete": "项目缺产业、责任单位、包抓领导或招引单位",
    "duplicate_investor": "投资方名称疑似重复",
    "lonely_reference": "单位或人员只被一条记录引用（疑似笔误）",
    "targets_above_year": "季度或月度目标之和超过全年",
}
REQUIRED_PROCEDURES = (ProcedureKind.approval, ProcedureKind.land, ProcedureKind.construction_permit)
DEAL_FIELDS = {
    "industry_id": "产业 industry",
    "unit_id": "责任单位 unit",
    "leader_id": "包抓领导 leader",
    "credited_unit_id": "招引单位 credited unit",
}
PROCEDURE = SQLModel.metadata.tables["procedure"]
INVESTOR = SQLModel.metadata.tables["investor"]
FOLLOW_UP = SQLModel.metadata.tables["follow_up"]


@dataclass(frozen=True)
class _Context:
    as_of: date
    rules: CountingRules
    registration_days: int
    follow_up_days: int
    cache: dict[str, Any] = field(default_factory=dict)  # what two checks read (the unstarted deals)


def _finding(kind: str, entity: str, record_id: int, record: str, reason: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "severity": QUALITY_KINDS[kind][0],
        "entity": entity,
        "record_id": int(record_id),
        "record": record,
        "reason": reason,
    }


def _deal(deal_id: int, project: str) -> str:
    return f"deal {deal_id} ({project})"


def _rows(session: Session, statement: Any) -> list[Any]:
    return list(session.connection().execute(statement).all())


def _wan(yuan: int) -> str:
    return f"{Decimal(yuan) / 10_000:,.0f}万元" if yuan % 10_000 == 0 else f"{yuan:,}元"


# ---------------------------------------------------------------- arrivals


def _arrival_over_contracted(session: Session, ctx: _Context) -> list[dict[str, Any]]:
    # the arrivals summed per deal (one pass over the covering index) and the deals read once, added
    # up per root deal here: summing per root in SQL joins the deal table to every arrival (4.5 s at
    # province scale, against 0.9 s), and joining two grouped subqueries made SQLite loop over one
    # for each row of the other
    root_of: dict[int, int] = {}
    contracted: dict[int, int] = defaultdict(int)
    for deal_id, root, yuan in _rows(session, select(DEAL.c.id, root_deal_id(DEAL), DEAL.c.contracted_yuan)):
        root_of[int(deal_id)] = int(root)
        contracted[int(root)] += int(yuan)
    arrived: dict[int, int] = defaultdict(int)
    for deal_id, total in _rows(
        session,
        select(ARRIVAL.c.deal_id, big_sum(ARRIVAL.c.arrived_yuan))
        .where(ARRIVAL.c.arrived_on <= ctx.as_of, not_voided(ARRIVAL))
        .group_by(ARRIVAL.c.deal_id),
    ):
        arrived[root_of[int(deal_id)]] += int(total)
    tolerance = Decimal(str(ctx.rules.arrival_tolerance))
    over = {
        root: (total, contracted[root])
        for root, total in arrived.items()
        if Decimal(total) > Decimal(contracted[root]) * (1 + tolerance)
    }
    if not over:
        return []
    names = dict(_rows(session, select(DEAL.c.id, DEAL.c.project_name).where(DEAL.c.id.in_(list(over)))))
    return [
        _finding(
            "arrival_over_contracted",
            "deal",
            deal_id,
            _deal(deal_id, names.get(deal_id, "")),
            f"arrived {_wan(total)} by {ctx.as_of} against {_wan(limit)} contracted (with increases); "
            f"the rules allow {tolerance * 100:g}% more",
        )
        for deal_id, (total, limit) in sorted(over.items())
    ]


def _arrival_label(arrival_id: int, deal_id: int, project: str) -> str:
    return f"arrival {arrival_id} of deal {deal_id} ({project})"


def _arrival_in_future_rows(ctx: _Context) -> Any:
    return (
        select(ARRIVAL.c.id, ARRIVAL.c.deal_id, DEAL.c.project_name, ARRIVAL.c.arrived_on)
        .join(DEAL, DEAL.c.id == ARRIVAL.c.deal_id)
        .where(ARRIVAL.c.arrived_on > ctx.as_of, not_voided(ARRIVAL))
        .order_by(ARRIVAL.c.id)
    )


def _arrival_in_future(session: Session, ctx: _Context) -> list[dict[str, Any]]:
    return [
        _finding(
            "arrival_in_future",
            "capital_arrival",
            arrival_id,
            _arrival_label(arrival_id, deal_id, project),
            f"dated {day}, after {ctx.as_of}",
        )
        for arrival_id, deal_id, project, day in _rows(session, _arrival_in_future_rows(ctx))
    ]


def _arrival_after_termination_rows(ctx: _Context) -> Any:
    m, d = DEAL.alias("m"), DEAL.alias("d")
    # the arrivals are looked up by deal among the deals whose root was terminated (a few in a
    # hundred): scanning every arrival for its deal's root took 3.2 s at province scale, this 0.1 s
    x, root = DEAL.alias("x"), DEAL.alias("root")
    on_ended = select(x.c.id).select_from(x.outerjoin(root, root.c.id == x.c.increases_id))
    on_ended = on_ended.where(func.coalesce(root.c.terminated_on, x.c.terminated_on).is_not(None))
    return (
        select(ARRIVAL.c.id, ARRIVAL.c.deal_id, m.c.project_name, ARRIVAL.c.arrived_on, d.c.terminated_on)
        .select_from(ARRIVAL.join(m, m.c.id == ARRIVAL.c.deal_id).join(d, d.c.id == root_deal_id(m)))
        .where(ARRIVAL.c.deal_id.in_(on_ended))
        .where(d.c.terminated_on.is_not(None), ARRIVAL.c.arrived_on > d.c.terminated_on, not_voided(ARRIVAL))
        .order_by(ARRIVAL.c.id)
    )


def _arrival_after_termination(session: Session, ctx: _Context) -> list[dict[str, Any]]:
    return [
        _finding(
            "arrival_after_termination",
            "capital_arrival",
            arrival_id,
            _arrival_label(arrival_id, deal_id, project),
            f"dated {day}, after the deal was terminated on {ended}",
        )
        for arrival_id, deal_id, project, day, ended in _rows(session, _arrival_after_termination_rows(ctx))
    ]


def _duplicate_groups() -> Any:
    """Each (deal, date, amount) that more than one standing arrival has, with how many (`n`)."""
    return (
        select(ARRIVAL.c.deal_id, ARRIVAL.c.arrived_on, ARRIVAL.c.arrived_yuan, func.count().label("n"))
        .where(not_voided(ARRIVAL))
        .group_by(ARRIVAL.c.deal_id, ARRIVAL.c.arrived_on, ARRIVAL.c.arrived_yuan)
        .having(func.count() > 1)
    )


def _duplicate_arrival_count(session: Session, ctx: _Context) -> int:
    """How many findings `_duplicate_arrival_rows` gives: each arrival of a group but its first, without
    looking up which is first (one grouped pass over the arrivals)."""
    groups = _duplicate_groups().subquery()
    return int(session.connection().execute(select(func.coalesce(func.sum(groups.c.n - 1), 0))).scalar_one())


def _duplicate_arrival_rows(ctx: _Context) -> Any:
    """Every arrival of a (deal, date, amount) recorded more than once, with the first of them (None for the first)."""
    a = ARRIVAL.alias("first")
    earlier = (
        select(a.c.id)
        .where(
            a.c.deal_id == ARRIVAL.c.deal_id,
            a.c.arrived_on == ARRIVAL.c.arrived_on,
            a.c.arrived_yuan == ARRIVAL.c.arrived_yuan,
            a.c.id < ARRIVAL.c.id,
            not_voided(a),
        )
        .order_by(a.c.id)
        .limit(1)
        .correlate(ARRIVAL)
        .scalar_subquery()
    )
    groups = _duplicate_groups().subquery("groups")
    return (
        select(
            ARRIVAL.c.id,
            ARRIVAL.c.deal_id,
            DEAL.c.project_name,
            ARRIVAL.c.arrived_on,
            ARRIVAL.c.arrived_yuan,
            earlier.label("first"),
        )
        .select_from(
            ARRIVAL.join(
                groups,
                and_(
                    groups.c.deal_id == ARRIVAL.c.deal_id,
                    groups.c.arrived_on == ARRIVAL.c.arrived_on,
                    groups.c.arrived_yuan == ARRIVAL.c.arrived_yuan,
                ),
            ).join(DEAL, DEAL.c.id == ARRIVAL.c.deal_id)
        )
        .where(not_voided(ARRIVAL))
        .order_by(ARRIVAL.c.id)
    )


def _duplicate_arrival(session: Session, ctx: _Context) -> list[dict[str, Any]]:
    return [
        _finding(
            "duplicate_arrival",
            "capital_arrival",
            arrival_id,
            _arrival_label(arrival_id, deal_id, project),
            f"the same deal, date ({day}) and amount ({_wan(int(amount))}) as arrival {first}",
        )
        for arrival_id, deal_id, project, day, amount, first in _rows(session, _duplicate_arrival_rows(ctx))
        if first is not None
    ]


# ---------------------------------------------------------------- deals


def _roots(d: Any, ctx: _Context) -> list[Any]:
    """Deal alias `d` is a root deal (not an increase), signed by as_of and not replaced by then."""
    return [d.c.increases_id.is_(None), d.c.signed_on <= ctx.as_of, not_replaced(d, ctx.as_of)]


def _not_terminated(d: Any, as_of: date) -> Any:
    return or_(d.c.terminated_on.is_(None), d.c.terminated_on > as_of)


def _started(d: Any, ctx: _Context) -> list[Any]:
    """Root deal alias `d` started by as_of and not terminated by then."""
    return [*_roots(d, ctx), d.c.started_on.is_not(None), d.c.started_on <= ctx.as_of, _not_terminated(d, ctx.as_of)]


def _procedure_done(ctx: _Context) -> list[Any]:
    """A procedure row is one of the required ones, done by as_of."""
    return [
        PROCEDURE.c.state == ProcedureState.done.value,
        PROCEDURE.c.kind.in_([k.value for k in REQUIRED_PROCEDURES]),
        or_(PROCEDURE.c.done_on.is_(None), PROCEDURE.c.done_on <= ctx.as_of),
    ]


def _started_without_procedures(session: Session, ctx: _Context) -> list[dict[str, Any]]:
    d = DEAL.alias("d")
    started = _rows(session, select(d.c.id, d.c.project_name, d.c.started_on).where(*_started(d, ctx)).order_by(d.c.id))
    done: dict[int, set[str]] = defaultdict(set)
    for deal_id, kind in _rows(session, select(PROCEDURE.c.deal_id, PROCEDURE.c.kind).where(*_procedure_done(ctx))):
        done[int(deal_id)].add(str(kind))
    out = []
    for deal_id, project, started_on in started:
        missing = [PROCEDURE_LABELS[k] for k in REQUIRED_PROCEDURES if k.value not in done.get(int(deal_id), set())]
        if missing:
            out.append(
                _finding(
                    "started_without_procedures",
                    "deal",
                    deal_id,
                    _deal(deal_id, project),
                    f"started on {started_on} but {'、'.join(missing)} not done",
                )
            )
    return out


def _started_without_procedures_rows(ctx: _Context) -> Any:
    """The started deals of ``_started_without_procedures`` with fewer required procedures done than
    required (a deal has at most one procedure of a kind), for the count."""
    d = DEAL.alias("d")
    done = (
        select(func.count()).where(PROCEDURE.c.deal_id == d.c.id, *_procedure_done(ctx)).correlate(d).scalar_subquery()
    )
    return select(d.c.id).where(*_started(d, ctx), done < len(REQUIRED_PROCEDURES))


def _started_not_registered_rows(ctx: _Context) -> Any:
    d = DEAL.alias("d")
    cut = ctx.as_of - timedelta(days=ctx.registration_days)
    return (
        select(d.c.id, d.c.project_name, d.c.started_on)
        .where(*_roots(d, ctx), d.c.started_on.is_not(None), d.c.started_on <= cut)
        .where(_not_terminated(d, ctx.as_of))
        .where(or_(d.c.registered_on.is_(None), d.c.registered_on > ctx.as_of))
        .order_by(d.c.id)
    )


def _started_not_registered(session: Session, ctx: _Context) -> list[dict[str, Any]]:
    return [
        _finding(
            "started_not_registered",
            "deal",
            deal_id,
            _deal(deal_id, project),
            f"started on {started_on}, {(ctx.as_of - started_on).days} days ago, and not registered (入库); "
            f"expected within {ctx.registration_days} days",
        )
        for deal_id, project, started_on in _rows(session, _started_not_registered_rows(ctx))
    ]


def _unstarted(session: Session, ctx: _Context) -> pd.DataFrame:
    from crm import deals

    if "unstarted" not in ctx.cache:
        ctx.cache["unstarted"] = deals.unstarted(session, as_of=ctx.as_of)
    listed: pd.DataFrame = ctx.cache["unstarted"]
    return listed


def _unstarted_without_owner(session: Session, ctx: _Context) -> list[dict[str, Any]]:
    listed = _unstarted(session, ctx)
    return [
        _finding(
            "unstarted_without_owner",
            "deal",
            deal_id,
            _deal(deal_id, project),
            f"signed {age} days ago, not started, and nobody follows it (专人跟踪)",
        )
        for deal_id, project, age, owner in zip(
            listed["deal_id"], listed["project_name"], listed["age_days"], listed["owner"], strict=True
        )
        if owner is None
    ]


def _unstarted_rows(session: Session, ctx: _Context, *conditions: Any) -> Any:
    """The deals of ``deals.unstarted`` (under the rules it uses, the active ones) that meet `conditions`."""
    from crm import deals

    listed = deals.unstarted_conditions(get_rules(session, None), ctx.as_of)
    return select(DEAL.c.id).where(*listed, *conditions)


def _unstarted_without_owner_rows(session: Session, ctx: _Context) -> Any:
    return _unstarted_rows(session, ctx, DEAL.c.follow_up_owner_id.is_(None))


def _unstarted_without_follow_up_rows(session: Session, ctx: _Context) -> Any:
    """Unstarted deals signed before the follow-up window with no follow-up inside it: what
    ``_unstarted_without_follow_up`` lists from the latest follow-up of each."""
    since = ctx.as_of - timedelta(days=ctx.follow_up_days)
    recent = (
        select(FOLLOW_UP.c.id)
        .where(FOLLOW_UP.c.deal_id == DEAL.c.id, FOLLOW_UP.c.on > since, FOLLOW_UP.c.on <= ctx.as_of)
        .correlate(DEAL)
        .exists()
    )
    return _unstarted_rows(session, ctx, DEAL.c.signed_on <= since, ~recent)


def _unstarted_without_follow_up(session: Session, ctx: _Context) -> list[dict[str, Any]]:
    listed = _unstarted(session, ctx)
    since = ctx.as_of - timedelta(days=ctx.follow_up_days)
    out = []
    for deal_id, project, signed_on, last in zip(
        listed["deal_id"], listed["project_name"], listed["signed_on"], listed["last_follow_up"], strict=True
    ):
        if signed_on > since or (last is not None and last > since):
            continue
        when = f"the last on {last}" if last is not None else "none ever"
        out.append(
            _finding(
                "unstarted_without_follow_up",
                "deal",
                deal_id,
                _deal(deal_id, project),
                f"signed on {signed_on}, not started, and no follow-up in the {ctx.follow_up_days} days "
                f"to {ctx.as_of} ({when})",
            )
        )
    return out


def _deal_incomplete(session: Session, ctx: _Context) -> list[dict[str, Any]]:
    d = DEAL.alias("d")
    out = []
    for row in _rows(
        session,
        select(d.c.id, d.c.project_name, *(d.c[f] for f in DEAL_FIELDS))
        .where(*_roots(d, ctx), or_(*(d.c[f].is_(None) for f in DEAL_FIELDS)))
        .order_by(d.c.id),
    ):
        missing = [label for label, value in zip(DEAL_FIELDS.values(), row[2:], strict=True) if value is None]
        if missing:
            out.append(
                _finding("deal_incomplete", "deal", row[0], _deal(row[0], row[1]), f"no {', no '.join(missing)}")
            )
    return out


# ---------------------------------------------------------------- names


def _one_edit(a: str, b: str) -> bool:
    """`a` and `b` differ by one character replaced, added or dropped."""
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1:
        return False
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


def _near(a: str, b: str) -> bool:
    """Two normalised investor names that are likely one enterprise: one contains the other (甘肃示例能源
    and 甘肃示例能源科技), or one character apart in a name of five or more (a typo: 甘肃示例能源 and
    甘肃示列能源). Two brands two characters apart (天水远景新能源科技, 天水恒远新能源科技) are not."""
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 4 and short in long_:
        return True
    return len(short) >= 5 and _one_edit(a, b)


def _first_near(keys: Sequence[str]) -> list[int | None]:
    """For each position j of `keys` (distinct normalised names, in id order), the first earlier
    position i < j whose key is near it (``_near``) and that is not itself flagged; None when
    there is none (j is not flagged). What comparing every pair in order gives, without the pairs.

    Neighbours come from indexes, each exactly one of ``_near``'s cases: a key of four or more
    characters inside another (each key's substrings looked up among the keys) and a key of five
    or more with one character added (the longer key with one deleted), listed per key; and a key
    of five or more with one character replaced (the keys equal but for one same position form a
    group: its first unflagged member is the earliest such neighbour of every later member).
    """
    position = {key: i for i, key in enumerate(keys)}
    # a key inside another starts where the other has its first two characters: only those starts
    # are looked up (in a block of one first two characters, mostly the start alone)
    heads = {key[:2] for key in keys}
    # one pass in order: a pair is found from its longer key, so by the time j is reached every
    # earlier neighbour of j has been listed for it (by j itself, or by the earlier, longer key)
    listed: dict[int, list[int]] = defaultdict(list)
    leader: dict[tuple[int, str], int] = {}
    flagged: set[int] = set()
    out: list[int | None] = []
    for j, key in enumerate(keys):
        n = len(key)
        for start in range(n - 3):
            if key[start : start + 2] not in heads:
                continue
            for end in range(start + 4, n + 1):
                i = position.get(key[start:end])
                if i is not None and i != j:
                    listed[max(i, j)].append(min(i, j))
        groups = []
        if n >= 5:
            for p in range(n):
                variant = key[:p] + key[p + 1 :]
                groups.append((p, variant))
                i = position.get(variant) if n >= 6 else None
                if i is not None:
                    listed[max(i, j)].append(min(i, j))
        candidates = [i for i in listed.pop(j, ()) if i not in flagged]
        candidates += [leader[g] for g in groups if g in leader]
        first = min(candidates, default=None)
        out.append(first)
        if first is None:
            for g in groups:
                leader.setdefault(g, j)
        else:
            flagged.add(j)
    return out


def _near_investors(session: Session) -> list[tuple[tuple[int, str], tuple[int, str]]]:
    """(investor, the first investor it is near) for each investor whose normalised name is near an
    earlier one's in the same block (the first two characters), in id order within each block."""
    investors = _rows(session, select(INVESTOR.c.id, INVESTOR.c.name, INVESTOR.c.name_key).order_by(INVESTOR.c.id))
    blocks: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for investor_id, name, key in investors:
        blocks[str(key)[:2]].append((int(investor_id), str(name), str(key)))
    pairs = []
    for block in blocks.values():
        for (other_id, other_name, _), first in zip(block, _first_near([key for _, _, key in block]), strict=True):
            if first is not None:
                pairs.append(((other_id, other_name), block[first][:2]))
    return pairs


def _duplicate_investor(session: Session, ctx: _Context) -> list[dict[str, Any]]:
    """Investors whose normalised name is near an earlier one's in the same block (the first two
    characters): each flagged once, against the first unflagged investor it is near, in id order."""
    out = [
        _finding(
            "duplicate_investor",
            "investor",
            other_id,
            f"investor {other_id} ({other_name})",
            f"nearly the same name as investor {first_id} ({first_name}): one enterprise twice?",
        )
        for (other_id, other_name), (first_id, first_name) in _near_investors(session)
    ]
    return sorted(out, key=lambda f: f["record_id"])


def _lonely_reference(session: Session, ctx: _Context) -> list[dict[str, Any]]:
    out = []
    for target, label in ((UNIT, "unit"), (PERSON, "person")):
        references = [
            select(fk.parent.label("ref")).where(fk.parent.is_not(None))
            for table in SQLModel.metadata.sorted_tables
            for fk in table.foreign_keys
            if fk.column.table is target
        ]
        if not references:
            continue
        refs = union_all(*references).subquery("refs")
        counted = select(refs.c.ref, func.count().label("n")).group_by(refs.c.ref).subquery("counted")
        for entity_id, name in _rows(
            session,
            select(target.c.id, target.c.name)
            .join(counted, counted.c.ref == target.c.id)
            .where(counted.c.n == 1)
            .order_by(target.c.id),
        ):
            out.append(
                _finding(
                    "lonely_reference",
                    label,
                    entity_id,
                    f"{label} {entity_id} ({name})",
                    f"referenced by one record only: a typo of another {label}'s name?",
                )
            )
    return out


# ---------------------------------------------------------------- targets


def _targets_above_year(session: Session, ctx: _Context) -> list[dict[str, Any]]:
    from crm.targets import Period

    rows = _rows(
        session,
        select(
            TARGET.c.id,
            TARGET.c.metric,
            TARGET.c.scope_key,
            TARGET.c.period_kind,
            TARGET.c.period_start,
            TARGET.c.amount,
            func.coalesce(UNIT.c.name, PERSON.c.name, literal("county")).label("scope"),
        )
        .select_from(
            TARGET.outerjoin(UNIT, UNIT.c.id == TARGET.c.unit_id).outerjoin(PERSON, PERSON.c.id == TARGET.c.leader_id)
        )
        .where(TARGET.c.amount.is_not(None))
        .order_by(TARGET.c.id),
    )
    by_scope: dict[tuple[str, str], list[tuple[int, Period, int, str]]] = defaultdict(list)
    for target_id, metric, key, kind, start, amount, scope in rows:
        day = start if isinstance(start, date) else date.fromisoformat(str(start))
        by_scope[(str(metric), str(key))].append((int(target_id), Period(day, str(kind)), int(amount), str(scope)))
    out = []
    for (metric, _key), entries in by_scope.items():
        for target_id, outer, amount, scope in entries:
            if outer.kind == PeriodKind.month:
                continue
            for finer in (PeriodKind.quarter, PeriodKind.month):
                if finer == outer.kind:
                    continue
                inside = [a for _, p, a, _ in entries if p.kind == finer and outer.start <= p.start <= outer.end]
                if inside and sum(inside) > amount:
                    kind_word = "quarter" if finer == PeriodKind.quarter else "month"
                    out.append(
                        _finding(
                            "targets_above_year",
                            "target",
                            target_id,
                            f"target {metric} {scope} {outer.label}",
                            f"the {len(inside)} {kind_word} targets add up to {sum(inside):,}, "
                            f"more than the {outer.label} target {amount:,}",
                        )
                    )
    return out


_CHECKS: dict[str, Callable[[Session, _Context], list[dict[str, Any]]]] = {
    "arrival_over_contracted": _arrival_over_contracted,
    "arrival_in_future": _arrival_in_future,
    "arrival_after_termination": _arrival_after_termination,
    "duplicate_arrival": _duplicate_arrival,
    "started_without_procedures": _started_without_procedures,
    "started_not_registered": _started_not_registered,
    "unstarted_without_owner": _unstarted_without_owner,
    "unstarted_without_follow_up": _unstarted_without_follow_up,
    "deal_incomplete": _deal_incomplete,
    "duplicate_investor": _duplicate_investor,
    "lonely_reference": _lonely_reference,
    "targets_above_year": _targets_above_year,
}


def quality(
    session: Session,
    *,
    as_of: date | None = None,
    rules: str | CountingRules | None = None,
    registration_days: int = 90,
    follow_up_days: int = 30,
) -> pd.DataFrame:
    """Every data-quality finding as of `as_of` (default today), one per row (see the module's docstring).

    `rules` gives the tolerance for arrivals above the contracted amount; `registration_days`
    how long after its start a deal should be registered (入库); `follow_up_days` how recent an
    unstarted deal's last follow-up must be.
    """
    ctx = _Context(as_of or date.today(), resolve_rules(session, rules), registration_days, follow_up_days)
    findings: list[dict[str, Any]] = []
    for check in _CHECKS.values():
        findings.extend(check(session, ctx))
    df = pd.DataFrame(findings, columns=QUALITY_COLUMNS)
    df["record_id"] = df["record_id"].astype("int64")
    df.attrs["as_of"] = ctx.as_of
    df.attrs["rules"] = f"{ctx.rules.name} v{ctx.rules.version}"
    return df


def quality_counts(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings of ``quality`` counted by kind: kind, label (Chinese), severity, findings; every kind a
    row, 0 when clean."""
    counts = findings["kind"].value_counts()
    return _counts_frame({kind: int(counts.get(kind, 0)) for kind in QUALITY_KINDS})


def _counts_frame(counts: dict[str, int]) -> pd.DataFrame:
    """kind, label, severity, findings: every kind a row, in QUALITY_KINDS' order."""
    return pd.DataFrame(
        {
            "kind": list(QUALITY_KINDS),
            "label": [QUALITY_LABELS[kind] for kind in QUALITY_KINDS],
            "severity": [severity for severity, _ in QUALITY_KINDS.values()],
            "findings": [counts.get(kind, 0) for kind in QUALITY_KINDS],
        }
    )


def _count(session: Session, rows: Any) -> int:
    """How many rows the check's statement gives, counted by the database."""
    statement = select(func.count()).select_from(rows.order_by(None).subquery())
    return int(session.connection().execute(statement).scalar_one())


# the checks counted without writing out their findings: those whose findings are the rows of one
# statement, one finding a row, counted by the database (at province scale 3 s of the 11 s the 通报
# spent listing every finding only to count them), and the near-duplicate investors, found but not
# worded
_COUNTED: dict[str, Callable[[Session, _Context], int]] = {
    "duplicate_investor": lambda session, ctx: len(_near_investors(session)),
    "arrival_in_future": lambda session, ctx: _count(session, _arrival_in_future_rows(ctx)),
    "arrival_after_termination": lambda session, ctx: _count(session, _arrival_after_termination_rows(ctx)),
    "duplicate_arrival": _duplicate_arrival_count,
    "started_not_registered": lambda session, ctx: _count(session, _started_not_registered_rows(ctx)),
    "started_without_procedures": lambda session, ctx: _count(session, _started_without_procedures_rows(ctx)),
    "unstarted_without_owner": lambda session, ctx: _count(session, _unstarted_without_owner_rows(session, ctx)),
    "unstarted_without_follow_up": lambda session, ctx: _count(
        session, _unstarted_without_follow_up_rows(session, ctx)
    ),
}


def count_quality(
    session: Session,
    *,
    as_of: date | None = None,
    rules: str | CountingRules | None = None,
    registration_days: int = 90,
    follow_up_days: int = 30,
) -> pd.DataFrame:
    """``quality_counts(quality(...))`` without listing the findings a statement can count: kind, label,
    severity, findings; every kind a row, 0 when clean. The 通报 and the dashboard show these counts."""
    ctx = _Context(as_of or date.today(), resolve_rules(session, rules), registration_days, follow_up_days)
    counts = {
        kind: _COUNTED[kind](session, ctx) if kind in _COUNTED else len(check(session, ctx))
        for kind, check in _CHECKS.items()
    }
    return _counts_frame(counts)

"""``crm arrival add``, ``crm target set|list``, ``crm rules show|save`` and the figure reports.

Reports: ``crm report kpis|targets|ranking|scorecard|arrivals|period``. With ``--format csv`` or
``json`` money is integer yuan and rates are fractions; the table shows 万元 and %.
A bare amount is 万元 (``--amount 500`` is 500万元); ``500万``, ``1.5亿`` and ``30000元`` say
their unit. Dates are YYYY-MM-DD.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from crm.cli.common import (
    ActorOption,
    AsOfOption,
    DealArgument,
    ForceOption,
    Format,
    FormatOption,
    MaxAmountOption,
    MinAmountOption,
    OutOption,
    amount_bound,
    check_out,
    emit,
    fail,
    name_option,
    parse_date,
    session_for,
)
from crm.cli.reports import register_report
from crm.errors import InvalidValue
from crm.money import parse_yuan, wan

if TYPE_CHECKING:
    import pandas as pd

    from crm.models import CountingRules

AMOUNT_UNIT = "万元"
# crm.metrics.DIMENSIONS and PERIOD_DIMENSIONS, written out so that --help does not load the
# library (tests/test_cli_startup.py holds them equal)
DIMENSIONS = (
    "industry",
    "origin",
    "unit",
    "leader",
    "introducer",
    "credited_unit",
    "signing_event",
    "signing_year",
    "signing_month",
    "size_class",
)
PERIOD_DIMENSIONS = (*DIMENSIONS, "zone")

arrival_app = typer.Typer(
    rich_markup_mode=None,
    help="Record capital that arrived (到位资金) for a deal.\n\n"
    "Example: crm arrival add 12 --on 2026-05-20 --amount 500万 --source 省外 --verified",
    no_args_is_help=True,
)
target_app = typer.Typer(
    rich_markup_mode=None,
    help="Set and list targets (目标任务) for the county, a unit or a leader.\n\n"
    "Example: crm target set --metric arrived_yuan --period 2026 --amount 263亿 --growth 0.1",
    no_args_is_help=True,
)
rules_app = typer.Typer(
    rich_markup_mode=None,
    help="Show or save counting rules (统计口径); every save is a new version.\n\n"
    "Example: crm rules save city --fulfillment-basis not_terminated --verified-only",
    no_args_is_help=True,
)


def _today(as_of: str | None) -> date:
    return parse_date(as_of, "--as-of") or date.today()


# ---------------------------------------------------------------- arrival


@arrival_app.command("add")
def arrival_add(
    ctx: typer.Context,
    deal_id: int = DealArgument,
    on: str = typer.Option(..., "--on", help="Date the money arrived, YYYY-MM-DD."),
    amount: str | None = typer.Option(None, "--amount", help="Yuan amount; a bare number is 万元 (500 = 500万元)."),
    source: str = typer.Option(..., "--source", help="境外, 省外, 市外省内 or 县际 (or the English value)."),
    use: str | None = typer.Option(None, "--use", help="固定资产 or 流动资金."),
    evidence_kind: str | None = typer.Option(None, "--evidence-kind", help="银行进账单, 验资报告, 发票 ..."),
    evidence_ref: str | None = typer.Option(None, "--evidence-ref", help="Number or reference of the evidence."),
    verified: bool = typer.Option(False, "--verified", help="The arrival is verified (default: reported)."),
    currency: str = typer.Option("CNY", "--currency", help="Currency of the original amount, e.g. USD."),
    original: str | None = typer.Option(None, "--original", help="Amount in that currency (100万 = one million)."),
    fx_rate: str | None = typer.Option(None, "--fx-rate", help="Yuan per unit of the currency, e.g. 7.1."),
    note: str | None = typer.Option(None, "--note", help="Note."),
    actor: str = ActorOption,
) -> None:
    """Record money that arrived for a deal; refused before signing or after termination.

    Example: crm arrival add 12 --on 2026-05-20 --amount 500万 --source 省外 --use 固定资产 --verified
    """
    from crm.arrivals import record_arrival
    from crm.models import CAPITAL_SOURCE_LABELS, CapitalSource

    day = parse_date(on, "--on")
    assert day is not None
    with session_for(ctx) as session:
        yuan = None if amount is None else parse_yuan(amount, AMOUNT_UNIT, field="--amount")
        arrival = record_arrival(
            session,
            deal_id,
            on=day,
            amount_yuan=yuan,
            source=source,
            actor=actor,
            use=use,
            evidence_kind=evidence_kind,
            evidence_ref=evidence_ref,
            verified=verified,
            currency=currency,
            original_amount=original,
            fx_rate=fx_rate,
            note=note,
        )
        label = CAPITAL_SOURCE_LABELS[CapitalSource(arrival.source)]
        typer.echo(
            f"arrival {arrival.id}: deal {deal_id} {arrival.arrived_on.isoformat()} {arrival.arrived_yuan} yuan "
            f"({wan(arrival.arrived_yuan)}, {label}, {'verified' if arrival.verified else 'reported'})"
        )


# ---------------------------------------------------------------- target


@target_app.command("set")
def target_set(
    ctx: typer.Context,
    metric: str = typer.Option(
        ..., "--metric", help="arrived_yuan, contracted_yuan, deals_signed, deals_started, reserve_yuan."
    ),
    period: str = typer.Option(..., "--period", help="2026, 2026Q2 or 2026-05."),
    amount: str | None = typer.Option(None, "--amount", help="Money (bare number = 万元) or, for deals_*, a count."),
    growth: str | None = typer.Option(None, "--growth", help="Target growth over last year: 0.1 or 10%."),
    unit: str | None = name_option("unit", "--unit", "The target is this unit's."),
    leader: str | None = name_option("leader", "--leader", "The target is this leader's."),
    weight: float | None = typer.Option(None, "--weight", help="Scorecard weight."),
    actor: str = ActorOption,
) -> None:
    """Set (or update) a target; the county's unless --unit or --leader.

    Example: crm target set --metric arrived_yuan --period 2026 --amount 263亿 --growth 0.1
    """
    from crm.targets import MONEY_METRICS, set_target

    if unit and leader:
        raise fail("give --unit or --leader, not both")
    with session_for(ctx) as session:
        amount_yuan: int | None = None
        count: int | None = None
        if amount is not None:
            if metric in MONEY_METRICS:
                amount_yuan = parse_yuan(amount, AMOUNT_UNIT, field="--amount")
            else:
                text = amount.strip().removesuffix("个")
                if not text.isdigit():
                    raise InvalidValue("--amount", amount, f"{metric} is a number of deals, e.g. 30")
                count = int(text)
        target = set_target(
            session,
            metric=metric,
            period=period,
            amount_yuan=amount_yuan,
            count=count,
            growth=growth,
            scope=unit or leader or "county",
            scope_kind="unit" if unit else "leader" if leader else None,
            weight=weight,
            actor=actor,
        )
        shown = (
            ""
            if target.amount is None
            else (wan(target.amount) if target.metric in MONEY_METRICS else f"{target.amount}")
        )
        growth_text = "" if target.growth is None else f" growth {target.growth:.1%}"
        typer.echo(f"target {target.id}: {target.metric} {period} {unit or leader or 'county'} {shown}{growth_text}")


@target_app.command("list")
def target_list(
    ctx: typer.Context,
    year: int | None = typer.Option(None, "--year", help="Year (default: this year)."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """List the targets of a year.

    Example: crm target list --year 2026 --format csv
    """
    from crm import metrics

    with session_for(ctx) as session:
        df = metrics.targets_of_year(session, year or date.today().year)
    emit(df, fmt, out, force=force)


# ---------------------------------------------------------------- rules


def _rules_frame(rules: CountingRules) -> pd.DataFrame:
    import pandas as pd

    from crm.rules import short_amount, size_classes
    from crm.targets import rules_label

    return pd.DataFrame(
        [
            {
                "rules": rules_label(rules),
                "fulfillment_basis": rules.fulfillment_basis,
                "completion_basis": rules.completion_basis,
                "sources": ",".join(rules.sources),
                "verified_only": rules.verified_only,
                "cohort_years": rules.cohort_years,
                "arrival_tolerance": rules.arrival_tolerance,
                "size_classes": ",".join(f"{name}={short_amount(floor)}" for name, floor in size_classes(rules)),
                "is_default": rules.is_default,
                "note": rules.note,
            }
        ]
    )


@rules_app.command("show")
def rules_show(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Rule set name (`name v2` for a version); default: the default."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """Show a counting-rule set (the newest version unless one is named).

    Example: crm rules show default
    """
    from crm.targets import get_rules

    with session_for(ctx) as session:
        df = _rules_frame(get_rules(session, name))
    emit(df, fmt, out, force=force)


@rules_app.command("save")
def rules_save(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Rule set name; saving again makes a new version."),
    fulfillment_basis: str | None = typer.Option(
        None, "--fulfillment-basis", help="started_or_later or not_terminated."
    ),
    completion_basis: str | None = typer.Option(None, "--completion-basis", help="started or signed."),
    sources: str | None = typer.Option(None, "--sources", help="Comma-separated: 境外,省外,市外省内,县际."),
    verified_only: bool | None = typer.Option(
        None, "--verified-only/--all-arrivals", help="Count only verified arrivals, or reported ones too."
    ),
    cohort_years: int | None = typer.Option(None, "--cohort-years", help="Deals signed in the last N years; 0 = all."),
    arrival_tolerance: float | None = typer.Option(
        None,
        "--arrival-tolerance",
        help="How far arrivals may exceed the contracted amount before crm check says so (0.1).",
    ),
    default: bool | None = typer.Option(None, "--default/--not-default", help="Reports use it when none is named."),
    note: str | None = typer.Option(None, "--note", help="What this rule set is for."),
    size_classes_text: str | None = typer.Option(
        None, "--size-classes", help="Size classes name=floor: 500万以上=500万,亿元以上=1亿,10亿元以上=10亿."
    ),
    actor: str = ActorOption,
) -> None:
    """Save a new version of a counting-rule set; unspecified options keep the previous version's values.

    Example: crm rules save city --fulfillment-basis not_terminated --sources 境外,省外 --verified-only
    """
    from crm.targets import rules_label, save_rules

    with session_for(ctx) as session:
        rules = save_rules(
            session,
            name,
            actor=actor,
            fulfillment_basis=fulfillment_basis,
            completion_basis=completion_basis,
            sources=None if sources is None else [s for s in sources.replace("，", ",").split(",") if s.strip()],
            verified_only=verified_only,
            cohort_years=cohort_years,
            arrival_tolerance=arrival_tolerance,
            default=default,
            note=note,
            size_classes=size_classes_text,
        )
        typer.echo(f"saved counting rules {rules_label(rules)}")


# ---------------------------------------------------------------- reports


def _show(
    df: pd.DataFrame,
    fmt: Format,
    out: Path | None,
    title: str,
    money: list[str],
    rates: list[str],
    *,
    force: bool = False,
) -> None:
    """Emit a figure; `money` names money columns the glossary names do not tell (crm.display formats the rest)."""
    emit(df, fmt, out, title=title, money=money, force=force)


RowsOption = typer.Option(
    None,
    "--rows",
    help="Instead of the figure, list the deals and arrivals behind one group, with the column that put "
    "each in it (member_via); --out FILE.csv or .xlsx writes them.",
)


def parse_group(text: str, field: str = "--rows") -> dict[str, str | None]:
    """``industry=光伏发电,unit=县商务局`` as a mapping; an empty value (``unit=``) is the group without one."""
    group: dict[str, str | None] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise InvalidValue(field, text, "name each group value as dimension=value, comma-separated")
        group[name.strip()] = value.strip() or None
    return group


def emit_rows(df: pd.DataFrame, fmt: Format, out: Path | None, *, title: str, force: bool = False) -> None:
    """The rows behind a figure: printed like a report, or written to --out (.csv as CSV, .xlsx as a workbook)."""
    if out is not None and out.suffix.lower() == ".xlsx":
        check_out(out, force=force)
        df.to_excel(out, index=False, sheet_name="rows")
        typer.echo(f"wrote {len(df)} rows to {out}", err=True)
        return
    if out is not None and out.suffix.lower() == ".csv":
        fmt = Format.csv
    emit(df, fmt, out, title=title, force=force)


@register_report("kpis")
def report_kpis(
    ctx: typer.Context,
    by: str | None = typer.Option(None, "--by", help=f"Group by, comma-separated: {', '.join(DIMENSIONS)}."),
    as_of: str | None = AsOfOption,
    year: int | None = typer.Option(None, "--year", help="Cohort: deals signed in this year."),
    signed_from: str | None = typer.Option(None, "--signed-from", help="Cohort: signed on or after this date."),
    signed_to: str | None = typer.Option(None, "--signed-to", help="Cohort: signed on or before this date."),
    rules: str | None = typer.Option(None, "--rules", help="Counting-rule set (default: the default)."),
    industry: str | None = name_option("industry", "--industry", "Cohort: deals of this industry."),
    unit: str | None = name_option("unit", "--unit", "Cohort: deals of this responsible unit."),
    leader: str | None = name_option("leader", "--leader", "Cohort: deals of this leader."),
    origin: str | None = name_option("origin", "--origin", "Cohort: investors from this province (short name)."),
    trip: int | None = typer.Option(None, "--trip", help="Cohort: deals signed from leads met on this trip."),
    rows: str | None = RowsOption,
    min_amount: str | None = MinAmountOption,
    max_amount: str | None = MaxAmountOption,
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """履约率, 资金到位率 and 竣工投产率 of a cohort of deals, by group, and where the active deals stand.

    --rows industry=光伏发电 lists the deals, increases and arrivals behind that group instead.

    Example: crm report kpis --by industry,signing_year --as-of 2026-06-30 --format csv
    Example: crm report kpis --min-amount 1亿 --as-of 2026-06-30 --format csv
    """
    from crm import metrics

    start = parse_date(signed_from, "--signed-from") or (date(year, 1, 1) if year else None)
    end = parse_date(signed_to, "--signed-to") or (date(year, 12, 31) if year else None)
    day = _today(as_of)
    with session_for(ctx) as session:
        filters = {
            k: v for k, v in {"industry": industry, "unit": unit, "leader": leader, "origin": origin}.items() if v
        }
        cohort: dict[str, Any] = {
            "signed_from": start,
            "signed_to": end,
            "as_of": day,
            "rules": rules,
            "trip": trip,
            "min_amount": amount_bound(min_amount, "--min-amount"),
            "max_amount": amount_bound(max_amount, "--max-amount"),
            **filters,
        }
        if rows is not None:
            behind = metrics.kpis_rows(session, parse_group(rows), **cohort)
        else:
            df = metrics.kpis(session, by=by, **cohort)
    if rows is not None:
        emit_rows(
            behind,
            fmt,
            out,
            title=f"Rows behind KPIs {rows} as of {day} (counting rules {behind.attrs['rules']})",
            force=force,
        )
        return
    title = f"KPIs as of {day.isoformat()} (counting rules {df.attrs['rules']})"
    _show(
        df,
        fmt,
        out,
        title,
        ["contracted_yuan", "arrived_yuan"],
        ["fulfillment_rate", "capital_arrival_rate", "completion_rate", "start_rate"],
        force=force,
    )


@register_report("targets")
def report_targets(
    ctx: typer.Context,
    as_of: str | None = AsOfOption,
    year: int | None = typer.Option(None, "--year", help="Year of the targets (default: the as-of year)."),
    scope: str | None = typer.Option(None, "--scope", help="county, or a unit or leader name."),
    rules: str | None = typer.Option(None, "--rules", help="Counting-rule set (default: the default)."),
    rows: str | None = RowsOption,
    min_amount: str | None = MinAmountOption,
    max_amount: str | None = MaxAmountOption,
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """Progress against targets: completion, time progress (序时进度), gap, year on year and forecast (预计完成).

    --rows metric=arrived_yuan,scope=县商务局,period=2026Q2 lists the rows behind that actual
    (scope default county, period default the year).

    Example: crm report targets --as-of 2026-06-30 --format csv
    """
    from crm import metrics

    day = _today(as_of)
    if rows is not None:
        with session_for(ctx) as session:
            group = parse_group(rows)
            if set(group) - {"metric", "scope", "period"} or "metric" not in group:
                raise InvalidValue("--rows", rows, "name metric=, and optionally scope= and period=")
            behind = metrics.target_rows(
                session,
                metric=str(group["metric"]),
                scope=group.get("scope") or scope or "county",
                period=group.get("period") or year,
                as_of=day,
                rules=rules,
            )
        emit_rows(behind, fmt, out, title=f"Rows behind the target actual {rows} as of {day}", force=force)
        return
    with session_for(ctx) as session:
        df = metrics.target_progress(
            session,
            as_of=day,
            year=year,
            scope=scope,
            rules=rules,
            min_amount=amount_bound(min_amount, "--min-amount"),
            max_amount=amount_bound(max_amount, "--max-amount"),
        )
    title = f"Targets as of {day.isoformat()} (counting rules {df.attrs['rules']}; {metrics.FORECAST_METHOD})"
    emit(df, fmt, out, title=title, force=force)


@register_report("ranking")
def report_ranking(
    ctx: typer.Context,
    by: str = typer.Option("unit", "--by", help="unit, leader or introducer."),
    metric: str = typer.Option(
        "arrived_yuan", "--metric", help="arrived_yuan, contracted_yuan, deals_signed, deals_started."
    ),
    as_of: str | None = AsOfOption,
    year: int | None = typer.Option(None, "--year", help="Year (default: the as-of year)."),
    rules: str | None = typer.Option(None, "--rules", help="Counting-rule set (default: the default)."),
    rows: str | None = typer.Option(
        None, "--rows", help="List the rows behind this unit's, leader's or introducer's actual (its name)."
    ),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """Rank units, leaders or introducers by target completion (ties by amount); flags the last place.

    Units are credited through the 招引单位, else the 责任单位; --rows NAME shows which for each row.

    Example: crm report ranking --by leader --as-of 2026-06-30
    """
    from crm import metrics
    from crm.targets import MONEY_METRICS

    day = _today(as_of)
    if rows is not None:
        with session_for(ctx) as session:
            behind = metrics.ranking_rows(session, rows, as_of=day, by=by, metric=metric, year=year, rules=rules)
        emit_rows(
            behind, fmt, out, title=f"Rows behind {rows} in the ranking by {by}, {metric}, as of {day}", force=force
        )
        return
    with session_for(ctx) as session:
        df = metrics.ranking(session, as_of=day, by=by, metric=metric, year=year, rules=rules)
    money = ["target", "target_to_date", "actual"] if metric in MONEY_METRICS else []
    _show(
        df,
        fmt,
        out,
        f"Ranking by {by}, {metric}, as of {day.isoformat()} (counting rules {df.attrs['rules']})",
        money,
        ["completion"],
        force=force,
    )


@register_report("scorecard")
def report_scorecard(
    ctx: typer.Context,
    by: str = typer.Option("unit", "--by", help="unit or leader."),
    weights: str | None = typer.Option(None, "--weights", help="metric=weight,...: arrived_yuan=0.6,deals_signed=0.4"),
    cap: float = typer.Option(1.2, "--cap", help="Cap of each ratio actual ÷ target to date."),
    as_of: str | None = AsOfOption,
    year: int | None = typer.Option(None, "--year", help="Year (default: the as-of year)."),
    rules: str | None = typer.Option(None, "--rules", help="Counting-rule set (default: the default)."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """Weighted scorecard: score = Σ weight × min(actual ÷ target to date, cap).

    Example: crm report scorecard --by unit --weights arrived_yuan=0.6,deals_signed=0.4 --as-of 2026-06-30
    """
    from crm import metrics

    parsed: dict[str, float] = {}
    for item in (weights or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        try:
            parsed[key.strip()] = float(value)
        except ValueError:
            raise fail(f"--weights: {item!r} is not metric=number") from None
        if not sep:
            raise fail(f"--weights: {item!r} is not metric=number")
    day = _today(as_of)
    with session_for(ctx) as session:
        df = metrics.scorecard(session, as_of=day, by=by, weights=parsed or None, cap=cap, year=year, rules=rules)
    ratios = [c for c in df.columns if c.endswith("_ratio")]
    _show(
        df,
        fmt,
        out,
        f"Scorecard by {by} as of {day.isoformat()} (counting rules {df.attrs['rules']})",
        [],
        ratios,
        force=force,
    )


@register_report("arrivals")
def report_arrivals(
    ctx: typer.Context,
    year: int | None = typer.Option(None, "--year", help="Year (default: this year)."),
    as_of: str | None = AsOfOption,
    rules: str | None = typer.Option(None, "--rules", help="Counting-rule set (default: the default)."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """Capital arrived per month, against the same month last year.

    Example: crm report arrivals --year 2026 --format csv
    """
    from crm import metrics

    day = parse_date(as_of, "--as-of")
    chosen = year or (day or date.today()).year
    with session_for(ctx) as session:
        df = metrics.arrivals_by_month(session, year=chosen, rules=rules, as_of=day)
    _show(
        df,
        fmt,
        out,
        f"Arrivals {chosen} (counting rules {df.attrs['rules']})",
        ["arrived_yuan", "last_year_yuan"],
        [],
        force=force,
    )


@register_report("period")
def report_period(
    ctx: typer.Context,
    date_from: str | None = typer.Option(None, "--from", help="First day of the period, YYYY-MM-DD."),
    date_to: str | None = typer.Option(None, "--to", help="Last day of the period, YYYY-MM-DD."),
    period: str | None = typer.Option(None, "--period", help="Instead of --from/--to: 2026H1, 2026Q2, 2026-06, 2026."),
    by: str | None = typer.Option(None, "--by", help=f"Group by, comma-separated: {', '.join(PERIOD_DIMENSIONS)}."),
    min_amount: str | None = MinAmountOption,
    max_amount: str | None = MaxAmountOption,
    rules: str | None = typer.Option(None, "--rules", help="Counting-rule set (default: the default)."),
    industry: str | None = typer.Option(None, "--industry", help="Deals of this industry."),
    unit: str | None = typer.Option(None, "--unit", help="Deals of this responsible unit."),
    leader: str | None = typer.Option(None, "--leader", help="Deals of this leader."),
    origin: str | None = typer.Option(None, "--origin", help="Investors from this province (short name)."),
    trip: int | None = typer.Option(None, "--trip", help="Deals signed from leads met on this trip."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """What happened in a period (signed, started, in production, terminated, money, 完成投资), against a year earlier.

    Example: crm report period --period 2026H1 --min-amount 1亿 --format csv
    """
    from crm import metrics

    if period is not None and (date_from or date_to):
        raise fail("give --period or --from/--to, not both")
    with session_for(ctx) as session:
        if period is not None:
            start, end = metrics.period_range(period)
        else:
            first, last = parse_date(date_from, "--from"), parse_date(date_to, "--to")
            if first is None or last is None:
                raise fail("give the period: --period 2026H1, or --from DATE --to DATE")
            start, end = first, last
        filters = {
            k: v for k, v in {"industry": industry, "unit": unit, "leader": leader, "origin": origin}.items() if v
        }
        df = metrics.period_figures(
            session,
            start=start,
            end=end,
            by=by,
            rules=rules,
            min_amount=amount_bound(min_amount, "--min-amount"),
            max_amount=amount_bound(max_amount, "--max-amount"),
            trip=trip,
            **filters,
        )
    title = (
        f"Period {start.isoformat()}..{end.isoformat()} against {df.attrs['last_year_start'].isoformat()}.."
        f"{df.attrs['last_year_end'].isoformat()} (counting rules {df.attrs['rules']})"
    )
    money = [
        c
        for c in df.columns
        if c.startswith(("contracted_yuan", "arrived_yuan", "completed_investment_yuan")) and not c.endswith("_yoy")
    ]
    _show(df, fmt, out, title, money, [c for c in df.columns if c.endswith("_yoy")], force=force)


def register(app: typer.Typer) -> None:
    app.add_typer(arrival_app, name="arrival")
    app.add_typer(target_app, name="target")
    app.add_typer(rules_app, name="rules")

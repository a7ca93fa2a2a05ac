"""Every table and enum of the CRM: data and constraints, no workflows.

Money is integer yuan (``*_yuan`` columns); a reporting month is the first day of
the month; timestamps are timezone-aware UTC. Enum members keep name == value
because SQLAlchemy stores names; the columns are plain strings backed by CHECK
constraints so both SQLite and PostgreSQL refuse an unknown value.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, DateTime, Index, UniqueConstraint, event
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, enum: type[StrEnum]) -> str:
    values = ", ".join(f"'{m.value}'" for m in enum)
    return f"{column} IN ({values})"


# ---------------------------------------------------------------- enums


class DealState(StrEnum):
    signed = "signed"  # 已签约, not yet started
    started = "started"  # 已开工
    in_production = "in_production"  # 竣工投产
    terminated = "terminated"  # 终止 / 无法履约


class ProcedureKind(StrEnum):
    approval = "approval"  # 立项: 审批/核准/备案
    land = "land"  # 用地
    environment = "environment"  # 环评
    planning = "planning"  # 规划许可
    construction_permit = "construction_permit"  # 施工许可


class ProcedureState(StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    done = "done"


class CapitalSource(StrEnum):
    overseas = "overseas"  # 境外
    other_province = "other_province"  # 省外
    other_city = "other_city"  # 市外省内
    other_county = "other_county"  # 县际: another county of the same city


class CapitalUse(StrEnum):
    fixed_assets = "fixed_assets"  # 固定资产
    working_capital = "working_capital"  # 流动资金


class CounterpartKind(StrEnum):
    enterprise = "enterprise"  # 企业
    chamber = "chamber"  # 商会
    other = "other"  # 协会、园区、政府部门等


class VisitStatus(StrEnum):
    planned = "planned"
    done = "done"
    cancelled = "cancelled"


class LeadStage(StrEnum):
    contact = "contact"  # 接洽
    negotiation = "negotiation"  # 洽谈
    intent = "intent"  # 意向 / 框架协议
    signed = "signed"  # 签约: the lead became a Deal
    dropped = "dropped"  # 放弃


class TargetMetric(StrEnum):
    arrived_yuan = "arrived_yuan"  # 到位资金
    contracted_yuan = "contracted_yuan"  # 签约(合同)投资额
    deals_signed = "deals_signed"  # 签约项目个数
    deals_started = "deals_started"  # 开工项目个数
    reserve_yuan = "reserve_yuan"  # 项目储备
    completed_investment_yuan = "completed_investment_yuan"  # 完成投资 of major projects


class PeriodKind(StrEnum):
    year = "year"
    quarter = "quarter"
    month = "month"


class ScopeKind(StrEnum):
    county = "county"
    unit = "unit"
    leader = "leader"


class FulfillmentBasis(StrEnum):
    started_or_later = "started_or_later"  # 履约 = started or in production
    not_terminated = "not_terminated"  # 履约 = every deal not terminated (some cities count so)


class CompletionBasis(StrEnum):
    signed = "signed"  # 竣工投产率 over every signed deal
    started = "started"  # over started-or-later deals


CAPITAL_SOURCE_LABELS = {
    CapitalSource.overseas: "境外",
    CapitalSource.other_province: "省外",
    CapitalSource.other_city: "市外省内",
    CapitalSource.other_county: "县际",
}
CAPITAL_USE_LABELS = {CapitalUse.fixed_assets: "固定资产", CapitalUse.working_capital: "流动资金"}
DEAL_STATE_LABELS = {
    DealState.signed: "已签约",
    DealState.started: "已开工",
    DealState.in_production: "已竣工投产",
    DealState.terminated: "已终止",
}
PROCEDURE_LABELS = {
    ProcedureKind.approval: "立项",
    ProcedureKind.land: "用地",
    ProcedureKind.environment: "环评",
    ProcedureKind.planning: "规划许可",
    ProcedureKind.construction_permit: "施工许可",
}
TARGET_METRIC_LABELS = {
    TargetMetric.arrived_yuan: "到位资金",
    TargetMetric.contracted_yuan: "签约投资额",
    TargetMetric.deals_signed: "签约项目个数",
    TargetMetric.deals_started: "开工项目个数",
    TargetMetric.reserve_yuan: "项目储备",
    TargetMetric.completed_investment_yuan: "完成投资",
}
LEAD_STAGE_LABELS = {
    LeadStage.contact: "接洽",
    LeadStage.negotiation: "洽谈",
    LeadStage.intent: "意向/框架协议",
    LeadStage.signed: "签约",
    LeadStage.dropped: "放弃",
}

YUAN = BigInteger  # integer yuan; province totals exceed 2**31


# ---------------------------------------------------------------- reference data


class Region(SQLModel, table=True):
    """A province-level division (省级行政区); cities are free text elsewhere."""

    __tablename__ = "region"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=16, unique=True)  # short form people write: 内蒙古
    full_name: str = Field(max_length=32, unique=True)  # 内蒙古自治区
    kind: str = Field(max_length=24)  # province / municipality / autonomous_region / sar


class RegionAlias(SQLModel, table=True):
    """Another name people write for a region (内蒙 for 内蒙古); a list a bureau keeps."""

    __tablename__ = "region_alias"
    id: int | None = Field(default=None, primary_key=True)
    alias: str = Field(max_length=32, unique=True)
    region_id: int = Field(foreign_key="region.id")


class Industry(SQLModel, table=True):
    """An industry (产业); a reference table a bureau extends."""

    __tablename__ = "industry"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    category: str | None = Field(default=None, max_length=64)  # 产业大类


class Unit(SQLModel, table=True):
    """A department or township (责任单位 / 招引单位)."""

    __tablename__ = "unit"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    kind: str | None = Field(default=None, max_length=24)  # department / township / park


class Person(SQLModel, table=True):
    """A leader, introducer, follow-up owner or squad member."""

    __tablename__ = "person"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    title: str | None = Field(default=None, max_length=64)  # 县委常委、副县长 ...
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    phone: str | None = Field(default=None, max_length=32)


class StallReason(SQLModel, table=True):
    """A coded reason (未开工原因) a signed deal has not started."""

    __tablename__ = "stall_reason"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    label: str = Field(max_length=64, unique=True)


class SigningEvent(SQLModel, table=True):
    """A fair or ceremony where deals were signed; a cohort."""

    __tablename__ = "signing_event"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    held_on: date | None = None
    place: str | None = Field(default=None, max_length=128)


class Investor(SQLModel, table=True):
    """The enterprise that signed (投资方 / 签约企业)."""

    __tablename__ = "investor"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    # the name normalised (spaces, full-width, company suffixes) so spellings meet
    name_key: str = Field(max_length=200, unique=True)
    credit_code: str | None = Field(default=None, max_length=18, unique=True)  # 统一社会信用代码
    origin_region_id: int | None = Field(default=None, foreign_key="region.id")
    origin_city: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


# ---------------------------------------------------------------- deals


class ImportBatch(SQLModel, table=True):
    """One import of a ledger file (导入批次): what, which file, when, who. Every record the import
    created carries its id (``import_batch_id``); ``crm import undo`` reverses it (crm.ledgers.undo)."""

    __tablename__ = "import_batch"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # deals, arrivals, trips, visits, leads, targets
    file_name: str = Field(max_length=255)
    file_hash: str = Field(max_length=64)  # sha256 of the file, hex
    started_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    actor: str = Field(max_length=64)
    account: str | None = Field(default=None, max_length=63)  # PostgreSQL login role (current_user); NULL on SQLite
    rows: int = 0  # rows in the file
    inserted: int = 0
    updated: int = 0
    already_present: int = 0
    undone_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    undone_by: str | None = Field(default=None, max_length=64)
    undo_reason: str | None = None


class Deal(SQLModel, table=True):
    """A signed promotion deal (签约项目). Its state changes only through crm.deals."""

    __tablename__ = "deal"
    __table_args__ = (
        UniqueConstraint("investor_id", "project_name", "signed_on", name="uq_deal_investor_project_signed"),
        CheckConstraint("contracted_yuan >= 0", name="ck_deal_contracted_nonneg"),
        CheckConstraint(_in("state", DealState), name="ck_deal_state"),
        CheckConstraint("started_on IS NULL OR started_on >= signed_on", name="ck_deal_start_after_signing"),
        CheckConstraint(
            "completed_on IS NULL OR (started_on IS NOT NULL AND completed_on >= started_on)",
            name="ck_deal_complete_after_start",
        ),
        CheckConstraint("terminated_on IS NULL OR terminated_on >= signed_on", name="ck_deal_terminate_after_signing"),
        CheckConstraint(
            "(state = 'signed' AND started_on IS NULL AND completed_on IS NULL AND terminated_on IS NULL)"
            " OR (state = 'started' AND started_on IS NOT NULL AND completed_on IS NULL AND terminated_on IS NULL)"
            " OR (state = 'in_production' AND completed_on IS NOT NULL AND terminated_on IS NULL)"
            " OR (state = 'terminated' AND terminated_on IS NOT NULL)",
            name="ck_deal_state_dates",
        ),
        CheckConstraint("replaces_id IS NULL OR replaces_id <> id", name="ck_deal_not_replacing_itself"),
        Index("ix_deal_signed_on", "signed_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_name: str = Field(max_length=200)
    investor_id: int = Field(foreign_key="investor.id", index=True)
    signed_on: date
    contracted_yuan: int = Field(sa_type=YUAN)  # 合同投资额, whole yuan; an increase holds only the increment
    industry_id: int | None = Field(default=None, foreign_key="industry.id")
    origin_region_id: int | None = Field(default=None, foreign_key="region.id")  # investor origin at signing
    origin_city: str | None = Field(default=None, max_length=64)
    signing_event_id: int | None = Field(default=None, foreign_key="signing_event.id")
    leader_id: int | None = Field(default=None, foreign_key="person.id")  # 包抓领导
    unit_id: int | None = Field(default=None, foreign_key="unit.id")  # 责任单位
    introducer_id: int | None = Field(default=None, foreign_key="person.id")  # 第一引资人
    credited_unit_id: int | None = Field(default=None, foreign_key="unit.id")  # 招引单位
    signer: str | None = Field(default=None, max_length=64)  # who signed for the county
    follow_up_owner_id: int | None = Field(default=None, foreign_key="person.id")  # 专人跟踪
    stall_reason_id: int | None = Field(default=None, foreign_key="stall_reason.id")
    stall_note: str | None = None
    state: str = Field(default=DealState.signed, max_length=16)
    started_on: date | None = None
    completed_on: date | None = None  # 竣工投产
    terminated_on: date | None = None
    termination_reason: str | None = None
    replaces_id: int | None = Field(default=None, foreign_key="deal.id", unique=True)  # reassigned from
    increases_id: int | None = Field(default=None, foreign_key="deal.id")  # 增资: parent deal
    registered_on: date | None = None  # 入库 into fixed-asset-investment statistics
    location: str | None = Field(default=None, max_length=128)
    description: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    import_batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)  # its import


class Procedure(SQLModel, table=True):
    """One pre-construction procedure (前期手续) of a deal."""

    __tablename__ = "procedure"
    __table_args__ = (
        UniqueConstraint("deal_id", "kind", name="uq_procedure_deal_kind"),
        CheckConstraint(_in("kind", ProcedureKind), name="ck_procedure_kind"),
        CheckConstraint(_in("state", ProcedureState), name="ck_procedure_state"),
        CheckConstraint("done_on IS NULL OR started_on IS NULL OR done_on >= started_on", name="ck_procedure_dates"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id")
    kind: str = Field(max_length=24)
    state: str = Field(default=ProcedureState.not_started, max_length=16)
    started_on: date | None = None
    done_on: date | None = None
    note: str | None = None


class FollowUp(SQLModel, table=True):
    """A dated follow-up note (跟踪记录) on a deal: what was done, next step, due date."""

    __tablename__ = "follow_up"
    __table_args__ = (Index("ix_follow_up_deal_on", "deal_id", "on"),)

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id")
    on: date
    owner_id: int | None = Field(default=None, foreign_key="person.id")
    action: str
    next_step: str | None = None
    due_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class CapitalArrival(SQLModel, table=True):
    """Money that actually arrived (到位资金) for a deal, in whole yuan."""

    __tablename__ = "capital_arrival"
    __table_args__ = (
        CheckConstraint("arrived_yuan >= 0", name="ck_arrival_amount_nonneg"),
        CheckConstraint(_in("source", CapitalSource), name="ck_arrival_source"),
        CheckConstraint(f"use IS NULL OR {_in('use', CapitalUse)}", name="ck_arrival_use"),
        CheckConstraint("original_cents IS NULL OR original_cents >= 0", name="ck_arrival_original_nonneg"),
        CheckConstraint("voided_on IS NULL OR void_reason IS NOT NULL", name="ck_arrival_void_reason"),
        # covering: figures sum arrivals per deal and date window from the index alone
        # (measured 2.5x faster on 1M arrivals than the (deal_id, arrived_on) index it replaces);
        # voided_on is in it so that leaving voided arrivals out keeps the sums index-only
        Index("ix_arrival_deal_on_cover", "deal_id", "arrived_on", "source", "verified", "voided_on", "arrived_yuan"),
        # by date, for the sums over one date window (ranking, targets, period figures): they read
        # that window's arrivals only, not every arrival of every deal (migration 0009)
        Index("ix_arrival_on_cover", "arrived_on", "deal_id", "source", "verified", "voided_on", "arrived_yuan"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id")
    arrived_on: date
    arrived_yuan: int = Field(sa_type=YUAN)
    source: str = Field(max_length=16)
    use: str | None = Field(default=None, max_length=16)
    evidence_kind: str | None = Field(default=None, max_length=32)  # 银行进账单 / 验资报告 / 发票
    evidence_ref: str | None = Field(default=None, max_length=128)
    verified: bool = False  # reported (False) or verified (True)
    currency: str = Field(default="CNY", max_length=3)
    original_cents: int | None = Field(default=None, sa_type=YUAN)  # foreign amount in 1/100 units
    fx_rate: str | None = Field(default=None, max_length=24)  # yuan per unit, exact decimal text
    note: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    verified_on: date | None = None  # when reported money was verified (crm arrival verify)
    verified_by: str | None = Field(default=None, max_length=64)
    # a voided arrival stays (money is never deleted) but leaves every figure
    voided_on: date | None = None
    void_reason: str | None = None
    voided_by: str | None = Field(default=None, max_length=64)
    import_batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)  # its import


# ---------------------------------------------------------------- trips, visits, leads


class Squad(SQLModel, table=True):
    """A promotion squad (招商小分队)."""

    __tablename__ = "squad"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    leader_id: int | None = Field(default=None, foreign_key="person.id")
    unit_id: int | None = Field(default=None, foreign_key="unit.id")


class SquadMember(SQLModel, table=True):
    __tablename__ = "squad_member"
    squad_id: int = Field(foreign_key="squad.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True)


class CampaignMonth(SQLModel, table=True):
    """The plan for one month: destination regions and target industries."""

    __tablename__ = "campaign_month"
    id: int | None = Field(default=None, primary_key=True)
    month: date = Field(unique=True)  # first day of the month
    note: str | None = None


class CampaignRegion(SQLModel, table=True):
    __tablename__ = "campaign_region"
    campaign_month_id: int = Field(foreign_key="campaign_month.id", primary_key=True)
    region_id: int = Field(foreign_key="region.id", primary_key=True)


class CampaignIndustry(SQLModel, table=True):
    __tablename__ = "campaign_industry"
    campaign_month_id: int = Field(foreign_key="campaign_month.id", primary_key=True)
    industry_id: int = Field(foreign_key="industry.id", primary_key=True)


class Trip(SQLModel, table=True):
    """One squad's trip (外出招商) in one month."""

    __tablename__ = "trip"
    __table_args__ = (
        CheckConstraint("budget_yuan IS NULL OR budget_yuan >= 0", name="ck_trip_budget_nonneg"),
        CheckConstraint("spent_yuan IS NULL OR spent_yuan >= 0", name="ck_trip_spent_nonneg"),
        CheckConstraint("ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on", name="ck_trip_dates"),
        Index("ix_trip_month", "month"),
    )

    id: int | None = Field(default=None, primary_key=True)
    squad_id: int = Field(foreign_key="squad.id", index=True)
    month: date  # first day of the month
    starts_on: date | None = None
    ends_on: date | None = None
    budget_yuan: int | None = Field(default=None, sa_type=YUAN)
    spent_yuan: int | None = Field(default=None, sa_type=YUAN)
    note: str | None = None
    import_batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)  # its import


class TripDestination(SQLModel, table=True):
    __tablename__ = "trip_destination"
    __table_args__ = (UniqueConstraint("trip_id", "region_id", "city", name="uq_trip_destination"),)
    id: int | None = Field(default=None, primary_key=True)
    trip_id: int = Field(foreign_key="trip.id", index=True)
    region_id: int = Field(foreign_key="region.id")
    city: str | None = Field(default=None, max_length=64)


class TripIndustry(SQLModel, table=True):
    __tablename__ = "trip_industry"
    trip_id: int = Field(foreign_key="trip.id", primary_key=True)
    industry_id: int = Field(foreign_key="industry.id", primary_key=True)


class TripMember(SQLModel, table=True):
    """A person travelling on a trip (the squad's leader and members by default)."""

    __tablename__ = "trip_member"
    trip_id: int = Field(foreign_key="trip.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True)


class Visit(SQLModel, table=True):
    """A meeting (拜访) on a trip with an enterprise or a chamber of commerce, planned or held."""

    __tablename__ = "visit"
    __table_args__ = (
        CheckConstraint(_in("counterpart_kind", CounterpartKind), name="ck_visit_counterpart_kind"),
        CheckConstraint(_in("status", VisitStatus), name="ck_visit_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    trip_id: int | None = Field(default=None, foreign_key="trip.id", index=True)
    status: str = Field(default=VisitStatus.planned, max_length=16)
    visited_on: date | None = None
    counterpart: str | None = Field(default=None, max_length=200)  # enterprise or chamber name
    counterpart_kind: str = Field(default=CounterpartKind.enterprise, max_length=16)
    region_id: int | None = Field(default=None, foreign_key="region.id")
    city: str | None = Field(default=None, max_length=64)
    contact: str | None = Field(default=None, max_length=128)
    purpose: str | None = None
    attendees: str | None = None
    notes: str | None = None
    import_batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)  # its import


class Lead(SQLModel, table=True):
    """A prospect (洽谈项目 / 线索); in the reserve until signed, then linked to its Deal."""

    __tablename__ = "lead"
    __table_args__ = (
        CheckConstraint(_in("stage", LeadStage), name="ck_lead_stage"),
        CheckConstraint("planned_yuan IS NULL OR planned_yuan >= 0", name="ck_lead_planned_nonneg"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_name: str = Field(max_length=200)
    investor_name: str | None = Field(default=None, max_length=200)
    visit_id: int | None = Field(default=None, foreign_key="visit.id", index=True)
    source: str | None = Field(default=None, max_length=64)  # 外出招商 / 以商招商 / planned project ...
    category: str | None = Field(default=None, max_length=64)  # reserve category
    industry_id: int | None = Field(default=None, foreign_key="industry.id")
    origin_region_id: int | None = Field(default=None, foreign_key="region.id")
    planned_yuan: int | None = Field(default=None, sa_type=YUAN)
    stage: str = Field(default=LeadStage.contact, max_length=16)
    owner_id: int | None = Field(default=None, foreign_key="person.id")
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    received_on: date
    acknowledged_on: date | None = None
    assessed_on: date | None = None
    feedback_on: date | None = None
    deal_id: int | None = Field(default=None, foreign_key="deal.id", unique=True)
    note: str | None = None
    import_batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)  # its import


# ---------------------------------------------------------------- targets and counting rules


class Target(SQLModel, table=True):
    """A figure (目标任务) the county, a unit or a leader must reach for a period."""

    __tablename__ = "target"
    __table_args__ = (
        UniqueConstraint("metric", "period_kind", "period_start", "scope_key", name="uq_target"),
        CheckConstraint(_in("metric", TargetMetric), name="ck_target_metric"),
        CheckConstraint(_in("period_kind", PeriodKind), name="ck_target_period_kind"),
        CheckConstraint(_in("scope_kind", ScopeKind), name="ck_target_scope_kind"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="ck_target_amount_nonneg"),
        CheckConstraint("amount IS NOT NULL OR growth IS NOT NULL", name="ck_target_has_figure"),
        CheckConstraint(
            "(scope_kind = 'county' AND unit_id IS NULL AND leader_id IS NULL)"
            " OR (scope_kind = 'unit' AND unit_id IS NOT NULL AND leader_id IS NULL)"
            " OR (scope_kind = 'leader' AND leader_id IS NOT NULL AND unit_id IS NULL)",
            name="ck_target_scope",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    metric: str = Field(max_length=32)  # completed_investment_yuan is 25 characters
    period_kind: str = Field(max_length=8)
    period_start: date  # first day of the year, quarter or month
    scope_kind: str = Field(default=ScopeKind.county, max_length=8)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    leader_id: int | None = Field(default=None, foreign_key="person.id")
    scope_key: str = Field(max_length=32)  # 'county', 'unit:<id>' or 'leader:<id>': one target per scope
    amount: int | None = Field(default=None, sa_type=YUAN)  # yuan for money metrics, a count otherwise
    growth: float | None = None  # target growth over the same period last year, as a fraction (0.10)
    weight: float | None = None  # scorecard weight
    import_batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)  # its import


class CountingRules(SQLModel, table=True):
    """A named, versioned rule set (统计口径) that every report names."""

    __tablename__ = "counting_rules"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_counting_rules_name_version"),
        CheckConstraint(_in("fulfillment_basis", FulfillmentBasis), name="ck_rules_fulfillment_basis"),
        CheckConstraint(_in("completion_basis", CompletionBasis), name="ck_rules_completion_basis"),
        CheckConstraint("cohort_years IS NULL OR cohort_years > 0", name="ck_rules_cohort_years"),
        CheckConstraint("progress_tolerance >= 0 AND progress_tolerance < 1", name="ck_rules_progress_tolerance"),
        CheckConstraint("report_deadline_weekday BETWEEN 1 AND 7", name="ck_rules_report_deadline_weekday"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    version: int = 1
    fulfillment_basis: str = Field(default=FulfillmentBasis.started_or_later, max_length=24)
    completion_basis: str = Field(default=CompletionBasis.started, max_length=16)
    sources: list[str] = Field(
        default_factory=lambda: [s.value for s in CapitalSource], sa_type=JSON
    )  # which CapitalSource values count as arrived capital
    verified_only: bool = False
    cohort_years: int | None = None  # e.g. 3: deals signed in the last three years
    # arrivals may exceed the contracted amount (with increases) by this fraction before the
    # data-quality audit reports them (0.1: up to 110%)
    arrival_tolerance: float = Field(default=0.1, sa_column_kwargs={"server_default": "0.1"})
    # size classes (规模): [{"name": "亿元以上", "min_yuan": 100000000}, ...]; None: crm.rules.DEFAULT_SIZE_CLASSES
    size_classes: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    is_default: bool = False
    note: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    # 重点项目: 滞后/超前 when cumulative completed investment is below/above plan by more than this share
    progress_tolerance: float = Field(default=0.1, sa_column_kwargs={"server_default": "0.1"})
    # weekly reports are due by this ISO weekday (1 = Monday) and time: Friday 12:00
    report_deadline_weekday: int = Field(default=5, sa_column_kwargs={"server_default": "5"})
    report_deadline_time: str = Field(default="12:00", max_length=5, sa_column_kwargs={"server_default": "12:00"})


# ---------------------------------------------------------------- audit


class AuditLog(SQLModel, table=True):
    """Append-only record of every change: who, when, what, old and new value.

    The database refuses UPDATE and DELETE on this table (triggers in crm.db). ``actor`` is the
    free text a caller gives (a note); on PostgreSQL ``account`` is the database account
    (``current_user``), filled in by the database and never taken from the caller (crm.access).
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32)  # create / update / start / complete / terminate / reassign ...
    entity: str = Field(max_length=32)  # table name
    entity_id: int | None = None
    field: str | None = Field(default=None, max_length=64)
    old: str | None = None
    new: str | None = None
    note: str | None = None
    account: str | None = Field(default=None, max_length=63)  # PostgreSQL login role; NULL on SQLite


class AccountUnit(SQLModel, table=True):
    """The unit of a ``unit`` account (a PostgreSQL login role); row-level security reads it (crm.access)."""

    __tablename__ = "account_unit"
    account: str = Field(primary_key=True, max_length=63)
    unit_id: int = Field(foreign_key="unit.id")


# The audit log is append-only in the database too, not only by convention.
AUDIT_APPEND_ONLY_DDL: dict[str, list[str]] = {
    "sqlite": [
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        # TRUNCATE fires no row trigger: refuse it per statement (revision 0002)
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    ],
}


def _install_audit_triggers(target: Any, connection: Any, **_: Any) -> None:
    for statement in AUDIT_APPEND_ONLY_DDL.get(connection.dialect.name, []):
        connection.exec_driver_sql(statement)


event.listen(AuditLog.__table__, "after_create", _install_audit_triggers)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- major projects (重点项目)


class MajorCategory(StrEnum):
    continuing = "continuing"  # 续建: started in an earlier year
    new_start = "new_start"  # 新开工: to start this year
    preliminary = "preliminary"  # 前期: preparing, not to start this year


class RegistrationDocumentKind(StrEnum):
    approval = "approval"  # 审批/核准/备案文件
    construction_permit = "construction_permit"  # 施工许可证
    main_contract = "main_contract"  # 主体工程施工合同


MAJOR_CATEGORY_LABELS = {
    MajorCategory.continuing: "续建",
    MajorCategory.new_start: "新开工",
    MajorCategory.preliminary: "前期",
}
REGISTRATION_DOCUMENT_LABELS = {
    RegistrationDocumentKind.approval: "审批/核准/备案文件",
    RegistrationDocumentKind.construction_permit: "施工许可证",
    RegistrationDocumentKind.main_contract: "主体工程施工合同",
}
# The milestones every construction plan offers; a bureau may add its own names.
STANDARD_MILESTONES = ("开工", "主体完工", "设备安装", "竣工", "投产")


class Zone(SQLModel, table=True):
    """A park or zone (园区: 工业园区, 光电园区, 经开区); a reference list a bureau extends."""

    __tablename__ = "zone"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    kind: str | None = Field(default=None, max_length=24)


class DealZone(SQLModel, table=True):
    """The zone a deal is in (at most one per deal)."""

    __tablename__ = "deal_zone"
    deal_id: int = Field(foreign_key="deal.id", primary_key=True)
    zone_id: int = Field(foreign_key="zone.id", index=True)


class MajorProject(SQLModel, table=True):
    """A deal on one year's list of major projects (重点项目清单), with its responsible unit.

    The responsible leaders (三包一联) are MajorProjectLeader rows; the year's planned
    completed investment is the sum of the plan's months (PlanMonth), kept in planned_yuan.
    """

    __tablename__ = "major_project"
    __table_args__ = (
        UniqueConstraint("deal_id", "year", name="uq_major_project_deal_year"),
        CheckConstraint(_in("category", MajorCategory), name="ck_major_project_category"),
        CheckConstraint("planned_yuan IS NULL OR planned_yuan >= 0", name="ck_major_project_planned_nonneg"),
        CheckConstraint("year BETWEEN 2000 AND 2999", name="ck_major_project_year"),
        Index("ix_major_project_year", "year"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id")
    year: int
    source: str = Field(max_length=32)  # 市责任书 / 县级包抓 / 省重点 ...
    category: str = Field(max_length=16)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")  # 责任单位
    planned_yuan: int | None = Field(default=None, sa_type=YUAN)  # 年度计划投资 = Σ PlanMonth
    content: str | None = None  # 建设内容及规模 as the list states it
    import_batch: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class MajorProjectLeader(SQLModel, table=True):
    """A county leader responsible for a major project; position 0 is the lead (包抓) leader."""

    __tablename__ = "major_project_leader"
    __table_args__ = (UniqueConstraint("major_project_id", "position", name="uq_major_project_leader_position"),)
    major_project_id: int = Field(foreign_key="major_project.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    position: int = 0


class ConstructionPlan(SQLModel, table=True):
    """A major project's construction plan (推进计划表): milestones and planned investment by month."""

    __tablename__ = "construction_plan"
    id: int | None = Field(default=None, primary_key=True)
    major_project_id: int = Field(foreign_key="major_project.id", unique=True)
    note: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class PlanMilestone(SQLModel, table=True):
    """A milestone of a construction plan (开工, 主体完工, 设备安装, 竣工, 投产 or a bureau's own)."""

    __tablename__ = "plan_milestone"
    __table_args__ = (UniqueConstraint("plan_id", "name", name="uq_plan_milestone_name"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="construction_plan.id", index=True)
    name: str = Field(max_length=32)
    planned_on: date
    reached_on: date | None = None  # from a weekly report
    reached_report_id: int | None = Field(default=None, foreign_key="progress_report.id")


class PlanMonth(SQLModel, table=True):
    """Planned completed investment (计划完成投资) of one month, in whole yuan."""

    __tablename__ = "plan_month"
    __table_args__ = (CheckConstraint("planned_yuan >= 0", name="ck_plan_month_nonneg"),)
    plan_id: int = Field(foreign_key="construction_plan.id", primary_key=True)
    month: date = Field(primary_key=True)  # first day of the month
    planned_yuan: int = Field(sa_type=YUAN)


class ProgressReport(SQLModel, table=True):
    """A weekly progress report (周调度): 实体进度 and completed investment (完成投资).

    week_start is the Monday of the ISO week; the week's investment counts on its Friday
    (the reporting day). cumulative_yuan is the list year's total to this week.
    """

    __tablename__ = "progress_report"
    __table_args__ = (
        UniqueConstraint("major_project_id", "week_start", name="uq_progress_report_week"),
        CheckConstraint("week_yuan >= 0", name="ck_progress_report_week_nonneg"),
        CheckConstraint("cumulative_yuan >= week_yuan", name="ck_progress_report_cumulative"),
        Index("ix_progress_report_week", "week_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    major_project_id: int = Field(foreign_key="major_project.id")
    week_start: date  # Monday of the ISO week
    progress: str | None = None  # 实体进度
    week_yuan: int = Field(sa_type=YUAN)  # 本周完成投资
    cumulative_yuan: int = Field(sa_type=YUAN)  # 本年累计完成投资
    reported_at: datetime = Field(sa_type=DateTime(timezone=True))  # when it reached the bureau
    import_batch: str | None = Field(default=None, max_length=64)


class ProgressProblem(SQLModel, table=True):
    """A problem needing coordination (问题) raised in a weekly report, with who handles it."""

    __tablename__ = "progress_problem"
    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="progress_report.id", index=True)
    problem: str
    unit_id: int | None = Field(default=None, foreign_key="unit.id")  # 责任单位
    resolution: str | None = None  # 协调结果; None while open
    resolved_on: date | None = None


class RegistrationDocument(SQLModel, table=True):
    """A document the statistics bureau needs before a started project is registered (入库材料)."""

    __tablename__ = "registration_document"
    __table_args__ = (
        UniqueConstraint("deal_id", "kind", name="uq_registration_document_kind"),
        CheckConstraint(_in("kind", RegistrationDocumentKind), name="ck_registration_document_kind"),
    )
    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id")
    kind: str = Field(max_length=24)
    number: str = Field(max_length=128)  # 文号 / 证号 / 合同编号
    issued_on: date
    evidence_ref: str | None = Field(default=None, max_length=200)  # where the scan or paper is kept


class ScoringWeights(SQLModel, table=True):
    """A named, versioned weighting (季评比) of the quarterly score, in points (分) out of their sum."""

    __tablename__ = "scoring_weights"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_scoring_weights_name_version"),
        CheckConstraint(
            "plan_points >= 0 AND start_points >= 0 AND milestone_points >= 0 AND report_points >= 0",
            name="ck_scoring_weights_nonneg",
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    version: int = 1
    plan_points: int = 40  # 投资完成: cumulative completed ÷ plan to date, capped at 1
    start_points: int = 20  # 开工: 新开工 projects started ÷ due to have started
    milestone_points: int = 20  # 节点: milestones due reached on time ÷ due
    report_points: int = 20  # 报送: weekly reports on time ÷ weeks due
    is_default: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))

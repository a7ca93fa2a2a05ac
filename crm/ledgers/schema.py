"""What each ledger kind holds: its columns, their types, units and the headers people write.

The descriptions here are the single source of ``schemas/*.json`` (``write_schemas``); a
test keeps the files equal to what this module generates. Field names are the model
columns of the glossary (``contracted_yuan``, ``arrived_on``); reference rows (investor,
industry, unit, leader ...) are named by their name. Money columns are read in the unit
written in the header (``总投资（万元）``), else in 万元, as in the ledgers bureaus keep.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm.errors import InvalidValue
from crm.ledgers.cells import PLACEHOLDERS
from crm.models import (
    CAPITAL_SOURCE_LABELS,
    CAPITAL_USE_LABELS,
    DEAL_STATE_LABELS,
    LEAD_STAGE_LABELS,
    MAJOR_CATEGORY_LABELS,
    CapitalSource,
    CapitalUse,
    CounterpartKind,
    DealState,
    LeadStage,
    MajorCategory,
    TargetMetric,
    VisitStatus,
)

DEFAULT_MONEY_UNIT = "万元"
SCHEMA_BASE = "https://crm.example/schemas/"

# Headers that carry no data (row numbers); never reported as unknown columns.
IGNORED_HEADERS = frozenset({"序号", "编号", "no", "no.", "#", "行号"})
# A header (or a group over it) starting so is a subset of a neighbouring column (其中：省外资金): never read.
SUBSET_PREFIXES = ("其中",)
PATH_SEPARATOR = "/"  # an alias naming a path through a header block: 到位资金/本月


@dataclass(frozen=True)
class Column:
    """One column of a ledger kind.

    type: text | money | date | month | region | bool | choice | number | percent | period
          | decimal | list | amount (money for money metrics, a count otherwise: targets only)
    """

    name: str
    type: str
    title: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    description: str = ""
    choices: dict[str, str] = field(default_factory=dict)  # accepted text -> stored value
    labels: dict[str, str] = field(default_factory=dict)  # stored value -> exported label
    cumulative_of: str | None = None  # a running total (累计) of this column: the period's amount is a difference
    refused: dict[str, str] = field(default_factory=dict)  # choice text refused with its reason
    exported: bool = True  # whether `crm export` writes the column (import-only columns: running totals ...)

    @property
    def unit(self) -> str | None:
        return DEFAULT_MONEY_UNIT if self.type in ("money", "amount") else None

    @property
    def export_title(self) -> str:
        return f"{self.title}（{self.unit}）" if self.unit else self.title


@dataclass(frozen=True)
class LedgerKind:
    name: str
    title: str
    entity: str  # the table rows land in
    description: str
    columns: tuple[Column, ...]
    natural_key: tuple[str, ...]
    date_column: str  # what --since/--until filter on
    # (period column, value column) of a wide sheet: months or quarters as columns (1月 | 2月 ..., 一季度 ...)
    wide: tuple[str, str] | None = None

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _choices(labels: dict[Any, str], extra: dict[str, str] | None = None) -> dict[str, str]:
    """Accepted spellings: every stored value, its Chinese label, and extra synonyms."""
    out = {str(v): str(v) for v in labels}
    out.update({label: str(value) for value, label in labels.items()})
    out.update(extra or {})
    return out


DEAL_STATES = _choices(
    DEAL_STATE_LABELS,
    {
        "签约": DealState.signed,
        "未开工": DealState.signed,
        "前期": DealState.signed,
        "前期阶段": DealState.signed,
        "开工": DealState.started,
        "在建": DealState.started,
        "续建": DealState.started,
        "已开工在建": DealState.started,
        "竣工": DealState.in_production,
        "投产": DealState.in_production,
        "已竣工": DealState.in_production,
        "已投产": DealState.in_production,
        "竣工投产": DealState.in_production,
        "终止": DealState.terminated,
        "无法履约": DealState.terminated,
        "已解约": DealState.terminated,
        "已注册": DealState.signed,  # the project company is registered; construction not begun
        "已开工建设": DealState.started,
        "建设中": DealState.started,
    },
)
# states a deals ledger may carry that are not a signed deal's: refused with the reason
DEAL_STATES_REFUSED = {
    "在谈": "在谈 is a project still in talks, not a signed deal; import it as a leads ledger",
    "洽谈中": "洽谈中 is a project still in talks, not a signed deal; import it as a leads ledger",
}
SOURCES = _choices(
    CAPITAL_SOURCE_LABELS,
    {
        "国外": CapitalSource.overseas,
        "省内市外": CapitalSource.other_city,
        "县外": CapitalSource.other_county,
        "市内县外": CapitalSource.other_county,
    },
)
USES = _choices(CAPITAL_USE_LABELS, {"固定资产投资": CapitalUse.fixed_assets})
COUNTERPART_LABELS = {
    CounterpartKind.enterprise: "企业",
    CounterpartKind.chamber: "商会",
    CounterpartKind.other: "其他",
}
COUNTERPARTS = _choices(
    COUNTERPART_LABELS,
    {
        "协会": CounterpartKind.other,
        "园区": CounterpartKind.other,
        "政府部门": CounterpartKind.other,
        "公司": CounterpartKind.enterprise,
    },
)
VISIT_STATUS_LABELS = {VisitStatus.planned: "计划", VisitStatus.done: "已拜访", VisitStatus.cancelled: "已取消"}
VISIT_STATUSES = _choices(
    VISIT_STATUS_LABELS,
    {
        "拟拜访": VisitStatus.planned,
        "计划拜访": VisitStatus.planned,
        "已完成": VisitStatus.done,
        "完成": VisitStatus.done,
        "取消": VisitStatus.cancelled,
    },
)
LEAD_STAGES = _choices(
    LEAD_STAGE_LABELS,
    {
        "意向": LeadStage.intent,
        "框架协议": LeadStage.intent,
        "已签约": LeadStage.signed,
        "接触": LeadStage.contact,
        "在谈": LeadStage.negotiation,
        "洽谈中": LeadStage.negotiation,
    },
)
TARGET_METRIC_LABELS = {
    TargetMetric.arrived_yuan: "到位资金",
    TargetMetric.contracted_yuan: "签约投资额",
    TargetMetric.deals_signed: "签约项目个数",
    TargetMetric.deals_started: "开工项目个数",
    TargetMetric.reserve_yuan: "项目储备",
    TargetMetric.completed_investment_yuan: "完成投资",
}
TARGET_METRICS = _choices(
    TARGET_METRIC_LABELS,
    {
        "合同投资额": TargetMetric.contracted_yuan,
        "签约资金": TargetMetric.contracted_yuan,
        "签约项目": TargetMetric.deals_signed,
        "签约个数": TargetMetric.deals_signed,
        "开工项目": TargetMetric.deals_started,
        "开工个数": TargetMetric.deals_started,
        "储备项目": TargetMetric.reserve_yuan,
        "实际到位资金": TargetMetric.arrived_yuan,
        "完成固定资产投资": TargetMetric.completed_investment_yuan,
    },
)
MONEY_METRICS = frozenset(
    {
        TargetMetric.arrived_yuan,
        TargetMetric.contracted_yuan,
        TargetMetric.reserve_yuan,
        TargetMetric.completed_investment_yuan,
    }
)

# Reused column descriptions.
_PROJECT = Column("project_name", "text", "项目名称", ("项目名称", "项目", "project"), required=True)
_INVESTOR = Column(
    "investor", "text", "投资方", ("投资方", "投资方名称", "签约企业", "签约单位", "投资主体", "企业名称")
)
_INDUSTRY = Column(
    "industry",
    "text",
    "所属行业",
    ("所属行业", "产业类别", "产业大类", "行业", "产业", "行业类别"),
    description="an industry of the reference table (光伏发电, 装备制造 ...)",
)
_ORIGIN = Column(
    "origin",
    "region",
    "投资方所在地",
    ("投资方所在地", "投资方注册地", "客商来源地", "来源地", "客商所在地"),
    description="province in short or long form; a city after it goes to origin_city (浙江杭州)",
)
_UNIT = Column("unit", "text", "责任单位", ("责任单位", "牵头单位", "承办单位"), description="谁签约谁负责")
_LEADER = Column("leader", "text", "包抓领导", ("包抓领导", "责任领导", "包联领导", "县级领导"))
_NOTE = Column("note", "text", "备注", ("备注", "说明"))

DEALS = LedgerKind(
    name="deals",
    title="签约项目台账",
    entity="deal",
    description="Signed deals (签约项目) from signing to production. The state column and its dates move each "
    "deal through the audited transitions sign, start, complete, terminate; a contradiction is a bad row.",
    natural_key=("investor", "project_name", "signed_on"),
    date_column="signed_on",
    columns=(
        _PROJECT,
        Column("investor", "text", "投资方", _INVESTOR.aliases, required=True),
        Column("credit_code", "text", "统一社会信用代码", ("统一社会信用代码", "信用代码", "社会信用代码")),
        _ORIGIN,
        Column("origin_city", "text", "来源城市", ("来源城市", "投资方所在城市", "所在城市")),
        _INDUSTRY,
        Column(
            "contracted_yuan",
            "money",
            "合同投资额",
            (
                "总投资",
                "总投资（万元）",
                "合同投资额",
                "协议投资额",
                "计划总投资（万元）",
                "签约金额",
                "签约投资额",
                "协议投资",
                "投资额",
            ),
            required=True,
        ),
        Column("signed_on", "date", "签约日期", ("签约日期", "签约时间"), required=True),
        Column("signing_event", "text", "签约活动", ("签约活动", "签约平台", "签约会议")),
        _UNIT,
        _LEADER,
        Column("introducer", "text", "第一引资人", ("第一引资人", "引资人")),
        Column("credited_unit", "text", "招引单位", ("招引单位", "引资单位")),
        Column("signer", "text", "签约人", ("签约人", "签约代表")),
        Column(
            "state",
            "choice",
            "项目状态",
            ("项目状态", "项目进度", "进展情况", "状态"),
            choices=DEAL_STATES,
            refused=DEAL_STATES_REFUSED,
            labels={str(k): v for k, v in DEAL_STATE_LABELS.items()},
            description="已签约/前期 (not started), 在建/已开工, 已竣工/已投产/竣工投产, 终止; blank: from the dates",
        ),
        Column("started_on", "date", "开工时间", ("开工时间", "开工日期", "实际开工时间")),
        Column(
            "completed_on", "date", "竣工投产时间", ("竣工时间", "投产时间", "竣工投产时间", "竣工日期", "投产日期")
        ),
        Column("terminated_on", "date", "终止时间", ("终止时间", "终止日期", "解约时间")),
        Column("termination_reason", "text", "终止原因", ("终止原因", "无法履约原因")),
        Column("registered_on", "date", "入库时间", ("入库时间", "入库日期")),
        Column(
            "stall_reason",
            "text",
            "未开工原因",
            ("未开工原因", "未开工原因分析", "未开工原因及问题", "存在问题及未开工原因"),
            description="a stall reason's code or label (资金未落实 ...); other text lands as 其他 with the text as note",
            exported=False,
        ),
        Column(
            "follow_up_owner",
            "text",
            "跟踪责任人",
            ("跟踪责任人", "专人跟踪", "跟踪人", "跟踪责任人员"),
            exported=False,
        ),
        *(
            Column(
                name,
                "procedure",
                title,
                aliases,
                description="a date (done on that day), 已办/已完成 (done), 办理中 (in progress) or 未办 (not started)",
                exported=False,
            )
            for name, title, aliases in (
                ("approval", "立项", ("立项", "立项手续", "项目立项", "立项审批", "审批核准备案", "立项备案")),
                ("land", "用地", ("用地", "用地手续", "土地手续", "用地审批", "用地预审")),
                ("environment", "环评", ("环评", "环评手续", "环境影响评价", "环评审批")),
                ("planning", "规划许可", ("规划许可", "规划", "规划手续", "规划审批")),
                ("construction_permit", "施工许可", ("施工许可", "施工许可证", "施工手续")),
            )
        ),
        Column("location", "text", "建设地点", ("建设地点", "项目地址", "项目选址")),
        Column("description", "text", "建设内容", ("建设内容", "建设规模及内容", "项目内容")),
        Column("note", "text", "备注", _NOTE.aliases, description="kept in the audit log of the signing; not exported"),
        Column(
            "deal_id",
            "number",
            "项目编号",
            ("项目编号", "系统编号", "deal_id", "deal id"),
            description="the deal's id, as exported; a re-import matches the row to that deal (corrections)",
        ),
    ),
)

ARRIVALS = LedgerKind(
    name="arrivals",
    title="到位资金台账",
    entity="capital_arrival",
    description="Capital that arrived (到位资金) per deal. The deal is named by 项目名称, with 投资方 (and 签约日期) "
    "where project names repeat.",
    natural_key=("deal", "arrived_on", "arrived_yuan", "source"),
    date_column="arrived_on",
    wide=("arrived_on", "arrived_yuan"),
    columns=(
        _PROJECT,
        Column("investor", "text", "投资方", _INVESTOR.aliases, description="needed where project names repeat"),
        Column(
            "signed_on",
            "date",
            "签约日期",
            ("签约日期", "签约时间"),
            description="needed where one investor signed the same project twice",
        ),
        Column(
            "arrived_on",
            "date",
            "到位日期",
            ("到位日期", "到位时间", "月份", "到位月份"),
            required=True,
            description="a month (2026年6月) means its first day",
        ),
        Column(
            "arrived_yuan",
            "money",
            "到位资金",
            (
                "到位资金",
                "当月到位资金",
                "当月到位资金（万元）",
                "实际到位资金",
                "到位资金（万元）",
                "到位金额",
                "本月到位资金",
                "本月到位",
                "当月到位",
                "到位资金/本月",
                "到位资金/当月",
                "实际到位资金/本月",
            ),
            required=True,
            description="the month's amount; a ledger carrying only 累计 gives it as the difference with the month before",
        ),
        Column(
            "arrived_cumulative_yuan",
            "money",
            "累计到位资金",
            (
                "累计到位资金",
                "本年累计到位资金",
                "累计到位",
                "本年累计",
                "到位资金/累计",
                "到位资金/本年累计",
                "实际到位资金/累计",
            ),
            cumulative_of="arrived_yuan",
            exported=False,
            description="running total of the year per project; a decrease from the month before is a bad row",
        ),
        Column(
            "source",
            "choice",
            "资金来源",
            ("资金来源", "来源", "到位资金来源"),
            required=True,
            choices=SOURCES,
            labels={str(k): v for k, v in CAPITAL_SOURCE_LABELS.items()},
        ),
        Column(
            "use",
            "choice",
            "资金用途",
            ("资金用途", "用途"),
            choices=USES,
            labels={str(k): v for k, v in CAPITAL_USE_LABELS.items()},
        ),
        Column("evidence_kind", "text", "凭证类型", ("凭证类型", "到位凭证", "佐证材料")),
        Column("evidence_ref", "text", "凭证编号", ("凭证编号", "凭证号")),
        Column("verified", "bool", "是否核实", ("是否核实", "核实情况", "已核实")),
        Column("currency", "text", "币种", ("币种", "货币")),
        Column("original_amount", "decimal", "原币金额", ("原币金额", "外币金额")),
        Column("fx_rate", "text", "汇率", ("汇率",)),
        _NOTE,
        Column(
            "arrival_id",
            "text",  # a bureau's own code (DW-2026-001) is no id of ours, and no bad row either
            "到位编号",
            ("到位编号", "arrival_id", "arrival id"),
            description="the arrival's id, as exported; a re-import matches the row to that arrival of the same "
            "deal (corrections); any other code is ignored",
        ),
    ),
)

TARGETS = LedgerKind(
    name="targets",
    title="目标任务",
    entity="target",
    description="Targets (目标任务) for the county, a unit or a leader: blank 责任单位 and 责任领导 mean the county. "
    "Money metrics are read in the header's unit (default 万元); counts as numbers.",
    natural_key=("metric", "period", "scope"),
    date_column="period",
    wide=("period", "amount"),
    columns=(
        Column(
            "metric",
            "choice",
            "考核指标",
            ("考核指标", "指标", "指标名称", "目标类型"),
            required=True,
            choices=TARGET_METRICS,
            labels={str(k): v for k, v in TARGET_METRIC_LABELS.items()},
        ),
        Column(
            "period",
            "period",
            "考核期间",
            ("考核期间", "期间", "时段", "年度", "考核时段"),
            required=True,
            description="2026 / 2026年, 2026Q1 / 2026年第一季度, 2026-03 / 2026年3月",
        ),
        Column("unit", "text", "责任单位", _UNIT.aliases),
        Column("leader", "text", "责任领导", ("责任领导", "包抓领导")),
        Column("amount", "amount", "目标任务", ("目标任务", "目标", "目标值", "任务数", "年度目标", "目标任务数")),
        Column(
            "growth",
            "percent",
            "增长目标",
            ("增长目标", "同比增长目标", "增速目标", "增长率目标"),
            description="10% or 0.10",
        ),
        Column("weight", "number", "权重", ("权重", "分值")),
    ),
)

TRIPS = LedgerKind(
    name="trips",
    title="外出招商计划",
    entity="trip",
    description="One squad's promotion trip (外出招商) per month: destinations (广东深圳、浙江杭州), industries, members, "
    "budget.",
    natural_key=("squad", "month"),
    date_column="month",
    columns=(
        Column("squad", "text", "招商小分队", ("招商小分队", "小分队", "分队名称", "小分队名称"), required=True),
        Column("month", "month", "月份", ("月份", "出访月份", "计划月份"), required=True),
        Column("starts_on", "date", "出发日期", ("出发日期", "开始日期", "出发时间")),
        Column("ends_on", "date", "返回日期", ("返回日期", "结束日期", "返回时间")),
        Column(
            "destinations",
            "list",
            "目的地",
            ("目的地", "拜访地区", "出访地点", "赴往地区"),
            description="province + optional city, separated by 、 , ;",
        ),
        Column("industries", "list", "目标产业", ("目标产业", "对接产业", "招商产业", "重点产业")),
        Column("leader", "text", "带队领导", ("带队领导", "队长", "带队")),
        _UNIT,
        Column("members", "list", "成员", ("成员", "小分队成员", "参加人员", "出访人员")),
        Column("budget_yuan", "money", "经费预算", ("经费预算", "预算", "预算经费")),
        Column("spent_yuan", "money", "实际支出", ("实际支出", "实际费用", "实际经费")),
        _NOTE,
    ),
)

VISITS = LedgerKind(
    name="visits",
    title="拜访记录",
    entity="visit",
    description="Meetings (拜访) on trips. The trip is named by its squad and month (the visit's month when 月份 is "
    "blank); import the trips ledger first.",
    natural_key=("trip", "counterpart", "visited_on"),
    date_column="visited_on",
    columns=(
        Column("squad", "text", "招商小分队", ("招商小分队", "小分队", "分队名称")),
        Column("month", "month", "月份", ("月份", "出访月份")),
        Column("visited_on", "date", "拜访日期", ("拜访日期", "拜访时间", "日期")),
        Column(
            "counterpart",
            "text",
            "拜访对象",
            ("拜访对象", "拜访企业", "企业名称", "商会名称", "对接企业"),
            required=True,
        ),
        Column(
            "counterpart_kind",
            "choice",
            "对象类型",
            ("对象类型", "类型"),
            choices=COUNTERPARTS,
            labels={str(k): v for k, v in COUNTERPART_LABELS.items()},
        ),
        Column(
            "status",
            "choice",
            "拜访状态",
            ("拜访状态", "状态", "完成情况"),
            choices=VISIT_STATUSES,
            labels={str(k): v for k, v in VISIT_STATUS_LABELS.items()},
        ),
        Column("region", "region", "省份", ("省份", "地区", "所在省份")),
        Column("city", "text", "城市", ("城市", "所在城市")),
        Column("contact", "text", "联系人", ("联系人", "对接人")),
        Column("purpose", "text", "拜访事由", ("拜访事由", "对接内容", "洽谈内容")),
        Column("attendees", "text", "参加人员", ("参加人员", "拜访人员")),
        Column("notes", "text", "成效及备注", ("成效及备注", "备注", "拜访成效", "成效")),
    ),
)

LEADS = LedgerKind(
    name="leads",
    title="洽谈项目台账",
    entity="lead",
    description="Prospects (洽谈项目 / 线索) and the project reserve (项目储备) until signed.",
    natural_key=("project_name", "investor_name", "received_on"),
    date_column="received_on",
    columns=(
        _PROJECT,
        Column("investor_name", "text", "投资方", _INVESTOR.aliases),
        Column(
            "received_on",
            "date",
            "获取日期",
            ("获取日期", "接洽日期", "受理日期", "信息获取时间", "登记日期"),
            required=True,
        ),
        Column("source", "text", "信息来源", ("信息来源", "来源渠道", "线索来源")),
        Column("category", "text", "储备类别", ("储备类别", "项目类别", "项目类型")),
        _INDUSTRY,
        _ORIGIN,
        Column(
            "planned_yuan", "money", "计划投资", ("计划投资", "计划总投资", "计划总投资（万元）", "拟投资额", "投资额")
        ),
        Column(
            "stage",
            "choice",
            "项目阶段",
            ("项目阶段", "进展阶段", "洽谈进展", "项目进展"),
            choices=LEAD_STAGES,
            labels={str(k): v for k, v in LEAD_STAGE_LABELS.items()},
        ),
        Column("owner", "text", "跟踪责任人", ("跟踪责任人", "责任人", "负责人")),
        _UNIT,
        Column("acknowledged_on", "date", "响应日期", ("响应日期", "答复日期")),
        Column("assessed_on", "date", "研判日期", ("研判日期", "评估日期")),
        Column("feedback_on", "date", "反馈日期", ("反馈日期",)),
        _NOTE,
    ),
)

KINDS: dict[str, LedgerKind] = {k.name: k for k in (DEALS, ARRIVALS, TARGETS, TRIPS, VISITS, LEADS)}

# ---------------------------------------------------------------- the major-project ledgers
# Read and written by crm.major.ledgers (crm major import / crm major progress / crm major export),
# not by the generic `crm import`: they are described here so that schemas/ covers them too.

MAJOR_CATEGORIES = _choices(MAJOR_CATEGORY_LABELS, {"新建": MajorCategory.new_start})

MAJOR_LIST = LedgerKind(
    name="major_list",
    title="重点项目责任清单",
    entity="major_project",
    description="The city's 责任清单 of major projects (重点项目), one row per project: each row names a signed "
    "deal by 项目名称 (and 建设单位 where names repeat) and puts it on the year's list; a project already on "
    "the list is left as it is. Imported by `crm major import`, written by `crm major export`; a sheet title "
    "line 单位：亿元 sets the unit of money columns without one in their header.",
    columns=(
        Column("project_name", "text", "项目名称", ("项目名称", "项目", "project_name"), required=True),
        Column(
            "investor",
            "text",
            "建设单位",
            ("建设单位", "项目业主", "业主单位", "投资方", "投资主体", "investor"),
            description="the deal's investor, to tell apart deals of the same name",
        ),
        Column(
            "source",
            "text",
            "项目来源",
            ("项目来源", "清单来源", "来源", "source"),
            description="市责任书 / 县级包抓 / …; blank: the import's --source",
        ),
        Column(
            "category",
            "choice",
            "建设性质",
            ("建设性质", "项目类别", "项目性质", "类别", "category"),
            required=True,
            choices=MAJOR_CATEGORIES,
            labels={k.value: v for k, v in MAJOR_CATEGORY_LABELS.items()},
        ),
        Column("content", "text", "建设内容及规模", ("建设内容及规模", "建设内容", "建设规模及内容", "content")),
        Column(
            "contracted_yuan",
            "money",
            "总投资",
            ("总投资", "计划总投资", "项目总投资", "contracted_yuan"),
            description="the deal's contracted amount with its increases: written on export, not changed by an import",
        ),
        Column(
            "planned_yuan",
            "money",
            "年度计划投资",
            ("年度计划投资", "年度计划", "本年计划投资", "planned_yuan"),
            description="the year's planned completed investment",
        ),
        Column(
            "leaders",
            "list",
            "包抓领导",
            ("包抓领导", "包抓县级领导", "责任领导", "县级包抓领导", "leaders"),
            description="responsible county leaders (三包一联), the lead first, separated by 、 or commas",
        ),
        Column("unit", "text", "责任单位", ("责任单位", "包抓单位", "牵头单位", "unit")),
        Column("year", "number", "年度", ("年度", "year"), description="the list year (2026 or 2026年); blank: --year"),
    ),
    natural_key=("project_name", "investor", "year"),
    date_column="year",
)

MAJOR_PROGRESS = LedgerKind(
    name="major_progress",
    title="重点项目周调度表",
    entity="progress_report",
    description="The weekly 调度表 of major projects, one row per project and week, read by `crm major "
    "progress`: 本周 and 本年累计 may stand under a merged 完成投资（万元） header (read as the paths 完成投资/本周 "
    "and 完成投资/本年累计); either money column may be blank, the other is derived, and a cumulative below "
    "the previous week's is refused.",
    columns=(
        Column("project_name", "text", "项目名称", ("项目名称", "项目", "project_name"), required=True),
        Column(
            "week",
            "text",
            "周次",
            ("周次", "调度周", "week"),
            description="an ISO week (2026-W26) or a day in it; blank: the import's --week",
        ),
        Column("progress", "text", "实体进度", ("实体进度", "形象进度", "项目进展情况", "进展情况", "progress")),
        Column(
            "week_yuan",
            "money",
            "本周完成投资",
            ("本周完成投资", "完成投资/本周", "本周", "本周完成", "week_yuan"),
            description="investment completed in the week (counts on its Friday)",
        ),
        Column(
            "cumulative_yuan",
            "money",
            "本年累计完成投资",
            ("本年累计完成投资", "完成投资/本年累计", "本年累计", "累计完成投资", "年度累计", "cumulative_yuan"),
            description="completed investment of the list year to this week",
            cumulative_of="week_yuan",
        ),
        Column("problem", "text", "存在问题", ("存在问题", "存在问题/问题", "问题", "需协调解决的问题", "problem")),
        Column(
            "problem_unit",
            "text",
            "问题责任单位",
            ("存在问题/责任单位", "问题责任单位", "协调单位", "problem_unit"),
            description="the unit responsible for solving the problem",
        ),
        Column("resolution", "text", "协调结果", ("协调结果", "存在问题/协调结果", "协调情况", "resolution")),
        Column(
            "reported_at",
            "date",
            "报送时间",
            ("报送时间", "上报时间", "reported_at"),
            description="a date (its start) or a date and time, China Standard Time; decides whether the report "
            "came in by the deadline",
        ),
    ),
    natural_key=("project_name", "week"),
    date_column="week",
)

MAJOR_KINDS: dict[str, LedgerKind] = {k.name: k for k in (MAJOR_LIST, MAJOR_PROGRESS)}
# every kind with a JSON Schema in schemas/
SCHEMA_KINDS: dict[str, LedgerKind] = {**KINDS, **MAJOR_KINDS}


def ledger_kind(name: str) -> LedgerKind:
    """The ledger kind called `name` (deals, arrivals, trips, visits, leads, targets)."""
    try:
        return KINDS[name.strip().lower()]
    except KeyError:
        raise InvalidValue("kind", name, f"unknown ledger kind; use one of {', '.join(KINDS)}") from None


# ---------------------------------------------------------------- headers

_UNIT_IN_HEADER = re.compile(r"\((?:单位[:：]?)?(万元|亿元|元|万|亿)\)$")
_PAREN_NOTE = re.compile(r"\([^()]*\)$")
_UNITS = {"万": "万元", "亿": "亿元", "万元": "万元", "亿元": "亿元", "元": "元"}


def normalise_header(text: object) -> tuple[str, str | None]:
    """A header cell as (key, unit written in it): ``总 投 资（万元）`` -> (``总投资``, ``万元``).

    NFKC folds full-width brackets and letters; every space and line break goes; ``*``
    (a required marker) goes; English is lower-cased.
    """
    s = unicodedata.normalize("NFKC", str(text or ""))
    s = re.sub(r"[\s*]+", "", s).lower().replace("【", "(").replace("】", ")")
    s = s.replace("[", "(").replace("]", ")")
    unit = None
    m = _UNIT_IN_HEADER.search(s)
    if m:
        unit = _UNITS[m.group(1)]
        s = s[: m.start()]
    return s, unit


def _path_key(alias: str) -> str:
    """An alias as a normalised key; a path alias (到位资金/本月) part by part."""
    return PATH_SEPARATOR.join(normalise_header(part)[0] for part in alias.split(PATH_SEPARATOR))


def alias_map(kind: LedgerKind) -> dict[str, str]:
    """Normalised header (or header path) -> column name, for every alias and the English name of every column."""
    out: dict[str, str] = {}
    for column in kind.columns:
        for alias in (column.name, column.title, *column.aliases):
            out.setdefault(_path_key(alias) if PATH_SEPARATOR in alias else normalise_header(alias)[0], column.name)
    return out


def is_subset_header(parts: list[str]) -> bool:
    """Whether a header path names a 其中 column (a subset of its neighbour, never added into totals)."""
    return any(normalise_header(part)[0].startswith(SUBSET_PREFIXES) for part in parts)


def match_path(
    kind: LedgerKind, parts: list[str], aliases: dict[str, str] | None = None
) -> tuple[str | None, str | None]:
    """The column a header path (group over leaf, as a header block reads) names, and its unit.

    The whole path is tried first, then without its top parts (a group such as 签约情况, or a
    title, says nothing of the column); a part's note in brackets is tried without. The unit is
    the leaf's, else the nearest group's (到位资金（万元） over 本月 | 累计). (None, unit) when unknown.
    """
    aliases = aliases if aliases is not None else alias_map(kind)
    normalised = [normalise_header(part) for part in parts if str(part or "").strip()]
    keys = [key for key, _ in normalised]
    unit = next((u for _, u in reversed(normalised) if u), None)
    name = None
    for start in range(len(keys)):
        rest = keys[start:]
        name = aliases.get(PATH_SEPARATOR.join(rest))
        if name is None and any(_PAREN_NOTE.search(k) for k in rest):  # 签约日期(年月日): a note in brackets
            name = aliases.get(PATH_SEPARATOR.join(_PAREN_NOTE.sub("", k) for k in rest))
        if name is not None:
            break
    if name is not None and unit is None and keys[-1] == name and name.endswith("_yuan"):
        unit = "元"  # an English *_yuan header holds yuan, as `crm report --format csv` prints
    return name, unit


def match_header(
    kind: LedgerKind, text: object, aliases: dict[str, str] | None = None
) -> tuple[str | None, str | None]:
    """The column a header names and the unit written in it: (None, None) when unknown."""
    return match_path(kind, [str(text or "")], aliases)


# ---------------------------------------------------------------- JSON Schema

_JSON_TYPES: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "money": {"type": ["number", "string"], "minimum": 0},
    "amount": {"type": ["number", "string"], "minimum": 0},
    "date": {"type": ["string", "number"], "format": "date"},
    "month": {"type": ["string", "number"], "format": "date"},
    "region": {"type": "string"},
    "bool": {"type": ["boolean", "string"]},
    "choice": {"type": "string"},
    "number": {"type": ["number", "string"]},
    "percent": {"type": ["number", "string"]},
    "period": {"type": ["string", "number"]},
    "decimal": {"type": ["number", "string"]},
    "list": {"type": "string"},
    "procedure": {"type": ["string", "number"]},
}


def _schema_kind(name: str) -> LedgerKind:
    """A kind of SCHEMA_KINDS by name: the generic ledger kinds and the major-project ledgers."""
    found = MAJOR_KINDS.get(name.strip().lower())
    return found if found is not None else ledger_kind(name)


def json_schema(kind: LedgerKind | str) -> dict[str, Any]:
    """The JSON Schema of one ledger row of `kind`, with header aliases (x-aliases) and units (x-unit)."""
    spec = _schema_kind(kind) if isinstance(kind, str) else kind
    properties: dict[str, Any] = {}
    for column in spec.columns:
        prop: dict[str, Any] = {"title": column.title, **_JSON_TYPES[column.type], "x-type": column.type}
        if column.description:
            prop["description"] = column.description
        prop["x-aliases"] = list(dict.fromkeys((column.name, column.title, *column.aliases)))
        if column.unit:
            prop["x-unit"] = column.unit
        if column.cumulative_of:
            prop["x-cumulative-of"] = column.cumulative_of
        if column.choices:
            prop["enum"] = sorted(set(column.choices))
            prop["x-values"] = dict(sorted(column.choices.items()))
        if column.refused:
            prop["x-refused"] = dict(sorted(column.refused.items()))
        properties[column.name] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}{spec.name}.json",
        "title": f"{spec.title} ({spec.name})",
        "description": spec.description + " Headers match after removing spaces and folding full-width brackets; "
        "a header block of up to three rows names a column by its path (到位资金/本月), matched whole or by its "
        "last parts; a unit in the header or its group (元, 万元, 亿元) wins over x-unit. Generated by "
        "crm.ledgers.write_schemas.",
        "type": "object",
        "properties": properties,
        "required": [c.name for c in spec.columns if c.required],
        "x-kind": spec.name,
        "x-entity": spec.entity,
        "x-natural-key": list(spec.natural_key),
        "x-subset-prefixes": list(SUBSET_PREFIXES),
        "x-placeholders": sorted(PLACEHOLDERS),
        **({"x-wide": {"period": spec.wide[0], "value": spec.wide[1]}} if spec.wide else {}),
    }


def schema_text(kind: LedgerKind | str) -> str:
    return json.dumps(json_schema(kind), ensure_ascii=False, indent=2) + "\n"


def write_schemas(directory: str | Path) -> list[Path]:
    """Write ``<kind>.json`` for every kind of SCHEMA_KINDS into `directory`; returns the paths written."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SCHEMA_KINDS:
        path = target / f"{name}.json"
        path.write_text(schema_text(name), encoding="utf-8")
        written.append(path)
    return written

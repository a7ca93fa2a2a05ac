"""A realistic, deterministic demo county (示范县) built through the library's own calls.

Three years of signed deals across the default industries and investor provinces, with
procedures, stalls, follow-ups, terminations, a reassignment, capital increases, capital
arrivals by source, annual and quarterly targets (263亿元 of arrived capital this year),
units and leaders that lead or trail, five promotion squads with the June–October
itineraries, visits, leads and the reserve. The same seed and as-of date give the same
database, row for row.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from crm import arrivals, deals, targets, trips
from crm.errors import Refused
from crm.major.demo import build_major_demo
from crm.models import Deal, Investor, Region, Unit

ACTOR = "demo"
YI = 100_000_000
WAN = 10_000


@dataclass(frozen=True)
class UnitProfile:
    name: str
    kind: str
    # how well the unit performs: share of its deals that start, and how fast money arrives
    drive: float


UNITS = [
    UnitProfile("县工业园区管委会", "park", 0.95),
    UnitProfile("县商务局", "department", 0.85),
    UnitProfile("县发展和改革局", "department", 0.8),
    UnitProfile("县工业和信息化局", "department", 0.75),
    UnitProfile("县能源局", "department", 0.9),
    UnitProfile("县农业农村局", "department", 0.6),
    UnitProfile("县文化旅游局", "department", 0.5),
    UnitProfile("城关镇", "township", 0.65),
    UnitProfile("河西镇", "township", 0.45),
    UnitProfile("石门乡", "township", 0.35),
]

# (name, title)
LEADERS = [
    ("王建国", "县长"),
    ("赵志强", "常务副县长"),
    ("刘红梅", "副县长"),
    ("陈立新", "副县长"),
    ("杨文博", "县委常委、宣传部部长"),
    ("周晓峰", "副县长"),
    ("吴海涛", "县委常委、组织部部长"),
    ("孙丽华", "副县长"),
]

INTRODUCERS = ["马志远", "何建平", "高玉兰", "林国栋", "郭晓东", "罗春燕", "梁志刚", "宋文静", "郑海波", "谢明亮"]
FOLLOW_UP_OWNERS = ["韩振华", "唐晓丽", "冯建军", "曹雪梅", "许国强"]

# industry -> (weight, typical size in 亿元, project phrases, unit names that usually take it)
INDUSTRY_PROFILE: dict[str, tuple[int, float, list[str], list[str]]] = {
    "光伏发电": (
        16,
        12.0,
        ["{n}MW光伏发电项目", "{n}MW农光互补光伏项目", "分布式光伏整县推进项目"],
        ["县能源局", "县发展和改革局"],
    ),
    "新能源开发": (10, 15.0, ["{n}MW风电项目", "储能电站项目", "氢能产业园项目"], ["县能源局", "县工业园区管委会"]),
    "装备制造": (
        12,
        5.0,
        ["新能源装备制造基地", "年产{n}万套汽车零部件项目", "光伏支架生产线项目"],
        ["县工业园区管委会", "县工业和信息化局"],
    ),
    "新材料": (6, 6.0, ["年产{n}万吨新型建材项目", "硅基新材料项目"], ["县工业园区管委会", "县工业和信息化局"]),
    "农产品加工": (
        8,
        1.5,
        ["高原夏菜精深加工项目", "年屠宰{n}万只肉羊加工项目", "马铃薯淀粉加工项目"],
        ["县农业农村局", "河西镇", "石门乡"],
    ),
    "商贸流通": (10, 2.0, ["城市商业综合体项目", "县域商贸物流中心", "农村电商服务中心"], ["县商务局", "城关镇"]),
    "文化旅游": (
        9,
        3.0,
        ["乡村文旅综合体项目", "古镇文化旅游开发项目", "温泉康养度假区"],
        ["县文化旅游局", "石门乡", "城关镇"],
    ),
    "现代物流": (6, 2.5, ["冷链物流园项目", "公铁联运物流港"], ["县商务局", "县工业园区管委会"]),
    "现代农业": (
        10,
        1.2,
        ["{n}万亩高原夏菜种植基地", "现代化肉牛养殖基地", "智慧农业产业园"],
        ["县农业农村局", "河西镇", "石门乡"],
    ),
    "生物医药": (4, 4.0, ["中药材种植及饮片加工项目", "生物制药产业园"], ["县工业园区管委会"]),
    "电子信息": (4, 5.0, ["数据中心项目", "智能终端产业园"], ["县工业和信息化局", "县工业园区管委会"]),
}

# province -> (weight, cities)
ORIGINS: dict[str, tuple[int, list[str]]] = {
    "甘肃": (14, ["兰州", "天水", "酒泉"]),
    "浙江": (12, ["杭州", "宁波", "温州"]),
    "江苏": (10, ["南京", "苏州", "无锡"]),
    "广东": (10, ["深圳", "广州", "东莞"]),
    "北京": (8, ["北京"]),
    "上海": (7, ["上海"]),
    "陕西": (7, ["西安", "宝鸡"]),
    "山东": (6, ["济南", "青岛"]),
    "四川": (5, ["成都", "绵阳"]),
    "福建": (5, ["福州", "厦门", "泉州"]),
    "河北": (4, ["石家庄", "保定"]),
    "天津": (3, ["天津"]),
    "安徽": (3, ["合肥", "芜湖"]),
    "重庆": (3, ["重庆"]),
    "香港": (2, ["香港"]),
}
BRANDS = [
    "华晟",
    "中能",
    "恒远",
    "金诺",
    "瑞丰",
    "天润",
    "宏达",
    "鑫源",
    "正泰",
    "绿源",
    "东方",
    "海川",
    "同创",
    "科盛",
    "远景",
    "隆基",
    "中核",
    "大唐",
    "国润",
    "嘉禾",
    "新希",
    "长城",
    "德源",
    "博瑞",
    "立信",
    "弘毅",
    "泰和",
    "安信",
]
INVESTOR_WORDS = {
    "光伏发电": "新能源科技",
    "新能源开发": "能源投资",
    "装备制造": "装备制造",
    "新材料": "新材料科技",
    "农产品加工": "食品",
    "商贸流通": "商贸",
    "文化旅游": "文旅发展",
    "现代物流": "物流",
    "现代农业": "农业科技",
    "生物医药": "生物医药",
    "电子信息": "信息技术",
}

SIGNING_EVENTS = [
    ("第{n}届兰洽会", 7, 8),  # 兰州投资贸易洽谈会, July
    ("{y}年全县招商引资项目集中签约大会", 3, 18),
    ("{y}年东部沿海地区招商推介会", 10, 22),
]

CAMPAIGN = [  # month, regions, industries (the trips issue's June–October plan)
    (6, ["北京", "天津", "河北"], ["光伏发电", "装备制造", "商贸流通", "文化旅游"]),
    (7, ["上海", "浙江", "江苏", "安徽"], ["光伏发电", "装备制造", "商贸流通", "文化旅游"]),
    (8, ["陕西", "山西", "重庆", "四川"], ["光伏发电", "装备制造", "商贸流通", "文化旅游"]),
    (9, ["广东", "福建", "江西"], ["新能源开发", "光伏发电", "装备制造"]),
    (10, ["山东", "辽宁", "吉林"], ["光伏发电", "现代农业", "商贸流通", "文化旅游"]),
]
SQUADS = [  # squad name, leader, unit, members
    ("第一招商小分队", "王建国", "县商务局", ["马志远", "何建平"]),
    ("第二招商小分队", "赵志强", "县工业园区管委会", ["高玉兰", "林国栋"]),
    ("第三招商小分队", "刘红梅", "县发展和改革局", ["郭晓东", "罗春燕"]),
    ("第四招商小分队", "陈立新", "县能源局", ["梁志刚", "宋文静"]),
    ("第五招商小分队", "周晓峰", "县农业农村局", ["郑海波", "谢明亮"]),
]
CHAMBERS = {
    "北京": "北京甘肃商会",
    "天津": "天津甘肃商会",
    "河北": "河北省甘肃商会",
    "上海": "上海甘肃商会",
    "浙江": "浙江省甘肃商会",
    "江苏": "江苏省甘肃商会",
    "安徽": "安徽省甘肃商会",
    "陕西": "陕西省甘肃商会",
    "山西": "山西省甘肃商会",
    "重庆": "重庆甘肃商会",
    "四川": "四川省甘肃商会",
    "广东": "广东省甘肃商会",
    "福建": "福建省甘肃商会",
    "江西": "江西省甘肃商会",
    "山东": "山东省甘肃商会",
    "辽宁": "辽宁省甘肃商会",
    "吉林": "吉林省甘肃商会",
}
STALL_CODES = ["funding", "land", "approvals", "market", "confidence", "planning", "other"]
STALL_WEIGHTS = [30, 22, 25, 8, 7, 5, 3]


@dataclass
class DemoSummary:
    seed: int
    as_of: date
    deals: int = 0
    arrivals: int = 0
    trips: int = 0
    visits: int = 0
    leads: int = 0
    targets: int = 0
    notes: list[str] = field(default_factory=list)


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)


class _County:
    """Draws the county's story with one seeded random generator; every choice is reproducible."""

    def __init__(self, seed: int, as_of: date) -> None:
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.year = as_of.year
        self.investor_names: set[str] = set()

    def pick_weighted(self, options: dict[str, Any]) -> str:
        names = list(options)
        weights = [options[n][0] for n in names]
        return self.rng.choices(names, weights=weights, k=1)[0]

    def investor_name(self, industry: str, city: str) -> str:
        for _ in range(100):
            name = f"{city}{self.rng.choice(BRANDS)}{INVESTOR_WORDS[industry]}有限公司"
            if name not in self.investor_names:
                self.investor_names.add(name)
                return name
        name = f"{city}{self.rng.choice(BRANDS)}{len(self.investor_names)}号{INVESTOR_WORDS[industry]}有限公司"
        self.investor_names.add(name)
        return name

    def amount_yuan(self, typical_yi: float) -> int:
        # log-normal around the industry's typical size, rounded to 100万 as contracts are
        value = self.rng.lognormvariate(0, 0.7) * typical_yi * 0.6 * YI
        return max(20 * WAN * 100, round(value / (100 * WAN)) * 100 * WAN)

    def project_name(self, industry: str) -> str:
        phrase = self.rng.choice(INDUSTRY_PROFILE[industry][2])
        return phrase.format(n=self.rng.choice([5, 10, 20, 30, 50, 100, 200]))


def build_demo(
    session: Session, *, seed: int = 1, as_of: date | None = None, progress: Callable[[str], None] | None = None
) -> DemoSummary:
    """Fill an empty, initialised database with the demo county as of `as_of` (default today).

    One part after the other, all drawn from one seeded generator (the order is the story):
    signing events, deals, lifecycles, stalled deals' follow-ups, reassignments, capital
    increases, arrivals, targets, then squads, trips, visits and leads, then the major projects.
    """
    as_of = as_of or date.today()
    if session.exec(select(func.count()).select_from(Deal)).one():
        raise Refused(
            "the database already holds deals; the demo fills only an empty database "
            "(use a new file, e.g. --db demo.db)"
        )
    say = progress or (lambda _msg: None)
    county = _County(seed, as_of)
    summary = DemoSummary(seed=seed, as_of=as_of)
    say("signing events")
    events = _signing_events(county)
    say("deals")
    deal_rows = _sign_deals(session, county, events)
    say("lifecycle, procedures, stalls")
    stalled = _run_lifecycles(session, county, deal_rows)
    _follow_stalled(session, county, stalled)
    _reassign_some(session, county, deal_rows, summary)
    _increase_some(session, county, deal_rows)
    say("capital arrivals")
    _record_arrivals(session, county, summary)
    say("targets")
    summary.targets += _set_targets(session, county)
    say("squads, trips, visits, leads")
    _build_trips(session, county, summary)
    say("major projects, plans, weekly reports")
    build_major_demo(session, as_of=as_of)  # 重点项目: list, plans, weekly reports
    session.commit()
    summary.deals = session.exec(select(func.count()).select_from(Deal)).one()
    say("done")
    return summary


def _signing_events(county: _County) -> list[tuple[str, date]]:
    """The county's signing events (签约活动) of the last four years up to as_of: (name, day)."""
    as_of = county.as_of
    events: list[tuple[str, date]] = []
    for y in range(as_of.year - 4, as_of.year + 1):
        for pattern, month, day_of_month in SIGNING_EVENTS:
            held = date(y, month, day_of_month)
            if date(as_of.year - 4, as_of.month, 1) <= held <= as_of:
                events.append((pattern.format(n=y - 1993, y=y), held))
    return events


def _sign_deals(session: Session, county: _County, events: list[tuple[str, date]]) -> list[tuple[Deal, str, str]]:
    """Four hundred deals over four years, about half signed at an event: (deal, unit, industry)."""
    as_of, rng = county.as_of, county.rng
    # four years, so that last year and this year both carry money from deals signed before them
    first_day = date(as_of.year - 4, as_of.month, 1)
    span = (as_of - first_day).days
    deal_rows: list[tuple[Deal, str, str]] = []  # deal, unit, industry
    count = 0
    target_deals = 100 * 4
    while count < target_deals:
        industry = county.pick_weighted(INDUSTRY_PROFILE)
        typical, units = INDUSTRY_PROFILE[industry][1], INDUSTRY_PROFILE[industry][3]
        unit = rng.choice(units) if rng.random() < 0.8 else rng.choice(UNITS).name
        origin = county.pick_weighted(ORIGINS)
        city = rng.choice(ORIGINS[origin][1])
        event_name: str | None = None
        if rng.random() < 0.45 and events:
            event_name, signed_on = rng.choice(events)
        else:
            signed_on = first_day + timedelta(days=rng.randrange(span))
        if signed_on > as_of:
            continue
        leader = rng.choice(LEADERS)[0]
        deal = deals.sign(
            session,
            actor=ACTOR,
            project_name=county.project_name(industry),
            investor=county.investor_name(industry, city),
            signed_on=signed_on,
            contracted_yuan=county.amount_yuan(typical),
            industry=industry,
            origin=origin,
            origin_city=city,
            unit=unit,
            leader=leader,
            introducer=rng.choice(INTRODUCERS),
            credited_unit=unit if rng.random() < 0.85 else rng.choice(UNITS).name,
            signing_event=event_name,
            signer=f"{unit}负责人",
            commit=False,
        )
        deal_rows.append((deal, unit, industry))
        count += 1
    session.flush()
    return deal_rows


def _run_lifecycles(session: Session, county: _County, deal_rows: list[tuple[Deal, str, str]]) -> list[Deal]:
    """Start, complete or terminate the deals with their procedures, by their units' drive; the stalled ones."""
    as_of, rng = county.as_of, county.rng
    unit_drive = {u.name: u.drive for u in UNITS}
    stalled: list[Deal] = []
    for deal, unit, _industry in deal_rows:
        assert deal.id is not None
        age = (as_of - deal.signed_on).days
        drive = unit_drive[unit]
        p_start = min(0.97, drive * min(1.0, age / 240))
        if rng.random() < 0.04 and age > 200:
            deals.terminate(
                session,
                deal.id,
                on=deal.signed_on + timedelta(days=rng.randint(120, age)),
                reason=rng.choice(["投资方资金链断裂", "市场变化, 投资方放弃", "用地无法落实"]),
                actor=ACTOR,
                commit=False,
            )
            continue
        if rng.random() < p_start:
            started = deal.signed_on + timedelta(days=int(rng.uniform(20, 150) / drive))
            if started > as_of:
                started = as_of - timedelta(days=rng.randint(0, 10))
            started = max(started, deal.signed_on)
            for kind in ("approval", "land", "environment", "planning", "construction_permit"):
                deals.set_procedure(
                    session,
                    deal.id,
                    kind,
                    state="done",
                    started_on=deal.signed_on,
                    done_on=started,
                    actor=ACTOR,
                    commit=False,
                )
            deals.start(session, deal.id, on=started, actor=ACTOR, commit=False)
            build_days = int(rng.uniform(180, 540))
            if started + timedelta(days=build_days) <= as_of and rng.random() < 0.75:
                deals.complete(session, deal.id, on=started + timedelta(days=build_days), actor=ACTOR, commit=False)
        else:
            stalled.append(deal)
            done = rng.randint(0, 4)
            for i, kind in enumerate(("approval", "land", "environment", "planning", "construction_permit")):
                finished = deal.signed_on + timedelta(days=30 * (i + 1))
                state = "done" if i < done and finished <= as_of else ("in_progress" if i <= done else "not_started")
                if state != "not_started":
                    deals.set_procedure(
                        session,
                        deal.id,
                        kind,
                        state=state,
                        started_on=deal.signed_on,
                        done_on=finished if state == "done" else None,
                        actor=ACTOR,
                        commit=False,
                    )
    session.flush()
    return stalled


def _follow_stalled(session: Session, county: _County, stalled: list[Deal]) -> None:
    """A reason, an owner and dated follow-ups for the stalled deals older than 45 days (some lapse)."""
    as_of, rng = county.as_of, county.rng
    for deal in stalled:
        assert deal.id is not None
        age = (as_of - deal.signed_on).days
        if age < 45:
            continue
        owner = rng.choice(FOLLOW_UP_OWNERS)
        deals.set_stall(
            session,
            deal.id,
            reason=rng.choices(STALL_CODES, STALL_WEIGHTS)[0],
            owner=owner,
            note="专班跟踪推进",
            actor=ACTOR,
            commit=False,
        )
        when = deal.signed_on + timedelta(days=30)
        while when <= as_of - timedelta(days=10):
            due = when + timedelta(days=rng.choice([7, 14, 30]))
            deals.add_follow_up(
                session,
                deal.id,
                on=when,
                owner=owner,
                action=rng.choice(["电话对接投资方", "召开项目推进会", "现场督办", "协调自然资源局用地"]),
                next_step=rng.choice(["落实项目用地", "完成环评批复", "确认资金到位计划", "签订补充协议"]),
                due_on=due,
                actor=ACTOR,
                commit=False,
            )
            # some owners stop following up: their deals show overdue follow-ups
            if rng.random() < 0.15:
                break
            when = due + timedelta(days=rng.randint(0, 20))
    session.flush()


def _reassign_some(
    session: Session, county: _County, deal_rows: list[tuple[Deal, str, str]], summary: DemoSummary
) -> None:
    """Two terminated deals handed to a new investor (reassignment)."""
    as_of, rng = county.as_of, county.rng
    terminated = [d for d, _u, _i in deal_rows if d.state == "terminated"]
    for old in terminated[:2]:
        assert old.id is not None and old.terminated_on is not None
        when = old.terminated_on + timedelta(days=rng.randint(20, 90))
        if when <= as_of:
            industry_name = next(i for d, _u, i in deal_rows if d is old)
            deals.reassign(
                session,
                old.id,
                investor=county.investor_name(industry_name, "西安"),
                signed_on=when,
                actor=ACTOR,
                commit=False,
            )
            summary.notes.append(f"reassigned deal {old.id}")


def _increase_some(session: Session, county: _County, deal_rows: list[tuple[Deal, str, str]]) -> None:
    """Capital increases (增资) on four producing deals."""
    as_of, rng = county.as_of, county.rng
    producing = [d for d, _u, _i in deal_rows if d.state == "in_production"]
    for parent in producing[:4]:
        assert parent.id is not None and parent.completed_on is not None
        when = parent.completed_on + timedelta(days=rng.randint(30, 200))
        if when <= as_of:
            deals.sign(
                session,
                actor=ACTOR,
                project_name=f"{parent.project_name}(二期增资)",
                investor=_investor_name(session, parent),
                signed_on=when,
                contracted_yuan=parent.contracted_yuan // 3,
                increases=parent.id,
                commit=False,
            )
    session.flush()


def _record_arrivals(session: Session, county: _County, summary: DemoSummary) -> None:
    """Monthly capital arrivals from each deal's start, faster and fuller for driven units."""
    as_of, rng = county.as_of, county.rng
    unit_drive = {u.name: u.drive for u in UNITS}
    all_deals = session.exec(select(Deal).order_by(Deal.id)).all()  # type: ignore[arg-type]
    unit_names = _unit_names(session)
    for deal in all_deals:
        if deal.started_on is None:
            continue
        assert deal.id is not None
        drive = unit_drive.get(unit_names.get(deal.unit_id or -1, ""), 0.6)
        share = min(1.0, rng.uniform(0.42, 1.0) * drive)
        months = rng.randint(6, 24)
        per_month = deal.contracted_yuan * share / months
        source = _source_for(rng, session, deal)
        first_month = trips.month_start(deal.started_on)
        end = deal.terminated_on or as_of
        for i in range(months):
            day = _add_months(first_month, i) + timedelta(days=rng.randint(5, 25))
            if day > end or day < deal.signed_on:
                continue
            amount = round(per_month * rng.uniform(0.6, 1.4) / WAN) * WAN
            if amount <= 0:
                continue
            arrivals.record_arrival(
                session,
                deal.id,
                on=day,
                amount_yuan=amount,
                source=source,
                actor=ACTOR,
                use="fixed_assets" if rng.random() < 0.8 else "working_capital",
                evidence_kind=rng.choice(["银行进账单", "验资报告", "发票"]),
                evidence_ref=f"JZ{day:%Y%m}{deal.id:04d}{i:02d}",
                verified=day < _add_months(trips.month_start(as_of), -1),
                commit=False,
            )
            summary.arrivals += 1
    session.flush()


def _investor_name(session: Session, deal: Deal) -> str:
    investor = session.get(Investor, deal.investor_id)
    assert investor is not None
    return investor.name


def _unit_names(session: Session) -> dict[int, str]:
    return {u.id: u.name for u in session.exec(select(Unit)).all() if u.id is not None}


def _source_for(rng: random.Random, session: Session, deal: Deal) -> str:
    region = session.get(Region, deal.origin_region_id) if deal.origin_region_id else None
    if region is not None and region.name == "香港":
        return "overseas"
    if region is not None and region.name == "甘肃":
        return "other_county" if rng.random() < 0.4 else "other_city"
    return "other_province"


def _set_targets(session: Session, county: _County) -> int:
    year = county.year
    n = 0
    quarters = [0.18, 0.27, 0.27, 0.28]
    for y, total_yi, growth in ((year - 1, 230, 0.12), (year, 263, 0.10)):
        targets.set_target(
            session,
            metric="arrived_yuan",
            period=str(y),
            amount_yuan=total_yi * YI,
            growth=growth,
            actor=ACTOR,
            commit=False,
        )
        n += 1
        for q, share in enumerate(quarters, start=1):
            targets.set_target(
                session,
                metric="arrived_yuan",
                period=f"{y}Q{q}",
                amount_yuan=int(total_yi * YI * share),
                actor=ACTOR,
                commit=False,
            )
            n += 1
        targets.set_target(
            session, metric="deals_signed", period=str(y), count=120, growth=0.05, actor=ACTOR, commit=False
        )
        targets.set_target(session, metric="deals_started", period=str(y), count=80, actor=ACTOR, commit=False)
        targets.set_target(
            session, metric="contracted_yuan", period=str(y), amount_yuan=600 * YI, actor=ACTOR, commit=False
        )
        n += 3
    targets.set_target(
        session, metric="reserve_yuan", period=str(year), amount_yuan=350 * YI, actor=ACTOR, commit=False
    )
    n += 1
    # unit targets share the county's year target by each unit's usual weight
    weights = {
        "县工业园区管委会": 0.2,
        "县能源局": 0.25,
        "县发展和改革局": 0.12,
        "县农业农村局": 0.12,
        "县工业和信息化局": 0.07,
        "县商务局": 0.06,
        "城关镇": 0.05,
        "石门乡": 0.05,
        "县文化旅游局": 0.04,
        "河西镇": 0.04,
    }
    for unit, w in weights.items():
        targets.set_target(
            session,
            metric="arrived_yuan",
            period=str(year),
            amount_yuan=int(263 * YI * w),
            scope=unit,
            scope_kind="unit",
            weight=1.0,
            actor=ACTOR,
            commit=False,
        )
        n += 1
    for name, _title in LEADERS:
        targets.set_target(
            session,
            metric="arrived_yuan",
            period=str(year),
            amount_yuan=int(263 * YI / len(LEADERS)),
            scope=name,
            scope_kind="leader",
            actor=ACTOR,
            commit=False,
        )
        n += 1
    return n


def _build_trips(session: Session, county: _County, summary: DemoSummary) -> None:
    rng = county.rng
    year = county.year
    for name, leader, unit, members in SQUADS:
        trips.create_squad(session, name=name, leader=leader, unit=unit, members=members, actor=ACTOR, commit=False)
    for month, regions, industries in CAMPAIGN:
        first = date(year, month, 1)
        if first > county.as_of:
            continue
        trips.plan_month(session, month=first, regions=regions, industries=industries, actor=ACTOR, commit=False)
        for i, (squad, _leader, _unit, _members) in enumerate(SQUADS):
            region = regions[i % len(regions)]
            city = ORIGINS.get(region, (0, [region]))[1][0]
            starts = first + timedelta(days=7 + 3 * i)
            ends = starts + timedelta(days=4)
            planned = [
                {
                    "counterpart": CHAMBERS.get(region, f"{region}甘肃商会"),
                    "counterpart_kind": "chamber",
                    "contact": "秘书长",
                    "purpose": "推介县情, 对接在外乡贤企业",
                },
            ]
            for _ in range(rng.randint(4, 7)):
                industry = rng.choice(industries)
                planned.append(
                    {
                        "counterpart": county.investor_name(industry, city),
                        "counterpart_kind": "enterprise",
                        "contact": "董事长",
                        "purpose": f"{industry}项目洽谈",
                    }
                )
            trip = trips.plan_trip(
                session,
                squad=squad,
                month=first,
                destinations=[(region, city)],
                industries=industries[: 2 + i % 2],
                starts_on=starts,
                ends_on=ends,
                budget_yuan=rng.choice([6, 8, 10]) * WAN,
                visits=planned,
                actor=ACTOR,
                commit=False,
            )
            summary.trips += 1
            if ends > county.as_of:
                continue
            assert trip.id is not None
            for visit in trips.planned_visits(session, trip.id):
                day = starts + timedelta(days=rng.randint(0, 4))
                trips.record_visit(
                    session,
                    visit_id=visit.id,
                    visited_on=day,
                    attendees=f"{squad}全体成员",
                    notes="介绍县情和招商政策, 对方表示有投资意向" if rng.random() < 0.5 else "交流洽谈",
                    actor=ACTOR,
                    commit=False,
                )
                summary.visits += 1
                if visit.counterpart_kind != "enterprise" or rng.random() > 0.55:
                    continue
                industry = rng.choice(industries)
                received = day
                lead = trips.add_lead(
                    session,
                    project_name=county.project_name(industry),
                    investor_name=visit.counterpart,
                    visit_id=visit.id,
                    received_on=received,
                    planned_yuan=county.amount_yuan(INDUSTRY_PROFILE[industry][1]) // 2,
                    industry=industry,
                    category=industry,
                    actor=ACTOR,
                    commit=False,
                )
                summary.leads += 1
                assert lead.id is not None and lead.planned_yuan is not None
                # most leads are acknowledged next day; some slip past their deadlines
                if rng.random() < 0.85:
                    trips.acknowledge_lead(
                        session,
                        lead.id,
                        on=received + timedelta(days=rng.choice([0, 1, 1, 2])),
                        actor=ACTOR,
                        commit=False,
                    )
                if rng.random() < 0.7:
                    trips.assess_lead(
                        session,
                        lead.id,
                        on=received + timedelta(days=rng.choice([2, 3, 3, 5])),
                        actor=ACTOR,
                        commit=False,
                    )
                signed_on = received + timedelta(days=rng.randint(30, 90))
                if rng.random() < 0.2 and signed_on <= county.as_of:
                    deal = trips.sign_lead(
                        session,
                        lead.id,
                        signed_on=signed_on,
                        contracted_yuan=lead.planned_yuan,
                        unit=_unit,
                        leader=_leader,
                        origin=region,
                        origin_city=city,
                        actor=ACTOR,
                        commit=False,
                    )
                    first_money = signed_on + timedelta(days=20)
                    assert deal.id is not None
                    if first_money <= county.as_of:
                        deals.start(session, deal.id, on=first_money, actor=ACTOR, commit=False)
                        arrivals.record_arrival(
                            session,
                            deal.id,
                            on=first_money,
                            amount_yuan=deal.contracted_yuan // 10,
                            source="other_province",
                            actor=ACTOR,
                            commit=False,
                        )
                        summary.arrivals += 1
    # leads that came from elsewhere (以商招商, 线上对接) fill the reserve
    for _ in range(25):
        industry = county.pick_weighted(INDUSTRY_PROFILE)
        received = county.as_of - timedelta(days=rng.randint(10, 300))
        trips.add_lead(
            session,
            project_name=county.project_name(industry),
            investor_name=county.investor_name(industry, rng.choice(["西安", "兰州", "成都"])),
            received_on=received,
            planned_yuan=county.amount_yuan(INDUSTRY_PROFILE[industry][1]),
            industry=industry,
            category=industry,
            source="以商招商",
            actor=ACTOR,
            commit=False,
        )
        summary.leads += 1

"""Reference data shipped with the CRM and the lookups that read it.

Regions are the 34 province-level divisions, matched by the short or long names
people write (北京 / 北京市, 广西 / 广西壮族自治区). Industries and stall reasons are
defaults a bureau extends with its own rows.
"""

from __future__ import annotations

import unicodedata

from sqlmodel import Session, col, select

from crm.audit import record_creation
from crm.errors import InvalidValue
from crm.models import CountingRules, Industry, Person, Region, StallReason, Unit

# (short name, full name, kind)
REGIONS: list[tuple[str, str, str]] = [
    ("北京", "北京市", "municipality"),
    ("天津", "天津市", "municipality"),
    ("河北", "河北省", "province"),
    ("山西", "山西省", "province"),
    ("内蒙古", "内蒙古自治区", "autonomous_region"),
    ("辽宁", "辽宁省", "province"),
    ("吉林", "吉林省", "province"),
    ("黑龙江", "黑龙江省", "province"),
    ("上海", "上海市", "municipality"),
    ("江苏", "江苏省", "province"),
    ("浙江", "浙江省", "province"),
    ("安徽", "安徽省", "province"),
    ("福建", "福建省", "province"),
    ("江西", "江西省", "province"),
    ("山东", "山东省", "province"),
    ("河南", "河南省", "province"),
    ("湖北", "湖北省", "province"),
    ("湖南", "湖南省", "province"),
    ("广东", "广东省", "province"),
    ("广西", "广西壮族自治区", "autonomous_region"),
    ("海南", "海南省", "province"),
    ("重庆", "重庆市", "municipality"),
    ("四川", "四川省", "province"),
    ("贵州", "贵州省", "province"),
    ("云南", "云南省", "province"),
    ("西藏", "西藏自治区", "autonomous_region"),
    ("陕西", "陕西省", "province"),
    ("甘肃", "甘肃省", "province"),
    ("青海", "青海省", "province"),
    ("宁夏", "宁夏回族自治区", "autonomous_region"),
    ("新疆", "新疆维吾尔自治区", "autonomous_region"),
    ("台湾", "台湾省", "province"),
    ("香港", "香港特别行政区", "sar"),
    ("澳门", "澳门特别行政区", "sar"),
]

# (name, category)
INDUSTRIES: list[tuple[str, str]] = [
    ("光伏发电", "新能源"),
    ("新能源开发", "新能源"),
    ("装备制造", "工业"),
    ("新材料", "工业"),
    ("化工", "工业"),
    ("农产品加工", "工业"),
    ("商贸流通", "服务业"),
    ("文化旅游", "服务业"),
    ("现代物流", "服务业"),
    ("现代农业", "农业"),
    ("生物医药", "工业"),
    ("电子信息", "工业"),
    ("基础设施", "基础设施"),
    ("房地产", "服务业"),
]

# (code, label)
STALL_REASONS: list[tuple[str, str]] = [
    ("funding", "资金未落实"),
    ("land", "用地未落实"),
    ("approvals", "前置审批未完成"),
    ("market", "市场变化"),
    ("confidence", "投资信心不足"),
    ("planning", "规划调整"),
    ("other", "其他"),
]

DEFAULT_RULES_NAME = "default"


def seed_reference(session: Session) -> int:
    """Insert the shipped reference rows that are missing; returns how many were added. Idempotent."""
    added = 0
    have_regions = set(session.exec(select(Region.name)).all())
    for name, full_name, kind in REGIONS:
        if name not in have_regions:
            session.add(Region(name=name, full_name=full_name, kind=kind))
            added += 1
    have_industries = set(session.exec(select(Industry.name)).all())
    for name, category in INDUSTRIES:
        if name not in have_industries:
            session.add(Industry(name=name, category=category))
            added += 1
    have_reasons = set(session.exec(select(StallReason.code)).all())
    for code, label in STALL_REASONS:
        if code not in have_reasons:
            session.add(StallReason(code=code, label=label))
            added += 1
    if session.exec(select(CountingRules.id).where(CountingRules.name == DEFAULT_RULES_NAME)).first() is None:
        session.add(
            CountingRules(
                name=DEFAULT_RULES_NAME,
                version=1,
                is_default=True,
                note="DESIGN.md: 履约 = started or in production; 竣工投产率 over started deals; every source; "
                "reported and verified arrivals",
            )
        )
        added += 1
    session.commit()
    return added


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace(" ", "").strip()


_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")


def region_short_name(text: str) -> str:
    """The short name of a province written short or long: ``广西壮族自治区`` -> ``广西``."""
    s = _key(text)
    for short, full, _ in REGIONS:
        if s in (short, full):
            return short
    for suffix in _SUFFIXES:
        if s.endswith(suffix) and s[: -len(suffix)] in {r[0] for r in REGIONS}:
            return s[: -len(suffix)]
    raise InvalidValue("region", text, "not a province-level division (write e.g. 北京, 内蒙古 or 广西壮族自治区)")


def find_region(session: Session, text: str) -> Region:
    """The Region row named `text` in short or long form; InvalidValue if there is none."""
    short = region_short_name(text)
    region = session.exec(select(Region).where(Region.name == short)).first()
    if region is None:
        raise InvalidValue("region", text, "region table not seeded; run `crm init`")
    return region


def find_industry(session: Session, name: str) -> Industry:
    """The Industry row named `name`; InvalidValue naming the known industries if there is none."""
    industry = session.exec(select(Industry).where(Industry.name == _key(name))).first()
    if industry is None:
        known = "、".join(session.exec(select(Industry.name).order_by(col(Industry.id))).all())
        raise InvalidValue("industry", name, f"unknown industry; known: {known}")
    return industry


def get_or_create_unit(session: Session, name: str, *, actor: str) -> Unit:
    """The unit (责任单位) named `name`, created and audited when missing (ledgers bring new ones)."""
    unit = session.exec(select(Unit).where(Unit.name == name)).first()
    if unit is None:
        unit = Unit(name=name)
        session.add(unit)
        session.flush()
        record_creation(session, unit, actor=actor)
    return unit


def get_or_create_person(session: Session, name: str, *, actor: str) -> Person:
    """The person (leader, introducer, owner, member) named `name`, created and audited when missing."""
    person = session.exec(select(Person).where(Person.name == name)).first()
    if person is None:
        person = Person(name=name)
        session.add(person)
        session.flush()
        record_creation(session, person, actor=actor)
    return person

"""Reference data shipped with the CRM and the lookups that read it.

Regions are the 34 province-level divisions, matched by the short or long names
people write (北京 / 北京市, 广西 / 广西壮族自治区). Industries and stall reasons are
defaults a bureau extends with its own rows.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from crm import names
from crm.audit import record_changes, record_creation
from crm.db import unit_of_work
from crm.errors import Duplicate, InvalidValue
from crm.models import CountingRules, Industry, Person, Region, RegionAlias, SigningEvent, StallReason, Unit

if TYPE_CHECKING:  # only the functions that make a frame import pandas: an export or an import needs none
    import pandas as pd

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
    """The Region row named `text` in short or long form, or by an alias the bureau added;
    UnknownName (an InvalidValue) with the closest regions if there is none."""
    row: Region = names.resolve(session, "region", text)
    return row


def find_industry(session: Session, name: str) -> Industry:
    """The Industry row named `name`; UnknownName (an InvalidValue) with the closest industries if there is none."""
    row: Industry = names.resolve(session, "industry", name)
    return row


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


# ---------------------------------------------------------------- the lists a bureau keeps

REFERENCE_KINDS = ("industry", "unit", "person", "stall_reason", "region_alias", "signing_event")
_KIND_ALIASES = {
    "industries": "industry",
    "units": "unit",
    "people": "person",
    "persons": "person",
    "stall-reason": "stall_reason",
    "stall-reasons": "stall_reason",
    "stall_reasons": "stall_reason",
    "region-alias": "region_alias",
    "region-aliases": "region_alias",
    "region_aliases": "region_alias",
    "regions": "region_alias",
    "region": "region_alias",
    "signing-event": "signing_event",
    "signing-events": "signing_event",
    "signing_events": "signing_event",
    "events": "signing_event",
}


def reference_kind(kind: str) -> str:
    """The reference kind `kind` names (``industries`` -> ``industry``); InvalidValue listing the kinds."""
    text = str(kind).strip().lower()
    text = _KIND_ALIASES.get(text, text)
    if text not in REFERENCE_KINDS:
        raise InvalidValue("kind", kind, f"use one of {', '.join(REFERENCE_KINDS)}")
    return text


def list_reference(session: Session, kind: str) -> pd.DataFrame:
    """The rows of a reference list: id, name and what else the kind carries (category, title ...)."""
    import pandas as pd

    k = reference_kind(kind)
    rows: list[tuple[Any, ...]]
    if k == "industry":
        rows = [(r.id, r.name, r.category) for r in session.exec(select(Industry).order_by(col(Industry.id)))]
        return pd.DataFrame(rows, columns=["id", "name", "category"])
    if k == "unit":
        rows = [(r.id, r.name, r.kind) for r in session.exec(select(Unit).order_by(col(Unit.id)))]
        return pd.DataFrame(rows, columns=["id", "name", "kind"])
    if k == "person":
        units = {u.id: u.name for u in session.exec(select(Unit))}
        rows = [
            (r.id, r.name, r.title, units.get(r.unit_id)) for r in session.exec(select(Person).order_by(col(Person.id)))
        ]
        return pd.DataFrame(rows, columns=["id", "name", "title", "unit"])
    if k == "stall_reason":
        rows = [(r.id, r.label, r.code) for r in session.exec(select(StallReason).order_by(col(StallReason.id)))]
        return pd.DataFrame(rows, columns=["id", "name", "code"])
    if k == "signing_event":
        rows = [(r.id, r.name, r.held_on) for r in session.exec(select(SigningEvent).order_by(col(SigningEvent.id)))]
        return pd.DataFrame(rows, columns=["id", "name", "held_on"])
    aliases: dict[int, list[str]] = {}
    for a in session.exec(select(RegionAlias).order_by(col(RegionAlias.alias))):
        aliases.setdefault(a.region_id, []).append(a.alias)
    rows = [
        (r.id, r.name, r.full_name, "、".join(aliases.get(r.id or 0, [])))
        for r in session.exec(select(Region).order_by(col(Region.id)))
    ]
    return pd.DataFrame(rows, columns=["id", "name", "full_name", "aliases"])


def _clean(field: str, value: object, max_length: int) -> str:
    text = _key(value) if isinstance(value, str) else ""
    if not text:
        raise InvalidValue(field, value, "a name is required")
    if len(text) > max_length:
        raise InvalidValue(field, value, f"at most {max_length} characters")
    return text


def add_reference(
    session: Session,
    kind: str,
    name: str,
    *,
    actor: str,
    category: str | None = None,
    code: str | None = None,
    region: str | None = None,
    title: str | None = None,
    unit: str | None = None,
    commit: bool = True,
) -> Any:
    """Add a row to a reference list (audited): an industry (with its `category`), a unit, a
    signing event, a person (`title`, `unit`), a stall reason (`code`, default ``custom_<n>``) or a region alias
    (`region` is the province it stands for). Duplicate when the name is taken."""
    k = reference_kind(kind)
    text = _clean("name", name, 64 if k != "region_alias" else 32)
    if k == "stall_reason":
        from crm.deals import add_stall_reason  # crm.deals imports this module: the cycle is broken here

        if code is None:
            count = len(session.exec(select(StallReason.id)).all())
            code = f"custom_{count + 1}"
        return add_stall_reason(session, code=code, label=text, actor=actor, commit=commit)
    row: Any
    if k == "industry":
        taken = names.find(session, "industry", text)
        row = Industry(name=text, category=category)
    elif k == "unit":
        taken = names.find(session, "unit", text)
        row = Unit(name=text)
    elif k == "signing_event":
        taken = names.find(session, "signing_event", text)
        row = SigningEvent(name=text)
    elif k == "person":
        taken = names.find(session, "person", text)
        row = Person(name=text, title=title, unit_id=names.resolve_id(session, "unit", unit) if unit else None)
    else:
        if not region:
            raise InvalidValue("region", region, "say which province the alias stands for (--region 内蒙古)")
        target = names.resolve(session, "region", region)
        taken = names.find(session, "region", text)
        row = RegionAlias(alias=text, region_id=target.id)
    if taken is not None:
        raise Duplicate(f"{k} {text} already exists (id {taken.id})")
    with unit_of_work(session, commit=commit):
        session.add(row)
        session.flush()
        record_creation(session, row, actor=actor)
    return row


def rename_reference(session: Session, kind: str, old: str, new: str, *, actor: str, commit: bool = True) -> Any:
    """Rename a row of a reference list (audited, old and new name); every deal keeps pointing at it."""
    k = reference_kind(kind)
    text = _clean("new", new, 64 if k != "region_alias" else 32)
    row: Any
    if k == "region_alias":
        row = session.exec(select(RegionAlias).where(RegionAlias.alias == _key(old))).first()
        if row is None:
            known = [a for a in session.exec(select(RegionAlias.alias)).all()]
            raise names.UnknownName("old", old, "region alias", names.closest(old, known), known)
        attr = "alias"
    else:
        row = names.resolve(session, k, old)
        attr = "label" if k == "stall_reason" else "name"
    taken = names.find(session, k if k != "region_alias" else "region", text)
    if taken is not None and taken is not row:
        raise Duplicate(f"{k} {text} already exists (id {taken.id}); choose another name")
    with unit_of_work(session, commit=commit):
        record_changes(session, row, {attr: text}, actor=actor, action="rename")
    return row

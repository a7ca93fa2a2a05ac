"""A deterministic province, city or county: rows in a database and the ledgers analysts keep.

``prepare(scale, seed)`` draws every row with one ``random.Random(seed)``, bulk-loads them
into SQLite files (raw ``sqlite3.executemany``, never ORM objects per row) and writes the
deal and capital-arrival ledgers (.xlsx, and .csv) with the Chinese headers real ledgers
use. Everything is cached under ``bench/data/<scale>-s<seed>-v<version>/`` so reruns only
read it. ``fill_postgres(url, prepared, arrivals=...)`` copies the cached SQLite rows into
a PostgreSQL database with ``COPY``.

Three SQLite files per scale: ``base.db`` holds no investors, deals or arrivals (the database a
deals import goes into), ``deals.db`` holds everything but the capital arrivals (the database an
arrivals import goes into) and ``full.db`` holds the arrivals too (the reports' database). Money is integer yuan in the databases and 万元 in the ledgers
(arrival amounts have two decimals, so 万元 × 10000 is exact).
"""

from __future__ import annotations

import csv
import gc
import json
import math
import random
import shutil
import sqlite3
import time
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

GENERATOR_VERSION = 2
# No ANALYZE on the SQLite files: a database the library builds has no sqlite_stat1 either, and
# with statistics SQLite plans crm.metrics' replacement join (replaces_id, all NULL) as a scan.
BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"

DATA_START = date(2022, 1, 1)  # first signing
DATA_END = date(2026, 9, 30)  # last recorded event: the ledgers' "today"
AS_OF = date(2026, 8, 20)  # the dashboard's reporting date (mid third quarter)
CREATED_AT = "2026-09-30 12:00:00.000000"  # created_at of every generated row (SQLite text form)

DEAL_HEADERS = [
    "项目名称",
    "投资方名称",
    "签约日期",
    "总投资（万元）",
    "所属行业",
    "投资方所在地",
    "责任单位",
    "包抓领导",
    "项目状态",
    "开工时间",
    "竣工投产时间",
    "终止时间",
]
ARRIVAL_HEADERS = ["项目名称", "投资方名称", "到位日期", "到位资金（万元）", "资金来源", "是否核实"]
TARGET_HEADERS = ["指标", "范围", "期间", "目标", "增长目标"]
XLSX_MAX_ROWS = 1_048_576
CSV_ENCODING = "utf-8"


@dataclass(frozen=True)
class Scale:
    name: str
    deals: int
    arrivals: int
    trips: int
    visits: int
    units: int


SCALES: dict[str, Scale] = {
    "county": Scale("county", deals=500, arrivals=5_000, trips=50, visits=250, units=50),
    "city": Scale("city", deals=10_000, arrivals=100_000, trips=1_000, visits=5_000, units=500),
    "province": Scale("province", deals=100_000, arrivals=1_000_000, trips=10_000, visits=50_000, units=2_000),
}

# Reference names as crm.reference seeds them (the bench reads the ids back by name).
INDUSTRY_WEIGHTS: dict[str, float] = {
    "光伏发电": 8,
    "新能源开发": 7,
    "装备制造": 9,
    "新材料": 6,
    "化工": 4,
    "农产品加工": 8,
    "商贸流通": 7,
    "文化旅游": 6,
    "现代物流": 5,
    "现代农业": 8,
    "生物医药": 3,
    "电子信息": 4,
    "基础设施": 3,
    "房地产": 2,
}
INDUSTRY_WORDS = {
    "光伏发电": "光伏",
    "新能源开发": "新能源",
    "装备制造": "装备",
    "新材料": "新材料",
    "化工": "化工",
    "农产品加工": "食品",
    "商贸流通": "商贸",
    "文化旅游": "文旅",
    "现代物流": "物流",
    "现代农业": "农业",
    "生物医药": "医药",
    "电子信息": "电子",
    "基础设施": "建设",
    "房地产": "置业",
}
PROJECT_PHRASES = {
    "光伏发电": ["{n}MW光伏发电", "{n}MW分布式光伏", "{n}MW农光互补"],
    "新能源开发": ["{n}MW风电", "{n}万千瓦风光储一体化", "{n}MW储能电站"],
    "装备制造": ["年产{n}台套装备制造", "{n}万套汽车零部件", "智能装备产业园"],
    "新材料": ["年产{n}万吨新材料", "{n}万吨碳基新材料", "新型建材"],
    "化工": ["年产{n}万吨精细化工", "{n}万吨化工新材料"],
    "农产品加工": ["年产{n}万吨农产品加工", "{n}万吨马铃薯精深加工", "肉牛屠宰加工"],
    "商贸流通": ["商贸综合体", "{n}万平方米商贸物流城", "农产品批发市场"],
    "文化旅游": ["文化旅游综合开发", "{n}A级景区提升", "乡村旅游示范"],
    "现代物流": ["{n}万吨冷链物流", "现代物流园", "仓储配送中心"],
    "现代农业": ["{n}万亩高标准农田", "{n}万头肉牛养殖", "设施农业产业园"],
    "生物医药": ["中药材精深加工", "{n}吨原料药", "医疗器械产业园"],
    "电子信息": ["数据中心", "{n}万片电子元器件", "智能终端产业园"],
    "基础设施": ["{n}公里道路提升", "供热管网改造", "污水处理厂"],
    "房地产": ["{n}万平方米住宅小区", "城市综合体"],
}
# (province short name, cities): origins of investors and trip destinations
ORIGINS: list[tuple[str, list[str], float]] = [
    ("浙江", ["杭州", "宁波", "温州", "绍兴"], 9),
    ("江苏", ["南京", "苏州", "无锡", "常州"], 9),
    ("广东", ["深圳", "广州", "东莞", "佛山"], 8),
    ("北京", ["北京"], 6),
    ("上海", ["上海"], 6),
    ("山东", ["济南", "青岛", "潍坊"], 6),
    ("福建", ["福州", "厦门", "泉州"], 4),
    ("四川", ["成都", "绵阳"], 3),
    ("陕西", ["西安", "宝鸡"], 4),
    ("甘肃", ["兰州", "天水", "白银", "定西"], 10),
    ("河南", ["郑州", "洛阳"], 3),
    ("湖北", ["武汉", "宜昌"], 2),
    ("天津", ["天津"], 2),
    ("宁夏", ["银川"], 2),
    ("新疆", ["乌鲁木齐"], 1),
    ("香港", ["香港"], 1),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志文斌辉红海鹏飞宇浩晨阳林峰波丹萍宁亮成俊玲雪梅"
PLACE = (
    "东西南北中上下新老大小金银石青红白黄龙凤马牛羊鹤柳杨松梅桃李花山水河湖川江溪沟坪坝岭峪湾庄堡寨店集桥安和平丰乐康泰"
)
DEPARTMENTS = [
    "商务局",
    "发展和改革局",
    "工业和信息化局",
    "自然资源局",
    "农业农村局",
    "文化和旅游局",
    "住房和城乡建设局",
    "交通运输局",
    "财政局",
    "科技局",
    "招商服务中心",
    "工业园区管委会",
    "经济开发区管委会",
    "投资促进局",
]
BRANDS = "华宏泰盛恒远鑫达嘉元中天海润金诚顺兴隆昌永安富瑞祥德广信通明博创立新汇丰源益鼎峰晟开合"
TITLES = ["县委书记", "县长", "常务副县长", "副县长", "县委常委", "县人大常委会副主任", "县政协副主席"]
SOURCE_WEIGHTS = {"other_province": 55, "other_city": 25, "overseas": 5, "other_county": 15}
SOURCE_LABELS = {"overseas": "境外", "other_province": "省外", "other_city": "市外省内", "other_county": "县际"}
STATE_LABELS = {"signed": "已签约", "started": "已开工", "in_production": "已竣工投产", "terminated": "已终止"}
ARRIVAL_WEIGHT = {"signed": 0.3, "started": 1.5, "in_production": 2.0, "terminated": 0.6}


@dataclass
class Dataset:
    """Every generated row as a tuple in the column order of `COLUMNS` (names, not ids, for reference data)."""

    scale: Scale
    seed: int
    units: list[tuple[Any, ...]] = field(default_factory=list)
    people: list[tuple[Any, ...]] = field(default_factory=list)
    investors: list[tuple[Any, ...]] = field(default_factory=list)
    deals: list[tuple[Any, ...]] = field(default_factory=list)
    arrivals: list[tuple[Any, ...]] = field(default_factory=list)
    targets: list[tuple[Any, ...]] = field(default_factory=list)
    squads: list[tuple[Any, ...]] = field(default_factory=list)
    squad_members: list[tuple[Any, ...]] = field(default_factory=list)
    trips: list[tuple[Any, ...]] = field(default_factory=list)
    trip_destinations: list[tuple[Any, ...]] = field(default_factory=list)
    trip_industries: list[tuple[Any, ...]] = field(default_factory=list)
    trip_members: list[tuple[Any, ...]] = field(default_factory=list)
    visits: list[tuple[Any, ...]] = field(default_factory=list)


# Column order of the Dataset tuples = the columns inserted. `@region` / `@industry` mark
# columns that hold a reference NAME, turned into the seeded row's id when loaded.
COLUMNS: dict[str, list[str]] = {
    "unit": ["id", "name", "kind"],
    "person": ["id", "name", "title", "unit_id"],
    "investor": ["id", "name", "name_key", "origin_region_id@region", "origin_city", "created_at"],
    "deal": [
        "id",
        "project_name",
        "investor_id",
        "signed_on",
        "contracted_yuan",
        "industry_id@industry",
        "origin_region_id@region",
        "origin_city",
        "leader_id",
        "unit_id",
        "introducer_id",
        "credited_unit_id",
        "state",
        "started_on",
        "completed_on",
        "terminated_on",
        "termination_reason",
        "created_at",
    ],
    "capital_arrival": ["id", "deal_id", "arrived_on", "arrived_yuan", "source", "verified", "currency", "created_at"],
    "target": [
        "id",
        "metric",
        "period_kind",
        "period_start",
        "scope_kind",
        "unit_id",
        "leader_id",
        "scope_key",
        "amount",
        "growth",
    ],
    "squad": ["id", "name", "leader_id", "unit_id"],
    "squad_member": ["squad_id", "person_id"],
    "trip": ["id", "squad_id", "month", "starts_on", "ends_on", "budget_yuan", "spent_yuan"],
    "trip_destination": ["id", "trip_id", "region_id@region", "city"],
    "trip_industry": ["trip_id", "industry_id@industry"],
    "trip_member": ["trip_id", "person_id"],
    "visit": [
        "id",
        "trip_id",
        "status",
        "visited_on",
        "counterpart",
        "counterpart_kind",
        "region_id@region",
        "city",
    ],
}
TABLE_FIELDS = {
    "unit": "units",
    "person": "people",
    "investor": "investors",
    "deal": "deals",
    "capital_arrival": "arrivals",
    "target": "targets",
    "squad": "squads",
    "squad_member": "squad_members",
    "trip": "trips",
    "trip_destination": "trip_destinations",
    "trip_industry": "trip_industries",
    "trip_member": "trip_members",
    "visit": "visits",
}
ORDER = list(COLUMNS)  # foreign keys point backwards in this order
SERIAL_TABLES = [t for t in ORDER if COLUMNS[t][0] == "id"]


def name_key(name: str) -> str:
    """The investor name key the library uses (crm.deals.normalize_investor_name), or a close stand-in."""
    try:
        from crm.deals import normalize_investor_name
    except ImportError:  # pragma: no cover - only before crm.deals exists
        key = "".join(unicodedata.normalize("NFKC", name).casefold().split())
        for suffix in ("股份有限公司", "有限责任公司", "有限公司", "集团", "公司"):
            key = key.removesuffix(suffix)
        return key
    return normalize_investor_name(name)


# ---------------------------------------------------------------- drawing the rows


class _Draw:
    def __init__(self, scale: Scale, seed: int) -> None:
        self.rng = random.Random(seed)
        self.scale = scale
        self.span = (DATA_END - DATA_START).days

    def unique(self, make: Any, taken: set[str]) -> str:
        for _ in range(200):
            value = make()
            if value not in taken:
                taken.add(value)
                return str(value)
        raise RuntimeError("name space exhausted")  # pragma: no cover

    def day(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randint(0, max(0, (end - start).days)))


def build_dataset(scale: Scale, seed: int) -> Dataset:
    """Draw every row of one scale, deterministically from `seed`."""
    d = _Draw(scale, seed)
    rng = d.rng
    ds = Dataset(scale=scale, seed=seed)

    # units: departments, then townships and parks
    taken: set[str] = set()
    for i in range(scale.units):
        if i < len(DEPARTMENTS):
            name = "县" + DEPARTMENTS[i]
            taken.add(name)
            kind = "department"
        else:
            kind = rng.choice(["township", "township", "township", "park"])
            suffix = {"township": rng.choice(["镇", "乡", "街道"]), "park": "产业园区"}[kind]
            name = d.unique(lambda suffix=suffix: "".join(rng.sample(PLACE, 2)) + suffix, taken)
        ds.units.append((i + 1, name, kind))

    # people: county leaders first, then staff of the units
    n_people = max(60, scale.units * 2)
    n_leaders = max(10, scale.units // 5)
    taken = set()
    for i in range(n_people):
        name = d.unique(lambda: rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice([1, 2]))), taken)
        if i < n_leaders:
            ds.people.append((i + 1, name, rng.choice(TITLES), None))
        else:
            ds.people.append((i + 1, name, "科长", rng.randint(1, scale.units)))
    leader_ids = range(1, n_leaders + 1)
    staff_ids = range(n_leaders + 1, n_people + 1)

    # investors are drawn as deals need them: 80% of deals bring a new investor
    origin_cum = _cumulative([o[2] for o in ORIGINS])
    industries = list(INDUSTRY_WEIGHTS)
    industry_cum = _cumulative(list(INDUSTRY_WEIGHTS.values()))
    investor_keys: set[str] = set()
    investor_origin: list[tuple[str, str, str]] = []
    project_names: set[str] = set()
    unit_ids = range(1, scale.units + 1)

    for deal_id in range(1, scale.deals + 1):
        industry = industries[bisect_right(industry_cum, rng.random() * industry_cum[-1])]
        if not ds.investors or rng.random() < 0.8:
            o = ORIGINS[bisect_right(origin_cum, rng.random() * origin_cum[-1])]
            city = rng.choice(o[1])
            word = INDUSTRY_WORDS[industry]
            form = rng.choice(["有限公司", "有限公司", "股份有限公司", "集团有限公司", "有限责任公司"])

            def make_name(city: str = city, word: str = word) -> str:
                return city + "".join(rng.sample(BRANDS, 2)) + word

            core = d.unique(make_name, investor_keys)
            investor_id = len(ds.investors) + 1
            full = core + form
            ds.investors.append((investor_id, full, name_key(full), o[0], city, CREATED_AT))
            investor_origin.append((o[0], city, core))
        else:
            investor_id = rng.randint(1, len(ds.investors))
        origin, city, core = investor_origin[investor_id - 1]

        phrase = rng.choice(PROJECT_PHRASES[industry]).format(n=rng.choice([5, 10, 20, 30, 50, 100, 200]))
        project = f"{core[len(city) :]}{phrase}项目"
        if project in project_names:
            k = 2
            while f"{project}（{k}期）" in project_names:
                k += 1
            project = f"{project}（{k}期）"
        project_names.add(project)

        signed = d.day(DATA_START, DATA_END)
        wan = int(math.exp(rng.uniform(math.log(300), math.log(300_000))))
        contracted = max(10, round(wan, -1 if wan < 10_000 else -2)) * 10_000
        state, started, completed, terminated, reason = "signed", None, None, None, None
        if rng.random() < 0.08 and signed < DATA_END:
            terminated = d.day(signed + timedelta(days=1), min(DATA_END, signed + timedelta(days=700)))
            state, reason = "terminated", rng.choice(["投资方资金链断裂", "市场变化", "用地无法落实", "企业战略调整"])
            if rng.random() < 0.3:
                started = d.day(signed, terminated)
        else:
            start_day = signed + timedelta(days=rng.randint(15, 540))
            if start_day <= DATA_END:
                state, started = "started", start_day
                done_day = start_day + timedelta(days=rng.randint(90, 720))
                if done_day <= DATA_END:
                    state, completed = "in_production", done_day
        unit_id = rng.choice(unit_ids)
        ds.deals.append(
            (
                deal_id,
                project,
                investor_id,
                signed,
                contracted,
                industry,
                origin,
                city,
                rng.choice(leader_ids),
                unit_id,
                rng.choice(staff_ids),
                unit_id,  # 谁签约谁负责: credited = unit
                state,
                started,
                completed,
                terminated,
                reason,
                CREATED_AT,
            )
        )

    # capital arrivals: more for deals under construction or producing, never before signing
    # nor after termination; amounts in whole hundreds of yuan (two decimals of 万元)
    deal_cum = _cumulative([ARRIVAL_WEIGHT[row[12]] for row in ds.deals])
    sources = list(SOURCE_WEIGHTS)
    source_cum = _cumulative(list(SOURCE_WEIGHTS.values()))
    arrivals = []
    for _ in range(scale.arrivals):
        row = ds.deals[bisect_right(deal_cum, rng.random() * deal_cum[-1])]
        last = row[15] or DATA_END
        arrived = row[3] + timedelta(days=rng.randint(0, (last - row[3]).days))
        amount = max(1, round(row[4] * rng.uniform(0.002, 0.06) / 100)) * 100
        source = sources[bisect_right(source_cum, rng.random() * source_cum[-1])]
        arrivals.append((row[0], arrived, amount, source, rng.random() < 0.7))
    arrivals.sort(key=lambda a: (a[1], a[0]))
    ds.arrivals = [(i + 1, *a, "CNY", CREATED_AT) for i, a in enumerate(arrivals)]

    ds.targets = _targets(ds, rng)
    _trips(ds, d, leader_ids, staff_ids)
    return ds


def _cumulative(weights: Sequence[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _targets(ds: Dataset, rng: random.Random) -> list[tuple[Any, ...]]:
    """County targets (year and quarters) for the reporting year and the year before; unit year targets."""
    by_year: dict[int, int] = {}
    by_unit_year: dict[tuple[int, int], int] = {}
    unit_of = {row[0]: row[9] for row in ds.deals}
    for _, deal_id, arrived, amount, *_ in ds.arrivals:
        by_year[arrived.year] = by_year.get(arrived.year, 0) + amount
        key = (unit_of[deal_id], arrived.year)
        by_unit_year[key] = by_unit_year.get(key, 0) + amount
    signed_by_year: dict[int, int] = {}
    for row in ds.deals:
        signed_by_year[row[3].year] = signed_by_year.get(row[3].year, 0) + 1
    rows: list[tuple[Any, ...]] = []

    def add(
        metric: str, kind: str, start: date, amount: int | None, growth: float | None = None, unit_id: int | None = None
    ) -> None:
        scope_kind, key = ("unit", f"unit:{unit_id}") if unit_id else ("county", "county")
        rows.append((len(rows) + 1, metric, kind, start, scope_kind, unit_id, None, key, amount, growth))

    def wan(yuan: float) -> int:
        return max(10_000, round(yuan / 10_000) * 10_000)  # targets are set in whole 万元

    year = AS_OF.year
    for y in (year - 1, year):
        base = by_year.get(y - 1, 0) or by_year.get(y, 0)
        total = wan(base * 1.1)
        add("arrived_yuan", "year", date(y, 1, 1), total, 0.10)
        for q, share in enumerate((0.2, 0.25, 0.25, 0.3)):
            add("arrived_yuan", "quarter", date(y, 3 * q + 1, 1), wan(total * share))
        add("contracted_yuan", "year", date(y, 1, 1), wan(base * 3))
        add("deals_signed", "year", date(y, 1, 1), round(signed_by_year.get(y - 1, 10) * 1.05))
    for unit_id in range(1, ds.scale.units + 1):
        base = by_unit_year.get((unit_id, year - 1), 0)
        add(
            "arrived_yuan",
            "year",
            date(year, 1, 1),
            wan(base * rng.uniform(0.9, 1.4)) if base else 1_000_000,
            unit_id=unit_id,
        )
    return rows


def _trips(ds: Dataset, d: _Draw, leader_ids: range, staff_ids: range) -> None:
    rng = d.rng
    n_squads = max(5, ds.scale.units // 10)
    for s in range(1, n_squads + 1):
        ds.squads.append((s, f"第{s}招商小分队", rng.choice(leader_ids), rng.randint(1, ds.scale.units)))
        for person in sorted(set(rng.sample(staff_ids, 3))):
            ds.squad_members.append((s, person))
    members: dict[int, list[int]] = {}
    for squad_id, person in ds.squad_members:
        members.setdefault(squad_id, []).append(person)
    months = [
        date(y, m, 1)
        for y in range(DATA_START.year, DATA_END.year + 1)
        for m in range(1, 13)
        if date(y, m, 1) <= DATA_END
    ]
    industries = list(INDUSTRY_WEIGHTS)
    dest_id = 0
    trip_span: list[tuple[date, date, str, str]] = []
    for t in range(1, ds.scale.trips + 1):
        squad_id = rng.randint(1, n_squads)
        month = rng.choice(months)
        starts = month + timedelta(days=rng.randint(0, 20))
        ends = starts + timedelta(days=rng.randint(2, 7))
        budget = rng.randint(2, 20) * 10_000
        ds.trips.append((t, squad_id, month, starts, ends, budget, rng.randint(budget // 2, budget)))
        destinations = [(o[0], rng.choice(o[1])) for o in rng.sample(ORIGINS, rng.randint(1, 3))]
        for region, city in destinations:
            dest_id += 1
            ds.trip_destinations.append((dest_id, t, region, city))
        trip_span.append((starts, ends, *destinations[0]))
        for industry in rng.sample(industries, rng.randint(1, 2)):
            ds.trip_industries.append((t, industry))
        for person in members[squad_id]:
            ds.trip_members.append((t, person))
    chambers = [f"{o[0]}商会" for o in ORIGINS]
    for v in range(1, ds.scale.visits + 1):
        trip_id = rng.randint(1, ds.scale.trips)
        starts, ends, region, city = trip_span[trip_id - 1]
        if rng.random() < 0.3:
            counterpart, kind = f"{city}{rng.choice(chambers)}", "chamber"
        else:
            counterpart, kind = ds.investors[rng.randint(1, len(ds.investors)) - 1][1], "enterprise"
        status = "done" if ends <= DATA_END and rng.random() < 0.9 else "planned"
        ds.visits.append((v, trip_id, status, d.day(starts, ends), counterpart, kind, region, city))


# ---------------------------------------------------------------- loading the rows


def _reference_ids(cursor: Any) -> dict[str, dict[str, int]]:
    cursor.execute("SELECT name, id FROM region")
    regions = dict(cursor.fetchall())
    cursor.execute("SELECT name, id FROM industry")
    return {"region": regions, "industry": dict(cursor.fetchall())}


def _rows_for(
    table: str, rows: Iterable[tuple[Any, ...]], refs: dict[str, dict[str, int]]
) -> Iterable[tuple[Any, ...]]:
    """Rows with reference names (columns marked ``@region`` / ``@industry``) turned into ids."""
    mapped = {i: refs[c.split("@")[1]] for i, c in enumerate(COLUMNS[table]) if "@" in c}
    if not mapped:
        return rows
    return (tuple(mapped[i][v] if i in mapped and v is not None else v for i, v in enumerate(row)) for row in rows)


def _column_names(table: str) -> list[str]:
    return [c.split("@")[0] for c in COLUMNS[table]]


def _init_sqlite(path: Path) -> None:
    from crm.db import init_db, make_engine

    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    engine.dispose()


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in ("foreign_keys = ON", "journal_mode = WAL", "synchronous = NORMAL", "busy_timeout = 10000"):
        connection.execute(f"PRAGMA {pragma}")
    return connection


def _sqlite_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def load_sqlite(path: Path, ds: Dataset, tables: Sequence[str]) -> None:
    """Insert the dataset's rows of `tables` into the SQLite file at `path` (one transaction)."""
    connection = _sqlite_connect(path)
    try:
        cursor = connection.cursor()
        refs = _reference_ids(cursor)
        cursor.execute("BEGIN")
        for table in tables:
            names = _column_names(table)
            sql = f'INSERT INTO "{table}" ({", ".join(names)}) VALUES ({", ".join("?" * len(names))})'
            rows = _rows_for(table, getattr(ds, TABLE_FIELDS[table]), refs)
            cursor.executemany(sql, (tuple(_sqlite_value(v) for v in row) for row in rows))
        cursor.execute("COMMIT")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


# ---------------------------------------------------------------- ledgers


def _wan(yuan: int) -> str:
    """Yuan as 万元 text with at most two decimals, exact (amounts are whole hundreds of yuan)."""
    whole, rest = divmod(yuan, 10_000)
    if rest == 0:
        return str(whole)
    return f"{whole}.{rest // 100:02d}".rstrip("0")


def _wan_number(yuan: int) -> int | float:
    return yuan // 10_000 if yuan % 10_000 == 0 else float(_wan(yuan))


def deal_ledger_rows(ds: Dataset) -> Iterable[list[Any]]:
    investors = {row[0]: row[1] for row in ds.investors}
    units = {row[0]: row[1] for row in ds.units}
    people = {row[0]: row[1] for row in ds.people}
    for r in ds.deals:
        yield [
            r[1],
            investors[r[2]],
            r[3],
            r[4],
            r[5],
            r[6],
            units[r[9]],
            people[r[8]],
            STATE_LABELS[r[12]],
            r[13],
            r[14],
            r[15],
        ]


def arrival_ledger_rows(ds: Dataset) -> Iterable[list[Any]]:
    names = {r[0]: (r[1], r[2]) for r in ds.deals}
    investors = {row[0]: row[1] for row in ds.investors}
    for _, deal_id, arrived, amount, source, verified, *_ in ds.arrivals:
        project, investor_id = names[deal_id]
        yield [project, investors[investor_id], arrived, amount, SOURCE_LABELS[source], "是" if verified else "否"]


def target_ledger_rows(ds: Dataset) -> Iterable[list[Any]]:
    units = {row[0]: row[1] for row in ds.units}
    for _, metric, kind, start, _scope_kind, unit_id, _leader, _key, amount, growth in ds.targets:
        period = {"year": f"{start.year}", "quarter": f"{start.year}Q{(start.month - 1) // 3 + 1}"}[kind]
        yield [metric, units[unit_id] if unit_id else "全县", period, amount, growth]


def write_csv(path: Path, headers: list[str], rows: Iterable[list[Any]], money_column: int | None) -> int:
    n = 0
    with open(path, "w", newline="", encoding=CSV_ENCODING) as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        for row in rows:
            out = ["" if v is None else v.isoformat() if isinstance(v, date) else v for v in row]
            if money_column is not None:
                out[money_column] = _wan(row[money_column])
            writer.writerow(out)
            n += 1
    return n


def write_xlsx(path: Path, headers: list[str], rows: Iterable[list[Any]], money_column: int | None, sheet: str) -> int:
    """An .xlsx written row by row (openpyxl write-only mode); dates as date cells, 万元 as numbers."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(sheet)
    ws.append(headers)
    n = 0
    for row in rows:
        if money_column is not None:
            row[money_column] = _wan_number(row[money_column])
        ws.append(row)  # date objects become date cells (yyyy-mm-dd)
        n += 1
        if n + 1 > XLSX_MAX_ROWS:
            raise ValueError(f"{path.name}: more rows than an .xlsx sheet holds ({XLSX_MAX_ROWS})")
    workbook.save(path)
    return n


# ---------------------------------------------------------------- the cache


@dataclass
class Prepared:
    """Paths of one scale's cached files and what they hold."""

    scale: str
    seed: int
    directory: Path
    counts: dict[str, int]
    totals: dict[str, int]
    name_key: str
    seconds: dict[str, float]
    schema: str = ""

    @property
    def deals_db(self) -> Path:
        return self.directory / "deals.db"

    @property
    def base_db(self) -> Path:
        """Units, people, targets and trips, no investors, deals or arrivals: where a deals import goes."""
        return self.directory / "base.db"

    @property
    def full_db(self) -> Path:
        return self.directory / "full.db"

    def ledger(self, kind: str, ext: str) -> Path:
        return self.directory / f"{kind}.{ext}"


def _name_key_source() -> str:
    try:
        import crm.deals  # noqa: F401
    except ImportError:  # pragma: no cover
        return "fallback"
    return "crm.deals"


def _schema_fingerprint() -> str:
    """A digest of the shipped migrations: cached databases built under another schema are stale."""
    import hashlib

    from crm.db import MIGRATIONS

    digest = hashlib.sha256()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


BASE_SKIPS = ("investor", "deal", "capital_arrival")  # base.db: what a deals import goes into


def _load_databases(directory: Path, ds: Any) -> None:
    deals_db = directory / "deals.db"
    for path in (deals_db, directory / "full.db", directory / "base.db"):
        path.unlink(missing_ok=True)
    _init_sqlite(directory / "base.db")
    load_sqlite(directory / "base.db", ds, [t_ for t_ in ORDER if t_ not in BASE_SKIPS])
    _init_sqlite(deals_db)
    load_sqlite(deals_db, ds, [t_ for t_ in ORDER if t_ != "capital_arrival"])
    shutil.copyfile(deals_db, directory / "full.db")
    load_sqlite(directory / "full.db", ds, ["capital_arrival"])


def prepare(scale: str, seed: int = 1, *, data_dir: Path | None = None, log: Any = print) -> Prepared:
    """The cached files of `scale` and `seed`, generated first when missing or stale.

    When only the schema changed (a new migration, an index), the SQLite files are rebuilt
    from the same draw and the ledgers are kept (writing the province .xlsx takes minutes).
    """
    directory = (data_dir or DATA_DIR) / f"{scale}-s{seed}-v{GENERATOR_VERSION}"
    manifest = directory / "manifest.json"
    if manifest.exists():
        info = json.loads(manifest.read_text())
        if info["name_key"] == _name_key_source():
            if info.get("schema") != _schema_fingerprint() or not (directory / "base.db").exists():
                log(f"[bench] {scale}: the schema changed since generation; rebuilding the SQLite files")
                t = time.perf_counter()
                ds = build_dataset(SCALES[scale], seed)
                _load_databases(directory, ds)
                del ds
                gc.collect()
                info["schema"] = _schema_fingerprint()
                info["seconds"]["sqlite"] = time.perf_counter() - t
                manifest.write_text(json.dumps(info, indent=1, ensure_ascii=False))
            return Prepared(directory=directory, **{k: v for k, v in info.items() if k != "directory"})
        log(f"[bench] {scale}: investor name keys changed since generation; regenerating")
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    ds = build_dataset(SCALES[scale], seed)
    seconds["draw"] = time.perf_counter() - t
    log(f"[bench] {scale}: drew {len(ds.deals):,} deals, {len(ds.arrivals):,} arrivals in {seconds['draw']:.1f}s")

    t = time.perf_counter()
    _load_databases(directory, ds)
    seconds["sqlite"] = time.perf_counter() - t
    log(f"[bench] {scale}: SQLite files in {seconds['sqlite']:.1f}s")

    t = time.perf_counter()
    xlsx = True
    write_csv(directory / "deals.csv", DEAL_HEADERS, deal_ledger_rows(ds), 3)
    write_csv(directory / "arrivals.csv", ARRIVAL_HEADERS, arrival_ledger_rows(ds), 3)
    write_csv(directory / "targets.csv", TARGET_HEADERS, target_ledger_rows(ds), None)
    seconds["csv"] = time.perf_counter() - t
    t = time.perf_counter()
    if xlsx:
        write_xlsx(directory / "deals.xlsx", DEAL_HEADERS, deal_ledger_rows(ds), 3, "签约项目")
        write_xlsx(directory / "arrivals.xlsx", ARRIVAL_HEADERS, arrival_ledger_rows(ds), 3, "到位资金")
        write_xlsx(directory / "targets.xlsx", TARGET_HEADERS, target_ledger_rows(ds), None, "目标任务")
    seconds["xlsx"] = time.perf_counter() - t
    log(f"[bench] {scale}: ledgers csv {seconds['csv']:.1f}s, xlsx {seconds['xlsx']:.1f}s")

    counts = {table: len(getattr(ds, TABLE_FIELDS[table])) for table in ORDER}
    totals = {
        "contracted_yuan": sum(r[4] for r in ds.deals),
        "arrived_yuan": sum(r[3] for r in ds.arrivals),
    }
    prepared = Prepared(
        scale=scale,
        seed=seed,
        directory=directory,
        counts=counts,
        totals=totals,
        name_key=_name_key_source(),
        seconds=seconds,
        schema=_schema_fingerprint(),
    )
    info = asdict(prepared)
    info.pop("directory")
    manifest.write_text(json.dumps(info, indent=1, ensure_ascii=False))
    del ds
    gc.collect()
    return prepared


# ---------------------------------------------------------------- PostgreSQL


def fill_postgres(url: str, prepared: Prepared, *, arrivals: bool, deals: bool = True) -> None:
    """Migrate the (empty) PostgreSQL database at `url` and COPY the cached rows into it.

    Rows come from the cached SQLite file; reference data is seeded by ``crm.db.init_db``
    in the same order, and its ids must match (checked).
    """
    import psycopg

    from crm.db import init_db, make_engine

    engine = make_engine(url)
    init_db(engine)
    engine.dispose()
    source = sqlite3.connect(prepared.full_db if arrivals else prepared.deals_db)
    with psycopg.connect(_libpq_url(url)) as pg:
        with pg.cursor() as cur:
            pg_refs = _reference_ids(cur)
        if pg_refs != _reference_ids(source.cursor()):
            raise RuntimeError("reference ids differ between the SQLite cache and PostgreSQL")
        for table in ORDER:
            if (table == "capital_arrival" and not arrivals) or (table in BASE_SKIPS and not deals):
                continue
            names = _column_names(table)
            with pg.cursor() as cur, cur.copy(f'COPY "{table}" ({", ".join(names)}) FROM STDIN') as copy:
                for row in source.execute(f'SELECT {", ".join(names)} FROM "{table}"'):
                    copy.write_row(row)
        with pg.cursor() as cur:
            for table in SERIAL_TABLES:
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                    f'COALESCE((SELECT max(id) FROM "{table}"), 0) + 1, false)'
                )
        pg.commit()
        pg.autocommit = True
        pg.execute("VACUUM ANALYZE")
    source.close()


def _libpq_url(url: str) -> str:
    """A libpq URL (no SQLAlchemy driver suffix)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url

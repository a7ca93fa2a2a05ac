"""Charts: each plot draws the DataFrame it is given, in Chinese, with no missing glyphs.

No database: the frames are written inline with the column contracts of crm.metrics,
crm.deals.unstarted and crm.trips.funnel.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from matplotlib.font_manager import FontProperties, findfont, fontManager

from crm import charts
from crm.errors import InvalidValue

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def target_progress_df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "metric": ["arrived_yuan", "contracted_yuan", "deals_signed"],
            "scope": ["county", "county", "county"],
            "period": ["2025", "2025", "2025"],
            "target": [26_300_000_000, 40_000_000_000, 120],
            "target_to_date": [19_725_000_000, 30_000_000_000, 90],
            "actual": [16_306_000_000, 34_000_000_000, 100],
            "completion": [0.62, 0.85, None],
            "time_progress": [0.75, 0.75, 0.75],
            "gap": [3_419_000_000, -4_000_000_000, -10],
            "last_year": [15_000_000_000, 30_000_000_000, 110],
            "yoy": [0.087, 0.133, -0.091],
            "yoy_diff": [1_306_000_000, 4_000_000_000, -10],
            "growth_target": [0.10, None, None],
            "growth_gap": [-0.013, None, None],
        }
    )


def kpis_df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "industry": ["光伏发电", "装备制造", "现代农业"],
            "signed": [10, 8, 0],
            "started": [8, 4, 0],
            "in_production": [4, 1, 0],
            "terminated": [1, 2, 0],
            "contracted_yuan": [5_000_000_000, 2_000_000_000, 0],
            "arrived_yuan": [1_500_000_000, 500_000_000, 0],
            "fulfillment_rate": [0.8, 0.5, None],
            "capital_arrival_rate": [0.3, 0.25, None],
            "completion_rate": [0.5, 0.25, None],
        }
    )


def arrivals_df(scale: int = 100_000_000) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "month": list(range(1, 13)),
            "arrived_yuan": [12 * scale, 21 * scale, 25 * scale] + [0] * 9,
            "last_year_yuan": [10 * scale] * 12,
        }
    )


def unstarted_df() -> pd.DataFrame:
    # ages by hand: 10, 50 -> 0–89 (green, green); 95 -> 90–179 (yellow); 200 -> 180–269 (red); 800 -> ≥720 (red)
    return pd.DataFrame(
        {
            "deal_id": [1, 2, 3, 4, 5],
            "project_name": ["光伏电站", "装配车间", "物流园", "民宿", "冷库"],
            "age_days": [10, 50, 95, 200, 800],
            "level": ["green", "green", "yellow", "red", "red"],
        }
    )


def funnel_df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "squad": ["第一小分队", "第二小分队"],
            "visits": [40, 30],
            "leads": [12, 9],
            "signed": [3, 2],
            "contracted_yuan": [300_000_000, 200_000_000],
            "arrived_yuan": [0, 0],
            "cost_yuan": [60_000, 40_000],
            "cost_per_signed_yuan": [20_000, 20_000],
        }
    )


def ranking_df() -> pd.DataFrame:
    # deliberately not in rank order: the chart sorts by rank
    return pd.DataFrame(
        {
            "rank": [3, 1, 2],
            "name": ["城关镇", "经开区管委会", "商务局"],
            "target_to_date": [100, 100, 100],
            "actual": [40, 125, 90],
            "completion": [0.4, 1.25, 0.9],
            "last": [True, False, False],
        }
    )


Plot = Callable[..., Any]
CASES: list[tuple[str, Plot, Callable[[], pd.DataFrame], dict[str, Any], str]] = [
    ("target_progress", charts.plot_target_progress, target_progress_df, {}, "目标任务完成与序时进度"),
    ("rates", charts.plot_rates, kpis_df, {"by": "industry"}, "三率（按产业）"),
    ("capital_by_month", charts.plot_capital_by_month, arrivals_df, {}, "到位资金按月（与上年同期）"),
    ("unstarted", charts.plot_unstarted, unstarted_df, {}, "签约未开工项目（按等待时长与预警等级）"),
    ("funnel", charts.plot_funnel, funnel_df, {}, "招商成效漏斗"),
    ("ranking", charts.plot_ranking, ranking_df, {}, "目标完成排名"),
]
IDS = [case[0] for case in CASES]


def render(plot: Plot, df: pd.DataFrame, path: Path, **kwargs: Any) -> tuple[Any, list[str]]:
    """Draw on a fresh figure, save it as PNG and return the Axes and every warning raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots(figsize=(8, 5))
        returned = plot(df, ax=ax, **kwargs)
        fig.savefig(path)
    assert returned is ax
    return ax, [str(w.message) for w in caught]


def bar_sizes(ax: Any, attribute: str = "height") -> list[list[float]]:
    return [[getattr(bar, f"get_{attribute}")() for bar in container] for container in ax.containers]


# ---------------------------------------------------------------- the font


def test_use_chinese_font_registers_the_bundled_noto_file() -> None:
    family = charts.use_chinese_font()
    assert family == "Noto Sans CJK SC"
    assert plt.rcParams["font.sans-serif"][:2] == [family, "DejaVu Sans"]
    assert plt.rcParams["font.family"] == ["sans-serif"]
    assert plt.rcParams["axes.unicode_minus"] is False
    resolved = findfont(FontProperties(family=plt.rcParams["font.sans-serif"][0]), fallback_to_default=False)
    assert resolved.endswith(charts.FONT_FILE)
    assert Path(resolved).parent.parent.name == "crm"  # shipped with the package (crm/fonts/)


def test_import_crm_makes_a_plain_pandas_plot_chinese(tmp_path: Path) -> None:
    """A fresh interpreter: `import crm`, then pandas' own plot, with missing glyphs as errors."""
    import subprocess
    import sys

    code = (
        "import warnings; warnings.simplefilter('error')\n"
        "import crm, pandas as pd, matplotlib\n"
        "matplotlib.use('Agg')\n"
        "assert 'matplotlib.pyplot' not in __import__('sys').modules\n"
        "ax = pd.DataFrame({'到位资金': [1, 2]}, index=['县商务局', '县发改局']).plot(title='招商引资')\n"
        "ax.figure.savefig(r'%s')\n"
        "print(matplotlib.rcParams['font.sans-serif'][0])\n" % (tmp_path / "plain.png")
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Noto Sans CJK SC"
    assert (tmp_path / "plain.png").stat().st_size > 1000


def test_the_bundled_font_covers_what_the_demo_county_writes() -> None:
    from fontTools.ttLib import TTFont

    from crm.font import font_path

    cmap = TTFont(str(font_path())).getBestCmap()
    text = "招商引资签约未开工到位资金履约率竣工投产率红灯黄灯绿灯亿元万元个百分点同比增长下降喆堃琇镕昇"
    assert [c for c in text if ord(c) not in cmap] == []


def test_use_chinese_font_is_idempotent() -> None:
    first = charts.use_chinese_font()
    registered = sum(entry.fname.endswith(charts.FONT_FILE) for entry in fontManager.ttflist)
    assert charts.use_chinese_font() == first
    assert registered >= 1
    assert sum(entry.fname.endswith(charts.FONT_FILE) for entry in fontManager.ttflist) == registered


def test_plots_restore_the_font_after_a_style_reset(tmp_path: Path) -> None:
    charts.use_chinese_font()
    with plt.rc_context():
        plt.rcdefaults()
        assert plt.rcParams["font.sans-serif"][0] != "Noto Sans CJK SC"
        _, caught = render(charts.plot_ranking, ranking_df(), tmp_path / "reset.png")
        assert plt.rcParams["font.sans-serif"][0] == "Noto Sans CJK SC"
    assert not [m for m in caught if "missing from" in m]


def test_the_glyph_check_fails_with_the_default_font(tmp_path: Path) -> None:
    """The no-missing-glyph assertion is not vacuous: DejaVu Sans alone cannot draw 招商."""
    dejavu_only = {"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"]}
    with plt.rc_context(dejavu_only), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plt.figure()
        fig.text(0.5, 0.5, "招商")
        fig.savefig(tmp_path / "tofu.png")
    assert any("missing from" in str(w.message) for w in caught)


def test_a_chart_without_use_chinese_font_has_missing_glyphs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "use_chinese_font", lambda: "DejaVu Sans")
    with plt.rc_context({"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"]}):
        _, caught = render(charts.plot_ranking, ranking_df(), tmp_path / "tofu.png")
    assert any("missing from" in m for m in caught)


# ---------------------------------------------------------------- every chart


@pytest.mark.parametrize(("name", "plot", "make", "kwargs", "title"), CASES, ids=IDS)
def test_chart_renders_png_in_chinese_without_missing_glyphs(
    tmp_path: Path, name: str, plot: Plot, make: Callable[[], pd.DataFrame], kwargs: dict[str, Any], title: str
) -> None:
    path = tmp_path / f"{name}.png"
    ax, caught = render(plot, make(), path, **kwargs)
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert not [m for m in caught if "missing from" in m]
    assert ax.get_title() == title
    assert findfont(ax.title.get_fontproperties()).endswith(charts.FONT_FILE)
    assert ax.containers, "no bars drawn"


@pytest.mark.parametrize(("name", "plot", "make", "kwargs", "title"), CASES, ids=IDS)
def test_empty_frame_draws_an_empty_chart_saying_no_data(
    tmp_path: Path, name: str, plot: Plot, make: Callable[[], pd.DataFrame], kwargs: dict[str, Any], title: str
) -> None:
    path = tmp_path / f"{name}-empty.png"
    ax, caught = render(plot, make().iloc[0:0], path, **kwargs)
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert not [m for m in caught if "missing from" in m]
    assert ax.get_title() == title
    assert [t.get_text() for t in ax.texts] == ["无数据"]
    assert not ax.patches


@pytest.mark.parametrize(("name", "plot", "make", "kwargs", "title"), CASES, ids=IDS)
def test_ax_none_draws_on_the_current_axes(
    name: str, plot: Plot, make: Callable[[], pd.DataFrame], kwargs: dict[str, Any], title: str
) -> None:
    fig = plt.figure()
    ax = plot(make(), **kwargs)
    assert ax is plt.gca()
    assert ax.figure is fig


@pytest.mark.parametrize(
    ("plot", "df", "kwargs", "match"),
    [
        (charts.plot_target_progress, target_progress_df().drop(columns="time_progress"), {}, r"time_progress"),
        (charts.plot_rates, kpis_df(), {"by": "origin"}, r"missing column\(s\) origin"),
        (charts.plot_capital_by_month, arrivals_df().drop(columns="last_year_yuan"), {}, r"last_year_yuan"),
        (charts.plot_unstarted, unstarted_df().drop(columns="level"), {}, r"missing column\(s\) level"),
        (charts.plot_unstarted, unstarted_df(), {"bucket_days": 0}, r"bucket_days: need 0 < bucket_days"),
        (charts.plot_unstarted, unstarted_df(), {"bucket_days": 90, "max_days": 30}, r"bucket_days <= max_days"),
        (charts.plot_funnel, funnel_df(), {"group": "第九小分队"}, r"group: not a value of column 'squad'"),
        (charts.plot_funnel, funnel_df(), {"group": "第一小分队", "by": "trip"}, r"by: name the group column"),
        (charts.plot_ranking, ranking_df().drop(columns="last"), {}, r"missing column\(s\) last"),
    ],
)
def test_bad_input_is_refused_with_a_plain_message(
    plot: Plot, df: pd.DataFrame, kwargs: dict[str, Any], match: str
) -> None:
    _, ax = plt.subplots()
    with pytest.raises(InvalidValue, match=match):
        plot(df, ax=ax, **kwargs)


# ---------------------------------------------------------------- what each chart draws


def test_target_progress_bars_are_completion_and_markers_time_progress(tmp_path: Path) -> None:
    ax, _ = render(charts.plot_target_progress, target_progress_df(), tmp_path / "t.png")
    assert bar_sizes(ax, "width") == [[0.62, 0.85, 0.0]]  # a missing completion draws no bar
    assert [t.get_text() for t in ax.texts] == ["62.0%", "85.0%", "—"]
    (marks,) = ax.collections
    assert marks.get_offsets()[:, 0].tolist() == [0.75, 0.75, 0.75]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["到位资金", "签约投资额", "签约项目个数"]
    assert ax.get_xticklabels()[0].get_text().endswith("%")


def test_target_progress_names_the_scope_when_there_are_several(tmp_path: Path) -> None:
    df = target_progress_df().iloc[[0, 0, 0]].assign(scope=["county", "商务局", None])
    ax, _ = render(charts.plot_target_progress, df, tmp_path / "t.png")
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "到位资金（全县）",
        "到位资金（商务局）",
        "到位资金（全县）",
    ]


def test_target_progress_names_the_period_when_there_are_several(tmp_path: Path) -> None:
    df = target_progress_df().iloc[[0, 0]].assign(period=["2025", "2025Q3"])
    ax, _ = render(charts.plot_target_progress, df, tmp_path / "t.png")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["到位资金（2025）", "到位资金（2025Q3）"]


def test_rates_draws_three_bars_per_group(tmp_path: Path) -> None:
    ax, _ = render(charts.plot_rates, kpis_df(), tmp_path / "r.png", by="industry")
    assert bar_sizes(ax) == [[0.8, 0.5, 0.0], [0.3, 0.25, 0.0], [0.5, 0.25, 0.0]]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["履约率", "资金到位率", "竣工投产率"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["光伏发电", "装备制造", "现代农业"]
    assert ax.get_xlabel() == "产业"


def test_rates_by_signing_year_labels_whole_years(tmp_path: Path) -> None:
    df = kpis_df().drop(columns="industry").assign(signing_year=[2023.0, 2024.0, 2025.0])
    ax, _ = render(charts.plot_rates, df, tmp_path / "r.png", by="signing_year")
    assert ax.get_title() == "三率（按签约年份）"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2023", "2024", "2025"]


def test_capital_by_month_in_yi_yuan(tmp_path: Path) -> None:
    ax, _ = render(charts.plot_capital_by_month, arrivals_df(), tmp_path / "c.png")
    last_year, this_year = bar_sizes(ax)
    assert last_year == [10.0] * 12
    assert this_year == [12.0, 21.0, 25.0] + [0.0] * 9
    assert ax.get_ylabel() == "到位资金（亿元）"
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == ["1月", "2月"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["上年同期", "本年"]


def test_capital_by_month_in_wan_yuan_when_small(tmp_path: Path) -> None:
    ax, _ = render(charts.plot_capital_by_month, arrivals_df(scale=10_000), tmp_path / "c.png")
    assert ax.get_ylabel() == "到位资金（万元）"
    assert bar_sizes(ax)[1][:3] == [12.0, 21.0, 25.0]


def test_unstarted_stacks_counts_per_age_bucket_by_level(tmp_path: Path) -> None:
    ax, _ = render(charts.plot_unstarted, unstarted_df(), tmp_path / "u.png")
    green, yellow, red = ax.containers
    nine = [0.0] * 9
    assert [b.get_height() for b in green] == [2.0, *nine[1:]]
    assert [b.get_height() for b in yellow] == [0.0, 1.0, *nine[2:]]
    assert [b.get_height() for b in red] == [0.0, 0.0, 1.0, *nine[3:8], 1.0]
    assert [b.get_y() for b in red][:3] == [2.0, 1.0, 0.0]  # stacked on green and yellow
    assert green[0].get_facecolor() == to_rgba(charts.LEVEL_COLORS["green"])
    assert red[0].get_facecolor() == to_rgba(charts.LEVEL_COLORS["red"])
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[:3] == ["0–89天", "90–179天", "180–269天"]
    assert labels[-1] == "≥720天"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["绿灯", "黄灯", "红灯"]


def test_unstarted_bucket_width_is_a_parameter(tmp_path: Path) -> None:
    ax, _ = render(charts.plot_unstarted, unstarted_df(), tmp_path / "u.png", bucket_days=180, max_days=360)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0–179天", "180–359天", "≥360天"]
    totals = np.sum(bar_sizes(ax), axis=0).tolist()
    assert totals == [3.0, 1.0, 1.0]


def test_funnel_of_all_groups_adds_the_counts(tmp_path: Path) -> None:
    ax, _ = render(charts.plot_funnel, funnel_df(), tmp_path / "f.png")
    assert bar_sizes(ax, "width") == [[70.0, 21.0, 5.0]]
    assert [b.get_x() for b in ax.containers[0]] == [0.0, 24.5, 32.5]  # centred: (70 - n) / 2
    assert [t.get_text() for t in ax.get_yticklabels()] == ["拜访", "洽谈线索", "签约"]


def test_funnel_of_one_group(tmp_path: Path) -> None:
    ax, caught = render(charts.plot_funnel, funnel_df(), tmp_path / "f.png", group="第二小分队")
    assert bar_sizes(ax, "width") == [[30.0, 9.0, 2.0]]
    assert ax.get_title() == "招商成效漏斗：第二小分队"
    assert not [m for m in caught if "missing from" in m]


def test_ranking_orders_by_rank_highlights_the_last_and_marks_100_percent(tmp_path: Path) -> None:
    ax, _ = render(charts.plot_ranking, ranking_df(), tmp_path / "k.png")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1. 经开区管委会", "2. 商务局", "3. 城关镇"]
    (bars,) = ax.containers
    assert [b.get_width() for b in bars] == [1.25, 0.9, 0.4]
    assert [b.get_facecolor() == to_rgba("#d62728") for b in bars] == [False, False, True]
    assert [t.get_text() for t in ax.texts] == ["125.0%", "90.0%", "40.0%"]
    (line,) = ax.lines
    assert list(line.get_xdata()) == [1.0, 1.0]

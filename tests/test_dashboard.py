"""The dashboard (crm report weekly) and the display helpers that turn figures into what people read."""

from __future__ import annotations

from datetime import date

import pandas as pd
from factories import make_deal
from sqlmodel import Session
from typer.testing import CliRunner

from crm.cli import app
from crm.dashboard import dashboard, format_dashboard
from crm.display import percent, to_display

runner = CliRunner()
AS_OF = date(2026, 6, 30)


def test_empty_database_gives_a_dashboard_not_an_error(session: Session) -> None:
    figures = dashboard(session, as_of=AS_OF)
    text = format_dashboard(figures, as_of=AS_OF)
    assert "目标任务: 未设置" in text
    assert "签约项目 0 个" in text and "履约率 —" in text
    assert "签约未开工 0 个: 红色 0, 黄色 0, 绿色 0" in text
    assert "数据质量 0 项" in text


def test_dashboard_counts_by_hand(session: Session, db_url: str) -> None:
    # signed 2026-03-01: 121 days by 06-30 (yellow); 2025-10-01: 272 days (red); one started
    make_deal(session, project_name="甲", signed_on=date(2026, 3, 1))
    make_deal(session, project_name="乙", signed_on=date(2025, 10, 1))
    make_deal(session, project_name="丙", signed_on=date(2026, 1, 5), state="started", started_on=date(2026, 2, 1))
    session.commit()
    text = format_dashboard(dashboard(session, as_of=AS_OF), as_of=AS_OF)
    assert "签约项目 3 个, 开工 1 个, 竣工投产 0 个, 终止 0 个" in text
    assert "履约率 33.3%" in text  # 1 of 3
    assert "签约未开工 2 个: 红色 1, 黄色 1, 绿色 0" in text
    # make_deal gives no 招引单位 and no follow-up owner; 丙 has no procedures, is not registered
    assert (
        "数据质量 9 项: 已开工但立项、用地或施工许可未办结 1，开工已久尚未入库 1，签约未开工项目无专人跟踪 2，"
        "签约未开工项目近期无跟踪记录 2，项目缺产业、责任单位、包抓领导或招引单位 3 (crm check)"
    ) in text
    result = runner.invoke(app, ["--db", db_url, "report", "weekly", "--as-of", "2026-06-30"])
    assert (
        result.exit_code == 0 and "签约未开工项目2个，其中红灯1个、黄灯1个、绿灯0个" in result.output
    )  # the 通报 on the terminal


def test_to_display_money_rates_and_labels() -> None:
    df = pd.DataFrame(
        {
            "metric": ["arrived_yuan", "deals_signed"],
            "target": [26_300_000_000, 120],
            "actual": [13_150_000_000, 60],
            "completion": [0.5, 0.5],
            "level": ["red", "green"],
            "contracted_yuan": [123_456_789, None],
        }
    )
    shown = to_display(df, unit="亿元")
    assert list(shown.columns) == ["指标", "目标", "完成", "完成率", "预警", "合同投资额"]
    assert shown["指标"].tolist() == ["到位资金", "签约项目个数"]
    assert shown["目标"].tolist() == ["263.00亿元", "120"]  # money metric in 亿元, a count as a number
    assert shown["完成率"].tolist() == ["50.0%", "50.0%"]
    assert shown["预警"].tolist() == ["红灯", "绿灯"]
    assert shown["合同投资额"].tolist() == ["1.23亿元", ""]
    assert percent(None) == "" and percent(0.2214) == "22.1%"

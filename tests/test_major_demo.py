"""The demo county's major projects tell the story the notebooks and the weekly report show."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session

from crm.dashboard import dashboard, format_dashboard
from crm.db import make_engine
from crm.major.progress import week_label
from crm.metrics import major as metrics_major


def test_demo_major_projects_are_behind_ahead_and_missing_reports(demo_url: str, demo_as_of: date) -> None:
    engine = make_engine(demo_url)
    with Session(engine) as session:
        status = metrics_major.major_status(session, as_of=demo_as_of)
        counts = status["status_label"].value_counts().to_dict()
        assert counts.get("滞后", 0) >= 2 and counts.get("超前", 0) >= 1 and counts.get("正常", 0) >= 2
        behind = status[status["status_label"] == "滞后"]
        assert (behind["overdue_milestones"] != "").all() and (behind["open_problems"] != "").all()
        last_week = demo_as_of - timedelta(days=demo_as_of.weekday() + (7 if demo_as_of.weekday() < 4 else 0))
        missing = metrics_major.missing_reports(session, week=week_label(last_week))
        assert set(missing["status"]) == {"late", "missing"}
        scores = metrics_major.quarterly_scores(session, quarter=f"{demo_as_of.year}Q3", by="unit")
        assert scores["last"].sum() == 1 and scores["score"].between(0, 100).all()
        text = format_dashboard(dashboard(session, as_of=demo_as_of), as_of=demo_as_of)
        assert "重点项目 10 个: 滞后 2, 超前 1" in text
        ready = metrics_major.registration_readiness(session)
        assert ready["ready"].any() and not ready["ready"].all()
    engine.dispose()

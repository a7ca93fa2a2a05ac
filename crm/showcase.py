"""The main job behind ``python3 dev.py demo``.

Builds the demo county in ``build/demo.db`` (a generated file, rebuilt each run; your own
``crm.db`` is never touched), executes every notebook in ``notebooks/`` to HTML under
``build/notebooks/`` (with code) and ``build/pages/`` (without code, for leaders), writes the
weekly and monthly 通报 (``build/reports/``: .html, .docx, .xlsx) and ``build/index.html``
linking them all, prints the dashboard, and says how to open Jupyter on the same database.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def with_font(page: str) -> str:
    """A notebook page that brings the Chinese font it needs (a leader's machine may lack one) and
    keeps numbers on one line."""
    import re

    from crm.files import font_face

    text = re.sub(r"<[^>]+>", "", page)
    css = (
        f"<style>{font_face(text)}\nbody, td, th, p, h1, h2, h3, li, pre {{ font-family: 'CRM Noto Sans SC', sans-serif !important; }}"
        "\ntd { white-space: nowrap !important; }</style>"
    )
    return page.replace("</head>", css + "\n</head>", 1)


def execute_notebooks(
    notebooks: list[Path], out_dir: Path, *, env: dict[str, str], pages_dir: Path | None = None
) -> list[Path]:
    """Run each notebook top to bottom with the given environment; write it as HTML into `out_dir`
    and, with `pages_dir`, once more without its code cells (nbconvert's --no-input) there."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    # charts must be embedded in the HTML: the inline backend, whatever the caller's MPLBACKEND
    env = {**env, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment
    try:
        for path in notebooks:
            book = nbformat.read(path, as_version=4)
            client = NotebookClient(
                book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
            )
            # the kernel's own stderr only warns about its local TCP transport; cell errors come as messages
            client.execute(stderr=subprocess.DEVNULL)
            html, _ = HTMLExporter().from_notebook_node(book)
            target = out_dir / f"{path.stem}.html"
            target.write_text(html, encoding="utf-8")
            written.append(target)
            if pages_dir is not None:
                pages_dir.mkdir(parents=True, exist_ok=True)
                page, _ = HTMLExporter(
                    exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
                ).from_notebook_node(book)
                (pages_dir / f"{path.stem}.html").write_text(with_font(page), encoding="utf-8")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return written


def write_reports(engine: Any, out_dir: Path, *, as_of: date) -> list[Path]:
    """The weekly and monthly 通报 of the demo county as .html, .docx and .xlsx."""
    from sqlmodel import Session

    from crm.bulletin import bulletin, write_bulletin

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with Session(engine) as session:
        for kind in ("weekly", "monthly"):
            report = bulletin(session, kind=kind, as_of=as_of)
            for suffix in (".html", ".docx", ".xlsx"):
                written.append(write_bulletin(report, out_dir / f"{kind}{suffix}"))
    return written


def write_index(build: Path, reports: list[Path], *, as_of: date) -> Path:
    """build/index.html: the 通报 and the notebooks without code, for a leader who does not run code."""
    import html

    from crm.files import html_page

    names = {"weekly": "周通报", "monthly": "月通报"}
    items = [
        f"<li><a href='{p.relative_to(build).as_posix()}'>{names.get(p.stem, p.stem)} ({p.suffix[1:]})</a></li>"
        for p in reports
    ]
    pages = sorted((build / "pages").glob("*.html"))
    titles = {
        "01_unstarted_deals": "签约未开工项目清理",
        "02_rates": "履约率、资金到位率、竣工投产率",
        "03_targets_and_progress": "目标任务与序时进度",
        "04_trip_plan": "外出招商计划",
        "05_trip_results": "招商成效",
    }
    items += [f"<li><a href='pages/{p.name}'>{html.escape(titles.get(p.stem, p.stem))}</a></li>" for p in pages]
    body = f"<h1>招商引资工作</h1><p class='meta'>截至{as_of.isoformat()}（示范县）</p><ul>{''.join(items)}</ul>"
    target = build / "index.html"
    target.write_text(html_page("招商引资工作", body), encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    from sqlmodel import Session

    from crm.dashboard import dashboard, format_dashboard
    from crm.db import init_db, make_engine
    from crm.demo import build_demo

    parser = argparse.ArgumentParser(prog="python3 dev.py demo", description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date.today())
    parser.add_argument("--skip-notebooks", action="store_true")
    args = parser.parse_args(argv)

    build = ROOT / "build"
    build.mkdir(exist_ok=True)
    db_path = build / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{db_path}"
    started = time.perf_counter()
    engine = make_engine(url)
    init_db(engine)
    with Session(engine) as session:
        summary = build_demo(
            session, seed=args.seed, as_of=args.as_of, progress=lambda step: print(f"  demo: {step}", flush=True)
        )
    print(
        f"demo county in {db_path.relative_to(ROOT)}: {summary.deals} deals, {summary.arrivals} arrivals, "
        f"{summary.trips} trips, {summary.leads} leads ({time.perf_counter() - started:.1f} s)"
    )

    if not args.skip_notebooks:
        notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
        print(f"executing {len(notebooks)} notebooks ...", flush=True)
        html = execute_notebooks(
            notebooks,
            build / "notebooks",
            env={"CRM_DATABASE_URL": url, "CRM_AS_OF": args.as_of.isoformat()},
            pages_dir=build / "pages",
        )
        for path in html:
            print(f"  {path.relative_to(ROOT)}")

    reports = write_reports(engine, build / "reports", as_of=args.as_of)
    index = write_index(build, reports, as_of=args.as_of)
    print(f"通报 and the page for leaders: {index.relative_to(ROOT)}")

    with Session(engine) as session:
        print()
        print(format_dashboard(dashboard(session, as_of=args.as_of), as_of=args.as_of))
    print()
    print(f"Notebooks as HTML: {(build / 'notebooks').relative_to(ROOT)}/")
    print("Open them in Jupyter on the same database:")
    print(f"  CRM_DATABASE_URL={url} .venv/bin/jupyter lab notebooks/")
    print(f"Or query it from the command line:  .venv/bin/crm --db {url} report kpis --by industry")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Set up and run the project on a fresh machine with only Python 3.11+ and pip.

    python3 dev.py demo     # venv + packages, demo database, notebooks to HTML, dashboard
    python3 dev.py test     # venv + packages, ruff, mypy, pytest on SQLite and a PostgreSQL it starts
    python3 dev.py bench [--scale county|city|province] [--write bench/RESULTS.md]

The virtual environment lives in .venv and is reinstalled only when pyproject.toml changes.
uv is used when it is on PATH (seconds instead of a minute); otherwise plain pip.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def run(*args: str | Path, **kwargs: object) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=ROOT, **kwargs)  # type: ignore[call-overload]
    if result.returncode:
        sys.exit(result.returncode)


def ensure_venv(extras: str) -> None:
    """Create .venv and install the package with `extras`, unless already done for this pyproject."""
    stamp = VENV / ".crm-installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == want and PY.exists():
        return
    uv = shutil.which("uv")
    if uv:
        if not PY.exists():
            run(uv, "venv", "--python", sys.executable, VENV)
        run(uv, "pip", "install", "--compile-bytecode", "--python", PY, "-e", f".[{extras}]")
    else:
        if not PY.exists():
            run(sys.executable, "-m", "venv", VENV)
        run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        run(PY, "-m", "pip", "install", "--quiet", "-e", f".[{extras}]")
    stamp.write_text(want)


def compile_sources() -> None:
    """Byte-compile the project's own modules, as an installed package has them (pip compiles what it
    installs; an editable install leaves crm as source). Where PYTHONDONTWRITEBYTECODE is set (it is on
    the machines this project is built on), every ``crm`` process compiled its modules again: the 48 a report
    imports take 0.2 s of CPU to compile, of its ~2.3 s start-up here. Only what changed since the
    last run is compiled (__pycache__ is git-ignored)."""
    run(PY, "-m", "compileall", "-q", "crm", "bench")


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e.setdefault("MPLBACKEND", "Agg")
    return e


def demo(args: list[str]) -> None:
    ensure_venv("notebooks")
    compile_sources()
    run(PY, "-m", "crm.showcase", *args, env=env())


def ensure_chromium() -> None:
    """The .html report is checked in a real headless Chromium: install Debian's when root and it is missing.

    Elsewhere the browser test skips with its reason (and fails when CI is set)."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        print("chromium is not installed: the browser test will skip (fail with CI=true)", flush=True)
        return
    quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run("apt-get", "update", "-q", env=quiet)
    run("apt-get", "install", "-y", "-q", "chromium", env=quiet)


def test(args: list[str]) -> None:
    ensure_venv("test")
    compile_sources()
    ensure_chromium()
    run(BIN / "ruff", "check", "crm", "tests", "bench", "tools", "dev.py", env=env())
    run(BIN / "ruff", "format", "--check", "crm", "tests", "bench", "tools", "dev.py", env=env())
    run(BIN / "mypy", env=env())
    # the slowest tests are printed on every run, so a test that grows slow is seen when it does
    run(PY, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "--durations=15", *args, env=env())


def bench(args: list[str]) -> None:
    """The benchmark (bench/measure.py); the test extra brings its DuckDB. --write FILE regenerates RESULTS.md."""
    ensure_venv("test")
    compile_sources()
    run(PY, "-m", "bench", *args, env=env())


def main() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036  (this script runs before the venv exists)
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    commands = {"demo": demo, "test": test, "bench": bench}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()

"""The main job behind ``python3 dev.py demo``: build the demo database and show what is in it."""

from __future__ import annotations

import argparse
import sys

from crm.cli import main as crm_main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 dev.py demo", description=__doc__)
    parser.add_argument("--db", default="sqlite:///crm.db", help="database URL (default: ./crm.db)")
    args = parser.parse_args(argv)
    for command in (["init"], ["status"]):
        try:
            crm_main(["--db", args.db, *command])
        except SystemExit as exit_:
            if exit_.code:
                return int(exit_.code)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench [--scale county|city|province] [--backend sqlite|postgresql|both] [--write FILE]``: see bench.measure."""

import sys

from bench.measure import main

sys.exit(main())

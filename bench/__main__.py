"""``python -m bench [--scale county|city|province] [--backend sqlite|postgresql|both]``: see bench.measure."""

import sys

from bench.measure import main

sys.exit(main())

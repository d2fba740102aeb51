"""`python -m bench`: see `bench/__init__.py`."""

import sys

from bench.cli import main

sys.exit(main())

"""`python -m ytarchive`."""

import sys

from ytarchive.cli import main

sys.exit(main())

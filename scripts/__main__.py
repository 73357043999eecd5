"""`python -m scripts <command>`: see `scripts.cli`."""

import sys

from scripts.cli import main

sys.exit(main())

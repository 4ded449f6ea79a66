"""``python -m unlearnkit`` runs the CLI."""

import sys

from unlearnkit.cli import main

sys.exit(main())

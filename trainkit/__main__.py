"""``python -m trainkit`` runs the ``trainkit`` command."""
import sys

from .cli import main

sys.exit(main())

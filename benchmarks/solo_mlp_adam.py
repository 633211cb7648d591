"""The MLP Adam step with each library alone in its own process: now ``run.py --cases mlp``.

Kept so the old command still works; it runs the ``mlp`` case of ``run.py``
(fresh process per library, interleaved rounds, median of per-process bests).
Extra arguments go to ``run.py`` (e.g. ``--rounds 3``).
"""
from __future__ import annotations

import sys

from run import main  # the script's own directory is on sys.path

if __name__ == "__main__":
    main(["--cases", "mlp", "--libs", "trainkit,torch", *sys.argv[1:]])

"""Puts this checkout's root first on sys.path for `python tools/NAME.py`.

Run as a script, a tool has tools/ on sys.path but not the repository root,
so neither acrn_tf (before `pip install`) nor benchmarks/ (never installed)
would import. Each tool imports this module first when it runs as a script;
imported as tools.NAME (tests) or acrn_tf_tools.NAME (console scripts) it
does not need it. The root goes first so that a checkout's tools run that
checkout's code, even where another copy of acrn_tf is installed.
"""

import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

if REPO_ROOT not in sys.path:
  sys.path.insert(0, REPO_ROOT)

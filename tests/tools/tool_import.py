"""Imports one tools/ CLI module at a time, for tests that call it in-process.

Every CLI defines its flags on absl's global FLAGS when imported, as the OD
API's tools do, and several share names (--pipeline_config_path). A pytest
process collects all test files, so importing two CLIs at module level would
define a flag twice. `fresh(name)` removes the flags of every tools module
imported before and imports `tools.<name>` anew; test fixtures call it for
each run, so each test sees exactly its own tool's flags.
"""

import importlib
import sys

from absl import flags


def fresh(name):
  """Returns the module tools.<name>, its flags the only tools flags defined."""
  flag_values = flags.FLAGS
  flag_values.unparse_flags()
  for module, module_flags in list(flag_values.flags_by_module_dict().items()):
    if module.startswith('tools.'):
      # A copy: deleting a flag removes it from module_flags as we go.
      for flag in list(module_flags):
        if flag.name in flag_values:
          delattr(flag_values, flag.name)
  # The package too: it keeps its imported submodules (e.g. converter_flags)
  # as attributes, and `from . import` would reuse them without their flags.
  for module in [m for m in sys.modules
                 if m == 'tools' or m.startswith('tools.')]:
    del sys.modules[module]
  return importlib.import_module(f'tools.{name}')
